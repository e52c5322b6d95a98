"""A clock for tests: the real clock's stamps (monotonic time, boot id), at a wall time the test sets and moves.

Services take a clock (kiosk.clock.Clock); a test that gives them this one never depends on today's date, and moves
time forward instead of sleeping through an observation period or a deadline.
"""

from __future__ import annotations

import datetime as dt

from kiosk.clock import Clock


class SteppedClock(Clock):
    def __init__(self, start: dt.datetime, utc_offset_hours: float = 7.0):
        super().__init__(utc_offset_hours)
        self.at = start

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += dt.timedelta(**delta)
