"""Privacy: personal data does not stay on a kiosk longer than [kiosk] retention_days once central has it. The
retention part purges once at start and then every PURGE_SECONDS.

A visit (a check-in and every row that refers to it: ticket, state changes, print jobs, screenings, vaccinations,
and whatever later migrations add with a foreign key to it) is purged when its day is older than the retention
period and no outbox entry of that day or later is still waiting for central. The dependent tables are found from
the schema's foreign keys, so a table added by another module is purged with its visit without this module knowing
it. Delivered outbox entries older than the retention period go too. The audit log stays (it holds no personal data).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from kiosk.outbox import Outbox
from kiosk.store import Store
from kiosk.watchdog import thread_alive

log = logging.getLogger("vaxkiosk.retention")

PURGE_SECONDS = 3600.0


def purge(store: Store, retention_days: int, utc_offset_hours: float = 7.0,
          now: dt.datetime | None = None) -> dict[str, int]:
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=retention_days)
    tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))
    before_day = cutoff.astimezone(tz).date().isoformat()
    outbox = Outbox(store)
    _count, oldest_waiting = outbox.backlog()
    if oldest_waiting:
        # Never purge a visit whose records may still be waiting: stop a day before the oldest undelivered entry
        # (a day of margin: an entry written just after midnight may belong to the previous day's visit).
        waiting_day = dt.datetime.fromisoformat(oldest_waiting).astimezone(tz).date() - dt.timedelta(days=1)
        before_day = min(before_day, waiting_day.isoformat())
    with store.transaction() as db:
        deleted = _delete_with_dependents(db.conn, "checkins", "day < ?", (before_day,))
    deleted["outbox"] = outbox.purge_delivered(cutoff.isoformat(timespec="milliseconds"))
    if any(deleted.values()):
        log.info("retention purge (before %s): %s", before_day, deleted)
    return deleted


def _delete_with_dependents(conn, table: str, where: str, params: tuple, counts: dict | None = None,
                            depth: int = 0) -> dict[str, int]:
    counts = {} if counts is None else counts
    if depth > 8:
        raise RuntimeError("foreign keys nest too deep (a cycle?)")
    for child, column, parent_column in _referrers(conn, table):
        _delete_with_dependents(conn, child, f"{column} IN (SELECT {parent_column} FROM {table} WHERE {where})",
                                params, counts, depth + 1)
    counts[table] = counts.get(table, 0) + conn.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
    return counts


def _referrers(conn, table: str) -> list[tuple[str, str, str]]:
    """(child table, its column, the referenced column of `table`) for every foreign key to `table`."""
    found = []
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for fk in conn.execute(f"PRAGMA foreign_key_list({name})").fetchall():
            # fk: id, seq, table, from, to, on_update, on_delete, match
            if fk[2] == table and name != table:
                found.append((name, fk[3], fk[4] or "rowid"))
    return found


class RetentionPart:
    name = "retention"

    def __init__(self, store: Store, retention_days: int, utc_offset_hours: float):
        self.store, self.retention_days, self.utc_offset_hours = store, retention_days, utc_offset_hours
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.purged = 0  # rows deleted since start

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while True:
            try:
                self.purged += sum(purge(self.store, self.retention_days, self.utc_offset_hours).values())
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - a failed purge (disk, lock) is tried again next time
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("retention purge failed")
            if self._stop.wait(PURGE_SECONDS):
                return

    def health(self) -> dict:
        return {"alive": thread_alive(self._thread), "purged": self.purged, "last_error": self.last_error}


def make_part(app) -> RetentionPart:
    return RetentionPart(app.store, app.config.kiosk.retention_days, app.config.kiosk.utc_offset_hours)
