"""GET /events: server-sent events telling open screens that something changed (they re-read their page).

A stream ends after [web] sse_seconds and the browser reconnects by itself: a waitress worker thread is never held
by one screen for ever, and a screen that missed events re-reads everything anyway.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from base.web import sse
from central.web.auth import login_required

bp = Blueprint("stream", __name__)


@bp.get("/events")
@login_required
def events():
    ops = current_app.extensions["ops"]
    return sse.stream(ops.events, current_app.extensions["stream_slots"], lambda ev: sse.event(ev, ev.data),
                      stopped=ops.stopping.is_set, retry_ms=3000, seconds=ops.config.web.sse_seconds)
