"""Citizens' correction requests on their vaccination record ("a dose is missing", "a dose is wrong").

Filed at the kiosk, answered at central: one transaction writes the request and its outbox entry (stream
"corrections"), so it reaches central exactly once. Central must answer within base.corrections.DEADLINE (48 hours; the
deadline travels with it).
"""

from __future__ import annotations

import datetime as dt
import uuid

from base.corrections import DEADLINE, KINDS, MAX_REASON_CHARS, OUTCOMES
from base.records import Stamp, record
from kiosk.checkin import CheckinRefused
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.outbox import enqueue
from kiosk.store import Store

ERRORS = {
    "bad_kind": ("Loại yêu cầu không hợp lệ.", "The kind of request is not valid."),
    "bad_outcome": ("Kết quả xử lý từ trung tâm không hợp lệ.", "Central's outcome message is not valid."),
    "reason_required": ("Vui lòng ghi ngắn gọn lý do (tối đa 300 ký tự).",
                        "Please give a short reason (at most 300 characters)."),
    "unknown_dose": ("Không tìm thấy mũi tiêm này trong hồ sơ.", "This dose is not in the record."),
}


class CorrectionRefused(CheckinRefused):
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
            if vaccination_id and not db.conn.execute(
                "SELECT 1 FROM vaccinations v JOIN checkins c ON c.id = v.checkin_id WHERE v.id=? AND c.id_number=?",
                (vaccination_id, id_number),
            ).fetchone():
                raise CorrectionRefused("unknown_dose")
            db["corrections"].insert(row)
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
        with self.store.transaction() as db:
            changed = db.conn.execute(
                "UPDATE corrections SET outcome_state=?, outcome_reason=?, outcome_decided_at=? "
                "WHERE id=? AND (outcome_decided_at IS NULL OR outcome_decided_at < ?)",
                (state, reason, decided_at, record_id, decided_at)).rowcount
        return bool(changed)

    def for_site(self, limit: int = 200) -> list[dict]:
        return self.store.query("SELECT * FROM corrections WHERE site_id=? ORDER BY deadline_wall LIMIT ?",
                                (self.settings.site_id, limit))


def correction_record(row: dict, stamp: Stamp) -> dict:
    """What central gets: the ID number is needed to find the person's record there; no name or birth date."""
    return record("corrections", row["id"], row["site_id"], row["kiosk_id"], stamp, id_number=row["id_number"],
                  kind=row["kind"], vaccination_id=row["vaccination_id"], reason=row["reason"],
                  filed_at=row["filed_wall"], deadline=row["deadline_wall"])
