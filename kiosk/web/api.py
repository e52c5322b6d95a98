"""JSON and server-sent events shared by the screens, and the scan hook for tests and demos."""

from __future__ import annotations

import json
import queue

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from kiosk.scan_handler import handle_scan
from kiosk.web.guard import current_staff, from_loopback, kiosk, loopback_or_technician

bp = Blueprint("api", __name__, url_prefix="/api")

KEEPALIVE_SECONDS = 15
# Scan events carry the name as read: only the kiosk's own screen (loopback) and staff get them.
PRIVATE_EVENTS = {"scan", "staff_alert", "printer"}


def json_object() -> dict:
    """The request's JSON body when it is an object of real text, else {} (the endpoint then answers its usual
    "missing field" error). Any JSON may arrive: a string or a list (`.get` would be a 500), or "\\udfff" escapes,
    lone surrogates that are not Unicode and that SQLite cannot store (another 500)."""
    body = request.get_json(silent=True)
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
    sub = app.events.subscribe()

    def stream():
        try:
            yield "retry: 1000\n\n"
            idle = 0.0
            while not (stopping and stopping.is_set()) and not app.stopping.is_set():
                try:
                    event = sub.get(timeout=0.5)
                except queue.Empty:
                    idle += 0.5
                    if idle >= KEEPALIVE_SECONDS:
                        idle = 0.0
                        yield ": keepalive\n\n"
                    continue
                idle = 0.0
                if event.type in PRIVATE_EVENTS and not private_ok:
                    continue
                payload = json.dumps({**event.data, "at": event.at}, ensure_ascii=False)
                yield f"id: {event.id}\nevent: {event.type}\ndata: {payload}\n\n"
        finally:
            app.events.unsubscribe(sub)

    return Response(stream_with_context(stream()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/health")
def health():
    app = kiosk()
    return jsonify({"version": app.version, "site": app.config.kiosk.site_id, "kiosk": app.config.kiosk.kiosk_id,
                    "parts": {name: {"ok": h.get("ok")} for name, h in app.health().items()}})
