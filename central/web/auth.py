"""Who may see what.

- Pages and forms: operations staff log in (users and password hashes from the central config); the session ends
  after [web] session_minutes even while in use, or at logout (base.web.sessions: the server forgets it); every
  POST carries the session's CSRF token (base.web.sessions, the kiosk's staff desk's rule too).
- GET /api/fleet, /api/sites and /metrics: open when the dashboard listens on loopback only (a reverse proxy or the
  demo on the same machine) and the request names this machine in its Host header; otherwise they need
  `Authorization: Bearer <[web] api_token>` (or a login).
"""

from __future__ import annotations

import functools
import time

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from base.throttle import Throttle
from base.web.loopback import LOOPBACK_NAMES, names_loopback
from base.web.sessions import ServerSessions, check_csrf, csrf_token, same_secret

bp = Blueprint("auth", __name__)
DEVICE_BLUEPRINTS = ("enrol", "trustlist")

# Password guessing: after this many failures for one name within the window, that name must wait out the window.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 900.0
# A hash to compare against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password")


def _ops():
    return current_app.extensions["ops"]


class LoginThrottle(Throttle):
    """Failed logins per user name (base.throttle): a password is checked only after `attempt` has counted it, so
    parallel guesses cannot outrun it (at most MAX_FAILURES are checked per window)."""

    def __init__(self):
        super().__init__(MAX_FAILURES, FAILURE_WINDOW_S)

    def succeeded(self, name: str) -> None:
        self.forget(name)


def server_sessions() -> ServerSessions:
    ops = _ops()
    return ServerSessions(ops.ops_store, ops.config.web.session_minutes * 60)


def current_user() -> str | None:
    if "user" not in g:  # one look-up per request
        g.user = logged_in_user()
    return g.user


def logged_in_user() -> str | None:
    user, login_at = session.get("user"), session.get("login_at", 0)
    if not user or time.time() - login_at >= _ops().config.web.session_minutes * 60:
        return None
    # The server's record of the login: ended at logout, wherever the cookie was copied to.
    return user if server_sessions().alive(session.get("sid"), user) else None


def init(app) -> None:
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.extensions["login_throttle"] = LoginThrottle()

    @app.before_request
    def posts_carry_the_csrf_token():
        # Devices enrolling (one-time code) carry no session cookie: there is nothing for CSRF to protect there.
        if request.method == "POST" and request.blueprint not in DEVICE_BLUEPRINTS:
            check_csrf()


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            session.pop("user", None)
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else "/"))
        return view(*args, **kwargs)
    return wrapper


def is_admin() -> bool:
    user = current_user()
    return any(u.name == user and u.role == "admin" for u in _ops().config.users) if user else False


def admin_required(view):
    """Logged in with role "admin" ([[users]] role); anyone else logged in gets 403."""
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_admin():
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def machine_readable(view):
    """Open on a loopback-only listener; elsewhere a bearer token (or a logged-in user)."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        web = _ops().config.web
        # Open only to this machine: a loopback listener, asked for by a loopback name (a page whose DNS name was
        # re-pointed at 127.0.0.1 reaches the listener too, under its own name).
        open_here = web.host in LOOPBACK_NAMES and names_loopback(request.host)
        if not open_here and current_user() is None:
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            if not web.api_token or not token or not same_secret(token, web.api_token):
                return {"error": "a bearer token is required"}, 401, {"WWW-Authenticate": "Bearer"}
        return view(*args, **kwargs)
    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name = request.form.get("name", "")[:64]
        password = request.form.get("password", "")
        throttle = current_app.extensions["login_throttle"]
        if not throttle.attempt(name, time.time()):
            return render_template("login.html", error="throttled"), 429
        user = next((u for u in _ops().config.users if u.name == name), None)
        ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        if user and ok:
            throttle.succeeded(name)
            session.clear()  # a fresh session (and CSRF token) after login: no fixation
            session.permanent = True
            session.update(user=user.name, login_at=time.time(), sid=server_sessions().start(user.name))
            g.user = user.name
            target = request.args.get("next", "/")
            return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
        error = "wrong"
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    server_sessions().end(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
