"""The staff desk and the waiting-room display in Chromium against a real kiosk process."""

from __future__ import annotations

import datetime as dt

import time
import urllib.error
import urllib.parse
import urllib.request

from tests.conftest import SAMPLE_QR
from tests.web.conftest import STAFF_PIN, TECH_PIN, axe_violations, screenshot
from tests.web.test_citizen_screen import SECOND_QR


def log_in(page, kiosk_server, name: str, pin: str) -> None:
    page.goto(kiosk_server.url + "/staff/")
    assert page.url.endswith("/staff/login?next=/staff/")
    page.select_option("#name", name)
    page.fill("#pin", pin)
    page.click("button[type=submit]")


def test_login_lockout_after_repeated_wrong_pins(kiosk_server, page_at):
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    page = page_at("small")
    for attempt in range(5):
        log_in(page, kiosk_server, "Lê Thị Mai", "000000")
        code = page.get_attribute(".alert", "data-code")
        assert code == ("locked" if attempt == 4 else "bad_login")
    screenshot(page, "staff-login-locked")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)  # even the right PIN waits out the lock
    assert page.get_attribute(".alert", "data-code") == "locked"
    with kiosk_server.db() as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor='staff:Lê Thị Mai'")]
        stored = db.execute("SELECT pin_hash FROM staff_accounts").fetchone()[0]
    assert actions.count("login_failed") == 4 and actions.count("lockout") == 1 and "login" not in actions
    assert STAFF_PIN not in stored and stored.startswith("scrypt$")


def test_post_without_csrf_token_is_refused(kiosk_server, page_at):
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    page = page_at("small")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board")
    resp = page.request.post(kiosk_server.url + "/staff/call-next", form={"desk": "1"})
    assert resp.status == 400
    # And a login form posted from elsewhere (no token in its session) is refused too.
    req = urllib.request.Request(kiosk_server.url + "/staff/login", data=b"name=x&pin=1", method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("login without CSRF token accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400


def test_call_next_injection_observation_certificate_reprint_and_display(kiosk_server, page_at):
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    first = kiosk_server.scan(SAMPLE_QR)
    kiosk_server.scan(SECOND_QR)

    display = page_at("large", axe=True)
    display.goto(kiosk_server.url + "/display/")
    display.wait_for_selector("body[data-live='1']")
    display.wait_for_selector("#next li")
    assert display.locator("#next li").all_inner_texts() == ["1", "2"]
    screenshot(display, "display-waiting")

    page = page_at("large", axe=True)
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board [data-ticket='2']")
    screenshot(page, "staff-board")
    assert axe_violations(page) == []

    page.fill("#desk", "3")
    page.click("text=Call next")
    assert page.get_attribute("[data-testid=state]", "data-state") == "called"
    assert "Số 1" in page.inner_text("h1")

    # The display hears the call: ticket 1 at desk 3, a chime, and 2 is next.
    display.wait_for_selector("#serving tr[data-desk='3'] td.ticket:has-text('1')")
    display.wait_for_function("() => document.body.dataset.lastSound === 'call'")
    assert display.locator("#next li").all_inner_texts() == ["2"]
    screenshot(display, "display-called")
    assert axe_violations(display) == []

    page.click("text=Eligible")
    assert page.get_attribute("[data-testid=state]", "data-state") == "screened"
    page.select_option("#vaccine", "comirnaty")
    page.fill("#lot", "fk1234")
    page.fill("#dose_number", "2")
    screenshot(page, "staff-injection")
    page.click("text=Record, start observation")
    assert page.get_attribute("[data-testid=state]", "data-state") == "observing"
    assert "FK1234" in page.inner_text("#h-observe + p")
    left = int(page.get_attribute("[data-observation-left]", "data-observation-left"))
    assert 29 * 60 < left <= 30 * 60
    screenshot(page, "staff-observation")

    page.click("text=Finish, print certificate")  # too early without a reason
    assert "Chưa đủ thời gian theo dõi" in page.inner_text(".flash")
    page.fill("#early_reason", "transferred to hospital for unrelated reason")
    page.click("text=Finish, print certificate")
    assert page.get_attribute("[data-testid=state]", "data-state") == "done"

    page.select_option("#kind", "certificate")
    page.fill("#reprint-reason", "citizen lost the certificate")
    page.click("button:has-text('In lại · Reprint')")
    assert "copy 1" in page.inner_text(".flash")
    screenshot(page, "staff-reprint")

    with kiosk_server.db() as db:
        jobs = [tuple(r) for r in db.execute(
            "SELECT kind, copy FROM print_jobs WHERE checkin_id=? ORDER BY id", (first["checkin_id"],))]
        audit = db.execute("SELECT actor, reason FROM audit_log WHERE action='print.reprint'").fetchone()
        vac = db.execute("SELECT vaccine, lot, dose_number, vaccinator FROM vaccinations").fetchone()
        outbox = [r[0] for r in db.execute("SELECT stream FROM outbox ORDER BY seq")]
    assert jobs == [("ticket", 0), ("certificate", 0), ("certificate", 1)]
    assert tuple(audit) == ("staff:Lê Thị Mai", "citizen lost the certificate")
    assert tuple(vac) == ("comirnaty", "FK1234", 2, "Lê Thị Mai")
    assert outbox == ["checkins", "checkins", "vaccinations"]

    # The citizen's certificate scanned into the search box (a handheld scanner types it) finds the record.
    from kiosk.certificates import certificate_view
    from kiosk.store import Store

    store = Store(kiosk_server.data / "kiosk.db")
    vaccination_id = store.query_one("SELECT id FROM vaccinations")["id"]
    hc1 = certificate_view(store, vaccination_id).qr_payload
    store.close()
    page.goto(kiosk_server.url + "/staff/search?" + urllib.parse.urlencode({"q": hc1}))
    assert page.inner_text("td.ticket") == str(first["ticket"])


def test_search_by_ticket_id_and_name_and_postpone(kiosk_server, page_at):
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    kiosk_server.scan(SAMPLE_QR)
    kiosk_server.scan(SECOND_QR)
    page = page_at("small")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board")
    for query, expected in [("2", "Nguyễn Văn An"), ("064195", "Trần Thị Hồng Nhung"), ("nguyen van", "Nguyễn Văn An")]:
        page.goto(kiosk_server.url + "/staff/search?" + urllib.parse.urlencode({"q": query}))
        rows = page.locator("tbody tr").all_inner_texts()
        assert len(rows) == 1 and expected in rows[0], (query, rows)
    screenshot(page, "staff-search")
    page.click("tbody a")
    page.goto(kiosk_server.url + "/staff/")
    page.click("text=Call next")
    page.fill("#postpone-reason", "fever 38.5")
    page.click("text=Postpone")
    assert page.get_attribute("[data-testid=state]", "data-state") == "deferred"


def test_technician_page_and_corrections_list(kiosk_server, page_at):
    kiosk_server.add_staff("Phạm Văn Kỹ", "technician", TECH_PIN)
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    kiosk_server.post_json("/record/start", {})
    token = kiosk_server.scan(SAMPLE_QR)["token"]
    claim = {"day": (dt.date.today() - dt.timedelta(days=30)).isoformat(), "dose_number": 1, "place": "here"}
    assert kiosk_server.post_json("/record/correction", {"token": token, "kind": "missing_dose",
                                                        "reason": "dose 1 given here in March", "claim": claim})["ok"]
    page = page_at("large")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board")
    assert page.request.get(kiosk_server.url + "/staff/tech").status == 403  # staff is not technician
    page.goto(kiosk_server.url + "/staff/corrections")
    row = page.locator("tbody tr").inner_text()
    assert "Thiếu mũi tiêm · Missing dose" in row and "0641" in row and "064195001234" not in row and "48" in row
    screenshot(page, "staff-corrections")

    page.click("text=Log out")
    log_in(page, kiosk_server, "Phạm Văn Kỹ", TECH_PIN)
    page.goto(kiosk_server.url + "/staff/tech")
    assert page.inner_text("[data-testid=version]")
    assert page.locator("tr[data-part='web']").count() == 1
    page.click("text=Test print")
    assert "No printer part is running" in page.inner_text(".flash")
    screenshot(page, "staff-tech")


def test_printer_problem_shows_the_number_on_screen_and_tells_staff(tmp_path, page_at):
    import json as _json
    import urllib.request as _request

    from tests.support.virtual_printer import VirtualPrinterProcess
    from tests.web.conftest import Kiosk

    printer = VirtualPrinterProcess(tmp_path / "printer").start(state="paper_out")
    k = Kiosk(tmp_path, extra=f"[printer]\nenabled = true\nbackend = \"network\"\nport = {printer.port}\n"
                              "poll_seconds = 0.2\n").start()
    try:
        k.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
        while True:  # the printer part has asked the printer and knows it is out of paper
            with _request.urlopen(k.url + "/api/health", timeout=5) as resp:
                if _json.loads(resp.read())["parts"]["printer"]["ok"] is False:
                    break
            time.sleep(0.1)
        desk = page_at("large")
        log_in(desk, k, "Lê Thị Mai", STAFF_PIN)
        desk.wait_for_selector("body[data-live='1']")
        # Logged in after the paper ran out: the board shows it anyway, in words, on every page of the desk.
        assert desk.get_attribute("#printer-state [data-printer-state]", "data-printer-state") == "paper_out"
        assert "Máy in hết giấy – lắp cuộn giấy mới" in desk.inner_text("#printer-state")
        desk.goto(k.url + "/staff/search")
        assert "Máy in hết giấy" in desk.inner_text("#printer-state")
        desk.goto(k.url + "/staff/")
        desk.wait_for_selector("body[data-live='1']")
        citizen = page_at("small")
        citizen.goto(k.url + "/")
        citizen.wait_for_selector("body[data-live='1']")

        event = k.scan(SAMPLE_QR)
        assert event["result"] == "checked_in"
        citizen.wait_for_selector("#result-body[data-result='checked_in'].warn")
        assert citizen.inner_text("[data-testid=ticket]") == "1"
        assert "nhân viên đã được báo" in citizen.inner_text(".what-to-do")
        screenshot(citizen, "citizen-printer-problem")
        desk.wait_for_selector("#alerts .alert:has-text('ticket 1')")
        # The printer's state in words on the board, not its code (issue 18, point 9).
        assert "Máy in hết giấy" in desk.inner_text("#printer-state")
        assert "paper_out" not in desk.inner_text("main")
        screenshot(desk, "staff-printer-alert")
        with k.db() as db:  # the check-in itself stands; its ticket waits for paper
            assert [tuple(r) for r in db.execute("SELECT kind, state FROM print_jobs")] == [("ticket", "pending")]

        printer.set_state("online")  # paper loaded: the waiting ticket prints, the next citizen sees no problem
        # ... and the banner leaves every open board by itself once the printer part sees paper again.
        desk.wait_for_selector("#printer-state [data-printer-state]", state="detached")
        while True:
            with k.db() as db:
                if db.execute("SELECT state FROM print_jobs").fetchone()[0] == "done":
                    break
            time.sleep(0.1)
        k.scan(SECOND_QR)
        citizen.wait_for_selector("#result-body[data-result='checked_in'].ok")
        assert citizen.inner_text("[data-testid=ticket]") == "2"
    finally:
        assert k.stop() == 0
        printer.stop()
