"""One path for every scan, whoever reads it: parse → check in → tell the screens.

The camera and serial scanner parts (kiosk.scanning.readers.ScanHandler, which adds the repeat window), the citizen
screen's manual entry and the test/demo hook `POST /api/scan` all end in `process`/`outcome`, so a simulated scan
exercises exactly what a real one does. The returned dict is the `scan` event published on App.events.

While the citizen screen is in "record check" mode (kiosk.scanning.record_check), a card scan looks up the person's
doses instead of checking them in. Either way, a stored person is reached only by an entry with their name and birth date
(kiosk.verification); a refusal's staff alerts are published as `staff_alert` events.

Events carry no ID number, name or birth date: masked numbers and short-lived tokens that only the kiosk's own
screen can redeem (loopback-only endpoints of kiosk.web.citizen).
"""

from __future__ import annotations

import logging

from base.privacy import mask_id
from base.refusal import Refusal
from kiosk.certificates import scanned_verdict
from kiosk.checkin import CheckinRefused
from kiosk.identity import Identity, KioskCode, ScanError, parse
from kiosk.scanning.record_check import RecordCheck, Subject

log = logging.getLogger("vaxkiosk.scan")

SCAN_FAILED = ("Không xử lý được mã vừa quét. Vui lòng thử lại hoặc gặp nhân viên.",
               "The scanned code could not be processed. Please try again or see a staff member.")


def handle_scan(app, raw: bytes | str, source: str) -> dict:
    """A raw scanned payload from `source` (camera | serial | screen | staff) → the published `scan` event data."""
    return process(raw, source, app.events, app.checkins, app.record_check)


def process(raw: bytes | str, source: str, events, checkins, records: RecordCheck | None = None) -> dict:
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
    data = outcome(result, source, app.checkins, app.events, app.record_check)
    app.events.publish("scan", data)
    return data


def empty_event(source: str) -> dict:
    return {"result": "error", "source": source, "ticket": None, "checkin_id": None, "kiosk_code_kind": None,
            "error": None}


def refused(data: dict, exc: Refusal, events, identity: Identity | None = None,
            records: RecordCheck | None = None) -> dict:
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
            records: RecordCheck | None = None) -> dict:
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
            data["certificate"] = scanned_verdict(result.payload, checkins.store.path.parent, checkins.clock.now())
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
    # The web part's CheckinNotices turn a new check-in into the `queue` event the boards and the display follow.
    return {**data, "result": "checked_in" if checked.created else "already_checked_in",
            "ticket": row["number"], "checkin_id": row["id"]}


def look_up(result: Identity, source: str, events, checkins, records: RecordCheck) -> dict:
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


