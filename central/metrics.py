"""Prometheus text for central: fleet by state, active alerts, records stored (ingest rate = rate() of it),
rejected messages by reason, end-to-end lag of recent records.

Everything is read from the databases, so the figures are the same whichever central process is scraped."""

from __future__ import annotations

import time

from central import alert_outbox, alerts, fleet


def _line(name: str, value, labels: dict | None = None) -> str:
    label = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
    return f"{name}{{{label}}} {value}" if label else f"{name} {value}"


def quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def render(ops) -> str:
    now = time.time()
    views = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, now)
    active = alerts.active_counts(ops.ops_store)
    out = ["# HELP vaxkiosk_central_kiosks Kiosks by connection state.", "# TYPE vaxkiosk_central_kiosks gauge"]
    out += [_line("vaxkiosk_central_kiosks", n, {"state": s}) for s, n in fleet.counts_by_state(views).items()]
    out += ["# HELP vaxkiosk_central_alerts_active Alerts raised and not cleared, by code.",
            "# TYPE vaxkiosk_central_alerts_active gauge"]
    out += [_line("vaxkiosk_central_alerts_active", active.get(code, 0), {"code": code}) for code in alerts.TITLES]
    out += ["# HELP vaxkiosk_central_records_total Records stored (deduplicated), by stream.",
            "# TYPE vaxkiosk_central_records_total counter"]
    totals = ops.store.ingest_totals()
    out += [_line("vaxkiosk_central_records_total", totals.get(s, 0), {"stream": s})
            for s in ("checkins", "vaccinations", "corrections", "print_events")]
    out += ["# HELP vaxkiosk_central_rejected_total Messages refused by the aggregator, by reason.",
            "# TYPE vaxkiosk_central_rejected_total counter"]
    out += [_line("vaxkiosk_central_rejected_total", n, {"reason": r}) for r, n in sorted(ops.store.rejects().items())]
    out += ["# HELP vaxkiosk_central_site_records_total Records stored (deduplicated), by site and stream.",
            "# TYPE vaxkiosk_central_site_records_total counter"]
    out += [_line("vaxkiosk_central_site_records_total", r["n"], {"site": r["site"], "stream": r["stream"]})
            for r in ops.store.site_totals()]
    out += ["# HELP vaxkiosk_central_site_kiosks Kiosks by site and connection state.",
            "# TYPE vaxkiosk_central_site_kiosks gauge"]
    by_site: dict[tuple[str, str], int] = {}
    for v in views:
        by_site[(v["site"], v["state"])] = by_site.get((v["site"], v["state"]), 0) + 1
    out += [_line("vaxkiosk_central_site_kiosks", n, {"site": site, "state": state})
            for (site, state), n in sorted(by_site.items())]
    out += ["# HELP vaxkiosk_central_alert_notifications_pending Alert notifications not sent yet, by channel.",
            "# TYPE vaxkiosk_central_alert_notifications_pending gauge"]
    pending = alert_outbox.pending_counts(ops.ops_store)
    out += [_line("vaxkiosk_central_alert_notifications_pending", pending.get(name, 0), {"channel": name})
            for name in sorted(set(ops.channels) | set(pending))]
    lags = ops.store.recent_lags(300.0, now)
    out += ["# HELP vaxkiosk_central_lag_seconds Kiosk send time to central commit, records of the last 5 minutes.",
            "# TYPE vaxkiosk_central_lag_seconds summary"]
    out += [_line("vaxkiosk_central_lag_seconds", f"{quantile(lags, q):.3f}", {"quantile": q})
            for q in (0.5, 0.9, 0.99) if lags]
    out += [_line("vaxkiosk_central_lag_seconds_count", len(lags))]
    return "\n".join(out) + "\n"
