"""The fleet monitor: one MQTT connection that feeds ops.db, plus the loops that keep the derived state true.

- status / health / queue: normal subscriptions (retained status arrives at once after a restart);
- records: a shared subscription of its own group (`$share/central-ops/...`), counted once per record id; the
  aggregator's group receives and acknowledges its own copy;
- a writer thread applies messages in batches (one transaction per batch);
- a ticker marks silent kiosks lost, evaluates alerts, prunes history and sends correction outcomes not yet taken
  by the broker.
Malformed or hostile messages are counted by reason and dropped; nothing a kiosk sends can stop the loops.
"""

from __future__ import annotations

import bisect
import collections
import json
import logging
import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from central import alerts, corrections, fleet, numbers, telemetry
from central.ops_config import OpsConfig
from central.ops_store import OpsStore
from kiosk.events import EventBus

log = logging.getLogger("vaxkiosk.central.monitor")

BATCH_MAX = 1000
BATCH_WAIT = 0.05


# Upper bounds (seconds) of the lag histogram: a histogram (not quantiles) so that scrapes of several monitor
# processes can be added up and two scrapes subtracted (bench/fleet.py does both).
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Stats:
    """Counters for /metrics; written by the writer thread only (the MQTT thread counts overloads)."""

    def __init__(self):
        self.received = collections.Counter()   # kind → messages accepted
        self.rejected = collections.Counter()   # reason → messages dropped
        self.duplicates = 0
        # Seconds from the kiosk's time stamp to central's commit; the last slot counts lags above every bound.
        self.lag_buckets = [0] * (len(LAG_BUCKETS) + 1)
        self.lag_sum = 0.0
        self.started = time.time()

    def observe_lag(self, seconds: float) -> None:
        self.lag_buckets[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.lag_sum += seconds


class Monitor:
    name = "ops-monitor"

    def __init__(self, config: OpsConfig, store: OpsStore, events: EventBus):
        self.config = config
        self.store = store
        self.events = events
        self.stats = Stats()
        self.inbox: queue.Queue = queue.Queue(maxsize=100_000)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.connected = threading.Event()
        o = config.ops
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=o.mqtt_client_id,
                                  protocol=mqtt.MQTTv5)
        if o.mqtt_username:
            self.client.username_pw_set(o.mqtt_username, o.mqtt_password or None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 30)
        self._last_event = 0.0

    # -- MQTT thread -------------------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            log.warning("broker refused the fleet monitor: %s", reason)
            return
        subs = [(t, 1) for t in telemetry.RETAINED_TOPICS + telemetry.SHARED_TOPICS]
        client.subscribe(subs)
        self.connected.set()
        log.info("fleet monitor connected to %s:%s", self.config.ops.mqtt_host, self.config.ops.mqtt_port)

    def _on_message(self, client, userdata, msg):
        try:
            self.inbox.put_nowait((msg.topic, msg.payload, time.time()))
        except queue.Full:
            self.stats.rejected["overload"] += 1

    # -- writer thread -----------------------------------------------------------------------------------------
    def _drain(self) -> list:
        try:
            batch = [self.inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + BATCH_WAIT
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self.inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        sites = self.config.site_by_id
        while not self.stopping.is_set() or not self.inbox.empty():
            batch = self._drain()
            if not batch:
                continue
            parsed = []
            for topic, payload, received in batch:
                try:
                    parsed.append((telemetry.parse(topic, payload, sites), received))
                except telemetry.Rejected as exc:
                    self.stats.rejected[exc.reason] += 1
                    log.debug("rejected a message on %s: %s", topic[:120], exc.reason)
            if not parsed:
                continue
            try:
                self._apply(parsed)
            except Exception:  # noqa: BLE001 - a bug or a full disk must not end the monitor; the batch is counted
                log.exception("could not store a batch of %d messages", len(parsed))
                self.stats.rejected["store_error"] += len(parsed)

    def _apply(self, parsed) -> None:
        stamps, changed = [], set()
        with self.store.transaction() as db:
            now = time.time()
            for msg, received in parsed:
                if msg.kind == "record":
                    new = numbers.apply_record(db.conn, msg, now)
                    if msg.stream == "corrections":
                        corrections.apply_record(db.conn, msg, now)
                    if not new:
                        self.stats.duplicates += 1
                        continue
                    changed.add("numbers")
                else:
                    fleet.apply(db.conn, msg, now)
                    changed.add("fleet")
                self.stats.received[msg.kind] += 1
                at = telemetry.wall_time(msg.data)
                if at is not None:
                    stamps.append(at.timestamp())
        committed = time.time()
        for stamp in stamps:
            self.stats.observe_lag(max(0.0, committed - stamp))
        self._notify(changed)

    def _notify(self, changed: set) -> None:
        # Screens re-read on an event; more than two a second would only make browsers busy.
        now = time.monotonic()
        if changed and now - self._last_event >= 0.5:
            self._last_event = now
            self.events.publish("changed", {"what": sorted(changed)})

    # -- ticker thread -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        limits = self.config.alerts
        now = time.time()
        with self.store.transaction() as db:
            silent = fleet.mark_silent(db.conn, limits.silent_after_seconds, now)
            raised, cleared = alerts.evaluate(db.conn, limits, now)
            fleet.prune(db.conn, self.config.ops.health_history_hours * 3600, now)
        if raised or cleared or silent:
            log.info("alerts: %d raised, %d cleared; %d kiosks went silent", raised, cleared, silent)
            self.events.publish("changed", {"what": ["alerts", "fleet"]})
        self.send_outcomes()

    def send_outcomes(self) -> None:
        if not self.connected.is_set():
            return
        for row in corrections.unsent(self.store):
            info = self.client.publish(telemetry.cmd_topic(row["site"], row["kiosk"]),
                                       json.dumps(corrections.outcome_message(row)), qos=1)
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                return
            if info.is_published():
                with self.store.transaction() as db:
                    corrections.mark_sent(db.conn, row["record_id"], row["decided_at"], time.time())

    def _tick_loop(self) -> None:
        while not self.stopping.wait(self.config.alerts.evaluate_every_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001
                log.exception("alert evaluation failed")

    # -- part interface ----------------------------------------------------------------------------------------
    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        # Keep the session (and the records queued for it) for a day: a restart of central loses no counts.
        props.SessionExpiryInterval = 86400
        self.client.connect_async(self.config.ops.mqtt_host, self.config.ops.mqtt_port, keepalive=30,
                                  clean_start=False, properties=props)
        self.client.loop_start()
        for target, name in ((self._write_loop, "ops-writer"), (self._tick_loop, "ops-ticker")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()
        for t in self.threads:
            t.join(10)

    def health(self) -> dict:
        return {"connected": self.connected.is_set(), "inbox": self.inbox.qsize(),
                "received": sum(self.stats.received.values()), "rejected": sum(self.stats.rejected.values())}
