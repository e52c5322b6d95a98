"""Faults of central at scale, with small numbers: two `vaxkiosk central` processes on one real PostgreSQL, two
kiosk processes checking people in through `POST /api/scan`, and then a kill -9 of each aggregator in turn, or a
PostgreSQL restart and a PostgreSQL kill -9, while the check-ins flow.

Counted at the end: every check-in a kiosk acknowledged is at central exactly once (central holds exactly what each
kiosk committed, and no record id twice), every outbox is drained, and the lag has recovered: check-ins made after
the fault reach central within LAG_RECOVERED_S of being sent (a record whose copy went to the killed aggregator, or
into a failed commit, is resent by its kiosk after its ack timeout of 2 s: that is the lag during the fault).
"""

import datetime as dt
import time

import pytest

from tests.reliability.load import ScanLoad
from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

LAG_RECOVERED_S = 5.0  # ack timeout (2 s) + reconnection (1 s) + room for a loaded two-core machine
SECOND_KIOSK = 500_000  # the second kiosk scans other people (one check-in per person per site per day)


def lags_since(site: SiteHarness, since: str) -> list[float]:
    """Seconds from check-in to central's commit for the check-ins made since `since` (not the backlog of the fault,
    which arrives late by design)."""
    rows = site.central_query("SELECT received, sent_wall FROM records WHERE sent_wall >= ?", (since,))
    return sorted(dt.datetime.fromisoformat(r["received"]).timestamp() -
                  dt.datetime.fromisoformat(r["sent_wall"]).timestamp() for r in rows)


def check_counts(site: SiteHarness, loads: list[ScanLoad]) -> None:
    site.wait_drained(90)
    for kiosk, load in zip(site.kiosks, loads):
        assert set(load.acknowledged) <= set(site.central_ids(kiosk.id)), f"{kiosk.id}: acknowledged check-in lost"
    (row,) = site.central_query("SELECT count(*) AS n, count(DISTINCT record_id) AS distinct_ids FROM records")
    assert row["n"] == row["distinct_ids"]


def recovered_lag(site: SiteHarness, loads: list[ScanLoad]) -> list[float]:
    """Check-ins made once the fault is over: each must reach central within LAG_RECOVERED_S."""
    since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    counts = [len(load.acknowledged) for load in loads]
    wait_for(lambda: all(len(load.acknowledged) >= n + 10 for load, n in zip(loads, counts)), 60,
             what="ten more check-ins on each kiosk")
    wait_for(lambda: len(lags_since(site, since)) >= 20, 30, what="the new check-ins at central")
    return lags_since(site, since)


def under_load(site: SiteHarness):
    loads = [ScanLoad(site.kiosks[0], qr, interval=0.05), ScanLoad(site.kiosks[1], qr, interval=0.05,
                                                                  start=SECOND_KIOSK)]
    for load in loads:
        load.__enter__()
    wait_for(lambda: all(len(load.acknowledged) >= 20 for load in loads), 60, what="check-ins flowing")
    return loads


def flowing_again(site: SiteHarness, loads: list[ScanLoad]) -> None:
    stored = len(site.central_query("SELECT record_id FROM records"))
    wait_for(lambda: len(site.central_query("SELECT record_id FROM records")) >= stored + 20, 60,
             what="records reaching central")


def test_kill9_of_one_aggregator_under_load_loses_and_duplicates_nothing(tmp_path, postgres_url):
    with SiteHarness(tmp_path, kiosks=2, store_url=postgres_url, aggregators=2) as site:
        loads = under_load(site)
        try:
            for victim in (site.centrals[1], site.centrals[0]):  # the ingest worker, then the dashboard's process
                flowing_again(site, loads)
                victim.kill()
                flowing_again(site, loads)  # the other aggregator carries the streams alone
                site.start_aggregator(victim)
            lags = recovered_lag(site, loads)
        finally:
            for load in loads:
                load.__exit__(None, None, None)
        check_counts(site, loads)
    assert lags[-1] < LAG_RECOVERED_S, lags
    print(f"aggregator kill -9: {sum(len(x.acknowledged) for x in loads)} check-ins acknowledged, all at central "
          f"once; lag after recovery p50 {lags[len(lags) // 2]:.3f} s, max {lags[-1]:.3f} s")


def test_postgresql_restart_and_kill9_under_load_lose_and_duplicate_nothing(tmp_path, postgres_private):
    url = postgres_private.url(postgres_private.create_database("central"))
    with SiteHarness(tmp_path, kiosks=2, store_url=url, aggregators=2) as site:
        loads = under_load(site)
        try:
            flowing_again(site, loads)
            postgres_private.restart()  # a maintenance restart: sessions ended, a shutdown checkpoint
            flowing_again(site, loads)
            postgres_private.kill9()  # a power cut: crash recovery at the next start
            time.sleep(1.0)  # the database stays away for a second while check-ins go on at the kiosks
            postgres_private.start()
            flowing_again(site, loads)
            lags = recovered_lag(site, loads)
        finally:
            for load in loads:
                load.__exit__(None, None, None)
        check_counts(site, loads)
        assert all(c.running for c in site.centrals), "an aggregator died with its database"
    assert lags[-1] < LAG_RECOVERED_S, lags
    print(f"PostgreSQL restart + kill -9: {sum(len(x.acknowledged) for x in loads)} check-ins acknowledged, all at "
          f"central once; lag after recovery p50 {lags[len(lags) // 2]:.3f} s, max {lags[-1]:.3f} s")
