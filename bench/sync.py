"""Sync figures: backlog drain rate (records/s, each acknowledged by central after its commit) and end-to-end
latency from the commit of a check-in on the kiosk to its commit at central (p50/p99).

Usage: python bench/sync.py [--count 3000] [--live 300] [--rate 20] [--runs 3] [--max-inflight 100]
Everything is real and on loopback: a Mosquitto broker, `vaxkiosk central` and `vaxkiosk kiosk` as processes.
Drain: `count` check-ins are made while the kiosk is stopped, then it starts; the rate is measured from the first
record stored at central to the last acknowledgement recorded in the kiosk's outbox.
Latency: `live` check-ins at `rate` per second while everything runs; per record, central's commit time minus the
kiosk's commit time (same machine, same clock). Medians over `runs` are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central.store import CentralStore  # noqa: E402
from kiosk.checkin import CheckinService  # noqa: E402
from kiosk.config import load  # noqa: E402
from kiosk.identity import parse  # noqa: E402
from kiosk.store import Store  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.sync import KioskProcess, check_in_many, qr, sync_config, wait_for  # noqa: E402


def epoch(wall: str) -> float:
    return dt.datetime.fromisoformat(wall).timestamp()


def start_central(workdir: Path, port: int) -> subprocess.Popen:
    config = workdir / "central.toml"
    config.write_text(f'[central]\ndata_dir = "{workdir / "central"}"\n[mqtt]\nport = {port}\n', encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "kiosk", "central", "--config", str(config), "--log-level",
                             "WARNING"], env={**os.environ, "PYTHONPATH": str(ROOT)})


def one_run(workdir: Path, args) -> dict:
    broker = Mosquitto(workdir / "mosquitto").start()
    central = start_central(workdir, broker.port)
    config = sync_config(workdir, broker.port, max_inflight=args.max_inflight, health_interval=10.0,
                         ack_timeout=30.0)
    check_in_many(config, args.count)
    kiosk = KioskProcess(config)
    store: CentralStore | None = None
    kiosk_store = Store(load(config).db_path)
    try:
        wait_for(lambda: (workdir / "central" / "central.db").exists(), 10, what="central database")
        store = CentralStore(workdir / "central" / "central.db")
        kiosk.start()
        wait_for(lambda: store.record_count() > 0, 30, interval=0.005, what="first record")
        t0 = time.monotonic()
        wait_for(lambda: kiosk_store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"]
                 == 0, 300, interval=0.01, what="backlog drained")
        drain_s = time.monotonic() - t0
        # Live: paced check-ins through the real service (durable commits, as on a kiosk).
        service = CheckinService(kiosk_store, load(config).kiosk)
        live_ids = []
        next_at = time.monotonic()
        for i in range(args.live):
            next_at += 1 / args.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
            live_ids.append(service.check_in(parse(qr(args.count + i)), "camera").checkin["id"])
        wait_for(lambda: store.record_count() == args.count + args.live, 60, what="live records")
        rows = {r["record_id"]: r for r in store.records("checkins", limit=10**7)}
        latencies = sorted(epoch(rows[i]["received"]) - epoch(rows[i]["payload"]["at"]["wall"]) for i in live_ids)
        return {"drain_rate": (args.count - 1) / drain_s,
                "p50_ms": 1000 * latencies[len(latencies) // 2],
                "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}
    finally:
        kiosk.stop()
        central.terminate()
        central.wait(15)
        broker.stop()
        kiosk_store.close()
        if store:
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=3000, help="backlog made offline, drained on reconnection")
    ap.add_argument("--live", type=int, default=300, help="check-ins made while connected, for latency")
    ap.add_argument("--rate", type=float, default=20.0, help="live check-ins per second")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-inflight", type=int, default=100)
    args = ap.parse_args()
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="vaxkiosk-bench-sync-") as tmp:
            results.append(one_run(Path(tmp), args))
        print(f"run {run + 1}: drain {results[-1]['drain_rate']:.0f} records/s, latency p50 "
              f"{results[-1]['p50_ms']:.1f} ms, p99 {results[-1]['p99_ms']:.1f} ms", flush=True)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"median of {args.runs}: backlog of {args.count} drained at {med['drain_rate']:.0f} records/s "
          f"(max_inflight {args.max_inflight}); commit-to-commit latency at {args.rate:g}/s: "
          f"p50 {med['p50_ms']:.1f} ms, p99 {med['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
