"""The staff desk's first hour at a real site (issue 18, points 7-11), in Chromium against a real kiosk process:
fewer clicks per citizen, recall and no-show, ended observations, the printer's state on every board, words instead
of machine values, and a way out of a locked account."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.request

import pytest

from kiosk.staff_accounts import MAX_FAILURES, AccountError, StaffAccounts
from kiosk.store import Store
from tests.conftest import SAMPLE_QR
from tests.web.conftest import STAFF_PIN, TECH_PIN, axe_violations, screenshot
from tests.web.test_citizen_screen import SECOND_QR
from tests.web.test_staff_desk import log_in

THIRD_QR = "064088001111||Rơ Châm|05061988|Nam|Xã Ia Dêr, Ia Grai, Gia Lai|01012022"
# What a Vietnamese page must not show: raw queue states, sexes, ISO dates, UTC times, Python values.
MACHINE_VALUES = re.compile(r"\b(called|screened|observing|deferred|male|female|True|False|None)\b|"
                            r"\d{4}-\d{2}-\d{2}|T\d{2}:\d{2}|\+00:00")


def state_of(page) -> str:
    return page.get_attribute("[data-testid=state]", "data-state")


def set_clock(path, minutes_after_nine: float) -> None:
    """The kiosk's simulated clock (kiosk/clock.py re-reads this file at every time stamp), set to 09:00 site time
    (UTC+7) of today plus `minutes_after_nine`: the test never crosses midnight, whenever it runs."""
    now = dt.datetime.now(dt.timezone.utc)
    nine = dt.datetime.combine(now.date(), dt.time(2, 0), dt.timezone.utc)  # 09:00 at UTC+7
    offset = (nine - now).total_seconds() + minutes_after_nine * 60
    path.write_text(json.dumps({"offset_seconds": offset, "synced": True}), encoding="utf-8")


def minutes_since(start: float) -> float:
    return (time.monotonic() - start) / 60


def test_a_desk_serves_citizens_in_fewer_clicks_with_recall_no_show_and_ended_observations(tmp_path, page_at,
                                                                                          monkeypatch):
    from tests.web.conftest import Kiosk

    clock = tmp_path / "clock.json"
    set_clock(clock, 0)
    start = time.monotonic()
    monkeypatch.setenv("VAXKIOSK_SIMULATED_CLOCK", str(clock))
    k = Kiosk(tmp_path).start()
    try:
        k.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
        first, second, third = k.scan(SAMPLE_QR), k.scan(SECOND_QR), k.scan(THIRD_QR)
        display = page_at("small")
        display.goto(k.url + "/display/")
        display.wait_for_selector("body[data-live='1']")
        page = page_at("large", axe=True)
        log_in(page, k, "Lê Thị Mai", STAFF_PIN)
        page.wait_for_selector("#board [data-ticket='3']")
        page.fill("#desk", "3")
        page.click("text=Call next")

        # The citizen's page in words: state, birth date as dd/mm/yyyy, sex.
        assert state_of(page) == "called"
        assert page.inner_text("[data-testid=state]") == "Đã gọi · Called"
        who = page.inner_text("section.card >> nth=0")
        assert "12/08/1995" in who and "Nữ · Female" in who
        assert not MACHINE_VALUES.search(page.inner_text("main")), MACHINE_VALUES.search(page.inner_text("main"))

        # Recall: the same number announced again on the room's display, an audited state change called → called.
        display.wait_for_function("() => document.body.dataset.soundCount === '1'")
        page.click("text=Recall")
        assert state_of(page) == "called"
        display.wait_for_function("() => document.body.dataset.soundCount === '2'")
        page.click("text=Eligible")
        page.select_option("#vaccine", "comirnaty")
        page.fill("#lot", "fk1234")
        page.fill("#dose_number", "1")
        page.click("text=Record, start observation")
        assert state_of(page) == "observing"

        # Call next from this citizen's page: ticket 2 comes to desk 3, and its injection form starts from the
        # vaccine and lot this desk gave last today (kept in SQLite, not in the browser).
        page.click("[data-testid=call-next-here]")
        assert "Số 2" in page.inner_text("h1") and state_of(page) == "called"
        page.click("text=Eligible")
        assert page.input_value("#vaccine") == "comirnaty" and page.input_value("#lot") == "FK1234"
        assert "Như lần tiêm trước của bàn 3" in page.inner_text("[data-testid=remembered]")
        screenshot(page, "staff-injection-remembered")
        fresh = page_at("small")  # another screen at the desk sees the same (the server remembers)
        log_in(fresh, k, "Lê Thị Mai", STAFF_PIN)
        fresh.goto(page.url)
        assert fresh.input_value("#lot") == "FK1234"
        page.click("text=Record, start observation")
        assert state_of(page) == "observing"

        # No-show from the board: ticket 3 is called and nobody comes.
        page.click("[data-testid=call-next-here]")
        assert "Số 3" in page.inner_text("h1")
        page.click("nav >> text=Queue")
        page.wait_for_selector("#board [data-no-show='3']")
        screenshot(page, "staff-board-called")
        page.click("#board [data-no-show='3']")
        page.wait_for_selector("#board")
        assert page.locator("#board [data-ticket='3']").count() == 0  # left the queue

        # 31 minutes later: both observations are over, highlighted on the board with a chime.
        set_clock(clock, 31 + minutes_since(start))
        page.reload()
        page.wait_for_selector("#board tr.observation-over[data-ticket='1']")
        page.wait_for_function("() => document.body.dataset.lastSound === 'call'")
        assert page.locator("#board tr.observation-over").count() == 2
        assert "Hết giờ theo dõi" in page.inner_text("#board [data-ticket='1']")
        assert not MACHINE_VALUES.search(page.inner_text("#board"))
        screenshot(page, "staff-board-observation-over")
        assert axe_violations(page) == []

        # Finish the first, reprint its certificate: the print history names copies, not a Python method.
        page.click("#board [data-ticket='1'] a")
        page.click("text=Finish, print certificate")
        assert state_of(page) == "done"
        page.fill("#reprint-reason", "citizen lost the certificate")
        page.click("button:has-text('In lại · Reprint')")
        prints = page.inner_text("[data-testid=prints]")
        assert "Bản in lại số 1 · Reprint 1" in prints and "Bản gốc · Original" in prints
        assert "built-in method" not in prints and not MACHINE_VALUES.search(prints)

        with k.db() as db:
            changes = [tuple(r) for r in db.execute(
                "SELECT t.number, s.from_state, s.to_state, s.reason, s.actor FROM state_changes s "
                "JOIN tickets t ON t.checkin_id = s.checkin_id WHERE s.reason IN ('recall', 'no_show') ORDER BY s.id")]
            remembered = [tuple(r) for r in db.execute("SELECT desk, vaccine, lot, updated_by FROM desk_defaults")]
            lots = [r[0] for r in db.execute("SELECT lot FROM vaccinations ORDER BY rowid")]
        assert changes == [(1, "called", "called", "recall", "staff:Lê Thị Mai"),
                           (3, "called", "left", "no_show", "staff:Lê Thị Mai")]
        assert remembered == [("3", "comirnaty", "FK1234", "staff:Lê Thị Mai")]
        assert lots == ["FK1234", "FK1234"]
        assert first["ticket"] == 1 and second["ticket"] == 2 and third["ticket"] == 3
    finally:
        assert k.stop() == 0


def test_recall_and_no_show_only_for_a_called_number(kiosk_server, page_at):
    """Recall or no-show of a waiting number would call or remove someone nobody called: refused, nothing changes."""
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    waiting = kiosk_server.scan(SAMPLE_QR)
    page = page_at("small")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board")
    token = page.get_attribute("input[name=csrf]", "value")
    for action in ("recall", "no-show"):
        resp = page.request.post(f"{kiosk_server.url}/staff/checkin/{waiting['checkin_id']}/{action}",
                                 form={"csrf": token})
        assert resp.status == 200 and "Không thể chuyển trạng thái này" in resp.text()
    with kiosk_server.db() as db:
        assert db.execute("SELECT state FROM tickets").fetchone()[0] == "waiting"
        assert db.execute("SELECT count(*) FROM state_changes").fetchone()[0] == 1


def test_locked_account_warning_unlock_new_pin_and_removal_on_the_desk(kiosk_server, page_at):
    kiosk_server.add_staff("Phạm Văn Kỹ", "technician", TECH_PIN)
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    staff = page_at("small")
    for attempt in range(MAX_FAILURES - 1):
        log_in(staff, kiosk_server, "Lê Thị Mai", "000000")
    # The try before the lock says so.
    assert "Chỉ còn 1 lần thử" in staff.inner_text(".alert") and "One try left" in staff.inner_text(".alert")
    screenshot(staff, "staff-login-last-try")
    log_in(staff, kiosk_server, "Lê Thị Mai", "000000")
    assert staff.get_attribute(".alert", "data-code") == "locked"

    tech = page_at("large", axe=True)
    log_in(tech, kiosk_server, "Phạm Văn Kỹ", TECH_PIN)
    tech.goto(kiosk_server.url + "/staff/tech")
    row = tech.locator("tr[data-account='Lê Thị Mai']")
    assert row.locator("[data-locked]").count() == 1
    parts = tech.inner_text("section[aria-labelledby=h-parts]")
    assert "Tốt · OK" in parts and "{" not in parts and not MACHINE_VALUES.search(parts), parts
    screenshot(tech, "staff-tech-accounts")
    assert axe_violations(tech) == []

    row.locator("[data-action=unlock]").click()
    assert "Đã mở khoá tài khoản Lê Thị Mai" in tech.inner_text(".flash")
    assert tech.locator("tr[data-account='Lê Thị Mai'] [data-locked]").count() == 0
    log_in(staff, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    staff.wait_for_selector("#board")

    tech.locator("tr[data-account='Lê Thị Mai'] [data-action=reset-pin]").click()
    new_pin = re.search(r"Mã PIN mới của Lê Thị Mai: (\d{6})", tech.inner_text(".flash")).group(1)
    staff.goto(kiosk_server.url + "/staff/")  # the old login ended with the old PIN
    assert "/staff/login" in staff.url
    log_in(staff, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    assert staff.get_attribute(".alert", "data-code") == "bad_login"
    log_in(staff, kiosk_server, "Lê Thị Mai", new_pin)
    staff.wait_for_selector("#board")

    # A staff account may not open the technician page: a page in words, not "Forbidden".
    forbidden = staff.request.get(kiosk_server.url + "/staff/tech")
    assert forbidden.status == 403
    assert "không có quyền" in forbidden.text() and "may not open this page" in forbidden.text()
    assert "Forbidden" not in forbidden.text()

    tech.locator("tr[data-account='Lê Thị Mai'] [data-action=remove]").click()
    assert "Đã xoá tài khoản Lê Thị Mai" in tech.inner_text(".flash")
    staff.goto(kiosk_server.url + "/staff/")
    assert "/staff/login" in staff.url and "Lê Thị Mai" not in staff.inner_text("#name")
    tech.locator("tr[data-account='Phạm Văn Kỹ'] [data-action=remove]").click()  # not oneself
    assert "Không thể tự xoá" in tech.inner_text(".flash")

    store = Store(kiosk_server.data / "kiosk.db")
    try:
        audit = [(r["actor"], r["action"]) for r in store.query(
            "SELECT actor, action FROM audit_log WHERE subject='staff:Lê Thị Mai' ORDER BY id")]
        with pytest.raises(AccountError):
            StaffAccounts(store).authenticate("Lê Thị Mai", new_pin)
    finally:
        store.close()
    assert audit == [("cli", "staff_add"), ("staff:Phạm Văn Kỹ", "staff_unlock"),
                     ("staff:Phạm Văn Kỹ", "staff_reset_pin"), ("staff:Phạm Văn Kỹ", "staff_remove")]


def test_account_actions_need_a_technician_and_the_csrf_token(kiosk_server, page_at):
    """A staff member (or a page elsewhere on the LAN) cannot unlock or re-PIN accounts."""
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    kiosk_server.add_staff("Phạm Văn Kỹ", "technician", TECH_PIN)
    page = page_at("small")
    log_in(page, kiosk_server, "Lê Thị Mai", STAFF_PIN)
    page.wait_for_selector("#board")
    token = page.get_attribute("input[name=csrf]", "value")
    with kiosk_server.db() as db:
        tech_id = db.execute("SELECT id FROM staff_accounts WHERE role='technician'").fetchone()[0]
    resp = page.request.post(f"{kiosk_server.url}/staff/tech/accounts/{tech_id}/reset-pin", form={"csrf": token})
    assert resp.status == 403
    req = urllib.request.Request(f"{kiosk_server.url}/staff/tech/accounts/{tech_id}/remove", data=b"", method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("account action without a login accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    with kiosk_server.db() as db:
        assert db.execute("SELECT count(*) FROM audit_log WHERE action LIKE 'staff_%' AND action != 'staff_add'"
                          ).fetchone()[0] == 0
