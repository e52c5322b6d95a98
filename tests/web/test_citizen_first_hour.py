"""What a real site hits in its first hour at the citizen screen (issue 18, points 1-6), in Chromium against a real
kiosk process. Timeouts are driven by Playwright's clock (the page's timers), never by waiting them out."""

from __future__ import annotations

import json
import time
import urllib.request

from tests.conftest import SAMPLE_QR
from tests.support.waiting import wait_for
from tests.web.citizen_page import open_citizen, type_entry, type_keys, type_name
from tests.web.conftest import axe_violations, screenshot

SECOND_QR = "001090004321||Nguyễn Văn An|01021990|Nam|Số 1 Phố Huế, Hà Nội|10102022"

# Every element with text of its own that is shown, with its computed font size; and the buttons of the action rows.
SIZES_SCRIPT = """() => {
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const texts = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!shown(el) || el.closest('svg')) continue;
    const own = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent.trim());
    if (own.length) texts.push([own.join(' '), parseFloat(getComputedStyle(el).fontSize)]);
  }
  const primary = [...document.querySelectorAll('.actions button, button.primary')].filter(shown)
    .map((b) => [b.innerText.trim(), parseFloat(getComputedStyle(b).fontSize)]);
  return { texts, primary };
}"""


def too_small(page) -> tuple[list, list]:
    sizes = page.evaluate(SIZES_SCRIPT)
    assert sizes["texts"] and sizes["primary"], sizes  # the walk found the screen's text
    return ([t for t in sizes["texts"] if t[1] < 20], [b for b in sizes["primary"] if b[1] < 24])


def record_open(kiosk_server) -> bool:
    with urllib.request.urlopen(kiosk_server.url + "/record/state", timeout=5) as resp:
        return json.loads(resp.read())["open"]


def in_vietnamese(page) -> bool:
    return page.get_attribute("html", "lang") == "vi" and "Đưa mã QR" in page.inner_text("#idle")


def test_every_return_to_idle_is_vietnamese_in_check_in_mode(kiosk_server, page_at):
    page = page_at("small")
    page.clock.install()
    open_citizen(page, kiosk_server)

    # Done on an English result.
    kiosk_server.scan(SECOND_QR)
    page.wait_for_selector("#result-body[data-result='checked_in']")
    page.click("#lang")
    assert page.get_attribute("html", "lang") == "en"
    page.click("#result-actions [data-action=home]")
    assert page.get_attribute("body", "data-screen") == "idle" and in_vietnamese(page)

    # The result's own timeout.
    kiosk_server.scan(SECOND_QR)
    page.wait_for_selector("#result-body[data-result='already_checked_in']")
    page.click("#lang")
    page.clock.run_for(16_000)
    page.wait_for_selector("body[data-screen='idle']")
    assert in_vietnamese(page)

    # The record check in English, left to time out: Vietnamese, and the kiosk checks in again.
    page.click("#lang")
    page.click("#go-record")
    page.wait_for_selector("body[data-record-open='1']")
    assert record_open(kiosk_server)
    page.clock.run_for(91_000)
    page.wait_for_selector("body[data-record-open='0']")
    assert page.get_attribute("body", "data-screen") == "idle" and in_vietnamese(page)
    assert not record_open(kiosk_server)
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "checked_in"


def test_a_closed_or_reopened_browser_does_not_leave_the_kiosk_in_record_check_mode(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    page.click("#go-record")
    page.wait_for_selector("body[data-record-open='1']")
    page.reload()  # the kiosk browser restarted: the fresh screen starts in check-in mode at once
    page.wait_for_selector("body[data-live='1']")
    wait_for(lambda: not record_open(kiosk_server), 3, what="a fresh screen ends the record check")

    page.click("#go-record")
    page.wait_for_selector("body[data-record-open='1']")
    # While the screen is open it renews the window past its 6 s lease...
    started = time.monotonic()
    while time.monotonic() - started < 8:
        assert record_open(kiosk_server), "the open record-check screen lost its window"
        time.sleep(0.5)
    page.close()  # ...and a closed browser stops renewing it
    wait_for(lambda: not record_open(kiosk_server), 10, what="the record check outlived its closed screen")
    event = kiosk_server.scan(SAMPLE_QR)
    assert event["result"] == "checked_in" and "token" not in event


def test_a_scan_while_someone_types_is_offered_without_wiping_their_entry(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    type_keys(page, "0010900")
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "checked_in"  # the next person's card, held to the camera
    page.wait_for_selector("#scan-waiting:not(.hidden)")
    assert page.get_attribute("body", "data-screen") == "manual"
    assert page.inner_text("#f-id") == "001 090 0"
    kiosk_server.scan("https://example.com/poster")  # a poster's QR: the entry stays too
    page.wait_for_function("() => document.body.dataset.scansHeld === '2'")
    assert page.get_attribute("body", "data-screen") == "manual" and page.inner_text("#f-id") == "001 090 0"
    screenshot(page, "citizen-scan-while-typing")
    assert axe_violations(page) == []

    page.click("#scan-waiting [data-action=show-scan]")  # the check-in, when asked for (not the poster after it)
    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert page.inner_text("[data-testid=ticket]") == "1"
    page.click("#result-actions [data-action=resume]")
    assert page.get_attribute("body", "data-screen") == "manual" and page.inner_text("#f-id") == "001 090 0"
    type_keys(page, "04321")
    page.click("#digits [data-key=next]")
    type_name(page, "NGUYỄN VĂN AN")
    page.click("#letters [data-key=next]")
    type_keys(page, "01021990")
    page.click("#manual-submit")
    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert "Nguyễn Văn An" in page.inner_text(".name-as-read")
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 2


def test_a_scan_that_waited_for_a_typed_entry_is_shown_when_the_entry_ends(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    type_keys(page, "064")
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "checked_in"
    page.wait_for_selector("#scan-waiting:not(.hidden)")
    page.click("#manual [data-action=home]")  # the typist gives up: the card holder sees their ticket
    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert page.inner_text("[data-testid=ticket]") == "1"


def test_text_is_large_at_800x480_and_a_typed_entry_warns_before_it_times_out(kiosk_server, page_at):
    page = page_at("small", axe=True)
    page.clock.install()
    open_citizen(page, kiosk_server)
    checks = {"idle": too_small(page)}
    kiosk_server.scan(SAMPLE_QR)
    page.wait_for_selector("#result-body[data-result='checked_in']")
    checks["success"] = too_small(page)
    kiosk_server.scan("https://example.com/poster")
    page.wait_for_selector("#result-body[data-result='error']")
    checks["error"] = too_small(page)
    page.click("#result-actions [data-action=manual]")
    checks["keypad"] = too_small(page)
    page.click("#digits [data-key=next]")
    checks["letters"] = too_small(page)

    page.clock.run_for(76_000)  # 14 s before the 90 s timeout
    page.wait_for_selector("#idle-warning:not(.hidden)")
    assert "15 giây" in page.inner_text("#idle-warning")
    checks["warning"] = too_small(page)
    assert axe_violations(page) == []
    screenshot(page, "citizen-timeout-warning")
    page.click("#idle-warning [data-action=still-here]")
    assert page.is_hidden("#idle-warning")
    page.clock.run_for(80_000)  # the touch started the 90 s again
    assert page.get_attribute("body", "data-screen") == "manual"
    page.clock.run_for(11_000)
    page.wait_for_selector("body[data-screen='idle']")
    assert {state: found for state, found in checks.items() if found != ([], [])} == {}


def test_the_letter_keyboard_types_names_of_ethnic_minorities(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    keys = set(page.eval_on_selector_all("#letters [data-key]", "els => els.map((e) => e.dataset.key)"))
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZ'-ĂÂĐÊÔƠƯ") <= keys

    for number, typed, dob, stored in [("064190005678", "KSOR H'WEN", "05031990", "Ksor H'Wen"),
                                       ("064085004321", "RƠ CHÂM", "20071985", "Rơ Châm")]:
        type_keys(page, number)
        page.click("#digits [data-key=next]")
        type_name(page, typed)
        assert page.inner_text("#f-name") == typed
        if stored == "Ksor H'Wen":
            screenshot(page, "citizen-manual-letters")
            assert axe_violations(page) == []
        page.click("#letters [data-key=next]")
        type_keys(page, dob)
        page.click("#manual-submit")
        page.wait_for_selector("#result-body[data-result='checked_in']")
        assert page.inner_text(".name-as-read") == stored
        page.click("#result-actions [data-action=home]")
        page.click("#go-manual")
    with kiosk_server.db() as db:
        names = [r[0] for r in db.execute("SELECT full_name FROM checkins ORDER BY created_wall")]
    assert names == ["Ksor H'Wen", "Rơ Châm"]


def test_a_typed_impossible_date_says_so_in_words_about_typing(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    type_entry(page, "064190005678", "KSOR H'WEN", "31021990")
    page.wait_for_selector("#manual-msg:has-text('không có thật')")
    assert "trên mã" not in page.inner_text("#manual-msg")
    assert "active" in page.get_attribute("#f-dob", "class")


def test_the_reprint_button_goes_when_the_screen_may_print_no_more(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    kiosk_server.scan(SAMPLE_QR)
    page.wait_for_selector("#result-body[data-result='checked_in']")
    page.click("#result-actions [data-action=home]")
    kiosk_server.scan(SAMPLE_QR)
    page.wait_for_selector("#result-body[data-result='already_checked_in']")
    page.click("[data-action=reprint]")
    page.wait_for_selector("#reprint-msg:has-text('Đang in lại phiếu')")
    assert page.locator("[data-action=reprint]").count() == 1
    page.evaluate("document.getElementById('reprint-msg').textContent = ''")
    page.click("[data-action=reprint]")
    page.wait_for_selector("#reprint-msg:has-text('Đang in lại phiếu')")
    assert page.locator("[data-action=reprint]").count() == 0  # the second was the last the screen may print
    page.click("#result-actions [data-action=home]")
    kiosk_server.scan(SAMPLE_QR)  # a third visit: no button that can only fail
    page.wait_for_selector("#result-body[data-result='already_checked_in']")
    assert page.locator("[data-action=reprint]").count() == 0
    assert "gặp nhân viên" in page.inner_text("#reprint-msg")


def test_a_correction_asks_for_its_reason_and_back_returns_to_the_record(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-record")
    page.wait_for_selector("body[data-record-open='1']")
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "record_lookup"
    page.wait_for_selector("[data-testid=no-doses]")
    assert too_small(page) == ([], [])
    page.click("[data-action=fix-missing_dose]")
    page.click("[data-action=fix-send]")  # no reason chosen
    page.wait_for_selector("#correction-msg:has-text('Hãy chọn một lý do')")
    assert too_small(page) == ([], [])
    assert page.get_attribute("body", "data-last-sound") == "error"
    screenshot(page, "citizen-correction-no-reason")
    assert axe_violations(page) == []
    page.click("[data-action=record-back]")  # back to the record, not out of it
    page.wait_for_selector("[data-testid=no-doses]")
    assert page.get_attribute("body", "data-screen") == "record" and record_open(kiosk_server)
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM corrections").fetchone()[0] == 0


def test_the_screens_say_where_the_qr_is_on_both_cards(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    idle = page.inner_text("#idle")
    assert "CCCD gắn chip: mặt trước, góc trên bên phải" in idle and "căn cước mới (từ 2024): mặt sau" in idle
    kiosk_server.scan("https://example.com/poster")
    page.wait_for_selector("#result-body[data-code='unsupported_code']")
    advice = page.inner_text(".what-to-do")
    assert "mặt trước, góc trên bên phải" in advice and "mặt sau" in advice


def test_a_stranger_on_the_site_network_cannot_open_or_hold_the_record_check(kiosk_server):
    from tests.web.test_access import request

    for path in ("/record/start", "/record/renew"):
        assert request(kiosk_server, "POST", path, {}, source="127.0.0.2")[0] == 403, path
    assert request(kiosk_server, "GET", "/record/state", source="127.0.0.2")[0] == 403
    assert not record_open(kiosk_server)
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "checked_in"
