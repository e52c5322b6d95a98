"""Issue 14 item 10: a logout ends the session on the server; loopback-only endpoints check the Host they are asked for.

Copied cookie: a session cookie taken from a staff desk (or central's dashboard) before logout kept working after it,
because the session lived only in the signed cookie. Now the server keeps each login (base.web.sessions) and
forgets it at logout: the copy is sent to the login page.

DNS rebinding: a page from attacker.example, whose name is then re-pointed at 127.0.0.1, reaches the kiosk's
loopback-only endpoints from the kiosk's own browser (or central's open /api/fleet from a browser on central's
machine) with the attacker's Host header. Those endpoints now answer only requests that name this machine.
"""

from __future__ import annotations

import json
import select

from tests.conftest import SAMPLE_QR
from tests.support.hostile_http import (CENTRAL_PASSWORD, CENTRAL_USER, FORM, LAN_DEVICE, central,  # noqa: F401
                                        csrf_from, form, kiosk, login_form, post_json, raw_connection, read_until,
                                        request)

STAFF, PIN = "Lê Thị Mai", "482913"
REBOUND = "vaxkiosk.attacker.example"


def test_a_copied_staff_cookie_stops_working_at_logout(kiosk):
    kiosk.add_staff(STAFF, "staff", PIN)
    login = login_form(kiosk.port, "/staff/login", {"name": STAFF, "pin": PIN}, LAN_DEVICE)
    assert login.status == 302
    stolen = login.cookie
    board = request(kiosk.port, "GET", "/staff/", headers={"Cookie": stolen}, source="127.0.0.3")
    assert board.status == 200  # the copy works while the session is open, from anywhere
    latest = board.cookie or stolen
    logout = request(kiosk.port, "POST", "/staff/logout", form({"csrf": csrf_from(board.body)}),
                     {**FORM, "Cookie": latest}, LAN_DEVICE)
    assert logout.status == 302
    for copy in (stolen, latest):
        after = request(kiosk.port, "GET", "/staff/", headers={"Cookie": copy}, source="127.0.0.3")
        assert after.status == 302 and "/staff/login" in after.headers["location"], after.status
        search = request(kiosk.port, "GET", "/staff/search?q=Nhung", headers={"Cookie": copy}, source="127.0.0.3")
        assert search.status == 302


def test_a_copied_dashboard_cookie_stops_working_at_logout(central):
    login = login_form(central.port, "/login", {"name": CENTRAL_USER, "password": CENTRAL_PASSWORD}, LAN_DEVICE)
    assert login.status == 302
    stolen = login.cookie
    fleet = request(central.port, "GET", "/", headers={"Cookie": stolen}, source="127.0.0.3")
    assert fleet.status == 200
    latest = fleet.cookie or stolen  # the page put a CSRF token in the session: the browser's cookie now
    logout = request(central.port, "POST", "/logout", form({"csrf": csrf_from(fleet.body)}),
                     {**FORM, "Cookie": latest}, LAN_DEVICE)
    assert logout.status == 302
    for copy in (stolen, latest):
        after = request(central.port, "GET", "/", headers={"Cookie": copy}, source="127.0.0.3")
        assert after.status == 302 and "/login" in after.headers["location"]


def test_a_rebound_dns_name_is_not_the_kiosks_own_screen(kiosk):
    port = kiosk.port
    rebound = {"Host": f"{REBOUND}:{port}"}
    scan = post_json(port, "/api/scan", {"text": SAMPLE_QR}, headers=rebound)
    assert scan.status == 403
    with kiosk.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0
    # A real check-in, then the rebound page tries to read the name as read and the private events.
    stream = raw_connection(port, "127.0.0.1")
    stream.sendall(f"GET /api/events HTTP/1.1\r\nHost: {REBOUND}:{port}\r\n\r\n".encode())
    assert b"retry:" in read_until(stream, b"\n\n", 5)
    checked_in = kiosk.scan(SAMPLE_QR)
    view = f"/checkin/{checked_in['checkin_id']}/view"
    assert request(port, "GET", view, headers=rebound).status == 403
    events = read_until(stream, b"event: queue", 5)
    stream.close()
    assert b"event: queue" in events and b"event: scan" not in events
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):  # the kiosk's browser itself
        own = request(port, "GET", view, headers={"Host": host})
        assert own.status == 200 and json.loads(own.body)["ticket"] == checked_in["ticket"]


def test_a_rebound_dns_name_does_not_open_centrals_loopback_api(central):
    for path in ("/api/fleet", "/api/sites", "/metrics", "/fhir/R4/metadata", "/fhir/R4/Immunization?date=2026-12-01"):
        assert request(central.port, "GET", path, headers={"Host": f"{REBOUND}:{central.port}"}).status == 401, path
        assert request(central.port, "GET", path).status == 200, path  # Host: 127.0.0.1:PORT
