"""Read-only figures the aggregator's store (central.store) does not offer yet, for /metrics.

A separate module (and a read-only connection) so that merging with the aggregator's branch stays clean; the
integrator may move these into CentralStore as methods. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

_local = threading.local()


def _conn(path) -> sqlite3.Connection:
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    if str(path) not in conns:
        conns[str(path)] = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    return conns[str(path)]


def recent_lags(path, window_seconds: float = 300.0, now: float | None = None) -> list[float]:
    """Seconds from the kiosk's send time (its wall clock, synchronised records only) to central's commit, for the
    records received in the last `window_seconds`."""
    now = dt.datetime.now(dt.timezone.utc).timestamp() if now is None else now
    since = dt.datetime.fromtimestamp(now - window_seconds, dt.timezone.utc).isoformat(timespec="milliseconds")
    rows = _conn(path).execute(
        "SELECT (julianday(received) - julianday(sent_wall)) * 86400.0 FROM records "
        "WHERE received >= ? AND clock = 'synced'", (since,)).fetchall()
    return sorted(max(0.0, r[0]) for r in rows if r[0] is not None)


def quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
