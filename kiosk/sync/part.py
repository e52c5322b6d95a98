"""The sync part delivers: outbox → MQTT → central's application ack. On the same connection it publishes what
kiosk.sync.telemetry says is due and hands central's commands to kiosk.sync.dispatch's handlers.

Threads: paho's network thread (connect, reconnect with backoff, callbacks that only hand data over) and one sync
worker that does everything else, so a check-in never waits for the network: it commits its outbox entry and the
worker picks it up from the store within `POLL_SECONDS`.

Delivery (docs/protocol.md, "Delivery of records"): entries are published in seq order, QoS 1, at most
max_inflight of them unacknowledged; an entry becomes delivered only when central's ack names it; unacknowledged
entries go again by base.resend's rule (one at a time, with a backoff from ack_timeout to resend_max_delay that an
ack resets) and all of them after every reconnection (paho keeps its session in memory only, and the broker may
have restarted). Central deduplicates, so resending is always safe. Health is published between two bounded fills
of the window, so a long backlog cannot starve it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import paho.mqtt.client as mqtt

from base import protocol
from base.mqtt import make_client
from base.resend import Unacknowledged
from drivers import system
from kiosk.outbox import Outbox
from kiosk.sync.dispatch import Dispatcher
from kiosk.sync.telemetry import Telemetry
from kiosk.watchdog import thread_alive

log = logging.getLogger("vaxkiosk.sync")

POLL_SECONDS = 0.02  # how soon a new outbox entry is noticed (an indexed look-up: cheap even on a Pi)
OFFLINE_PUBLISH_TIMEOUT = 2.0


def make_part(app) -> "SyncPart | None":
    return SyncPart(app) if app.config.mqtt.enabled else None


class SyncPart:
    name = "sync"

    def __init__(self, app):
        self.app = app
        self.settings = app.config.mqtt
        self.site = app.config.kiosk.site_id
        self.kiosk = app.config.kiosk.kiosk_id
        self.outbox = Outbox(app.store, app.clock)
        self.telemetry = Telemetry(app, self.health)
        self.dispatcher = Dispatcher(app, self.telemetry)
        if self.settings.username and self.settings.username != self.kiosk:
            log.error("[mqtt] username %r is not the kiosk id %r: the broker will refuse this kiosk's topics",
                      self.settings.username, self.kiosk)
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self._commands: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._reconnected = threading.Event()
        self.unacked = Unacknowledged(self.settings.ack_timeout, self.settings.resend_max_delay)
        self.monotonic = time.monotonic  # tests give a clock they move
        self._sent_up_to = 0  # highest seq published since the last (re)connection
        self.stats = {"published": 0, "resent": 0, "acked": 0, "health_sent": 0, "queue_sent": 0,
                      "connects": 0, "bad_messages": 0, "refused_by_broker": 0}
        self._thread: threading.Thread | None = None
        self.client = self._make_client()

    # -- MQTT client -------------------------------------------------------------------------------------------
    def topic(self, leaf: str, stream: str | None = None) -> str:
        return protocol.topic(self.site, self.kiosk, leaf, stream)

    def _status(self, state: str, with_stamp: bool = True) -> bytes:
        payload = {"schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "state": state,
                   "boot_id": system.boot_id(), "version": self.app.version}
        if with_stamp:
            payload["at"] = self._stamp()
        return protocol.encode("status", payload)

    def _make_client(self) -> mqtt.Client:
        # Client id = username = kiosk id: the broker can pin one connection per kiosk.
        client = make_client(self.kiosk, self.settings.username or self.kiosk, self.settings.password,
                             self.settings.tls_ca, self.settings.reconnect_max_delay)
        qos, retain = protocol.TOPICS["status"]
        client.will_set(self.topic("status"), self._status("lost", with_stamp=False), qos=qos, retain=retain)
        client.max_inflight_messages_set(self.settings.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        client.subscribe([(self.topic(leaf), protocol.TOPICS[leaf][0]) for leaf in ("ack", "cmd")])
        qos, retain = protocol.TOPICS["status"]
        client.publish(self.topic("status"), self._status("online"), qos=qos, retain=retain)
        self.stats["connects"] += 1
        self._reconnected.set()
        self.connected.set()
        self._wake.set()
        log.info("connected to %s:%s as %s", self.settings.host, self.settings.port, self.kiosk)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting with backoff", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # MQTT 5 tells a denied QoS 1 publish (reason 135: the ACL does not give this username that topic).
        if reason_code.is_failure:
            self.stats["refused_by_broker"] += 1
            if self.stats["refused_by_broker"] in (1, 10, 100, 1000):
                log.error("the broker refused a publish (%s); is [mqtt] username the kiosk id and enrolled?",
                          reason_code)

    def _on_message(self, client, userdata, message) -> None:
        # Network thread: decode and hand over; the worker does the SQL.
        try:
            if message.topic == self.topic("ack"):
                self._acks.put(protocol.decode("ack", message.payload)["record_ids"])
            elif message.topic == self.topic("cmd"):
                self._commands.put(protocol.decode("cmd", message.payload))
        except protocol.ProtocolError as exc:
            self.stats["bad_messages"] += 1
            log.warning("ignored a malformed message on %s: %s", message.topic, exc.reason)
        self._wake.set()

    # -- part interface ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)
        if self.connected.is_set():
            qos, retain = protocol.TOPICS["status"]
            info = self.client.publish(self.topic("status"), self._status("offline"), qos=qos, retain=retain)
            try:
                info.wait_for_publish(OFFLINE_PUBLISH_TIMEOUT)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()  # a clean DISCONNECT: the broker discards the Last Will
        self.client.loop_stop()

    def health(self) -> dict:
        return {"alive": thread_alive(self._thread), "connected": self.connected.is_set(),
                "inflight": len(self.unacked), **self.stats}

    # -- worker ------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        # Losing the last few ack marks to a power cut only causes resends (deduplicated), so this connection
        # trades the per-commit fsync for fewer SD card writes.
        self.app.store.db.conn.execute("PRAGMA synchronous=NORMAL")
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # noqa: BLE001 - the worker must outlive any one failure (disk, broker, bug)
                log.exception("sync step failed; retrying")
                self._stopping.wait(1.0)
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _step(self) -> None:
        now = self.monotonic()
        self._take_acks(now)
        while not self._commands.empty():
            self.dispatcher.dispatch(self._commands.get())
        if not self.connected.is_set():
            return
        if self._reconnected.is_set():
            self._reconnected.clear()
            # Whatever was in flight may be gone with the old connection: send it all again, in order.
            self.unacked.restart()
            self._sent_up_to = 0
        if self.telemetry.health_due(now):
            self._send("health", self.telemetry.health_message())
            self.stats["health_sent"] += 1
        queue_message = self.telemetry.queue_message(now)
        if queue_message is not None:
            self._send("queue", queue_message)
            self.stats["queue_sent"] += 1
        self._resend_expired(now)
        self._fill_window(now)

    def _take_acks(self, now: float) -> None:
        ids: list[str] = []
        while not self._acks.empty():
            ids.extend(self._acks.get())
        if ids:
            self.stats["acked"] += self.outbox.mark_delivered(ids)
            overtaken = self.unacked.acked(ids)
            if overtaken and self.connected.is_set():
                self._resend(overtaken, now, "sent before a copy central acknowledged")

    def _publish(self, entry: dict) -> None:
        qos = protocol.TOPICS["records"][0]
        self.client.publish(self.topic("records", entry["stream"]), entry["payload"].encode("utf-8"), qos=qos)

    def _fill_window(self, now: float) -> None:
        room = self.settings.max_inflight - len(self.unacked)
        if room <= 0:
            return
        entries = self.outbox.pending(self._sent_up_to, room)
        for entry in entries:
            self._publish(entry)
            self.unacked.sent(entry["record_id"], now)
            self._sent_up_to = entry["seq"]
        if entries:
            self.stats["published"] += len(entries)
            self.outbox.mark_sent([e["seq"] for e in entries])

    def _resend_expired(self, now: float) -> None:
        due = self.unacked.due(now)
        if due:
            self._resend(due, now, f"not acknowledged (backoff round {self.unacked.round})")

    def _resend(self, record_ids: list[str], now: float, why: str) -> None:
        entries = self.outbox.by_record_ids(record_ids)
        self.unacked.acked(set(record_ids) - {e["record_id"] for e in entries})  # delivered meanwhile
        for entry in entries:
            self._publish(entry)
            self.unacked.sent(entry["record_id"], now, copy=True)
        if entries:
            self.stats["resent"] += len(entries)
            log.info("resent %d records: %s", len(entries), why)
            self.outbox.mark_sent([e["seq"] for e in entries])

    def _send(self, leaf: str, payload: bytes) -> None:
        qos, retain = protocol.TOPICS[leaf]
        self.client.publish(self.topic(leaf), payload, qos=qos, retain=retain)

    def _stamp(self) -> dict:
        return self.app.clock.stamp().to_json()
