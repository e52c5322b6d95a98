"""The dashboard's pages. Each renders in full, or only its <main> when asked with ?partial=1 (live refresh)."""

from __future__ import annotations

import csv
import io
import time

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for

from central import alerts, corrections, fleet, numbers
from central.web.auth import login_required
from central.web.charts import hourly_bars, sparkline

bp = Blueprint("pages", __name__)

HISTORY_SAMPLES = 360  # an hour of health at the kiosk's default 10 s interval


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


@bp.get("/")
@login_required
def fleet_page():
    ops = _ops()
    f = _filters()
    rows = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, time.time(), **f)
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("online", "lost", "offline")}
    return _render("fleet.html", rows=rows, counts=counts, f=f, choices=_filter_choices(ops.config.sites))


@bp.get("/kiosk/<kiosk>")
@login_required
def kiosk_page(kiosk: str):
    ops = _ops()
    row = ops.store.kiosk(kiosk)
    if row is None:
        abort(404)
    k = fleet.view(row, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, time.time())
    samples = ops.store.health_history(kiosk, limit=HISTORY_SAMPLES)
    charts = {
        label: sparkline([s[col] for s in samples], label=label)
        for col, label in (("outbox_backlog", "Chưa gửi · Outbox backlog"),
                           ("outbox_oldest_s", "Chờ lâu nhất (giây) · Oldest unsent (s)"),
                           ("camera_fps", "Camera khung hình/giây · fps"), ("disk_used_pct", "Đĩa đã dùng · Disk used %"),
                           ("cpu_temp_c", "Nhiệt độ CPU · °C"), ("load", "Tải · Load"))
    }
    kiosk_alerts = [a for a in alerts.listing(ops.ops_store) if a["kiosk"] == kiosk]
    since = fleet.epoch(samples[0]["received"]) if samples else None
    return _render("kiosk.html", k=k, charts=charts, samples=len(samples), since=since, alerts=kiosk_alerts)


@bp.get("/alerts")
@login_required
def alerts_page():
    ops = _ops()
    return _render("alerts.html", active=alerts.listing(ops.ops_store),
                   cleared=alerts.listing(ops.ops_store, active=False, limit=50))


@bp.post("/alerts/<int:alert_id>/ack")
@login_required
def alert_ack(alert_id: int):
    ops = _ops()
    with ops.ops_store.transaction() as db:
        alerts.acknowledge(db.conn, alert_id, session["user"], time.time())
    ops.events.publish("changed", {"what": ["alerts"]})
    return redirect(url_for("pages.alerts_page"))


def _numbers(level: str, f: dict):
    ops = _ops()
    day = ops.store.today()
    ids = {s.id for s in _selected_sites(ops.config.sites, f)}
    rows = [r for r in numbers.site_counts(ops.store, ops.config.site_by_id, day) if r["site"] in ids]
    return day, numbers.rollup(rows, level), numbers.per_hour(ops.store, day, sorted(ids))


@bp.get("/numbers")
@login_required
def numbers_page():
    ops = _ops()
    level = request.args.get("level", "site")
    if level not in ("site", "district", "province"):
        abort(400)
    f = _filters()
    day, rows, series = _numbers(level, f)
    totals = {m: sum(r[m] for r in rows) for m in (*numbers.METRICS, "waiting")}
    return _render("numbers.html", day=day, rows=rows, level=level, f=f, totals=totals, chart=hourly_bars(series),
                   choices=_filter_choices(ops.config.sites))


@bp.get("/numbers.csv")
@login_required
def numbers_csv():
    level = request.args.get("level", "site")
    if level not in ("site", "district", "province"):
        abort(400)
    day, rows, _series = _numbers(level, _filters())
    buf = io.StringIO()
    cols = {"site": ["site", "name"], "district": ["district"], "province": []}[level]
    header = ["day", "province", "province_name", *cols, "checked_in", "vaccinated", "certificates", "waiting",
              "avg_wait_s"]
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([day if h == "day" else ("" if r.get(h) is None else r.get(h)) for h in header])
    # A BOM so that spreadsheet programs read the Vietnamese names as UTF-8.
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="vaxkiosk-{level}-{day}.csv"'})


@bp.get("/corrections")
@login_required
def corrections_page():
    ops = _ops()
    rows = corrections.listing(ops.store, ops.ops_store, time.time())
    return _render("corrections.html", rows=rows, reasons=corrections.REASONS)


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
    return _render("setup_codes.html", sites=ops.registry.sites(), code=code)
