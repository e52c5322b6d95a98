"""`vaxkiosk central`: the aggregator (ingest) and, when present, the operations web app, in one process.

Run one or more of these against the same broker and database: record streams are spread over the processes by the
MQTT shared subscription. A process with [web] disabled (or without the web app installed) is an ingest worker only.

Parts follow the kiosk's pattern: objects with name, start(), stop(), health(); the store is what they share.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from central.config import Config
from central.ingest import Ingest, KioskRegistry
from central.store import CentralStore
from kiosk.app import stop_parts

log = logging.getLogger("vaxkiosk.central")

PRUNE_SECONDS = 3600.0  # health history is trimmed to [central] health_history_days this often


class CentralApp:
    def __init__(self, config: Config):
        self.config = config
        self.store = CentralStore(config.db_path, config.central.utc_offset_hours)
        self.parts: list = []
        self.stopping = threading.Event()

    def build(self) -> None:
        self.parts.append(Ingest(self.store, self.config.mqtt, registry=build_registry(self)))
        web = build_web(self)
        if web is not None:
            self.parts.append(web)

    def start(self) -> None:
        self.build()
        for part in self.parts:
            part.start()
        log.info("central running with parts: %s", ", ".join(p.name for p in self.parts))

    def stop(self) -> None:
        stop_parts(self.parts)
        self.store.close()

    def health(self) -> dict:
        return {p.name: p.health() for p in self.parts}

    def send_command(self, site: str, kiosk: str, command: str, args: dict | None = None) -> bool:
        """For the web app: health_report, queue_report, reload, correction_outcome (see docs/protocol.md)."""
        ingest = next(p for p in self.parts if p.name == "ingest")
        return ingest.send_command(site, kiosk, command, args)

    def run_forever(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        last_prune = -PRUNE_SECONDS
        try:
            while not self.stopping.wait(1.0):
                if time.monotonic() - last_prune >= PRUNE_SECONDS:
                    last_prune = time.monotonic()
                    self.store.prune_health(self.config.central.health_history_days)
        finally:
            self.stop()
        return 0


def build_registry(app: CentralApp) -> KioskRegistry | None:
    """HOOK for the device registry (branch `prov`): return a function (site, kiosk) -> bool that says whether the
    kiosk is enrolled at that site; ingest rejects other kiosks' messages with reason `unknown_kiosk`.
    None (no registry configured) accepts every kiosk the broker let in."""
    from central.registry import registry_from_config

    registry = registry_from_config(app.config)
    return registry.is_enrolled if registry else None


def build_web(app: CentralApp):
    """HOOK for the operations web app (branch `centralweb`): return a part (name, start, stop, health) serving the
    dashboard/API from app.store, or None when this process is an ingest worker only. Its settings are in
    app.config.other (sections listed in central.config.OTHER_SECTIONS)."""
    from central.ops import build

    return build(app)
