"""JSON and server-sent events shared by the screens, and the scan hook for tests and demos."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify

from base.web import sse
from base.web.limits import json_body
from kiosk.scan_handler import handle_scan
from kiosk.web.guard import current_staff, from_loopback, kiosk, loopback_or_technician

bp = Blueprint("api", __name__, url_prefix="/api")

# Scan events carry the name as read: only the kiosk's own screen (loopback) and staff get them.
PRIVATE_EVENTS = {"scan", "staff_alert", "printer"}


def json_object() -> dict:
    """The request's JSON body when it is an object of real text, else {} (the endpoint then answers its usual
    "missing field" error). Any JSON may arrive: a string or a list (`.get` would be a 500), "\\udfff" escapes,
    lone surrogates that are not Unicode and that SQLite cannot store (another 500), or 30,000 nested brackets
    (a RecursionError: answered 400 `json_too_deep` by limits.json_body)."""
    body = json_body()
    if not isinstance(body, dict):
        return {}
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return {}
    return body


@bp.post("/scan")
@loopback_or_technician
def scan():
    """Inject a scan as if the camera had decoded `text`: the scanner's own path (parse → check-in → event)."""
    body = json_object()
    text = body.get("text")
    if not isinstance(text, str):
        return jsonify({"ok": False, "error": {"code": "bad_request", "message_en": "JSON {\"text\": ...} expected"}}), 400
    source = body.get("source", "camera")
    if source not in ("camera", "serial", "screen", "staff"):
        source = "camera"
    return jsonify(handle_scan(kiosk(), text, source))


@bp.get("/events")
def events():
    """Server-sent events. The store stays the truth: a screen that (re)connects re-reads what it shows."""
    app = kiosk()
    private_ok = from_loopback() or current_staff() is not None
    stopping = current_app.config.get("STOPPING")

    def render(event):
        if event.type in PRIVATE_EVENTS and not private_ok:
            return None
        return sse.event(event, {**event.data, "at": event.at})

    return sse.stream(app.events, current_app.extensions["stream_slots"], render, retry_ms=1000,
                      stopped=lambda: app.stopping.is_set() or bool(stopping and stopping.is_set()))


@bp.get("/health")
def health():
    app = kiosk()
    return jsonify({"version": app.version, "site": app.config.kiosk.site_id, "kiosk": app.config.kiosk.kiosk_id,
                    "parts": {name: {"ok": h.get("ok")} for name, h in app.health().items()}})
