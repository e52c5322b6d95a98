"""The dashboard over real HTTP (waitress on loopback): login, CSRF, session expiry, bearer token, corrections
decided and their outcome delivered to the kiosk's cmd topic, CSV export."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.central.conftest import PASSWORD, ops_dict, wait_for


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


def test_login_csrf_and_pages(ops):
    b = Browser(ops.web_port)
    status, url, _ = b.get("/alerts")
    assert url.endswith("/login?next=/alerts?") or "/login" in url
    assert b.login("wrong password")[0] == 401
    assert b.post("/login", {"name": "ops", "password": PASSWORD})[0] == 400  # no CSRF token
    status, url, body = b.login()
    assert status == 200 and "Thiết bị · Fleet" in body
    for page in ("/", "/alerts", "/numbers", "/numbers?level=province", "/corrections", "/numbers.csv"):
        assert b.get(page)[0] == 200, page
    assert b.post("/alerts/1/ack", {"csrf": "forged"})[0] == 400
    partial = b.get("/?partial=1")[2]
    assert "<html" not in partial and "Fleet" in partial


def test_session_expires(tmp_path, mosquitto):
    from central.ops import OpsService
    from central.ops_config import from_dict

    service = OpsService(from_dict(ops_dict(tmp_path, mosquitto.port, session_minutes=1)))
    service.start()
    try:
        b = Browser(service.web_port)
        b.login()
        assert b.get("/")[1].endswith("/")
        # Age the session's login time past session_minutes by re-signing the cookie as Flask would.
        from central.web import create_app

        app = create_app(service)
        cookie = next(c for c in b.jar if c.name == "vaxkiosk_central")
        serializer = app.session_interface.get_signing_serializer(app)
        data = serializer.loads(cookie.value)
        data["login_at"] = time.time() - 61
        cookie.value = serializer.dumps(data)
        assert "/login" in b.get("/")[1]
    finally:
        service.stop()


def test_api_needs_a_token_off_loopback(tmp_path, mosquitto):
    from central.ops import OpsService
    from central.ops_config import from_dict

    # Listening on every address (0.0.0.0) still answers on loopback: the rule depends on the listener, not the caller.
    service = OpsService(from_dict(ops_dict(tmp_path, mosquitto.port, host="0.0.0.0", api_token="s3cret-token")))
    service.start()
    try:
        b = Browser(service.web_port)
        for path in ("/api/fleet", "/api/sites", "/metrics"):
            assert b.get(path)[0] == 401, path
            assert b.get(path, {"Authorization": "Bearer wrong"})[0] == 401, path
            assert b.get(path, {"Authorization": "Bearer s3cret-token"})[0] == 200, path
        assert json.loads(b.get("/api/sites", {"Authorization": "Bearer s3cret-token"})[2])[0]["site"] == "GL-01"
    finally:
        service.stop()


def test_api_open_on_loopback(ops):
    b = Browser(ops.web_port)
    assert b.get("/api/fleet") == (200, b.base + "/api/fleet", "[]\n")
    assert len(json.loads(b.get("/api/sites")[2])) == 3


def test_correction_decided_and_sent_to_the_kiosk(ops, kiosks):
    k = kiosks("GL-01", "gl-corr")
    for i, rid in enumerate(("c" * 32, "d" * 32)):
        k.send("records/corrections", {"schema": 1, "type": "correction", "record_id": rid, "site": "GL-01",
                                       "kiosk": "gl-corr", "id_number": "064195001234", "problem": "missing dose",
                                       "dose": 2}, qos=1)
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM corrections")["n"] == 2, what="2 corrections")
    # One of them received 49 hours ago: overdue.
    with ops.store.transaction() as db:
        db.conn.execute("UPDATE corrections SET received_at = received_at - 49 * 3600 WHERE record_id = ?",
                        ("d" * 32,))
    b = Browser(ops.web_port)
    b.login()
    page = b.get("/corrections")[2]
    assert "QUÁ HẠN · OVERDUE" in page and "0641•••••234" in page and "064195001234" not in page
    csrf = b.csrf("/corrections")
    refused = b.post(f"/corrections/{'c' * 32}", {"csrf": csrf, "state": "rejected", "reason_code": "", "reason": ""})
    assert "Cần ghi lý do" in refused[2]
    b.post(f"/corrections/{'c' * 32}", {"csrf": csrf, "state": "rejected", "reason_code": "blurred_photo",
                                        "reason": ""})
    b.post(f"/corrections/{'d' * 32}", {"csrf": csrf, "state": "approved", "reason_code": "", "reason": ""})
    wait_for(lambda: len(k.commands) == 2, what="outcomes on the cmd topic")
    outcomes = {c["record_id"]: c for c in k.commands}
    assert outcomes["c" * 32]["state"] == "rejected" and outcomes["c" * 32]["reason"] == "Ảnh chụp không rõ"
    assert outcomes["d" * 32] == {**outcomes["d" * 32], "type": "correction_outcome", "state": "approved"}
    rows = {r["record_id"]: r for r in ops.store.query("SELECT * FROM corrections")}
    assert all(r["outcome_sent_at"] and r["decided_by"] == "ops" for r in rows.values())


@pytest.mark.parametrize("level", ["site", "district", "province"])
def test_csv_export(ops, kiosks, level):
    k = kiosks("GL-01", f"gl-csv-{level}")
    k.check_in(1)
    k.publish_outbox()
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM records_seen")["n"] == 1, what="record")
    b = Browser(ops.web_port)
    b.login()
    status, _, body = b.get(f"/numbers.csv?level={level}&province=064")
    assert status == 200 and body.startswith("\ufeffday,province,province_name")
    lines = body.strip().splitlines()
    assert len(lines) == {"site": 3, "district": 3, "province": 2}[level]
    assert any(",1,0,0," in line for line in lines[1:])
