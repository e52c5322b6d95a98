"""Staff session expiry, through the Flask app of a real kiosk App (real store) without a browser."""

from __future__ import annotations

import re
import time

from kiosk.app import App
from kiosk.config import load
from kiosk.staff_accounts import StaffAccounts
from kiosk.web import create_app
from tests.conftest import write_config


def test_staff_session_ends_after_session_minutes(tmp_path):
    app = App(load(write_config(tmp_path / "kiosk.toml", tmp_path / "data", extra="[web]\nsession_minutes = 5\n")))
    try:
        StaffAccounts(app.store).add("Lê Thị Mai", "staff", "482913")
        client = create_app(app).test_client()
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff/login").get_data(as_text=True)).group(1)
        resp = client.post("/staff/login", data={"csrf": csrf, "name": "Lê Thị Mai", "pin": "482913"})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/")
        with client.session_transaction() as session:
            assert 4 * 60 < session["expires"] - time.time() <= 5 * 60
        assert client.get("/staff/").status_code == 200
        with client.session_transaction() as session:
            session["expires"] = time.time() - 1  # five minutes later
        resp = client.get("/staff/")
        assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]
    finally:
        app.stop()
