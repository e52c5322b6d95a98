"""Scan and queue events, as the kiosk's own screen and logged-in staff receive them from the real web server, carry
no ID number, name or birth date: masked numbers and tokens only (issue 15)."""

from __future__ import annotations

import http.client
import json
import threading

from tests.conftest import SAMPLE_QR
from tests.web.test_access import request
from tests.web.test_citizen_screen import SECOND_QR

END = "not-an-id-card:end-of-test"  # a last scan, refused as unsupported_code: the reader stops there
PERSONAL = ["064195001234", "001090004321", "Trần Thị Hồng Nhung", "Nguyễn Văn An", "Lê Văn Giả",
            "12081995", "1995-08-12", "12/08/1995", "01021990", "1990-02-01", "01/02/1990", "01011995", "1995-01-01"]


def read_events(kiosk_server, out: list, ready: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", kiosk_server.port, timeout=20)
    conn.request("GET", "/api/events")
    resp = conn.getresponse()
    ready.set()
    event_type = None
    while True:
        line = resp.fp.readline().decode("utf-8").rstrip("\n")
        if line.startswith("event: "):
            event_type = line[7:]
        elif line.startswith("data: "):
            out.append((event_type, line[6:]))
            if event_type == "scan" and (json.loads(line[6:]).get("error") or {}).get("code") == "unsupported_code":
                break
    conn.close()


def test_scan_queue_and_staff_events_carry_no_id_number_name_or_birth_date(kiosk_server):
    events: list[tuple[str, str]] = []
    ready = threading.Event()
    reader = threading.Thread(target=read_events, args=(kiosk_server, events, ready), daemon=True)
    reader.start()
    assert ready.wait(10)

    kiosk_server.scan(SAMPLE_QR)  # checked in: scan + queue
    kiosk_server.scan(SAMPLE_QR)  # already checked in
    bare = kiosk_server.scan("064195001234")  # a bare number: the screen pre-fills the keypad from a token
    kiosk_server.post_json("/checkin/manual", {"id_number": "001090004321", "full_name": "Nguyễn Văn An",
                                               "dob": "01/02/1990"})
    kiosk_server.post_json("/checkin/manual", {"id_number": "064195001234", "full_name": "Lê Văn Giả",
                                               "dob": "01/01/1995"})  # mismatch: scan error + staff alert
    kiosk_server.post_json("/record/start", {})
    kiosk_server.scan(SAMPLE_QR)  # record lookup
    kiosk_server.scan(SECOND_QR.replace("01021990", "02021990"))  # a forged card: record mismatch
    kiosk_server.post_json("/record/stop", {})
    kiosk_server.scan(END)
    reader.join(20)
    assert not reader.is_alive()

    leaked = [(kind, data, value) for kind, data in events for value in PERSONAL
              if value.casefold() in json.dumps(json.loads(data), ensure_ascii=False).casefold()]
    assert leaked == []
    kinds = [kind for kind, _ in events]
    assert {"scan", "queue", "staff_alert"} <= set(kinds), kinds
    # What the screen needs still arrives: masked numbers, and the bare number only through its one-time token.
    scans = [json.loads(data) for kind, data in events if kind == "scan"]
    assert {s.get("id_masked") for s in scans} >= {"0641•••••234"}
    status, body = request(kiosk_server, "GET", f"/checkin/prefill/{bare['prefill']}")
    assert status == 200 and json.loads(body)["id_number"] == "064195001234"
    assert request(kiosk_server, "GET", f"/checkin/prefill/{bare['prefill']}")[0] == 410  # once
    assert request(kiosk_server, "GET", f"/checkin/prefill/{bare['prefill']}", source="127.0.0.2")[0] == 403
