"""The vaccines used in Vietnam with their EU Digital COVID Certificate value-set codes (shared/domain/vaccination.md).

tg (target disease) is always COVID-19. vp: mRNA vaccines are 1119349007; the others use the ATC code J07BX03
("covid-19 vaccines"), which the first EU value set also held, since no finer code fits inactivated, vector and
protein-subunit vaccines alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

TARGET_DISEASE = "840539006"
MAX_DOSES = 7  # 3 basic + 1 additional + 3 boosters (Decision 43/QĐ-BYT)


@dataclass(frozen=True)
class Vaccine:
    code: str
    name: str
    product: str  # mp
    manufacturer: str  # ma
    vaccine_type: str  # vp
    # Doses in the primary series: the DCC "sd" (total doses). A booster is written n/n, the EU convention.
    primary_doses: int = 2
    # Days from one primary dose to the next, the shortest interval of the Ministry of Health's guidance (Decision
    # 3588/QĐ-BYT and its updates); None: no next primary dose (a single-dose vaccine).
    next_dose_days: int | None = None


VACCINES: dict[str, Vaccine] = {v.code: v for v in [
    Vaccine("comirnaty", "Comirnaty (Pfizer-BioNTech)", "EU/1/20/1528", "ORG-100030215", "1119349007",
            next_dose_days=21),
    Vaccine("spikevax", "Spikevax (Moderna)", "EU/1/20/1507", "ORG-100031184", "1119349007", next_dose_days=28),
    Vaccine("vaxzevria", "Vaxzevria (AstraZeneca)", "EU/1/21/1529", "ORG-100001699", "J07BX03", next_dose_days=56),
    Vaccine("janssen", "Janssen", "EU/1/20/1525", "ORG-100001417", "J07BX03", 1),
    Vaccine("sputnik-v", "Sputnik V", "Sputnik-V", "Gamaleya-Research-Institute", "J07BX03", next_dose_days=21),
    Vaccine("vero-cell", "Vero Cell (Sinopharm)", "BBIBP-CorV", "ORG-100020693", "J07BX03", next_dose_days=21),
    Vaccine("hayat-vax", "Hayat-Vax", "Hayat-Vax", "ORG-100023050", "J07BX03", next_dose_days=21),
    Vaccine("abdala", "Abdala", "Abdala", "CIGB", "J07BX03", 3, next_dose_days=14),
]}


def series_doses(vaccine: Vaccine, dose_number: int) -> int:
    """The DCC `sd` of a dose: the primary series length, or the dose number itself for a booster."""
    return max(vaccine.primary_doses, dose_number)


def next_dose_date(vaccine: Vaccine, dose_number: int, given: dt.date) -> dt.date | None:
    """The earliest day of the next primary dose after dose `dose_number` given on `given`; None once the primary
    series is complete (boosters follow national campaigns, not a fixed interval) or for a single-dose vaccine."""
    if vaccine.next_dose_days is None or dose_number >= vaccine.primary_doses:
        return None
    return given + dt.timedelta(days=vaccine.next_dose_days)
