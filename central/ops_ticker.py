"""The operations side's background work, every [alerts] evaluate_every_seconds:

- evaluate alerts over the fleet (raise / clear in ops.db);
- send correction outcomes the broker has not taken yet (on central's one connection, the ingest's);
- text the alerts that are due to the [alert_sms] numbers (central.alert_sms), on a thread of its own: a modem that
  stopped answering holds a send for up to 100 s, and alert evaluation must not wait for it;
- tell open screens that something changed: SQLite's `PRAGMA data_version` on a read-only connection moves when
  any other connection (the ingest, another process) commits, so nothing has to call the dashboard.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from central import alerts, corrections, fleet
from central.alert_sms import AlertSmsFailed

log = logging.getLogger("vaxkiosk.central.ops")

WATCH_EVERY = 2.0  # screens re-read at most this often: with hundreds of kiosks something changes every instant
SMS_RETRY_MAX = 600.0  # a modem or network that keeps failing is tried again at most this far apart


class Ticker:
    def __init__(self, ops):
        self.ops = ops
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sms_wait = 0.0

    # -- work ----------------------------------------------------------------------------------------------------
    def tick(self) -> None:
        ops = self.ops
        now = time.time()
        views = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, now)
        with ops.ops_store.transaction() as db:
            raised, cleared = alerts.evaluate(db.conn, views, ops.config.alerts, now)
        if raised or cleared:
            log.info("alerts: %d raised, %d cleared", raised, cleared)
            ops.events.publish("changed", {"what": ["alerts"]})
        self.send_outcomes()

    def send_outcomes(self) -> None:
        """Each decision the broker has not taken yet, in turn; the first one it does not take ends this round."""
        for row in corrections.unsent(self.ops.ops_store):
            if not self.ops.publisher.send_command(row["site"], row["kiosk"], "correction_outcome",
                                                   corrections.outcome_args(row), wait_seconds=5):
                return
            with self.ops.ops_store.transaction() as db:
                corrections.mark_sent(db.conn, row["record_id"], row["decided_at"], time.time())

    def text_alerts(self) -> float:
        """Each due alert to the SMS channel; the seconds to wait before the next round (doubling while it fails)."""
        every = self.ops.config.alerts.evaluate_every_seconds
        for alert in self.ops.alert_sms.due():
            try:
                self.ops.alert_sms.send(alert)
            except AlertSmsFailed as exc:
                self.sms_wait = min(max(self.sms_wait * 2, every * 2), SMS_RETRY_MAX)
                log.warning("alert SMS failed (%s); next try in %.0f s", exc, self.sms_wait)
                return self.sms_wait
        self.sms_wait = 0.0
        return every

    # -- threads -------------------------------------------------------------------------------------------------
    def _sms_loop(self) -> None:
        wait = self.ops.config.alerts.evaluate_every_seconds
        while not self.stopping.wait(wait):
            try:
                wait = self.text_alerts()
            except Exception:  # noqa: BLE001 - a bad row must not end alert texts
                log.exception("alert texts failed")

    def _tick_loop(self) -> None:
        while not self.stopping.wait(self.ops.config.alerts.evaluate_every_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a bad row must not end alerting
                log.exception("alert evaluation failed")

    def _watch_loop(self) -> None:
        conn = sqlite3.connect(f"file:{self.ops.store.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            last = None
            while not self.stopping.wait(WATCH_EVERY):
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if last is not None and version != last:
                    self.ops.events.publish("changed", {"what": ["data"]})
                last = version
        finally:
            conn.close()

    def start(self) -> None:
        loops = [(self._tick_loop, "ops-ticker"), (self._watch_loop, "ops-watch")]
        if self.ops.alert_sms is not None:
            loops.append((self._sms_loop, "ops-sms"))
        for target, name in loops:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(10)
