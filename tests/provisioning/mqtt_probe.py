"""A real paho MQTT 5 client that records what happens to it: connection results, disconnects, messages."""

from __future__ import annotations

import queue
import ssl
import threading

import paho.mqtt.client as mqtt

WAIT = 10.0


class Probe:
    def __init__(self, username: str, password: str, port: int, host: str = "127.0.0.1", ca: str | None = None,
                 will: tuple[str, bytes] | None = None, client_id: str | None = None, bind_address: str = ""):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or username,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        if ca:
            self.client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.messages: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_reason = None
        self.session_present = None
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.host, self.port, self.bind_address = host, port, bind_address

    def _on_connect(self, _c, _u, flags, reason, _props):
        self.connect_reason = reason
        self.session_present = flags.session_present
        self.connected.set()

    def connect(self, clean_start: bool = True, session_expiry: int | None = None) -> "Probe":
        """Connect and wait for the broker's answer (success or refusal); no automatic reconnect.
        `session_expiry` (seconds): ask the broker to keep the session that long after the connection ends."""
        self.client.reconnect_delay_set(60, 60)
        properties = None
        if session_expiry is not None:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = session_expiry
        self.client.connect(self.host, self.port, keepalive=30, bind_address=self.bind_address,
                            clean_start=clean_start, properties=properties)
        self.client.loop_start()
        assert self.connected.wait(WAIT), "no CONNACK"
        return self

    @property
    def accepted(self) -> bool:
        return self.connect_reason is not None and not self.connect_reason.is_failure

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(WAIT), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT)
        return info

    def next_message(self, timeout: float = WAIT) -> tuple[str, bytes]:
        return self.messages.get(timeout=timeout)

    def until(self, topic: str, timeout: float = WAIT) -> list[tuple[str, bytes]]:
        """Every message received up to and including the first one on `topic` (a barrier)."""
        seen = []
        while True:
            message = self.next_message(timeout)
            seen.append(message)
            if message[0] == topic:
                return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
