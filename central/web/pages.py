"""The dashboard's pages. Each renders in full, or only its <main> when asked with ?partial=1 (live refresh)."""

from __future__ import annotations

import csv
import io
import logging
import time

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for

from base.corrections import show_reference
from central import alert_outbox, alerts, corrections, device_actions, fleet, numbers
from central.store import HealthSeries
from central.web.auth import admin_required, is_admin, login_required
from central.web import days
from central.web.charts import daily_bars, hourly_bars, sparkline

bp = Blueprint("pages", __name__)
log = logging.getLogger("vaxkiosk.central.web")

HISTORY_SAMPLES = 360  # an hour of health at the kiosk's default 10 s interval
# What one point of the kiosk page's charts is, per tier of central.store's health history.
RESOLUTIONS = {"raw": "mỗi báo cáo · each report", "minute": "mỗi phút · per minute", "hour": "mỗi giờ · per hour"}


def _ops():
    return current_app.extensions["ops"]


def _render(template: str, **context):
    return render_template(template, partial=request.args.get("partial") == "1", **context)


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "") for k in ("province", "district", "site")}


def _filter_choices(sites) -> dict:
    return {
        "provinces": sorted({(s.province, s.province_name) for s in sites}),
        "districts": sorted({s.district for s in sites if s.district}),
        "sites": sorted((s.id, s.name) for s in sites),
    }


def _selected_sites(sites, f: dict) -> list:
    return [s for s in sites if (not f["province"] or s.province == f["province"])
            and (not f["district"] or s.district == f["district"]) and (not f["site"] or s.id == f["site"])]


def _matches(view: dict, f: dict) -> bool:
    return all(not f[k] or view[k] == f[k] for k in ("province", "district", "site"))


@bp.get("/")
@login_required
def fleet_page():
    ops = _ops()
    f = _filters()
    views = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, time.time())
    if ops.registry is not None:
        views += fleet.never_seen(ops.registry.devices(), views, ops.config.site_by_id)
    rows = [v for v in views if _matches(v, f)]
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("online", "lost", "offline", "never_seen")}
    return _render("fleet.html", rows=rows, counts=counts, f=f, choices=_filter_choices(ops.config.sites))


@bp.get("/kiosk/<kiosk>")
@login_required
def kiosk_page(kiosk: str):
    ops = _ops()
    row = ops.store.kiosk(kiosk)
    device = ops.registry.device(kiosk) if ops.registry is not None else None
    if row is not None:
        k = fleet.view(row, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, time.time())
    elif device is not None:  # enrolled, never connected (or revoked before it did)
        k = fleet.never_seen([{**device, "state": "active"}], [], ops.config.site_by_id)[0]
        if device["state"] == "revoked":
            k["state"] = "revoked"
    else:
        abort(404)
    if days.asked():  # that day's (or range's) health, from the finest tier that holds all of it
        series = ops.store.health_series(kiosk, *days.utc_bounds_iso())
    else:
        series = HealthSeries("raw", ops.store.health_history(kiosk, limit=HISTORY_SAMPLES))
    samples = series.rows
    charts = {
        label: sparkline([s[col] for s in samples], label=label)
        for col, label in (("outbox_backlog", "Chưa gửi · Outbox backlog"),
                           ("outbox_oldest_s", "Chờ lâu nhất (giây) · Oldest unsent (s)"),
                           ("camera_fps", "Camera khung hình/giây · fps"), ("disk_used_pct", "Đĩa đã dùng · Disk used %"),
                           ("cpu_temp_c", "Nhiệt độ CPU · °C"), ("load", "Tải · Load"))
    }
    kiosk_alerts = [a for a in alerts.listing(ops.ops_store) if a["kiosk"] == kiosk]
    since = fleet.epoch(samples[0]["received"]) if samples else None
    return _render("kiosk.html", k=k, charts=charts, samples=len(samples), since=since, alerts=kiosk_alerts,
                   resolution=RESOLUTIONS[series.tier], reports=sum(s.get("n", 1) for s in samples),
                   device=device, actions=device_actions.of_kiosk(ops.ops_store, kiosk), is_admin=is_admin())


@bp.post("/kiosk/<kiosk>/revoke")
@admin_required
def kiosk_revoke(kiosk: str):
    """Revoke an enrolled kiosk (its broker login and keys go; central.registry.revoke), with a reason; audited in
    ops.db whether it worked or was refused."""
    from central.registry import RegistryRefused

    ops = _ops()
    if ops.registry is None:
        abort(404)
    reason = " ".join(request.form.get("reason", "").split())[:device_actions.MAX_REASON_CHARS]
    if not reason:
        flash("Cần ghi lý do thu hồi. / A reason for the revocation is required.")
        return redirect(url_for("pages.kiosk_page", kiosk=kiosk))
    try:
        ops.registry.revoke(kiosk, reason)
        outcome = "done"
    except RegistryRefused as exc:
        outcome = f"refused:{exc.code}"
        flash(f"{exc.message_vi} / {exc.message_en}")
    with ops.ops_store.transaction() as db:
        device_actions.record(db.conn, time.time(), session["user"], kiosk, "revoke", reason, outcome)
    if outcome == "done":
        log.warning("kiosk %s revoked from the dashboard by %s", kiosk, session["user"])
        flash(f"Đã thu hồi kiosk {kiosk}. / Kiosk {kiosk} revoked.")
    ops.events.publish("changed", {"what": ["fleet"]})
    return redirect(url_for("pages.kiosk_page", kiosk=kiosk))


@bp.get("/alerts")
@login_required
def alerts_page():
    ops = _ops()
    active = [a for a in alerts.listing(ops.ops_store) if days.within(a["first_seen"])]
    cleared = [a for a in alerts.listing(ops.ops_store, active=False, limit=5000 if days.asked() else 50)
               if days.within(a["first_seen"])]
    return _render("alerts.html", active=active, cleared=cleared[:200],
                   sent=alert_outbox.for_alerts(ops.ops_store, [a["id"] for a in active]),
                   actions=alerts.actions(ops.ops_store), snooze_hours=alerts.SNOOZE_CHOICES_H,
                   channels=list(ops.channels))


@bp.post("/alerts/<int:alert_id>/snooze")
@login_required
def alert_snooze(alert_id: int):
    ops = _ops()
    hours = request.form.get("hours", "")
    if not hours.isdigit() or int(hours) not in alerts.SNOOZE_CHOICES_H:
        abort(400)
    with ops.ops_store.transaction() as db:
        alerts.snooze(db.conn, alert_id, int(hours), session["user"], time.time())
    ops.events.publish("changed", {"what": ["alerts"]})
    return redirect(url_for("pages.alerts_page"))


@bp.post("/alerts/<int:alert_id>/ack")
@login_required
def alert_ack(alert_id: int):
    ops = _ops()
    with ops.ops_store.transaction() as db:
        alerts.acknowledge(db.conn, alert_id, session["user"], time.time())
    ops.events.publish("changed", {"what": ["alerts"]})
    return redirect(url_for("pages.alerts_page"))


def _level() -> str:
    level = request.args.get("level", "site")
    if level not in numbers.LEVELS:
        abort(400)
    return level


def _numbers(level: str, f: dict):
    ops = _ops()
    first, last = days.requested()
    ids = sorted(s.id for s in _selected_sites(ops.config.sites, f))
    rows = [r for r in numbers.site_counts(ops.store, ops.config.site_by_id, first, last) if r["site"] in ids]
    return first, last, ids, numbers.rollup(rows, level, ops.store.WAIT_BUCKET_S, ops.config.targets)


def _drill(level: str, row: dict, f: dict) -> str:
    """Where a row leads: a province to its districts, a district to its sites, a site to its own figures."""
    keep = days.query_args()
    if level == "province":
        return url_for("pages.numbers_page", level="district", province=row["province"], **keep)
    if level == "district":
        return url_for("pages.numbers_page", level="site", province=row["province"], district=row["district"],
                       **keep)
    return url_for("pages.numbers_page", level="site", province=row["province"], district=row["district"],
                   site=row["site"], **keep)


@bp.get("/numbers")
@login_required
def numbers_page():
    ops = _ops()
    level, f = _level(), _filters()
    first, last, ids, rows = _numbers(level, f)
    totals = {m: sum(r[m] for r in rows) for m in (*numbers.METRICS, *numbers.PRINTS, "waiting")}
    if first == last:
        chart = hourly_bars(numbers.per_hour(ops.store, first, ids))
        trend = []
    else:
        trend = numbers.per_day(ops.store, first, last, ids)
        chart = daily_bars({m: [d[m] for d in trend] for m in numbers.METRICS}, [d["day"] for d in trend])
    for r in rows:
        r["href"] = _drill(level, r, f)
    return _render("numbers.html", first=first, last=last, rows=rows, level=level, f=f, totals=totals, chart=chart,
                   trend=trend, doses=numbers.doses(ops.store, first, last, ids),
                   target=ops.config.numbers.desk_target_per_hour, coverage=bool(ops.config.targets) and level != "site",
                   choices=_filter_choices(ops.config.sites),
                   csv_href=url_for("pages.numbers_csv", level=level, **f, **days.query_args()))


@bp.get("/numbers.csv")
@login_required
def numbers_csv():
    level = _level()
    first, last, _ids, rows = _numbers(level, _filters())
    buf = io.StringIO()
    cols = {"site": ["site", "name", "district"], "district": ["district"], "province": []}[level]
    header = ["day", "province", "province_name", *cols, "checked_in", "vaccinated", "certificates", "waiting",
              "avg_wait_s", "tickets", "certificate_reprints", "ticket_reprints", "wait_p50_s", "wait_p90_s",
              "per_desk_hour"] + (["target_population", "coverage_pct"] if level != "site" else [])
    if first != last:
        header.insert(1, "to")
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([first if h == "day" else last if h == "to" else ("" if r.get(h) is None else r.get(h))
                    for h in header])
    name = first if first == last else f"{first}_{last}"
    # A BOM so that spreadsheet programs read the Vietnamese names as UTF-8.
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="vaxkiosk-{level}-{name}.csv"'})


@bp.get("/corrections")
@login_required
def corrections_page():
    ops = _ops()
    rows = [r for r in corrections.listing(ops.store, ops.ops_store, time.time(), ops.config.site_by_id)
            if days.within(r["received_at"])]
    return _render("corrections.html", rows=rows, reasons=corrections.REASONS, kinds=corrections.KIND_WORDS,
                   show_reference=show_reference)


@bp.post("/corrections/<record_id>")
@login_required
def correction_decide(record_id: str):
    ops = _ops()
    reason_code = request.form.get("reason_code", "")
    text = request.form.get("reason", "").strip()
    reason = text if reason_code in ("", "other") else corrections.REASONS.get(reason_code, ("", ""))[0] + (
        f" — {text}" if text else "")
    record = next((r for r in ops.store.records("corrections", limit=5000) if r["record_id"] == record_id), None)
    try:
        with ops.ops_store.transaction() as db:
            corrections.decide(db.conn, record, request.form.get("state", ""), reason, session["user"], time.time())
    except corrections.DecisionRefused as exc:
        flash(f"{exc.message_vi} / {exc.message_en}")
    else:
        ops.ticker.send_outcomes()  # now if the broker is there; the ticker retries otherwise
    ops.events.publish("changed", {"what": ["corrections"]})
    return redirect(url_for("pages.corrections_page"))


@bp.route("/setup-codes", methods=["GET", "POST"])
@login_required
def setup_codes_page():
    """A one-time enrolment code for a site, as text and as the QR the kiosk's camera reads (issue: provisioning)."""
    from central.enrol_api import new_code_view
    from central.registry import RegistryRefused

    ops = _ops()
    if ops.registry is None:
        abort(404)
    code = None
    if request.method == "POST":
        try:
            code = new_code_view(ops.registry, request.form.get("site", ""))
        except RegistryRefused as exc:
            flash(f"{exc.message_vi} / {exc.message_en}")
    return _render("setup_codes.html", sites=ops.registry.sites(), code=code,
                   outstanding=ops.registry.outstanding_codes())
