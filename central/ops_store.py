"""ops.db: what the operations side adds to the aggregator's data: alerts, their texts, correction decisions, device
actions.

Kept in its own SQLite file next to central.db (the aggregator's, written only by central.store): the dashboard's
writes (alert evaluation every few seconds, staff decisions) never take the write lock that record commits need,
and each schema has its own migrations. On PostgreSQL ([store] url) these tables live in central's database, with
their own migration list (scope "ops").
"""

from __future__ import annotations

from pathlib import Path

from base.store import open_store
from base.web.sessions import WEB_SESSIONS
from central import alert_outbox, alert_sms, alerts, corrections, device_actions

OPS_MIGRATIONS: list[tuple[str, str]] = [
    ("0001_alerts", alerts.SCHEMA),
    ("0002_correction_decisions", corrections.SCHEMA),
    ("0003_web_sessions", WEB_SESSIONS),  # dashboard logins the server can end (base.web.sessions)
    ("0004_alert_sms", alert_sms.SCHEMA),  # alert texts per (alert, number): each sent once, rate-limited
    ("0005_device_actions", device_actions.SCHEMA),  # revocations from the dashboard: who, when, why
    ("0006_alert_snooze_actions", alerts.SNOOZE_SCHEMA),
    ("0007_alert_notifications", alert_outbox.SCHEMA),  # the channels' shared outbox (central.alert_outbox)
]


def open_ops_store(location: str | Path):
    """ops.db at a path, or the `ops` tables of central's PostgreSQL database at a postgresql:// URL."""
    return open_store(location, OPS_MIGRATIONS, "ops")
