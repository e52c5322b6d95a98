"""The SMS outbox (table `sms_outbox`): texts waiting for the modem, each sent once.

A text is added by `enqueue` inside the transaction of the event that causes it (kiosk.sms.hooks). The sender part
then moves it: pending → sending → sent, or back to pending with its error and the time of the next try. A row is
marked `sending` (committed) before the modem is asked: one still `sending` when the kiosk starts was interrupted
between "the modem took it" and "marked sent" (a crash, a kill, a power cut), so it may have reached the phone; it
becomes `uncertain`, shown to staff as "may have been sent", and is never sent again by itself. A message of several
parts records each part the modem took, so a retry after a refusal sends only the parts that did not go.

`failed`: the network refuses the number itself (sending again cannot help). `expired`: a queue text that is no
longer true ("come to desk 3" for a ticket already served, or older than [sms] queue_text_minutes), or a text whose
opt-in is gone (the sender decides, kiosk.sms.part). Every row is deleted with its day (kiosk.sms.optin.purge).
Only this module names the table; the number is kiosk.sms.optin's and the ticket kiosk.checkin's.
"""

from __future__ import annotations

import datetime as dt
import json

from base.records import Stamp
from kiosk.store import Store

KINDS = ("soon", "called", "dose")
STATES = ("pending", "sending", "sent", "uncertain", "failed", "expired")


def enqueue(db, checkin_id: str, day: str, kind: str, params: dict, stamp: Stamp) -> None:
    """Add a text inside the caller's transaction; "soon" and "dose" go once per check-in (a repeat is ignored)."""
    if kind not in KINDS:
        raise ValueError(f"unknown SMS kind {kind!r}")
    db.conn.execute(
        "INSERT OR IGNORE INTO sms_outbox (checkin_id, day, kind, params, next_try_wall, created_wall, updated_wall) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (checkin_id, day, kind, json.dumps(params, ensure_ascii=False, sort_keys=True), stamp.wall, stamp.wall,
         stamp.wall))


class Outbox:
    def __init__(self, store: Store):
        self.store = store

    def recover_interrupted(self, wall: str) -> list[int]:
        """Rows left `sending` by a stop: `uncertain` (may have been sent), never resent by the part."""
        with self.store.transaction() as db:
            ids = [r[0] for r in db.conn.execute("SELECT id FROM sms_outbox WHERE state = 'sending'")]
            db.conn.execute("UPDATE sms_outbox SET state = 'uncertain', updated_wall = ? WHERE state = 'sending'",
                            (wall,))
        return ids

    def pending(self) -> list[dict]:
        return self.store.query("SELECT * FROM sms_outbox WHERE state = 'pending' ORDER BY id")

    def expire(self, row_ids: list[int], wall: str) -> None:
        with self.store.transaction() as db:
            db.conn.executemany("UPDATE sms_outbox SET state = 'expired', updated_wall = ? "
                                "WHERE id = ? AND state = 'pending'", [(wall, i) for i in row_ids])

    def next_due(self, now_wall: str) -> dict | None:
        """The oldest pending text whose time has come."""
        return self.store.query_one(
            "SELECT * FROM sms_outbox WHERE state = 'pending' AND next_try_wall <= ? ORDER BY id LIMIT 1",
            (now_wall,))

    def has_pending(self) -> bool:
        return self.store.query_one("SELECT 1 AS yes FROM sms_outbox WHERE state = 'pending' LIMIT 1") is not None

    def mark_sending(self, row_id: int, text: str, encoding: str, parts_total: int, wall: str) -> None:
        with self.store.transaction() as db:
            db.conn.execute(
                "UPDATE sms_outbox SET state = 'sending', text = ?, encoding = ?, parts_total = ?, "
                "attempts = attempts + 1, updated_wall = ? WHERE id = ? AND state = 'pending'",
                (text, encoding, parts_total, wall, row_id))

    def mark_part_sent(self, row_id: int, index: int, reference: int, wall: str) -> None:
        with self.store.transaction() as db:
            db.conn.execute(
                "UPDATE sms_outbox SET parts_sent = ?, refs = COALESCE(refs || ',', '') || ?, updated_wall = ? "
                "WHERE id = ?", (index + 1, str(reference), wall, row_id))

    def mark_sent(self, row_id: int, wall: str) -> None:
        with self.store.transaction() as db:
            db.conn.execute("UPDATE sms_outbox SET state = 'sent', last_error = NULL, last_error_detail = NULL, "
                            "updated_wall = ? WHERE id = ?", (wall, row_id))

    def mark_error(self, row_id: int, code: str, detail: str, wall: str, next_try_wall: str | None) -> None:
        """Back to pending until `next_try_wall`, or `failed` for good when it is None."""
        state = "pending" if next_try_wall else "failed"
        with self.store.transaction() as db:
            db.conn.execute(
                "UPDATE sms_outbox SET state = ?, last_error = ?, last_error_detail = ?, "
                "next_try_wall = COALESCE(?, next_try_wall), updated_wall = ? WHERE id = ?",
                (state, code, detail[:300], next_try_wall, wall, row_id))

    def counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT state, count(*) AS n FROM sms_outbox GROUP BY state")
        found = {r["state"]: r["n"] for r in rows}
        return {state: found.get(state, 0) for state in STATES}

    def of_day(self, day: str, limit: int = 200) -> list[dict]:
        """The day's texts, newest first (for the technician page)."""
        return self.store.query("SELECT * FROM sms_outbox WHERE day = ? ORDER BY id DESC LIMIT ?", (day, limit))


def delete_before(db, day: str) -> int:
    """Delete the texts of every day before `day`, inside kiosk.sms.optin.purge's transaction."""
    return db.conn.execute("DELETE FROM sms_outbox WHERE day < ?", (day,)).rowcount
