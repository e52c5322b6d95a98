"""The sync outbox's SQL (table `outbox`, migration 0001): what is waiting for central, in delivery order.

Entries are added by the modules that own the facts (`enqueue`, inside their own transaction); this
module reads them for the sync worker and records what central acknowledged. An entry is delivered only when
central's application ack names its record id.
"""

from __future__ import annotations

import json

from base.records import Stamp
from kiosk.clock import Clock
from kiosk.store import Store


def enqueue(db, stream: str, payload: dict, stamp: Stamp) -> None:
    """Add a record to the sync outbox inside the caller's transaction."""
    db["outbox"].insert({"record_id": payload["record_id"], "stream": stream,
                         "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                         "created_wall": stamp.wall})


class Outbox:
    def __init__(self, store: Store, clock: Clock | None = None):
        self.store = store
        self.clock = clock or Clock()  # the kiosk's clock: delivery times agree with the retention purge's

    def _now(self) -> str:
        return self.clock.now().isoformat(timespec="milliseconds")

    def pending(self, after_seq: int, limit: int) -> list[dict]:
        """Undelivered entries after `after_seq`, oldest first (index outbox_pending)."""
        return self.store.query(
            "SELECT seq, record_id, stream, payload FROM outbox WHERE delivered_wall IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?", (after_seq, limit))

    def by_record_ids(self, record_ids: list[str]) -> list[dict]:
        marks = ",".join("?" * len(record_ids))
        return self.store.query(
            f"SELECT seq, record_id, stream, payload FROM outbox WHERE delivered_wall IS NULL "
            f"AND record_id IN ({marks}) ORDER BY seq", tuple(record_ids))

    def mark_sent(self, seqs: list[int]) -> None:
        if not seqs:
            return
        now = self._now()
        with self.store.transaction() as db:
            db.conn.executemany("UPDATE outbox SET attempts = attempts + 1, last_sent_wall = ? WHERE seq = ?",
                                [(now, s) for s in seqs])

    def mark_delivered(self, record_ids: list[str]) -> int:
        """Returns how many entries this ack delivered (ids already delivered or unknown are ignored)."""
        if not record_ids:
            return 0
        now = self._now()
        with self.store.transaction() as db:
            return sum(db.conn.execute(
                "UPDATE outbox SET delivered_wall = ? WHERE record_id = ? AND delivered_wall IS NULL",
                (now, rid)).rowcount for rid in record_ids)

    def backlog(self) -> tuple[int, str | None]:
        """(undelivered entries, created_wall of the oldest of them)."""
        row = self.store.query_one(
            "SELECT count(*) AS n, min(created_wall) AS oldest FROM outbox WHERE delivered_wall IS NULL")
        return row["n"], row["oldest"]

    def purge_delivered(self, before_wall: str) -> int:
        with self.store.transaction() as db:
            return db.conn.execute("DELETE FROM outbox WHERE delivered_wall IS NOT NULL AND delivered_wall < ?",
                                   (before_wall,)).rowcount
