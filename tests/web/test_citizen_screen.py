"""The citizen screen in Chromium against a real kiosk process: scan, duplicate, errors, keypad, record check."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from base.corrections import show_reference
from tests.conftest import SAMPLE_QR
from tests.web.citizen_page import open_citizen, type_keys, type_name
from tests.web.conftest import axe_violations, screenshot

# Another valid card: a man born 1990 in Hà Nội (001), century/sex digit 0.
SECOND_QR = "001090004321||Nguyễn Văn An|01021990|Nam|Số 1 Phố Huế, Hà Nội|10102022"


@pytest.mark.parametrize("size", ["small", "large"])
def test_scan_shows_success_with_ticket_and_name_then_returns_to_idle(kiosk_server, page_at, size):
    page = page_at(size, axe=True)
    open_citizen(page, kiosk_server)
    screenshot(page, "citizen-idle")
    assert axe_violations(page) == []

    event = kiosk_server.scan(SAMPLE_QR)
    assert event["result"] == "checked_in" and event["ticket"] == 1

    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert page.inner_text("[data-testid=ticket]") == "1"
    assert "Trần Thị Hồng Nhung" in page.inner_text(".name-as-read")
    assert "Mời lấy phiếu" in page.inner_text("#result-body")
    assert page.get_attribute("body", "data-last-sound") == "success"
    screenshot(page, "citizen-success")
    assert axe_violations(page) == []

    page.click("#lang")  # English on a button
    assert "Please take your ticket" in page.inner_text("#result-body")
    assert page.get_attribute("html", "lang") == "en"
    screenshot(page, "citizen-success-en")
    page.click("#result-actions [data-action=home]")
    assert page.get_attribute("body", "data-screen") == "idle"


def test_duplicate_checkin_shows_existing_ticket_and_reprints_it(kiosk_server, page_at):
    kiosk_server.scan(SECOND_QR)  # ticket 1 belongs to someone else
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    assert kiosk_server.scan(SAMPLE_QR)["ticket"] == 2
    page.wait_for_selector("#result-body[data-result='checked_in']")
    page.click("#result-actions [data-action=home]")

    again = kiosk_server.scan(SAMPLE_QR)
    assert again["result"] == "already_checked_in" and again["ticket"] == 2
    page.wait_for_selector("#result-body[data-result='already_checked_in']")
    assert page.inner_text("[data-testid=ticket]") == "2"
    screenshot(page, "citizen-already")
    assert axe_violations(page) == []

    page.click("[data-action=reprint]")
    page.wait_for_selector("#reprint-msg:has-text('Đang in lại phiếu')")
    with kiosk_server.db() as db:
        jobs = db.execute("SELECT kind, copy FROM print_jobs WHERE checkin_id=? ORDER BY id",
                          (again["checkin_id"],)).fetchall()
        audit = db.execute("SELECT actor, action, reason FROM audit_log WHERE subject=?",
                           (again["checkin_id"],)).fetchall()
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert [tuple(j) for j in jobs] == [("ticket", 0), ("ticket", 1)]
    assert [tuple(a)[:2] for a in audit] == [("kiosk:citizen", "print.reprint")]
    assert tickets == 2  # the duplicate scan made no new ticket


@pytest.mark.parametrize("text, code, title", [
    ("", "empty", "Chưa đọc được mã"),
    ("https://example.com/not-a-card", "unsupported_code", "không phải mã QR thẻ căn cước"),
    ("064195001234|230987654|Trần Thị Hồng Nhung|12081985|Nữ|Gia Lai|03062021", "id_year_mismatch",
     "không hợp lệ"),
])
def test_scan_errors_say_what_is_wrong_and_what_to_do(kiosk_server, page_at, text, code, title):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    event = kiosk_server.scan(text)
    assert event["result"] == "error" and event["error"]["code"] == code
    page.wait_for_selector(f"#result-body[data-code='{code}']")
    body = page.inner_text("#result-body")
    assert title in body
    assert page.locator(".what-to-do").count() == 1
    assert page.get_attribute("body", "data-last-sound") == "error"
    screenshot(page, f"citizen-error-{code}")
    assert axe_violations(page) == []
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0


def test_manual_entry_with_on_screen_keypad_checks_in(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    assert page.get_attribute("body", "data-screen") == "manual"
    type_keys(page, "001090004321")
    page.click("#digits [data-key=next]")
    # "NGUYỄN VĂN AN": Ê then ngã makes Ễ; Ă is its own key.
    type_keys(page, "NGUYÊ")
    page.click("#letters [aria-label='dấu ngã']")
    type_keys(page, "N VĂN AN")
    assert page.inner_text("#f-name") == "NGUYỄN VĂN AN"
    page.click("#letters [data-key=next]")
    type_keys(page, "01021990")
    assert page.inner_text("#f-dob") == "01/02/1990"
    screenshot(page, "citizen-manual")
    assert axe_violations(page) == []
    page.click("#manual-submit")
    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert "Nguyễn Văn An" in page.inner_text(".name-as-read")
    with kiosk_server.db() as db:
        row = db.execute("SELECT id_number, full_name, dob, scan_kind, source FROM checkins").fetchone()
    assert tuple(row) == ("001090004321", "Nguyễn Văn An", "1990-02-01", "manual", "screen")


def test_a_bare_id_number_opens_manual_entry_with_the_number_filled_in(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    event = kiosk_server.scan("064195001234")  # a handheld scanner reading only the number (Code 128 / old QR)
    assert event["error"]["code"] == "number_only_needs_details" and event["id_masked"] == "0641•••••234"
    assert "064195001234" not in json.dumps(event)  # the screen redeems the event's one-time prefill token
    page.wait_for_selector("#manual:not(.hidden)")
    page.wait_for_function("() => document.getElementById('f-id').textContent === '064 195 001 234'")
    assert "active" in page.get_attribute("#f-name", "class")
    assert "Cần họ tên và ngày sinh" in page.inner_text("#manual-msg")
    screenshot(page, "citizen-number-only")
    assert axe_violations(page) == []


def test_manual_entry_refuses_what_a_scan_would_refuse(kiosk_server, page_at):
    page = page_at("large")
    open_citizen(page, kiosk_server)
    page.click("#go-manual")
    type_keys(page, "001090004321")
    page.click("#digits [data-key=next]")
    type_keys(page, "AN")
    page.click("#letters [data-key=next]")
    type_keys(page, "01021985")  # the number encodes 1990
    page.click("#manual-submit")
    page.wait_for_selector("#manual-msg:has-text('không khớp với năm sinh')")
    assert page.get_attribute("body", "data-screen") == "manual"
    assert "active" in page.get_attribute("#f-dob", "class")
    screenshot(page, "citizen-manual-error")
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0


def test_record_check_by_scan_and_correction_goes_to_the_outbox(kiosk_server, page_at):
    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-record")
    page.wait_for_selector("#record:not(.hidden)")
    event = kiosk_server.scan(SAMPLE_QR)  # in record-check mode a scan looks up, it does not check in
    assert event["result"] == "record_lookup"
    page.wait_for_selector("[data-testid=no-doses]")
    screenshot(page, "citizen-record")
    assert axe_violations(page) == []
    page.click("[data-action=fix-missing_dose]")
    # What the citizen says happened: dose 2 of Comirnaty, here, on a day of the date picker.
    page.click("[data-claim=dose_number][data-value='2']")
    page.click("[data-claim=vaccine][data-value=comirnaty]")
    day = (dt.date.today() - dt.timedelta(days=30)).isoformat()  # a month ago, whenever the test runs
    page.fill("#claim-day", day)
    page.click("[data-claim=place][data-value=here]")
    page.click("[data-reason='0']")
    screenshot(page, "citizen-correction")
    page.click("[data-action=fix-send]")
    page.wait_for_selector("[data-testid=correction-sent]")
    shown = page.inner_text("[data-testid=correction-reference]")
    screenshot(page, "citizen-correction-reference")
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0
        corr = db.execute("SELECT * FROM corrections").fetchone()
        out = db.execute("SELECT stream, payload FROM outbox WHERE record_id=?", (corr["id"],)).fetchone()
    assert corr["id_number"] == "064195001234" and corr["kind"] == "missing_dose"
    assert shown == show_reference(corr["reference"])
    payload = json.loads(out["payload"])
    assert out["stream"] == "corrections"
    assert payload["type"] == "correction" and payload["deadline"] == corr["deadline_wall"]
    assert (payload["about_dose_number"], payload["about_vaccine"], payload["about_day"]) == (2, "comirnaty", day)
    assert payload["about_place"].endswith("(GL-01)")
    page.click("#record-actions [data-action=home]")
    page.wait_for_selector("body[data-record-open='0']")  # the screen has closed the record-check window
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "checked_in"  # leaving the record check ends its window

    # Later, the citizen looks the outcome up by the reference alone: no card, nothing personal on the screen.
    page.wait_for_selector("body[data-screen=result]")  # the check-in's result, then back to the start
    page.click("#result-actions [data-action=home]")
    page.click("#go-lookup")
    wrong_digit = corr["reference"][:-1] + str((int(corr["reference"][-1]) + 1) % 10)
    for digit in wrong_digit:
        page.click(f"#lookup [data-ref-key='{digit}']")
    page.click("[data-action=lookup-send]")
    page.wait_for_selector("[data-testid=lookup-error][data-code=bad_reference]")
    page.click("#lookup [data-ref-key=back]")
    page.click(f"#lookup [data-ref-key='{corr['reference'][-1]}']")
    page.click("[data-action=lookup-send]")
    page.wait_for_selector("[data-testid=lookup-outcome][data-state=received]")
    text = page.inner_text("#lookup")
    assert "Thiếu mũi tiêm" in text and "064195001234" not in text and "Trần" not in text
    screenshot(page, "citizen-lookup")
    assert axe_violations(page) == []


def test_record_check_by_typed_number_name_and_birth_date_shows_doses_and_files_a_wrong_dose(kiosk_server, page_at):
    from kiosk.checkin import CheckinService
    from kiosk.config import load
    from kiosk.identity import parse
    from kiosk.store import Store
    from kiosk.vaccination import Injection, VaccinationService

    # A dose recorded at this site earlier (the kiosk process and this test share the SQLite file, as parts do).
    config = load(kiosk_server.config)
    store = Store(config.db_path)
    try:
        checkin = CheckinService(store, config.kiosk).check_in(parse(SAMPLE_QR), "staff").checkin
        vaccinations = VaccinationService(store, config.kiosk)
        store.db.conn.execute("UPDATE tickets SET state='called' WHERE checkin_id=?", (checkin["id"],))
        vaccinations.record_screening(checkin["id"], "eligible", "staff:test")
        dose = vaccinations.record_injection(checkin["id"], Injection("comirnaty", "FK1234", 1, "Mai"), "staff:test")
    finally:
        store.close()

    page = page_at("small", axe=True)
    open_citizen(page, kiosk_server)
    page.click("#go-record")
    page.click("[data-action=record-type]")
    type_keys(page, "064195001234")
    page.click("#digits [data-key=next]")
    type_name(page, "TRẦN THỊ HỒNG NHUNG")  # the keypad's capitals are the card's "Trần Thị Hồng Nhung"
    page.click("#letters [data-key=next]")
    type_keys(page, "12081995")
    page.click("#digits [data-key=next]")
    page.wait_for_selector("[data-testid=doses]")
    assert page.locator("[data-testid=doses] tbody tr").all_inner_texts() == [
        f"1\tComirnaty (Pfizer-BioNTech)\t{'/'.join(reversed(checkin['day'].split('-')))}\tFK1234"]
    screenshot(page, "citizen-record-doses")
    assert axe_violations(page) == []
    page.click("[data-action=fix-wrong_dose]")
    page.click("[data-reason='1']")  # wrong date
    page.click("[data-action=fix-send]")
    page.wait_for_selector("[data-testid=correction-sent]")
    with kiosk_server.db() as db:
        corr = db.execute("SELECT kind, vaccination_id, reason FROM corrections").fetchone()
    assert tuple(corr) == ("wrong_dose", dose["id"], "Sai ngày tiêm")

    # The same number and name with another birth date sees nothing (tests/security/test_identity_*.py: the rest).
    page.click("#record-actions [data-action=home]")
    page.click("#go-record")
    page.click("[data-action=record-type]")
    type_keys(page, "064195001234")
    page.click("#digits [data-key=next]")
    type_name(page, "TRẦN THỊ HỒNG NHUNG")
    page.click("#letters [data-key=next]")
    type_keys(page, "13081995")
    page.click("#digits [data-key=next]")
    page.wait_for_selector("#result-body[data-code='record_mismatch']")
    assert page.locator("[data-testid=doses]").count() == 0


def test_a_certificate_held_to_the_camera_is_checked_offline(kiosk_server, page_at):
    from kiosk.certificates import sample_certificate_view
    from kiosk.identity import parse

    # Signed with this kiosk's own key (its data dir), as a certificate it printed earlier would be.
    hc1 = sample_certificate_view(parse(SAMPLE_QR), kiosk_server.data).qr_payload
    page = page_at("small")
    open_citizen(page, kiosk_server)
    event = kiosk_server.scan(hc1)
    assert event["result"] == "kiosk_code" and event["certificate"]["valid"] is True
    assert "full_name" not in json.dumps(event) and "Nhung" not in json.dumps(event, ensure_ascii=False)
    page.wait_for_selector("#result-body[data-result='kiosk_code']")
    assert "Giấy chứng nhận hợp lệ" in page.inner_text("#result-body")
    doses = page.inner_text("#result-body .doses")
    assert "Mũi 1/" in doses and re.search(r"\d{2}/\d{2}/\d{4}", doses)  # dd/mm/yyyy, as on Vietnamese papers
    screenshot(page, "citizen-certificate-valid")
    page.click("#result-actions [data-action=home]")

    forged = hc1[:-12] + ("A" if hc1[-12] != "A" else "B") + hc1[-11:]
    event = kiosk_server.scan(forged)
    assert event["certificate"]["valid"] is False
    page.wait_for_selector("#result-body.bad[data-result='kiosk_code']")
    assert "Giấy chứng nhận không hợp lệ" in page.inner_text("#result-body")
    assert page.get_attribute("body", "data-last-sound") == "error"
