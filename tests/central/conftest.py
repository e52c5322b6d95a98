"""Central's fixtures: a real Mosquitto, the operations service (monitor + dashboard on a free loopback port) and
simulated kiosks that use the real kiosk store and services."""

from __future__ import annotations

import time

import pytest
from werkzeug.security import generate_password_hash

from tests.support.fleet_sim import SimKiosk

SITES = [
    {"id": "GL-01", "name": "Trạm Y tế Phường Yên Đỗ", "district": "Pleiku", "province": "064"},
    {"id": "GL-02", "name": "Trạm Y tế Xã Ia Kha", "district": "Ia Grai", "province": "064"},
    {"id": "HN-01", "name": "Trạm Y tế Phường Dịch Vọng", "district": "Cầu Giấy", "province": "001"},
]
PASSWORD = "mật-khẩu-thử-1"
PASSWORD_HASH = generate_password_hash(PASSWORD)


def ops_dict(tmp_path, port: int, **web) -> dict:
    return {
        "ops": {"data_dir": str(tmp_path / "central"), "mqtt_port": port, "mqtt_client_id": f"ops-{time.time_ns()}"},
        "web": {"port": 0, "secret_key": "test-secret", "sse_seconds": 20, **web},
        "alerts": {"lost_after_seconds": 1, "silent_after_seconds": 30, "evaluate_every_seconds": 0.2,
                   "backlog_max": 50, "backlog_age_max_seconds": 600},
        "sites": SITES,
        "users": [{"name": "ops", "password_hash": PASSWORD_HASH}],
    }


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll until `predicate()` is truthy (the system under test is asynchronous); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        time.sleep(0.05)


@pytest.fixture
def ops(tmp_path, mosquitto):
    from central.ops import OpsService
    from central.ops_config import from_dict

    service = OpsService(from_dict(ops_dict(tmp_path, mosquitto.port)))
    service.start()
    wait_for(service.monitor.connected.is_set, what="monitor connected")
    yield service
    service.stop()


@pytest.fixture
def kiosks(tmp_path, mosquitto):
    made: list[SimKiosk] = []

    def make(site: str, kiosk: str) -> SimKiosk:
        k = SimKiosk(site, kiosk, mosquitto.port, tmp_path / "kiosks").connect()
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()
