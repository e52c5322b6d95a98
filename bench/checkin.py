"""Check-ins per second and commit latency on a real SQLite file in durable mode (WAL, synchronous=FULL).

Usage: python bench/checkin.py [--count 10000] [--dir DIR]
Each check-in is the full transaction the kiosk makes: duplicate look-up, ticket number, record, state change,
outbox entry and print job.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.checkin import CheckinService  # noqa: E402
from kiosk.config import from_dict  # noqa: E402
from kiosk.identity import parse  # noqa: E402
from kiosk.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--dir", help="where to put the database (default: a temporary folder)")
    args = ap.parse_args()
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="vaxkiosk-bench-"))
    config = from_dict({"kiosk": {"site_id": "BENCH", "kiosk_id": "k1", "data_dir": str(workdir),
                                  "min_free_mb": 1}})
    store = Store(config.db_path)
    service = CheckinService(store, config.kiosk)
    identities = [parse(f"001090{i:06d}||Nguyễn Văn Thử|01011990|Nam|Hà Nội|01012021") for i in range(args.count)]
    latencies = []
    start = time.perf_counter()
    for n, identity in enumerate(identities, 1):
        t0 = time.perf_counter()
        service.check_in(identity, "camera")
        latencies.append((time.perf_counter() - t0) * 1000)
        if n % 2000 == 0:
            print(f"  {n}/{args.count} check-ins", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"checkins: {args.count} in {elapsed:.1f} s = {args.count / elapsed:.0f} check-ins/s (durable)")
    print(f"commit latency: p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
    print(f"database: {store.size_bytes() / 1e6:.1f} MB, integrity {store.integrity_check()}")
    store.close()


if __name__ == "__main__":
    main()
