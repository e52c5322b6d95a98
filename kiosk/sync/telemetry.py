"""What the kiosk tells central about itself besides its records: health (every [mqtt] health_interval, and when
central asks) and the queue in numbers (when it changes, at most every [mqtt] queue_interval, and when central
asks). Neither carries personal data. The sync part publishes what this module says is due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Callable

from base import protocol
from drivers import system
from kiosk.checkin import queue_stats
from kiosk.outbox import Outbox

log = logging.getLogger("vaxkiosk.sync")

QUEUE_CHECK_SECONDS = 1.0  # how often the queue is looked at for changes


def config_revision(source: str) -> str:
    try:
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:12]
    except OSError:
        return "none"


class Telemetry:
    def __init__(self, app, sync_health: Callable[[], dict]):
        """`app`: the running kiosk (its parts, store, clock); `sync_health`: the sync part's own health, which
        goes into the report under parts.sync."""
        self.app, self.sync_health = app, sync_health
        self.settings = app.config.mqtt
        self.site, self.kiosk = app.config.kiosk.site_id, app.config.kiosk.kiosk_id
        self.outbox = Outbox(app.store, app.clock)
        self.config_rev = config_revision(app.config.source)
        self._last_health = self._last_queue_check = self._last_queue_sent = -1e9
        self._last_queue: dict | None = None
        self._health_asked = self._queue_asked = False

    # -- central's commands health_report and queue_report --------------------------------------------------------
    def ask_health(self) -> None:
        self._health_asked = True

    def ask_queue(self) -> None:
        self._queue_asked = True
        self._last_queue = None  # report even if nothing changed

    # -- health ------------------------------------------------------------------------------------------------
    def health_due(self, now: float) -> bool:
        if not (self._health_asked or now - self._last_health >= self.settings.health_interval):
            return False
        self._health_asked, self._last_health = False, now
        return True

    def health_message(self) -> bytes:
        payload = self.health_payload()
        try:
            return protocol.encode("health", payload)
        except protocol.ProtocolError as exc:
            # A part reporting too much must not silence the rest of the health report.
            log.warning("health report refused (%s); sending it without the parts' details", exc.reason)
            return protocol.encode("health", {**payload, "camera": None, "printer": None,
                                              "parts": {"error": exc.reason}})

    def health_payload(self) -> dict:
        parts = {}
        for part in self.app.parts:
            if part.name == "sync":
                continue
            try:
                parts[part.name] = part.health()
            except Exception as exc:  # noqa: BLE001 - a broken part is itself health information
                parts[part.name] = {"error": type(exc).__name__}
        try:  # anything a part returns becomes plain JSON; NaN would make central refuse the whole report
            parts = json.loads(json.dumps(parts, default=str, allow_nan=False))
        except ValueError:
            parts = {"error": "parts_health_not_json"}
        free, total = system.disk_usage(self.app.store.path.parent)
        backlog, oldest = self.outbox.backlog()
        payload = {
            "schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "at": self.app.clock.stamp().to_json(),
            "uptime_s": round(system.uptime_seconds(), 1),
            "load": round(system.load_average(), 2),
            "cpu_temp_c": system.cpu_temperature(),
            "mem_used_pct": system.memory_used_percent(),
            "disk_free_mb": round(free / 2**20, 1),
            "disk_used_pct": round(100.0 * (1 - free / total), 1) if total else 0.0,
            "db_bytes": self.app.store.size_bytes(),
            "outbox_backlog": backlog,
            "outbox_oldest_s": _age_seconds(oldest),
            "version": self.app.version,
            "config_rev": self.config_rev,
            "camera": parts.pop("camera", None) or parts.pop("scanner", None),
            "printer": parts.pop("printer", None),
            "parts": {**parts, "sync": self.sync_health()},
        }
        return {k: v for k, v in payload.items() if v is not None}

    # -- the queue ---------------------------------------------------------------------------------------------
    def queue_message(self, now: float) -> bytes | None:
        """The queue report when one is due now, else None."""
        if not (self._queue_asked or now - self._last_queue_check >= QUEUE_CHECK_SECONDS):
            return None
        self._last_queue_check = now
        stamp = self.app.clock.stamp().to_json()
        day = self.app.clock.today().isoformat()
        stats = {"day": day, **queue_stats(self.app.store, self.site, day, stamp["wall"])}
        # longest_wait_s grows every second by itself: a change of the queue is a change of the other numbers.
        changed = {k: v for k, v in stats.items() if k != "longest_wait_s"} != (
            {k: v for k, v in self._last_queue.items() if k != "longest_wait_s"} if self._last_queue else None)
        if not (self._queue_asked or changed and now - self._last_queue_sent >= self.settings.queue_interval):
            return None
        self._queue_asked = False
        payload = {"schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "at": stamp,
                   **{k: v for k, v in stats.items() if v is not None}}
        self._last_queue, self._last_queue_sent = stats, now
        return protocol.encode("queue", payload)


def _age_seconds(wall: str | None) -> float | None:
    if not wall:
        return None
    return round(max(0.0, (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(wall)).total_seconds()), 1)
