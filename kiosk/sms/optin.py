"""The number a citizen agreed to be texted at, after their check-in (table `sms_optins`): for that day only.

A number is kept with the check-in it was typed for and the moment the citizen agreed on the screen. It never leaves
the kiosk (nothing here writes the sync outbox), it is shown masked, and `purge` deletes it, with every text of the
day, once the day is over: the SMS part runs it at start and when the date changes. SQLite's secure_delete
overwrites the deleted rows, and a WAL checkpoint drops the old copies the log still had.
"""

from __future__ import annotations

import logging

from kiosk.clock import Clock
from kiosk.sms import hooks
from kiosk.sms.numbers import SmsRefused, mask_phone, parse_mobile
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
    with store.transaction() as db:
        row = db.conn.execute(
            "SELECT c.site_id, c.day, c.released_wall, t.state, t.number FROM checkins c "
            "JOIN tickets t ON t.checkin_id = c.id WHERE c.id = ?", (checkin_id,)).fetchone()
        if row is None or row[1] != today or row[2] is not None:
            raise SmsRefused("not_found")
        if row[3] not in OPEN_STATES:
            raise SmsRefused("optin_closed", row[3])
        others = db.conn.execute("SELECT count(*) FROM sms_optins WHERE number = ? AND day = ? AND checkin_id != ?",
                                 (number, today, checkin_id)).fetchone()[0]
        if others >= MAX_CHECKINS_PER_NUMBER:
            raise SmsRefused("phone_limit", mask_phone(number))
        db.conn.execute("INSERT OR REPLACE INTO sms_optins (checkin_id, site_id, day, number, agreed_wall) "
                        "VALUES (?, ?, ?, ?, ?)", (checkin_id, row[0], today, number, stamp.wall))
        hooks.queue_changed(db, row[0], today, stamp)  # already near the front: the first text goes now
    log.info("sms opt-in for ticket %s: %s", row[4], mask_phone(number))
    return {"ticket": row[4], "phone_masked": mask_phone(number)}


def number_for(db, checkin_id: str) -> str | None:
    row = db.conn.execute("SELECT number FROM sms_optins WHERE checkin_id = ?", (checkin_id,)).fetchone()
    return row[0] if row else None


def purge(store: Store, today: str) -> dict[str, int]:
    """Delete the numbers and texts of every day before `today` (local, YYYY-MM-DD)."""
    with store.transaction() as db:
        db.conn.execute("PRAGMA secure_delete = ON")
        counts = {"sms_optins": db.conn.execute("DELETE FROM sms_optins WHERE day < ?", (today,)).rowcount,
                  "sms_outbox": db.conn.execute("DELETE FROM sms_outbox WHERE day < ?", (today,)).rowcount}
    if any(counts.values()):
        # The WAL still holds the pages as they were before; a truncating checkpoint drops them (best effort: a
        # reader in another thread may keep the log until its next checkpoint).
        store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("sms purge before %s: %s", today, counts)
    return counts
