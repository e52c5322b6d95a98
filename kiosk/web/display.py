"""The waiting-room display: now serving per desk, the next numbers; a chime when a number is called."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

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
    site, day = app.config.kiosk.site_id, app.clock.today().isoformat()
    calls = app.store.query(
        "SELECT t.desk, t.number, MAX(s.at_wall) AS called_at FROM tickets t "
        "JOIN state_changes s ON s.checkin_id = t.checkin_id AND s.to_state = 'called' "
        "WHERE t.site_id=? AND t.day=? AND t.desk IS NOT NULL AND t.state != 'waiting' GROUP BY t.checkin_id",
        (site, day))
    serving: dict[str, int] = {}
    for call in sorted(calls, key=lambda c: c["called_at"]):
        serving[call["desk"]] = call["number"]  # the latest call at each desk is who it serves now
    waiting = [r["number"] for r in app.checkins.queue(states=("waiting",))]
    return jsonify({"serving": [{"desk": d, "ticket": n} for d, n in sorted(serving.items())],
                    "next": waiting[:NEXT_SHOWN], "waiting_count": len(waiting)})
