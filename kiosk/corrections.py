"""Citizens' correction requests on their vaccination record ("a dose is missing", "a dose is wrong").

Filed at the kiosk, answered at central: one transaction writes the request, its audit entry and its outbox entry
(stream "corrections"), so it reaches central exactly once; central's outcome is applied with its own audit entry. Central must answer within base.corrections.DEADLINE (48 hours; the
deadline travels with it).
"""

from __future__ import annotations

import datetime as dt
import uuid

from base.corrections import DEADLINE, KINDS, MAX_REASON_CHARS, OUTCOMES
from base.records import Stamp, record
from base.refusal import Refusal
from kiosk import audit, checkin
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.outbox import enqueue
from kiosk.store import Store
from kiosk.vaccination import checkin_of_dose

ERRORS = {
    "bad_kind": ("Loại yêu cầu không hợp lệ.", "The kind of request is not valid."),
    "bad_outcome": ("Kết quả xử lý từ trung tâm không hợp lệ.", "Central's outcome message is not valid."),
    "reason_required": ("Vui lòng ghi ngắn gọn lý do (tối đa 300 ký tự).",
                        "Please give a short reason (at most 300 characters)."),
    "unknown_dose": ("Không tìm thấy mũi tiêm này trong hồ sơ.", "This dose is not in the record."),
}


class CorrectionRefused(Refusal):
    MESSAGES = ERRORS


class Corrections:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock or Clock(settings.utc_offset_hours)

    def file(self, id_number: str, kind: str, reason: str, vaccination_id: str | None = None) -> dict:
        if kind not in KINDS:
            raise CorrectionRefused("bad_kind")
        reason = " ".join(str(reason or "").split())
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise CorrectionRefused("reason_required")
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
        with self.store.transaction() as db:
            if vaccination_id and checkin.number_of(db, checkin_of_dose(db, vaccination_id) or "") != id_number:
                raise CorrectionRefused("unknown_dose")
            db["corrections"].insert(row)
            # The audit log holds no personal data: the request's id and kind, never the number or the reason.
            audit.record(db, "kiosk:citizen", "correction.filed", row["id"], None,
                         {"kind": kind, "vaccination_id": row["vaccination_id"]}, stamp=stamp)
            enqueue(db, "corrections", correction_record(row, stamp), stamp)
        return row

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


def correction_record(row: dict, stamp: Stamp) -> dict:
    """What central gets: the ID number is needed to find the person's record there; no name or birth date."""
    return record("corrections", row["id"], row["site_id"], row["kiosk_id"], stamp, id_number=row["id_number"],
                  kind=row["kind"], vaccination_id=row["vaccination_id"], reason=row["reason"],
                  filed_at=row["filed_wall"], deadline=row["deadline_wall"])
