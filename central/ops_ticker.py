"""The operations side's background work, every [alerts] evaluate_every_seconds:

- evaluate alerts over the fleet (raise / clear in ops.db, queue raised ones for the alert channels);
- in a thread of its own (a slow mail server must not hold alert evaluation): send the queued notifications
  (central.alert_outbox), every NOTIFY_EVERY seconds or as soon as a tick raised something;
- send correction outcomes the broker has not taken yet (on central's one connection, the ingest's);
- tell open screens that something changed: the store's data version (SQLite's `PRAGMA data_version` on a
  read-only connection, PostgreSQL's WAL position) moves when any other connection (the ingest, another process)
  commits, so nothing has to call the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time

from central import alert_outbox, alerts, corrections, fleet

log = logging.getLogger("vaxkiosk.central.ops")

WATCH_EVERY = 2.0  # screens re-read at most this often: with hundreds of kiosks something changes every instant
NOTIFY_EVERY = 1.0  # due retries are looked for this often


class Ticker:
    stop_wait_seconds = 10.0  # per thread: a tick may be waiting on the broker (5 s) or a slow channel

    def __init__(self, ops):
        self.ops = ops
        self.stopping = threading.Event()
        self.notify_now = threading.Event()
        self.threads: list[threading.Thread] = []

    # -- work ----------------------------------------------------------------------------------------------------
    def tick(self) -> None:
        ops = self.ops
        now = time.time()
        views = fleet.fleet(ops.store, ops.config.site_by_id, ops.config.alerts.silent_after_seconds, now)
        with ops.ops_store.transaction() as db:
            raised, cleared = alerts.evaluate(db.conn, views, ops.config.alerts, now, channels=list(ops.channels))
        if raised or cleared:
            log.info("alerts: %d raised, %d cleared", raised, cleared)
            ops.events.publish("changed", {"what": ["alerts"]})
            self.notify_now.set()
        self.send_outcomes()

    def notify(self) -> tuple[int, int]:
        """Send the due alert notifications; (sent, failed)."""
        return alert_outbox.deliver_due(self.ops.ops_store, self.ops.channels, time.time(),
                                        self.ops.config.alerts.notify_retry_seconds)

    def send_outcomes(self) -> None:
        """Each decision the broker has not taken yet, in turn; the first one it does not take ends this round."""
        for row in corrections.unsent(self.ops.ops_store):
            if self.stopping.is_set():
                return
            if not self.ops.publisher.send_command(row["site"], row["kiosk"], "correction_outcome",
                                                   corrections.outcome_args(row), wait_seconds=5):
                return
            with self.ops.ops_store.transaction() as db:
                corrections.mark_sent(db.conn, row["record_id"], row["decided_at"], time.time())

    # -- threads -------------------------------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        while not self.stopping.wait(self.ops.config.alerts.evaluate_every_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a bad row must not end alerting
                if self.stopping.is_set():
                    return  # the stores closed under a tick that was running when central stopped
                log.exception("alert evaluation failed")

    def _notify_loop(self) -> None:
        while not self.stopping.is_set():
            self.notify_now.wait(NOTIFY_EVERY)
            self.notify_now.clear()
            if self.stopping.is_set():
                return
            try:
                self.notify()
            except Exception:  # noqa: BLE001 - the outbox keeps what was not sent; the next round tries again
                if self.stopping.is_set():
                    return
                log.exception("alert notifications failed")

    def _watch_loop(self) -> None:
        last = None
        while not self.stopping.wait(WATCH_EVERY):
            try:
                version = self.ops.store.data_version()
            except Exception:  # noqa: BLE001 - a database restart must not end the screens' refresh
                log.warning("could not read the store's data version; trying again")
                continue
            if last is not None and version != last:
                self.ops.events.publish("changed", {"what": ["data"]})
            last = version

    def start(self) -> None:
        for target, name in ((self._tick_loop, "ops-ticker"), (self._watch_loop, "ops-watch"),
                             (self._notify_loop, "ops-notify")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        self.notify_now.set()
        for t in self.threads:
            t.join(self.stop_wait_seconds)
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            # Daemon threads end with the process; in a process that goes on (tests, an embedding) say so.
            log.warning("operations threads still running %g s after stop: %s", self.stop_wait_seconds,
                        ", ".join(stuck))
