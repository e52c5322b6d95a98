"""Who may reach what, over real HTTP. Addresses other than 127.0.0.1 stand for the site's network: a client bound to
127.0.0.2 is, to the server, not the kiosk's own browser."""

from __future__ import annotations

import http.client
import json
import threading

from tests.conftest import SAMPLE_QR


def request(kiosk_server, method: str, path: str, body: dict | None = None, source: str = "127.0.0.1",
            content_type: str = "application/json") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", kiosk_server.port, timeout=10, source_address=(source, 0))
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": content_type} if data else {})
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_scan_hook_and_citizen_endpoints_are_for_the_kiosk_screen_only(kiosk_server):
    for path in ("/api/scan", "/checkin/manual", "/record/start", "/checkin/reprint"):
        status, _ = request(kiosk_server, "POST", path, {"text": SAMPLE_QR}, source="127.0.0.2")
        assert status == 403, path
    status, _ = request(kiosk_server, "GET", "/camera.mjpeg", source="127.0.0.2")
    assert status == 403
    # A cross-site form post cannot send JSON without a preflight: form bodies are refused.
    status, _ = request(kiosk_server, "POST", "/api/scan", {"text": SAMPLE_QR},
                        content_type="application/x-www-form-urlencoded")
    assert status == 415
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0
    # The waiting-room display and the staff login are open to the site's network.
    assert request(kiosk_server, "GET", "/display/state", source="127.0.0.2")[0] == 200
    assert request(kiosk_server, "GET", "/staff/login", source="127.0.0.2")[0] == 200
    assert request(kiosk_server, "GET", "/staff/", source="127.0.0.2")[0] == 302


def read_events(kiosk_server, source: str, until_type: str, out: list, ready: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", kiosk_server.port, timeout=10, source_address=(source, 0))
    conn.request("GET", "/api/events")
    resp = conn.getresponse()
    ready.set()
    event_type = None
    while True:
        line = resp.fp.readline().decode().strip()
        if line.startswith("event: "):
            event_type = line[7:]
        elif line.startswith("data: "):
            out.append((event_type, json.loads(line[6:])))
            if event_type == until_type:
                break
    conn.close()


def test_events_carry_no_names_and_scan_events_stay_on_the_kiosk(kiosk_server):
    local, remote = [], []
    threads = []
    for source, out in (("127.0.0.1", local), ("127.0.0.2", remote)):
        ready = threading.Event()
        t = threading.Thread(target=read_events, args=(kiosk_server, source, "queue", out, ready), daemon=True)
        t.start()
        assert ready.wait(10)
        threads.append(t)
    event = kiosk_server.scan(SAMPLE_QR)
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert [e[0] for e in local] == ["scan", "queue"]
    assert local[0][1]["ticket"] == event["ticket"] and local[0][1]["result"] == "checked_in"
    assert "Nhung" not in json.dumps(local, ensure_ascii=False)  # no names in events, even on the kiosk
    assert [e[0] for e in remote] == ["queue"]  # the wall display learns the ticket number only
    assert set(remote[0][1]) == {"checkin_id", "ticket", "state", "desk", "at"}
    # The name as read comes from the kiosk screen's own view, refused to the site's network.
    status, body = request(kiosk_server, "GET", f"/checkin/{event['checkin_id']}/view")
    assert status == 200 and json.loads(body)["name"] == "Trần Thị Hồng Nhung"
    assert request(kiosk_server, "GET", f"/checkin/{event['checkin_id']}/view", source="127.0.0.2")[0] == 403
