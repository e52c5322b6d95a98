"""The operations dashboard: a Flask app factory; pages are server-rendered, screens refresh on server-sent events,
every asset is served from here (the dashboard works without Internet)."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import Flask

# Each open dashboard holds one thread for its event stream: enough threads for a room of screens, and streams may
# take at most 12 + 12 of them (a reverse proxy on loopback counts as one client with its own budget), so 8 threads
# stay for pages, logins and enrolments whatever the streams do (docs/security.md).
SERVER_THREADS = 32
STREAMS_PER_ADDRESS, REMOTE_STREAMS, LOOPBACK_STREAMS = 4, 12, 12


def create_app(ops) -> Flask:
    """`ops` is the central.ops.OpsService: config (OpsConfig), store (the aggregator's CentralStore), ops_store
    (alerts, decisions), events (EventBus), ticker (sends commands to kiosks)."""
    app = Flask(__name__)
    web = ops.config.web
    app.config.update(
        SECRET_KEY=web.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="vaxkiosk_central",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=web.session_minutes),
    )
    app.extensions["ops"] = ops

    from base.web import limits
    from base.web.sse import StreamSlots
    from central.web import api, auth, correction_lookup, days, fhir, labels, pages, stream

    limits.install(app)
    days.install(app)
    app.extensions["stream_slots"] = StreamSlots(STREAMS_PER_ADDRESS, REMOTE_STREAMS, LOOPBACK_STREAMS)

    auth.init(app)
    for bp in (auth.bp, pages.bp, api.bp, fhir.bp, correction_lookup.bp, stream.bp, *ops.device_blueprints):
        app.register_blueprint(bp)
    tz = ops.store.tz  # the sites' local time (Vietnam: UTC+7)
    app.jinja_env.filters.update(clock=lambda ts, with_date=False: _clock(ts, tz, with_date), ago=_ago,
                                 duration=_duration)
    labels.install(app, tz)
    app.jinja_env.globals["now"] = lambda: dt.datetime.now(dt.timezone.utc).timestamp()
    app.jinja_env.globals["has_registry"] = ops.registry is not None  # set-up codes need the device registry

    for code in ERROR_PAGES:
        app.register_error_handler(code, _error_page)

    @app.after_request
    def security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    return app


# The dashboard's pages answer errors in words operators read; the JSON API and event stream keep Flask's answers.
ERROR_PAGES = {
    400: ("Yêu cầu không hợp lệ. Hãy tải lại trang và thử lại.", "Bad request. Reload the page and try again."),
    403: ("Bạn không có quyền mở trang này.", "You may not open this page."),
    404: ("Không tìm thấy trang này.", "This page was not found."),
    405: ("Thao tác này không được phép ở đây.", "This action is not allowed here."),
}


def _error_page(exc):
    from flask import render_template, request

    if request.path.startswith(("/api/", "/events", "/metrics", "/healthz")):
        return exc
    vi, en = ERROR_PAGES[exc.code]
    return render_template("error.html", code=exc.code, message_vi=vi, message_en=en, partial=False), exc.code


def _clock(ts: float | None, tz: dt.tzinfo, with_date: bool = False) -> str:
    if ts is None:
        return "—"
    t = dt.datetime.fromtimestamp(ts, tz)
    return t.strftime("%d/%m/%Y %H:%M:%S" if with_date else "%H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(abs(seconds))
    if s < 60:
        text = f"{s} s"
    elif s < 3600:
        text = f"{s // 60} min"
    elif s < 86400:
        text = f"{s // 3600} h {s % 3600 // 60:02d}"
    else:
        text = f"{s // 86400} d {s % 86400 // 3600} h"
    return text


def _ago(ts: float | None) -> str:
    if ts is None:
        return "—"
    return _duration(dt.datetime.now(dt.timezone.utc).timestamp() - ts)
