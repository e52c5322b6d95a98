"""SIGKILL in the middle of a burst of check-ins loses no acknowledged check-in."""

import os
import random
import signal
import subprocess
import sys
import time

from kiosk.store import Store
from tests.conftest import ROOT


def start_burst(config_path, count, start):
    return subprocess.Popen([sys.executable, "-m", "tests.support.burst", str(config_path), str(count), str(start)],
                            stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_kill9_mid_burst_loses_nothing_acknowledged(kiosk_config):
    rng = random.Random(7)
    acknowledged: list[str] = []
    for round_no in range(5):
        proc = start_burst(kiosk_config.source, 100_000, round_no * 100_000)
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + rng.uniform(0.3, 1.2)
        while time.monotonic() < deadline:
            acknowledged.append(proc.stdout.readline().strip().decode())
        proc.send_signal(signal.SIGKILL)
        # Lines already in the pipe were printed after their commit returned: they count as acknowledged too.
        acknowledged += [line.strip().decode() for line in proc.stdout.read().splitlines() if line.strip()]
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) > 50

    store = Store(kiosk_config.db_path)  # a restart: opens, recovers the WAL, migrates
    assert store.integrity_check() == "ok"
    ids = {r["id"] for r in store.query("SELECT id FROM checkins")}
    missing = [a for a in acknowledged if a not in ids]
    assert not missing, f"{len(missing)} acknowledged check-ins lost"
    for table, column in (("outbox", "record_id"), ("print_jobs", "checkin_id"), ("tickets", "checkin_id")):
        orphans = store.query(f"SELECT id FROM checkins WHERE id NOT IN (SELECT {column} FROM {table})")
        assert orphans == [], f"check-ins without {table} entry"
    assert store.query_one("SELECT count(*) AS n FROM checkins")["n"] >= len(acknowledged)
    store.close()
