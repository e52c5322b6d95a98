"""GET /events: server-sent events telling open screens that something changed (they re-read their page).

A stream ends after [web] sse_seconds and the browser reconnects by itself: a waitress worker thread is never held
by one screen for ever, and a screen that missed events re-reads everything anyway.
"""

from __future__ import annotations

import json
import queue
import time

from flask import Blueprint, Response, current_app, stream_with_context

from central.web.auth import login_required

bp = Blueprint("stream", __name__)


@bp.get("/events")
@login_required
def events():
    ops = current_app.extensions["ops"]
    q = ops.events.subscribe()
    until = time.monotonic() + ops.config.web.sse_seconds

    def generate():
        try:
            yield "retry: 3000\n: connected\n\n"
            quiet_since = time.monotonic()
            while time.monotonic() < until and not ops.stopping.is_set():
                try:
                    ev = q.get(timeout=1.0)
                except queue.Empty:
                    if time.monotonic() - quiet_since > 15:
                        yield ": keep-alive\n\n"  # proxies close silent connections
                        quiet_since = time.monotonic()
                    continue
                yield f"id: {ev.id}\nevent: {ev.type}\ndata: {json.dumps(ev.data)}\n\n"
        finally:
            ops.events.unsubscribe(q)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
