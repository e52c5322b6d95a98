"""The kiosk's screens: citizen self check-in (`/`), staff desk (`/staff`), waiting-room display (`/display`) and the
JSON/SSE API they share (`/api`). A Flask app factory served by waitress as the `web` kiosk part.

Server-rendered templates with a little plain JavaScript, no external assets: the kiosk works offline.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
from pathlib import Path

from flask import Flask

from base.web.serving import WebServer
from kiosk.web.checkin_notices import CheckinNotices

log = logging.getLogger("vaxkiosk.web")

# Each open event stream or camera preview holds one server thread: citizen screen (2), display (1), a few desks.
SERVER_THREADS = 24
# Event streams may hold at most 6 + 12 of them (docs/security.md): whatever the site's network opens, at least
# 6 threads stay for pages and the citizen screen's requests, and the citizen screen's own streams have theirs.
STREAMS_PER_ADDRESS, REMOTE_STREAMS, LOOPBACK_STREAMS = 4, 12, 6


def create_app(kiosk) -> Flask:
    """`kiosk` is the running kiosk.app.App (store, services, events, parts)."""
    from base.web import limits
    from base.web.sse import StreamSlots
    from kiosk.web import api, citizen, display, labels, sms, staff

    flask_app = Flask(__name__)
    flask_app.config.update(
        KIOSK=kiosk,
        SECRET_KEY=session_secret(kiosk.config.data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="vaxkiosk_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=kiosk.config.web.session_minutes),
        TEMPLATES_AUTO_RELOAD=False,
    )
    limits.install(flask_app)
    flask_app.extensions["stream_slots"] = StreamSlots(STREAMS_PER_ADDRESS, REMOTE_STREAMS, LOOPBACK_STREAMS)
    flask_app.jinja_env.globals["version"] = kiosk.version
    flask_app.jinja_env.globals["site_name"] = kiosk.config.kiosk.site_name or kiosk.config.kiosk.site_id
    for bp in (citizen.bp, staff.bp, display.bp, api.bp, sms.bp):
        flask_app.register_blueprint(bp)
    labels.install(flask_app, lambda: kiosk.clock.tz)
    for code in staff.ERROR_PAGES:
        flask_app.register_error_handler(code, staff.error_page)

    @flask_app.after_request
    def security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    return flask_app


def session_secret(data_dir: Path) -> bytes:
    """A per-kiosk key kept in the data directory, so staff sessions survive a restart of the kiosk process."""
    path = Path(data_dir) / "web-session.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key


class WebPart:
    name = "web"

    def __init__(self, kiosk):
        self.kiosk = kiosk
        self.stopping = threading.Event()
        self.server: WebServer | None = None
        self.notices: CheckinNotices | None = None
        self.error: str | None = None

    def start(self) -> None:
        self.notices = CheckinNotices(self.kiosk, self.stopping)
        self.notices.start()
        settings = self.kiosk.config.web
        flask_app = create_app(self.kiosk)
        flask_app.config["STOPPING"] = self.stopping
        try:
            self.server = WebServer(flask_app, settings.host, settings.port, SERVER_THREADS, "vaxkiosk")
        except OSError as exc:
            # A taken port must not stop check-ins from the scanner: the screens report it through health().
            self.error = f"cannot listen on {settings.host}:{settings.port}: {exc}"
            log.error("%s", self.error)
            return
        self.server.start("web")
        log.info("screens on http://%s:%s/", settings.host, self.port)

    @property
    def port(self) -> int:
        return self.server.port if self.server else self.kiosk.config.web.port

    def stop(self) -> None:
        self.stopping.set()  # event streams end within a second
        if self.server is not None:
            self.server.stop(timeout=3)
        if self.notices is not None:
            self.notices.join(timeout=3)

    def health(self) -> dict:
        error = self.error or (self.server.error if self.server else None)
        alive = bool(self.server and self.server.running)
        return {"ok": alive and error is None, "port": self.port, "error": error}


def make_part(kiosk) -> WebPart | None:
    return WebPart(kiosk) if kiosk.config.web.enabled else None
