"""Logins that the server can end, and the CSRF token that goes with them: the staff desk's (kiosk.db) and central's
dashboard's (ops.db), one set of rules for both.

A Flask session is a signed cookie: it is valid wherever it is shown until it expires, so logging out (clearing the
browser's copy) would leave a copied cookie working. Each login therefore gets a random id in its cookie and a row
here; a request counts as logged in only while its row lives. Logout deletes the row: the cookie, wherever it was
copied to, stops working at once. Only a hash of the id is stored, so a copy of the database opens no session.
The table's schema is WEB_SESSIONS, in both databases' migrations.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import abort, request, session

from base.store import Store

# Logins the server can end: the staff desk's in kiosk.db, the dashboard's in central's ops.db.
WEB_SESSIONS = """
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,          -- sha256 of the random id in the session cookie
    subject TEXT NOT NULL,             -- who logged in (staff account id, dashboard user name)
    started_at REAL NOT NULL           -- epoch seconds; rows older than the session length are pruned at login
);
"""


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


def end_all(db, subject: str) -> None:
    """Every login of `subject` ends, inside the caller's transaction (an account removed or given a new PIN)."""
    db.conn.execute("DELETE FROM web_sessions WHERE subject = ?", (subject,))


# -- CSRF: every form a logged-in person posts carries the token of their session --------------------------------------
def same_secret(sent: str, expected: str) -> bool:
    """Constant-time comparison that takes any text: compare_digest raises TypeError (a 500) on a str with
    non-ASCII characters, which anyone can send in a form field or header."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def csrf_token() -> str:
    """This session's token, made on first use (a login clears the session, so each login gets a fresh one)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Abort with 400 unless the request carries its session's token (form field `csrf` or header X-CSRF-Token)."""
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf", "")
    if not sent or not expected or not same_secret(sent, expected):
        abort(400, description="CSRF token missing or wrong")
