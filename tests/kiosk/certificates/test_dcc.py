"""DCC JSON of one dose: ICAO names, value sets, dose/series numbers, and nothing that identifies beyond the DCC."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.certificates import dcc
from kiosk.vaccination import luhn_mod_n, make_uvci
from kiosk.vaccines import VACCINES, series_doses

pytestmark = pytest.mark.dates


@pytest.mark.parametrize("name, fnt, gnt", [
    ("Trần Thị Hồng Nhung", "TRAN", "THI<HONG<NHUNG"),
    ("Đặng Văn Đức", "DANG", "VAN<DUC"),
    ("Nguyễn Ngọc Ánh", "NGUYEN", "NGOC<ANH"),
    ("Lê Thị Diễm-Hương", "LE", "THI<DIEM<HUONG"),
    ("  Phạm   Ưng  ", "PHAM", "UNG"),
    ("H'Hen Niê", "HHEN", "NIE"),
])
def test_icao_names(name, fnt, gnt):
    nam = dcc.name_block(name)
    assert (nam["fnt"], nam["gnt"]) == (fnt, gnt)
    assert nam["fn"] + " " + nam["gn"] == " ".join(name.split())  # diacritics kept in fn/gn


def test_a_one_word_name_has_no_given_names():
    assert dcc.name_block("Hùng") == {"fn": "Hùng", "fnt": "HUNG"}


@given(st.text(max_size=120))
def test_transliteration_is_always_icao(text):
    out = dcc.icao_transliterate(text)
    assert re.fullmatch(r"[A-Z<]*", out) and len(out) <= dcc.MAX_NAME_CHARS
    assert not out.startswith("<") and not out.endswith("<") and "<<" not in out


def test_the_dcc_of_a_dose():
    dose = dcc.Dose(VACCINES["janssen"], 1, dt.date(2026, 11, 25), "URN:UVCI:01:VN:VXK/S/1#A")
    out = dcc.build("Trần Thị Hồng Nhung", dt.date(1995, 8, 12), dose)
    assert out["ver"] == "1.3.0" and out["dob"] == "1995-08-12"
    assert out["v"] == [{"tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1525", "ma": "ORG-100001417",
                         "dn": 1, "sd": 1, "dt": "2026-11-25", "co": "VN", "is": dcc.ISSUER,
                         "ci": "URN:UVCI:01:VN:VXK/S/1#A"}]
    assert dcc.build("Hùng", None, dose)["dob"] == ""


@pytest.mark.parametrize("code, dn, sd", [("comirnaty", 1, 2), ("comirnaty", 2, 2), ("comirnaty", 3, 3),
                                          ("janssen", 1, 1), ("janssen", 2, 2), ("abdala", 2, 3)])
def test_series_doses(code, dn, sd):
    assert series_doses(VACCINES[code], dn) == sd


def test_uvci_scheme():
    uvci = make_uvci("gl-01", "0123456789abcdef0123456789abcdef")
    assert uvci == "URN:UVCI:01:VN:VXK/GL-01/0123456789ABCDEF#" + luhn_mod_n(uvci.split("#")[0])
    body, check = uvci.split("#")
    # Any single changed character is caught by the check character.
    for i, c in enumerate(body):
        if c.isalnum():
            for other in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
                if other != c:
                    assert luhn_mod_n(body[:i] + other + body[i + 1:]) != check
