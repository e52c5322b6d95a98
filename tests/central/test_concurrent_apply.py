"""Aggregators side by side: several threads apply overlapping batches to one central store at once (the same sites,
the same hours, a third of the record ids in two threads' batches), round after round. On PostgreSQL their transactions
commit side by side (transaction(concurrent=True), the sites' advisory locks); on SQLite one after the other.
Whatever the interleaving, each record is stored once and the summaries equal a recount of the stored records."""

import dataclasses
import random
import threading

from base.records import Stamp
from central.store import CentralStore
from tests.central.test_numbers import _inbound, _stamp, _visit, recounted, summaries
from tests.support.waiting import wait_for

THREADS, ROUNDS, VISITS, BATCH = 3, 6, 40, 5
SITES = ("GL-01", "GL-02", "HN-01")
DESK_KIOSKS = 7  # per site; check-ins come from a kiosk of their own


def _from(kiosk: str, m):
    return dataclasses.replace(m, kiosk=kiosk, payload={**m.payload, "kiosk": kiosk})


def _round_records(r: int) -> list:
    """One round's records: visits (check-in, dose, certificate) at three sites in the same few hours and desks,
    tickets and reprints, from many kiosks per site (a visit's check-in from one, its dose and prints from a desk's:
    what one kiosk's record adds depends on another's, and batches that share no kiosk row overlap in time), and a kiosk whose unsynchronised records wait for the offset
    a synced one teaches."""
    records = []
    for i in range(VISITS):
        n = r * 1000 + i
        visit = _visit(n, "2026-12-01", 8 + i % 3, 30 + 17 * i, desk=str(i % 2), lot=f"L{i % 2}", dose=1 + i % 2,
                       site=SITES[i % 3])
        desk_kiosk = f"{SITES[i % 3]}-d{(i + r) % DESK_KIOSKS}"
        visit = [_from(f"{SITES[i % 3]}-c{i}", visit[0])] + [_from(desk_kiosk, m) for m in visit[1:]]
        records += visit
        cid = visit[0].payload["record_id"]
        if i % 3 == 0:
            records.append(_inbound("print_events", f"t{n:05d}", _stamp(
                f"2026-12-01T{i % 3 + 1:02d}:10:00.000+00:00", 8e6 + n), visit[0].site, kind="ticket", state="done",
                checkin_id=cid, copy=0))
            records[-1] = _from(visit[0].kiosk, records[-1])
        if i % 4 == 0:
            records.append(_inbound("print_events", f"r{n:05d}", _stamp(
                f"2026-12-01T{i % 3 + 2:02d}:30:00.000+00:00", 9e6 + n), visit[0].site, kind="certificate",
                state="done", checkin_id=cid, copy=1))
            records[-1] = _from(desk_kiosk, records[-1])
    boot = f"boot-unsynced-{r}"
    for i in range(8):  # stamped with a wrong wall clock: the hour comes from the offset learned below
        records.append(_inbound("checkins", f"u{r:02d}{i:02d}", Stamp("2020-01-01T00:00:00.000+00:00", 50.0 + i,
                                boot, False), "GL-02", "k-u", day="2020-01-01", ticket=i, scan_kind="qr",
                                source="camera"))
    records.append(_inbound("checkins", f"s{r:02d}", Stamp("2026-12-01T02:00:00.000+00:00", 100.0, boot, True),
                            "GL-02", "k-u", day="2026-12-01", ticket=99, scan_kind="qr", source="camera"))
    return records


def test_overlapping_batches_applied_side_by_side_count_each_record_once(store_location):
    stores = [CentralStore(store_location) for _ in range(THREADS)]  # one aggregator each
    rng = random.Random(17)
    errors: list[BaseException] = []
    made: set[str] = set()
    try:
        for r in range(ROUNDS):
            records = _round_records(r)
            made |= {m.payload["record_id"] for m in records}
            # As a shared subscription spreads a kiosk's messages: each record to one aggregator, but a third of them
            # to two (a resend that went elsewhere), every aggregator's share in its own order and batches.
            shares = [[] for _ in range(THREADS)]
            for m in records:
                for t in rng.sample(range(THREADS), 2 if rng.random() < 1 / 3 else 1):
                    shares[t].append(m)
            plans = []
            for mine in shares:
                rng.shuffle(mine)
                plans.append([mine[i:i + BATCH] for i in range(0, len(mine), BATCH)])
            start = threading.Barrier(THREADS)

            def run(store, batches):
                try:
                    start.wait(10)
                    for batch in batches:
                        store.apply(batch)
                except BaseException as exc:  # noqa: BLE001 - reported below, with the others
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(s, p)) for s, p in zip(stores, plans)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert not any(t.is_alive() for t in threads), "a thread is stuck (an unhandled lock wait)"
            assert not errors, errors

        store = stores[0]
        assert store.record_count() == len(made)
        assert {r["clock"] for r in store._store.query("SELECT clock FROM records WHERE kiosk = 'k-u'")} == {
            "corrected", "synced"}  # no unsynchronised record missed its boot's offset
        # Every dose met its check-in (whichever came first, in whichever transaction): its wait is known.
        assert store._store.query_one("SELECT count(*) AS n FROM records WHERE stream = 'vaccinations' "
                                      "AND wait_s IS NULL")["n"] == 0
        kept = summaries(store)
        assert kept == recounted(store)
        hours = kept["site_hours"]
        assert sum(r[3] for r in hours) == ROUNDS * (VISITS + 9)  # checked in: people, each once
        assert sum(r[6] for r in hours) == ROUNDS * len(range(0, VISITS, 3))  # tickets
        assert sum(r[5] for r in hours) == ROUNDS * VISITS  # certificates
        print(f"retried transactions: {sum(s.retried for s in stores)}")
    finally:
        for s in stores:
            s.close()


def test_a_batch_postgresql_aborts_as_a_deadlock_victim_is_applied_again_and_counted_once(postgres_url):
    import psycopg

    store = CentralStore(postgres_url)
    other = psycopg.connect(postgres_url)
    try:
        seed = [_from("GL-01-a", _visit(1, "2026-12-01", 9, 60, desk="1")[0]),
                _from("GL-01-b", _visit(2, "2026-12-01", 9, 60, desk="1")[0])]
        store.apply(seed)  # both kiosks have their row
        batch = [_from("GL-01-a", m) for m in _visit(3, "2026-12-01", 9, 60, desk="1")] + [
            _from("GL-01-b", m) for m in _visit(4, "2026-12-01", 9, 90, desk="1")]
        # Another writer holds kiosk b's row; the batch locks a's, then waits for b's; the other writer then asks
        # for a's: a cycle, which PostgreSQL breaks by aborting the one that waited first, the batch.
        other.execute("BEGIN")
        other.execute("SELECT 1 FROM kiosks WHERE kiosk = 'GL-01-b' FOR UPDATE")
        done: list = []
        worker = threading.Thread(target=lambda: done.append(store.apply(batch)))
        worker.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vaxkiosk-central' " \
                  "AND wait_event_type = 'Lock'"
        probe = psycopg.connect(postgres_url, autocommit=True)
        wait_for(lambda: probe.execute(waiting).fetchone()[0] == 1, 10, what="the batch waiting for kiosk b's row")
        probe.close()
        other.execute("SELECT 1 FROM kiosks WHERE kiosk = 'GL-01-a' FOR UPDATE")  # returns once the batch aborted
        other.rollback()
        worker.join(30)
        assert not worker.is_alive() and done and done[0].new_records == 6
        assert store.retried >= 1  # aborted, run again (a retry can meet the other writer's lock once more)
        assert store.record_count() == 8
        (hour,) = store._store.query("SELECT checked_in, vaccinated, certificates, desk_hours FROM site_hours")
        assert dict(hour) == {"checked_in": 4, "vaccinated": 2, "certificates": 2, "desk_hours": 1}
    finally:
        other.close()
        store.close()


def test_a_batch_counts_as_its_records_one_per_batch_would_in_any_order_and_cut(store_location, tmp_path):
    """What a record counts depends on the records before it (its check-in's ticket print, its desk's first dose of
    the hour, its wait's check-in), whether they came in an earlier batch or earlier in its own: the same records in
    shuffled orders, cut into batches of random sizes with copies inside a batch and across batches, give the
    summaries of a recount and those of applying them one per batch."""
    records = _round_records(0) + _round_records(1)
    one_by_one = CentralStore(tmp_path / "one-by-one.db")
    try:
        for m in records:
            one_by_one.apply([m])
        expected = summaries(one_by_one)
        assert expected == recounted(one_by_one)
    finally:
        one_by_one.close()
    rng = random.Random(5)
    store = CentralStore(store_location)
    try:
        order = records[:]
        rng.shuffle(order)
        order += rng.sample(records, 30)  # resent later
        i = 0
        while i < len(order):
            size = rng.choice((1, 2, 7, 40, 120))
            batch = order[i:i + size]
            batch += rng.sample(batch, min(3, len(batch)))  # copies inside the batch
            applied = store.apply(batch)
            assert applied.new_records + applied.duplicates == len(batch)
            i += size
        assert store.record_count() == len(records)
        assert summaries(store) == recounted(store)
        assert summaries(store) == expected  # and what applying them one per batch gave
    finally:
        store.close()
