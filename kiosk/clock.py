"""Time stamps that central can correct later.

A Pi has no real-time clock: until NTP succeeds after boot the wall clock can be years off. Every event therefore
records the wall time, the monotonic time, the boot id and whether the clock was synchronised, so that central can
shift unsynchronised events by the offset it learns later from the same boot.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass

from drivers import system


@dataclass(frozen=True)
class Stamp:
    wall: str  # ISO 8601, UTC
    mono: float
    boot_id: str
    clock_synced: bool

    def as_columns(self, prefix: str) -> dict:
        return {f"{prefix}_{k}": (int(v) if isinstance(v, bool) else v) for k, v in asdict(self).items()}


class Clock:
    def __init__(self, utc_offset_hours: float = 7.0):
        self.tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def stamp(self) -> Stamp:
        return Stamp(
            wall=self.now().isoformat(timespec="milliseconds"),
            mono=round(time.monotonic(), 3),
            boot_id=system.boot_id(),
            clock_synced=system.clock_synchronized(),
        )

    def local_now(self) -> dt.datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> dt.date:
        return self.local_now().date()
