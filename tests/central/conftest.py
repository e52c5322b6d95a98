"""Central's operations fixtures: `vaxkiosk central` in this process (the aggregator's ingest and store + the
dashboard part, as central.app builds them) against a real Mosquitto, and kiosks that are the real kiosk App with
its real sync part, in this process or as `vaxkiosk kiosk` processes.

`store_location` runs a test once on each of central's stores: SQLite files in the data folder, and a fresh
database of the session's real PostgreSQL (tests/support/postgres.py). Every fixture that builds central's store
takes it, so the tests that touch the store run on both and the others (config, CLI, pure views) once."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from werkzeug.security import generate_password_hash

from tests.support.sync import sync_config, wait_for

SITES = [
    {"id": "GL-01", "name": "Trạm Y tế Phường Yên Đỗ", "district": "Pleiku", "province": "064"},
    {"id": "GL-02", "name": "Trạm Y tế Xã Ia Kha", "district": "Ia Grai", "province": "064"},
    {"id": "HN-01", "name": "Trạm Y tế Phường Dịch Vọng", "district": "Cầu Giấy", "province": "001"},
]
PASSWORD = "mật-khẩu-thử-1"
PASSWORD_HASH = generate_password_hash(PASSWORD)
KIOSK_MQTT = {"keepalive": 2, "health_interval": 0.5, "queue_interval": 0.2, "ack_timeout": 3.0}

__all__ = ["wait_for"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where central keeps its tables in this test: central.db's path, or a postgresql:// URL."""
    if request.param == "sqlite":
        return tmp_path / "central" / "central.db"
    return request.getfixturevalue("postgres_url")


def central_dict(tmp_path, port: int, store=None, **web) -> dict:
    """central.toml for a test; `store`: a store_location (a URL becomes [store] url; a path is the default)."""
    return {
        "central": {"data_dir": str(tmp_path / "central")},
        **({"store": {"url": store}} if isinstance(store, str) else {}),
        "mqtt": {"port": port, "keepalive": 5},
        "web": {"port": 0, "secret_key": "test-secret", "sse_seconds": 20, **web},
        "alerts": {"lost_after_seconds": 1, "silent_after_seconds": 30, "evaluate_every_seconds": 0.2,
                   "backlog_max": 50, "backlog_age_max_seconds": 600},
        "sites": SITES,
        "users": [{"name": "ops", "password_hash": PASSWORD_HASH}],
    }


def start_central(tmp_path, port: int, store=None, sections: dict | None = None, **web):
    """`store`: a store_location (central_dict); `sections`: more TOML tables for central.toml ([alert_sms], ...)."""
    from central.app import CentralApp
    from central.config import from_dict

    app = CentralApp(from_dict({**central_dict(tmp_path, port, store, **web), **(sections or {})}))
    app.start()
    try:
        ingest = next(p for p in app.parts if p.name == "ingest")
        wait_for(ingest.connected.is_set, 10, what="ingest connected")
    except BaseException:
        # No caller gets an app to stop: its alert ticker would keep running into later tests (and, logging
        # tracebacks every 0.2 s, hit CPython 3.11's ast.parse race in tests/test_layers.py).
        app.stop()
        raise
    return app


@pytest.fixture(autouse=True)
def synchronised_clock(monkeypatch):
    # This machine's kernel clock may not say "NTP synchronised"; a kiosk in the field normally is. Tests that are
    # about an unsynchronised clock set VAXKIOSK_CLOCK_SYNCED=0 for their kiosk.
    monkeypatch.setenv("VAXKIOSK_CLOCK_SYNCED", "1")


@pytest.fixture
def central_app(tmp_path, mosquitto, store_location):
    app = start_central(tmp_path, mosquitto.port, store_location)
    yield app
    app.stop()


class Central:
    """The running central seen from outside: its HTTP API and its stores."""

    def __init__(self, app):
        self.app = app
        self.ops = next(p for p in app.parts if p.name == "web")
        self.port = self.ops.web_port
        self.store = app.store

    def get_json(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def get_text(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.read().decode("utf-8")

    def states(self) -> dict[str, str]:
        return {k["kiosk"]: k["state"] for k in self.get_json("/api/fleet")}

    def active_alerts(self) -> set[tuple[str, str]]:
        return {(a["kiosk"], a["code"]) for a in
                self.ops.ops_store.query("SELECT * FROM alerts WHERE cleared_at IS NULL")}


@pytest.fixture
def central(central_app):
    return Central(central_app)


class EdgeStatus:
    """The health() of the kiosk's printer or camera part as it reports its device (kiosk.printing.worker,
    kiosk.scanning.readers): the physical device's state, set by the test — no printer or camera exists on this machine."""

    def __init__(self, name: str, **status):
        self.name = name
        self.status = status

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> dict:
        if self.name == "printer":  # PrinterWorker.health(): the decoded DLE EOT status under "status"
            s = {"known": True, "online": True, "paper": "ok", "cover_open": False, **self.status}
            return {"ok": s["online"] and s["paper"] != "out", "state": "ok", "status": s, "last_error": None}
        return {"capturing": True, "fps": 15.0, "last_frame_age_s": 0.05, "ok": True, **self.status}


@pytest.fixture
def kiosk_apps(tmp_path, mosquitto):
    """make(site, kiosk, *edge_parts) → a started kiosk App (real store, real sync part) in this process."""
    from kiosk.app import App
    from kiosk.config import load

    apps = []

    def make(site: str, kiosk: str, *edge: EdgeStatus):
        app = App(load(sync_config(tmp_path / "kiosks", mosquitto.port, kiosk=kiosk, site=site, **KIOSK_MQTT)))
        app.parts.extend(edge)
        app.start()
        wait_for(lambda: app.part("sync").connected.is_set(), 10, what=f"{kiosk} connected")
        apps.append(app)
        return app

    yield make
    for app in apps:
        if not app.stopping.is_set():
            app.stop()


def stop_kiosk(app) -> None:
    app.stopping.set()
    app.stop()


def outbox_empty(app) -> bool:
    return app.store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"] == 0


def vaccinate(app, checkin_id: str) -> None:
    from kiosk.vaccination import Injection, VaccinationService

    service = VaccinationService(app.store, app.config.kiosk)
    app.checkins.transition(checkin_id, "called", "doctor", desk="1")
    service.record_screening(checkin_id, "eligible", "doctor")
    service.record_injection(checkin_id, Injection("comirnaty", "FK1234", 1, "Y tá Lan"), "nurse")


def qr(n: int) -> str:
    # Gia Lai (064), a woman born 1995, a unique five-digit tail.
    return f"0641950{n:05d}||Trần Thị Thử|12081995|Nữ|Pleiku, Gia Lai|03062021"


def check_in(app, n: int) -> str:
    from kiosk.identity import parse

    return app.checkins.check_in(parse(qr(n)), "camera").checkin["id"]


def now() -> float:
    return time.time()


def run_plan(kiosk_apps, plan: dict) -> dict:
    """{(site, kiosk): (check-ins, vaccinated)} → kiosk id → its started App, once every record is acknowledged."""
    apps, n = {}, 0
    for (site, kid), (checkins, vaccinated) in plan.items():
        app = kiosk_apps(site, kid)
        ids = []
        for _ in range(checkins):
            n += 1
            ids.append(check_in(app, n))
        for cid in ids[:vaccinated]:
            vaccinate(app, cid)
        apps[kid] = app
    wait_for(lambda: all(outbox_empty(a) for a in apps.values()), 30, what="every outbox acknowledged")
    return apps
