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
from kiosk import checkin
from kiosk.sms import optin, outbox
from kiosk.vaccines import VACCINES, next_dose_date

# "Your number is 3 away": texted once, when a waiting ticket first has this many people (or fewer) before it.
AHEAD = 3


def queue_moved(db, checkin_id: str, to_state: str, stamp: Stamp) -> None:
    if not optin.any_opt_in(db):
        return
    ticket = checkin.ticket_in(db, checkin_id)
    if ticket is None:
        return
    if to_state == "called" and optin.opted_in(db, checkin_id):
        outbox.enqueue(db, checkin_id, ticket["day"], "called", {"ticket": ticket["number"],
                                                                "desk": ticket["desk"] or ""}, stamp)
    queue_changed(db, ticket["site_id"], ticket["day"], stamp)


def queue_changed(db, site_id: str, day: str, stamp: Stamp) -> None:
    """Text each opted-in waiting ticket that now has 1 to AHEAD people before it, once per check-in."""
    waiting = checkin.front_of_queue(db, site_id, day, AHEAD + 1)
    for ahead, (checkin_id, number) in enumerate(waiting):
        if 1 <= ahead <= AHEAD and optin.opted_in(db, checkin_id):
            outbox.enqueue(db, checkin_id, day, "soon", {"ticket": number, "ahead": ahead}, stamp)


def dose_recorded(db, vaccination: dict, stamp: Stamp) -> None:
    checkin_id = vaccination["checkin_id"]
    if not optin.opted_in(db, checkin_id):
        return
    day = checkin.row(db, checkin_id)["day"]
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
