"""Central's half of the MQTT protocol (docs/protocol.md): what it accepts from kiosks and what it sends back.

The schemas themselves live in base.protocol (one copy for both ends); this module adds the checks only central
can make: the topic's site and kiosk must be the ones in the payload, and only kiosk → central kinds are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from base.protocol import SCHEMA, TOPICS, ProtocolError, Topic, decode, encode, parse_topic, subscription, topic

__all__ = ["ProtocolError", "Topic", "INBOUND_LEAVES", "decode_inbound", "ack_message", "cmd_message",
           "shared_group", "subscriptions"]

INBOUND_LEAVES = ("status", "health", "queue", "records")


def shared_group(secret: str) -> str:
    """The name of central's shared-subscription group, derived from central's broker password.

    Mosquitto 2.0.11 lets any client subscribe to any `$share/<group>/...` filter (its ACL file does not check
    subscriptions), and a member of the group receives its share of the messages whether or not its ACL lets them
    through. A kiosk that knew the group could join it and make the broker drop every n-th record. Every aggregator
    has the same password, so they meet in one group; no kiosk ever sees the password or the name."""
    return "c" + hmac.new(secret.encode("utf-8"), b"vaxkiosk/v1 shared subscription group",
                          hashlib.sha256).hexdigest()[:32]


def subscriptions(group: str) -> list[tuple[str, int]]:
    """(topic filter, QoS). Records and health through the shared `group`: each message reaches one aggregator, so
    more can be added and health history is not written twice. Status and queue through normal subscriptions,
    because retained messages are never delivered to shared subscriptions (every aggregator then writes the same
    latest state: harmless)."""
    return [(subscription(leaf, group), TOPICS[leaf][0]) for leaf in ("records", "health")] + [
        (subscription(leaf), TOPICS[leaf][0]) for leaf in ("status", "queue")
    ]


def decode_inbound(topic_name: str, raw: bytes) -> tuple[Topic, dict]:
    """Topic + payload of a kiosk's message, or ProtocolError (reason codes are listed in docs/protocol.md)."""
    where = parse_topic(topic_name)
    if where.leaf not in INBOUND_LEAVES:
        raise ProtocolError("bad_topic", f"{where.leaf} is not a kiosk → central topic")
    payload = decode(where.kind, raw, where.stream)
    if payload["kiosk"] != where.kiosk or payload["site"] != where.site:
        # A kiosk may speak only for itself (the broker ACL enforces it too; this catches a broker misconfigured).
        raise ProtocolError("kiosk_mismatch")
    return where, payload


def ack_message(site: str, kiosk: str, record_ids: list[str]) -> tuple[str, bytes, int]:
    """(topic, payload, qos) of an application acknowledgement, sent only after the records are committed."""
    return topic(site, kiosk, "ack"), encode("ack", {"schema": SCHEMA, "record_ids": record_ids}), TOPICS["ack"][0]


def cmd_message(site: str, kiosk: str, command: str, args: dict | None = None) -> tuple[str, bytes, int]:
    payload = {"schema": SCHEMA, "cmd_id": uuid.uuid4().hex, "command": command}
    if args is not None:
        payload["args"] = args
    return topic(site, kiosk, "cmd"), encode("cmd", payload), TOPICS["cmd"][0]
