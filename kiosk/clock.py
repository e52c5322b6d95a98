"""The kiosk's clock: time stamps that central can correct later (base.records.Stamp says why they carry what they
carry), and the floor that keeps a kiosk booted without a real-time clock from going back in time."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

from base.records import Stamp
from drivers import system

# The tests and the demo simulate a Pi without a real-time clock: this file holds {"offset_seconds": N, "synced": B},
# re-read at every time stamp, so a running kiosk can "boot in 1970" and correct itself later.
SIMULATED_CLOCK_ENV = "VAXKIOSK_SIMULATED_CLOCK"


def _simulated() -> tuple[float, bool] | None:
    path = os.environ.get(SIMULATED_CLOCK_ENV)
    if not path:
        return None
    try:
        data = json.loads(open(path, encoding="utf-8").read())
        return float(data.get("offset_seconds", 0.0)), bool(data.get("synced", False))
    except (OSError, ValueError, AttributeError):
        return 0.0, False


class Clock:
    """Wall time that never runs backwards past the last time this kiosk knew to be right.

    Like Raspberry Pi OS's fake-hwclock: when the wall clock reads earlier than `floor` (the latest time stamp in the
    store, set at start), time continues from the floor by the monotonic clock, so the check-ins of a kiosk that
    booted in 1970 still land on the day it last saw, and are marked unsynchronised for central to correct.
    """

    def __init__(self, utc_offset_hours: float = 7.0, floor: dt.datetime | None = None):
        self.tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))
        self.floor = floor
        self._floor_mono = time.monotonic()

    def set_floor(self, floor: dt.datetime | None) -> None:
        self.floor, self._floor_mono = floor, time.monotonic()

    def now(self) -> dt.datetime:
        now = dt.datetime.now(dt.timezone.utc)
        sim = _simulated()
        if sim:
            now += dt.timedelta(seconds=sim[0])
        if self.floor and now < self.floor:
            now = self.floor + dt.timedelta(seconds=time.monotonic() - self._floor_mono)
        return now

    def synced(self) -> bool:
        sim = _simulated()
        return sim[1] if sim else system.clock_synchronized()

    def stamp(self) -> Stamp:
        return Stamp(
            wall=self.now().isoformat(timespec="milliseconds"),
            mono=round(time.monotonic(), 3),
            boot_id=system.boot_id(),
            clock_synced=self.synced(),
        )

    def local_now(self) -> dt.datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> dt.date:
        return self.local_now().date()
