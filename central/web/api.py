"""Machine-readable endpoints (contract in docs/central.md): GET /api/fleet, GET /api/sites, GET /metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify

from central import fleet, metrics, numbers
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
    return jsonify(numbers.site_counts(ops.store, ops.config.site_by_id))


@bp.get("/metrics")
@machine_readable
def prometheus():
    ops = _ops()
    return Response(metrics.render(ops), mimetype="text/plain; version=0.0.4")


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True, **_ops().health()})
