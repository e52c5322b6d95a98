"""A print job row → the ESC/POS bytes for it, reading what the layout needs from the store at print time.

Tickets are built from the check-in and its ticket (kiosk.checkin; the wait estimate is therefore current when the
ticket prints); certificates from `kiosk.certificates.certificate_view(store, vaccination_id)`; correction slips from
the request (kiosk.corrections, subject_id = its id).
"""

from __future__ import annotations

import datetime as dt
import json

from base.corrections import KIND_WORDS, about_words, show_reference
from base.privacy import mask_id
from kiosk import checkin, corrections
from kiosk.certificates import certificate_view
from kiosk.printing import layouts
from kiosk.printing.receipt import to_escpos
from kiosk.store import Store
from kiosk.vaccines import VACCINES

AHEAD_STATES = ("waiting", "called")


class Unprintable(Exception):
    """This job can never be printed as it stands (its record is missing, its layout cannot be built)."""


def ticket_view(store: Store, checkin_id: str, copy: int, site_name: str, minutes_per_person: float,
                now: dt.datetime, tz: dt.tzinfo) -> layouts.TicketView:
    """The wait is the people ahead × the queue's measured pace (the display's figure, kiosk.checkin.minutes_per_call),
    `minutes_per_person` until enough calls have been made today to measure it."""
    row = checkin.get(store, checkin_id)
    if row is None:
        raise Unprintable(f"check-in {checkin_id} not found")
    ahead = checkin.people_ahead(store, row["site_id"], row["day"], row["number"], AHEAD_STATES)
    pace = checkin.minutes_per_call(store, row["site_id"], row["day"], now, minutes_per_person)
    return layouts.TicketView(
        site_name=site_name,
        number=row["number"],
        checked_in=dt.datetime.fromisoformat(row["created_wall"]).astimezone(tz),
        full_name=row["full_name"] or "",
        masked_id=mask_id(row["id_number"]),
        people_ahead=ahead,
        wait_minutes=round(ahead * pace),
        copy=copy,
        state=row["state"] or "waiting",
    )


def correction_slip_view(store: Store, correction_id: str, site_name: str,
                         tz: dt.tzinfo) -> layouts.CorrectionSlipView:
    row = corrections.get(store, correction_id)
    if row is None or not row["reference"]:
        raise Unprintable(f"correction {correction_id} not found")
    about = json.loads(row["about"] or "{}")
    return layouts.CorrectionSlipView(
        site_name=site_name, reference=show_reference(row["reference"]),
        filed=dt.datetime.fromisoformat(row["filed_wall"]).astimezone(tz),
        answer_by=dt.datetime.fromisoformat(row["deadline_wall"]).astimezone(tz),
        masked_id=mask_id(row["id_number"]), kind=KIND_WORDS.get(row["kind"], (row["kind"], row["kind"])),
        about=about_words({"kind": row["kind"], **about}, {row["site_id"]: site_name},
                          {code: v.name for code, v in VACCINES.items()}))


def render_job(store: Store, job: dict, config, clock) -> bytes:
    """`clock` (kiosk.clock.Clock): the local time zone of the ticket, the signing time of a certificate."""
    printer = config.printer
    if job["kind"] == "ticket":
        view = ticket_view(store, job["checkin_id"], job["copy"], config.kiosk.site_name,
                           printer.minutes_per_person, clock.now(), clock.tz)
        receipt = layouts.ticket(view, printer.profile, printer.paper_mm)
    elif job["kind"] == "certificate":
        try:
            view = certificate_view(store, job["subject_id"], job["copy"], now=clock.now())
        except Exception as exc:  # noqa: BLE001 - record missing, key unreadable...: this job cannot print as is
            raise Unprintable(f"certificate of vaccination {job['subject_id']} cannot be built: {exc}") from exc
        receipt = layouts.certificate(view, printer.profile, printer.paper_mm, copy=job["copy"])
    elif job["kind"] == "correction":
        view = correction_slip_view(store, job["subject_id"], config.kiosk.site_name, clock.tz)
        receipt = layouts.correction_slip(view, printer.profile, printer.paper_mm)
    else:
        raise Unprintable(f"unknown print job kind {job['kind']!r}")
    return to_escpos(receipt)
