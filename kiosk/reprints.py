"""Reprint of a ticket or a certificate: a new print_jobs row (copy = n-th reprint) and its audit entry, one commit.

Integration point with branch `print`: the printer worker prints any pending print_jobs row; when that branch ships
its own reprint function, the staff desk's call to `reprint` is the one line to switch.
"""

from __future__ import annotations

from kiosk import audit
from kiosk.checkin import CheckinRefused
from kiosk.clock import Clock
from kiosk.store import Store

KINDS = ("ticket", "certificate")


class ReprintRefused(CheckinRefused):
    MESSAGES = {
        "reason_required": ("Cần ghi lý do in lại.", "A reason for the reprint is required."),
        "no_certificate": ("Chưa có giấy chứng nhận để in lại.", "There is no certificate to reprint yet."),
        "bad_kind": ("Loại bản in không hợp lệ.", "Unknown kind of printout."),
    }

    def __init__(self, code: str):
        self.code = code
        self.message_vi, self.message_en = self.MESSAGES[code]
        Exception.__init__(self, code)


def reprint(store: Store, clock: Clock, kind: str, checkin_id: str, actor: str, reason: str) -> dict:
    if kind not in KINDS:
        raise ReprintRefused("bad_kind")
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ReprintRefused("reason_required")
    stamp = clock.stamp()
    with store.transaction() as db:
        if not db.conn.execute("SELECT 1 FROM checkins WHERE id=?", (checkin_id,)).fetchone():
            raise CheckinRefused("not_found", checkin_id)
        subject = None
        if kind == "certificate":
            # Only after the observation ended (the original certificate job exists) is there a certificate.
            row = db.conn.execute("SELECT subject_id FROM print_jobs WHERE kind='certificate' AND checkin_id=? "
                                  "AND copy=0", (checkin_id,)).fetchone()
            if row is None:
                raise ReprintRefused("no_certificate")
            subject = row[0]
        copy = db.conn.execute("SELECT COALESCE(MAX(copy), 0) + 1 FROM print_jobs WHERE kind=? AND checkin_id=?",
                               (kind, checkin_id)).fetchone()[0]
        job_id = db["print_jobs"].insert({"kind": kind, "checkin_id": checkin_id, "subject_id": subject,
                                          "copy": copy, "state": "pending", "created_wall": stamp.wall,
                                          "updated_wall": stamp.wall}).last_pk
        audit.record(db, actor, f"reprint:{kind}", checkin_id, reason, {"print_job": job_id, "copy": copy},
                     stamp=stamp)
    return {"print_job": job_id, "kind": kind, "copy": copy}
