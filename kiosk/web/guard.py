"""Who may do what: loopback-only endpoints (the kiosk's own screen), staff sessions with roles, CSRF tokens (the rules
are base.web's, shared with central's dashboard)."""

from __future__ import annotations

import functools
import time

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for

from base.web.loopback import from_this_machine
from base.web.sessions import ServerSessions, check_csrf


def kiosk():
    return current_app.config["KIOSK"]


def from_loopback() -> bool:
    """The kiosk's own browser (base.web.loopback)."""
    return from_this_machine(request)


def server_sessions() -> ServerSessions:
    app = kiosk()
    return ServerSessions(app.store, app.config.web.session_minutes * 60)


def current_staff() -> dict | None:
    if "staff" not in g:  # asked several times per request (decorator, templates): one look-up
        g.staff = logged_in_staff()
    return g.staff


def logged_in_staff() -> dict | None:
    user = session.get("staff")
    if not user:
        return None
    # The cookie's own expiry, then the server's record of the login (gone after logout, wherever the cookie is).
    if session.get("expires", 0) < time.time() or not server_sessions().alive(session.get("sid"), str(user["id"])):
        session.clear()
        return None
    return user


def start_session(user: dict) -> None:
    session.clear()
    session.permanent = True
    session["staff"] = user
    session["sid"] = server_sessions().start(str(user["id"]))
    session["expires"] = time.time() + kiosk().config.web.session_minutes * 60
    g.staff = user


def end_session() -> None:
    server_sessions().end(session.get("sid"))
    session.clear()
    g.staff = None


def staff_required(role: str | None = None):
    """A staff page: login needed (and the role, when given); POSTs need the CSRF token."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = current_staff()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("staff.login", next=request.path))
                abort(401)
            if role and user["role"] != role:
                abort(403)
            if request.method == "POST":
                check_csrf()
            return view(*args, **kwargs)
        return inner
    return wrap


def loopback_json(view):
    """The citizen screen's endpoints: only the kiosk's own browser, and only JSON bodies (a cross-site form cannot
    send application/json without a CORS preflight, which this server never grants)."""
    @functools.wraps(view)
    def inner(*args, **kwargs):
        if not from_loopback():
            abort(403)
        if request.method == "POST" and not request.is_json:
            abort(415)
        return view(*args, **kwargs)
    return inner


def loopback_or_technician(view):
    @functools.wraps(view)
    def inner(*args, **kwargs):
        if not from_loopback():
            user = current_staff()
            if user is None or user["role"] != "technician":
                abort(403)
            if request.method == "POST":
                check_csrf()
        elif request.method == "POST" and not request.is_json:
            abort(415)
        return view(*args, **kwargs)
    return inner


def error_json(exc, status: int = 422):
    return jsonify({"ok": False, "error": {"code": exc.code, "message_vi": exc.message_vi,
                                           "message_en": exc.message_en}}), status
