"""Citizens' correction requests on their vaccination record ("a dose is missing", "a dose is wrong").

Filed at the kiosk, answered at central: one transaction writes the request, its audit entry and its outbox entry
(stream "corrections"), so it reaches central exactly once; central's outcome is applied with its own audit entry. Central must answer within base.corrections.DEADLINE (48 hours; the
deadline travels with it).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid

from base.corrections import DEADLINE, KINDS, MAX_PLACE_CHARS, MAX_REASON_CHARS, OUTCOMES, new_reference
from base.records import Stamp, record
from base.refusal import Refusal
from kiosk import audit, checkin
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.outbox import enqueue
from kiosk.printing import jobs
from kiosk.store import Store
from kiosk.vaccination import checkin_of_dose, dose_record
from kiosk.vaccines import MAX_DOSES, VACCINES

FIRST_DAY = dt.date(2021, 1, 1)  # no COVID-19 dose in Vietnam before this: an earlier day is a typing mistake

ERRORS = {
    "bad_kind": ("Loại yêu cầu không hợp lệ.", "The kind of request is not valid."),
    "bad_outcome": ("Kết quả xử lý từ trung tâm không hợp lệ.", "Central's outcome message is not valid."),
    "reason_required": ("Vui lòng ghi ngắn gọn lý do (tối đa 300 ký tự).",
                        "Please give a short reason (at most 300 characters)."),
    "unknown_dose": ("Không tìm thấy mũi tiêm này trong hồ sơ.", "This dose is not in the record."),
    "claim_day": ("Ngày tiêm không hợp lệ (ngày/tháng/năm, từ 2021 đến hôm nay).",
                  "The day of the dose is not valid (dd/mm/yyyy, from 2021 to today)."),
    "claim_dose": (f"Mũi tiêm thứ mấy? Chọn từ 1 đến {MAX_DOSES}.", f"Which dose? Choose 1 to {MAX_DOSES}."),
    "claim_vaccine": ("Loại vắc xin không có trong danh sách.", "This vaccine is not in the list."),
    "claim_place": (f"Vui lòng ghi nơi đã tiêm (tối đa {MAX_PLACE_CHARS} ký tự).",
                    f"Please give where the dose was given (at most {MAX_PLACE_CHARS} characters)."),
}


class CorrectionRefused(Refusal):
    MESSAGES = ERRORS


class Corrections:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock or Clock(settings.utc_offset_hours)

    def file(self, id_number: str, kind: str, reason: str, vaccination_id: str | None = None,
             claim: dict | None = None) -> dict:
        """File a request: its record, audit entry, outbox entry and the citizen's slip (a print job) in one commit.

        `claim`, for a missing dose: what the citizen says happened (day, dose_number, vaccine, place). A wrong dose
        is described by the dose as recorded here. The row returned carries the citizen's `reference`."""
        if kind not in KINDS:
            raise CorrectionRefused("bad_kind")
        reason = " ".join(str(reason or "").split())
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise CorrectionRefused("reason_required")
        about = self._claimed(claim or {}) if kind == "missing_dose" else {}
        stamp = self.clock.stamp()
        filed = dt.datetime.fromisoformat(stamp.wall)
        row = {
            "id": uuid.uuid4().hex,
            "site_id": self.settings.site_id,
            "kiosk_id": self.settings.kiosk_id,
            "id_number": id_number,
            "kind": kind,
            "vaccination_id": vaccination_id or None,
            "reason": reason,
            "filed_wall": stamp.wall,
            "deadline_wall": (filed + DEADLINE).isoformat(timespec="milliseconds"),
        }
        for attempt in range(3):  # a reference already given (unique index; 1 in 10^11) is drawn again
            row["reference"] = new_reference()
            try:
                with self.store.transaction() as db:
                    visit = self._visit(db, id_number, vaccination_id)
                    if kind == "wrong_dose" and vaccination_id:
                        about = recorded_dose(dose_record(self.store, vaccination_id))
                    row["about"] = json.dumps(about, ensure_ascii=False)
                    db["corrections"].insert(row)
                    # The audit log holds no personal data: the request's id and kind, never the number or reason.
                    audit.record(db, "kiosk:citizen", "correction.filed", row["id"], None,
                                 {"kind": kind, "vaccination_id": row["vaccination_id"]}, stamp=stamp)
                    enqueue(db, "corrections", correction_record(row, stamp), stamp)
                    if visit:  # print jobs hang off a check-in: the visit the record check found
                        jobs.add(db, "correction", visit, stamp, subject_id=row["id"])
                return {**row, "about": about, "slip": bool(visit)}
            except sqlite3.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("the loop returns or raises")

    def _visit(self, db, id_number: str, vaccination_id: str | None) -> str | None:
        """The check-in the request's slip hangs off: the dose's, or the number's latest visit here."""
        if vaccination_id:
            visit = checkin_of_dose(db, vaccination_id)
            if checkin.number_of(db, visit or "") != id_number:
                raise CorrectionRefused("unknown_dose")
            return visit
        visits = checkin.visits_by_number(self.store, id_number)
        return max(visits.values(), key=lambda v: v["day"])["id"] if visits else None

    def _claimed(self, claim: dict) -> dict:
        """The citizen's account of a missing dose, checked: each field or a refusal naming it."""
        raw_day = str(claim.get("day", "")).strip()
        try:
            day = (dt.datetime.strptime(raw_day, "%d/%m/%Y").date() if "/" in raw_day
                   else dt.date.fromisoformat(raw_day))
        except ValueError:
            raise CorrectionRefused("claim_day") from None
        if not FIRST_DAY <= day <= self.clock.now().astimezone(self.clock.tz).date():
            raise CorrectionRefused("claim_day")
        number = claim.get("dose_number")
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_DOSES:
            raise CorrectionRefused("claim_dose")
        vaccine = str(claim.get("vaccine") or "")
        if vaccine and vaccine not in VACCINES:
            raise CorrectionRefused("claim_vaccine")
        place = " ".join(str(claim.get("place") or "").split())
        if not place or len(place) > MAX_PLACE_CHARS:
            raise CorrectionRefused("claim_place")
        about = {"about_day": day.isoformat(), "about_dose_number": number, "about_place": place}
        if vaccine:
            about["about_vaccine"] = vaccine
        return about

    def apply_outcome(self, args: dict) -> bool:
        """Central's decision (command correction_outcome: record_id, state, reason, decided_at). Central resends an
        outcome until the broker takes it, so the same decision can arrive twice: it is applied once, and an older
        decision never overwrites a newer one. Returns whether the record changed."""
        record_id, state = args.get("record_id"), args.get("state")
        decided_at = args.get("decided_at")
        if (not isinstance(record_id, str) or state not in OUTCOMES or isinstance(decided_at, bool)
                or not isinstance(decided_at, (int, float))):
            raise CorrectionRefused("bad_outcome")
        reason = str(args.get("reason") or "")[:MAX_REASON_CHARS]
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            changed = db.conn.execute(
                "UPDATE corrections SET outcome_state=?, outcome_reason=?, outcome_decided_at=? "
                "WHERE id=? AND (outcome_decided_at IS NULL OR outcome_decided_at < ?)",
                (state, reason, decided_at, record_id, decided_at)).rowcount
            if changed:
                audit.record(db, "central", "correction.outcome", record_id, None,
                             {"state": state, "decided_at": decided_at}, stamp=stamp)
        return bool(changed)

    def for_site(self, limit: int = 200) -> list[dict]:
        return self.store.query("SELECT * FROM corrections WHERE site_id=? ORDER BY deadline_wall LIMIT ?",
                                (self.settings.site_id, limit))


def recorded_dose(dose: dict | None) -> dict:
    """A dose as recorded here, in the record's about_* fields (what a wrong_dose request is about)."""
    if dose is None:
        return {}
    return {"about_dose_number": dose["dose_number"], "about_vaccine": dose["vaccine"], "about_lot": dose["lot"],
            "about_day": dose["day"], "about_site": dose["site_id"]}


def get(store: Store, correction_id: str) -> dict | None:
    return store.query_one("SELECT * FROM corrections WHERE id=?", (correction_id,))


def by_reference(store: Store, reference: str) -> dict | None:
    """A request filed here, by its citizen's reference (base.corrections.read_reference's digits)."""
    return store.query_one("SELECT * FROM corrections WHERE reference=?", (reference,))


def correction_record(row: dict, stamp: Stamp) -> dict:
    """What central gets: the ID number is needed to find the person's record there; no name or birth date. The
    reference and what the request is about (about_*) were added later: older records have neither."""
    about = row["about"] if isinstance(row.get("about"), dict) else json.loads(row.get("about") or "{}")
    return record("corrections", row["id"], row["site_id"], row["kiosk_id"], stamp, id_number=row["id_number"],
                  kind=row["kind"], vaccination_id=row["vaccination_id"], reason=row["reason"],
                  filed_at=row["filed_wall"], deadline=row["deadline_wall"], reference=row.get("reference"),
                  **about)
