"""The operations side's background work, every [alerts] evaluate_every_seconds:

- evaluate alerts over the fleet (raise / clear in ops.db);
- send correction outcomes the broker has not taken yet (its own MQTT connection, publish only);
- prune the health history past [central] health_history_days (hourly);
- tell open screens that something changed: SQLite's `PRAGMA data_version` on a read-only connection moves when
  any other connection (the ingest, another process) commits, so nothing has to call the dashboard.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central import alerts, corrections, fleet
from central.protocol import cmd_message

log = logging.getLogger("vaxkiosk.central.ops")

PRUNE_EVERY = 3600.0
WATCH_EVERY = 2.0  # screens re-read at most this often: with hundreds of kiosks something changes every instant


class Ticker:
    def __init__(self, ops):
        self.ops = ops
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.threads: list[threading.Thread] = []
        m = ops.mqtt
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"{m.username}-ops-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        self.client.username_pw_set(m.username, m.password or None)
        if m.tls_ca:
            self.client.tls_set(ca_certs=m.tls_ca)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = lambda c, u, f, reason, p: None if reason.is_failure else self.connected.set()
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self._last_prune = 0.0

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
        if now - self._last_prune > PRUNE_EVERY:
            ops.store.prune_health(ops.health_history_days)
            self._last_prune = now
        self.send_outcomes()

    def send_outcomes(self) -> None:
        if not self.connected.is_set():
            return
        for row in corrections.unsent(self.ops.ops_store):
            topic, payload, qos = cmd_message(row["site"], row["kiosk"], "correction_outcome",
                                              corrections.outcome_args(row))
            info = self.client.publish(topic, payload, qos=qos)
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                return
            if not info.is_published():
                return
            with self.ops.ops_store.transaction() as db:
                corrections.mark_sent(db.conn, row["record_id"], row["decided_at"], time.time())

    # -- threads -------------------------------------------------------------------------------------------------
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
        self.client.connect_async(self.ops.mqtt.host, self.ops.mqtt.port, keepalive=self.ops.mqtt.keepalive)
        self.client.loop_start()
        for target, name in ((self._tick_loop, "ops-ticker"), (self._watch_loop, "ops-watch")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()
        for t in self.threads:
            t.join(10)
