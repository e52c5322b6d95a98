"""Machine-readable endpoints (contract in docs/central.md): GET /api/fleet, GET /api/sites, GET /metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify

from central import fleet, metrics, numbers
from central.web.auth import machine_readable

bp = Blueprint("api", __name__)


def _ops():
    return current_app.extensions["ops"]


def _iso(ts: float | None) -> str | None:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


@bp.get("/api/fleet")
@machine_readable
def api_fleet():
    ops = _ops()
    rows = fleet.fleet(ops.store, ops.config.site_by_id)
    for r in rows:
        r["last_seen"], r["state_since"] = _iso(r["last_seen"]), _iso(r["state_since"])
    return jsonify(rows)


@bp.get("/api/sites")
@machine_readable
def api_sites():
    ops = _ops()
    return jsonify(numbers.site_counts(ops.store, ops.config.site_by_id, numbers.today(time.time())))


@bp.get("/metrics")
@machine_readable
def prometheus():
    ops = _ops()
    return Response(metrics.render(ops.store, ops.monitor.stats), mimetype="text/plain; version=0.0.4")


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True, "monitor": _ops().monitor.health()})
