"""The SMS opt-in in Chromium against a real kiosk process whose SMS part sends through Gammu to the virtual modem:
number on the keypad, the errors a citizen can fix, consent, the texts that follow, and what staff see."""

from __future__ import annotations

import pytest

from drivers.gsm_modem import write_gammurc
from drivers.virtual_modem import VirtualModem
from tests.conftest import SAMPLE_QR
from tests.support.pdu import messages
from tests.web.conftest import STAFF_PIN, TECH_PIN, Kiosk, axe_violations, screenshot
from tests.web.citizen_page import open_citizen
from tests.web.test_access import request
from tests.web.test_citizen_screen import SECOND_QR
from tests.web.test_staff_desk import log_in


@pytest.fixture
def sms_kiosk(tmp_path):
    with VirtualModem(tmp_path / "ttyUSB-modem") as modem:
        gammurc = write_gammurc(tmp_path / "gammurc", modem.path)
        k = Kiosk(tmp_path, extra=f'[sms]\ngammurc = "{gammurc}"\n').start()
        k.modem = modem
        yield k
        assert k.stop() == 0, (tmp_path / "kiosk.log").read_text()


def tap(page, keys: str) -> None:
    for key in keys:
        page.click(f"#sms [data-sms-key='{key}']")


def test_citizen_opts_in_on_the_keypad_and_is_texted_when_called(sms_kiosk, page_at):
    k = sms_kiosk
    k.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    k.add_staff("Phạm Văn Kỹ", "technician", TECH_PIN)
    k.scan(SECOND_QR)  # ticket 1: someone else, ahead in the queue
    page = page_at("small", axe=True)
    open_citizen(page, k)
    assert k.scan(SAMPLE_QR)["ticket"] == 2
    page.wait_for_selector("#result-body[data-result='checked_in']")
    page.click("#result-actions [data-action=sms]")
    assert page.get_attribute("body", "data-screen") == "sms"
    assert axe_violations(page) == []

    tap(page, "0212345678")  # a landline
    page.click("#sms-agree")
    page.click("#sms-submit")
    page.wait_for_selector("#sms-msg[data-code=bad_phone]")
    assert "Số điện thoại không hợp lệ" in page.inner_text("#sms-msg")
    assert page.get_attribute("body", "data-last-sound") == "error"
    screenshot(page, "citizen-sms-bad-number")

    for _ in range(10):
        page.click("#sms [data-sms-key='back']")
    page.click("#sms-agree")  # consent taken back
    tap(page, "0912345678")
    assert page.inner_text("#sms-phone") == "0912 345 678"
    page.click("#sms-submit")
    page.wait_for_selector("#sms-msg[data-code=consent_required]")
    page.click("#sms-agree")
    assert page.get_attribute("#sms-agree", "aria-pressed") == "true"
    screenshot(page, "citizen-sms-entry")
    page.click("#sms-submit")
    page.wait_for_selector("#result-body[data-result='sms_optin']")
    assert page.inner_text("[data-testid=sms-phone-masked]").endswith("091••••678")
    screenshot(page, "citizen-sms-done")
    assert axe_violations(page) == []
    with k.db() as db:
        assert [tuple(r) for r in db.execute("SELECT number FROM sms_optins")] == [("+84912345678",)]
        # Ticket 2 has one person before it: "soon" goes at once
        assert [r[0] for r in db.execute("SELECT kind FROM sms_outbox")] == ["soon"]

    desk = page_at("large")
    log_in(desk, k, "Lê Thị Mai", STAFF_PIN)
    desk.fill("#desk", "4")
    desk.click("text=Call next")  # ticket 1
    desk.goto(k.url + "/staff/")
    desk.fill("#desk", "4")
    desk.click("text=Call next")  # ticket 2: the citizen outside is texted
    received = k.modem.wait_for(2, timeout=60)
    assert [(m.number, m.encoding, m.text) for m in messages(received)] == [
        ("+84912345678", "ucs2", "Số 2: còn 1 người nữa là đến lượt bạn. Mời quay lại khu vực chờ."),
        ("+84912345678", "ucs2", "Mời số 2 đến bàn 4 ngay bây giờ.")]

    desk.click("text=Log out")
    log_in(desk, k, "Phạm Văn Kỹ", TECH_PIN)
    desk.goto(k.url + "/staff/tech")
    desk.wait_for_selector("[data-testid=sms] tr[data-state=sent]")
    card = desk.inner_text("[data-testid=sms]")
    assert "091••••678" in card and "0912345678" not in desk.content() and "Đã gửi" in card
    assert "connected" in desk.inner_text("[data-testid=sms-modem]")
    screenshot(desk, "staff-tech-sms")


def test_the_opt_in_is_the_kiosk_screens_alone(sms_kiosk):
    checkin = sms_kiosk.scan(SAMPLE_QR)
    body = {"checkin_id": checkin["checkin_id"], "phone": "0912345678", "agree": True}
    status, _ = request(sms_kiosk, "POST", "/checkin/sms", body, source="127.0.0.2")  # a device on the site LAN
    assert status == 403
    status, _ = request(sms_kiosk, "POST", "/checkin/sms", body, content_type="application/x-www-form-urlencoded")
    assert status == 415
    status, answer = request(sms_kiosk, "POST", "/checkin/sms", {**body, "checkin_id": "guessed"})
    assert status == 404 and b"not_found" in answer
    with sms_kiosk.db() as db:
        assert db.execute("SELECT count(*) FROM sms_optins").fetchone()[0] == 0


def test_a_kiosk_without_a_modem_offers_no_texts(kiosk_server, page_at):
    page = page_at("small")
    open_citizen(page, kiosk_server)
    checkin = kiosk_server.scan(SAMPLE_QR)
    page.wait_for_selector("#result-body[data-result='checked_in']")
    assert page.locator("[data-action=sms]").count() == 0 and page.locator("#sms").count() == 0
    status, answer = request(kiosk_server, "POST", "/checkin/sms",
                             {"checkin_id": checkin["checkin_id"], "phone": "0912345678", "agree": True})
    assert status == 409 and b"sms_off" in answer
