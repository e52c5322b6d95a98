"""A print job row → the ESC/POS bytes for it, reading what the layout needs from the store at print time.

Tickets are built from the check-in and its ticket (kiosk.checkin; the wait estimate is therefore current when the
ticket prints); certificates from `kiosk.certificates.certificate_view(store, vaccination_id)`.
"""

from __future__ import annotations

import datetime as dt

from base.privacy import mask_id
from kiosk import checkin
from kiosk.certificates import certificate_view
from kiosk.printing import layouts
from kiosk.printing.receipt import to_escpos
from kiosk.store import Store

AHEAD_STATES = ("waiting", "called")


class Unprintable(Exception):
    """This job can never be printed as it stands (its record is missing, its layout cannot be built)."""


def ticket_view(store: Store, checkin_id: str, copy: int, site_name: str, minutes_per_person: float,
                tz: dt.tzinfo) -> layouts.TicketView:
    row = checkin.get(store, checkin_id)
    if row is None:
        raise Unprintable(f"check-in {checkin_id} not found")
    ahead = checkin.people_ahead(store, row["site_id"], row["day"], row["number"], AHEAD_STATES)
    return layouts.TicketView(
        site_name=site_name,
        number=row["number"],
        checked_in=dt.datetime.fromisoformat(row["created_wall"]).astimezone(tz),
        full_name=row["full_name"] or "",
        masked_id=mask_id(row["id_number"]),
        people_ahead=ahead,
        wait_minutes=round(ahead * minutes_per_person),
        copy=copy,
        state=row["state"] or "waiting",
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
            view = certificate_view(store, job["subject_id"], job["copy"], now=clock.now())
        except Exception as exc:  # noqa: BLE001 - record missing, key unreadable...: this job cannot print as is
            raise Unprintable(f"certificate of vaccination {job['subject_id']} cannot be built: {exc}") from exc
        receipt = layouts.certificate(view, printer.profile, printer.paper_mm, copy=job["copy"])
    else:
        raise Unprintable(f"unknown print job kind {job['kind']!r}")
    return to_escpos(receipt)
