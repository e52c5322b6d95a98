"""The citizen screen's "check my record" window and the tokens it hands out: while it is open, a card scan looks up
the person's doses instead of checking them in (kiosk.scanning.scan_path). One per running kiosk (App.record_check);
its tokens live in memory only, for minutes."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.identity import Identity


@dataclass(frozen=True)
class Subject:
    """Whom a record-check token shows: the number, name and birth date of an entry that matched the record."""

    id_number: str
    full_name: str
    dob: str  # ISO date

    @classmethod
    def of(cls, identity: Identity) -> "Subject":
        return cls(identity.id_number, identity.full_name, identity.dob.isoformat())


class RecordCheck:
    """The citizen screen's "check my record" window: scans look up doses for a short while, then check in again.

    The window is a lease the open screen renews every 2 s (`renew`): a browser closed in record-check mode stops
    renewing, and within LEASE_SECONDS the next card scan checks in again instead of showing someone's doses.
    WINDOW_SECONDS bounds it however often it is renewed.

    A lookup hands out a short-lived token bound to the Subject that matched; only that token lets the screen read
    the doses of that person or file a correction on them. A bare number's one-time prefill token lives here too.
    """

    WINDOW_SECONDS = 90
    LEASE_SECONDS = 6
    TOKEN_SECONDS = 300

    def __init__(self, now: Callable[[], float] = time.monotonic):
        self._now = now
        self._lock = threading.Lock()
        self._until = 0.0
        self._ends = 0.0  # the window's hard end, WINDOW_SECONDS after it opened
        self._tokens: dict[str, tuple[object, float]] = {}

    def open(self) -> None:
        with self._lock:
            now = self._now()
            self._ends = now + self.WINDOW_SECONDS
            self._until = now + self.LEASE_SECONDS

    def renew(self) -> bool:
        """Extend an open window by one lease (never past its end); a closed one stays closed. → open?"""
        with self._lock:
            now = self._now()
            if now < self._until:
                self._until = min(now + self.LEASE_SECONDS, self._ends)
            return now < self._until

    def close(self) -> None:
        with self._lock:
            self._until = self._ends = 0.0

    def active(self) -> bool:
        return self._now() < self._until

    def issue(self, value: "Subject | str") -> str:
        token = secrets.token_urlsafe(16)
        now = self._now()
        with self._lock:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (value, now + self.TOKEN_SECONDS)
        return token

    def _get(self, token: str, kind: type, once: bool = False):
        with self._lock:
            entry = self._tokens.get(token or "")
            if entry is None or not isinstance(entry[0], kind) or entry[1] < self._now():
                return None
            if once:
                del self._tokens[token]
        return entry[0]

    def subject(self, token: str) -> Subject | None:
        return self._get(token, Subject)

    def prefill(self, token: str) -> str | None:
        """The bare number behind a prefill token, once."""
        return self._get(token, str, once=True)
