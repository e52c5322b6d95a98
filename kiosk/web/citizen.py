"""The citizen screen: self check-in by card scan or on-screen keypad, and the self-service record check.

What a citizen sees of a stored person, they reach only with that person's name and birth date (kiosk.verification):
the record check takes the number, name and birth date like a check-in does, and its token shows and corrects only
the doses of the check-ins that match them."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, render_template, stream_with_context

from base.corrections import show_reference
from base.privacy import mask_id
from base.refusal import Refusal
from kiosk.checkin import CheckinRefused
from kiosk.correction_lookup import CorrectionLookup
from kiosk.corrections import CorrectionRefused, Corrections
from kiosk.identity import ScanError, from_manual
from kiosk.printing import jobs as print_jobs
from kiosk.printing.worker import printer_problem
from kiosk.reprints import reprint
from kiosk.scanning.record_check import Subject
from kiosk.scanning.scan_path import handle_identity, refused
from kiosk.vaccination import VaccinationService
from kiosk.vaccines import VACCINES
from kiosk.verification import IdentityRefused, same_person
from kiosk.web.api import json_object
from kiosk.web.guard import error_json, kiosk, loopback_json, loopback_or_technician

bp = Blueprint("citizen", __name__)

PREVIEW_FPS = 8
# The citizen screen's answers to "where was the missing dose given?" (no keyboard for free text on the screen).
SCREEN_PLACES = {"here": lambda k: f"{k.site_name or k.site_id} ({k.site_id})",
                 "elsewhere": lambda k: "nơi khác · elsewhere"}
# A citizen who already checked in may ask the kiosk for a new ticket this many times; after that, staff reprint.
CITIZEN_REPRINTS = 2


@bp.get("/")
def index():
    return render_template("citizen.html")


@bp.post("/checkin/manual")
@loopback_json
def manual_checkin():
    body = json_object()
    result = from_manual(str(body.get("id_number", "")), str(body.get("full_name", "")), str(body.get("dob", "")))
    return jsonify(handle_identity(kiosk(), result, "screen"))


@bp.get("/checkin/prefill/<token>")
@loopback_json
def checkin_prefill(token: str):
    """The bare number a scan just read, once, for the keypad (the `scan` event carries it masked)."""
    number = kiosk().record_check.prefill(token)
    if number is None:
        return token_expired()
    return jsonify({"ok": True, "id_number": number})


@bp.get("/checkin/<checkin_id>/view")
@loopback_json
def checkin_view(checkin_id: str):
    """What the citizen confirms after a scan: the ticket and the name as read (never sent in events)."""
    app = kiosk()
    row = app.checkins.get(checkin_id)
    if row is None or row["day"] != app.clock.today().isoformat():
        return error_json(CheckinRefused("not_found"), 404)
    return jsonify({"ok": True, "ticket": row["number"], "name": row["full_name"], "id_masked": mask_id(row["id_number"]),
                    "state": row["state"], "printer_problem": printer_problem(app),
                    "reprints_left": reprints_left(app, checkin_id)})


def reprints_left(app, checkin_id: str) -> int:
    """How many more tickets the screen may print for this check-in (it hides its button at 0)."""
    return max(0, CITIZEN_REPRINTS - print_jobs.reprint_count(app.store, "ticket", checkin_id))


@bp.post("/checkin/reprint")
@loopback_json
def citizen_reprint():
    app = kiosk()
    checkin_id = str(json_object().get("checkin_id", ""))
    row = app.checkins.get(checkin_id)
    if row is None or row["day"] != app.clock.today().isoformat():
        return error_json(CheckinRefused("not_found"), 404)
    if reprints_left(app, checkin_id) == 0:
        return jsonify({"ok": False, "error": {"code": "reprint_limit",
                                               "message_vi": "Đã in lại đủ số lần. Vui lòng gặp nhân viên.",
                                               "message_en": "Reprinted enough times. Please see a staff member."}}), 429
    job = reprint(app.store, app.clock, "ticket", checkin_id, "kiosk:citizen", "citizen asked at the kiosk screen")
    return jsonify({"ok": True, "ticket": row["number"], **job, "reprints_left": reprints_left(app, checkin_id)})


# -- record check and corrections --------------------------------------------------------------------------------
@bp.post("/record/start")
@loopback_json
def record_start():
    kiosk().record_check.open()
    return jsonify({"ok": True})


@bp.post("/record/renew")
@loopback_json
def record_renew():
    """The open record-check screen says it is still there; without it the window closes within seconds."""
    return jsonify({"ok": True, "open": kiosk().record_check.renew()})


@bp.get("/record/state")
@loopback_json
def record_state():
    return jsonify({"ok": True, "open": kiosk().record_check.active()})


@bp.post("/record/stop")
@loopback_json
def record_stop():
    kiosk().record_check.close()
    return jsonify({"ok": True})


@bp.post("/record/lookup")
@loopback_json
def record_lookup():
    """Typed ID number, name and birth date: checked like a typed check-in (identity.from_manual), then like a card
    read in the record check (Verification.lookup: the name and birth date must be on record, wrong tries pause)."""
    body = json_object()
    result = from_manual(str(body.get("id_number", "")), str(body.get("full_name", "")), str(body.get("dob", "")))
    if isinstance(result, ScanError):
        return jsonify(result.to_json()), 422
    app = kiosk()
    try:
        app.checkins.verification.lookup(result, "screen")
    except IdentityRefused as exc:
        data = refused({"ok": False}, exc, app.events)
        return jsonify(data), 429 if exc.code == "lookups_paused" else 403
    return jsonify({"ok": True, "result": "record_lookup", "token": app.record_check.issue(Subject.of(result)),
                    "id_masked": mask_id(result.id_number)})


@bp.get("/record/<token>")
@loopback_json
def record_doses(token: str):
    subject = kiosk().record_check.subject(token)
    if subject is None:
        return token_expired()
    return jsonify({"ok": True, "id_masked": mask_id(subject.id_number),
                    "doses": [dose_view(d) for d in doses_of(subject)],
                    "vaccines": [{"code": v.code, "name": v.name} for v in VACCINES.values()]})


@bp.post("/record/correction")
@loopback_json
def record_correction():
    body = json_object()
    subject = kiosk().record_check.subject(str(body.get("token", "")))
    if subject is None:
        return token_expired()
    app = kiosk()
    vaccination_id = body.get("vaccination_id") or None
    try:
        if vaccination_id is not None and vaccination_id not in {d["id"] for d in doses_of(subject)}:
            raise CorrectionRefused("unknown_dose")  # a dose of the same number but of another person's record
        claim = dict(body["claim"]) if isinstance(body.get("claim"), dict) else None
        if claim and claim.get("place") in SCREEN_PLACES:  # the screen's two taps, in words central reads
            claim["place"] = SCREEN_PLACES[claim["place"]](app.config.kiosk)
        row = Corrections(app.store, app.config.kiosk, app.clock).file(
            subject.id_number, str(body.get("kind", "")), str(body.get("reason", "")), vaccination_id, claim)
    except Refusal as exc:
        return error_json(exc)
    app.events.publish("correction", {"kind": row["kind"], "deadline": row["deadline_wall"]})
    return jsonify({"ok": True, "deadline": row["deadline_wall"], "reference": show_reference(row["reference"]),
                    "slip": row["slip"]})


@bp.post("/corrections/lookup")
@loopback_json
def correction_lookup():
    """The outcome of a correction by its reference (kiosk.correction_lookup): no card, nothing personal shown."""
    app = kiosk()
    if "correction_lookup" not in current_app.extensions:  # one per screen: its throttle counts this screen's tries
        current_app.extensions["correction_lookup"] = CorrectionLookup(app.store, app.config.certificates)
    try:
        outcome = current_app.extensions["correction_lookup"].outcome(str(json_object().get("reference", ""))[:40])
    except Refusal as exc:
        return error_json(exc, {"lookups_paused": 429, "reference_unknown": 404}.get(exc.code, 422))
    return jsonify({"ok": True, "outcome": outcome})


def doses_of(subject: Subject) -> list[dict]:
    """The doses on record here of the check-ins whose name and birth date are the subject's."""
    app = kiosk()
    return [d for d in VaccinationService(app.store, app.config.kiosk).history(subject.id_number)
            if same_person(d, subject.full_name, subject.dob)]


def token_expired():
    return jsonify({"ok": False, "error": {"code": "lookup_expired",
                                           "message_vi": "Hết thời gian. Vui lòng quét lại thẻ.",
                                           "message_en": "Time is up. Please scan your card again."}}), 410


def dose_view(d: dict) -> dict:
    vaccine = VACCINES.get(d["vaccine"])
    return {"id": d["id"], "dose_number": d["dose_number"], "vaccine": vaccine.name if vaccine else d["vaccine"],
            "lot": d["lot"], "day": "/".join(reversed(d["day"].split("-")))}  # dd/mm/yyyy, as on Vietnamese papers


# -- camera preview ----------------------------------------------------------------------------------------------
@bp.get("/camera.mjpeg")
@loopback_or_technician
def camera_preview():
    app = kiosk()
    part = app.part("camera")  # the camera scanner part shows what the camera sees, codes outlined
    if part is None:
        return Response("no camera", status=404, mimetype="text/plain")

    def frames():
        last = None
        while not app.stopping.is_set():
            jpeg = part.latest_preview_jpeg()
            if jpeg and jpeg is not last:
                last = jpeg
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode()
                       + b"\r\n\r\n" + jpeg + b"\r\n")
            time.sleep(1 / PREVIEW_FPS)

    return Response(stream_with_context(frames()), mimetype="multipart/x-mixed-replace; boundary=frame",
                    headers={"Cache-Control": "no-store"})


