"""One path for every scan, whoever reads it: parse → check in → tell the screens.

The camera and serial scanner parts (kiosk.scanner.ScanHandler, which adds the repeat window), the citizen screen's
manual entry and the test/demo hook `POST /api/scan` all end in `process`/`outcome`, so a simulated scan exercises
exactly what a real one does. The returned dict is the `scan` event published on App.events.

While the citizen screen is in "record check" mode (see RecordCheck), a card scan looks up the person's doses
instead of checking them in. Either way, a stored person is reached only by an entry with their name and birth date
(kiosk.verification); a refusal's staff alerts are published as `staff_alert` events.

Events carry no ID number, name or birth date: masked numbers and short-lived tokens that only the kiosk's own
screen can redeem (loopback-only endpoints of kiosk.web.citizen).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from base.privacy import mask_id
from base.refusal import Refusal
from kiosk.checkin import CheckinRefused
from kiosk.identity import Identity, KioskCode, ScanError, parse

log = logging.getLogger("vaxkiosk.scan")

PRINTER_PROBLEM = ("Máy in đang gặp sự cố. Hãy nhớ số thứ tự trên màn hình; nhân viên đã được báo.",
                   "The printer has a problem. Please remember the number on the screen; staff have been told.")


def printer_problem(app) -> dict | None:
    """What the citizen screen shows when the ticket of a check-in just made cannot be printed now."""
    ok, why = printer_ready(app)
    if ok:
        return None
    return {"code": "printer_problem", "message_vi": PRINTER_PROBLEM[0], "message_en": PRINTER_PROBLEM[1],
            "detail": why}


SCAN_FAILED = ("Không xử lý được mã vừa quét. Vui lòng thử lại hoặc gặp nhân viên.",
               "The scanned code could not be processed. Please try again or see a staff member.")


def handle_scan(app, raw: bytes | str, source: str) -> dict:
    """A raw scanned payload from `source` (camera | serial | screen | staff) → the published `scan` event data."""
    return process(raw, source, app.events, app.checkins, record_check(app))


def process(raw: bytes | str, source: str, events, checkins, records: "RecordCheck | None" = None) -> dict:
    """parse → (record lookup while the citizen screen asks for it | check-in) → one published `scan` event."""
    result = parse(raw)
    if isinstance(result, Identity) and records is not None and records.active():
        data = look_up(result, source, events, checkins, records)
    else:
        data = outcome(result, source, checkins, events, records)
    events.publish("scan", data)
    return data


def handle_identity(app, result: Identity | KioskCode | ScanError, source: str) -> dict:
    """Typed details (manual entry) take the same path as a scan from the check-in on."""
    data = outcome(result, source, app.checkins, app.events, record_check(app))
    app.events.publish("scan", data)
    return data


def empty_event(source: str) -> dict:
    return {"result": "error", "source": source, "ticket": None, "checkin_id": None, "kiosk_code_kind": None,
            "error": None}


def refused(data: dict, exc: Refusal, events, identity: Identity | None = None,
            records: "RecordCheck | None" = None) -> dict:
    """The event of a refused entry. The staff desk hears what the refusal tells it (a flag, a pause); a bare number
    comes back masked, with a one-time token the screen redeems to fill in the keypad."""
    for alert in getattr(exc, "alerts", ()):
        events.publish("staff_alert", alert)
    data = {**data, "error": exc.to_json()["error"]}
    if exc.code == "number_only_needs_details" and identity is not None:
        data["id_masked"] = mask_id(identity.id_number)
        if records is not None:
            data["prefill"] = records.issue(identity.id_number)
    return data


def outcome(result: Identity | KioskCode | ScanError, source: str, checkins, events,
            records: "RecordCheck | None" = None) -> dict:
    """The `scan` event (docs/scanning.md): no ID number, name, birth date or address travels in events; the
    citizen screen reads the name by checkin_id from the loopback-only view."""
    data = empty_event(source)
    if isinstance(result, ScanError):
        log.info("%s scan refused: %s", source, result.code)
        return {**data, "error": result.to_json()["error"]}
    if isinstance(result, KioskCode):
        log.info("%s scan: kiosk code %s", source, result.kind)
        data = {**data, "result": "kiosk_code", "kiosk_code_kind": result.kind}
        if result.kind == "certificate":
            data["certificate"] = certificate_verdict(result.payload, checkins.store.path.parent, checkins.clock.now())
        return data
    try:
        checked = checkins.check_in(result, source)
    except Refusal as exc:
        log.info("%s scan of %s refused: %s", source, mask_id(result.id_number), exc.code)
        return refused(data, exc, events, result, records)
    except Exception:  # noqa: BLE001 - a failed check-in is shown, and the scanner keeps going
        log.exception("%s check-in of %s failed", source, mask_id(result.id_number))
        return {**data, "error": {"code": "scan_failed", "message_vi": SCAN_FAILED[0], "message_en": SCAN_FAILED[1]}}
    row = checked.checkin
    log.info("%s scan: %s ticket %s (%s)", source, mask_id(row["id_number"]), row["number"],
             "new" if checked.created else "again")
    # The web part's ScanWatcher turns a new check-in into the `queue` event the boards and the display follow.
    return {**data, "result": "checked_in" if checked.created else "already_checked_in",
            "ticket": row["number"], "checkin_id": row["id"]}


def look_up(result: Identity, source: str, events, checkins, records: "RecordCheck") -> dict:
    """A card read while the record check is open: a token for the doses of this person, if they are on record."""
    try:
        if result.number_only:
            raise CheckinRefused("number_only_needs_details")
        checkins.verification.lookup(result, source)
    except Refusal as exc:
        log.info("%s record lookup of %s refused: %s", source, mask_id(result.id_number), exc.code)
        return refused(empty_event(source), exc, events, result, records)
    return {"result": "record_lookup", "source": source, "token": records.issue(Subject.of(result)),
            "id_masked": mask_id(result.id_number)}


def certificate_verdict(text: str, data_dir, at) -> dict:
    """A certificate held to the kiosk: valid or not and why (offline, this kiosk's key and the cached trust list).
    The name and birth date stay out of the event; the doses' numbers and dates are enough to recognise it."""
    from kiosk.certificates import verify_scanned

    verdict = verify_scanned(text, data_dir, at)
    return {k: verdict[k] for k in ("valid", "reason", "message_vi", "message_en", "doses")}


def printer_ready(app) -> tuple[bool, str]:
    """Can the ticket of a check-in just made be printed now? (ready, why not)

    The printer part (kiosk.printing.worker) asks the printer for its status before every job; its health() says
    whether it can print (paper out, cover open, offline or no answer cannot). A kiosk without [printer] enabled
    expects no ticket, so it never reports a printer problem.
    """
    if not app.config.printer.enabled:
        return True, ""
    part = app.part("printer")
    if part is None:
        return False, "printer part not running"
    try:
        health = part.health()
    except Exception as exc:  # noqa: BLE001 - a broken printer part is a printer problem, not a failed check-in
        return False, f"printer health failed: {exc}"
    if health.get("ok", True):
        return True, ""
    return False, str(health.get("state") or health.get("last_error") or "printer not ready")


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


_record_checks: dict[int, RecordCheck] = {}
_record_lock = threading.Lock()


def record_check(app) -> RecordCheck:
    with _record_lock:
        return _record_checks.setdefault(id(app), RecordCheck())
