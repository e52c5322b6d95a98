"""`vaxkiosk kiosk`: one process that owns the store and hosts the parts the configuration enables.

Parts (scanner, printer worker, web screens, sync) each run their own threads, read their work from the store and
write results back. PART_FACTORIES builds them in order; each factory returns None when its part is not configured.
SIGTERM/SIGINT stop the parts in reverse order; everything they acknowledged is already committed.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from typing import Protocol

from kiosk import __version__
from kiosk.checkin import CheckinService
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.events import EventBus
from kiosk.store import Store

log = logging.getLogger("vaxkiosk")

# "module:function" taking the App and returning a Part or None. Import is lazy: an unconfigured part costs nothing.
PART_FACTORIES: list[str] = [
    "kiosk.printing.worker:make_part",
    "kiosk.trustlist:make_part",
    "kiosk.scanner:camera_part",
    "kiosk.scanner:serial_part",
    "kiosk.sync:make_part",
]


class Part(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> dict: ...


class App:
    def __init__(self, config: Config):
        self.config = config
        self.clock = Clock(config.kiosk.utc_offset_hours)
        self.store = Store(config.db_path)
        self.events = EventBus()
        self.checkins = CheckinService(self.store, config.kiosk, self.clock)
        self.parts: list[Part] = []
        self.stopping = threading.Event()
        self.version = __version__

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    def build(self) -> None:
        for spec in PART_FACTORIES:
            module, func = spec.split(":")
            part = getattr(importlib.import_module(module), func)(self)
            if part is not None:
                self.parts.append(part)

    def start(self) -> None:
        self.build()
        for part in self.parts:
            log.info("starting %s", part.name)
            part.start()
        log.info("kiosk %s/%s running with parts: %s", self.config.kiosk.site_id, self.config.kiosk.kiosk_id,
                 ", ".join(p.name for p in self.parts) or "none (store only)")

    def stop(self) -> None:
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - one part failing to stop must not keep the others running
                log.exception("stopping %s failed", part.name)
        self.store.close()

    def health(self) -> dict:
        return {p.name: p.health() for p in self.parts}

    def run_forever(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        try:
            while not self.stopping.wait(1.0):
                pass
        finally:
            log.info("stopping")
            self.stop()
        return 0
