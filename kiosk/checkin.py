"""Check-in rules: one check-in per person per site per day, ticket numbers, the queue's state machine.

A check-in is one SQLite transaction that writes the record, its ticket, its first state change, its outbox entry
and its print job (and, for a typed entry, the flag that makes staff see the card: kiosk.verification). There is
never a check-in without its outbox entry or its ticket print job, and the function returns only after the commit is
durable: only then may a screen tell the citizen that it worked.

This module owns the tables checkins, tickets and state_changes: every other module reads them through the
functions here (`get`, `visits_by_number`, `people_ahead`, `now_serving`, `Visits`, ...).

An entry for a number that already holds a check-in today gets that check-in only if it is the same person (name and
birth date, kiosk.verification.Verification.admit); otherwise it is refused and the check-in is flagged. Staff who
find that a check-in is not the card holder's release it, and the number is free for the holder to check in.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from dataclasses import dataclass

from base.records import Stamp, record
from base.refusal import Refusal
from drivers import system
from kiosk import audit, verification
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.identity import Identity
from kiosk.outbox import enqueue
from kiosk.printing import jobs as print_jobs
from kiosk.sms import hooks as sms_hooks
from kiosk.store import Store

STATES = ("waiting", "called", "screened", "vaccinated", "observing", "done", "deferred", "left")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "waiting": ("called", "deferred", "left"),
    # called → called is a recall: the same number announced again (its state change says so: reason "recall").
    "called": ("called", "waiting", "screened", "deferred", "left"),
    "screened": ("vaccinated", "deferred", "left"),
    "vaccinated": ("observing",),
    "observing": ("done",),
    "done": (),
    "deferred": (),
    "left": (),
}
SOURCES = ("camera", "serial", "screen", "staff")
# Reasons of the desk's two queue actions on a called number (state_changes.reason).
RECALL, NO_SHOW = "recall", "no_show"

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


class Visits:
    """What kiosk.verification reads of the check-ins, inside its own transactions (`db`)."""

    @staticmethod
    def holders(db, site_id: str, id_number: str, except_id: str) -> list[dict]:
        """Name and birth date of the other check-ins holding this number here."""
        return [dict(r) for r in db.conn.execute(
            "SELECT full_name, dob FROM checkins WHERE site_id=? AND id_number=? AND id<>? AND released_wall IS NULL",
            (site_id, id_number, except_id))]

    @staticmethod
    def of_number(db, site_id: str, id_number: str) -> list[dict]:
        """Every check-in of this number here, oldest first, with its ticket number."""
        return [dict(r) for r in db.conn.execute(
            "SELECT c.id, c.full_name, c.dob, c.day, t.number FROM checkins c JOIN tickets t ON t.checkin_id=c.id"
            " WHERE c.site_id=? AND c.id_number=? ORDER BY c.created_wall", (site_id, id_number))]

    @staticmethod
    def number_of(db, checkin_id: str) -> str | None:
        return number_of(db, checkin_id)


class CheckinService:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock or Clock(settings.utc_offset_hours)
        self.verification = verification.Verification(store, settings, self.clock, Visits)

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
                print_jobs.add(db, "ticket", checkin_id, stamp)
                verification.flag_new_checkin(db, checkin_id, identity, source, self.settings, stamp,
                                              Visits.holders(db, row["site_id"], identity.id_number, checkin_id))
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
        return get(self.store, checkin_id)

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

    def search(self, q: str, limit: int) -> list[dict]:
        """The staff desk's search box: a ticket number of today (up to five digits), part of an ID number, or part
        of a name (`fold`: case, accents and đ do not matter); newest day first."""
        base = TICKET_QUERY + " WHERE c.site_id=? "
        site = self.settings.site_id
        if q.isdigit() and len(q) <= 5:
            return self.store.query(base + "AND t.number=? AND c.day=? ", (site, int(q), self.clock.today().isoformat()))
        if q.isdigit():
            return self.store.query(base + "AND c.id_number LIKE ? ORDER BY c.day DESC LIMIT ?", (site, f"%{q}%", limit))
        wanted = fold(q)
        rows = self.store.query(base + "ORDER BY c.day DESC, t.number", (site,))
        return [r for r in rows if wanted in fold(r["full_name"] or "")][:limit]

    def recall(self, checkin_id: str, actor: str) -> dict:
        """Announce a called number again at its desk (an audited state change called → called)."""
        return self._from_called(checkin_id, "called", actor, RECALL)

    def no_show(self, checkin_id: str, actor: str) -> dict:
        """A called number that nobody answered leaves the queue (called → left, reason "no_show")."""
        return self._from_called(checkin_id, "left", actor, NO_SHOW)

    def _from_called(self, checkin_id: str, to_state: str, actor: str, reason: str) -> dict:
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            current = db.conn.execute("SELECT state FROM tickets WHERE checkin_id=?", (checkin_id,)).fetchone()
            if current is None:
                raise CheckinRefused("not_found", checkin_id)
            if current[0] != "called":
                raise CheckinRefused("bad_transition", f"{current[0]} is not called")
            move(db, checkin_id, to_state, actor, stamp, reason=reason)
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


def get(store: Store, checkin_id: str) -> dict | None:
    """A check-in with its ticket (number, state, desk, state_wall)."""
    return store.query_one(TICKET_QUERY + " WHERE c.id=?", (checkin_id,))


def row(db, checkin_id: str) -> dict | None:
    """A check-in's own row, inside the caller's transaction."""
    found = db.conn.execute("SELECT * FROM checkins WHERE id=?", (checkin_id,)).fetchone()
    return dict(found) if found else None


def ticket_in(db, checkin_id: str) -> dict | None:
    """A check-in with its ticket (number, state, desk), inside the caller's transaction."""
    found = db.conn.execute(TICKET_QUERY + " WHERE c.id=?", (checkin_id,)).fetchone()
    return dict(found) if found else None


def front_of_queue(db, site_id: str, day: str, count: int) -> list[tuple[str, int]]:
    """(check-in, ticket number) of the first `count` waiting tickets of a site's day, front first."""
    return [(r[0], r[1]) for r in db.conn.execute(
        "SELECT checkin_id, number FROM tickets WHERE site_id=? AND day=? AND state='waiting' ORDER BY number LIMIT ?",
        (site_id, day, count))]

def number_of(db, checkin_id: str) -> str | None:
    found = db.conn.execute("SELECT id_number FROM checkins WHERE id=?", (checkin_id,)).fetchone()
    return found[0] if found else None


def place_of(store: Store, checkin_id: str) -> dict | None:
    """The site and kiosk a check-in was made at (a print event of its tickets says so), or None once it is gone."""
    return store.query_one("SELECT site_id, kiosk_id FROM checkins WHERE id=?", (checkin_id,))


def visits_by_number(store: Store, id_number: str) -> dict[str, dict]:
    """checkin id → the check-in (id, day, full_name, dob, id_number, site_id) for every visit of this number."""
    return {r["id"]: r for r in store.query(
        "SELECT id, day, full_name, dob, id_number, site_id FROM checkins WHERE id_number=?", (id_number,))}


def people_ahead(store: Store, site_id: str, day: str, number: int, states: tuple[str, ...]) -> int:
    """Tickets of that day before `number` that are in one of `states`."""
    return store.query_one(
        f"SELECT count(*) AS n FROM tickets WHERE site_id=? AND day=? AND number<? "
        f"AND state IN ({','.join('?' * len(states))})", (site_id, day, number, *states))["n"]


# The states in which a citizen is still at the desk that called them: past these, the desk serves nobody.
AT_DESK = ("called", "screened", "vaccinated")


def now_serving(store: Store, site_id: str, day: str) -> dict[str, int]:
    """desk → the ticket it serves now: the latest number called to it that day whose holder is still at the desk
    (the waiting-room display); a desk whose last citizen went to observation, finished or left serves nobody."""
    calls = store.query(
        "SELECT t.desk, t.number, MAX(s.at_wall) AS called_at FROM tickets t "
        "JOIN state_changes s ON s.checkin_id = t.checkin_id AND s.to_state = 'called' "
        f"WHERE t.site_id=? AND t.day=? AND t.desk IS NOT NULL AND t.state IN ({','.join('?' * len(AT_DESK))}) "
        "GROUP BY t.checkin_id",
        (site_id, day, *AT_DESK))
    serving: dict[str, int] = {}
    for call in sorted(calls, key=lambda c: c["called_at"]):
        serving[call["desk"]] = call["number"]
    return serving


# The pace of the queue is measured over the last calls of the past hour, once there are enough of them.
PACE_CALLS, PACE_MIN_CALLS, PACE_WINDOW = 10, 4, dt.timedelta(hours=1)


def minutes_per_call(store: Store, site_id: str, day: str, now: dt.datetime, default: float) -> float:
    """How long the queue takes per person now: the mean gap between the first calls of the latest check-ins
    (at most PACE_CALLS within PACE_WINDOW, at least PACE_MIN_CALLS), else `default` (the minutes per person the
    ticket's estimate uses)."""
    rows = store.query(
        "SELECT MIN(s.at_wall) AS called_at FROM state_changes s JOIN tickets t ON t.checkin_id = s.checkin_id "
        "WHERE t.site_id=? AND t.day=? AND s.to_state='called' GROUP BY s.checkin_id", (site_id, day))
    calls = sorted(t for t in (dt.datetime.fromisoformat(r["called_at"]) for r in rows) if now - t <= PACE_WINDOW)
    calls = calls[-PACE_CALLS:]
    if len(calls) < PACE_MIN_CALLS:
        return default
    return (calls[-1] - calls[0]).total_seconds() / 60 / (len(calls) - 1)


def count(store: Store) -> int:
    return store.query_one("SELECT count(*) AS n FROM checkins")["n"]


def in_states(store: Store, states: tuple[str, ...]) -> list[str]:
    """The check-ins, of any day, whose ticket is in one of `states`."""
    return [r["checkin_id"] for r in store.query(
        f"SELECT checkin_id FROM tickets WHERE state IN ({','.join('?' * len(states))})", states)]


def last_known_time(store: Store) -> dt.datetime | None:
    """The latest wall time this kiosk ever recorded: the clock's floor after a boot without a real-time clock."""
    found = store.query_one("SELECT MAX(at_wall) AS wall FROM state_changes")
    return dt.datetime.fromisoformat(found["wall"]) if found and found["wall"] else None


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a Vietnamese name (đ counts as d)."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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
    return record("checkins", row["id"], row["site_id"], row["kiosk_id"], Stamp.from_columns(row, "created"),
                  day=row["day"], ticket=ticket, scan_kind=row["scan_kind"], source=row["source"])



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


def queue_call(db, checkin_id: str) -> dict:
    """When the citizen was first called, and to which desk: central's wait time (check-in → called) and desk
    throughput. {} if the ticket was never called (a desk may vaccinate without calling)."""
    row = db.conn.execute(
        "SELECT t.desk, s.at_wall, s.at_mono, s.at_boot_id, s.at_clock_synced FROM tickets t "
        "LEFT JOIN state_changes s ON s.checkin_id = t.checkin_id AND s.to_state = 'called' "
        "WHERE t.checkin_id = ? ORDER BY s.id LIMIT 1", (checkin_id,)).fetchone()
    if row is None:
        return {}
    call = {"desk": row["desk"]} if row["desk"] else {}
    if row["at_wall"] is not None:
        call["called"] = Stamp.from_columns(dict(row), "at").to_json()
    return call
