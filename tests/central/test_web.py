"""The dashboard over real HTTP (waitress on loopback, inside `vaxkiosk central`): login, CSRF, session expiry,
bearer token, corrections decided and their outcome delivered to the kiosk (its real sync part), CSV export."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import queue
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from base.privacy import mask_id
from tests.central.conftest import PASSWORD, check_in, outbox_empty, start_central, wait_for


class Browser:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str, str]:
        try:
            with self.opener.open(urllib.request.Request(self.base + path, headers=headers or {}), timeout=10) as r:
                return r.status, r.url, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode("utf-8")

    def post(self, path: str, form: dict) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=10) as r:
                return r.status, r.url, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode("utf-8")

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path)[2]).group(1)

    def login(self, password: str = PASSWORD) -> tuple[int, str, str]:
        return self.post("/login", {"csrf": self.csrf("/login"), "name": "ops", "password": password})


def test_login_csrf_and_pages(central):
    b = Browser(central.port)
    _, url, _ = b.get("/alerts")
    assert "/login" in url
    assert b.login("wrong password")[0] == 401
    assert b.post("/login", {"name": "ops", "password": PASSWORD})[0] == 400  # no CSRF token
    status, url, body = b.login()
    assert status == 200 and "Thiết bị · Fleet" in body
    for page in ("/", "/alerts", "/numbers", "/numbers?level=province", "/corrections", "/numbers.csv"):
        assert b.get(page)[0] == 200, page
    assert b.post("/alerts/1/ack", {"csrf": "forged"})[0] == 400
    partial = b.get("/?partial=1")[2]
    assert "<html" not in partial and "Fleet" in partial


def test_password_guessing_is_slowed_down(central):
    b = Browser(central.port)
    for _ in range(5):
        assert b.login("guess")[0] == 401
    status, _, body = b.login()  # even the right password waits out the window
    assert status == 429 and "Too many failed attempts" in body
    other = Browser(central.port)
    assert other.post("/login", {"csrf": other.csrf("/login"), "name": "someone-else", "password": "x"})[0] == 401


def test_session_expires(tmp_path, mosquitto):
    app = start_central(tmp_path, mosquitto.port, session_minutes=1)
    try:
        ops = next(p for p in app.parts if p.name == "web")
        b = Browser(ops.web_port)
        b.login()
        assert b.get("/")[1].endswith("/")
        # Age the session's login time past session_minutes by re-signing the cookie as Flask would.
        from central.web import create_app

        flask_app = create_app(ops)
        cookie = next(c for c in b.jar if c.name == "vaxkiosk_central")
        serializer = flask_app.session_interface.get_signing_serializer(flask_app)
        data = serializer.loads(cookie.value)
        data["login_at"] = time.time() - 61
        cookie.value = serializer.dumps(data)
        assert "/login" in b.get("/")[1]
    finally:
        app.stop()


def test_api_needs_a_token_off_loopback(tmp_path, mosquitto):
    # Listening on every address (0.0.0.0): the rule depends on the listener, not on who asks.
    app = start_central(tmp_path, mosquitto.port, host="0.0.0.0", api_token="s3cret-token")
    try:
        b = Browser(next(p for p in app.parts if p.name == "web").web_port)
        for path in ("/api/fleet", "/api/sites", "/metrics",
                     "/fhir/R4/metadata", "/fhir/R4/Immunization?date=2026-12-01"):
            assert b.get(path)[0] == 401, path
            assert b.get(path, {"Authorization": "Bearer wrong"})[0] == 401, path
            assert b.get(path, {"Authorization": "Bearer s3cret-token"})[0] == 200, path
        assert json.loads(b.get("/api/sites", {"Authorization": "Bearer s3cret-token"})[2])[0]["site"] == "GL-01"
    finally:
        app.stop()


def test_api_open_on_loopback(central):
    b = Browser(central.port)
    assert b.get("/api/fleet") == (200, b.base + "/api/fleet", "[]\n")
    assert [r["site"] for r in json.loads(b.get("/api/sites")[2])] == ["GL-01", "GL-02", "HN-01"]


def file_correction(app, checkin_id: str, kind: str, reason: str, claim: dict | None = None, dose: str | None = None,
                    row: bool = False):
    """A citizen's correction filed at the kiosk (kiosk.corrections, as the citizen screen does): its record goes to
    the outbox in the same transaction and the real sync part sends it."""
    from kiosk.corrections import Corrections

    person = app.checkins.get(checkin_id)
    if kind == "missing_dose" and claim is None:  # what the citizen says happened: dose 2, yesterday, elsewhere
        day = (app.clock.now().astimezone(app.clock.tz).date() - dt.timedelta(days=1)).isoformat()
        claim = {"day": day, "dose_number": 2, "vaccine": "spikevax", "place": "Bệnh viện <b>Pleiku</b>"}
    filed = Corrections(app.store, app.config.kiosk).file(person["id_number"], kind, reason, dose, claim)
    return filed if row else filed["id"]


def test_correction_decided_and_sent_to_the_kiosk(central, kiosk_apps):
    app = kiosk_apps("GL-01", "gl-corr")
    commands = app.events.subscribe()
    cid = check_in(app, 1)
    blurred = file_correction(app, cid, "missing_dose", "dose 2 missing")
    late = file_correction(app, cid, "wrong_dose", "wrong vaccine on dose 1")
    wait_for(lambda: outbox_empty(app), 15, what="corrections delivered")
    wait_for(lambda: central.store.record_count("corrections") == 2, 10, what="2 corrections stored")
    b = Browser(central.port)
    b.login()
    page = b.get("/corrections")[2]
    id_number = app.checkins.get(cid)["id_number"]
    assert mask_id(id_number) in page and id_number not in page and "OVERDUE" not in page
    csrf = b.csrf("/corrections")
    refused = b.post(f"/corrections/{blurred}", {"csrf": csrf, "state": "rejected", "reason_code": "", "reason": ""})
    assert "Cần ghi lý do" in refused[2]
    b.post(f"/corrections/{blurred}", {"csrf": csrf, "state": "rejected", "reason_code": "blurred_photo",
                                       "reason": ""})
    b.post(f"/corrections/{late}", {"csrf": csrf, "state": "deferred", "reason_code": "other",
                                    "reason": "chờ xác minh"})
    outcomes = {}

    def arrived():
        while True:
            try:
                ev = commands.get_nowait()
            except queue.Empty:
                return len(outcomes) == 2
            if ev.type == "central_command" and ev.data["command"] == "correction_outcome":
                outcomes[ev.data["args"]["record_id"]] = ev.data["args"]

    wait_for(arrived, 15, what="both outcomes at the kiosk")
    assert outcomes[blurred]["state"] == "rejected" and outcomes[blurred]["reason"] == "Ảnh chụp không rõ"
    assert outcomes[late]["state"] == "deferred" and outcomes[late]["reason"] == "chờ xác minh"
    # The kiosk keeps central's decision with its correction (the staff desk shows it).
    kept = {r["id"]: r for r in app.store.query("SELECT id, outcome_state, outcome_reason FROM corrections")}
    assert kept[blurred]["outcome_state"] == "rejected" and kept[late]["outcome_reason"] == "chờ xác minh"
    rows = {r["record_id"]: r for r in central.ops.ops_store.query("SELECT * FROM correction_decisions")}
    assert all(r["outcome_sent_at"] and r["decided_by"] == "ops" for r in rows.values())
    # A deferred correction stays open: decided again later; a rejected one is closed.
    assert "already decided" in b.post(f"/corrections/{blurred}", {"csrf": csrf, "state": "approved"})[2]
    b.post(f"/corrections/{late}", {"csrf": csrf, "state": "approved"})
    wait_for(lambda: central.ops.ops_store.query_one(
        "SELECT state, outcome_sent_at FROM correction_decisions WHERE record_id = ?", (late,)) ==
        {"state": "approved", "outcome_sent_at": pytest.approx(time.time(), abs=30)}, 10, what="approved, sent")


def test_overdue_correction_is_highlighted(central, kiosk_apps):
    from central.corrections import listing

    app = kiosk_apps("GL-02", "gl-late")
    file_correction(app, check_in(app, 2), "wrong_dose", "name without diacritics")
    wait_for(lambda: central.store.record_count("corrections") == 1, 15, what="correction stored")
    rows = listing(central.store, central.ops.ops_store, time.time() + 49 * 3600)  # seen two days later
    assert rows[0]["overdue"] and rows[0]["remaining_s"] < 0
    assert not listing(central.store, central.ops.ops_store, time.time() + 47 * 3600)[0]["overdue"]


@pytest.mark.parametrize("level", ["site", "district", "province"])
def test_csv_export(central, kiosk_apps, level):
    app = kiosk_apps("GL-01", f"gl-csv-{level}")
    check_in(app, 1)
    wait_for(lambda: central.store.record_count("checkins") == 1, 15, what="record stored")
    b = Browser(central.port)
    b.login()
    status, _, body = b.get(f"/numbers.csv?level={level}&province=064")
    assert status == 200 and body.startswith("\ufeffday,province,province_name")
    lines = body.strip().splitlines()
    assert len(lines) == {"site": 3, "district": 3, "province": 2}[level]
    assert any(",1,0,0," in line for line in lines[1:])
