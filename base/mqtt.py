"""The one way vaxkiosk makes a paho MQTT client: MQTT 5, paho's version-2 callbacks, TLS when given a CA, bounded
reconnection backoff, and callbacks that cannot kill the network loop (a bug in one is logged by paho instead of
ending the loop, and with it every message of the process).

Used by the kiosk's sync part and by central's ingest (its one connection, for records in and acks and commands out)
and its broker-session takeover.
"""

from __future__ import annotations

import os
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def make_client(client_id: str, username: str, password: str = "", tls_ca: str = "",
                reconnect_max_seconds: float = 30.0) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password or None)
    if tls_ca:
        client.tls_set(ca_certs=tls_ca)
    client.reconnect_delay_set(1, max(1, int(reconnect_max_seconds)))
    client.suppress_exceptions = True
    return client


def process_client_id(username: str) -> str:
    """A client id of its own for each process of one login: several central processes share the broker user and
    subscriptions, and none may take another's session over."""
    return f"{username}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
