"""?day=YYYY-MM-DD or ?from=&to= on every page and API: read once per request, refused with a clear 400 (code
`bad_day`, Vietnamese first, and what was wrong) before any view runs, so no page can silently ignore a bad one."""

from __future__ import annotations

import json

import datetime as dt

from flask import Response, current_app, g, request

from base.refusal import Refusal
from central import numbers


class DayRefused(Refusal):
    MESSAGES = {
        "bad_day": ("Ngày không hợp lệ (cần dạng NNNN-TT-NN, ví dụ 2026-12-01).",
                    "Not a valid day or range (expected YYYY-MM-DD, e.g. 2026-12-01)."),
    }


def install(app) -> None:
    @app.before_request
    def days_are_valid():
        args = request.args
        try:
            g.days = numbers.parse_days(args.get("day", ""), args.get("from", ""), args.get("to", ""),
                                        current_app.extensions["ops"].store.today())
        except numbers.BadDays as exc:
            body = DayRefused("bad_day", str(exc)).to_json()
            body["error"]["detail"] = str(exc)
            return Response(json.dumps(body, ensure_ascii=False), 400, mimetype="application/json")
        g.day_asked = any(args.get(k) for k in ("day", "from", "to"))


def requested() -> tuple[str, str]:
    """(first, last) day of this request: today unless ?day= or ?from=&to= said otherwise."""
    return g.days


def is_today() -> bool:
    first, last = g.days
    return first == last == current_app.extensions["ops"].store.today()


def query_args() -> dict[str, str]:
    """The request's day arguments as given, for links that keep them."""
    return {k: request.args[k] for k in ("day", "from", "to") if request.args.get(k)}


def asked() -> bool:
    """Whether the request named a day or range (lists of open things — alerts, corrections — show everything
    otherwise: an alert raised yesterday and still active must not vanish at midnight)."""
    return g.day_asked


def utc_bounds() -> tuple[float, float]:
    """The requested local days as [start, end) epoch seconds."""
    tz = current_app.extensions["ops"].store.tz
    first, last = g.days
    start = dt.datetime.combine(dt.date.fromisoformat(first), dt.time(), tz)
    end = dt.datetime.combine(dt.date.fromisoformat(last) + dt.timedelta(days=1), dt.time(), tz)
    return start.timestamp(), end.timestamp()


def utc_bounds_iso() -> tuple[str, str]:
    """utc_bounds as central.store writes its times (ISO 8601 UTC, milliseconds), for string comparison."""
    return tuple(dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")
                 for t in utc_bounds())


def within(ts: float | None) -> bool:
    """`ts` (epoch seconds) falls in the requested days, or no day was asked."""
    if not g.day_asked:
        return True
    start, end = utc_bounds()
    return ts is not None and start <= ts < end
