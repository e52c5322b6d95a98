"""The fleet simulator (bench/fleet.py, bench/fleetsim/kiosks.py, bench/fleetsim/mqtt_client.py, bench/fleetsim/brokers.py) against
the real parts: Mosquitto configured as central configures it, `vaxkiosk central`, its SQLite store. A simulator
whose kiosks dropped records, or did not resend what central never acknowledged, or whose Will never reached central,
would print figures about a fleet that does not behave like the real one."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.fleet import write_config
from bench.fleetsim.brokers import start_brokers
from bench.fleetsim.kiosks import KIOSKS_PER_SITE, Generator, Plan
from central import broker
from tests.support.net import free_port
from tests.support.process import ROOT, Proc
from tests.support.sync import wait_for

pytestmark = pytest.mark.slow

SECRET = "fleet-simulator-test"
CONTRACT = ("kiosks", "connected", "aggregators", "store", "published", "committed", "lost", "duplicates",
            "lag_p50_ms", "lag_p99_ms", "central_cores", "broker_cores")


class Fleet:
    """Brokers, a generator's event loop in a thread (its kiosks are driven from the test through `do`), and a
    `vaxkiosk central` process (not started: `central.start()`)."""

    def __init__(self, tmp: Path, indices: list[int], regions: int = 0, ack_timeout: float = 30):
        self.password = broker.new_password()
        self.brokers = start_brokers(max(indices) + 1, regions, SECRET, self.password)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        plan = Plan(indices=indices, host="127.0.0.1", ports=self.brokers.kiosk_ports,
                    sources=["127.0.2.1", "127.0.2.2"], secret=SECRET, warmup=0, duration=0,
                    ack_timeout=ack_timeout, keepalive=5)
        self.gen: Generator = self.do(lambda: Generator(plan))
        self.kiosks = {k.kiosk: k for k in self.gen.kiosks}
        conf = tmp / "central.toml"
        write_config(conf, tmp / "central", self.brokers.central_port, self.password, free_port(),
                     max(indices) // KIOSKS_PER_SITE + 1, None)
        self.db = tmp / "central" / "central.db"
        self.central = Proc(["central", "--config", str(conf), "--log-level", "INFO"], tmp / "central.log")

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def do(self, fn):
        """Run fn() on the generator's event loop (kiosks are not thread-safe) and return its result."""
        async def inside():
            return fn()
        return self.call(inside())

    def query(self, sql: str, *params) -> list[tuple]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []
        finally:
            conn.close()

    def state(self, kiosk: str) -> str | None:
        rows = self.query("SELECT state FROM kiosks WHERE kiosk = ?", kiosk)
        return rows[0][0] if rows else None

    def stored(self) -> set[str]:
        return {r[0] for r in self.query("SELECT record_id FROM records")}

    def close(self) -> None:
        self.do(lambda: setattr(self.gen, "stopping", True))
        for task in self.do(lambda: [t for t in asyncio.all_tasks(self.loop)]):
            self.loop.call_soon_threadsafe(task.cancel)
        self.do(lambda: [k.stop() for k in self.gen.kiosks])
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.central.stop()
        self.brokers.stop()


@pytest.fixture
def make_fleet(tmp_path):
    fleets: list[Fleet] = []

    def make(*args, **kwargs) -> Fleet:
        fleets.append(Fleet(tmp_path, *args, **kwargs))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.close()


def test_records_central_never_acknowledged_are_resent_until_it_has_them(make_fleet):
    fleet = make_fleet(list(range(4)), ack_timeout=1)
    fleet.call(fleet.gen.connect_all())
    # No aggregator is subscribed yet: the broker drops the records, only the kiosks' outboxes have them.
    created = fleet.do(lambda: [k.record(s) for k in fleet.gen.kiosks for s in ("checkins", "vaccinations")])
    fleet.do(lambda: fleet.loop.create_task(fleet.gen.keepalive()))
    wait_for(lambda: fleet.gen.resent >= len(created), 20, what="every record resent at least once")
    assert not fleet.stored() and len(fleet.gen.acked_ids) == 0

    fleet.central.start()
    wait_for(lambda: not any(k.records for k in fleet.gen.kiosks), 60, what="every record acknowledged")
    fleet.central.stop()
    assert set(fleet.gen.acked_ids) == set(created) == fleet.stored()
    assert fleet.query("SELECT reason, count FROM rejects") == []


@pytest.mark.parametrize("regions", [0, 2], ids=["one broker", "regional brokers bridged"])
def test_a_cut_link_is_lost_at_central_and_its_backlog_drains_when_it_is_back(make_fleet, regions):
    # Kiosks of two sites: with two regions, one site on each regional broker.
    fleet = make_fleet([0, 1, 5, 6], regions=regions)
    fleet.central.start()
    fleet.call(fleet.gen.connect_all())
    wait_for(lambda: all(fleet.state(k) == "online" for k in fleet.kiosks), 30, what="every kiosk online")
    for name in ("k00000", "k00005"):
        kiosk = fleet.kiosks[name]
        fleet.do(kiosk.cut_link)
        wait_for(lambda: fleet.state(name) == "lost", 30, what=f"{name}'s Last Will at central")
        backlog = fleet.do(lambda: [kiosk.record("vaccinations") for _ in range(10)])
        assert fleet.do(lambda: len(kiosk.unacked)) == 0  # kept in the outbox while the link is down
        fleet.do(lambda: setattr(kiosk, "cut", False))
        assert fleet.call(kiosk.connect())
        wait_for(lambda: fleet.state(name) == "online" and not kiosk.records, 30, what=f"{name} back and drained")
        assert set(backlog) <= fleet.stored()
    assert fleet.gen.disconnects == 0  # a planned cut is not counted as a broker dropping the kiosk
    assert fleet.query("SELECT reason, count FROM rejects") == []


def run_bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_bench_prints_one_json_line_with_the_contract(tmp_path):
    proc = run_bench("--kiosks", "40", "--duration", "4", "--warmup", "1", "--aggregators", "1", "--store",
                     "sqlite", "--checkins-per-hour", "900", "--burst", "4", "--burst-records", "50", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    r = json.loads(lines[0])
    assert set(CONTRACT) <= set(r)
    assert (r["kiosks"], r["connected"], r["aggregators"], r["store"]) == (40, 40, 1, "sqlite")
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["rejects"] == {}
    # 40 kiosks at 900 check-ins an hour (2.75 records each) and the burst's 200: every one acknowledged.
    assert r["records_unacked"] == 0 and r["records_acked"] >= 200 + 40
    assert r["burst_records"] == 200 and r["burst_unacked"] == 0 and r["burst_drain_s"] is not None
    assert r["published"] > 0 and r["committed"] > 0 and r["lag_p99_ms"] is not None
    assert r["kiosk_states"] == {"offline": 40}  # each said goodbye at the end


def test_the_bench_on_postgresql_with_two_aggregators_loses_and_duplicates_nothing():
    proc = run_bench("--kiosks", "40", "--duration", "4", "--warmup", "1", "--aggregators", "2", "--store",
                     "postgresql", "--checkins-per-hour", "900", "--burst", "4", "--burst-records", "50", "--json")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    r = json.loads(line)
    assert (r["kiosks"], r["connected"], r["aggregators"], r["store"]) == (40, 40, 2, "postgresql")
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["rejects"] == {}
    assert r["records_unacked"] == 0 and r["records_acked"] >= 200 + 40
    assert r["burst_records"] == 200 and r["burst_unacked"] == 0 and r["burst_drain_s"] is not None
    assert r["committed"] > 0 and r["store_cores"] is not None
