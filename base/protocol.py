"""The MQTT protocol between kiosks and central, version v1: topics, payload schemas, sizes, validation.

This module is the single machine-readable copy of docs/protocol.md (tests/kiosk/test_protocol.py checks that the
two agree). Both ends validate with it: the kiosk decodes what central sends (`ack`, `cmd`) and encodes what it
publishes; central (through central/protocol.py) decodes what kiosks publish and encodes acks and commands.

Validation is strict and cheap: a size limit before parsing, JSON object, known schema version, every declared
field of the right type and size. Unknown extra fields are allowed (a newer kiosk may add some) but count against
the size limit. A failure raises ProtocolError with a stable `reason` code that central counts, never the payload
(records may hold personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from base import corrections

SCHEMA = 1
ROOT = "vaxkiosk/v1"

STREAMS = ("checkins", "vaccinations", "corrections", "print_events")
RECORD_TYPE = {"checkins": "checkin", "vaccinations": "vaccination", "corrections": "correction",
               "print_events": "print_event"}

# Per leaf topic: (QoS, retained). Why each QoS is what it is: docs/protocol.md, "Topics".
TOPICS = {
    "status": (1, True),
    "health": (0, False),
    "queue": (0, True),
    "records": (1, False),
    "ack": (1, False),
    "cmd": (1, False),
}
COMMANDS = ("health_report", "queue_report", "reload", "correction_outcome")
# Record ids one ack may name (central acknowledges a bigger batch in several acks).
MAX_ACK_IDS = 500

# Site and kiosk ids: topic levels and broker usernames (base.config.check_id holds configuration files to it).
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ProtocolError(ValueError):
    """A message that does not follow the protocol. `reason` is a stable code (counted at central)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Field:
    type: str  # str | int | number | bool | object | list[str] | stamp
    required: bool = True
    max_len: int = 64  # characters of a str, items of a list
    choices: tuple = ()
    pattern: re.Pattern | None = None

    def check(self, name: str, value) -> None:
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "list[str]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
            "stamp": lambda v: isinstance(v, dict),
        }[self.type](value)
        if not ok:
            raise ProtocolError("bad_type", f"{name}: expected {self.type}")
        if self.type in ("str", "list[str]") and len(value) > self.max_len:
            raise ProtocolError("too_long", f"{name}: more than {self.max_len}")
        if self.type == "list[str]" and not value:
            raise ProtocolError("bad_value", f"{name}: empty")
        if self.choices and value not in self.choices:
            raise ProtocolError("bad_value", f"{name}: not one of {self.choices}")
        if self.pattern is not None:
            for item in value if isinstance(value, list) else [value]:
                if not self.pattern.match(item):
                    raise ProtocolError("bad_value", f"{name}: malformed")
        if self.type == "stamp":
            _check_fields(STAMP, value, name + ".")
            _check_stamp_values(name, value)


def _id(required: bool = True) -> Field:
    return Field("str", required, 63, pattern=ID_RE)


# The time stamp every event carries (see kiosk.clock): central corrects unsynchronised ones.
STAMP = {
    "wall": Field("str", max_len=40),
    "mono": Field("number"),
    "boot_id": Field("str", max_len=64),
    "clock_synced": Field("bool"),
}

MAX_MONO = 1e9  # seconds since boot: 31 years


def _check_stamp_values(name: str, stamp: dict) -> None:
    # Central does time arithmetic with these: a wall time must be a real, zoned instant, mono a sane number.
    try:
        wall = dt.datetime.fromisoformat(stamp["wall"])
    except ValueError:
        raise ProtocolError("bad_time", f"{name}.wall") from None
    # A Pi without a real-time clock may boot in 1970; anything outside these years is garbage.
    if wall.tzinfo is None or not 1970 <= wall.year <= 2200 or not 0 <= stamp["mono"] < MAX_MONO:
        raise ProtocolError("bad_time", f"{name}: zone-less wall time or mono out of range")


_ENVELOPE = {"schema": Field("int"), "site": _id(), "kiosk": _id()}

# message kind -> fields. "record" is the envelope of every stream; RECORD_FIELDS adds each stream's own fields.
MESSAGES: dict[str, dict[str, Field]] = {
    "status": {
        **_ENVELOPE,
        "state": Field("str", choices=("online", "offline", "lost")),
        "boot_id": Field("str", max_len=64),
        "version": Field("str", required=False, max_len=32),
        "at": Field("stamp", required=False),
    },
    "health": {
        **_ENVELOPE,
        "at": Field("stamp"),
        "uptime_s": Field("number"),
        "load": Field("number"),
        "cpu_temp_c": Field("number", required=False),
        "mem_used_pct": Field("number", required=False),
        "disk_free_mb": Field("number"),
        "disk_used_pct": Field("number"),
        "db_bytes": Field("int"),
        "outbox_backlog": Field("int"),
        "outbox_oldest_s": Field("number", required=False),
        "version": Field("str", max_len=32),
        "config_rev": Field("str", max_len=64),
        "camera": Field("object", required=False),
        "printer": Field("object", required=False),
        "parts": Field("object"),
    },
    "queue": {
        **_ENVELOPE,
        "at": Field("stamp"),
        "day": Field("str", max_len=10, pattern=DAY_RE),
        "waiting": Field("int"),
        "called": Field("int"),
        "served_today": Field("int"),
        "avg_wait_s": Field("number", required=False),
        "longest_wait_s": Field("number", required=False),
        "last_ticket": Field("int"),
    },
    "record": {
        **_ENVELOPE,
        "type": Field("str", choices=tuple(RECORD_TYPE.values())),
        "record_id": Field("str", pattern=RECORD_ID_RE),
        "at": Field("stamp"),
    },
    "ack": {
        "schema": Field("int"),
        "record_ids": Field("list[str]", max_len=MAX_ACK_IDS, pattern=RECORD_ID_RE),
    },
    "cmd": {
        "schema": Field("int"),
        "cmd_id": Field("str", pattern=RECORD_ID_RE),
        "command": Field("str", choices=COMMANDS),
        "args": Field("object", required=False),
    },
}

RECORD_FIELDS: dict[str, dict[str, Field]] = {
    "checkins": {
        "day": Field("str", max_len=10, pattern=DAY_RE),
        "ticket": Field("int"),
        "scan_kind": Field("str", max_len=16),
        "source": Field("str", max_len=16),
    },
    "vaccinations": {
        "checkin_id": Field("str", pattern=RECORD_ID_RE),
        "dose_number": Field("int"),
        "person": Field("object"),
        "vaccine": Field("object"),
        "lot": Field("str"),
        "uvci": Field("str", max_len=128),
        # When the citizen was first called and to which desk (wait time, desk throughput at central).
        "called": Field("stamp", required=False),
        "desk": Field("str", max_len=16, required=False),
    },
    "corrections": {
        "id_number": Field("str", max_len=12, pattern=re.compile(r"^[0-9]{12}$")),
        "kind": Field("str", choices=corrections.KINDS),
        "vaccination_id": Field("str", required=False, pattern=RECORD_ID_RE),
        "reason": Field("str", max_len=corrections.MAX_REASON_CHARS),
        "filed_at": Field("str", max_len=40),
        "deadline": Field("str", max_len=40),
        # Added later (optional: older kiosks' records stay valid): the citizen's reference, and what the request
        # is about — the dose as recorded (wrong_dose) or as the citizen says it happened (missing_dose).
        "reference": Field("str", required=False, max_len=12, pattern=re.compile(r"^[0-9]{12}$")),
        "about_dose_number": Field("int", required=False),
        "about_vaccine": Field("str", required=False, max_len=32),
        "about_lot": Field("str", required=False, max_len=64),
        "about_day": Field("str", required=False, max_len=10, pattern=DAY_RE),
        "about_site": _id(required=False),
        "about_place": Field("str", required=False, max_len=corrections.MAX_PLACE_CHARS),
    },
    "print_events": {
        "kind": Field("str", choices=("ticket", "certificate")),
        "state": Field("str", choices=("done", "failed")),
        "checkin_id": Field("str", pattern=RECORD_ID_RE),
        "copy": Field("int", required=False),
    },
}

# Bytes of the encoded payload, checked before parsing.
MAX_BYTES = {"status": 2048, "health": 16384, "queue": 2048, "record": 16384, "ack": 40960, "cmd": 8192}


def _check_fields(fields: dict[str, Field], payload: dict, prefix: str = "") -> None:
    for name, spec in fields.items():
        if name not in payload or payload[name] is None:
            if spec.required:
                raise ProtocolError("missing_field", prefix + name)
            continue
        spec.check(prefix + name, payload[name])


def validate(kind: str, payload, stream: str | None = None) -> dict:
    """Check a decoded payload of `kind` (for records also its stream); returns it unchanged."""
    if not isinstance(payload, dict):
        raise ProtocolError("not_an_object")
    if payload.get("schema") != SCHEMA:
        raise ProtocolError("bad_schema", repr(payload.get("schema"))[:20])
    _check_fields(MESSAGES[kind], payload)
    if kind == "record":
        if stream not in RECORD_FIELDS:
            raise ProtocolError("bad_topic", f"unknown stream {str(stream)[:30]!r}")
        if payload["type"] != RECORD_TYPE[stream]:
            raise ProtocolError("bad_value", f"type {payload['type']!r} on stream {stream}")
        _check_fields(RECORD_FIELDS[stream], payload)
    return payload


def decode(kind: str, raw: bytes, stream: str | None = None) -> dict:
    if len(raw) > MAX_BYTES[kind]:
        raise ProtocolError("too_large", f"{len(raw)} bytes > {MAX_BYTES[kind]}")
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("bad_json") from None
    return validate(kind, payload, stream)


def _no_constant(name: str):
    # Python's json accepts NaN and Infinity, JSON does not; they would poison sums and time arithmetic.
    raise ValueError(name)


def encode(kind: str, payload: dict, stream: str | None = None) -> bytes:
    """Validate what we are about to send (our own bugs surface here, not at central) and encode it."""
    validate(kind, payload, stream)
    try:
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except ValueError:
        raise ProtocolError("bad_value", "NaN or Infinity is not JSON") from None
    if len(raw) > MAX_BYTES[kind]:
        raise ProtocolError("too_large", f"{len(raw)} bytes > {MAX_BYTES[kind]}")
    return raw


# -- topics ------------------------------------------------------------------------------------------------------
def topic(site: str, kiosk: str, leaf: str, stream: str | None = None) -> str:
    base = f"{ROOT}/{site}/{kiosk}/{leaf}"
    return f"{base}/{stream}" if leaf == "records" else base


@dataclass(frozen=True)
class Topic:
    site: str
    kiosk: str
    leaf: str  # status | health | queue | records | ack | cmd
    stream: str | None = None

    @property
    def kind(self) -> str:
        return "record" if self.leaf == "records" else self.leaf


def parse_topic(name: str) -> Topic:
    parts = name.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT:
        raise ProtocolError("bad_topic", "not under " + ROOT)
    site, kiosk, leaf, rest = parts[2], parts[3], parts[4], parts[5:]
    if not (ID_RE.match(site) and ID_RE.match(kiosk)) or leaf not in TOPICS:
        raise ProtocolError("bad_topic", "malformed levels")
    if leaf == "records":
        if len(rest) != 1 or rest[0] not in STREAMS:
            raise ProtocolError("bad_topic", "unknown stream")
        return Topic(site, kiosk, leaf, rest[0])
    if rest:
        raise ProtocolError("bad_topic", "extra levels")
    return Topic(site, kiosk, leaf)


def subscription(leaf: str, group: str = "") -> str:
    """A wildcard over every kiosk; with `group`, the shared subscription of that group (central's group name is
    central's secret: central.protocol.shared_group)."""
    base = f"{ROOT}/+/+/{leaf}" + ("/#" if leaf == "records" else "")
    return f"$share/{group}/{base}" if group else base
