"""Health history at national scale: a month of health from 20,000 kiosks in central's tiers, then page times.

Usage: python bench/health_history.py [--store sqlite|postgresql] [--kiosks 20000] [--raw-kiosks 200]
       [--minute-kiosks 1000] [--dense-minutes 15] [--interval 10] [--runs 20] [--records-kiosks 100]

Fills central's store (a fresh SQLite file, or a fresh database of a PostgreSQL started for the run under
tests/support/postgres_server.py) at each tier's density with the default retention ([central] health_raw_days 1,
health_minute_days 7, health_hour_days 31): per-hour rows of every kiosk for the month before the last day, per-
minute rows for the week before it, raw reports every `interval` seconds for the last day, and 20,000 kiosk rows.
The minute and raw tiers of 20,000 kiosks (202 million and 173 million rows) do not fit this machine's disk and
time, so they are filled for a proportional subset of the kiosks (--minute-kiosks, --raw-kiosks; the output says
so) and their sizes are also given scaled to the whole fleet; the last `--dense-minutes` of raw reports are
filled for every kiosk, so that the roll-up's chunks hold what they hold in the country. Rows are generated inside the database (SQL), since
central's ingest path (CentralStore.apply) is measured by bench/fleet.py.

Then: the roll-up of the last day's raw reports into minutes and hours (CentralStore.roll_up_health, raw rows/s),
one record day of `--records-kiosks` kiosks through CentralStore.apply for the numbers pages (bench/central_pages.py
fills it), and p50/p95 of the kiosk page (each tier) and the numbers pages through the real dashboard app (Flask's
WSGI client, as bench/central_pages.py), with the table sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.central_pages import dashboard, fill as fill_records, pages as numbers_pages, plan_sites, timed  # noqa: E402,E501
from central.store import HEALTH_FIGURES, CentralStore  # noqa: E402

DAY = 86400
RAW_DAYS, MINUTE_DAYS, HOUR_DAYS = 1, 7, 31


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def kiosk_ids(n: int) -> list[tuple[str, str]]:
    """(site, kiosk) as bench/central_pages.py names them: two kiosks per site."""
    return [(f"S{k // 2:05d}", f"S{k // 2:05d}-k{k % 2 + 1:02d}") for k in range(n)]


def series_sql(pg: bool, n: int, name: str) -> str:
    """A row source of 0..n-1 as `name`, on either engine."""
    if pg:
        return f"generate_series(0, {n - 1}) AS {name}(x)"
    return f"(WITH RECURSIVE s(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM s WHERE x < {n - 1}) SELECT x FROM s) {name}"


def kiosk_name(pg: bool, column: str) -> str:
    """Kiosk `column` (a number) named as kiosk_ids names it."""
    if pg:
        return (f"'S' || lpad(({column} / 2)::text, 5, '0') || '-k0' || ({column} % 2 + 1)::text")
    return f"printf('S%05d-k%02d', {column} / 2, {column} % 2 + 1)"


def fill_tier(store: CentralStore, pg: bool, table: str, kiosks: int, start: float, buckets: int, width: float,
              per: int) -> int:
    """`buckets` rows per kiosk of width `width` seconds from `start`, each summing up `per` reports."""
    iso_at = (f"to_char(to_timestamp({start} + b.x * {width}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
              "|| '.000+00:00'") if pg else f"strftime('%Y-%m-%dT%H:%M:%S', {start} + b.x * {width}, 'unixepoch') || '.000+00:00'"
    rnd = "random()" if pg else "(abs(random()) % 1000000) / 1000000.0"
    day = "substr(at, 1, 10), " if table == "health_minutes" else ""
    columns = ", ".join(HEALTH_FIGURES)
    sql = (f"INSERT INTO {table} (kiosk, {'utc_day, ' if day else ''}bucket, n, {columns}) "
           f"SELECT kiosk, {day}at, {per}, CAST({rnd} * 40 AS INTEGER), {rnd} * 300, 45 + {rnd} * 30, {rnd} * 2, "
           f"30 + {rnd} * 50, 40 + {rnd} * 20, 10 + {rnd} * 5, 1 "
           f"FROM (SELECT {kiosk_name(pg, 'k.x')} AS kiosk, {iso_at} AS at "
           f"FROM {series_sql(pg, kiosks, 'k')}, {series_sql(pg, buckets, 'b')}) g")
    with store._store.transaction() as db:
        return db.conn.execute(sql).rowcount


def fill_raw(store: CentralStore, pg: bool, kiosks: int, start: float, reports: int, interval: float,
             boot: str) -> int:
    """Raw reports as ingest stores them, `reports` per kiosk."""
    at = (f"to_char(to_timestamp({start} + r.x * {interval} + (k.x % 10)) AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.MS') || '+00:00'") if pg else (
        f"strftime('%Y-%m-%dT%H:%M:%f', {start} + r.x * {interval} + (k.x % 10), 'unixepoch') || '+00:00'")
    rnd = "random()" if pg else "(abs(random()) % 1000000) / 1000000.0"
    rows = 0
    step = max(1, 2_000_000 // reports)  # kiosks per transaction
    for first in range(0, kiosks, step):
        n = min(step, kiosks - first)
        sql = (f"INSERT INTO health_history (kiosk, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, "
               f"mem_used_pct, disk_used_pct, camera_fps, printer_online, boot_id, mono, utc_day) "
               f"SELECT kiosk, at, CAST({rnd} * 40 AS INTEGER), {rnd} * 300, 45 + {rnd} * 30, {rnd} * 2, "
               f"30 + {rnd} * 50, 40 + {rnd} * 20, 10 + {rnd} * 5, 1, '{boot}', mono, "
               f"substr(at, 1, 10) FROM (SELECT {kiosk_name(pg, f'(k.x + {first})')} AS kiosk, {at} AS at, "
               f"1000.0 + r.x * {interval} AS mono FROM {series_sql(pg, n, 'k')}, {series_sql(pg, reports, 'r')}) g")
        with store._store.transaction() as db:
            if pg:
                for d in range(RAW_DAYS + 2):
                    store._ensure_partitions(db, "health_history", [iso(start + d * DAY)[:10]])
            rows += db.conn.execute(sql).rowcount
    return rows


def fill_kiosks(store: CentralStore, kiosks: int, now: float) -> None:
    """The kiosks table as 20,000 kiosks leave it (their latest health), for the pages that read it."""
    text = '{"schema":1,"outbox_backlog":0,"load":0.4,"disk_used_pct":41,"at":{"clock_synced":true}}'
    rows = [(kiosk, site, "online", iso(now), iso(now), text, iso(now), "0.1.0")
            for site, kiosk in kiosk_ids(kiosks)]
    with store._store.transaction() as db:
        store._store.insert_many(db, "kiosks (kiosk, site, state, state_since, last_seen, health, health_at, version)",
                                 rows, "ON CONFLICT (kiosk) DO NOTHING")


def table_sizes(store: CentralStore, pg: bool) -> dict[str, tuple[int, int]]:
    """table → (rows, bytes with its indexes)."""
    out = {}
    for table in ("health_history", "health_minutes", "health_hours"):
        rows = store._store.query_one(f"SELECT count(*) AS n FROM {table}")["n"]
        if pg:
            size = store._store.query_one(  # a partitioned table's size is its partitions'
                "SELECT GREATEST((SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(?)), "
                "pg_total_relation_size(CAST(? AS regclass))) AS b", (table, table))["b"]
        else:
            size = store._store.query_one(
                "SELECT COALESCE(SUM(pgsize), 0) AS b FROM dbstat WHERE name = ? OR name IN "
                "(SELECT name FROM sqlite_schema WHERE tbl_name = ? AND type = 'index')", (table, table))["b"]
        out[table] = (rows, int(size))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--kiosks", type=int, default=20_000)
    p.add_argument("--minute-kiosks", type=int, default=1_000, help="kiosks whose minutes are filled (a subset)")
    p.add_argument("--raw-kiosks", type=int, default=200, help="kiosks whose raw reports are filled (a subset)")
    p.add_argument("--dense-minutes", type=int, default=15,
                   help="the last minutes of raw reports filled for every kiosk (the roll-up's real chunk size)")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between a kiosk's health reports")
    p.add_argument("--records-kiosks", type=int, default=100, help="kiosks with a day of records (numbers pages)")
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    args.minute_kiosks = min(args.minute_kiosks, args.kiosks)
    args.raw_kiosks = min(args.raw_kiosks, args.minute_kiosks)
    tmp = tempfile.TemporaryDirectory(prefix="bench-health-")
    pg_server = None
    if args.store == "postgresql":
        from tests.support.postgres_server import PostgresServer

        pg_server = PostgresServer().start()
        location = pg_server.url(pg_server.create_database())
    else:
        location = Path(tmp.name) / "central.db"
    pg = args.store == "postgresql"
    try:
        print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        now = time.time()
        store = CentralStore(location)
        day_start = now - RAW_DAYS * DAY  # the raw tier's day; minutes and hours before it are "old" rows
        per_minute = round(60 / args.interval)
        t0 = time.perf_counter()
        hour_start = (int(now - HOUR_DAYS * DAY) // 3600) * 3600
        hours = fill_tier(store, pg, "health_hours", args.kiosks, hour_start, int((day_start - hour_start) // 3600),
                          3600, per_minute * 60)
        minute_start = (int(now - MINUTE_DAYS * DAY) // 60) * 60
        minutes = fill_tier(store, pg, "health_minutes", args.minute_kiosks, minute_start,
                            int((day_start - minute_start) // 60), 60, per_minute) if not pg else 0
        if pg:  # partitions first, a day at a time
            for d in range(MINUTE_DAYS + 1):
                with store._store.transaction() as db:
                    store._ensure_partitions(db, "health_minutes", [iso(minute_start + d * DAY)[:10]])
            minutes = fill_tier(store, pg, "health_minutes", args.minute_kiosks, minute_start,
                                int((day_start - minute_start) // 60), 60, per_minute)
        raw_start = (int(day_start) // 3600) * 3600 + 3600  # the hour after: hours before it are complete
        dense_start = ((int(now) - 300 - args.dense_minutes * 60) // 60) * 60
        raw = fill_raw(store, pg, args.raw_kiosks, raw_start, int((dense_start - raw_start) // args.interval),
                       args.interval, "bench-boot-1")
        dense = fill_raw(store, pg, args.kiosks, dense_start, int(args.dense_minutes * 60 // args.interval),
                         args.interval, "bench-boot-2")
        fill_kiosks(store, args.kiosks, now)
        with store._store.transaction() as db:  # what the roll-ups and prunes of the month before left
            db.conn.execute("UPDATE health_tiers SET rolled_until = ? WHERE tier = 'minute'", (iso(raw_start),))
            db.conn.execute("UPDATE health_tiers SET rolled_until = ? WHERE tier = 'hour'", (iso(raw_start),))
            for tier, days in (("raw", RAW_DAYS), ("minute", MINUTE_DAYS), ("hour", HOUR_DAYS)):
                db.conn.execute("UPDATE health_tiers SET kept_from = ? WHERE tier = ?", (iso(now - days * DAY), tier))
        print(f"filled in {time.perf_counter() - t0:.0f} s ({args.store}): hours {hours:,} rows "
              f"({args.kiosks:,} kiosks x {HOUR_DAYS - RAW_DAYS} days, full density); minutes {minutes:,} rows "
              f"(SUBSET: {args.minute_kiosks:,} of {args.kiosks:,} kiosks x {MINUTE_DAYS - RAW_DAYS} days); raw "
              f"{raw:,} rows (SUBSET: {args.raw_kiosks:,} of {args.kiosks:,} kiosks x ~1 day at {args.interval:g} s) "
              f"+ {dense:,} rows (all {args.kiosks:,} kiosks, the last {args.dense_minutes} minutes: full density)")

        for what, at in (("the day's subset", dense_start + 120), ("the full-density minutes", None)):
            t0 = time.perf_counter()
            done = store.roll_up_health(now=at)
            took = time.perf_counter() - t0
            print(f"roll-up of {what}: {done['minute']:,} raw rows into minutes, {done['hour']:,} minute rows "
                  f"into hours in {took:.1f} s: {done['minute'] / took:,.0f} raw rows/s "
                  f"({args.kiosks:,} kiosks at {args.interval:g} s write {args.kiosks / args.interval:,.0f}/s)")

        t0 = time.perf_counter()
        sites = plan_sites(args.records_kiosks)
        people = fill_records(store, sites, args.records_kiosks, 1, 20)
        print(f"records: {people} people of {args.records_kiosks} kiosks, one day, in "
              f"{time.perf_counter() - t0:.0f} s")

        sizes = table_sizes(store, pg)
        full = {"health_history": args.kiosks * (RAW_DAYS + (1 if pg else 0)) * 86400 / args.interval,
                "health_minutes": args.kiosks * (MINUTE_DAYS + (1 if pg else 0)) * 1440,
                "health_hours": args.kiosks * HOUR_DAYS * 24}
        print(f"{'table':16} {'rows':>13} {'MB':>9} {'B/row':>6}   at {args.kiosks:,} kiosks (most held at once)")
        for table, (rows, size) in sizes.items():
            per = size / rows if rows else 0
            print(f"{table:16} {rows:13,} {size / 1e6:9.0f} {per:6.0f} "
                  f"{full[table]:15,.0f} rows {full[table] * per / 1e9:7.1f} GB")

        ops, client = dashboard(store, sites, Path(tmp.name) / "ops.db")
        today = dt.date.fromisoformat(store.today())
        kiosk = kiosk_ids(1)[0][1]
        kiosk_pages = {
            "kiosk, last hour (raw)": f"/kiosk/{kiosk}",
            "kiosk, today (raw)": f"/kiosk/{kiosk}?day={today}",
            "kiosk, 3 days ago (minutes)": f"/kiosk/{kiosk}?day={today - dt.timedelta(days=3)}",
            "kiosk, a week (minutes)": f"/kiosk/{kiosk}?from={today - dt.timedelta(days=5)}&to={today}",
            "kiosk, 20 days ago (hours)": f"/kiosk/{kiosk}?day={today - dt.timedelta(days=20)}",
            "kiosk, the month (hours)": f"/kiosk/{kiosk}?from={today - dt.timedelta(days=29)}&to={today}",
        }
        for name, path in kiosk_pages.items():
            page = client.get(path).get_data(as_text=True)
            shown = next((w for w in ("each report", "per minute", "per hour") if w in page), "?")
            points = re.search(r"\((\d+) điểm", page)
            kiosk_pages[name] = (path, f"{shown}, {points.group(1) if points else '?'} points")
        print(f"{'page':34} {'p50 ms':>7} {'p95 ms':>7} {'cpu p50':>8}  resolution (runs: {args.runs})")
        worst = 0.0
        for name, (path, shown) in kiosk_pages.items():
            p50, p95, cpu = timed(client, path, args.runs)
            worst = max(worst, p95)
            print(f"{name:34} {p50:7.0f} {p95:7.0f} {cpu:8.0f}  {shown}")
        for name, path in numbers_pages(store, sites, 1).items():
            if name.startswith("fleet"):
                name = "fleet / (20,000 kiosks)"
            p50, p95, cpu = timed(client, path, args.runs)
            worst = max(worst, p95)
            print(f"{name:34} {p50:7.0f} {p95:7.0f} {cpu:8.0f}")
        print(f"worst p95: {worst:.0f} ms (goal 300 ms); machine load average after: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        ops.ops_store.close()
        store.close()
    finally:
        if pg_server is not None:
            pg_server.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
