"""Prometheus text exposition of the operations side: fleet by state, active alerts, ingest, rejections, lag."""

from __future__ import annotations

from central import alerts, fleet
from central.monitor import LAG_BUCKETS


def _line(name: str, value, labels: dict | None = None) -> str:
    label = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
    return f"{name}{{{label}}} {value}" if label else f"{name} {value}"


def render(store, stats) -> str:
    out = [
        "# HELP vaxkiosk_central_kiosks Kiosks by connection state.",
        "# TYPE vaxkiosk_central_kiosks gauge",
        *(_line("vaxkiosk_central_kiosks", n, {"state": s}) for s, n in fleet.counts_by_state(store).items()),
        "# HELP vaxkiosk_central_alerts_active Alerts raised and not cleared, by code.",
        "# TYPE vaxkiosk_central_alerts_active gauge",
    ]
    active = alerts.active_counts(store)
    out += [_line("vaxkiosk_central_alerts_active", active.get(code, 0), {"code": code}) for code in alerts.TITLES]
    out += ["# HELP vaxkiosk_central_messages_total Messages accepted by the fleet monitor, by kind.",
            "# TYPE vaxkiosk_central_messages_total counter"]
    out += [_line("vaxkiosk_central_messages_total", stats.received.get(k, 0), {"kind": k})
            for k in ("status", "health", "queue", "record")]
    out += ["# HELP vaxkiosk_central_rejected_total Messages dropped as malformed or hostile, by reason.",
            "# TYPE vaxkiosk_central_rejected_total counter"]
    out += [_line("vaxkiosk_central_rejected_total", n, {"reason": r}) for r, n in sorted(stats.rejected.items())]
    out += ["# HELP vaxkiosk_central_duplicate_records_total Records received again (already counted).",
            "# TYPE vaxkiosk_central_duplicate_records_total counter",
            _line("vaxkiosk_central_duplicate_records_total", stats.duplicates),
            "# HELP vaxkiosk_central_lag_seconds Kiosk time stamp to central commit (skewed by unsynchronised clocks).",
            "# TYPE vaxkiosk_central_lag_seconds histogram"]
    cumulative = 0
    for bound, n in zip([*LAG_BUCKETS, "+Inf"], stats.lag_buckets):
        cumulative += n
        out.append(_line("vaxkiosk_central_lag_seconds_bucket", cumulative, {"le": bound}))
    out += [_line("vaxkiosk_central_lag_seconds_sum", f"{stats.lag_sum:.3f}"),
            _line("vaxkiosk_central_lag_seconds_count", cumulative)]
    out += ["# HELP vaxkiosk_central_monitor_start_time_seconds When the fleet monitor started (rate() needs it).",
            "# TYPE vaxkiosk_central_monitor_start_time_seconds gauge",
            _line("vaxkiosk_central_monitor_start_time_seconds", f"{stats.started:.0f}")]
    return "\n".join(out) + "\n"
