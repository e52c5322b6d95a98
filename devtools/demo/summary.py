"""Counting the demo: what each kiosk committed, what its virtual printer printed, what central holds.

The figures add up only when every path worked end to end: check-ins = tickets printed = check-ins at central =
tickets at central, vaccinations = certificates printed = vaccinations at central = certificates at central (people,
not printouts: receipts minus the kiosk's reprint jobs), reprints printed = reprints at central, texts marked sent = texts
the virtual modem took, nothing pending in the outbox, the print queue or the SMS outbox."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict, dataclass

from devtools.demo import texts
from devtools.demo.site import IN_QUEUE, CentralSetup, KioskSetup, kiosk_store
from kiosk import checkin, vaccination
from kiosk.outbox import Outbox
from kiosk.printing import jobs as print_jobs
from kiosk.sms.outbox import Outbox as SmsOutbox


@dataclass
class KioskCount:
    kiosk: str
    site: str
    checkins: int
    tickets_printed: int
    central_checkins: int | None
    vaccinations: int
    certificates_printed: int
    central_vaccinations: int | None
    central_certificates: int | None
    central_tickets: int | None
    tickets_reprinted: int
    certificates_reprinted: int
    central_ticket_reprints: int | None
    central_certificate_reprints: int | None
    in_queue: int  # waiting or between the desk and the end of observation
    outbox_pending: int
    print_jobs_open: int  # pending or printing
    print_jobs_failed: int
    texts_marked_sent: int  # the kiosk's SMS outbox
    texts_received: int  # whole texts the virtual modem took
    texts_open: int  # pending, sending, or uncertain (may have been sent)
    texts_failed: int

    def problems(self) -> list[str]:
        k = self.kiosk
        found = []
        if self.checkins == 0:
            found.append(f"{k}: no check-in at all (camera → decoder → check-in path broken?)")
        if not self.checkins == self.tickets_printed == self.central_checkins:
            found.append(f"{k}: check-ins {self.checkins}, tickets printed {self.tickets_printed}, "
                         f"at central {self.central_checkins}: they should be equal")
        if self.vaccinations == 0:
            found.append(f"{k}: nobody vaccinated (scripted staff desk failing?)")
        if not self.vaccinations == self.certificates_printed == self.central_vaccinations:
            found.append(f"{k}: vaccinations {self.vaccinations}, certificates printed {self.certificates_printed}, "
                         f"at central {self.central_vaccinations}: they should be equal")
        for what, printer, central in (
                ("certificates", self.certificates_printed, self.central_certificates),
                ("tickets", self.tickets_printed, self.central_tickets),
                ("certificate reprints", self.certificates_reprinted, self.central_certificate_reprints),
                ("ticket reprints", self.tickets_reprinted, self.central_ticket_reprints)):
            if central is not None and central != printer:
                found.append(f"{k}: central counts {central} {what}, the kiosk printed {printer}")
        for what, n in (("citizens still in the queue", self.in_queue), ("outbox entries not delivered to central",
                        self.outbox_pending), ("print jobs not finished", self.print_jobs_open),
                        ("print jobs failed", self.print_jobs_failed), ("texts not sent", self.texts_open),
                        ("texts refused", self.texts_failed)):
            if n:
                found.append(f"{k}: {n} {what}")
        if self.texts_marked_sent != self.texts_received:
            found.append(f"{k}: {self.texts_marked_sent} texts marked sent, the modem took {self.texts_received}")
        if self.texts_received == 0:
            found.append(f"{k}: no text sent at all (opt-in → SMS outbox → modem path broken?)")
        return found


def printed(kiosk: KioskSetup) -> tuple[int, int]:
    """(tickets, certificates) among the virtual printer's receipts, reprints included: a certificate carries an HC1:
    QR. (A reprint's banner is drawn as an image, so the receipts alone cannot tell copies apart: the kiosk's print
    jobs say how many were reprints.)"""
    tickets = certificates = 0
    for path in kiosk.printer_out.glob("receipt-*.json"):
        if '"HC1:' in path.read_text(encoding="utf-8"):
            certificates += 1
        else:
            tickets += 1
    return tickets, certificates


def central_sites(central: CentralSetup) -> dict[str, dict]:
    """GET /api/sites (open without login on loopback) → {site id: figures}; {} while central does not answer."""
    try:
        with urllib.request.urlopen(central.url + "/api/sites", timeout=10) as resp:
            return {row["site"]: row for row in json.load(resp)}
    except OSError:
        return {}


def count_kiosk(kiosk: KioskSetup, sites: dict[str, dict]) -> KioskCount:
    with kiosk_store(kiosk) as store:  # through the tables' owners, beside the running kiosk
        checkins, vaccinations = checkin.count(store), vaccination.count(store)
        in_queue = len(checkin.in_states(store, IN_QUEUE))
        outbox, _oldest = Outbox(store).backlog()
        jobs = print_jobs.counts(store)
        reprints = print_jobs.reprints_done(store)
        sms = SmsOutbox(store).counts()
    jobs_open, jobs_failed = jobs["pending"] + jobs["printing"], jobs["failed"]
    tickets, certificates = printed(kiosk)
    at_central = sites.get(kiosk.site.id, {})
    # People who got a paper = receipts − reprints; reprints are the kiosk's done jobs with copy ≥ 1.
    return KioskCount(kiosk.kiosk_id, kiosk.site.id, checkins, tickets - reprints["ticket"],
                      at_central.get("checked_in"), vaccinations, certificates - reprints["certificate"],
                      at_central.get("vaccinated"), at_central.get("certificates"), at_central.get("tickets"),
                      reprints["ticket"], reprints["certificate"], at_central.get("ticket_reprints"),
                      at_central.get("certificate_reprints"), in_queue, outbox, jobs_open, jobs_failed,
                      sms["sent"], len(texts.received(kiosk.modem_record)),
                      sms["pending"] + sms["sending"] + sms["uncertain"], sms["failed"])


def count_all(central: CentralSetup, kiosks: list[KioskSetup]) -> list[KioskCount]:
    sites = central_sites(central)
    return [count_kiosk(k, sites) for k in kiosks]


def problems(counts: list[KioskCount]) -> list[str]:
    return [p for c in counts for p in c.problems()]


def progress_line(counts: list[KioskCount]) -> str:
    return " | ".join(f"{c.kiosk}: {c.checkins} in, {c.vaccinations} vacc, {c.certificates_printed} certs, "
                      f"{c.in_queue} in queue; central {c.central_checkins}/{c.central_vaccinations}"
                      for c in counts)


def table(counts: list[KioskCount]) -> str:
    rows = [("", *[c.kiosk for c in counts])]
    labels = [("check-ins committed", "checkins"), ("tickets printed", "tickets_printed"),
              ("check-ins at central", "central_checkins"), ("vaccinations", "vaccinations"),
              ("certificates printed", "certificates_printed"), ("vaccinations at central", "central_vaccinations"),
              ("certificates at central", "central_certificates"), ("tickets at central", "central_tickets"),
              ("ticket reprints printed", "tickets_reprinted"), ("ticket reprints at central", "central_ticket_reprints"),
              ("certificate reprints printed", "certificates_reprinted"),
              ("certificate reprints at central", "central_certificate_reprints"), ("still in queue", "in_queue"),
              ("outbox not delivered", "outbox_pending"), ("print jobs open", "print_jobs_open"),
              ("print jobs failed", "print_jobs_failed"), ("texts marked sent", "texts_marked_sent"),
              ("texts the modem took", "texts_received"), ("texts not sent", "texts_open")]
    for label, key in labels:
        rows.append((label, *[str(getattr(c, key)) for c in counts]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def as_json(counts: list[KioskCount]) -> list[dict]:
    return [asdict(c) for c in counts]


def texts_json(kiosks: list[KioskSetup]) -> dict[str, list[dict]]:
    return {k.kiosk_id: [asdict(t) for t in texts.received(k.modem_record)] for k in kiosks}


def texts_listing(kiosks: list[KioskSetup], per_kiosk: int = 8) -> str:
    """The texts each site would have sent (numbers masked), the first few of each kiosk."""
    lines = []
    for k in kiosks:
        sent = texts.received(k.modem_record)
        lines.append(f"Texts from {k.kiosk_id} ({len(sent)}, {k.site.sms_encoding}):")
        lines += [f"  {t.number}  [{t.parts} part{'s' if t.parts > 1 else ''}]  {t.text}" for t in sent[:per_kiosk]]
        if len(sent) > per_kiosk:
            lines.append(f"  ... {len(sent) - per_kiosk} more in summary.json")
    return "\n".join(lines)
