"""The waiting-room display: now serving per desk, the next numbers; a chime when a number is called."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from kiosk.checkin import now_serving
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
    serving = now_serving(app.store, app.config.kiosk.site_id, app.clock.today().isoformat())
    waiting = [r["number"] for r in app.checkins.queue(states=("waiting",))]
    return jsonify({"serving": [{"desk": d, "ticket": n} for d, n in sorted(serving.items())],
                    "next": waiting[:NEXT_SHOWN], "waiting_count": len(waiting)})
