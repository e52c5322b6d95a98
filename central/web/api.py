"""Machine-readable endpoints (contract in docs/central.md): GET /api/fleet, GET /api/sites, GET /api/numbers,
GET /metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from central import fleet, metrics, numbers
from central.web import days
from central.web.auth import machine_readable

bp = Blueprint("api", __name__)


def _ops():
    return current_app.extensions["ops"]


@bp.get("/api/fleet")
@machine_readable
def api_fleet():
    ops = _ops()
    views = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, time.time())
    return jsonify([fleet.api_row(v) for v in views])


@bp.get("/api/sites")
@machine_readable
def api_sites():
    ops = _ops()
    first, last = days.requested()
    return jsonify([numbers.public(r) for r in numbers.site_counts(ops.store, ops.config.site_by_id, first, last)])


@bp.get("/api/numbers")
@machine_readable
def api_numbers():
    """?level=, ?day= or ?from=&to=: the rows of that level, the daily trend and the doses by vaccine/dose/lot."""
    ops = _ops()
    level = request.args.get("level", "site")
    if level not in numbers.LEVELS:
        return {"error": f"level is one of {', '.join(numbers.LEVELS)}"}, 400
    first, last = days.requested()
    ids = sorted(ops.config.site_by_id)
    rows = numbers.rollup(numbers.site_counts(ops.store, ops.config.site_by_id, first, last), level,
                          ops.store.WAIT_BUCKET_S, ops.config.targets)
    return jsonify({"from": first, "to": last, "level": level, "rows": [numbers.public(r) for r in rows],
                    "daily": numbers.per_day(ops.store, first, last, ids),
                    "doses": numbers.doses(ops.store, first, last, ids),
                    "desk_target_per_hour": ops.config.numbers.desk_target_per_hour})


@bp.get("/metrics")
@machine_readable
def prometheus():
    ops = _ops()
    return Response(metrics.render(ops), mimetype="text/plain; version=0.0.4")


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True, **_ops().health()})
