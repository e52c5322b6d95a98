"""The durable outbox of alert notifications (table `alert_notifications` in ops.db, owned here), shared by every
channel (central.alert_channels).

- A notification is written in the transaction that raises its alert (central.alerts.evaluate): committed alert,
  committed notification; a restart finds it still due. One row per (alert, channel): an alert already in the table
  is never queued again.
- `deliver_due` hands each due row to its channel; `send` returning marks it sent (committed before the next row),
  `send` raising leaves it pending with the error and a later attempt (doubling from [alerts] notify_retry_seconds up
  to RETRY_CAP_S). Never dropped: a row whose channel is no longer configured waits, shown on the alerts page.
- Sent means sent: a restart does not send a row marked sent again. The one window left is a crash after the
  receiver took it and before the mark committed; then it is sent again with the same `notification_id` (webhook
  header Idempotency-Key, e-mail Message-ID), so a receiver can tell.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("vaxkiosk.central.alerts")

SCHEMA = """
CREATE TABLE alert_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    channel TEXT NOT NULL,                 -- a channel's name (central.alert_channels)
    payload TEXT NOT NULL,                 -- the alert as the channel gets it, JSON (no personal data)
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    sent_at REAL,
    UNIQUE (alert_id, channel)
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt) WHERE sent_at IS NULL;
"""

RETRY_CAP_S = 600.0
ERROR_CHARS = 300


def enqueue(conn, alert: dict, channels, now: float) -> int:
    """Queue `alert` (with its id) for each channel name, in the caller's transaction; returns rows added."""
    added = 0
    for name in channels:
        payload = {**alert, "notification_id": f"alert-{alert['id']}-{name}"}
        added += conn.execute(
            "INSERT INTO alert_notifications (alert_id, channel, payload, created, next_attempt) VALUES (?,?,?,?,?) "
            "ON CONFLICT (alert_id, channel) DO NOTHING",
            (alert["id"], name, json.dumps(payload, ensure_ascii=False), now, now)).rowcount
    return added


def deliver_due(store, channels: dict, now: float, first_retry_s: float, limit: int = 100) -> tuple[int, int]:
    """Send what is due through `channels` (name → channel); returns (sent, failed)."""
    rows = store.query("SELECT id, channel, payload, attempts FROM alert_notifications "
                       "WHERE sent_at IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?", (now, limit))
    sent = failed = 0
    for row in rows:
        channel = channels.get(row["channel"])
        try:
            if channel is None:
                raise LookupError(f"channel {row['channel']!r} is not configured")
            channel.send(json.loads(row["payload"]))
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried, never lost
            failed += 1
            delay = min(RETRY_CAP_S, first_retry_s * 2 ** row["attempts"])
            error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            log.warning("alert notification %s via %s failed (attempt %d), again in %.0f s: %s",
                        row["id"], row["channel"], row["attempts"] + 1, delay, error)
            with store.transaction() as db:
                db.conn.execute("UPDATE alert_notifications SET attempts = attempts + 1, next_attempt = ?, "
                                "last_error = ? WHERE id = ?", (now + delay, error, row["id"]))
            continue
        with store.transaction() as db:
            db.conn.execute("UPDATE alert_notifications SET attempts = attempts + 1, sent_at = ?, last_error = NULL "
                            "WHERE id = ?", (now, row["id"]))
        sent += 1
    return sent, failed


def for_alerts(store, alert_ids: list[int]) -> dict[int, list[dict]]:
    """alert id → its notifications (channel, sent_at, attempts, last_error): shown on the alerts page."""
    if not alert_ids:
        return {}
    marks = ",".join("?" for _ in alert_ids)
    out: dict[int, list[dict]] = {}
    for r in store.query(f"SELECT alert_id, channel, sent_at, attempts, last_error, next_attempt "
                         f"FROM alert_notifications WHERE alert_id IN ({marks}) ORDER BY channel", tuple(alert_ids)):
        out.setdefault(r["alert_id"], []).append(r)
    return out


def pending_counts(store) -> dict[str, int]:
    """channel → notifications not sent yet (for /metrics)."""
    return {r["channel"]: r["n"] for r in store.query(
        "SELECT channel, count(*) AS n FROM alert_notifications WHERE sent_at IS NULL GROUP BY channel")}
