"""Corrections, staff accounts and reprints on a real SQLite file; the staff CLI as a subprocess."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from base.refusal import Refusal
from kiosk.corrections import Corrections
from kiosk.identity import parse
from kiosk.reprints import reprint
from kiosk.staff_accounts import MAX_FAILURES, AccountError, StaffAccounts
from base.corrections import read_reference, show_reference
from base.protocol import validate
from kiosk.checkin import CheckinService
from tests.conftest import SAMPLE_QR, vaxkiosk, write_config
from tests.support.clock import SteppedClock


NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.timezone.utc)  # 10:00 in Vietnam
CLAIM = {"day": "03/05/2026", "dose_number": "2", "vaccine": "comirnaty", "place": "  Trạm Y tế   Ia Kha "}


def test_correction_and_its_outbox_entry_commit_together(store, kiosk_config):
    corrections = Corrections(store, kiosk_config.kiosk, SteppedClock(NOW))
    row = corrections.file("064195001234", "missing_dose", "  dose 2 given here   in May ", claim=CLAIM)
    out = store.query("SELECT stream, payload FROM outbox")
    assert len(out) == 1 and out[0]["stream"] == "corrections"
    payload = json.loads(out[0]["payload"])
    at = payload.pop("at")
    assert at["wall"] == row["filed_wall"] and at["boot_id"] and isinstance(at["clock_synced"], bool)
    assert read_reference(row["reference"]) == row["reference"] and payload["reference"] == row["reference"]
    assert payload == {"schema": 1, "type": "correction", "record_id": row["id"], "site": "GL-01", "kiosk": "k1",
                       "id_number": "064195001234", "kind": "missing_dose", "vaccination_id": None,
                       "reason": "dose 2 given here in May", "filed_at": row["filed_wall"],
                       "deadline": row["deadline_wall"], "reference": row["reference"],
                       # what the citizen says happened, checked and tidied
                       "about_day": "2026-05-03", "about_dose_number": 2, "about_vaccine": "comirnaty",
                       "about_place": "Trạm Y tế Ia Kha"}
    validate("record", json.loads(out[0]["payload"]), "corrections")  # the protocol takes it
    filed = dt.datetime.fromisoformat(payload["filed_at"])
    assert dt.datetime.fromisoformat(payload["deadline"]) - filed == dt.timedelta(hours=48)
    assert [r["id"] for r in corrections.for_site()] == [row["id"]]
    # Audited in the same commit, without the person: the request's id and kind only.
    audit = store.query("SELECT actor, action, subject, reason, detail FROM audit_log")
    assert audit == [{"actor": "kiosk:citizen", "action": "correction.filed", "subject": row["id"], "reason": None,
                      "detail": json.dumps({"kind": "missing_dose", "vaccination_id": None})}]


@pytest.mark.parametrize("kind, reason, dose, claim, code", [
    ("other", "x", None, CLAIM, "bad_kind"),
    ("missing_dose", "   ", None, CLAIM, "reason_required"),
    ("missing_dose", "x" * 301, None, CLAIM, "reason_required"),
    ("wrong_dose", "wrong lot", "not-a-dose-of-this-person", None, "unknown_dose"),
    ("missing_dose", "x", None, None, "claim_day"),
    ("missing_dose", "x", None, {**CLAIM, "day": "02/12/2026"}, "claim_day"),  # tomorrow in Vietnam
    ("missing_dose", "x", None, {**CLAIM, "day": "31/12/2020"}, "claim_day"),
    ("missing_dose", "x", None, {**CLAIM, "day": "31/02/2026"}, "claim_day"),
    ("missing_dose", "x", None, {**CLAIM, "dose_number": 8}, "claim_dose"),
    ("missing_dose", "x", None, {**CLAIM, "dose_number": True}, "claim_dose"),
    ("missing_dose", "x", None, {**CLAIM, "vaccine": "<script>"}, "claim_vaccine"),
    ("missing_dose", "x", None, {**CLAIM, "place": " "}, "claim_place"),
    ("missing_dose", "x", None, {**CLAIM, "place": "x" * 121}, "claim_place"),
])
def test_bad_corrections_write_nothing(store, kiosk_config, kind, reason, dose, claim, code):
    with pytest.raises(Refusal) as exc:
        Corrections(store, kiosk_config.kiosk, SteppedClock(NOW)).file("064195001234", kind, reason, dose, claim)
    assert exc.value.code == code and exc.value.message_vi
    assert store.query("SELECT * FROM corrections") == [] and store.query("SELECT * FROM outbox") == []


def test_a_correction_prints_the_citizens_slip_with_its_reference(store, kiosk_config):
    from drivers.escpos_render import render_bytes
    from kiosk.printing import jobs
    from kiosk.printing.render import render_job

    clock = SteppedClock(NOW)
    checkin = CheckinService(store, kiosk_config.kiosk).check_in(parse(SAMPLE_QR), "camera").checkin
    row = Corrections(store, kiosk_config.kiosk, clock).file("064195001234", "missing_dose", "dose 2", claim=CLAIM)
    assert row["slip"]
    job = next(j for j in jobs.newest(store, 10) if j["kind"] == "correction")
    assert job["subject_id"] == row["id"] and job["checkin_id"] == checkin["id"]  # the visit the lookup found
    data = render_job(store, job, kiosk_config, clock)
    printed = render_bytes(data, kiosk_config.printer.profile)  # the strict interpreter: what comes out of a printer
    assert len(printed) == 1
    assert [run["text"] for run in printed[0].text_runs] == [show_reference(row["reference"])]
    assert "064195001234".encode() not in data  # the number only masked, and only as pixels
    # Done, a slip is no print event: central counts tickets and certificates, not receipts.
    jobs.mark_done(store, job["id"], clock.stamp(), {"site_id": "GL-01", "kiosk_id": "k1"})
    assert [r["stream"] for r in store.query("SELECT stream FROM outbox ORDER BY seq")] == ["checkins", "corrections"]


def test_pin_is_hashed_and_account_locks_after_repeated_failures(store):
    accounts = StaffAccounts(store)
    accounts.add("Lê Thị Mai", "staff", "482913")
    assert "482913" not in json.dumps(store.query("SELECT * FROM staff_accounts"))
    assert accounts.authenticate("Lê Thị Mai", "482913")["role"] == "staff"
    for attempt in range(MAX_FAILURES):
        with pytest.raises(AccountError) as exc:
            accounts.authenticate("Lê Thị Mai", "111111")
        assert exc.value.code == ("locked" if attempt == MAX_FAILURES - 1 else "bad_login")
    with pytest.raises(AccountError) as exc:
        accounts.authenticate("Lê Thị Mai", "482913")
    assert exc.value.code == "locked"
    with pytest.raises(AccountError) as exc:
        accounts.authenticate("Nobody", "482913")
    assert exc.value.code == "bad_login"


def test_the_last_try_before_the_lock_is_announced(store):
    accounts = StaffAccounts(store)
    accounts.add("Lê Thị Mai", "staff", "482913")
    messages = []
    for _ in range(MAX_FAILURES):
        with pytest.raises(AccountError) as exc:
            accounts.authenticate("Lê Thị Mai", "111111")
        messages.append(exc.value)
    assert [m.code for m in messages] == ["bad_login"] * (MAX_FAILURES - 1) + ["locked"]
    warned = messages[MAX_FAILURES - 2]  # the 4th wrong PIN says the next one locks
    assert "Chỉ còn 1 lần thử" in warned.message_vi and "One try left" in warned.message_en
    assert all("1 lần thử" not in m.message_vi for m in messages[:MAX_FAILURES - 2])


def test_staff_cli_unlocks_resets_and_removes_accounts_with_an_audit_entry(tmp_path):
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "data")
    vaxkiosk("staff", "add", "--config", str(config), "--name", "Lê Thị Mai", "--role", "staff", "--pin-stdin",
             input=b"482913\n", check=True)
    from kiosk.store import Store

    store = Store(tmp_path / "data" / "kiosk.db")
    accounts = StaffAccounts(store)
    for _ in range(MAX_FAILURES):
        with pytest.raises(AccountError):
            accounts.authenticate("Lê Thị Mai", "000000")
    assert accounts.get("Lê Thị Mai")["locked_until_wall"]

    proc = vaxkiosk("staff", "unlock", "Lê Thị Mai", "--config", str(config))
    assert proc.returncode == 0 and json.loads(proc.stdout)["locked_until_wall"] is None
    assert accounts.authenticate("Lê Thị Mai", "482913")["name"] == "Lê Thị Mai"  # the right PIN works again

    proc = vaxkiosk("staff", "reset-pin", "Lê Thị Mai", "--config", str(config))
    new = json.loads(proc.stdout)["pin"]
    assert proc.returncode == 0 and len(new) == 6 and new != "482913"
    with pytest.raises(AccountError):
        accounts.authenticate("Lê Thị Mai", "482913")  # the old PIN is gone at once
    assert accounts.authenticate("Lê Thị Mai", new)
    bad = vaxkiosk("staff", "reset-pin", "Lê Thị Mai", "--pin-stdin", "--config", str(config), input=b"12\n")
    assert bad.returncode == 1 and json.loads(bad.stdout)["error"]["code"] == "bad_pin"

    proc = vaxkiosk("staff", "remove", "Lê Thị Mai", "--config", str(config))
    assert proc.returncode == 0 and json.loads(proc.stdout)["active"] is False
    assert accounts.names() == []
    with pytest.raises(AccountError) as exc:
        accounts.authenticate("Lê Thị Mai", new)
    assert exc.value.code == "bad_login"
    gone = vaxkiosk("staff", "unlock", "Nobody", "--config", str(config))
    error = json.loads(gone.stdout)["error"]
    assert gone.returncode == 1 and error["code"] == "unknown_account"
    assert "Nobody" in error["message_vi"] and "Nobody" in error["message_en"]
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE subject='staff:Lê Thị Mai' "
                                                "AND actor='cli' ORDER BY id")]
    assert actions == ["staff_add", "staff_unlock", "staff_reset_pin", "staff_remove"]
    store.close()


@pytest.mark.parametrize("name, role, pin, code", [
    ("A", "admin", "1234", "bad_role"), ("A", "staff", "12", "bad_pin"), ("A", "staff", "12ab", "bad_pin"),
    ("  ", "staff", "1234", "bad_name"),
])
def test_bad_accounts_are_refused(store, name, role, pin, code):
    with pytest.raises(AccountError) as exc:
        StaffAccounts(store).add(name, role, pin)
    assert exc.value.code == code


def test_staff_cli_prints_a_generated_pin_once_and_refuses_a_taken_name(tmp_path):
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "data")
    proc = vaxkiosk("staff", "add", "--config", str(config), "--name", "Lê Thị Mai", "--role", "staff")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and len(out["pin"]) == 6 and out["pin"].isdigit()
    again = vaxkiosk("staff", "add", "--config", str(config), "--name", "Lê Thị Mai", "--role", "technician",
                     "--pin-stdin", input=b"123456\n")
    assert again.returncode == 1 and json.loads(again.stdout)["error"]["code"] == "name_taken"
    listed = [json.loads(line) for line in vaxkiosk("staff", "list", "--config", str(config)).stdout.splitlines()]
    assert [(a["name"], a["role"]) for a in listed] == [("Lê Thị Mai", "staff")]
    assert "pin_hash" not in listed[0]


def test_reprints_number_their_copies_and_are_audited(store, checkins, kiosk_config):
    from kiosk.clock import Clock

    row = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    clock = Clock()
    assert reprint(store, clock, "ticket", row["id"], "staff:Mai", "lost")["copy"] == 1
    assert reprint(store, clock, "ticket", row["id"], "staff:Mai", "lost again")["copy"] == 2
    with pytest.raises(Refusal) as exc:
        reprint(store, clock, "certificate", row["id"], "staff:Mai", "lost")
    assert exc.value.code == "no_certificate"
    with pytest.raises(Refusal) as exc:
        reprint(store, clock, "ticket", row["id"], "staff:Mai", " ")
    assert exc.value.code == "reason_required"
    assert [(j["kind"], j["copy"]) for j in store.query("SELECT * FROM print_jobs ORDER BY id")] == [
        ("ticket", 0), ("ticket", 1), ("ticket", 2)]
    assert [(a["actor"], a["action"], a["reason"]) for a in store.query("SELECT * FROM audit_log ORDER BY id")] == [
        ("staff:Mai", "print.reprint", "lost"), ("staff:Mai", "print.reprint", "lost again")]


def test_central_outcome_is_applied_once_and_never_by_an_older_decision(store, kiosk_config):
    corrections = Corrections(store, kiosk_config.kiosk, SteppedClock(NOW))
    row = corrections.file("064195001234", "missing_dose", "dose 2", claim=CLAIM)
    assert corrections.apply_outcome({"record_id": row["id"], "state": "deferred", "reason": "chờ", "decided_at": 100.0})
    assert not corrections.apply_outcome({"record_id": row["id"], "state": "deferred", "reason": "chờ",
                                          "decided_at": 100.0})  # resent: no change
    assert corrections.apply_outcome({"record_id": row["id"], "state": "approved", "decided_at": 200.5})
    assert not corrections.apply_outcome({"record_id": row["id"], "state": "rejected", "decided_at": 150})
    kept = store.query_one("SELECT outcome_state FROM corrections")
    assert kept["outcome_state"] == "approved"
    # Each decision that changed the request is audited once, a resent or older one is not.
    outcomes = store.query("SELECT actor, subject, detail FROM audit_log WHERE action='correction.outcome' ORDER BY id")
    assert [(a["actor"], a["subject"], json.loads(a["detail"])["state"]) for a in outcomes] == [
        ("central", row["id"], "deferred"), ("central", row["id"], "approved")]
    for bad in ({}, {"record_id": row["id"], "state": "maybe", "decided_at": 1},
                {"record_id": row["id"], "state": "approved", "decided_at": "soon"}):
        with pytest.raises(Exception) as e:
            corrections.apply_outcome(bad)
        assert e.value.code == "bad_outcome"
