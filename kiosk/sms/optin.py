"""The number a citizen agreed to be texted at, after their check-in (table `sms_optins`): for that day only.

A number is kept with the check-in it was typed for and the moment the citizen agreed on the screen. It never leaves
the kiosk (nothing here writes the sync outbox), it is shown masked, and `purge` deletes it, with every text of the
day, once the day is over: the SMS part runs it at start and when the date changes. SQLite's secure_delete
overwrites the deleted rows, and a WAL checkpoint drops the old copies the log still had.
"""

from __future__ import annotations

import logging

from base.privacy import mask_phone
from kiosk import checkin
from kiosk.clock import Clock
from kiosk.sms import outbox
from kiosk.sms.numbers import SmsRefused, parse_mobile
from kiosk.store import Store

log = logging.getLogger("vaxkiosk.sms")

# One phone may take the texts of a family's check-ins; more than this on one day is someone else's number typed
# over and over (every opt-in would send texts to a stranger).
MAX_CHECKINS_PER_NUMBER = 5
# Texts are asked for while the citizen still waits to be called or is at the desk.
OPEN_STATES = ("waiting", "called")


def opt_in(store: Store, clock: Clock, checkin_id: str, typed_number: str, agreed: bool) -> dict:
    """Record today's opt-in of one check-in (a second one replaces the number); returns what the screen shows."""
    if agreed is not True:
        raise SmsRefused("consent_required")
    number = parse_mobile(typed_number)
    stamp = clock.stamp()
    today = clock.today().isoformat()
    # kiosk.sms.hooks reads the opt-ins (this module) to decide its texts: imported here, so that import is one-way.
    from kiosk.sms import hooks

    with store.transaction() as db:
        ticket = checkin.ticket_in(db, checkin_id)
        if ticket is None or ticket["day"] != today or ticket["released_wall"] is not None:
            raise SmsRefused("not_found")
        if ticket["state"] not in OPEN_STATES:
            raise SmsRefused("optin_closed", ticket["state"])
        others = db.conn.execute("SELECT count(*) FROM sms_optins WHERE number = ? AND day = ? AND checkin_id != ?",
                                 (number, today, checkin_id)).fetchone()[0]
        if others >= MAX_CHECKINS_PER_NUMBER:
            raise SmsRefused("phone_limit", mask_phone(number))
        db.conn.execute("INSERT OR REPLACE INTO sms_optins (checkin_id, site_id, day, number, agreed_wall) "
                        "VALUES (?, ?, ?, ?, ?)", (checkin_id, ticket["site_id"], today, number, stamp.wall))
        hooks.queue_changed(db, ticket["site_id"], today, stamp)  # already near the front: the first text goes now
    log.info("sms opt-in for ticket %s: %s", ticket["number"], mask_phone(number))
    return {"ticket": ticket["number"], "phone_masked": mask_phone(number)}


def number_for(db, checkin_id: str) -> str | None:
    row = db.conn.execute("SELECT number FROM sms_optins WHERE checkin_id = ?", (checkin_id,)).fetchone()
    return row[0] if row else None


def opted_in(db, checkin_id: str) -> bool:
    return number_for(db, checkin_id) is not None


def any_opt_in(db) -> bool:
    """Whether anyone opted in (a kiosk without SMS answers this with one index read per queue move)."""
    return db.conn.execute("SELECT 1 FROM sms_optins LIMIT 1").fetchone() is not None


def purge(store: Store, today: str) -> dict[str, int]:
    """Delete the numbers and texts of every day before `today` (local, YYYY-MM-DD)."""
    with store.transaction() as db:
        db.conn.execute("PRAGMA secure_delete = ON")
        counts = {"sms_optins": db.conn.execute("DELETE FROM sms_optins WHERE day < ?", (today,)).rowcount,
                  "sms_outbox": outbox.delete_before(db, today)}
    if any(counts.values()):
        # The WAL still holds the pages as they were before; a truncating checkpoint drops them (best effort: a
        # reader in another thread may keep the log until its next checkpoint).
        store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("sms purge before %s: %s", today, counts)
    return counts
