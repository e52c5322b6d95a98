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


@pytest.fixture
def central_with_registry(tmp_path, mosquitto):
    data = central_dict(tmp_path, mosquitto.port)
    data["registry"] = {"broker_dir": str(tmp_path / "broker"), "broker_pid_file": "",
                        "broker_host": "127.0.0.1", "broker_port": mosquitto.port}
    data["mqtt"]["password"] = "central-secret"
    app = CentralApp(from_dict(data))
    app.start()
    wait_for(lambda: next(p for p in app.parts if p.name == "ingest").connected.is_set(), 10, what="ingest")
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
