"""A print job row → the ESC/POS bytes for it, reading what the layout needs from the store at print time.

Tickets are built from the checkins/tickets rows (the wait estimate is therefore current when the ticket prints);
certificates from `kiosk.certificates.certificate_view(store, vaccination_id)`, owned by the certificate module.
"""

from __future__ import annotations

import datetime as dt

from base.privacy import mask_id
from kiosk.printing import layouts
from kiosk.printing.receipt import to_escpos
from kiosk.store import Store

AHEAD_STATES = ("waiting", "called")


class Unprintable(Exception):
    """This job can never be printed as it stands (its record is missing, its layout cannot be built)."""


def ticket_view(store: Store, checkin_id: str, copy: int, site_name: str, minutes_per_person: float,
                tz: dt.tzinfo) -> layouts.TicketView:
    row = store.query_one(
        "SELECT c.site_id, c.day, c.full_name, c.id_number, c.created_wall, t.number "
        "FROM checkins c JOIN tickets t ON t.checkin_id = c.id WHERE c.id=?", (checkin_id,))
    if row is None:
        raise Unprintable(f"check-in {checkin_id} not found")
    ahead = store.query_one(
        f"SELECT count(*) AS n FROM tickets WHERE site_id=? AND day=? AND number<? "
        f"AND state IN ({','.join('?' * len(AHEAD_STATES))})",
        (row["site_id"], row["day"], row["number"], *AHEAD_STATES))["n"]
    return layouts.TicketView(
        site_name=site_name,
        number=row["number"],
        checked_in=dt.datetime.fromisoformat(row["created_wall"]).astimezone(tz),
        full_name=row["full_name"] or "",
        masked_id=mask_id(row["id_number"]),
        people_ahead=ahead,
        wait_minutes=round(ahead * minutes_per_person),
        copy=copy,
    )


def render_job(store: Store, job: dict, config, clock) -> bytes:
    """`clock` (kiosk.clock.Clock): the local time zone of the ticket, the signing time of a certificate."""
    printer = config.printer
    if job["kind"] == "ticket":
        view = ticket_view(store, job["checkin_id"], job["copy"], config.kiosk.site_name,
                           printer.minutes_per_person, clock.tz)
        receipt = layouts.ticket(view, printer.profile, printer.paper_mm)
    elif job["kind"] == "certificate":
        try:
            from kiosk.certificates import certificate_view
        except ImportError as exc:
            raise Unprintable(f"certificates are not available in this build: {exc}") from exc
        try:
            view = certificate_view(store, job["subject_id"], now=clock.now())
        except Exception as exc:  # noqa: BLE001 - record missing, key unreadable...: this job cannot print as is
            raise Unprintable(f"certificate of vaccination {job['subject_id']} cannot be built: {exc}") from exc
        receipt = layouts.certificate(view, printer.profile, printer.paper_mm, copy=job["copy"])
    else:
        raise Unprintable(f"unknown print job kind {job['kind']!r}")
    return to_escpos(receipt)
