"""Ranges read whole months from the monthly roll-ups (migration 0008_site_months) and the edge days from the daily
summaries (central.spans): every figure must equal summing the days, and counting the records themselves, on both of
central's stores, also after a clock correction moves records from one month into the next."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from central import numbers
from central.ops_config import Site
from central.spans import Span, plan
from central.store import MONTHLY, CentralStore
from tests.central.test_numbers import _inbound, _stamp, _visit

SITES = {"GL-01": Site("GL-01", "064", "Yên Đỗ", "Pleiku"), "GL-02": Site("GL-02", "064", "Ia Kha", "Ia Grai"),
         "HN-01": Site("HN-01", "001", "Dịch Vọng", "Cầu Giấy")}
DAYS = ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-15", "2026-11-29", "2026-11-30",
        "2026-12-01", "2026-12-02", "2026-12-15", "2026-12-31", "2027-01-01"]
RANGES = [
    ("2026-11-01", "2026-11-30"),  # one whole month
    ("2026-12-01", "2026-12-31"),  # the month the corrected records move into
    ("2026-11-15", "2026-12-02"),  # mid-month to mid-month, two months
    ("2026-11-29", "2026-12-01"),  # a few days across the boundary
    ("2026-11-02", "2026-12-30"),  # most of two months: their rows less the days outside
    ("2026-10-31", "2027-01-01"),  # two whole months and a day either side
    ("2026-11-30", "2026-11-30"),  # one day
]
# The plan reads other rows depending on what "today" is (days after it are free to subtract); the figures must not.
TODAYS = ["2026-11-20", "2026-12-02", "2027-06-01"]
LATE_BOOT = "late-boot"
LATE = range(900, 903)  # visits a kiosk stamped with a clock half a day slow: 30 Nov by its clock, 1 Dec really


def expand(spans: list[Span]) -> dict[str, int]:
    """day → how many times the spans count it."""
    out: dict[str, int] = {}
    for span in spans:
        if span.table == "day":
            a, b = dt.date.fromisoformat(span.lo), dt.date.fromisoformat(span.hi)
        else:
            a = dt.date.fromisoformat(span.lo + "-01")
            b = dt.date.fromisoformat(span.hi + "-28") + dt.timedelta(days=4)
            b = b.replace(day=1) - dt.timedelta(days=1)
        for i in range((b - a).days + 1):
            day = (a + dt.timedelta(days=i)).isoformat()
            out[day] = out.get(day, 0) + span.sign
    return {d: n for d, n in out.items() if n}


def test_a_plan_counts_each_day_of_the_range_once_and_no_other():
    rng = random.Random(8)
    start = dt.date(2026, 1, 1)
    for _ in range(3000):
        a = start + dt.timedelta(days=rng.randrange(900))
        b = a + dt.timedelta(days=rng.choice([0, 1, 2, 14, 27, 29, 30, 31, 45, 60, 200, 365]) + rng.randrange(3))
        today = a + dt.timedelta(days=rng.randrange(-40, 400))
        spans = plan(a.isoformat(), b.isoformat(), today.isoformat())
        want = {(a + dt.timedelta(days=i)).isoformat(): 1 for i in range((b - a).days + 1)}
        assert expand(spans) == want, (a, b, today, spans)
        assert sum(s.table == "month" for s in spans) <= 1 and sum(s.table == "day" for s in spans) <= 4


def test_a_plan_reads_months_whole_and_few_days():
    assert plan("2026-11-01", "2026-11-30", "2026-12-02") == [Span("month", "2026-11", "2026-11", 1)]
    # The last 30 days: November less its first two days, December less its days to come (none stored yet).
    assert plan("2026-11-03", "2026-12-02", "2026-12-02") == [
        Span("month", "2026-11", "2026-12", 1), Span("day", "2026-11-01", "2026-11-02", -1),
        Span("day", "2026-12-03", "2026-12-31", -1)]
    # Half a month each side: the days it covers, whichever way is cheaper.
    assert plan("2026-11-20", "2026-12-10", "2027-01-05") == [Span("day", "2026-11-20", "2026-11-30", 1),
                                                             Span("day", "2026-12-01", "2026-12-10", 1)]
    assert plan("2026-12-02", "2026-12-02", "2026-12-02") == [Span("day", "2026-12-02", "2026-12-02", 1)]


def fill(store: CentralStore) -> None:
    """Three sites, visits on days either side of three month boundaries (waits, desks, lots, doses vary), tickets
    and reprints, duplicates, arriving shuffled; and the slow kiosk's visits, not yet corrected."""
    for s in SITES.values():
        store.upsert_site(s.id, s.name, s.district, s.province)
    rng = random.Random(19)
    records, n = [], 0
    for day in DAYS:
        for site in SITES:
            for _ in range(rng.randrange(1, 4)):
                n += 1
                visit = _visit(n, day, rng.randrange(8, 17), rng.randrange(0, 5400), desk=str(rng.randrange(1, 4)),
                               site=site, lot=rng.choice(["FK1", "FK2"]), dose=rng.randrange(1, 3),
                               vaccine=rng.choice(["comirnaty", "vaxzevria"]))
                records += visit
                cid, at = visit[0].payload["record_id"], visit[0].payload["at"]
                if n % 3 == 0:
                    records.append(_inbound("print_events", f"t{n:04d}", _stamp(at["wall"], at["mono"] + 5), site,
                                            kind="ticket", state="done", checkin_id=cid, copy=0))
                if n % 4 == 0:
                    records.append(_inbound("print_events", f"r{n:04d}", _stamp(at["wall"], at["mono"] + 3000),
                                            site, kind="certificate", state="done", checkin_id=cid, copy=1))
    for n in LATE:
        records += _visit(n, "2026-11-30", 10, 120 * (n - 899), desk="2", site="GL-02", lot="FK2", boot=LATE_BOOT,
                          synced=False)
    rng.shuffle(records)
    for i in range(0, len(records), 40):
        store.apply(records[i:i + 40] + rng.sample(records, 2))


def correct_the_slow_kiosk(store: CentralStore) -> None:
    """A synchronised record of the slow kiosk's boot: its first visit was at 09:00 on 1 December (local)."""
    mono = 1000.0 + LATE[0] * 10000
    offset = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc).timestamp() - mono
    later = mono + 40_000
    wall = dt.datetime.fromtimestamp(offset + later, dt.timezone.utc).isoformat(timespec="milliseconds")
    store.apply([_inbound("checkins", "c-synced", _stamp(wall, later, LATE_BOOT), "GL-02", day="2026-12-01",
                          ticket=999, scan_kind="qr", source="camera")])


def figures(store: CentralStore, first: str, last: str) -> dict:
    """Every figure the numbers pages and APIs show for the range."""
    ids = sorted(SITES)
    rows = numbers.site_counts(store, SITES, first, last)
    return {"counts": {level: store.counts(level, first, last) for level in numbers.LEVELS},
            "sites": rows, **{level: numbers.rollup(rows, level) for level in ("district", "province")},
            "waits": sorted((r["site"], r["bucket"], r["n"]) for r in store.wait_histogram(first, last)),
            "desks": sorted((r["site"], r["vaccinated"], r["desk_hours"]) for r in store.desk_hours(first, last)),
            "doses": numbers.doses(store, first, last, ids), "daily": numbers.per_day(store, first, last, ids)}


def recount(store: CentralStore, first: str, last: str) -> dict:
    """The counts, waits and doses of the range from the stored records themselves."""
    got = {stream: store.records(stream, limit=100_000) for stream in ("checkins", "vaccinations", "print_events")}
    done = {(p["ref_checkin"], p["print_kind"]) for p in got["print_events"] if p["print_state"] == "done"}
    inside = {stream: [r for r in rows if first <= r["day"] <= last] for stream, rows in got.items()}
    sites: dict[str, dict] = {}
    for r in inside["checkins"]:
        s = sites.setdefault(r["site"], dict.fromkeys(store.COUNTED, 0))
        s["checked_in"] += 1
        s["tickets"] += (r["record_id"], "ticket") in done
    for r in inside["vaccinations"]:
        s = sites.setdefault(r["site"], dict.fromkeys(store.COUNTED, 0))
        s["vaccinated"] += 1
        s["certificates"] += (r["ref_checkin"], "certificate") in done
    for r in inside["print_events"]:
        if r["print_state"] == "done" and r["print_copy"] > 0:
            s = sites.setdefault(r["site"], dict.fromkeys(store.COUNTED, 0))
            s[f"{r['print_kind']}_reprints"] += 1
    waits, doses = {}, {}
    for r in inside["vaccinations"]:
        if r["wait_s"] is not None:
            key = (r["site"], r["wait_s"] // store.WAIT_BUCKET_S)
            waits[key] = waits.get(key, 0) + 1
        key = (r["vaccine"], r["dose_number"], r["lot"])
        doses[key] = doses.get(key, 0) + 1
    return {"sites": sites, "waits": sorted((*k, n) for k, n in waits.items()),
            "doses": [{"vaccine": v, "dose_number": d, "lot": lot, "vaccinated": n}
                      for (v, d, lot), n in sorted(doses.items())]}


def only_days(first: str, last: str, today: str) -> list[Span]:
    return [Span("day", first, last, 1)]


def assert_ranges_add_up(store: CentralStore, monkeypatch) -> None:
    """For every range and every "today": the figures read through the months equal the days summed and the
    records counted."""
    for today, (first, last) in ((t, r) for t in TODAYS for r in RANGES):
        with monkeypatch.context() as m:
            m.setattr(store, "today", lambda: today)
            composed = figures(store, first, last)
            m.setattr("central.store.plan", only_days)
            assert composed == figures(store, first, last), (today, first, last)
        counted = recount(store, first, last)
        assert {r["site"]: {k: r[k] for k in store.COUNTED} for r in composed["counts"]["site"]} == \
            counted["sites"], (today, first, last)
        assert composed["waits"] == counted["waits"] and composed["doses"] == counted["doses"], (first, last)


def months_equal_their_days(store: CentralStore) -> None:
    """Each monthly table holds exactly its daily table summed per month (rows that count nothing aside)."""
    for daily, monthly in MONTHLY.items():
        keys = {"site_days": "site", "site_waits": "site, bucket",
                "site_doses": "site, vaccine, dose_number, lot"}[daily]
        values = [c for c in store._store.query(f"SELECT * FROM {monthly} LIMIT 1")[0] if c not in
                  ("month", *keys.split(", "))]
        sums = ", ".join(f"CAST(SUM({v}) AS BIGINT) AS {v}" for v in values)
        by_days = store._store.query(f"SELECT substr(day, 1, 7) AS month, {keys}, {sums} FROM {daily} "
                                     f"GROUP BY substr(day, 1, 7), {keys}")
        kept = store._store.query(f"SELECT month, {keys}, {', '.join(values)} FROM {monthly}")
        counting = lambda rows: sorted(tuple(r.values()) for r in rows if any(r[v] for v in values))  # noqa: E731
        assert counting(kept) == counting(by_days), monthly
        assert any(r["month"] == "2026-12" for r in kept)


def test_ranges_through_the_months_equal_the_days_and_the_records(store_location, monkeypatch):
    store = CentralStore(store_location, utc_offset_hours=7)
    try:
        fill(store)
        late = {r["record_id"]: r for r in store.records("vaccinations", site="GL-02") if r["kiosk"] == "k1"
                and r["boot_id"] == LATE_BOOT}
        assert {r["day"] for r in late.values()} == {"2026-11-30"} and len(late) == len(LATE)
        months_equal_their_days(store)
        assert_ranges_add_up(store, monkeypatch)
        november = {r["site"]: r for r in store.counts("site", "2026-11-01", "2026-11-30")}["GL-02"]

        correct_the_slow_kiosk(store)
        moved = {r["record_id"]: r for r in store.records("vaccinations", site="GL-02") if r["record_id"] in late}
        assert {(r["day"], r["clock"]) for r in moved.values()} == {("2026-12-01", "corrected")}
        months_equal_their_days(store)
        assert_ranges_add_up(store, monkeypatch)
        # The slow kiosk's people left November for December.
        after = {r["site"]: r for r in store.counts("site", "2026-11-01", "2026-11-30")}["GL-02"]
        assert (november["checked_in"] - after["checked_in"], november["vaccinated"] - after["vaccinated"]) == (3, 3)
        assert november["certificates"] - after["certificates"] == 3
    finally:
        store.close()


def test_migration_0008_fills_the_months_from_the_days_already_stored(store_location):
    """A central.db from before 0008 (its summaries kept by the daily tables only) gets the monthly roll-ups of
    everything it holds, and answers ranges as before."""
    store = CentralStore(store_location, utc_offset_hours=7)
    fill(store)
    correct_the_slow_kiosk(store)
    before = {r: figures(store, *r) for r in RANGES}
    # Back to the database as it was before 0008: no monthly tables, the migration not run.
    with store._store.transaction() as db:
        for monthly in MONTHLY.values():
            db.conn.execute(f"DROP TABLE {monthly}")
        db.conn.execute("DELETE FROM schema_migrations WHERE name = '0008_site_months'")
    store.close()

    store = CentralStore(store_location, utc_offset_hours=7)
    try:
        assert store._store.query_one("SELECT count(*) AS n FROM schema_migrations WHERE name = '0008_site_months'")[
            "n"] == 1
        months_equal_their_days(store)
        assert {r: figures(store, *r) for r in RANGES} == before
    finally:
        store.close()


@pytest.mark.parametrize("first,last", [("2026-11-01", "2026-11-30"), ("2026-11-02", "2026-12-30")])
def test_a_range_reads_its_months_from_the_monthly_rows(tmp_path, monkeypatch, first, last):
    """The composition really reads the monthly tables (the equalities above are not the days read twice): with
    them emptied, a whole month, or most of two, no longer adds up."""
    store = CentralStore(tmp_path / "central.db", utc_offset_hours=7)
    try:
        fill(store)
        monkeypatch.setattr(store, "today", lambda: "2027-06-01")
        assert any(s.table == "month" for s in plan(first, last, store.today()))
        read = figures(store, first, last)
        with store._store.transaction() as db:
            for monthly in MONTHLY.values():
                db.conn.execute(f"DELETE FROM {monthly}")
        assert figures(store, first, last) != read
    finally:
        store.close()
