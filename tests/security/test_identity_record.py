"""Someone who knows an ID number, at the record check of a real kiosk process in Chromium: no doses shown, no
correction filed against the holder, and guessing the birth date is paused after a few tries (issue 15)."""

from __future__ import annotations

import datetime as dt
import json

from kiosk.clock import Clock
from tests.conftest import SAMPLE_QR
from tests.web.citizen_page import open_citizen, shown, type_entry, watch
from tests.web.conftest import STAFF_PIN, Kiosk
from tests.web.test_access import request
from tests.web.test_citizen_screen import SECOND_QR
from tests.web.test_staff_desk import log_in

NUMBER = "064195001234"
HOLDER = "Trần Thị Hồng Nhung"
# Forged card QRs with the holder's number: the right name with a guessed birth date, or another name.
FORGED = [f"{NUMBER}||{HOLDER}|01011995|Nữ|Gia Lai|03062021", f"{NUMBER}||Lê Thị Giả|12081995|Nữ|Gia Lai|03062021"]
STAFF = "Lê Thị Mai"


class DaysAgo(Clock):
    """The real clock, `days` earlier: a dose recorded at this site on an earlier visit."""

    def __init__(self, days: int):
        super().__init__(7.0)
        self.days = days

    def now(self) -> dt.datetime:
        return super().now() - dt.timedelta(days=self.days)


def dose_of_the_holder(kiosk_server, days_ago: int = 0, card: str = SAMPLE_QR) -> dict:
    """A dose given to the card's holder here (written to the kiosk's SQLite file, as the staff desk's part would)."""
    from kiosk.checkin import CheckinService
    from kiosk.config import load
    from kiosk.identity import parse
    from kiosk.store import Store
    from kiosk.vaccination import Injection, VaccinationService

    config = load(kiosk_server.config)
    store = Store(config.db_path)
    clock = DaysAgo(days_ago)
    try:
        checkin = CheckinService(store, config.kiosk, clock).check_in(parse(card), "staff").checkin
        CheckinService(store, config.kiosk, clock).transition(checkin["id"], "called", "staff:test")
        vaccinations = VaccinationService(store, config.kiosk, clock)
        vaccinations.record_screening(checkin["id"], "eligible", "staff:test")
        return vaccinations.record_injection(checkin["id"], Injection("comirnaty", "FK1234", 1, "Mai"), "staff:test")
    finally:
        store.close()


def correction(kiosk_server, token, vaccination_id: str) -> tuple[int, dict]:
    status, body = request(kiosk_server, "POST", "/record/correction", {
        "token": token, "kind": "wrong_dose", "reason": "Sai ngày tiêm", "vaccination_id": vaccination_id})
    return status, json.loads(body)


def count(kiosk_server, table: str) -> int:
    with kiosk_server.db() as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


HOME = "#result:not(.hidden) [data-action=home], #record:not(.hidden) [data-action=home]"


def open_record_check(page) -> None:
    page.click("#go-record")
    page.wait_for_selector("#record:not(.hidden)")


def test_a_forged_card_shows_no_doses_and_its_lookup_files_no_correction(kiosk_server, page_at):
    dose = dose_of_the_holder(kiosk_server)
    page = page_at("small")
    watch(page)
    open_citizen(page, kiosk_server)
    events, answers = [], []
    for forged in FORGED:
        open_record_check(page)
        event = kiosk_server.scan(forged)
        events.append(event)
        answers.append(correction(kiosk_server, event.get("token"), dose["id"]))  # whatever the lookup gave
        page.wait_for_selector("body[data-screen='result'], [data-testid=doses], [data-testid=no-doses]")
        page.click(HOME)
    seen = shown(page)
    assert count(kiosk_server, "corrections") == 0, answers
    assert all(not answer["ok"] for _status, answer in answers)
    assert [e["result"] for e in events] == ["error", "error"] and all("token" not in e for e in events)
    assert [e["error"]["code"] for e in events] == ["record_mismatch", "record_mismatch"]
    assert "Comirnaty" not in seen and "FK1234" not in seen and "Thông tin không khớp" in seen

    # The holder's own card: their dose.
    open_record_check(page)
    assert kiosk_server.scan(SAMPLE_QR)["result"] == "record_lookup"
    page.wait_for_selector("[data-testid=doses]")
    assert "FK1234" in page.inner_text("[data-testid=doses]")


def test_a_record_of_one_s_own_under_the_holder_s_number_gives_no_hold_on_their_doses(kiosk_server, page_at):
    dose = dose_of_the_holder(kiosk_server, days_ago=20)  # the holder's dose, three weeks ago
    page = page_at("small")
    open_citizen(page, kiosk_server)
    # Today someone checks in first under the number with their own name, then looks up "their" record.
    page.click("#go-manual")
    type_entry(page, NUMBER, "LÊ THỊ GIẢ", "01011995")
    page.wait_for_selector("#result-body[data-result='checked_in']")
    page.click("#result-actions [data-action=home]")
    status, body = request(kiosk_server, "POST", "/record/lookup",
                           {"id_number": NUMBER, "full_name": "Lê Thị Giả", "dob": "01/01/1995"})
    token = json.loads(body).get("token")
    doses = json.loads(request(kiosk_server, "GET", f"/record/{token}")[1]).get("doses") if token else []
    status, answer = correction(kiosk_server, token, dose["id"])
    assert doses == [] and not answer["ok"] and count(kiosk_server, "corrections") == 0, answer
    assert answer["error"]["code"] == "unknown_dose"


def test_guessing_the_birth_date_is_paused_after_three_wrong_tries_and_staff_are_told(tmp_path, kiosk_server,
                                                                                     page_at):
    dose_of_the_holder(kiosk_server)
    dose_of_the_holder(kiosk_server, card=SECOND_QR)
    kiosk_server.add_staff(STAFF, "staff", STAFF_PIN)
    staff = page_at("large")
    log_in(staff, kiosk_server, STAFF, STAFF_PIN)
    staff.wait_for_selector("body[data-live='1']")
    page = page_at("small")
    open_citizen(page, kiosk_server)

    # The attacker knows the name and the year; day and month are guessed, from the kiosk's own screen.
    answers = []
    for guess in ["01/01/1995", "02/01/1995", "03/01/1995", "12/08/1995"]:  # the last one is right
        answers.append(page.evaluate(
            """async (body) => { const r = await fetch('/record/lookup', {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
               return [r.status, await r.json()]; }""",
            {"id_number": NUMBER, "full_name": HOLDER, "dob": guess}))
    codes = [answer.get("error", {}).get("code") for _status, answer in answers]
    assert codes == ["record_mismatch", "record_mismatch", "record_mismatch", "lookups_paused"], answers
    assert answers[-1][0] == 429 and "token" not in answers[-1][1]
    staff.wait_for_selector("#alerts .alert[data-code='lookups_paused']")
    assert "0641•••••234" in staff.inner_text("#alerts") and NUMBER not in staff.inner_text("body")

    # The holder at the keypad now: paused too. Another person's typed name and date still find their record.
    open_record_check(page)
    page.click("[data-action=record-type]")
    type_entry(page, NUMBER, "TRẦN THỊ HỒNG NHUNG", "12081995")
    page.wait_for_selector("#result-body[data-code='lookups_paused']")
    page.click(HOME)
    open_record_check(page)
    page.click("[data-action=record-type]")
    type_entry(page, "001090004321", "NGUYỄN VĂN AN", "01021990")
    page.wait_for_selector("[data-testid=doses]")

    # The count is in the kiosk's database: a restart does not lift the pause.
    assert kiosk_server.stop() == 0
    restarted = Kiosk(tmp_path).start()
    try:
        status, body = request(restarted, "POST", "/record/lookup",
                               {"id_number": NUMBER, "full_name": HOLDER, "dob": "12/08/1995"})
        assert status == 429 and json.loads(body)["error"]["code"] == "lookups_paused"
        desk = page_at("large")
        log_in(desk, restarted, STAFF, STAFF_PIN)
        assert "0641•••••234" in desk.inner_text("[data-testid=pauses]")
    finally:
        assert restarted.stop() == 0
    with restarted.db() as db:
        paused = [tuple(r) for r in db.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'identity.%'")]
    assert paused == [("kiosk:k1", "identity.lookups_paused")]
