"""The citizen screen: self check-in by card scan or on-screen keypad, and the self-service record check."""

from __future__ import annotations

import re
import time

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context

from kiosk.checkin import CheckinRefused
from kiosk.corrections import Corrections
from kiosk.identity import check_number, error, from_manual, mask_id, parse_date
from kiosk.reprints import reprint
from kiosk.scan_handler import handle_identity, printer_problem, record_check
from kiosk.vaccination import VaccinationService
from kiosk.vaccines import VACCINES
from kiosk.web.guard import error_json, kiosk, loopback_json, loopback_or_technician
from kiosk.web.api import json_object

bp = Blueprint("citizen", __name__)

PREVIEW_FPS = 8
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


@bp.get("/checkin/<checkin_id>/view")
@loopback_json
def checkin_view(checkin_id: str):
    """What the citizen confirms after a scan: the ticket and the name as read (never sent in events)."""
    app = kiosk()
    row = app.checkins.get(checkin_id)
    if row is None or row["day"] != app.clock.today().isoformat():
        return error_json(CheckinRefused("not_found"), 404)
    return jsonify({"ok": True, "ticket": row["number"], "name": row["full_name"], "id_masked": mask_id(row["id_number"]),
                    "state": row["state"], "printer_problem": printer_problem(app)})


@bp.post("/checkin/reprint")
@loopback_json
def citizen_reprint():
    app = kiosk()
    checkin_id = str(json_object().get("checkin_id", ""))
    row = app.checkins.get(checkin_id)
    if row is None or row["day"] != app.clock.today().isoformat():
        return error_json(CheckinRefused("not_found"), 404)
    copies = app.store.query_one("SELECT count(*) AS n FROM print_jobs WHERE kind='ticket' AND checkin_id=? AND copy>0",
                                 (checkin_id,))["n"]
    if copies >= CITIZEN_REPRINTS:
        return jsonify({"ok": False, "error": {"code": "reprint_limit",
                                               "message_vi": "Đã in lại đủ số lần. Vui lòng gặp nhân viên.",
                                               "message_en": "Reprinted enough times. Please see a staff member."}}), 429
    job = reprint(app.store, app.clock, "ticket", checkin_id, "kiosk:citizen", "citizen asked at the kiosk screen")
    return jsonify({"ok": True, "ticket": row["number"], **job})


# -- record check and corrections --------------------------------------------------------------------------------
@bp.post("/record/start")
@loopback_json
def record_start():
    record_check(kiosk()).open()
    return jsonify({"ok": True})


@bp.post("/record/stop")
@loopback_json
def record_stop():
    record_check(kiosk()).close()
    return jsonify({"ok": True})


@bp.post("/record/lookup")
@loopback_json
def record_lookup():
    """Typed ID number + birth date: the same number checks as a scan; doses are shown only if the birth date
    matches the one on record here."""
    body = json_object()
    number = "".join(str(body.get("id_number", "")).split())
    _province, _warnings, err = check_number(number)
    if err:
        return jsonify(err.to_json()), 422
    born = parse_dob(str(body.get("dob", "")))
    if born is None:
        return jsonify(error("bad_dob").to_json()), 422
    checks = record_check(kiosk())
    return jsonify({"ok": True, "result": "record_lookup", "token": checks.issue(f"{number}|{born}"),
                    "id_masked": mask_id(number)})


@bp.get("/record/<token>")
@loopback_json
def record_doses(token: str):
    id_number, born = subject(token)
    if id_number is None:
        return token_expired()
    doses = [d for d in VaccinationService(kiosk().store, kiosk().config.kiosk).history(id_number)
             if born is None or d["dob"] == born]
    return jsonify({"ok": True, "id_masked": mask_id(id_number), "doses": [dose_view(d) for d in doses]})


@bp.post("/record/correction")
@loopback_json
def record_correction():
    body = json_object()
    id_number, _born = subject(str(body.get("token", "")))
    if id_number is None:
        return token_expired()
    app = kiosk()
    try:
        row = Corrections(app.store, app.config.kiosk, app.clock).file(
            id_number, str(body.get("kind", "")), str(body.get("reason", "")), body.get("vaccination_id") or None)
    except CheckinRefused as exc:
        return error_json(exc)
    app.events.publish("correction", {"kind": row["kind"], "deadline": row["deadline_wall"]})
    return jsonify({"ok": True, "deadline": row["deadline_wall"]})


def subject(token: str) -> tuple[str | None, str | None]:
    """A lookup token → (ID number, birth date typed or None for a card scan, whose QR carried it)."""
    value = record_check(kiosk()).id_number(token)
    if value is None:
        return None, None
    number, _, born = value.partition("|")
    return number, born or None


def parse_dob(text: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", text)
    born = parse_date(digits) if len(digits) == 8 else None
    return born.isoformat() if born else None


def token_expired():
    return jsonify({"ok": False, "error": {"code": "lookup_expired",
                                           "message_vi": "Hết thời gian. Vui lòng quét lại thẻ.",
                                           "message_en": "Time is up. Please scan your card again."}}), 410


def dose_view(d: dict) -> dict:
    vaccine = VACCINES.get(d["vaccine"])
    return {"id": d["id"], "dose_number": d["dose_number"], "vaccine": vaccine.name if vaccine else d["vaccine"],
            "lot": d["lot"], "day": "/".join(reversed(d["day"].split("-")))}  # dd/mm/yyyy, as on Vietnamese papers


# -- camera preview ----------------------------------------------------------------------------------------------
def camera_part(app):
    """Integration point with branch `scan`: the part that can show what the camera sees."""
    part = app.part("camera")
    if part is not None and hasattr(part, "latest_preview_jpeg"):
        return part
    return next((p for p in app.parts if hasattr(p, "latest_preview_jpeg")), None)


@bp.get("/camera.mjpeg")
@loopback_or_technician
def camera_preview():
    app = kiosk()
    part = camera_part(app)
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


