"""The audit log of staff actions: who did what, to which record, when and why. Append-only."""

from __future__ import annotations

import json

from base.records import Stamp


def record(db, actor: str, action: str, subject: str | None = None, reason: str | None = None,
           detail: dict | None = None, stamp: Stamp | None = None, wall: str | None = None) -> None:
    """Append one entry inside the caller's transaction (the action and its audit entry commit together)."""
    db["audit_log"].insert({
        "at_wall": stamp.wall if stamp else wall,
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
    })


def entries(store, subject: str | None = None, limit: int = 200) -> list[dict]:
    if subject:
        return store.query("SELECT * FROM audit_log WHERE subject=? ORDER BY id DESC LIMIT ?", (subject, limit))
    return store.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
