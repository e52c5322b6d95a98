"""The print_jobs table (created in migration 0001_core): every SQL statement about print jobs lives here.

A job moves pending → printing → done, or → failed when it can never print (its record is gone, its layout cannot
be built, or it was interrupted mid-send: see `recover_interrupted`). A printer that is off or out of paper leaves
the job pending with `last_error` saying why; `attempts` counts the times its bytes were handed to the printer.
Reprints are new rows (copy = n) requested by staff and audited in the same transaction.
"""

from __future__ import annotations

import uuid

from base.records import Stamp, record
from kiosk import audit
from kiosk.outbox import enqueue
from kiosk.store import Store

INTERRUPTED = ("interrupted while sending (the kiosk stopped): it may or may not have printed; "
               "reprint it from the staff screen if the citizen has no paper")


class JobNotFound(LookupError):
    pass


def next_pending(store: Store) -> dict | None:
    return store.query_one("SELECT * FROM print_jobs WHERE state='pending' ORDER BY id LIMIT 1")


def get(store: Store, job_id: int) -> dict | None:
    return store.query_one("SELECT * FROM print_jobs WHERE id=?", (job_id,))


def counts(store: Store) -> dict[str, int]:
    found = {r["state"]: r["n"] for r in store.query("SELECT state, count(*) AS n FROM print_jobs GROUP BY state")}
    return {state: found.get(state, 0) for state in ("pending", "printing", "done", "failed")}


def _set(store: Store, job_id: int, wall: str, sql: str, params: tuple = ()) -> None:
    with store.transaction() as db:
        db.conn.execute(f"UPDATE print_jobs SET {sql}, updated_wall=? WHERE id=?", (*params, wall, job_id))


def mark_printing(store: Store, job_id: int, wall: str) -> None:
    # Committed before the first byte leaves: after a crash, 'printing' tells that the job may be on paper.
    _set(store, job_id, wall, "state='printing', attempts=attempts+1")


def mark_done(store: Store, job_id: int, stamp: Stamp) -> None:
    _finish(store, job_id, stamp, "done", None)


def mark_waiting(store: Store, job_id: int, error: str, wall: str) -> None:
    """Back to pending: nothing (or only part, without its cut) reached the printer; it is sent again later."""
    _set(store, job_id, wall, "state='pending', last_error=?", (error,))


def note_error(store: Store, job_id: int, error: str, wall: str) -> None:
    """Why a pending job is waiting; written only when the reason changes (SD cards wear out)."""
    with store.transaction() as db:
        db.conn.execute("UPDATE print_jobs SET last_error=?, updated_wall=? WHERE id=? AND last_error IS NOT ?",
                        (error, wall, job_id, error))


def mark_failed(store: Store, job_id: int, error: str, stamp: Stamp) -> None:
    _finish(store, job_id, stamp, "failed", error)


def _finish(store: Store, job_id: int, stamp: Stamp, state: str, error: str | None) -> None:
    """The job's end and its print event for central (stream print_events: certificates printed per site) in one
    transaction, so central counts every printed certificate exactly once."""
    with store.transaction() as db:
        db.conn.execute("UPDATE print_jobs SET state=?, last_error=?, updated_wall=? WHERE id=?",
                        (state, error, stamp.wall, job_id))
        job = db.conn.execute(
            "SELECT j.kind, j.checkin_id, j.copy, c.site_id, c.kiosk_id FROM print_jobs j "
            "JOIN checkins c ON c.id = j.checkin_id WHERE j.id=?", (job_id,)).fetchone()
        if job is not None:
            enqueue(db, "print_events", print_event_record(dict(job), state, stamp), stamp)


def print_event_record(job: dict, state: str, stamp: Stamp) -> dict:
    """What central gets of a print: which kind, for which check-in, whether it came out. No personal data."""
    return record("print_events", uuid.uuid4().hex, job["site_id"], job["kiosk_id"], stamp, kind=job["kind"],
                  state=state, checkin_id=job["checkin_id"], copy=job["copy"])


def recover_interrupted(store: Store, wall: str) -> list[int]:
    """Jobs left 'printing' by a process that died: failed, never re-sent automatically (never printed twice)."""
    with store.transaction() as db:
        ids = [r[0] for r in db.conn.execute("SELECT id FROM print_jobs WHERE state='printing' ORDER BY id")]
        db.conn.execute("UPDATE print_jobs SET state='failed', last_error=?, updated_wall=? WHERE state='printing'",
                        (INTERRUPTED, wall))
    return ids


def request_reprint(store: Store, job_id: int, actor: str, reason: str, stamp: Stamp) -> dict:
    """A new job printing the same thing again with the next copy number; audited in the same transaction."""
    with store.transaction() as db:
        job = db.conn.execute("SELECT * FROM print_jobs WHERE id=?", (job_id,)).fetchone()
        if job is None:
            raise JobNotFound(job_id)
        copy = db.conn.execute(
            "SELECT MAX(copy) + 1 FROM print_jobs WHERE kind=? AND checkin_id=? AND subject_id IS ?",
            (job["kind"], job["checkin_id"], job["subject_id"]),
        ).fetchone()[0]
        new_id = db["print_jobs"].insert({"kind": job["kind"], "checkin_id": job["checkin_id"],
                                          "subject_id": job["subject_id"], "copy": copy, "state": "pending",
                                          "created_wall": stamp.wall, "updated_wall": stamp.wall}).last_pk
        audit.record(db, actor, "print.reprint", subject=job["checkin_id"], reason=reason,
                     detail={"kind": job["kind"], "job": job_id, "reprint_job": new_id, "copy": copy}, stamp=stamp)
    return get(store, new_id)
