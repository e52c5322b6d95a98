"""What staff did to enrolled kiosks from the dashboard (revocations), who did it, when and why: the audit of
device actions, kept in ops.db (table `device_actions`). The registry (central.db) keeps the device's own state."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE device_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    by_user TEXT NOT NULL,                 -- "user" is a reserved word in PostgreSQL
    kiosk TEXT NOT NULL,
    action TEXT NOT NULL,                  -- revoke
    reason TEXT NOT NULL,
    outcome TEXT NOT NULL                  -- done | refused:<code>
);
CREATE INDEX device_actions_kiosk ON device_actions (kiosk, at);
"""

MAX_REASON_CHARS = 500


def record(conn, at: float, user: str, kiosk: str, action: str, reason: str, outcome: str) -> None:
    conn.execute("INSERT INTO device_actions (at, by_user, kiosk, action, reason, outcome) VALUES (?,?,?,?,?,?)",
                 (at, user, kiosk, action, reason, outcome))


def of_kiosk(store, kiosk: str) -> list[dict]:
    return store.query("SELECT * FROM device_actions WHERE kiosk = ? ORDER BY at DESC", (kiosk,))
