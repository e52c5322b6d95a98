"""Check-in rules: one check-in per person per site per day, ticket numbers, the queue's state machine.

A check-in is one SQLite transaction that writes the record, its ticket, its first state change, its outbox entry
and its print job (and, for a typed entry, the flag that makes staff see the card: kiosk.verification). There is
never a check-in without its outbox entry or its ticket print job, and the function returns only after the commit is
durable: only then may a screen tell the citizen that it worked.

An entry for a number that already holds a check-in today gets that check-in only if it is the same person (name and
birth date, kiosk.verification.Verification.admit); otherwise it is refused and the check-in is flagged. Staff who
find that a check-in is not the card holder's release it, and the number is free for the holder to check in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from drivers import system
from kiosk import audit, verification
from kiosk.clock import Clock, Stamp
from kiosk.config import KioskSection
from kiosk.identity import Identity
from kiosk.refusal import Refusal
from kiosk.sms import hooks as sms_hooks
from kiosk.store import Store
from kiosk.sync.outbox import enqueue

SCHEMA_VERSION = 1

STATES = ("waiting", "called", "screened", "vaccinated", "observing", "done", "deferred", "left")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "waiting": ("called", "deferred", "left"),
    "called": ("waiting", "screened", "deferred", "left"),
    "screened": ("vaccinated", "deferred", "left"),
    "vaccinated": ("observing",),
    "observing": ("done",),
    "done": (),
    "deferred": (),
    "left": (),
}
SOURCES = ("camera", "serial", "screen", "staff")

REFUSALS = {
    "disk_full": ("Kiosk tạm thời không nhận đăng ký (bộ nhớ đầy). Vui lòng gặp nhân viên.",
                  "The kiosk cannot take check-ins right now (storage full). Please see a staff member."),
    "number_only_needs_details": ("Cần họ tên và ngày sinh. Vui lòng nhập tay hoặc gặp nhân viên.",
                                  "Name and date of birth are needed. Please type them or see a staff member."),
    "bad_transition": ("Không thể chuyển trạng thái này.", "This queue step is not allowed."),
    "not_found": ("Không tìm thấy lượt đăng ký.", "Check-in not found."),
    "reason_required": ("Cần ghi lý do.", "A reason is required."),
}


class CheckinRefused(Refusal):
    MESSAGES = REFUSALS


@dataclass(frozen=True)
class CheckinResult:
    checkin: dict  # the checkins row joined with its ticket (number, state, desk)
    created: bool  # False: this person had already checked in today; the same ticket is returned

    @property
    def ticket(self) -> int:
        return self.checkin["number"]


TICKET_QUERY = """
    SELECT c.*, t.number, t.state, t.desk, t.state_wall
    FROM checkins c JOIN tickets t ON t.checkin_id = c.id
"""


class CheckinService:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock or Clock(settings.utc_offset_hours)
        self.verification = verification.Verification(store, settings, self.clock)

    # -- check-in ----------------------------------------------------------------------------------------------
    def check_in(self, identity: Identity, source: str) -> CheckinResult:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        if identity.number_only:
            # A bare number has no name or birth date: the record could not be matched, so a person must add them.
            raise CheckinRefused("number_only_needs_details")
        day = self.clock.today().isoformat()
        existing = self.find_today(identity.id_number, day)
        if existing:
            return CheckinResult(self.verification.admit(existing, identity, source), created=False)
        self._refuse_if_disk_full()
        stamp = self.clock.stamp()
        checkin_id = uuid.uuid4().hex
        row = {
            "id": checkin_id,
            "site_id": self.settings.site_id,
            "kiosk_id": self.settings.kiosk_id,
            "day": day,
            "id_number": identity.id_number,
            "full_name": identity.full_name,
            "dob": identity.dob.isoformat() if identity.dob else None,
            "sex": identity.sex,
            "address": identity.address if self.settings.keep_address else None,
            "scan_kind": identity.kind,
            "source": source,
            **stamp.as_columns("created"),
        }
        with self.store.transaction() as db:
            # Another thread (camera and serial scanner at once) may have checked the same person in meanwhile.
            again = db.conn.execute(
                "SELECT 1 FROM checkins WHERE site_id=? AND day=? AND id_number=? AND released_wall IS NULL",
                (row["site_id"], day, identity.id_number),
            ).fetchone()
            if not again:
                number = db.conn.execute(
                    "SELECT COALESCE(MAX(number), 0) + 1 FROM tickets WHERE site_id=? AND day=?",
                    (row["site_id"], day),
                ).fetchone()[0]
                db["checkins"].insert(row)
                db["tickets"].insert({"checkin_id": checkin_id, "site_id": row["site_id"], "day": day,
                                      "number": number, "state": "waiting", "state_wall": stamp.wall})
                _insert_state_change(db, checkin_id, None, "waiting", "kiosk:" + source, None, stamp)
                enqueue(db, "checkins", checkin_record(row, number), stamp)
                db["print_jobs"].insert({"kind": "ticket", "checkin_id": checkin_id, "copy": 0,
                                         "state": "pending", "created_wall": stamp.wall,
                                         "updated_wall": stamp.wall})
                verification.flag_new_checkin(db, checkin_id, identity, source, self.settings, stamp)
        found = self.find_today(identity.id_number, day)
        if again:
            return CheckinResult(self.verification.admit(found, identity, source), created=False)
        return CheckinResult(found, created=True)

    def _refuse_if_disk_full(self) -> None:
        free, _total = system.disk_usage(self.store.path.parent)
        if free < self.settings.min_free_mb * 1024 * 1024:
            raise CheckinRefused("disk_full", f"{free // (1024 * 1024)} MB free")

    # -- queries -----------------------------------------------------------------------------------------------
    def find_today(self, id_number: str, day: str | None = None) -> dict | None:
        """The check-in holding this number today. Whose it is, is for Verification.admit to say."""
        return self.store.query_one(
            TICKET_QUERY + " WHERE c.site_id=? AND c.day=? AND c.id_number=? AND c.released_wall IS NULL",
            (self.settings.site_id, day or self.clock.today().isoformat(), id_number),
        )

    def get(self, checkin_id: str) -> dict | None:
        return self.store.query_one(TICKET_QUERY + " WHERE c.id=?", (checkin_id,))

    def queue(self, day: str | None = None, states: tuple[str, ...] = STATES) -> list[dict]:
        marks = ",".join("?" * len(states))
        return self.store.query(
            TICKET_QUERY + f" WHERE c.site_id=? AND c.day=? AND t.state IN ({marks}) ORDER BY t.number",
            (self.settings.site_id, day or self.clock.today().isoformat(), *states),
        )

    # -- the queue's state machine -----------------------------------------------------------------------------
    def transition(self, checkin_id: str, to_state: str, actor: str, reason: str | None = None,
                   desk: str | None = None) -> dict:
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            move(db, checkin_id, to_state, actor, stamp, reason=reason, desk=desk)
        return self.get(checkin_id)

    def release(self, checkin_id: str, actor: str, reason: str) -> dict:
        """Staff saw that this check-in is not the card holder's (someone checked in first under their number):
        it stops holding the number, so the holder can check in today; it leaves the queue if it still can.
        Nothing is deleted; the release is audited `identity.released`."""
        reason = " ".join(str(reason or "").split())
        if not reason:
            raise CheckinRefused("reason_required")
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            row = db.conn.execute("SELECT t.state, c.released_wall FROM checkins c JOIN tickets t "
                                  "ON t.checkin_id = c.id WHERE c.id=?", (checkin_id,)).fetchone()
            if row is None:
                raise CheckinRefused("not_found", checkin_id)
            if row[1] is None:
                db.conn.execute("UPDATE checkins SET released_wall=?, released_by=? WHERE id=?",
                                (stamp.wall, actor, checkin_id))
                if "left" in TRANSITIONS[row[0]]:
                    move(db, checkin_id, "left", actor, stamp, reason=reason)
                verification.resolve(db, checkin_id, actor, "released", stamp)
                audit.record(db, actor, "identity.released", checkin_id, reason, stamp=stamp)
        return self.get(checkin_id)

    def call_next(self, desk: str, actor: str) -> dict | None:
        """The lowest waiting ticket of today goes to `desk`; None when nobody waits."""
        stamp = self.clock.stamp()
        day = self.clock.today().isoformat()
        with self.store.transaction() as db:
            row = db.conn.execute(
                "SELECT checkin_id FROM tickets WHERE site_id=? AND day=? AND state='waiting' ORDER BY number LIMIT 1",
                (self.settings.site_id, day),
            ).fetchone()
            if row is None:
                return None
            move(db, row[0], "called", actor, stamp, desk=desk)
        return self.get(row[0])


def move(db, checkin_id: str, to_state: str, actor: str, stamp: Stamp, reason: str | None = None,
         desk: str | None = None) -> None:
    """One state change inside the caller's transaction (vaccination records move the queue in the same commit)."""
    current = db.conn.execute("SELECT state FROM tickets WHERE checkin_id=?", (checkin_id,)).fetchone()
    if current is None:
        raise CheckinRefused("not_found", checkin_id)
    if to_state not in TRANSITIONS[current[0]]:
        raise CheckinRefused("bad_transition", f"{current[0]} → {to_state}")
    db.conn.execute(
        "UPDATE tickets SET state=?, state_wall=?, desk=COALESCE(?, desk) WHERE checkin_id=?",
        (to_state, stamp.wall, desk, checkin_id),
    )
    _insert_state_change(db, checkin_id, current[0], to_state, actor, reason, stamp)
    sms_hooks.queue_moved(db, checkin_id, to_state, stamp)


def _insert_state_change(db, checkin_id, from_state, to_state, actor, reason, stamp: Stamp) -> None:
    db["state_changes"].insert({"checkin_id": checkin_id, "from_state": from_state, "to_state": to_state,
                                "actor": actor, "reason": reason, **stamp.as_columns("at")})


def checkin_record(row: dict, ticket: int) -> dict:
    """What central gets of a check-in: counts and timing, no personal data (it is not needed there)."""
    return {
        "schema": SCHEMA_VERSION,
        "type": "checkin",
        "record_id": row["id"],
        "site": row["site_id"],
        "kiosk": row["kiosk_id"],
        "day": row["day"],
        "ticket": ticket,
        "scan_kind": row["scan_kind"],
        "source": row["source"],
        "at": {"wall": row["created_wall"], "mono": row["created_mono"], "boot_id": row["created_boot_id"],
               "clock_synced": bool(row["created_clock_synced"])},
    }



SERVED = ("screened", "vaccinated", "observing", "done")


def queue_stats(store: Store, site_id: str, day: str, now_wall: str) -> dict:
    """The queue of a day in numbers, without personal data (published to central by the sync part)."""
    counts = store.query_one(
        f"""SELECT COALESCE(SUM(state = 'waiting'), 0) AS waiting, COALESCE(SUM(state = 'called'), 0) AS called,
                  COALESCE(SUM(state IN ({','.join('?' * len(SERVED))})), 0) AS served_today,
                  COALESCE(MAX(number), 0) AS last_ticket
           FROM tickets WHERE site_id = ? AND day = ?""", (*SERVED, site_id, day))
    waits = store.query_one(
        """SELECT AVG(wait) AS avg_wait_s FROM (
               SELECT (julianday(MIN(s.at_wall)) - julianday(c.created_wall)) * 86400 AS wait
               FROM checkins c JOIN state_changes s ON s.checkin_id = c.id AND s.to_state = 'called'
               WHERE c.site_id = ? AND c.day = ? GROUP BY c.id)""", (site_id, day))
    longest = store.query_one(
        """SELECT MAX((julianday(?) - julianday(c.created_wall)) * 86400) AS longest_wait_s
           FROM checkins c JOIN tickets t ON t.checkin_id = c.id
           WHERE c.site_id = ? AND c.day = ? AND t.state = 'waiting'""", (now_wall, site_id, day))
    return {**counts, "avg_wait_s": _rounded(waits["avg_wait_s"]),
            "longest_wait_s": _rounded(longest["longest_wait_s"])}


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(max(seconds, 0.0), 1)
