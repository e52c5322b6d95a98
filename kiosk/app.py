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

from base.events import EventBus
from base.parts import Part, health_of, start_parts, stop_parts
from kiosk import __version__
from kiosk.checkin import CheckinService, last_known_time
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.scanning.record_check import RecordCheck
from kiosk.store import Store
from kiosk.watchdog import Notifier, stalled_parts

log = logging.getLogger("vaxkiosk")

# "module:function" taking the App and returning a Part or None. Import is lazy: an unconfigured part costs nothing.
PART_FACTORIES: list[str] = [
    "kiosk.printing.worker:make_part",
    "kiosk.certificates.trustlist:make_part",
    "kiosk.scanning.readers:camera_part",
    "kiosk.scanning.readers:serial_part",
    "kiosk.web:make_part",
    "kiosk.retention:make_part",
    "kiosk.sync.part:make_part",
    "kiosk.sms.part:make_part",
]


class App:
    def __init__(self, config: Config):
        self.config = config
        self.clock = Clock(config.kiosk.utc_offset_hours)
        self.store = Store(config.db_path)
        self.clock.set_floor(last_known_time(self.store))
        self.events = EventBus()
        self.checkins = CheckinService(self.store, config.kiosk, self.clock)
        self.record_check = RecordCheck()  # the citizen screen's record check, shared by every scan source
        self.parts: list[Part] = []
        self.stopping = threading.Event()
        self.version = __version__
        self._last_sick: list[str] = []

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
        start_parts(self.parts)
        log.info("kiosk %s/%s running with parts: %s", self.config.kiosk.site_id, self.config.kiosk.kiosk_id,
                 ", ".join(p.name for p in self.parts) or "none (store only)")

    def stop(self) -> None:
        stop_parts(self.parts)
        self.store.close()

    def health(self) -> dict:
        return health_of(self.parts)

    def supervise(self, notifier: Notifier) -> None:
        """One turn of the main loop: ping systemd's watchdog only while no part reports its loop stalled."""
        sick = stalled_parts(self.health())
        if sick:
            notifier.status("stalled: " + ", ".join(sick))
            if sick != self._last_sick:
                log.warning("parts stalled, watchdog not pinged (systemd will restart us): %s", ", ".join(sick))
        else:
            notifier.ping()
            if self._last_sick:
                notifier.status("running")
        self._last_sick = sick

    def run_forever(self, notifier: Notifier | None = None) -> int:
        notifier = notifier or Notifier()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        notifier.ready("running")
        interval = min(1.0, notifier.ping_interval or 1.0)
        try:
            while not self.stopping.wait(interval):
                self.supervise(notifier)
        finally:
            log.info("stopping")
            notifier.stopping()
            self.stop()
        return 0
