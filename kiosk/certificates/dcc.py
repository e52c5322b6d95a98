"""The EU Digital COVID Certificate (DCC) JSON of one dose, and the ICAO 9303 transliteration of Vietnamese names.

Pure functions, no I/O, no keys: kiosk.certificates.hcert signs and packs what this module builds. Schema version 1.3.0
(https://github.com/ehn-dcc-development/ehn-dcc-schema). The ID number is never part of it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from kiosk.vaccines import TARGET_DISEASE, Vaccine, series_doses

SCHEMA_VERSION = "1.3.0"
COUNTRY = "VN"
# The Vietnamese issuer string is not published (shared/domain/vaccination.md); this one is ours, documented.
ISSUER = "Ministry of Health of Viet Nam"
MAX_NAME_CHARS = 80  # DCC schema: fn, fnt, gn, gnt
_NOT_LETTER = re.compile(r"[^A-Z]")


@dataclass(frozen=True)
class Dose:
    vaccine: Vaccine
    dose_number: int
    date: dt.date  # local calendar day of the injection
    uvci: str


def icao_transliterate(text: str) -> str:
    """`Trần Thị Hồng` → `TRAN<THI<HONG`: diacritics dropped, Đ→D, upper case, spaces and hyphens → '<'."""
    text = unicodedata.normalize("NFC", text).replace("Đ", "D").replace("đ", "d")
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    words = re.split(r"[\s\-]+", bare.upper().strip())
    # Apostrophes, dots and any letter outside A-Z (a name written in another script) are left out.
    joined = "<".join(w for w in (_NOT_LETTER.sub("", w) for w in words) if w)
    return joined[:MAX_NAME_CHARS].rstrip("<")


def split_name(full_name: str) -> tuple[str, str]:
    """Vietnamese order: the family name is the first word, the given names are the rest."""
    words = unicodedata.normalize("NFC", full_name).split()
    return (words[0] if words else ""), " ".join(words[1:])


def name_block(full_name: str) -> dict:
    family, given = split_name(full_name)
    nam = {"fn": family[:MAX_NAME_CHARS], "fnt": icao_transliterate(family)}
    if given:
        nam |= {"gn": given[:MAX_NAME_CHARS], "gnt": icao_transliterate(given)}
    return nam


def vaccination_entry(dose: Dose) -> dict:
    return {
        "tg": TARGET_DISEASE,
        "vp": dose.vaccine.vaccine_type,
        "mp": dose.vaccine.product,
        "ma": dose.vaccine.manufacturer,
        "dn": dose.dose_number,
        "sd": series_doses(dose.vaccine, dose.dose_number),
        "dt": dose.date.isoformat(),
        "co": COUNTRY,
        "is": ISSUER,
        "ci": dose.uvci,
    }


def build(full_name: str, dob: dt.date | None, dose: Dose) -> dict:
    """The DCC of one dose (the specification puts exactly one vaccination entry in a certificate).

    An unknown birth date is the empty string, which the DCC schema allows."""
    return {"ver": SCHEMA_VERSION, "nam": name_block(full_name), "dob": dob.isoformat() if dob else "",
            "v": [vaccination_entry(dose)]}


def display_name(dcc: dict) -> str:
    """The name as a person writes it: with diacritics when the issuer gave them, else the transliteration."""
    nam = dcc.get("nam") or {}
    family = nam.get("fn") or (nam.get("fnt") or "").replace("<", " ")
    given = nam.get("gn") or (nam.get("gnt") or "").replace("<", " ")
    return " ".join(p for p in (family, given) if p)


def doses(dcc: dict) -> list[dict]:
    return [dict(v) for v in dcc.get("v") or []]
