"""Health history in tiers (issue 17 item 6), on a real SQLite file and a real PostgreSQL: the per-minute and
per-hour roll-ups say what the raw reports say, whatever the number of rollers and wherever one dies; PostgreSQL's
days are partitions made ahead and dropped whole; a report received again after midnight is one row; the kiosk page
reads the finest tier that holds the period and says which. Every time comes from an injected clock."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import threading

import pytest

from base.store import open_store
from central.store import HEALTH_FIGURES, MIGRATIONS, ROLLUP_LAG_S, CentralStore, Inbound
from tests.conftest import ROOT
from tests.support.waiting import wait_for

START = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.timezone.utc).timestamp()  # 05:30 local, the next day


class Clock:
    """Epoch seconds the test sets and moves (CentralStore's clock)."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def central(store_location, clock):
    s = CentralStore(store_location, clock=clock)
    yield s
    s.close()


def report(kiosk: str, mono: float, rng: random.Random, boot: str = "boot-a") -> Inbound:
    """A health report as a kiosk sends it, its figures varied (sometimes no temperature, no camera, the printer
    offline) so that each summary (max, min, average) has something to get wrong."""
    payload = {"schema": 1, "site": "GL-01", "kiosk": kiosk, "version": "0.1.0", "config_rev": "r1", "parts": {},
               "at": {"wall": "2026-11-25T22:30:00.000+00:00", "mono": mono, "boot_id": boot, "clock_synced": True},
               "uptime_s": mono, "load": round(rng.uniform(0, 4), 2), "disk_free_mb": 1000,
               "disk_used_pct": rng.randint(30, 90), "db_bytes": 4096, "outbox_backlog": rng.randint(0, 50),
               "outbox_oldest_s": rng.choice([None, rng.uniform(0, 600)]), "mem_used_pct": rng.uniform(20, 95)}
    if rng.random() < 0.8:
        payload["cpu_temp_c"] = rng.uniform(40, 85)
    if rng.random() < 0.9:
        payload["camera"] = {"capturing": True, "fps": rng.uniform(5, 15)}
    payload["printer"] = {"state": "ok", "status": {"known": True, "online": rng.random() < 0.9, "paper": "ok"}}
    return Inbound("GL-01", kiosk, "health", {k: v for k, v in payload.items() if v is not None})


def fill(store: CentralStore, clock: Clock, seconds: float, kiosks=("k1", "k2"), every: float = 10.0, seed=1,
         boot: str = "boot-a"):
    """Each kiosk reports every `every` seconds for `seconds` (one boot), one batch per report time (as ingest
    commits)."""
    rng = random.Random(seed)
    t0 = clock.t
    for i in range(int(seconds / every)):
        clock.t = t0 + i * every + rng.uniform(0, 2)
        store.apply([report(k, 1000.0 + i * every, rng, boot) for k in kiosks])
    clock.t = t0 + seconds


def raw_rows(store: CentralStore) -> list[dict]:
    return store._store.query(f"SELECT kiosk, received, {', '.join(HEALTH_FIGURES)} FROM health_history")


def expected(rows: list[dict], prefix: int) -> dict[tuple[str, str], dict]:
    """What the raw reports say per kiosk and bucket, worked out here from the rows themselves."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["kiosk"], r["received"][:prefix]), []).append(r)
    out = {}
    for key, group in groups.items():
        figures = {"n": len(group)}
        for column, how in HEALTH_FIGURES.items():
            values = [r[column] for r in group if r[column] is not None]
            figures[column] = None if not values else {"max": max, "min": min}.get(
                how, lambda v: sum(v) / len(v))(values)
        out[key] = figures
    return out


def stored(store: CentralStore, table: str) -> dict[tuple[str, str], dict]:
    rows = store._store.query(f"SELECT kiosk, bucket, n, {', '.join(HEALTH_FIGURES)} FROM {table}")
    return {(r.pop("kiosk"), r.pop("bucket")[:16 if table == "health_minutes" else 13]): r for r in rows}


def same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key]), key


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def test_minute_and_hour_roll_ups_say_what_the_raw_reports_say(central, clock):
    fill(central, clock, 2 * 3600 + 600)  # 22:30 → 00:40 UTC: across midnight, two whole hours
    done = central.roll_up_health()
    rows = raw_rows(central)
    complete = iso(clock.t - ROLLUP_LAG_S)[:16]  # 00:38: the minutes that ended two minutes ago
    minutes = expected([r for r in rows if r["received"][:16] < complete], 16)
    same(stored(central, "health_minutes"), minutes)
    assert done["minute"] == sum(m["n"] for m in minutes.values()) > 0
    hours = expected([r for r in rows if r["received"][:13] < complete[:13]], 13)
    assert {h for _, h in hours} == {"2026-11-25T22", "2026-11-25T23"}  # 00:xx is not complete yet
    same(stored(central, "health_hours"), hours)
    tiers = central.health_tiers()
    assert tiers["minute"]["rolled_until"] == "2026-11-26T00:38:00.000+00:00"
    assert tiers["hour"]["rolled_until"] == "2026-11-26T00:00:00.000+00:00"
    assert central.roll_up_health() == {"minute": 0, "hour": 0}  # nothing new: nothing done
    clock.t += 3600
    central.roll_up_health()
    same(stored(central, "health_minutes"), expected(rows, 16))
    same(stored(central, "health_hours"), expected(rows, 13))


def test_two_roll_ups_at_once_sum_each_report_once(central, clock, store_location):
    fill(central, clock, 1800, kiosks=("k1", "k2", "k3"))
    clock.t += 600
    other = CentralStore(store_location, clock=clock)  # a second aggregator on the same database
    errors = []

    def roll(store):
        try:
            while sum(store.roll_up_health(max_chunks=1).values()):
                pass
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    try:
        threads = [threading.Thread(target=roll, args=(s,)) for s in (central, other, central, other)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
    finally:
        other.close()
    assert errors == []
    rows = raw_rows(central)
    same(stored(central, "health_minutes"), expected(rows, 16))
    same(stored(central, "health_hours"), expected(rows, 13))


def test_a_roll_up_that_fails_mid_chunk_loses_nothing_and_counts_nothing_twice(central, clock, monkeypatch):
    fill(central, clock, 1500)  # 25 minutes: five chunks of five minutes
    clock.t += 600
    chunks = []
    real = CentralStore._rolled

    def crash_on_the_second(self, db, tier, until):
        chunks.append(until)
        if len(chunks) == 2:
            raise OSError("the machine stopped here")
        real(self, db, tier, until)

    monkeypatch.setattr(CentralStore, "_rolled", crash_on_the_second)
    with pytest.raises(OSError):
        central.roll_up_health()
    rows = raw_rows(central)
    # The first chunk is whole, the second not there at all: its buckets went with its watermark.
    assert central.health_tiers()["minute"]["rolled_until"] == chunks[0]
    same(stored(central, "health_minutes"), expected([r for r in rows if r["received"] < chunks[0]], 16))
    monkeypatch.setattr(CentralStore, "_rolled", real)
    central.roll_up_health()
    same(stored(central, "health_minutes"), expected(rows, 16))
    assert len(rows) == 2 * 150


KILLED_ROLLER = """
import sys, time
from pathlib import Path
from central.store import CentralStore
location, at, ready = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
def stop_here(self, db, tier, until):
    ready.write_text(until)
    time.sleep(120)
CentralStore._rolled = stop_here
CentralStore(location, clock=lambda: at).roll_up_health()
"""


def test_a_roll_up_killed_mid_chunk_loses_nothing(central, clock, store_location, tmp_path):
    """kill -9 of an aggregator while its roll-up chunk is written, before the chunk's watermark: the database
    keeps nothing of that chunk, and the next roll-up (the other aggregator) does it whole."""
    fill(central, clock, 900)
    clock.t += 600
    ready = tmp_path / "mid-chunk"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_ROLLER, str(store_location), str(clock.t), str(ready)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(ready.exists, 30, what="the roller in the middle of its first chunk")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert stored(central, "health_minutes") == {}
    assert central.health_tiers()["minute"]["rolled_until"] is None
    central.roll_up_health()
    same(stored(central, "health_minutes"), expected(raw_rows(central), 16))


def test_a_report_received_again_after_midnight_is_applied_once(central, clock, store_location):
    """PostgreSQL's unique key holds within a day's partition: the same report (kiosk, boot, monotonic stamp)
    committed at 23:59:59.9 and redelivered to another aggregator at 00:00:00.2 must still be one row."""
    rng = random.Random(3)
    clock.t = dt.datetime(2026, 11, 25, 23, 59, 59, 900000, tzinfo=dt.timezone.utc).timestamp()
    first = report("k1", 5000.0, rng)
    central.apply([first])
    other = CentralStore(store_location, clock=clock)
    try:
        clock.t += 0.3
        other.apply([first, report("k1", 5010.0, rng)])
        clock.t += 0.2
        central.apply([first])
    finally:
        other.close()
    rows = central._store.query("SELECT mono, utc_day FROM health_history ORDER BY mono")
    assert [(r["mono"], r["utc_day"]) for r in rows] == [(5000.0, "2026-11-25"), (5010.0, "2026-11-26")]
    clock.t += 3600
    central.roll_up_health()
    assert sum(m["n"] for m in stored(central, "health_minutes").values()) == 2


def test_old_days_go_only_once_rolled_up_and_postgresql_drops_them_as_partitions(central, clock, store_location):
    fill(central, clock, 600)  # 2026-11-25 22:30-22:40
    clock.t += 2 * 86400  # 2026-11-27, after a restart
    fill(central, clock, 600, boot="boot-b")
    assert central.prune_health(1, 7, 31)["raw"] in ({"rows": 0}, {"days": []})  # nothing rolled up: nothing goes
    assert len(raw_rows(central)) == 2 * 2 * 60
    central.roll_up_health()
    before = stored(central, "health_minutes")
    removed = central.prune_health(1, 7, 31)
    rows = raw_rows(central)
    assert {r["received"][:10] for r in rows} == {"2026-11-27"} and len(rows) == 2 * 60
    assert stored(central, "health_minutes") == before  # the minutes of the day that went are kept
    assert central.health_tiers()["raw"]["kept_from"] == (
        "2026-11-26T00:00:00.000+00:00" if central._store.partitioned else iso(clock.t - 86400))
    if central._store.partitioned:
        assert removed["raw"] == {"days": ["2026-11-25"]}
        with central._store.transaction() as db:
            # Made ahead: today's and the next two days'; the 25th's partition is gone, not emptied.
            assert central._store.day_partitions(db, "health_history") == ["2026-11-27", "2026-11-28", "2026-11-29"]
            assert "2026-11-25" in central._store.day_partitions(db, "health_minutes")
    else:
        assert removed["raw"] == {"rows": 2 * 60}
    clock.t += 8 * 86400  # the minutes' week is over too, the hours stay for the month
    central.roll_up_health()
    central.prune_health(1, 7, 31)
    assert stored(central, "health_minutes") == {}
    assert {h for _, h in stored(central, "health_hours")} == {"2026-11-25T22", "2026-11-27T22"}


def test_the_kiosk_series_reads_the_finest_tier_that_holds_the_period(central, clock):
    fill(central, clock, 7200, kiosks=("k1",))  # 22:30 → 00:30
    central.roll_up_health()
    # Nothing pruned yet: the raw reports hold everything.
    series = central.health_series("k1", "2026-11-25T00:00:00.000+00:00", "2026-11-27T00:00:00.000+00:00")
    assert series.tier == "raw" and len(series.rows) == 720
    clock.t += 1.5 * 86400
    central.roll_up_health()
    central.prune_health(0.5, 2, 31)  # raw for half a day, minutes for two
    day = ("2026-11-25T17:00:00.000+00:00", "2026-11-26T17:00:00.000+00:00")  # the local day of 26 November
    series = central.health_series("k1", *day)
    assert series.tier == "minute" and len(series.rows) == 120
    assert series.rows[0]["received"] == "2026-11-25T22:30:00.000+00:00" and series.rows[0]["n"] == 6
    clock.t += 2 * 86400
    central.roll_up_health()
    central.prune_health(0.5, 2, 31)
    series = central.health_series("k1", *day)
    assert series.tier == "hour" and [r["n"] for r in series.rows] == [180, 360, 180]


def test_a_coarser_tier_sums_up_what_is_not_rolled_up_yet(central, clock):
    """Between two roll-ups the minutes' last stretch is only raw: the minute series sums it up on the fly, as the
    roll-up will."""
    fill(central, clock, 900, kiosks=("k1",))
    central.roll_up_health(max_chunks=1)  # the first five minutes only
    with central._store.transaction() as db:
        db.conn.execute("UPDATE health_tiers SET kept_from = ? WHERE tier = 'raw'", (iso(clock.t),))
    series = central.health_series("k1", "2026-11-25T22:00:00.000+00:00", "2026-11-25T23:00:00.000+00:00")
    assert series.tier == "minute"
    assert [r["received"][11:16] for r in series.rows] == [f"22:{m}" for m in range(30, 45)]
    assert [r["n"] for r in series.rows] == [6] * 15
    want = expected(raw_rows(central), 16)
    for row in series.rows:
        assert {k: row[k] for k in ("n", *HEALTH_FIGURES)} == pytest.approx(want[("k1", row["received"][:16])])


def test_migration_0009_keeps_the_reports_stored_before(store_location, clock):
    """A central.db (or database) of 0007 with reports of two days: they move into the new table (on PostgreSQL
    into one partition per day) and are rolled up like any other."""
    upto = [m for m in MIGRATIONS if m[0] <= "0007_health_once"]
    old = open_store(store_location, upto, "central")
    with old.transaction() as db:
        for i, received in enumerate(("2026-11-24T10:00:01.000+00:00", "2026-11-24T10:00:11.000+00:00",
                                      "2026-11-25T09:00:05.000+00:00")):
            db.conn.execute("INSERT INTO health_history (kiosk, received, outbox_backlog, load, disk_used_pct, "
                            "payload, boot_id, mono) VALUES (?, ?, ?, 0.5, 40, '{}', 'b', ?)",
                            ("k1", received, 3 + i, 100.0 + i))
    old.close()
    store = CentralStore(store_location, clock=clock)
    try:
        assert [(r["received"][:10], r["outbox_backlog"]) for r in store.health_history("k1")] == [
            ("2026-11-24", 3), ("2026-11-24", 4), ("2026-11-25", 5)]
        if store._store.partitioned:
            with store._store.transaction() as db:
                assert store._store.day_partitions(db, "health_history") == ["2026-11-24", "2026-11-25"]
        store.roll_up_health()
        minutes = stored(store, "health_minutes")
        assert {k: (v["n"], v["outbox_backlog"]) for k, v in minutes.items()} == {
            ("k1", "2026-11-24T10:00"): (2, 4), ("k1", "2026-11-25T09:00"): (1, 5)}
        # A report of 0007's era sent again is still recognised.
        store.apply([Inbound("GL-01", "k1", "health", {**report("k1", 100.0, random.Random(1), boot="b").payload})])
        assert len(store.health_history("k1")) == 3
    finally:
        store.close()


def test_the_kiosk_page_says_which_resolution_it_shows(central, clock, tmp_path):
    from werkzeug.security import generate_password_hash

    from central.ops import OpsService
    from central.ops_config import from_dict
    from central.web import create_app

    fill(central, clock, 3600, kiosks=("k1",))
    clock.t += 3 * 86400
    central.roll_up_health()
    central.prune_health(1, 2, 31)

    class NoBroker:
        connected = threading.Event()

    config = from_dict({"web": {"secret_key": "test"}, "sites": [{"id": "GL-01", "name": "Trạm", "province": "064"}],
                        "users": [{"name": "ops", "password_hash": generate_password_hash("pw")}]})
    ops = OpsService(config, central, NoBroker(), tmp_path / "ops.db")
    try:
        client = create_app(ops).test_client()
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"csrf": csrf, "name": "ops", "password": "pw"}).status_code == 302
        page = client.get("/kiosk/k1?day=2026-11-26").get_data(as_text=True)  # local day: 22:30-23:30 UTC the 25th
        assert "mỗi giờ · per hour" in page and "360 báo cáo · reports" in page and "(2 điểm · points" in page
        assert client.get("/kiosk/k1").status_code == 200
    finally:
        ops.ops_store.close()


@pytest.mark.parametrize("central_keys, problem", [
    ({"health_raw_days": 2, "health_minute_days": 1}, "central.health_minute_days = 1.0: expected at least "
                                                       "health_raw_days (2.0)"),
    ({"health_hour_days": 3}, "central.health_hour_days = 3.0: expected at least health_minute_days (7.0)"),
    ({"health_raw_days": 0.01}, "central.health_raw_days = 0.01: expected at least 0.0417"),
    ({"health_raw_days": 0}, "central.health_raw_days = 0.0: expected a number greater than 0"),
    ({"health_history_days": 2}, "central.health_history_days: no longer read; replaced by health_raw_days"),
])
def test_health_retention_is_checked_with_a_clear_message(central_keys, problem):
    from base.config import ConfigError
    from central.config import from_dict

    with pytest.raises(ConfigError) as raised:
        from_dict({"central": central_keys})
    assert problem in str(raised.value)


def test_health_retention_defaults_hold_a_day_a_week_and_a_month():
    from central.config import from_dict

    keep = from_dict({}).central
    assert (keep.health_raw_days, keep.health_minute_days, keep.health_hour_days) == (1.0, 7.0, 31.0)
