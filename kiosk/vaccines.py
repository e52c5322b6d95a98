"""The vaccines used in Vietnam with their EU Digital COVID Certificate value-set codes (shared/domain/vaccination.md).

tg (target disease) is always COVID-19. vp: mRNA vaccines are 1119349007; the others use the ATC code J07BX03
("covid-19 vaccines"), which the first EU value set also held, since no finer code fits inactivated, vector and
protein-subunit vaccines alike.
"""

from __future__ import annotations

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


VACCINES: dict[str, Vaccine] = {v.code: v for v in [
    Vaccine("comirnaty", "Comirnaty (Pfizer-BioNTech)", "EU/1/20/1528", "ORG-100030215", "1119349007"),
    Vaccine("spikevax", "Spikevax (Moderna)", "EU/1/20/1507", "ORG-100031184", "1119349007"),
    Vaccine("vaxzevria", "Vaxzevria (AstraZeneca)", "EU/1/21/1529", "ORG-100001699", "J07BX03"),
    Vaccine("janssen", "Janssen", "EU/1/20/1525", "ORG-100001417", "J07BX03", 1),
    Vaccine("sputnik-v", "Sputnik V", "Sputnik-V", "Gamaleya-Research-Institute", "J07BX03"),
    Vaccine("vero-cell", "Vero Cell (Sinopharm)", "BBIBP-CorV", "ORG-100020693", "J07BX03"),
    Vaccine("hayat-vax", "Hayat-Vax", "Hayat-Vax", "ORG-100023050", "J07BX03"),
    Vaccine("abdala", "Abdala", "Abdala", "CIGB", "J07BX03", 3),
]}


def series_doses(vaccine: Vaccine, dose_number: int) -> int:
    """The DCC `sd` of a dose: the primary series length, or the dose number itself for a booster."""
    return max(vaccine.primary_doses, dose_number)
