"""When to text: one call inside the transaction of the event that causes the message (the transactional outbox).

- `queue_moved`, from kiosk.checkin.move (every queue state change): "come to desk N now" when a ticket is called,
  and "N people before you" to each waiting ticket that has come to AHEAD or fewer people from the front;
- `dose_recorded`, from kiosk.vaccination's injection: the dose, its certificate identifier (UVCI), the next dose's
  date when the vaccine's schedule has one, and the hint to check the health-book app.
Only check-ins with an opt-in get texts; without one (or without an SMS part, which is what lets a citizen opt in)
these calls read one row and write nothing.
"""

from __future__ import annotations

import datetime as dt

from base.records import Stamp
from kiosk.sms import outbox
from kiosk.vaccines import VACCINES, next_dose_date

# "Your number is 3 away": texted once, when a waiting ticket first has this many people (or fewer) before it.
AHEAD = 3


def queue_moved(db, checkin_id: str, to_state: str, stamp: Stamp) -> None:
    if db.conn.execute("SELECT 1 FROM sms_optins LIMIT 1").fetchone() is None:
        return
    ticket = db.conn.execute("SELECT site_id, day, number, desk FROM tickets WHERE checkin_id = ?",
                             (checkin_id,)).fetchone()
    if ticket is None:
        return
    site_id, day, number, desk = ticket
    if to_state == "called" and _opted_in(db, checkin_id):
        outbox.enqueue(db, checkin_id, day, "called", {"ticket": number, "desk": desk or ""}, stamp)
    queue_changed(db, site_id, day, stamp)


def queue_changed(db, site_id: str, day: str, stamp: Stamp) -> None:
    """Text each opted-in waiting ticket that now has 1 to AHEAD people before it, once per check-in."""
    waiting = db.conn.execute(
        "SELECT t.checkin_id, t.number, o.checkin_id IS NOT NULL FROM tickets t "
        "LEFT JOIN sms_optins o ON o.checkin_id = t.checkin_id "
        "WHERE t.site_id = ? AND t.day = ? AND t.state = 'waiting' ORDER BY t.number LIMIT ?",
        (site_id, day, AHEAD + 1)).fetchall()
    for ahead, (checkin_id, number, opted_in) in enumerate(waiting):
        if 1 <= ahead <= AHEAD and opted_in:
            outbox.enqueue(db, checkin_id, day, "soon", {"ticket": number, "ahead": ahead}, stamp)


def dose_recorded(db, vaccination: dict, stamp: Stamp) -> None:
    checkin_id = vaccination["checkin_id"]
    if not _opted_in(db, checkin_id):
        return
    day = db.conn.execute("SELECT day FROM checkins WHERE id = ?", (checkin_id,)).fetchone()[0]
    vaccine = VACCINES.get(vaccination["vaccine"])
    given = dt.date.fromisoformat(day)
    following = next_dose_date(vaccine, vaccination["dose_number"], given) if vaccine else None
    outbox.enqueue(db, checkin_id, day, "dose", {
        "dose": vaccination["dose_number"],
        "vaccine": vaccine.name.split(" (")[0] if vaccine else vaccination["vaccine"],  # "Comirnaty", not its maker
        "date": given.isoformat(),
        "uvci": vaccination["uvci"],
        "next_date": following.isoformat() if following else None,
    }, stamp)


def _opted_in(db, checkin_id: str) -> bool:
    return db.conn.execute("SELECT 1 FROM sms_optins WHERE checkin_id = ?", (checkin_id,)).fetchone() is not None
