"""Which summary rows add up to a range of days: whole months from the monthly roll-ups (migration 0008), the
days of a month the range only partly covers from the daily ones.

A month the range covers most of is read whole and the days outside the range are subtracted (every figure is a
count, so the difference is exact): a "last 30 days" range is then one or two monthly rows per site and a few
daily ones, instead of thirty. Days after `today` hold no rows (records are counted on their corrected day), so
they cost nothing to subtract. The plan only decides which rows are read; the sums are the same whichever is chosen.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class Span(NamedTuple):
    """Rows of `table` ("day": the daily summaries, "month": the monthly ones) with key in lo..hi, added (sign 1)
    or subtracted (sign -1). Keys are ISO days (YYYY-MM-DD) or months (YYYY-MM)."""

    table: str
    lo: str
    hi: str
    sign: int


def month_of(day: str) -> str:
    """The monthly roll-ups' key of an ISO day."""
    return day[:7]


def _month_end(d: dt.date) -> dt.date:
    following = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _days(a: dt.date, b: dt.date, today: dt.date) -> int:
    """Days of a..b that can hold rows (not after today)."""
    return max(0, (min(b, today) - a).days + 1)


def plan(first: str, last: str, today: str) -> list[Span]:
    """The spans whose signed sum is the days first..last (ISO, first <= last)."""
    a, b, now = dt.date.fromisoformat(first), dt.date.fromisoformat(last), dt.date.fromisoformat(today)
    spans: list[Span] = []
    whole: list[str] = []  # consecutive whole months, read in one span
    start = a.replace(day=1)
    while start <= b:
        end = _month_end(start)
        lo, hi = max(a, start), min(b, end)
        outside = [(start, lo - dt.timedelta(days=1)), (hi + dt.timedelta(days=1), end)]
        outside = [(x, y) for x, y in outside if x <= y]
        if not outside:
            whole.append(month_of(start.isoformat()))
        elif sum(_days(x, y, now) for x, y in outside) < _days(lo, hi, now):
            whole.append(month_of(start.isoformat()))
            spans += [Span("day", x.isoformat(), y.isoformat(), -1) for x, y in outside]
        else:
            spans.append(Span("day", lo.isoformat(), hi.isoformat(), 1))
        start = end + dt.timedelta(days=1)
    # Only the first and the last month can be partly covered, so the months read whole are consecutive.
    return ([Span("month", whole[0], whole[-1], 1)] if whole else []) + spans
