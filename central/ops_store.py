"""The operations database (ops.db): fleet state, health history, alerts, corrections and record counts.

Kept apart from the aggregator's record store: telemetry writes (health every few seconds from every kiosk) never
contend with record commits, and the operations side can be rebuilt from the streams without touching the records.
Each table's SQL lives in the module that owns its rules; this module only lists the migrations in order.
"""

from __future__ import annotations

from central import alerts, corrections, fleet, numbers
from kiosk.store import Store

OPS_MIGRATIONS: list[tuple[str, str]] = [
    ("0001_fleet", fleet.SCHEMA),
    ("0002_alerts", alerts.SCHEMA),
    ("0003_numbers", numbers.SCHEMA),
    ("0004_corrections", corrections.SCHEMA),
]


class OpsStore(Store):
    migrations = OPS_MIGRATIONS

    def _connect(self):
        conn = super()._connect()
        # Telemetry can be re-sent by the kiosks; a power cut may lose the last second of it, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
