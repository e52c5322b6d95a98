"""The parts of a vaxkiosk process (the kiosk's scanner, printer worker, screens, sync; central's ingest and
dashboard): objects with a name that start, stop and report their health, sharing nothing but the store.

A process starts its parts in order and stops them in reverse: a part may rely on those started before it.
"""

from __future__ import annotations

import logging
from typing import Iterable, Protocol

log = logging.getLogger("vaxkiosk")


class Part(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> dict: ...


def start_parts(parts: Iterable[Part]) -> None:
    for part in parts:
        log.info("starting %s", part.name)
        part.start()


def stop_parts(parts: list[Part]) -> None:
    """Stop in reverse start order; one part failing to stop does not keep the others running."""
    for part in reversed(parts):
        try:
            part.stop()
        except Exception:  # noqa: BLE001 - one part failing to stop must not keep the others running
            log.exception("stopping %s failed", part.name)


def health_of(parts: Iterable[Part]) -> dict[str, dict]:
    return {p.name: p.health() for p in parts}
