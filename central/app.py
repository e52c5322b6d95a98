"""`vaxkiosk central`: the aggregator (ingest) and, when present, the operations web app, in one process.

Run one or more of these against the same broker and database: record streams are spread over the processes by the
MQTT shared subscription. A process with [web] disabled, or whose dashboard port another process holds, is an ingest
worker only.

Parts follow the kiosk's pattern: objects with name, start(), stop(), health(); the store is what they share.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from base.parts import health_of, start_parts, stop_parts
from central.config import Config
from central.ingest import Ingest
from central.ops import build as build_ops
from central.registry import registry_from_config
from central.store import CentralStore

log = logging.getLogger("vaxkiosk.central")

PRUNE_SECONDS = 3600.0  # health history's tiers are trimmed to [central] health_*_days this often
ROLL_UP_SECONDS = 30.0  # complete minutes of health are summed up this often (each run catches up in chunks)
ROLL_UP_CHUNKS = 20  # at most this many chunks a run, so that a stop is not kept waiting by a long catch-up


class CentralApp:
    def __init__(self, config: Config):
        self.config = config
        self.store = CentralStore(config.store_location, config.central.utc_offset_hours)
        # One registry for the process (None without [registry]): ingest asks it about every message, the
        # dashboard serves enrolment and the trust list from it.
        self.registry = registry_from_config(config)
        self.parts: list = []
        self.stopping = threading.Event()

    def build(self) -> None:
        ingest = Ingest(self.store, self.config.mqtt, registry=self.registry.is_enrolled if self.registry else None)
        self.parts.append(ingest)
        # The dashboard sends its commands to kiosks on the ingest's connection: central has one MQTT client.
        ops = build_ops(self, ingest)
        if ops is not None:
            self.parts.append(ops)

    def start(self) -> None:
        self.build()
        start_parts(self.parts)
        log.info("central running with parts: %s", ", ".join(p.name for p in self.parts))

    def stop(self) -> None:
        stop_parts(self.parts)
        if self.registry is not None:
            self.registry.close()
        self.store.close()

    def health(self) -> dict:
        return health_of(self.parts)

    def send_command(self, site: str, kiosk: str, command: str, args: dict | None = None) -> bool:
        """For the web app: health_report, queue_report, reload, correction_outcome (see docs/protocol.md)."""
        ingest = next(p for p in self.parts if p.name == "ingest")
        return ingest.send_command(site, kiosk, command, args)

    def _upkeep(self, what: str, step) -> None:
        """A health upkeep step that fails (the database restarting) is tried again at its next turn: a chunk that
        failed was rolled back whole, and the aggregator's ingest must not stop for it."""
        try:
            step()
        except Exception:
            log.exception("health history %s failed; tried again later", what)

    def run_forever(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        last_prune = last_roll_up = -PRUNE_SECONDS
        keep = self.config.central
        try:
            # The health history's upkeep, in every process: the roll-ups wait for each other chunk by chunk, and
            # pruning what another already pruned is free.
            while not self.stopping.wait(1.0):
                if time.monotonic() - last_roll_up >= ROLL_UP_SECONDS:
                    last_roll_up = time.monotonic()
                    self._upkeep("roll-up", lambda: self.store.roll_up_health(max_chunks=ROLL_UP_CHUNKS))
                if time.monotonic() - last_prune >= PRUNE_SECONDS:
                    last_prune = time.monotonic()
                    self._upkeep("prune", lambda: self.store.prune_health(
                        keep.health_raw_days, keep.health_minute_days, keep.health_hour_days))
        finally:
            self.stop()
        return 0
