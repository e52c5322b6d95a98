"""Who may do what: loopback-only endpoints (the kiosk's own screen), staff sessions with roles, CSRF tokens."""

from __future__ import annotations

import functools
import hmac
import secrets
import time

from flask import abort, current_app, jsonify, redirect, request, session, url_for

# The kiosk's browser opens http://127.0.0.1:PORT/; with host = "::" the same client shows up IPv4-mapped.
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def kiosk():
    return current_app.config["KIOSK"]


def from_loopback() -> bool:
    # waitress sets REMOTE_ADDR from the socket; no proxy headers are trusted.
    return request.remote_addr in LOOPBACK


def current_staff() -> dict | None:
    user = session.get("staff")
    if not user:
        return None
    if session.get("expires", 0) < time.time():
        session.clear()
        return None
    return user


def start_session(user: dict) -> None:
    session.clear()
    session.permanent = True
    session["staff"] = user
    session["expires"] = time.time() + kiosk().config.web.session_minutes * 60
    session["csrf"] = secrets.token_urlsafe(24)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    # compare_digest refuses str with non-ASCII characters (a TypeError, a 500): compare the bytes instead.
    expected = (session.get("csrf", "") or "\0").encode()
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected):
        abort(400, description="CSRF token missing or wrong")


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
