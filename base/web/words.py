"""Machine values in words for people, shared by the kiosk's staff desk and central's dashboard: a code as
"Vietnamese · English" from a table, ISO dates as dd/mm/yyyy, stored UTC times (ISO text or epoch seconds) in the
site's local time, booleans and empty values as words. Each program keeps its own tables of codes."""

from __future__ import annotations

import datetime as dt


def bilingual(pair: tuple[str, str] | None, fallback: str) -> str:
    return f"{pair[0]} · {pair[1]}" if pair else fallback


def label(table: dict, value) -> str:
    """The Vietnamese · English words for a code; an unknown code is shown as it is (never hidden)."""
    if value is None or value == "":
        return "—"
    return bilingual(table.get(value), str(value))


def vi(table: dict, value) -> str:
    pair = table.get(value)
    return pair[0] if pair else ("—" if value in (None, "") else str(value))


def day(iso: str | None) -> str:
    """A stored ISO date (1990-05-17) as Vietnamese write it: 17/05/1990."""
    if not iso:
        return "—"
    try:
        return dt.date.fromisoformat(str(iso)[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return str(iso)


def local_time(wall: str | float | None, tz: dt.tzinfo, with_date: bool = True) -> str:
    """A stored UTC wall time (ISO text) or epoch seconds as the site's local "dd/mm/yyyy HH:MM"."""
    if wall in (None, ""):
        return "—"
    try:
        t = (dt.datetime.fromtimestamp(wall, dt.timezone.utc) if isinstance(wall, (int, float))
             else dt.datetime.fromisoformat(str(wall)))
    except (ValueError, OverflowError, OSError):
        return str(wall)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(tz).strftime("%d/%m/%Y %H:%M" if with_date else "%H:%M")


def value(v) -> str:
    """A health value in words: yes/no for booleans, a dash for nothing."""
    if v is True:
        return "Có · Yes"
    if v is False:
        return "Không · No"
    if v is None or v == "" or v == [] or v == {}:
        return "—"
    if isinstance(v, dict):
        return ", ".join(f"{k} {value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x) for x in v)
    return str(v)
