"""kiosk.verification on a real SQLite file: an ID number alone reaches nothing, wrong tries pause, staff see cards."""

from __future__ import annotations

import datetime as dt
import sqlite3
import unicodedata

import pytest

from base import store as base_store
from kiosk.checkin import CheckinService
from kiosk.identity import from_manual, parse
from kiosk.store import MIGRATIONS, Store
from kiosk.vaccination import Injection, VaccinationService
from kiosk.verification import KIOSK_LIMIT, NUMBER_LIMIT, WINDOW, IdentityRefused, same_person
from tests.conftest import SAMPLE_QR
from tests.kiosk.test_certificate_records import START, SteppedClock  # the wall time a test moves; 09:00 at the site
from tests.support.burst import payload

NUMBER = "064195001234"
# The same number on a forged card: another name, a birth date in the year the number encodes.
FORGED_QR = f"{NUMBER}||Lê Văn Giả|01011995|Nữ|Hà Nội|01012022"




@pytest.fixture
def clock():
    return SteppedClock(START)


@pytest.fixture
def service(store, kiosk_config, clock):
    return CheckinService(store, kiosk_config.kiosk, clock)


def typed(name: str, dob: str, number: str = NUMBER):
    return from_manual(number, name, dob, today=START.date())


def count(store, table: str) -> int:
    return store.query_one(f"SELECT count(*) AS n FROM {table}")["n"]


def test_same_person_compares_as_the_parser_normalises_and_accents_count():
    row = {"full_name": "Trần Thị Hồng Nhung", "dob": "1995-08-12"}
    for name in ("TRẦN THỊ HỒNG NHUNG", "  trần  thị hồng\tnhung ",
                 unicodedata.normalize("NFD", "Trần Thị Hồng Nhung")):
        assert same_person(row, name, dt.date(1995, 8, 12)), name
    assert not same_person(row, "Tran Thi Hong Nhung", "1995-08-12")  # the card has the accents
    assert not same_person(row, "Trần Thị Hồng Nhung", "1995-08-13")
    assert not same_person(row, None, "1995-08-12") and not same_person({"full_name": None, "dob": None}, None, None)


def test_an_entry_with_another_name_gets_nothing_and_flags_the_checkin(store, service):
    first = service.check_in(parse(SAMPLE_QR), "camera")
    jobs = count(store, "print_jobs")
    with pytest.raises(IdentityRefused) as refused:
        service.check_in(parse(FORGED_QR), "camera")
    assert refused.value.code == "identity_mismatch"
    assert refused.value.message_vi == "Thông tin không khớp với lượt đăng ký hôm nay. Vui lòng gặp nhân viên."
    assert refused.value.alerts == [{"code": "identity_mismatch", "ticket": 1, "checkin_id": first.checkin["id"]}]
    assert "Nhung" not in str(refused.value.to_json()) and NUMBER not in str(refused.value.to_json())
    flags = service.verification.flags(first.checkin["id"])
    assert [(f["kind"], f["entry"], f["source"], f["resolved_wall"]) for f in flags] == [
        ("mismatch", "cccd_qr", "camera", None)]
    assert count(store, "print_jobs") == jobs and count(store, "checkins") == 1
    assert service.get(first.checkin["id"])["full_name"] == "Trần Thị Hồng Nhung"  # nothing renamed
    # The holder's own card, again, and their typed name in capitals: their own ticket.
    assert service.check_in(parse(SAMPLE_QR), "serial").ticket == 1
    assert service.check_in(typed("TRẦN THỊ HỒNG NHUNG", "12/08/1995"), "screen").ticket == 1


def test_wrong_tries_for_one_number_pause_it_durably_until_the_window_passes(store, kiosk_config, service, clock):
    service.check_in(parse(SAMPLE_QR), "camera")
    guesses = [typed("Trần Thị Hồng Nhung", f"{day:02d}/08/1995") for day in range(1, NUMBER_LIMIT + 1)]
    alerts = []
    for guess in guesses:
        clock.at += dt.timedelta(minutes=1)
        with pytest.raises(IdentityRefused) as refused:
            service.check_in(guess, "screen")
        assert refused.value.code == "identity_mismatch"
        alerts.append([a["code"] for a in refused.value.alerts])
    assert alerts == [["identity_mismatch"]] * (NUMBER_LIMIT - 1) + [["identity_mismatch", "lookups_paused"]]
    # Paused: even the right birth date gets no answer, at the check-in and in the record check; after a restart too.
    restarted = CheckinService(Store(kiosk_config.db_path), kiosk_config.kiosk, clock)
    right = typed("Trần Thị Hồng Nhung", "12/08/1995")
    for attempt in (lambda: restarted.check_in(right, "screen"),
                    lambda: restarted.verification.lookup(right, "screen")):
        with pytest.raises(IdentityRefused) as refused:
            attempt()
        assert refused.value.code == "lookups_paused"
    assert restarted.verification.pauses() == [
        {"scope": "number", "id_masked": "0641•••••234",
         "until": (START + dt.timedelta(minutes=1) + WINDOW).isoformat(timespec="milliseconds")}]
    audit = store.query("SELECT actor, action, detail FROM audit_log")
    assert [(a["actor"], a["action"]) for a in audit] == [("kiosk:k1", "identity.lookups_paused")]
    assert NUMBER not in audit[0]["detail"]
    # A new check-in of another number is not held up; the paused number's holder passes once the hour is over.
    assert restarted.check_in(parse(payload(1)), "camera").created
    clock.at = START + dt.timedelta(minutes=1) + WINDOW + dt.timedelta(seconds=1)
    restarted.check_in(parse(payload(2)), "camera")  # any check-in forgets tries that no longer count
    assert count(store, "identity_attempts") == NUMBER_LIMIT - 1
    assert restarted.check_in(right, "screen").ticket == 1
    restarted.store.close()


def test_wrong_tries_across_numbers_pause_the_whole_kiosk(store, service, clock):
    holders = [parse(payload(i)) for i in range(KIOSK_LIMIT + 1)]
    for holder in holders:
        service.check_in(holder, "camera")
    for holder in holders[:KIOSK_LIMIT]:  # one wrong try per number: no number reaches its own limit
        clock.at += dt.timedelta(seconds=30)
        with pytest.raises(IdentityRefused):
            service.check_in(typed("Người Khác", f"01/01/{holder.dob.year}", holder.id_number), "screen")
    with pytest.raises(IdentityRefused) as refused:
        service.check_in(holders[-1], "camera")  # the right card of a number never tried
    assert refused.value.code == "lookups_paused"
    assert service.verification.pauses()[0]["scope"] == "kiosk"


def test_a_new_checkin_unlike_the_earlier_records_of_its_number_waits_for_the_card(store, service, clock):
    service.check_in(parse(SAMPLE_QR), "camera")
    clock.at += dt.timedelta(days=1)  # the next day, someone else's card details under the number
    forged = service.check_in(parse(FORGED_QR), "camera").checkin
    assert [f["kind"] for f in service.verification.flags(forged["id"])] == ["other_record"]
    clock.at += dt.timedelta(days=1)
    holder = service.check_in(parse(SAMPLE_QR), "camera").checkin  # matches an earlier record: no flag
    assert service.verification.flags(holder["id"]) == []


def test_record_lookup_needs_the_name_and_birth_date_of_a_record_of_the_number(store, service):
    service.check_in(parse(SAMPLE_QR), "camera")
    service.verification.lookup(parse(SAMPLE_QR), "camera")  # the holder: no refusal
    service.verification.lookup(typed("Ai Đó", "01/01/1990", "001090004321"), "screen")  # nothing here to show
    with pytest.raises(IdentityRefused) as refused:
        service.verification.lookup(typed("Trần Thị Hồng Nhung", "13/08/1995"), "screen")
    assert refused.value.code == "record_mismatch"
    assert [f["kind"] for f in service.verification.flags(service.find_today(NUMBER)["id"])] == ["mismatch"]


def test_a_typed_checkin_waits_for_staff_to_see_the_card_and_the_confirmation_is_audited(store, kiosk_config,
                                                                                         service, clock):
    vaccinations = VaccinationService(store, kiosk_config.kiosk, clock)
    row = service.check_in(typed("Trần Thị Hồng Nhung", "12/08/1995"), "screen").checkin
    assert [f["kind"] for f in service.verification.flags(row["id"])] == ["typed"]
    service.transition(row["id"], "called", "staff:Mai")
    with pytest.raises(IdentityRefused) as refused:
        vaccinations.screen(row["id"], "eligible", "staff:Mai")
    assert refused.value.code == "card_check_needed"
    for number, ticked, code in ((NUMBER[:-1] + "5", True, "card_number_mismatch"),
                                 (NUMBER, False, "card_details_unconfirmed")):
        with pytest.raises(IdentityRefused) as refused:
            service.verification.confirm_card(row["id"], number, ticked, "staff:Mai")
        assert refused.value.code == code
    assert service.verification.confirm_card(row["id"], "0641 9500 1234", True, "staff:Mai") == ["typed"]
    vaccinations.screen(row["id"], "eligible", "staff:Mai")
    audit = store.query("SELECT actor, action, subject FROM audit_log ORDER BY id")
    assert [tuple(a.values()) for a in audit][:1] == [("staff:Mai", "identity.card_seen", row["id"])]


def test_an_entry_that_does_not_match_stops_the_injection_of_a_screened_checkin(store, kiosk_config, service, clock):
    vaccinations = VaccinationService(store, kiosk_config.kiosk, clock)
    row = service.check_in(parse(FORGED_QR), "camera").checkin  # someone checked in first under the number
    service.transition(row["id"], "called", "staff:Mai")
    vaccinations.screen(row["id"], "eligible", "staff:Mai")
    with pytest.raises(IdentityRefused):
        service.check_in(parse(SAMPLE_QR), "camera")  # the holder arrives
    with pytest.raises(IdentityRefused) as refused:
        vaccinations.record_injection(row["id"], Injection("comirnaty", "FK1", 1, "Mai"), "staff:Mai")
    assert refused.value.code == "card_check_needed" and count(store, "vaccinations") == 0


def test_a_released_checkin_frees_the_number_for_the_card_holder(store, service):
    impostor = service.check_in(parse(FORGED_QR), "camera").checkin
    with pytest.raises(IdentityRefused):
        service.check_in(parse(SAMPLE_QR), "camera")
    released = service.release(impostor["id"], "staff:Mai", "card of the holder shows another name")
    assert released["state"] == "left" and released["released_by"] == "staff:Mai"
    assert [f["resolution"] for f in service.verification.flags(impostor["id"])] == ["released"]
    holder = service.check_in(parse(SAMPLE_QR), "camera")
    assert holder.created and holder.ticket == 2 and holder.checkin["full_name"] == "Trần Thị Hồng Nhung"
    assert service.get(impostor["id"])["full_name"] == "Lê Văn Giả"  # kept as it was, no longer holding the number
    with pytest.raises(IdentityRefused):
        service.check_in(parse(FORGED_QR), "camera")  # the impostor again: refused, the holder's check-in flagged
    audit = store.query("SELECT actor, action, reason FROM audit_log")
    assert [tuple(a.values()) for a in audit] == [("staff:Mai", "identity.released",
                                                   "card of the holder shows another name")]


def test_migration_keeps_existing_checkins_and_their_references(kiosk_config):
    old = base_store.Store(kiosk_config.db_path, MIGRATIONS[:5])  # kiosk.db as a version with 5 migrations left it
    with old.transaction() as db:  # a check-in as the 0005 schema wrote it, with a ticket referring to it
        db["checkins"].insert({"id": "c1", "site_id": "GL-01", "kiosk_id": "k1", "day": "2026-11-25",
                               "id_number": NUMBER, "full_name": "Trần Thị Hồng Nhung", "dob": "1995-08-12",
                               "sex": "female", "scan_kind": "cccd_qr", "source": "camera",
                               "created_wall": START.isoformat(), "created_mono": 1.0, "created_boot_id": "b",
                               "created_clock_synced": 1})
        db["tickets"].insert({"checkin_id": "c1", "site_id": "GL-01", "day": "2026-11-25", "number": 1,
                              "state": "waiting", "state_wall": START.isoformat()})
    old.close()
    new = Store(kiosk_config.db_path)
    assert new.schema_version == len(MIGRATIONS) and new.integrity_check() == "ok"
    assert new.query_one("SELECT full_name, released_wall FROM checkins WHERE id='c1'") == {
        "full_name": "Trần Thị Hồng Nhung", "released_wall": None}
    assert new.query("PRAGMA foreign_key_list(tickets)")[0]["table"] == "checkins"
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are on again after the migration
        new.db.conn.execute("INSERT INTO tickets (checkin_id, site_id, day, number, state, state_wall) "
                            "VALUES ('nobody', 'GL-01', '2026-11-25', 2, 'waiting', 'x')")
    with pytest.raises(sqlite3.IntegrityError):  # still one held check-in per number and day
        new.db.conn.execute("INSERT INTO checkins SELECT 'c2', site_id, kiosk_id, day, id_number, full_name, dob, "
                            "sex, address, scan_kind, source, created_wall, created_mono, created_boot_id, "
                            "created_clock_synced, NULL, NULL FROM checkins WHERE id='c1'")
    new.close()
