"""The aggregator's MQTT consumer: validate, store in batches, acknowledge after commit, never stop.

Record streams and health come through shared subscriptions (`$share/<group>/vaxkiosk/v1/+/+/records/#`, …/health),
so several aggregator processes split the load and each message reaches one of them (the group name is derived from
central's broker password, so no kiosk can join it: central.protocol.shared_group); status and queue through normal
subscriptions (retained messages are not delivered to shared subscriptions), applied idempotently by every
aggregator. central.store applies a health report once even if it arrives twice (its kiosk, boot and monotonic
stamp are a unique key), so no count or chart depends on the number of aggregators (issue 23). paho's network thread only appends to a buffer; one writer thread turns the
buffer into batches (at most batch_max messages or batch_ms of waiting), commits each batch in one transaction and
then publishes the application acks. Duplicates are acknowledged too: a resend means the kiosk missed the ack.

A message that fails validation is counted by reason (central.store rejects) and logged with its reason and topic
level only, never its payload (records may hold personal data). Nothing a kiosk sends can stop the loop.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt

from base.mqtt import make_client, process_client_id
from base.protocol import MAX_ACK_IDS
from central.config import MqttSection
from central.protocol import ProtocolError, ack_message, cmd_message, decode_inbound, shared_group, subscriptions
from central.store import Applied, CentralStore, Inbound

log = logging.getLogger("vaxkiosk.central.ingest")

# central.registry plugs in here: (site, kiosk) -> known? None (no [registry]) accepts every kiosk
# (the broker ACL already ties each kiosk to its own topics).
KioskRegistry = Callable[[str, str], bool]

BUFFER_LIMIT = 200_000  # messages waiting for the writer; beyond it the oldest QoS 0 telemetry would be at risk


class Ingest:
    name = "ingest"

    def __init__(self, store: CentralStore, settings: MqttSection, registry: KioskRegistry | None = None):
        self.store = store
        self.settings = settings
        self.registry = registry
        self._buffer: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.stats = collections.Counter()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = make_client(process_client_id(s.username), s.username, s.password, s.tls_ca)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- part interface ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="central-ingest", daemon=True)
        self._thread.start()
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)  # the writer commits what is buffered and acks it before the connection goes
        self.client.disconnect()
        self.client.loop_stop()

    def health(self) -> dict:
        return {"connected": self.connected.is_set(), "buffered": len(self._buffer), **self.stats}

    def send_command(self, site: str, kiosk: str, command: str, args: dict | None = None,
                     wait_seconds: float | None = None) -> bool:
        """Publish a command to a kiosk (docs/protocol.md, message `cmd`) on central's one connection. False when not
        connected to the broker (a command is not queued for later: the caller shows it, or sends it again), or,
        with `wait_seconds`, when the broker has not taken it within that time."""
        if not self.connected.is_set():
            return False
        topic, payload, qos = cmd_message(site, kiosk, command, args)
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        if wait_seconds is None:
            return True
        try:
            info.wait_for_publish(timeout=wait_seconds)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    # -- paho callbacks (network thread: keep them short) ------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        client.subscribe(subscriptions(shared_group(self.settings.password)))
        log.info("connected to %s:%s", self.settings.host, self.settings.port)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # "Connected" means receiving: a record published between CONNACK and SUBACK would not reach this
        # aggregator (the kiosk resends it after its ack timeout, but readiness must not be claimed before this).
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused the subscriptions: %s", failed)
            return
        log.info("subscribed to the kiosks' topics")
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        if len(self._buffer) >= BUFFER_LIMIT:
            self.stats["dropped_overload"] += 1
            return
        self._buffer.append((message.topic, message.payload))
        self._wake.set()

    # -- writer thread -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set() or self._buffer:
            if not self._buffer:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            # While messages keep coming, let them gather (up to batch_ms) so one commit covers many; a lone
            # message is committed at once.
            deadline = time.monotonic() + self.settings.batch_ms / 1000
            while len(self._buffer) < self.settings.batch_max and time.monotonic() < deadline:
                seen = len(self._buffer)
                time.sleep(0.002)
                if len(self._buffer) == seen:
                    break
            raw = [self._buffer.popleft() for _ in range(min(len(self._buffer), self.settings.batch_max))]
            try:
                self._process(raw)
            except Exception:  # noqa: BLE001 - ingestion must go on; unacknowledged records will be resent
                self.stats["batch_errors"] += 1
                log.exception("a batch of %d messages failed; its records will be resent by the kiosks", len(raw))

    def _process(self, raw: list[tuple[str, bytes]]) -> None:
        batch, rejects = [], collections.Counter()
        for topic_name, payload in raw:
            try:
                batch.append(self._check(topic_name, payload))
            except ProtocolError as exc:
                rejects[exc.reason] += 1
                # The topic is cut short and the payload never logged: it may be hostile or hold personal data.
                log.warning("rejected a message on %r: %s", topic_name[:100], exc.reason)
        try:
            applied = self.store.apply(batch, dict(rejects))
        except Exception:  # noqa: BLE001 - one poisonous message must not block the others: retry one by one
            log.exception("batch commit failed; retrying message by message")
            applied = self._apply_one_by_one(batch, rejects)
        self.stats["received"] += len(raw)
        self.stats["rejected"] += sum(rejects.values())
        self.stats["records_new"] += applied.new_records
        self.stats["records_duplicate"] += applied.duplicates
        self.stats["batches"] += 1
        for (site, kiosk), ids in applied.acks.items():
            for i in range(0, len(ids), MAX_ACK_IDS):
                topic, payload, qos = ack_message(site, kiosk, ids[i:i + MAX_ACK_IDS])
                self.client.publish(topic, payload, qos=qos)

    def _apply_one_by_one(self, batch: list[Inbound], rejects: collections.Counter) -> Applied:
        total = Applied()
        for msg in batch:
            try:
                one = self.store.apply([msg])
            except Exception:  # noqa: BLE001
                rejects["store_error"] += 1
                continue
            total.new_records += one.new_records
            total.duplicates += one.duplicates
            for key, ids in one.acks.items():
                total.acks.setdefault(key, []).extend(ids)
        self.store.count_rejects(dict(rejects))
        return total

    def _check(self, topic_name: str, payload: bytes) -> Inbound:
        where, data = decode_inbound(topic_name, payload)
        if self.registry is not None and not self.registry(where.site, where.kiosk):
            raise ProtocolError("unknown_kiosk")
        return Inbound(where.site, where.kiosk, where.leaf, data, where.stream)
