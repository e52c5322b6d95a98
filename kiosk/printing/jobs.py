"""The print_jobs table (created in migration 0001_core): every SQL statement about print jobs lives here. A check-in
adds its ticket's job and the end of an observation its certificate's (`add`, inside their transactions); the printer
worker prints them; staff reprint them.

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


# Prints central counts (stream print_events). A correction slip (kind "correction", subject_id: the request) is
# the citizen's receipt, not a figure.
COUNTED_KINDS = ("ticket", "certificate")


class JobNotFound(LookupError):
    pass


def add(db, kind: str, checkin_id: str, stamp: Stamp, subject_id: str | None = None) -> None:
    """A new original (copy 0) job inside the caller's transaction: the check-in or the dose and its paper commit
    together."""
    db["print_jobs"].insert({"kind": kind, "checkin_id": checkin_id, "subject_id": subject_id, "copy": 0,
                             "state": "pending", "created_wall": stamp.wall, "updated_wall": stamp.wall})


def next_pending(store: Store) -> dict | None:
    return store.query_one("SELECT * FROM print_jobs WHERE state='pending' ORDER BY id LIMIT 1")


def get(store: Store, job_id: int) -> dict | None:
    return store.query_one("SELECT * FROM print_jobs WHERE id=?", (job_id,))


def of_checkin(store: Store, checkin_id: str) -> list[dict]:
    """Every job of a check-in, oldest first (the staff page of a citizen)."""
    return store.query("SELECT kind, copy, state, created_wall FROM print_jobs WHERE checkin_id=? ORDER BY id",
                       (checkin_id,))


def newest(store: Store, limit: int) -> list[dict]:
    return store.query("SELECT * FROM print_jobs ORDER BY id DESC LIMIT ?", (limit,))


def original(store: Store, kind: str, checkin_id: str) -> dict | None:
    """The first copy-0 job of this kind for a check-in (every check-in has its ticket's)."""
    return store.query_one("SELECT * FROM print_jobs WHERE kind=? AND checkin_id=? AND copy=0 ORDER BY id LIMIT 1",
                           (kind, checkin_id))


def reprint_count(store: Store, kind: str, checkin_id: str) -> int:
    return store.query_one("SELECT count(*) AS n FROM print_jobs WHERE kind=? AND checkin_id=? AND copy>0",
                           (kind, checkin_id))["n"]


def reprints_done(store: Store) -> dict[str, int]:
    """kind → reprints (copy ≥ 1) that came out."""
    found = {r["kind"]: r["n"] for r in store.query(
        "SELECT kind, count(*) AS n FROM print_jobs WHERE state='done' AND copy>0 GROUP BY kind")}
    return {kind: found.get(kind, 0) for kind in ("ticket", "certificate")}


def latest_of_subject(store: Store, kind: str, subject_id: str) -> dict | None:
    """The highest copy of the jobs printing `subject_id` (a certificate's vaccination record)."""
    return store.query_one("SELECT * FROM print_jobs WHERE kind=? AND subject_id=? ORDER BY copy DESC LIMIT 1",
                           (kind, subject_id))


def counts(store: Store) -> dict[str, int]:
    found = {r["state"]: r["n"] for r in store.query("SELECT state, count(*) AS n FROM print_jobs GROUP BY state")}
    return {state: found.get(state, 0) for state in ("pending", "printing", "done", "failed")}


def _set(store: Store, job_id: int, wall: str, sql: str, params: tuple = ()) -> None:
    with store.transaction() as db:
        db.conn.execute(f"UPDATE print_jobs SET {sql}, updated_wall=? WHERE id=?", (*params, wall, job_id))


def mark_printing(store: Store, job_id: int, wall: str) -> None:
    # Committed before the first byte leaves: after a crash, 'printing' tells that the job may be on paper.
    _set(store, job_id, wall, "state='printing', attempts=attempts+1")


def mark_done(store: Store, job_id: int, stamp: Stamp, place: dict | None) -> None:
    """`place`: the site and kiosk of the job's check-in (kiosk.checkin.place_of), for its print event."""
    _finish(store, job_id, stamp, "done", None, place)


def mark_waiting(store: Store, job_id: int, error: str, wall: str) -> None:
    """Back to pending: nothing (or only part, without its cut) reached the printer; it is sent again later."""
    _set(store, job_id, wall, "state='pending', last_error=?", (error,))


def note_error(store: Store, job_id: int, error: str, wall: str) -> None:
    """Why a pending job is waiting; written only when the reason changes (SD cards wear out)."""
    with store.transaction() as db:
        db.conn.execute("UPDATE print_jobs SET last_error=?, updated_wall=? WHERE id=? AND last_error IS NOT ?",
                        (error, wall, job_id, error))


def mark_failed(store: Store, job_id: int, error: str, stamp: Stamp, place: dict | None) -> None:
    _finish(store, job_id, stamp, "failed", error, place)


def _finish(store: Store, job_id: int, stamp: Stamp, state: str, error: str | None, place: dict | None) -> None:
    """The job's end and its print event for central (stream print_events: certificates printed per site) in one
    transaction, so central counts every printed certificate exactly once. A job whose check-in is gone (`place`
    None) gets no event: central has nothing to count it under."""
    with store.transaction() as db:
        db.conn.execute("UPDATE print_jobs SET state=?, last_error=?, updated_wall=? WHERE id=?",
                        (state, error, stamp.wall, job_id))
        job = db.conn.execute("SELECT kind, checkin_id, copy FROM print_jobs WHERE id=?", (job_id,)).fetchone()
        if job is not None and place is not None and job["kind"] in COUNTED_KINDS:
            enqueue(db, "print_events", print_event_record({**dict(job), **place}, state, stamp), stamp)


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
