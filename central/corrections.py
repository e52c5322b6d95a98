"""Corrections (phản ánh) filed by citizens at a kiosk: the site must answer within 48 hours of receipt.

States: received → approved | deferred | rejected (a reason is required for deferred and rejected); a deferred
correction can be decided again. Each decision is stored first, then sent to the kiosk on its `cmd` topic; an outcome
the broker has not taken yet is sent again by `unsent` + `mark_sent` until it has.
"""

from __future__ import annotations

import json

from central.telemetry import Message, wall_time
from kiosk.identity import mask_id

SCHEMA = """
CREATE TABLE corrections (
    record_id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    received_at REAL NOT NULL,          -- central's clock: the 48-hour deadline runs from here
    filed_wall TEXT,                    -- the kiosk's time stamp
    summary TEXT NOT NULL,              -- what staff need to decide: masked id, what is wrong (JSON)
    state TEXT NOT NULL DEFAULT 'received',
    reason TEXT,
    decided_at REAL,
    decided_by TEXT,
    outcome_sent_at REAL
);
CREATE INDEX corrections_state ON corrections (state, received_at);
"""

DEADLINE_SECONDS = 48 * 3600
DECISIONS = ("approved", "deferred", "rejected")
OPEN_STATES = ("received", "deferred")
# Reasons named by the Ministry's guidance of Nov 2021 (9458/BYT-CNTT); "other" asks for free text.
REASONS = {
    "blurred_photo": ("Ảnh chụp không rõ", "The photo is blurred"),
    "mismatch": ("Họ tên / ngày sinh / ngày tiêm không khớp", "Name, date of birth or date does not match"),
    "no_diacritics": ("Họ tên không có dấu", "The name has no diacritics"),
    "edited_form": ("Phiếu đã bị sửa", "The form has been edited"),
    "other": ("Lý do khác", "Other reason"),
}


class DecisionRefused(Exception):
    def __init__(self, code: str, message_vi: str, message_en: str):
        self.code, self.message_vi, self.message_en = code, message_vi, message_en
        super().__init__(f"{code}: {message_en}")


def _summary(data: dict) -> dict:
    """Keep what staff need; the ID number only masked, since the dashboard is seen by many."""
    keep = {k: data[k] for k in ("kind", "dose", "vaccine", "note", "field", "problem") if isinstance(data.get(k), str | int)}
    if isinstance(data.get("id_number"), str):
        keep["id_masked"] = mask_id(data["id_number"])
    return keep


def apply_record(conn, msg: Message, now: float) -> bool:
    at = wall_time(msg.data)
    return conn.execute(
        "INSERT OR IGNORE INTO corrections (record_id, site, kiosk, received_at, filed_wall, summary) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (msg.data["record_id"], msg.site, msg.kiosk, now, at.isoformat() if at else None,
         json.dumps(_summary(msg.data), ensure_ascii=False)),
    ).rowcount == 1


def decide(conn, record_id: str, state: str, reason: str, user: str, now: float) -> dict:
    if state not in DECISIONS:
        raise DecisionRefused("bad_state", "Trạng thái không hợp lệ.", "Unknown decision.")
    if state != "approved" and not reason.strip():
        raise DecisionRefused("reason_required", "Cần ghi lý do.", "A reason is required.")
    row = conn.execute("SELECT state FROM corrections WHERE record_id = ?", (record_id,)).fetchone()
    if row is None:
        raise DecisionRefused("not_found", "Không tìm thấy phản ánh.", "Correction not found.")
    if row[0] not in OPEN_STATES:
        raise DecisionRefused("already_decided", "Phản ánh đã được xử lý.", "This correction is already decided.")
    conn.execute("UPDATE corrections SET state = ?, reason = ?, decided_at = ?, decided_by = ?, outcome_sent_at = NULL "
                 "WHERE record_id = ?", (state, reason.strip() or None, now, user, record_id))
    return dict(conn.execute("SELECT * FROM corrections WHERE record_id = ?", (record_id,)).fetchone())


def outcome_message(row: dict) -> dict:
    return {"schema": 1, "type": "correction_outcome", "record_id": row["record_id"], "state": row["state"],
            "reason": row["reason"], "decided_at": row["decided_at"]}


def unsent(store) -> list[dict]:
    return store.query("SELECT * FROM corrections WHERE decided_at IS NOT NULL AND outcome_sent_at IS NULL")


def mark_sent(conn, record_id: str, decided_at: float, now: float) -> None:
    # Only if no newer decision was made while this one was in flight.
    conn.execute("UPDATE corrections SET outcome_sent_at = ? WHERE record_id = ? AND decided_at = ?",
                 (now, record_id, decided_at))


def listing(store, now: float) -> list[dict]:
    rows = store.query("SELECT * FROM corrections ORDER BY (state IN ('received','deferred')) DESC, received_at")
    for r in rows:
        r["summary"] = json.loads(r["summary"])
        r["due_at"] = r["received_at"] + DEADLINE_SECONDS
        r["remaining_s"] = r["due_at"] - now
        r["overdue"] = r["state"] in OPEN_STATES and r["remaining_s"] < 0
    return rows
