"""The waiting-room display: who each desk serves now, the next numbers and how long a newcomer waits; a call is a
chime and the spoken words "Mời số 28 đến bàn 3" (kiosk.speech)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, send_file

from kiosk.checkin import minutes_per_call, now_serving
from kiosk.speech import CallVoice
from kiosk.web.guard import kiosk

bp = Blueprint("display", __name__, url_prefix="/display")

NEXT_SHOWN = 8


@bp.get("/")
def display():
    return render_template("display.html")


@bp.get("/state")
def state():
    """Ticket numbers and desks only: the display is on the room's wall, no names."""
    app = kiosk()
    day = app.clock.today().isoformat()
    serving = now_serving(app.store, app.config.kiosk.site_id, day)
    waiting = [r["number"] for r in app.checkins.queue(states=("waiting",))]
    pace = minutes_per_call(app.store, app.config.kiosk.site_id, day, app.clock.now(),
                            app.config.printer.minutes_per_person)
    return jsonify({"serving": [{"desk": d, "ticket": n} for d, n in sorted(serving.items())],
                    "next": waiting[:NEXT_SHOWN], "waiting_count": len(waiting),
                    "wait_minutes": round(len(waiting) * pace)})


@bp.get("/call/<int:ticket>.wav")
def call_clip(ticket: int):
    """The spoken call of a number a desk serves now. Only such numbers: a stranger on the site's network cannot
    make the kiosk synthesise (and keep) clips of whatever it asks for."""
    app = kiosk()
    desks = [d for d, n in now_serving(app.store, app.config.kiosk.site_id, app.clock.today().isoformat()).items()
             if n == ticket]
    if not desks:
        return jsonify({"ok": False, "error": {"code": "not_called", "message_vi": "Số này không đang được gọi.",
                                               "message_en": "This number is not being called."}}), 404
    voice = current_app.extensions.setdefault("call_voice", CallVoice(app.config.data_dir / "speech"))
    clip = voice.clip(ticket, desks[0])
    if clip is None:
        return jsonify({"ok": False, "error": {"code": "speech_unavailable",
                                               "message_vi": "Không tạo được lời gọi; dùng chuông.",
                                               "message_en": "The spoken call cannot be made; the chime is used."}}), 503
    return send_file(clip, mimetype="audio/wav", max_age=3600)
