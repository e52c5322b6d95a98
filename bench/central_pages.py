"""Page time of central's numbers pages on a month of data from 500 kiosks.

Usage: python bench/central_pages.py [--store PATH] [--kiosks 500] [--days 30] [--people 30] [--runs 20] [--refill]

Fills central's store through its own write path (CentralStore.apply, the batches the ingest commits) with records
built as kiosks build them (base.records, validated by base.protocol): per kiosk and day `people` check-ins, each
called at a desk, vaccinated, its ticket and certificate printed, one certificate in twenty reprinted; plus one
health report per kiosk. Two kiosks per site, sites spread over districts and provinces. The last day is today (the
store's local day), so the default pages show data. A filled store is reused when its size matches (--refill to
start again). Then logs in to the real dashboard app (central.web, in this process, through Flask's WSGI client:
no network in the figure) and prints p50/p95 milliseconds per page over `runs` requests, and the median CPU time
of those requests (on a loaded machine the wall time also holds the wait for a core).

`--store` is the SQLite file (default: a temporary directory's central.db).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.protocol import validate  # noqa: E402
from base.provinces import provinces  # noqa: E402
from base.records import Stamp, record  # noqa: E402
from central.ops import OpsService  # noqa: E402
from central.ops_config import from_dict  # noqa: E402
from central.store import CentralStore, Inbound  # noqa: E402

PASSWORD = "bench-password"
BATCH = 5000


def plan_sites(kiosks: int) -> list[dict]:
    codes = list(provinces())
    sites = []
    for i in range((kiosks + 1) // 2):
        province = codes[i % 12]  # 12 provinces, each with several districts and many sites
        sites.append({"id": f"S{i:03d}", "name": f"Trạm Y tế {i:03d}", "district": f"Huyện {province}-{i % 7}",
                      "province": province})
    return sites


def stamp(t: dt.datetime, mono: float, boot: str) -> Stamp:
    return Stamp(t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"), mono, boot, True)


def inbound(stream: str, rid: str, site: str, kiosk: str, at: Stamp, **fields) -> Inbound:
    return Inbound(site, kiosk, "records", validate("record", record(stream, rid, site, kiosk, at, **fields), stream),
                   stream)


def fill(store: CentralStore, sites: list[dict], kiosks: int, days: int, people: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    today = dt.date.fromisoformat(store.today())
    total, batch = 0, []
    kiosk_ids = [(sites[k // 2]["id"], f"{sites[k // 2]['id']}-k{k % 2 + 1:02d}") for k in range(kiosks)]
    for d in range(days):
        day = today - dt.timedelta(days=days - 1 - d)
        for site, kiosk in kiosk_ids:
            boot = f"{kiosk}-{day}"
            opening = dt.datetime.combine(day, dt.time(7, 30), store.tz)
            for n in range(people):
                t = opening + dt.timedelta(seconds=n * 9 * 3600 / people + rng.uniform(0, 300))  # a 9-hour day
                mono = (t - opening).total_seconds() + 100.0
                cid = f"{kiosk}-{day:%Y%m%d}-{n:03d}".lower().replace("_", "-")
                wait = rng.lognormvariate(6.0, 0.6)  # a few minutes, a long tail
                called = stamp(t + dt.timedelta(seconds=wait), mono + wait, boot)
                dose_at = t + dt.timedelta(seconds=wait + 300)
                person = {"id_number": f"0641950{total % 100000:05d}", "full_name": "Thử", "dob": "1995-08-12",
                          "sex": "Nữ"}
                batch += [
                    inbound("checkins", cid, site, kiosk, stamp(t, mono, boot), day=day.isoformat(), ticket=n + 1,
                            scan_kind="qr", source="camera"),
                    inbound("print_events", f"{cid}-pt", site, kiosk, stamp(t, mono + 5, boot), kind="ticket",
                            state="done", checkin_id=cid, copy=0),
                    inbound("vaccinations", f"{cid}-v", site, kiosk, stamp(dose_at, mono + wait + 300, boot),
                            checkin_id=cid, person=person, dose_number=1 + n % 3,
                            vaccine={"code": ("comirnaty", "vaxzevria")[n % 2]}, lot=f"L{n % 4}",
                            uvci=f"URN:UVCI:01:VN:{cid}", called=called.to_json(), desk=str(1 + n % 2)),
                    inbound("print_events", f"{cid}-pc", site, kiosk, stamp(dose_at, mono + wait + 2100, boot),
                            kind="certificate", state="done", checkin_id=cid, copy=0),
                ]
                if n % 20 == 7:
                    batch.append(inbound("print_events", f"{cid}-pc1", site, kiosk,
                                         stamp(dose_at, mono + wait + 2400, boot), kind="certificate", state="done",
                                         checkin_id=cid, copy=1))
                total += 1
                if len(batch) >= BATCH:
                    store.apply(batch)
                    batch = []
        print(f"  filled {day} ({total} people)", flush=True)
    store.apply(batch + [health(site, kiosk) for site, kiosk in kiosk_ids])
    return total


def health(site: str, kiosk: str) -> Inbound:
    now = dt.datetime.now(dt.timezone.utc)
    return Inbound(site, kiosk, "health", {
        "schema": 1, "site": site, "kiosk": kiosk, "at": stamp(now, 1.0, f"{kiosk}-now").to_json(), "uptime_s": 5,
        "load": 0.1, "disk_free_mb": 1000, "disk_used_pct": 40, "db_bytes": 4096, "outbox_backlog": 0,
        "version": "0.1.0", "config_rev": "bench", "parts": {}, "camera": {"fps": 12.5},
        "printer": {"state": "ok", "status": {"known": True, "online": True, "paper": "ok"}}})


class NoBroker:
    """The dashboard's command publisher is not part of a page's time."""
    connected = threading.Event()


def dashboard(store: CentralStore, sites: list[dict], data_dir: Path):
    from werkzeug.security import generate_password_hash

    config = from_dict({"web": {"secret_key": "bench"}, "sites": sites,
                        "users": [{"name": "ops", "password_hash": generate_password_hash(PASSWORD)}]})
    ops = OpsService(config, store, NoBroker(), data_dir / "ops.db")
    for s in config.sites:
        store.upsert_site(s.id, s.name, s.district, s.province)
    from central.web import create_app

    client = create_app(ops).test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf": csrf, "name": "ops", "password": PASSWORD}).status_code == 302
    return ops, client


def pages(store: CentralStore, sites: list[dict], days: int) -> dict[str, str]:
    today = dt.date.fromisoformat(store.today())
    start = (today - dt.timedelta(days=days - 1)).isoformat()
    province, district = sites[0]["province"], sites[0]["district"]
    return {
        "fleet /": "/",
        "numbers today (sites)": "/numbers",
        "numbers today (provinces)": "/numbers?level=province",
        "numbers district drill-down": f"/numbers?level=site&province={province}&district={district}",
        "numbers a past day": f"/numbers?day={(today - dt.timedelta(days=3)).isoformat()}&level=district",
        "numbers month (provinces)": f"/numbers?level=province&from={start}&to={today}",
        "numbers.csv today (sites)": "/numbers.csv?level=site",
        "GET /api/sites": "/api/sites",
        "GET /api/numbers month": f"/api/numbers?level=province&from={start}&to={today}",
    }


def timed(client, path: str, runs: int) -> tuple[float, float, float]:
    """p50 and p95 wall milliseconds of `runs` GETs of `path`, and the median CPU milliseconds of this process (on a
    shared machine the wall time includes waiting for a core)."""
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get(path)
        body = resp.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert resp.status_code == 200 and body, (path, resp.status_code)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], \
        statistics.median(cpu)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", type=Path, help="central.db to fill or reuse (default: a temporary one)")
    p.add_argument("--kiosks", type=int, default=500)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--people", type=int, default=30, help="check-ins per kiosk and day")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--refill", action="store_true")
    args = p.parse_args()
    tmp = None
    if args.store is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-central-pages-")
        args.store = Path(tmp.name) / "central.db"
    store = CentralStore(args.store)
    sites = plan_sites(args.kiosks)
    want = args.kiosks * args.days * args.people
    have = store.record_count("checkins")
    if have != want or args.refill:
        if have:
            sys.exit(f"{args.store} holds {have} check-ins, not {want}: use another --store (or a fresh one)")
        t0 = time.perf_counter()
        people = fill(store, sites, args.kiosks, args.days, args.people)
        print(f"filled {people} people, {store.record_count()} records in {time.perf_counter() - t0:.0f} s")
    print(f"store: {args.store} ({args.store.stat().st_size / 1e6:.0f} MB), {args.kiosks} kiosks, "
          f"{len(sites)} sites, {args.days} days, {store.record_count()} records")
    ops, client = dashboard(store, sites, args.store.parent / "ops.db")
    # CPU time of this process beside the wall time: on a shared machine the wall time includes waiting for a core.
    print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8}  (runs: {args.runs})")
    worst = 0.0
    for name, path in pages(store, sites, args.days).items():
        p50, p95, cpu = timed(client, path, args.runs)
        worst = max(worst, p95)
        print(f"{name:32} {p50:8.0f} {p95:8.0f} {cpu:8.0f}")
    print(f"worst p95: {worst:.0f} ms (goal 300 ms)")
    ops.ops_store.close()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
