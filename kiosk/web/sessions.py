"""Logins that the server can end: the staff desk's (kiosk.db) and central's dashboard's (ops.db).

A Flask session is a signed cookie: it is valid wherever it is shown until it expires, so logging out (clearing the
browser's copy) would leave a copied cookie working. Each login therefore gets a random id in its cookie and a row
here; a request counts as logged in only while its row lives. Logout deletes the row: the cookie, wherever it was
copied to, stops working at once. Only a hash of the id is stored, so a copy of the database opens no session.
The table is kiosk.store.WEB_SESSIONS, in both databases' migrations.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from kiosk.store import Store


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class ServerSessions:
    def __init__(self, store: Store, lifetime_seconds: float):
        self.store = store
        self.lifetime = lifetime_seconds

    def start(self, subject: str) -> str:
        """A new session for `subject`; returns the id to put in the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.transaction() as db:
            db.conn.execute("DELETE FROM web_sessions WHERE started_at < ?", (now - self.lifetime,))
            db.conn.execute("INSERT INTO web_sessions VALUES (?, ?, ?)", (_hash(session_id), subject, now))
        return session_id

    def alive(self, session_id: object, subject: str) -> bool:
        if not isinstance(session_id, str) or not session_id:
            return False
        row = self.store.query_one("SELECT subject, started_at FROM web_sessions WHERE id_hash = ?",
                                   (_hash(session_id),))
        return bool(row) and row["subject"] == subject and row["started_at"] > time.time() - self.lifetime

    def end(self, session_id: object) -> None:
        if isinstance(session_id, str) and session_id:
            with self.store.transaction() as db:
                db.conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_hash(session_id),))
