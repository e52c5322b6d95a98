"""Corrections (phản ánh) filed by citizens at a kiosk: the site must answer within 48 hours of receipt.

The correction records themselves are the aggregator's (stream `corrections` in central.store, deduplicated, with
central's receipt time); the decisions are kept here, in ops.db. States: received → approved | deferred | rejected
(a reason is required for deferred and rejected); a deferred correction can be decided again. Each decision is
committed first, then sent to the kiosk as a `correction_outcome` command; an outcome the broker has not taken yet
is sent again (`unsent` + `mark_sent`) until it has.
"""

from __future__ import annotations

from base.corrections import (DEADLINE, KIND_WORDS, OUTCOMES, REASONS, STATE_WORDS,  # noqa: F401 - for the pages
                              about_words, reason_code)
from base.privacy import mask_id
from base.refusal import Refusal
from central.fleet import epoch

SCHEMA = """
CREATE TABLE correction_decisions (
    record_id TEXT PRIMARY KEY,         -- the correction record's id
    site TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    state TEXT NOT NULL,                -- approved | deferred | rejected
    reason TEXT,
    decided_at REAL NOT NULL,
    decided_by TEXT NOT NULL,
    outcome_sent_at REAL
);
"""

DEADLINE_SECONDS = DEADLINE.total_seconds()
# Correction records a reference look-up reads, newest first. A scan: the aggregator's records table has no column
# for the reference (a JSON field of the payload), and look-ups are rate-limited.
LOOKUP_SCAN = 20000
OPEN_STATES = ("received", "deferred")
SUMMARY_KEYS = ("kind", "reason", "filed_at")  # of kiosk.corrections' record (docs/protocol.md)



class DecisionRefused(Refusal):
    def __init__(self, code: str, message_vi: str, message_en: str):
        super().__init__(code, message_vi=message_vi, message_en=message_en)


def _summary(payload: dict) -> dict:
    """What staff need to decide; an ID number only masked, since the dashboard is seen by many."""
    keep = {k: payload[k] for k in SUMMARY_KEYS if isinstance(payload.get(k), (str, int))}
    person = payload.get("person") if isinstance(payload.get("person"), dict) else payload
    if isinstance(person.get("id_number"), str):
        keep["id"] = mask_id(person["id_number"])
    return keep


def outcome_by_reference(store, ops_store, reference: str) -> dict | None:
    """The outcome of the correction given `reference` (12 digits), with nothing about the person: kind, the day it
    was filed, state, the decision's reason only when it is one of REASONS (staff's free text may name people)."""
    rec = next((r for r in store.records("corrections", limit=LOOKUP_SCAN)
                if r["payload"].get("reference") == reference), None)
    if rec is None:
        return None
    d = ops_store.query_one("SELECT state, reason, decided_at FROM correction_decisions WHERE record_id = ?",
                            (rec["record_id"],)) or {}
    return {"reference": reference, "kind": rec["payload"].get("kind"), "filed_day": rec["day"],
            "state": d.get("state", "received"), "decided_at": d.get("decided_at"),
            "reason_code": reason_code(d.get("reason"))}


def listing(store, ops_store, now: float, sites: dict | None = None) -> list[dict]:
    decisions = {r["record_id"]: r for r in ops_store.query("SELECT * FROM correction_decisions")}
    rows = []
    for rec in store.records("corrections", limit=5000):
        d = decisions.get(rec["record_id"], {})
        received = epoch(rec["received"])
        state = d.get("state", "received")
        rows.append({
            "record_id": rec["record_id"], "site": rec["site"], "kiosk": rec["kiosk"], "received_at": received,
            "summary": _summary(rec["payload"]),
            "about": about_words(rec["payload"], {k: v.name for k, v in (sites or {}).items()}),
            "reference": rec["payload"].get("reference"), "state": state, "reason": d.get("reason"),
            "decided_at": d.get("decided_at"), "decided_by": d.get("decided_by"),
            "outcome_sent_at": d.get("outcome_sent_at"), "due_at": received + DEADLINE_SECONDS,
            "remaining_s": received + DEADLINE_SECONDS - now,
            "overdue": state in OPEN_STATES and received + DEADLINE_SECONDS < now,
        })
    rows.sort(key=lambda r: (r["state"] not in OPEN_STATES, r["received_at"]))
    return rows


def decide(conn, record: dict | None, state: str, reason: str, user: str, now: float) -> None:
    """Record a decision in ops.db (caller's transaction). `record` is the correction's row from central.store."""
    if state not in OUTCOMES:
        raise DecisionRefused("bad_state", "Trạng thái không hợp lệ.", "Unknown decision.")
    if state != "approved" and not reason.strip():
        raise DecisionRefused("reason_required", "Cần ghi lý do.", "A reason is required.")
    if record is None:
        raise DecisionRefused("not_found", "Không tìm thấy phản ánh.", "Correction not found.")
    row = conn.execute("SELECT state FROM correction_decisions WHERE record_id = ?", (record["record_id"],)).fetchone()
    if row is not None and row[0] not in OPEN_STATES:
        raise DecisionRefused("already_decided", "Phản ánh đã được xử lý.", "This correction is already decided.")
    conn.execute(
        "INSERT INTO correction_decisions VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (record_id) DO UPDATE SET "
        "state = excluded.state, reason = excluded.reason, decided_at = excluded.decided_at, "
        "decided_by = excluded.decided_by, outcome_sent_at = NULL",
        (record["record_id"], record["site"], record["kiosk"], state, reason.strip() or None, now, user))


def outcome_args(row: dict) -> dict:
    return {"record_id": row["record_id"], "state": row["state"], "reason": row["reason"],
            "decided_at": row["decided_at"]}


def unsent(ops_store) -> list[dict]:
    return ops_store.query("SELECT * FROM correction_decisions WHERE outcome_sent_at IS NULL")


def mark_sent(conn, record_id: str, decided_at: float, now: float) -> None:
    # Only if no newer decision was made while this one was in flight.
    conn.execute("UPDATE correction_decisions SET outcome_sent_at = ? WHERE record_id = ? AND decided_at = ?",
                 (now, record_id, decided_at))
