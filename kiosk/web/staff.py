"""The staff desk: login, queue board, screening → injection → observation → certificate, search, reprints,
corrections, technician page."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from base.privacy import mask_id
from base.refusal import Refusal
from base.web.sessions import check_csrf, csrf_token
from kiosk import desks
from kiosk.certificates import lookup_certificate
from kiosk.corrections import Corrections
from kiosk.outbox import Outbox
from kiosk.printing import jobs as print_jobs
from kiosk.reprints import reprint
from kiosk.staff_accounts import AccountError, StaffAccounts, new_pin
from kiosk.vaccination import Injection, VaccinationService
from kiosk.vaccines import MAX_DOSES, VACCINES
from kiosk.verification import same_person
from kiosk.web.guard import current_staff, end_session, kiosk, staff_required, start_session
from kiosk.web.sms import tech_view

bp = Blueprint("staff", __name__, url_prefix="/staff")

IN_PROGRESS = ("screened", "vaccinated", "observing")
SEARCH_LIMIT = 50


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token, "staff_user": current_staff(), "mask_id": mask_id, "printer_now": printer_now}


def printer_now() -> dict | None:
    """The printer as every staff board shows it until it is fixed: None when this kiosk prints nothing or the printer
    is ready, else {state, detail, pending} from the printer part's health (kiosk.printing.worker)."""
    app = kiosk()
    if not app.config.printer.enabled:
        return None
    part = app.part("printer")
    if part is None:
        return {"state": "not_running", "detail": "", "pending": None}
    try:
        health = part.health()
    except Exception as exc:  # noqa: BLE001 - a broken printer part is shown as a printer that does not answer
        return {"state": "unknown", "detail": str(exc), "pending": None}
    state = health.get("state") or "unknown"
    if health.get("ok", True) and state != "paper_near_end":
        return None
    return {"state": state, "detail": (health.get("status") or {}).get("detail") or health.get("last_error") or "",
            "pending": (health.get("jobs") or {}).get("pending")}


# Error pages of the staff desk in words staff read (the citizen screen's own endpoints answer JSON).
ERROR_PAGES = {
    400: ("Yêu cầu không hợp lệ. Hãy tải lại trang và thử lại.", "Bad request. Reload the page and try again."),
    401: ("Phiên đăng nhập đã hết. Hãy đăng nhập lại.", "Your session has ended. Please log in again."),
    403: ("Tài khoản của bạn không có quyền mở trang này.", "Your account may not open this page."),
    404: ("Không tìm thấy trang hoặc hồ sơ này.", "This page or record was not found."),
    405: ("Thao tác này không được phép ở đây.", "This action is not allowed here."),
}


def error_page(exc: HTTPException):
    if not request.path.startswith("/staff"):
        return exc
    vi, en = ERROR_PAGES[exc.code]
    return render_template("staff_error.html", code=exc.code, message_vi=vi, message_en=en), exc.code


@bp.app_template_filter("hhmm")
def hhmm(wall: str | None) -> str:
    """A stored UTC wall time as the site's local HH:MM."""
    if not wall:
        return ""
    return dt.datetime.fromisoformat(wall).astimezone(kiosk().clock.tz).strftime("%H:%M")


def vaccinations():
    app = kiosk()
    return VaccinationService(app.store, app.config.kiosk, app.clock)


def actor() -> str:
    return f"staff:{current_staff()['name']}"


def announce(row: dict | None) -> None:
    if row:
        kiosk().events.publish("queue", {"checkin_id": row["id"], "ticket": row["number"], "state": row["state"],
                                         "desk": row["desk"]})


# -- login -------------------------------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"], endpoint="login")
def login_page():
    accounts = StaffAccounts(kiosk().store, kiosk().clock)
    if request.method == "POST":
        check_csrf()
        try:
            user = accounts.authenticate(request.form.get("name", ""), request.form.get("pin", ""))
        except AccountError as exc:
            return render_template("staff_login.html", names=accounts.names(), error=exc,
                                   chosen=request.form.get("name", "")), (423 if exc.code == "locked" else 401)
        start_session(user)
        target = request.args.get("next", "")
        return redirect(target if target.startswith("/staff") else url_for("staff.board"))
    return render_template("staff_login.html", names=accounts.names(), error=None)


@bp.post("/logout")
def logout():
    check_csrf()
    end_session()
    return redirect(url_for("staff.login"))


# -- queue board -------------------------------------------------------------------------------------------------
@bp.get("/")
@staff_required()
def board():
    return render_template("staff_board.html", **board_data())


@bp.get("/board")
@staff_required()
def board_partial():
    return render_template("_board.html", **board_data())


@bp.get("/printer")
@staff_required()
def printer_partial():
    """The printer banner alone: every board re-reads it on `printer` events."""
    return render_template("_printer.html")


def board_data() -> dict:
    app = kiosk()
    now = app.clock.now()
    rows = app.checkins.queue()
    for r in rows:
        r["waited_min"] = minutes_since(r["created_wall"], now)
        r["in_state_min"] = minutes_since(r["state_wall"], now)
    flags = app.checkins.verification.open_flags([r["id"] for r in rows])
    for r in rows:
        r["flags"] = sorted({f["kind"] for f in flags.get(r["id"], ())})
    ends = vaccinations().observation_ends()
    for r in rows:
        if r["state"] == "observing" and r["id"] in ends:
            left = dt.datetime.fromisoformat(ends[r["id"]]) - now
            r["observation_left_min"] = max(0, int(left.total_seconds() // 60) + (left.total_seconds() % 60 > 0))
            r["observation_left_s"] = max(0, int(left.total_seconds()))
    return {
        "waiting": [r for r in rows if r["state"] == "waiting"],
        "called": [r for r in rows if r["state"] == "called"],
        "in_progress": [r for r in rows if r["state"] in IN_PROGRESS],
        "done_count": sum(r["state"] == "done" for r in rows),
        "desk": session.get("desk", "1"),
        "pauses": app.checkins.verification.pauses(),
    }


def minutes_since(wall: str, now: dt.datetime) -> int:
    return max(0, int((now - dt.datetime.fromisoformat(wall)).total_seconds() // 60))


def desk_of(row: dict | None = None) -> str:
    """The desk a staff member works at: the one the citizen was called to, else the one of this session."""
    return (row or {}).get("desk") or session.get("desk", "1")


@bp.post("/call-next")
@staff_required()
def call_next():
    """From the board or from the last citizen's page: the next waiting number comes to this desk."""
    desk = " ".join(request.form.get("desk", "").split())[:8] or "1"
    session["desk"] = desk
    row = kiosk().checkins.call_next(desk, actor())
    if row is None:
        flash(("Không còn ai đang chờ.", "Nobody is waiting."))
        return redirect(url_for("staff.board"))
    announce(row)
    return redirect(url_for("staff.checkin", checkin_id=row["id"]))


# -- one citizen -------------------------------------------------------------------------------------------------
@bp.get("/checkin/<checkin_id>")
@staff_required()
def checkin(checkin_id: str):
    app = kiosk()
    row = app.checkins.get(checkin_id)
    if row is None:
        abort(404)
    vac = vaccinations().for_checkin(checkin_id)
    observation_left = None
    if vac and row["state"] == "observing":
        observation_left = int((dt.datetime.fromisoformat(vac["observation_until"]) - app.clock.now()).total_seconds())
    # Earlier doses of this person: the same number under another name or birth date is another person's record.
    history = [h for h in vaccinations().history(row["id_number"])
               if h["checkin_id"] != checkin_id and same_person(h, row["full_name"], row["dob"])]
    prints = print_jobs.of_checkin(app.store, checkin_id)
    flags = app.checkins.verification.flags(checkin_id)
    desk = desk_of(row)
    return render_template("staff_checkin.html", row=row, vac=vac, history=history, prints=prints,
                           observation_left=observation_left, vaccines=VACCINES, max_doses=MAX_DOSES,
                           next_dose=len(history) + 1, flags=flags, desk=desk,
                           remembered=desks.remembered(app.store, app.config.kiosk.site_id, desk,
                                                       app.clock.today().isoformat()),
                           open_flags=[f for f in flags if f["resolved_wall"] is None])


def act(checkin_id: str, action) -> object:
    try:
        action()
    except Refusal as exc:
        flash((exc.message_vi, exc.message_en))
    else:
        announce(kiosk().checkins.get(checkin_id))
    if request.form.get("back") == "board":  # the board's own buttons (recall, no-show) keep staff on the board
        return redirect(url_for("staff.board"))
    return redirect(url_for("staff.checkin", checkin_id=checkin_id))


@bp.post("/checkin/<checkin_id>/screen")
@staff_required()
def screening(checkin_id: str):
    return act(checkin_id, lambda: vaccinations().record_screening(
        checkin_id, request.form.get("outcome", ""), actor(), request.form.get("reason")))


@bp.post("/checkin/<checkin_id>/inject")
@staff_required()
def inject_dose(checkin_id: str):
    try:
        dose = int(request.form.get("dose_number", ""))
    except ValueError:
        dose = 0
    injection = Injection(request.form.get("vaccine", ""), request.form.get("lot", ""), dose,
                          request.form.get("vaccinator", ""))

    def record_and_remember():
        app = kiosk()
        vaccinations().record_injection(checkin_id, injection, actor())
        given = vaccinations().for_checkin(checkin_id)  # the lot as stored (normalised)
        desks.remember(app.store, app.config.kiosk.site_id, desk_of(app.checkins.get(checkin_id)),
                       app.clock.today().isoformat(), given["vaccine"], given["lot"], actor(), app.clock.stamp().wall)
    return act(checkin_id, record_and_remember)


@bp.post("/checkin/<checkin_id>/finish")
@staff_required()
def finish(checkin_id: str):
    return act(checkin_id, lambda: vaccinations().finish(checkin_id, actor(), request.form.get("early_reason")))


@bp.post("/checkin/<checkin_id>/move")
@staff_required()
def move(checkin_id: str):
    to_state = request.form.get("to_state", "")
    if to_state not in ("waiting", "left"):
        abort(400)
    reason = (request.form.get("reason") or "").strip() or None
    return act(checkin_id, lambda: kiosk().checkins.transition(checkin_id, to_state, actor(), reason))


@bp.post("/checkin/<checkin_id>/recall")
@staff_required()
def recall(checkin_id: str):
    """Call a called number again (the display announces it once more)."""
    return act(checkin_id, lambda: kiosk().checkins.recall(checkin_id, actor()))


@bp.post("/checkin/<checkin_id>/no-show")
@staff_required()
def no_show(checkin_id: str):
    """A called number nobody answered: it leaves the queue (state `left`, reason `no_show`)."""
    return act(checkin_id, lambda: kiosk().checkins.no_show(checkin_id, actor()))


@bp.post("/checkin/<checkin_id>/card-seen")
@staff_required()
def card_seen(checkin_id: str):
    """Staff saw the card: the number typed from it, and a tick that its name and birth date are the ones shown."""
    return act(checkin_id, lambda: kiosk().checkins.verification.confirm_card(
        checkin_id, request.form.get("number_on_card", ""), request.form.get("details_match") == "yes", actor()))


@bp.post("/checkin/<checkin_id>/release")
@staff_required()
def release(checkin_id: str):
    """This check-in is not the card holder's: the number is free for the holder to check in today."""
    return act(checkin_id, lambda: kiosk().checkins.release(checkin_id, actor(), request.form.get("reason", "")))


@bp.post("/checkin/<checkin_id>/reprint")
@staff_required()
def reprint_view(checkin_id: str):
    app = kiosk()
    try:
        job = reprint(app.store, app.clock, request.form.get("kind", ""), checkin_id, actor(),
                      request.form.get("reason", ""))
    except Refusal as exc:
        flash((exc.message_vi, exc.message_en))
    else:
        flash((f"Đã gửi lệnh in lại (bản sao số {job['copy']}).", f"Reprint queued (copy {job['copy']})."))
    return redirect(url_for("staff.checkin", checkin_id=checkin_id))


# -- search, corrections -----------------------------------------------------------------------------------------
@bp.get("/search")
@staff_required()
def search():
    raw = request.args.get("q", "").strip()
    # A certificate scanned into the search box (a handheld scanner types it): Base45 has spaces, keep them.
    q = raw if raw.startswith("HC1:") else " ".join(raw.split())
    return render_template("staff_search.html", q=q, rows=find(q) if q else [])


def find(q: str) -> list[dict]:
    """A certificate scanned into the box finds its check-in; anything else is the check-ins' search."""
    app = kiosk()
    if q.startswith("HC1:"):
        record = lookup_certificate(app.store, q)
        found = app.checkins.get(record["checkin_id"]) if record else None
        return [found] if found and found["site_id"] == app.config.kiosk.site_id else []
    return app.checkins.search(q, SEARCH_LIMIT)


@bp.get("/corrections")
@staff_required()
def corrections():
    app = kiosk()
    rows = Corrections(app.store, app.config.kiosk, app.clock).for_site()
    now = app.clock.now()
    for r in rows:
        r["hours_left"] = round((dt.datetime.fromisoformat(r["deadline_wall"]) - now).total_seconds() / 3600, 1)
    return render_template("staff_corrections.html", rows=rows)


# -- technician --------------------------------------------------------------------------------------------------
@bp.get("/tech")
@staff_required(role="technician")
def tech():
    app = kiosk()
    pending, _oldest = Outbox(app.store).backlog()
    jobs = [{"state": state, "n": n} for state, n in print_jobs.counts(app.store).items() if n]
    return render_template("staff_tech.html", health=app.health(), outbox={"pending": pending}, jobs=jobs,
                           has_camera=app.part("camera") is not None, config=app.config,
                           accounts=StaffAccounts(app.store, app.clock).list(), now=app.clock.now().isoformat(), sms=tech_view(app))


@bp.post("/tech/accounts/<int:account_id>/<action>")
@staff_required(role="technician")
def account_action(account_id: int, action: str):
    """A technician unlocks an account, gives it a new PIN (shown once) or removes it; audited like the CLI's."""
    app = kiosk()
    accounts = StaffAccounts(app.store, app.clock)
    account = next((a for a in accounts.list() if a["id"] == account_id), None)
    if account is None or action not in ("unlock", "reset-pin", "remove"):
        abort(404)
    try:
        if action == "unlock":
            accounts.unlock(account["name"], actor())
            flash((f"Đã mở khoá tài khoản {account['name']}.", f"{account['name']} is unlocked."))
        elif action == "reset-pin":
            pin = new_pin(account["role"])
            accounts.reset_pin(account["name"], pin, actor())
            flash((f"Mã PIN mới của {account['name']}: {pin} (chỉ hiện một lần, hãy đưa tận tay).",
                   f"New PIN for {account['name']}: {pin} (shown once; hand it over in person)."))
        else:
            if account["id"] == current_staff()["id"]:
                raise AccountError("remove_self", "Không thể tự xoá tài khoản đang đăng nhập.",
                                   "You cannot remove the account you are logged in with.")
            accounts.remove(account["name"], actor())
            flash((f"Đã xoá tài khoản {account['name']}.", f"{account['name']} is removed."))
    except AccountError as exc:
        flash((exc.message_vi, exc.message_en))
    return redirect(url_for("staff.tech") + "#h-accounts")


@bp.post("/tech/test-print")
@staff_required(role="technician")
def test_print():
    """The printer part prints its test slip between two jobs."""
    part = kiosk().part("printer")
    if part is None:
        flash(("Chưa có máy in được cấu hình.", "No printer part is running."))
    else:
        try:
            part.test_print()
        except Exception as exc:  # noqa: BLE001 - shown to the technician as it is
            flash((f"In thử thất bại: {exc}", f"Test print failed: {exc}"))
        else:
            flash(("Đã gửi trang in thử.", "Test page sent."))
    return redirect(url_for("staff.tech"))
