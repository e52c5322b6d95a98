"""Central with [registry]: the dashboard makes set-up codes (text + QR), and serves the device endpoints
(enrolment, trust list) on its port without login or CSRF, as a provisioning kiosk needs."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from central.app import CentralApp
from central.config import from_dict
from tests.central.conftest import central_dict
from tests.central.test_web import Browser
from tests.support.sync import wait_for


def start_with_registry(tmp_path, mosquitto, **extra) -> CentralApp:
    data = central_dict(tmp_path, mosquitto.port)
    data["registry"] = {"broker_dir": str(tmp_path / "broker"), "broker_pid_file": "",
                        "broker_host": "127.0.0.1", "broker_port": mosquitto.port}
    data["mqtt"]["password"] = "central-secret"
    data["users"] += extra.get("users", [])
    app = CentralApp(from_dict(data))
    app.start()
    wait_for(lambda: next(p for p in app.parts if p.name == "ingest").connected.is_set(), 10, what="ingest")
    return app


@pytest.fixture
def central_with_registry(tmp_path, mosquitto):
    app = start_with_registry(tmp_path, mosquitto)
    yield app
    app.stop()


def post_json(port: int, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_setup_code_page_then_a_device_enrols_on_the_dashboard_port(central_with_registry):
    ops = next(p for p in central_with_registry.parts if p.name == "web")
    b = Browser(ops.web_port)
    assert b.login()[0] == 200
    status, _, page = b.post("/setup-codes", {"csrf": b.csrf("/setup-codes"), "site": "GL-01"})
    assert status == 200 and "<svg" in page
    code = re.search(r'id="setup-code">([A-Z0-9-]+)<', page).group(1)

    status, answer = post_json(ops.web_port, "/api/v1/enrol", {"code": code})
    assert status == 200 and answer["enrolment"]["site"]["id"] == "GL-01"
    assert answer["enrolment"]["mqtt"]["username"].startswith("GL-01-k")
    status, again = post_json(ops.web_port, "/api/v1/enrol", {"code": code})
    assert status == 403 and again["error"]["code"] == "code_used"

    with urllib.request.urlopen(f"http://127.0.0.1:{ops.web_port}/api/v1/trustlist", timeout=10) as r:
        envelope = json.loads(r.read())
    assert envelope["alg"] == "ES256" and envelope["signature"]

    # A site that does not exist is refused with a readable message, and no code is made.
    status, _, page = b.post("/setup-codes", {"csrf": b.csrf("/setup-codes"), "site": "NOPE"})
    assert status == 200 and "No such site" in page and 'id="setup-code"' not in page


def login_as(port: int, name: str) -> Browser:
    from tests.central.conftest import PASSWORD

    b = Browser(port)
    status, _, _ = b.post("/login", {"csrf": b.csrf("/login"), "name": name, "password": PASSWORD})
    assert status == 200
    return b


@pytest.fixture
def central_with_admin(tmp_path, mosquitto):
    """With a registry and a second user whose role is admin (same password as "ops")."""
    from tests.central.conftest import PASSWORD_HASH

    app = start_with_registry(tmp_path, mosquitto,
                              users=[{"name": "admin", "password_hash": PASSWORD_HASH, "role": "admin"}])
    yield app
    app.stop()


def test_never_seen_kiosks_outstanding_codes_and_revocation_by_an_admin_only(central_with_admin):
    ops = next(p for p in central_with_admin.parts if p.name == "web")
    staff, admin = login_as(ops.web_port, "ops"), login_as(ops.web_port, "admin")
    for site in ("GL-01", "HN-01"):
        staff.post("/setup-codes", {"csrf": staff.csrf("/setup-codes"), "site": site})
    page = staff.get("/setup-codes")[2]
    outstanding = re.search(r'<table class="outstanding">.*?</table>', page, re.S).group(0)
    assert outstanding.count("<tr><td>") == 2 and "GL-01" in outstanding and "HN-01" in outstanding

    # A kiosk enrolled with a code that never connects is on the fleet page as "never seen"; its code is used up.
    code, _ = ops.registry.create_code("GL-02")
    kiosk = ops.registry.redeem(code).kiosk_id
    still = re.search(r'<table class="outstanding">.*?</table>', staff.get("/setup-codes")[2], re.S).group(0)
    assert still.count("<tr><td>") == 2 and "GL-02" not in still
    fleet = staff.get("/")[2]
    assert re.search(rf'{kiosk}</a></td>\s*<td><span class="state never_seen">', fleet)
    assert "1 chưa từng kết nối · never seen" in fleet
    assert "Chưa từng kết nối · Never seen" in staff.get(f"/kiosk/{kiosk}")[2]

    # Not an admin: refused, nothing changes (the form is not even shown).
    assert "Revoke kiosk" not in staff.get(f"/kiosk/{kiosk}")[2]
    status, _, _ = staff.post(f"/kiosk/{kiosk}/revoke", {"csrf": staff.csrf(f"/kiosk/{kiosk}"), "reason": "x"})
    assert status == 403 and ops.registry.device(kiosk)["state"] == "active"
    # An admin's session without its CSRF token (a page elsewhere posting the form): refused.
    assert admin.post(f"/kiosk/{kiosk}/revoke", {"reason": "stolen"})[0] == 400
    # No reason: refused with a message.
    _, _, page = admin.post(f"/kiosk/{kiosk}/revoke", {"csrf": admin.csrf(f"/kiosk/{kiosk}"), "reason": "  "})
    assert "reason for the revocation is required" in page and ops.registry.device(kiosk)["state"] == "active"

    _, _, page = admin.post(f"/kiosk/{kiosk}/revoke", {"csrf": admin.csrf(f"/kiosk/{kiosk}"),
                                                        "reason": "Kiosk bị mất cắp"})
    assert f"Kiosk {kiosk} revoked" in page
    device = ops.registry.device(kiosk)
    assert device["state"] == "revoked" and device["revoked_reason"] == "Kiosk bị mất cắp"
    audit = ops.ops_store.query("SELECT by_user, kiosk, action, reason, outcome FROM device_actions")
    assert audit == [{"by_user": "admin", "kiosk": kiosk, "action": "revoke", "reason": "Kiosk bị mất cắp",
                      "outcome": "done"}]
    assert "admin: revoke — Kiosk bị mất cắp (done)" in page
    assert kiosk not in staff.get("/")[2]  # revoked: no longer a kiosk waiting to be seen
