"""Someone who knows an ID number, at the citizen screen of a real kiosk process in Chromium: they see, print and
rename nothing of the number's holder, and the holder still gets through (issue 15).

The number 064195001234 is printed on the holder's card, forms and photos; its digits give sex and birth year, so
the attacker types a birth date in that year and any name."""

from __future__ import annotations

from tests.conftest import SAMPLE_QR
from tests.web.citizen_page import entry_done, open_citizen, shown, type_entry, watch
from tests.web.conftest import STAFF_PIN, axe_violations, screenshot
from tests.web.test_staff_desk import log_in

NUMBER = "064195001234"
HOLDER = "Trần Thị Hồng Nhung"
MISMATCH_VI = "Thông tin không khớp với lượt đăng ký hôm nay. Vui lòng gặp nhân viên."
STAFF = "Lê Thị Mai"


def db_rows(kiosk_server, sql: str, params: tuple = ()) -> list[tuple]:
    with kiosk_server.db() as db:
        return [tuple(r) for r in db.execute(sql, params)]


def test_a_typed_entry_with_the_holder_s_number_shows_and_prints_nothing_of_theirs(kiosk_server, page_at):
    kiosk_server.add_staff(STAFF, "staff", STAFF_PIN)
    holder = kiosk_server.scan(SAMPLE_QR)  # the holder checked in with their card: ticket 1
    jobs = db_rows(kiosk_server, "SELECT id FROM print_jobs")

    page = page_at("small", axe=True)
    watch(page)
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    type_entry(page, NUMBER, "LÊ VĂN GIẢ", "01011995")
    page.wait_for_selector("body[data-screen='result']")
    seen = shown(page)
    assert page.get_attribute("#result-body", "data-code") == "identity_mismatch", seen[-400:]
    assert MISMATCH_VI in page.inner_text("#result-body")
    assert HOLDER not in seen and "Bạn đã đăng ký hôm nay" not in seen and "Số thứ tự của bạn" not in seen
    assert page.locator("[data-action=reprint]").count() == 0  # nothing to reprint with
    assert "GIẢ" not in page.inner_text("body").upper()  # what was typed does not stay on the public screen
    assert db_rows(kiosk_server, "SELECT id FROM print_jobs") == jobs
    assert db_rows(kiosk_server, "SELECT full_name FROM checkins") == [(HOLDER,)]
    screenshot(page, "citizen-identity-mismatch")
    assert axe_violations(page) == []

    # The staff desk sees the flag on the holder's check-in (never the typed values).
    staff = page_at("large", axe=True)
    log_in(staff, kiosk_server, STAFF, STAFF_PIN)
    staff.wait_for_selector("#board [data-ticket='1'] .id-flag[data-flags~='mismatch']")
    screenshot(staff, "staff-board-identity-flag")
    staff.click("#board [data-ticket='1'] a")
    assert "không khớp" in staff.inner_text("[data-testid=identity-check] [data-flag=mismatch]")
    assert "Giả" not in staff.inner_text("body")
    screenshot(staff, "staff-identity-check")
    assert axe_violations(staff) == []

    # The holder's own card, again: their own ticket and name, and a reprint.
    page.click("#result-actions [data-action=home]")
    entry_done(page)
    again = kiosk_server.scan(SAMPLE_QR)
    assert again["result"] == "already_checked_in" and again["checkin_id"] == holder["checkin_id"]
    page.wait_for_selector("#result-body[data-result='already_checked_in']")
    assert page.inner_text("[data-testid=ticket]") == "1" and HOLDER in page.inner_text(".name-as-read")
    page.click("[data-action=reprint]")
    page.wait_for_selector("#reprint-msg:has-text('Đang in lại phiếu')")


def test_checking_in_first_under_the_holder_s_number_neither_blocks_nor_renames_them(kiosk_server, page_at):
    kiosk_server.add_staff(STAFF, "staff", STAFF_PIN)
    citizen = page_at("small")
    watch(citizen)
    open_citizen(citizen, kiosk_server)
    # The impostor comes first and types the holder's number with their own name: a new check-in, ticket 1.
    citizen.click("#go-manual")
    type_entry(citizen, NUMBER, "LÊ VĂN GIẢ", "01011995")
    citizen.wait_for_selector("#result-body[data-result='checked_in']")
    citizen.click("#result-actions [data-action=home]")
    entry_done(citizen)

    # The holder arrives with the card: refused, and shown nothing of the impostor's check-in.
    event = kiosk_server.scan(SAMPLE_QR)
    assert event["result"] == "error" and event["error"]["code"] == "identity_mismatch", event
    citizen.wait_for_selector("#result-body[data-code='identity_mismatch']")
    assert "Giả" not in citizen.inner_text("#result-body") and MISMATCH_VI in citizen.inner_text("#result-body")

    # Staff: the check-in is flagged, screening waits for the card; the holder's card is not this check-in's.
    staff = page_at("large")
    log_in(staff, kiosk_server, STAFF, STAFF_PIN)
    staff.click("text=Call next")
    assert "Số 1" in staff.inner_text("h1")
    staff.click("text=Eligible")
    assert "Cần xem thẻ căn cước" in staff.inner_text(".flash")
    assert staff.get_attribute("[data-testid=state]", "data-state") == "called"
    assert NUMBER not in staff.inner_text("[data-testid=id-number]")  # masked until a card is seen
    staff.fill("#release-reason", "the holder's card shows another name")
    staff.click("button:has-text('Release the number')")
    assert staff.get_attribute("[data-testid=state]", "data-state") == "left", staff.inner_text("main")[:1500]
    assert staff.locator("[data-testid=released]").count() == 1

    # The holder scans again: a check-in of their own, with the name on their card.
    event = kiosk_server.scan(SAMPLE_QR)
    assert event["result"] == "checked_in" and event["ticket"] == 2
    citizen.wait_for_selector("#result-body[data-result='checked_in']")
    assert HOLDER in citizen.inner_text(".name-as-read")
    assert db_rows(kiosk_server, "SELECT full_name, released_by FROM checkins ORDER BY created_wall") == [
        ("Lê Văn Giả", f"staff:{STAFF}"), (HOLDER, None)]
    assert db_rows(kiosk_server, "SELECT actor, reason FROM audit_log WHERE action='identity.released'") == [
        (f"staff:{STAFF}", "the holder's card shows another name")]


def test_a_typed_checkin_is_screened_only_after_staff_confirm_the_card(kiosk_server, page_at):
    kiosk_server.add_staff(STAFF, "staff", STAFF_PIN)
    citizen = page_at("small")
    open_citizen(citizen, kiosk_server)
    citizen.click("#go-manual")
    type_entry(citizen, "001090004321", "NGUYỄN VĂN AN", "01021990")  # an honest person whose card will not scan
    citizen.wait_for_selector("#result-body[data-result='checked_in']")
    checkin_id = db_rows(kiosk_server, "SELECT id FROM checkins")[0][0]

    staff = page_at("large")
    log_in(staff, kiosk_server, STAFF, STAFF_PIN)
    staff.click("text=Call next")
    staff.click("text=Eligible")
    assert staff.get_attribute("[data-testid=state]", "data-state") == "called", "a typed check-in was screened without the card"
    assert "Cần xem thẻ căn cước" in staff.inner_text(".flash")
    staff.goto(kiosk_server.url + "/staff/")
    assert "Typed" in staff.inner_text("#board [data-ticket='1'] .id-flag[data-flags~='typed']")
    staff.click("#board [data-ticket='1'] a")

    staff.fill("#number_on_card", "001090004329")  # not the number of this check-in
    staff.check("input[name=details_match]")
    staff.click("button:has-text('Card seen')")
    assert "Số trên thẻ không phải số" in staff.inner_text(".flash")
    staff.fill("#number_on_card", "001 090 004 321")
    staff.check("input[name=details_match]")
    staff.click("button:has-text('Card seen')")
    assert staff.inner_text("[data-testid=id-number]") == "001090004321"
    staff.click("text=Eligible")
    assert staff.get_attribute("[data-testid=state]", "data-state") == "screened"
    assert db_rows(kiosk_server, "SELECT actor, action FROM audit_log WHERE subject=? ORDER BY id", (checkin_id,)) == [
        (f"staff:{STAFF}", "identity.card_seen"), (f"staff:{STAFF}", "screening:eligible")]
