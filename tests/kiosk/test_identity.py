"""The ID-card parser: every case of shared/domain/id-cards.md, through the function and the `parse-id` contract."""

import datetime as dt
import json

import pytest

from base.privacy import mask_id
from kiosk.identity import Identity, KioskCode, ScanError, from_manual, parse
from tests.conftest import SAMPLE_QR, vaxkiosk

pytestmark = pytest.mark.dates

TODAY = dt.date(2026, 11, 25)
NAME = "Trần Thị Hồng Nhung"


def qr(number="064195001234", old="230987654", name=NAME, dob="12081995", sex="Nữ",
       address="Tổ 5, Phường Yên Đỗ, TP Pleiku, Gia Lai", issued="03062021", extra=None):
    fields = [number, old, name, dob, sex, address, issued] + (extra if extra is not None else [])
    return "|".join(fields)


def ok(text, **kw) -> Identity:
    result = parse(text, today=TODAY, **kw)
    assert isinstance(result, Identity), result
    return result


def err(text) -> str:
    result = parse(text, today=TODAY)
    assert isinstance(result, ScanError), result
    assert result.message_vi and result.message_en
    return result.code


def test_chip_cccd_seven_fields():
    r = ok(SAMPLE_QR)
    assert (r.kind, r.card, r.id_number, r.old_id) == ("cccd_qr", "cccd_chip_2021", "064195001234", "230987654")
    assert r.full_name == NAME
    assert r.dob == dt.date(1995, 8, 12) and r.issued == dt.date(2021, 6, 3)
    assert r.sex == "female" and r.province == "Gia Lai"
    assert r.address == "Tổ 5, Phường Yên Đỗ, TP Pleiku, Gia Lai"
    assert r.warnings == ()


def test_can_cuoc_2024_eleven_fields_kept():
    r = ok(qr(issued="10082024", extra=["", "", "", ""]))
    assert r.card == "can_cuoc_2024" and r.extra_fields == ("", "", "", "") and r.warnings == ()
    r = ok(qr(issued="10082024", extra=["Trần Văn B", "", "", ""]))
    assert r.extra_fields[0] == "Trần Văn B" and "extra_fields_present" in r.warnings


def test_empty_old_id_is_none():
    assert ok(qr(old="")).old_id is None


@pytest.mark.parametrize("wrap", ["\ufeff{}", "{}\r\n", "  {}  ", "\ufeff {}\n", "{}\r"])
def test_scanner_noise_is_removed(wrap):
    assert ok(wrap.format(SAMPLE_QR)).full_name == NAME


def test_raw_bytes_with_bom_and_crlf():
    assert ok(b"\xef\xbb\xbf" + SAMPLE_QR.encode() + b"\r\n").full_name == NAME


def test_name_normalised_to_nfc():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", NAME)
    assert decomposed != NAME
    r = ok(qr(name=decomposed))
    assert r.full_name == NAME and unicodedata.is_normalized("NFC", r.full_name)


def test_sex_male_and_centuries():
    assert ok(qr(number="079099001234", sex="Nam", dob="01011999")).sex == "male"
    assert ok(qr(number="001205001234", sex="Nam", dob="02022005", issued="03062021")).dob.year == 2005
    assert ok(qr(number="001305001234", sex="Nữ", dob="02022005", issued="03062021")).sex == "female"


def test_number_only():
    r = ok("064195001234")
    assert r.kind == "id_number" and r.number_only and r.full_name is None and "number_only" in r.warnings


def test_abroad_province_code_is_a_warning():
    r = ok(qr(number="150195001234"))
    assert "abroad_province_code" in r.warnings and r.province is None


def test_kiosk_codes_by_prefix():
    for text, kind in [("HC1:NCFOXN%TS3DH", "certificate"), ("VXK1:APPT:123", "appointment"),
                       ("VXK1:ENROL:http://127.0.0.1:8000|abc", "enrolment")]:
        r = parse(text, today=TODAY)
        assert isinstance(r, KioskCode) and r.kind == kind and r.payload == text


@pytest.mark.parametrize("text, code", [
    ("", "empty"),
    ("   \r\n", "empty"),
    ("hello world", "unsupported_code"),
    ("https://example.invalid/x", "unsupported_code"),
    ("230987654", "old_id_only"),
    ("06419500123", "bad_id_number"),
    ("0641950012345", "bad_id_number"),
    (qr(number="06419500123X"), "bad_id_number"),
    (qr(number="003195001234"), "unknown_province"),
    (qr(number="999195001234"), "unknown_province"),
    (qr(number="064194001234"), "id_year_mismatch"),
    (qr(number="064395001234"), "id_year_mismatch"),
    (qr(number="064095001234"), "id_sex_mismatch"),
    (qr(dob="31021995"), "bad_dob"),
    (qr(dob="1995-08-12"), "bad_dob"),
    (qr(number="064227001234", dob="12082027", sex="Nam"), "dob_in_future"),
    (qr(number="064099001234", dob="12081899", sex="Nam"), "dob_too_old"),
    (qr(issued="99999999"), "bad_issue_date"),
    (qr(issued="01011990"), "issued_before_birth"),
    (qr(issued="01012027"), "issued_in_future"),
    (qr(name=""), "bad_name"),
    (qr(name="Nguyen 123"), "bad_name"),
    (qr(sex="F"), "bad_sex"),
    (qr(old="23098765A"), "bad_old_id"),
    ("064195001234|Trần Thị Hồng Nhung|12/08/1995|Nữ|Tổ 5|03/06/2021", "reformatted_text"),
    ("064195001234|x|y", "bad_field_count"),
    ("a|b|c|d|e", "unsupported_code"),
])
def test_rejections(text, code):
    assert err(text) == code


def test_invalid_utf8_and_oversize_bytes():
    assert err(b"064195001234|\xff\xfe|x") == "not_utf8"
    assert err(b"1" * 5000) == "too_long"


def test_a_wrong_clock_in_1970_does_not_reject_everyone():
    assert isinstance(parse(SAMPLE_QR, today=dt.date(1970, 1, 1)), Identity)


def test_manual_entry_same_rules():
    r = from_manual("0641 9500 1234", "  trần  thị hồng nhung ", "12/08/1995", today=TODAY)
    assert isinstance(r, Identity) and r.kind == "manual" and r.sex == "female"
    assert r.full_name == "trần thị hồng nhung" and r.dob == dt.date(1995, 8, 12)
    assert from_manual("064195001234", NAME, "1996-08-12", today=TODAY).code == "id_year_mismatch"
    assert from_manual("064195001234", "", "12/08/1995", today=TODAY).code == "bad_name"
    assert from_manual("064195001234", NAME, "31/02/1995", today=TODAY).code == "bad_dob"
    assert from_manual("000195001234", NAME, "12/08/1995", today=TODAY).code == "unknown_province"


def test_mask_id():
    assert mask_id("064195001234") == "0641•••••234"
    assert mask_id(None) == "" and mask_id("123") == "•••"


def test_cli_parse_id_argument_and_stdin():
    proc = vaxkiosk("parse-id", SAMPLE_QR)
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert out == {**out, "ok": True, "kind": "cccd_qr", "id_number": "064195001234", "old_id": "230987654",
                   "full_name": NAME, "dob": "1995-08-12", "sex": "female", "issued": "2021-06-03",
                   "province": "Gia Lai", "warnings": []}
    proc = vaxkiosk("parse-id", input=b"\xef\xbb\xbf" + SAMPLE_QR.encode() + b"\r\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["full_name"] == NAME


def test_cli_parse_id_rejection():
    proc = vaxkiosk("parse-id", "not a card")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["error"]["code"] == "unsupported_code"
    assert out["error"]["message_vi"] == "Mã QR không đúng định dạng CCCD. Vui lòng dùng mã QR trên thẻ căn cước công dân."


@pytest.mark.parametrize("name", ["Ksor H'Wen", "Ksor H’Wen", "Rơ Châm", "Siu Y-Ngông", "Nay Phin"])
def test_names_of_ethnic_minorities_on_id_cards_are_accepted_typed_and_scanned(name):
    # Jarai and Ê Đê names from Gia Lai: apostrophes (plain or typographic), hyphens, F/J/W/Z.
    typed = from_manual("064190005678", name, "05/03/1990", today=dt.date(2026, 11, 1))
    assert isinstance(typed, Identity) and typed.full_name == name
    scanned = parse(f"064190005678||{name}|05031990|Nữ|Gia Lai|10102022")
    assert isinstance(scanned, Identity) and scanned.full_name == name


@pytest.mark.parametrize("dob, code", [("31/02/1990", "bad_dob"), ("05/03/1991", "id_year_mismatch")])
def test_a_typed_refusal_speaks_of_what_was_typed_not_of_the_code(dob, code):
    refused = from_manual("064190005678", "Ksor H'Wen", dob, today=dt.date(2026, 11, 1))
    assert isinstance(refused, ScanError) and refused.code == code
    assert "vừa nhập" in refused.message_vi and "typed" in refused.message_en
    assert "trên mã" not in refused.message_vi and "in the code" not in refused.message_en
