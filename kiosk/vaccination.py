"""Screening, injection and observation: the vaccination record of one dose.

Each step is one transaction that moves the queue, writes the record, its audit entry and (for the injection) its
outbox entry, so the record reaches central exactly once. Finishing the observation queues the certificate print job.
Neither screening nor an injection starts while the check-in waits for staff to see the card (kiosk.verification).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from base.records import Stamp, record
from base.refusal import Refusal
from kiosk import audit, checkin
from kiosk.checkin import CheckinRefused, move
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.outbox import enqueue
from kiosk.printing import jobs as print_jobs
from kiosk.sms import hooks as sms_hooks
from kiosk.store import Store
from kiosk.vaccines import MAX_DOSES, TARGET_DISEASE, VACCINES
from kiosk.verification import require_card_seen

SCREENING_OUTCOMES = ("eligible", "postponed", "referred")
MAX_LOT_CHARS = 40
MAX_PERSON_CHARS = 80

INPUT_ERRORS = {
    "unknown_vaccine": ("Vắc xin không có trong danh mục.", "This vaccine is not in the list."),
    "bad_lot": ("Số lô không hợp lệ.", "The lot number is not valid."),
    "bad_dose_number": (f"Mũi tiêm phải từ 1 đến {MAX_DOSES}.", f"The dose number must be 1 to {MAX_DOSES}."),
    "bad_vaccinator": ("Cần tên người tiêm.", "The vaccinator's name is needed."),
    "bad_outcome": ("Kết quả khám sàng lọc không hợp lệ.", "The screening outcome is not valid."),
    "reason_required": ("Cần ghi lý do.", "A reason is required."),
    "observation_not_over": ("Chưa đủ thời gian theo dõi sau tiêm.", "The observation period is not over yet."),
    "not_vaccinated": ("Lượt này chưa có mũi tiêm.", "No injection is recorded for this check-in."),
}


class VaccinationInputError(Refusal):
    """A staff form value that cannot be recorded."""

    MESSAGES = INPUT_ERRORS


@dataclass(frozen=True)
class Injection:
    vaccine: str
    lot: str
    dose_number: int
    vaccinator: str

    def validated(self) -> "Injection":
        if self.vaccine not in VACCINES:
            raise VaccinationInputError("unknown_vaccine", repr(self.vaccine))
        lot = "".join(str(self.lot).split()).upper()  # "fk 1234" as typed from a vial label is FK1234
        if not lot or len(lot) > MAX_LOT_CHARS or not all(c.isalnum() or c in "-/." for c in lot):
            raise VaccinationInputError("bad_lot")
        if not isinstance(self.dose_number, int) or not 1 <= self.dose_number <= MAX_DOSES:
            raise VaccinationInputError("bad_dose_number")
        vaccinator = " ".join(str(self.vaccinator).split())
        if not vaccinator or len(vaccinator) > MAX_PERSON_CHARS:
            raise VaccinationInputError("bad_vaccinator")
        return Injection(self.vaccine, lot, self.dose_number, vaccinator)


class VaccinationService:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock or Clock(settings.utc_offset_hours)

    def record_screening(self, checkin_id: str, outcome: str, actor: str, reason: str | None = None) -> None:
        if outcome not in SCREENING_OUTCOMES:
            raise VaccinationInputError("bad_outcome", repr(outcome))
        reason = (reason or "").strip() or None
        if outcome != "eligible" and not reason:
            raise VaccinationInputError("reason_required")
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            require_card_seen(db, checkin_id)
            move(db, checkin_id, "screened" if outcome == "eligible" else "deferred", actor, stamp, reason=reason)
            db["screenings"].insert({"checkin_id": checkin_id, "outcome": outcome, "reason": reason,
                                     "actor": actor, "at_wall": stamp.wall})
            audit.record(db, actor, f"screening:{outcome}", checkin_id, reason, stamp=stamp)

    def record_injection(self, checkin_id: str, injection: Injection, actor: str) -> dict:
        """screened → vaccinated → observing, with the record and its outbox entry, in one commit."""
        injection = injection.validated()
        vaccine = VACCINES[injection.vaccine]
        stamp = self.clock.stamp()
        vaccination_id = uuid.uuid4().hex
        observation_until = (dt.datetime.fromisoformat(stamp.wall)
                             + dt.timedelta(minutes=self.settings.observation_minutes))
        with self.store.transaction() as db:
            person = checkin.row(db, checkin_id)
            if person is None:
                raise CheckinRefused("not_found", checkin_id)
            require_card_seen(db, checkin_id)
            screening = db.conn.execute(
                "SELECT outcome FROM screenings WHERE checkin_id=? ORDER BY id DESC LIMIT 1", (checkin_id,)
            ).fetchone()
            move(db, checkin_id, "vaccinated", actor, stamp)
            move(db, checkin_id, "observing", actor, stamp)
            row = {
                "id": vaccination_id,
                "checkin_id": checkin_id,
                "site_id": self.settings.site_id,
                "site_name": self.settings.site_name,
                "kiosk_id": self.settings.kiosk_id,
                "dose_number": injection.dose_number,
                "vaccine": vaccine.code,
                "product": vaccine.product,
                "manufacturer": vaccine.manufacturer,
                "vaccine_type": vaccine.vaccine_type,
                "lot": injection.lot,
                "vaccinator": injection.vaccinator,
                "screening_outcome": screening[0] if screening else "eligible",
                "uvci": make_uvci(self.settings.site_id, vaccination_id),
                **stamp.as_columns("administered"),
                "observation_until": observation_until.isoformat(timespec="milliseconds"),
            }
            db["vaccinations"].insert(row)
            enqueue(db, "vaccinations", vaccination_record(row, person, checkin.queue_call(db, checkin_id)), stamp)
            sms_hooks.dose_recorded(db, row, stamp)
            audit.record(db, actor, "injection", checkin_id, None,
                         {"vaccination_id": vaccination_id, "vaccine": vaccine.code, "lot": injection.lot,
                          "dose": injection.dose_number}, stamp=stamp)
        return self.get(vaccination_id)

    def finish(self, checkin_id: str, actor: str, early_reason: str | None = None) -> dict:
        """observing → done; queues the certificate print job. Early only with a reason (audited)."""
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            vac = db.conn.execute("SELECT id, observation_until FROM vaccinations WHERE checkin_id=?",
                                  (checkin_id,)).fetchone()
            if vac is None:
                raise VaccinationInputError("not_vaccinated")
            early = dt.datetime.fromisoformat(stamp.wall) < dt.datetime.fromisoformat(vac[1])
            if early and not (early_reason or "").strip():
                raise VaccinationInputError("observation_not_over")
            move(db, checkin_id, "done", actor, stamp, reason=early_reason if early else None)
            db.conn.execute("UPDATE vaccinations SET observation_end_wall=? WHERE id=?", (stamp.wall, vac[0]))
            print_jobs.add(db, "certificate", checkin_id, stamp, subject_id=vac[0])
            audit.record(db, actor, "observation_end", checkin_id, early_reason if early else None, stamp=stamp)
        return self.get(vac[0])

    def get(self, vaccination_id: str) -> dict | None:
        return self.store.query_one("SELECT * FROM vaccinations WHERE id=?", (vaccination_id,))

    def for_checkin(self, checkin_id: str) -> dict | None:
        return self.store.query_one("SELECT * FROM vaccinations WHERE checkin_id=?", (checkin_id,))

    def history(self, id_number: str) -> list[dict]:
        """Doses on record at this kiosk for one number, oldest first (the citizen's record check)."""
        return doses_of_number(self.store, id_number)

    def observation_ends(self) -> dict[str, str]:
        """checkin id → the end of its observation, for this site's doses (the staff board's countdowns)."""
        return {v["checkin_id"]: v["observation_until"] for v in self.store.query(
            "SELECT checkin_id, observation_until FROM vaccinations WHERE site_id=?", (self.settings.site_id,))}


def count(store: Store) -> int:
    return store.query_one("SELECT count(*) AS n FROM vaccinations")["n"]


# -- doses with their person (the visit's name, birth date, number and day, read through kiosk.checkin) -----------
VISIT_FIELDS = ("full_name", "dob", "id_number", "day")


def doses_of_number(store: Store, id_number: str, until_wall: str | None = None) -> list[dict]:
    """Every dose recorded here for check-ins of this number (administered at or before `until_wall`), oldest
    first, each with its visit's VISIT_FIELDS."""
    visits = checkin.visits_by_number(store, id_number)
    if not visits:
        return []
    marks = ",".join("?" * len(visits))
    until = " AND administered_wall <= ?" if until_wall else ""
    doses = store.query(f"SELECT * FROM vaccinations WHERE checkin_id IN ({marks}){until} ORDER BY administered_wall",
                        (*visits, *([until_wall] if until_wall else [])))
    return [{**d, **{k: visits[d["checkin_id"]][k] for k in VISIT_FIELDS}} for d in doses]


def _with_visit(store: Store, dose: dict | None) -> dict | None:
    visit = checkin.get(store, dose["checkin_id"]) if dose else None
    return {**dose, **{k: visit[k] for k in VISIT_FIELDS}} if visit else None


def dose_record(store: Store, vaccination_id: str) -> dict | None:
    """One dose with its visit's VISIT_FIELDS, or None."""
    return _with_visit(store, store.query_one("SELECT * FROM vaccinations WHERE id=?", (vaccination_id,)))


def dose_by_uvci(store: Store, uvci: str) -> dict | None:
    return _with_visit(store, store.query_one("SELECT * FROM vaccinations WHERE uvci=?", (uvci,)))


def checkin_of_dose(db, vaccination_id: str) -> str | None:
    """The check-in a dose was given at, inside the caller's transaction."""
    found = db.conn.execute("SELECT checkin_id FROM vaccinations WHERE id=?", (vaccination_id,)).fetchone()
    return found[0] if found else None


def make_uvci(site_id: str, vaccination_id: str) -> str:
    """`URN:UVCI:01:VN:VXK/<SITE>/<ID>#<check>`: the EU UVCI structure with a Luhn mod 36 check character.

    The issuer part names this system and the site, the unique part is the record id, so every dose has its own
    identifier and a reprint carries the same one.
    """
    body = f"URN:UVCI:01:VN:VXK/{site_id.upper()}/{vaccination_id[:16].upper()}"
    return f"{body}#{luhn_mod_n(body)}"


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def luhn_mod_n(text: str) -> str:
    """Luhn mod N over the alphanumeric characters of `text` (separators skipped), N = 36."""
    n = len(_ALPHABET)
    codes = [_ALPHABET.index(c) for c in text.upper() if c in _ALPHABET]
    factor, total = 2, 0
    for code in reversed(codes):
        addend = factor * code
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return _ALPHABET[(n - total % n) % n]


def vaccination_record(row: dict, person: dict, call: dict | None = None) -> dict:
    """What central gets of a dose: the person's ID number, name, birth date and sex are needed there to match the
    national population database; the address is not sent. `call`: kiosk.checkin.queue_call's desk and call stamp."""
    return record(
        "vaccinations", row["id"], row["site_id"], row["kiosk_id"], Stamp.from_columns(row, "administered"),
        checkin_id=row["checkin_id"],
        person={"id_number": person["id_number"], "full_name": person["full_name"], "dob": person["dob"],
                "sex": person["sex"]},
        dose_number=row["dose_number"],
        vaccine={"code": row["vaccine"], "tg": TARGET_DISEASE, "mp": row["product"], "ma": row["manufacturer"],
                 "vp": row["vaccine_type"]},
        lot=row["lot"],
        vaccinator=row["vaccinator"],
        screening=row["screening_outcome"],
        uvci=row["uvci"],
        observation_until=row["observation_until"],
        **(call or {}),
    )
