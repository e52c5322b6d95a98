"""What the fleet monitor accepts from the broker: topic + bytes → a validated Message, or Rejected(reason).

Everything a kiosk (or anyone with broker access) sends is untrusted: the topic must be one of the agreed ones, the
site must be known, the payload a small UTF-8 JSON object of schema 1 whose "site"/"kiosk" (when present) equal the
topic's. The reason of a rejection is a short code for counters and logs; payloads are never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

PREFIX = "vaxkiosk/v1"
STREAMS = ("checkins", "vaccinations", "corrections", "print_events")
STATES = ("online", "offline", "lost")
MAX_BYTES = 64 * 1024
VIETNAM = dt.timezone(dt.timedelta(hours=7))

_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
_TOPIC = re.compile(rf"^{PREFIX}/(?P<site>{_ID})/(?P<kiosk>{_ID})/"
                    rf"(?P<kind>status|health|queue|records/(?P<stream>{'|'.join(STREAMS)}))$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Subscriptions of the fleet monitor. Retained topics (status, queue) need normal subscriptions: a broker does not
# hand retained messages to shared ones, and a restarted monitor must see every kiosk's last status at once.
# Health and records are spread over the monitor processes through their own shared group "central-ops": the
# aggregator's group "central" receives its own copy of each record, so the dashboard never takes one away from it.
RETAINED_TOPICS = [f"{PREFIX}/+/+/status", f"{PREFIX}/+/+/queue"]
SHARED_TOPICS = [f"$share/central-ops/{PREFIX}/+/+/health", f"$share/central-ops/{PREFIX}/+/+/records/#"]


def cmd_topic(site: str, kiosk: str) -> str:
    return f"{PREFIX}/{site}/{kiosk}/cmd"


class Rejected(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Message:
    kind: str  # status | health | queue | record
    site: str
    kiosk: str
    data: dict
    stream: str | None = None


def parse(topic: str, payload: bytes, known_sites) -> Message:
    if len(payload) > MAX_BYTES:
        raise Rejected("too_large")
    m = _TOPIC.match(topic)
    if not m:
        raise Rejected("bad_topic")
    site, kiosk = m["site"], m["kiosk"]
    if site not in known_sites:
        raise Rejected("unknown_site")
    if not payload and m["kind"] == "status":
        raise Rejected("empty")  # a retained status being cleared
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected("bad_json") from None
    if not isinstance(data, dict):
        raise Rejected("not_an_object")
    if data.get("schema") != 1:
        raise Rejected("bad_schema")
    for key, expected in (("site", site), ("kiosk", kiosk)):
        if key in data and data[key] != expected:
            raise Rejected("identity_mismatch")
    kind = "record" if m["stream"] else m["kind"]
    if kind == "status" and data.get("state") not in STATES:
        raise Rejected("bad_state")
    if kind == "record":
        if data.get("site") != site or data.get("kiosk") != kiosk:
            raise Rejected("identity_mismatch")
        if not isinstance(data.get("record_id"), str) or not _RECORD_ID.match(data["record_id"]):
            raise Rejected("bad_record_id")
    return Message(kind, site, kiosk, data, m["stream"])


def wall_time(data: dict) -> dt.datetime | None:
    """The kiosk's time stamp of a message: "at" as an ISO string or as {"wall": ISO, ...}; None when absent/bad."""
    at = data.get("at")
    if isinstance(at, dict):
        at = at.get("wall")
    if not isinstance(at, str):
        return None
    try:
        t = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def number(value, default=None) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def health_fields(h: dict) -> dict:
    """The few facts the dashboard shows and alerts on, read tolerantly from a health payload (see docs/central.md)."""
    printer = h.get("printer") if isinstance(h.get("printer"), dict) else {}
    camera = h.get("camera") if isinstance(h.get("camera"), dict) else {}
    outbox = h.get("outbox") if isinstance(h.get("outbox"), dict) else {}
    disk = h.get("disk") if isinstance(h.get("disk"), dict) else {}
    clock = h.get("clock_synced")
    return {
        "printer": printer.get("state") if isinstance(printer.get("state"), str) else None,
        "paper": printer.get("paper") if isinstance(printer.get("paper"), str) else None,
        "camera_enabled": camera.get("enabled") if isinstance(camera.get("enabled"), bool) else None,
        "camera_fps": number(camera.get("fps")),
        "backlog": number(outbox.get("backlog")),
        "oldest_age_s": number(outbox.get("oldest_age_s")),
        "disk_used_pct": number(disk.get("used_pct")),
        "cpu_temp_c": number(h.get("cpu_temp_c")),
        "clock_synced": clock if isinstance(clock, bool) else None,
        "version": h.get("version") if isinstance(h.get("version"), str) else None,
    }
