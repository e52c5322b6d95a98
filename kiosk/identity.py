"""Scanned or typed text → `Identity`, `KioskCode` or `ScanError`. Pure: no I/O, never raises on any input.

The formats are described in docs/id-cards.md (from shared/domain/id-cards.md). The one rule that matters most: the
ID number, the name and the birth date are taken exactly as the state encoded them, and the number's own digits are
checked against the birth date and sex that come with it, so that a misread or an edited code is refused here.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Union

from base.enrolment import QR_PREFIX
from base.provinces import provinces

MAX_INPUT_BYTES = 2048
MAX_NAME_CHARS = 100
MAX_ADDRESS_CHARS = 300
# A Pi without a real-time clock may boot in 1970: "today" is never taken to be earlier than this release date, so a
# wrong clock cannot make every birth date look like it is in the future.
EARLIEST_TODAY = dt.date(2026, 1, 1)

# The kiosk's own codes carry a prefix that no ID card payload can start with.
KIOSK_PREFIXES = {
    "HC1:": "certificate",
    "VXK1:APPT:": "appointment",
    QR_PREFIX: "enrolment",
}


@dataclass(frozen=True)
class ScanError:
    code: str
    message_vi: str
    message_en: str

    ok = False

    def to_json(self) -> dict:
        return {"ok": False, "error": {"code": self.code, "message_vi": self.message_vi, "message_en": self.message_en}}


@dataclass(frozen=True)
class Identity:
    kind: str  # "cccd_qr" (chip CCCD 2021 or căn cước 2024) or "id_number" (number only)
    id_number: str
    old_id: str | None = None
    full_name: str | None = None
    dob: dt.date | None = None
    sex: str | None = None  # "male" | "female"
    address: str | None = None
    issued: dt.date | None = None
    province: str | None = None
    card: str | None = None  # "cccd_chip_2021" | "can_cuoc_2024" | None
    extra_fields: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    ok = True

    @property
    def number_only(self) -> bool:
        return self.kind == "id_number"

    def to_json(self) -> dict:
        d = asdict(self)
        d["dob"] = self.dob.isoformat() if self.dob else None
        d["issued"] = self.issued.isoformat() if self.issued else None
        d["extra_fields"] = list(self.extra_fields)
        d["warnings"] = list(self.warnings)
        return {"ok": True, **d}


@dataclass(frozen=True)
class KioskCode:
    kind: str  # "certificate" | "appointment" | "enrolment"
    payload: str
    warnings: tuple[str, ...] = field(default=())

    ok = True

    def to_json(self) -> dict:
        nulls = dict.fromkeys(
            ["id_number", "old_id", "full_name", "dob", "sex", "address", "issued", "province"], None
        )
        return {"ok": True, "kind": self.kind, **nulls, "payload": self.payload, "warnings": list(self.warnings)}


ScanResult = Union[Identity, KioskCode, ScanError]

# code → (Vietnamese, English). Codes are stable: screens, logs and tests refer to them.
MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("Không đọc được mã. Vui lòng đưa mã QR trên thẻ vào gần camera.",
              "Nothing was read. Please hold the QR code of your card closer to the camera."),
    "too_long": ("Mã quá dài, không phải mã QR của thẻ CCCD.", "The code is too long to be an ID card QR code."),
    "not_utf8": ("Mã đọc được bị lỗi ký tự. Vui lòng quét lại.", "The code has unreadable characters. Please scan again."),
    "unsupported_code": ("Mã QR không đúng định dạng CCCD. Vui lòng dùng mã QR trên thẻ căn cước công dân.",
                         "This is not an ID card QR code. Please use the QR code on your citizen ID card."),
    "bad_field_count": ("Mã QR không đúng định dạng CCCD.", "The QR code is not in the ID card format."),
    "reformatted_text": ("Mã này đã bị ứng dụng khác chuyển đổi. Vui lòng quét trực tiếp mã QR trên thẻ.",
                         "This text was re-formatted by another app. Please scan the QR code on the card itself."),
    "old_id_only": ("Đây là số CMND cũ (9 số). Vui lòng dùng thẻ CCCD 12 số.",
                    "This is an old 9-digit ID number. Please use the 12-digit citizen ID."),
    "bad_id_number": ("Số định danh phải gồm đúng 12 chữ số.", "The ID number must be exactly 12 digits."),
    "unknown_province": ("Số định danh có mã tỉnh không hợp lệ.", "The ID number has an unknown province code."),
    "id_year_mismatch": ("Số định danh không khớp với năm sinh trên thẻ.",
                         "The ID number does not match the year of birth on the card."),
    "id_sex_mismatch": ("Số định danh không khớp với giới tính trên thẻ.",
                        "The ID number does not match the sex on the card."),
    "bad_birth_year": ("Số định danh có năm sinh không hợp lệ.", "The ID number encodes an impossible year of birth."),
    "bad_dob": ("Ngày sinh trên mã không hợp lệ.", "The date of birth in the code is not a valid date."),
    "dob_in_future": ("Ngày sinh không thể ở tương lai.", "The date of birth cannot be in the future."),
    "dob_too_old": ("Ngày sinh không thể trước năm 1900.", "The date of birth cannot be before 1900."),
    "bad_issue_date": ("Ngày cấp thẻ trên mã không hợp lệ.", "The date of issue in the code is not a valid date."),
    "issued_before_birth": ("Ngày cấp thẻ không thể trước ngày sinh.", "The date of issue cannot be before the date of birth."),
    "issued_in_future": ("Ngày cấp thẻ không thể ở tương lai.", "The date of issue cannot be in the future."),
    "bad_name": ("Họ tên trên mã không hợp lệ.", "The name in the code is not valid."),
    "bad_sex": ("Giới tính trên mã phải là Nam hoặc Nữ.", "The sex in the code must be Nam or Nữ."),
    "bad_old_id": ("Số CMND cũ trên mã không hợp lệ.", "The old ID number in the code is not valid."),
    "bad_address": ("Địa chỉ trên mã không hợp lệ.", "The address in the code is not valid."),
}

WARNINGS = {
    "number_only": "Only the ID number was read: name and date of birth must be confirmed.",
    "abroad_province_code": "Province code 101-295: birth registered abroad (format not officially documented).",
    "extra_fields_present": "The 2024 card's four extra fields are not empty; kept as they are.",
}


# The same refusals of typed details speak of what was typed, not of "the code" (same codes).
TYPED_MESSAGES: dict[str, tuple[str, str]] = {
    "bad_dob": ("Ngày sinh vừa nhập không có thật. Vui lòng nhập ngày/tháng/năm, ví dụ 05/03/1988.",
                "The date of birth typed is not a real date. Please type day/month/year, e.g. 05/03/1988."),
    "bad_name": ("Họ tên vừa nhập không hợp lệ: chỉ dùng chữ cái, dấu cách, dấu nháy (') và gạch nối (-).",
                 "The name typed is not valid: use letters, spaces, apostrophes (') and hyphens (-) only."),
    "id_year_mismatch": ("Số định danh không khớp với năm sinh vừa nhập. Vui lòng kiểm tra lại cả hai.",
                         "The ID number does not match the year of birth typed. Please check both."),
}


def error(code: str) -> ScanError:
    vi, en = MESSAGES[code]
    return ScanError(code, vi, en)


def typed_error(code: str) -> ScanError:
    vi, en = TYPED_MESSAGES.get(code, MESSAGES[code])
    return ScanError(code, vi, en)


def today_floor(today: dt.date | None) -> dt.date:
    return max(today or dt.date.today(), EARLIEST_TODAY)


_DIGITS12 = re.compile(r"^[0-9]{12}$")
_DIGITS = re.compile(r"^[0-9]*$")
_DATE8 = re.compile(r"^[0-9]{8}$")
_SLASH_DATE = re.compile(r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$")
# Besides letters and marks, a name holds blanks, apostrophes (also typographic: "H’Wen"), hyphens and dots;
# anything else marks a machine string, never a person's name.
_NAME_OK_PUNCT = set(" '\u2019-.")


def clean(raw: bytes | str) -> str | ScanError:
    """Bytes or text as a scanner delivers it → NFC text without BOM, line ends or surrounding blanks."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_INPUT_BYTES:
            return error("too_long")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return error("not_utf8")
    else:
        text = raw
        if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
            return error("too_long")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            return error("not_utf8")
    text = text.replace("\ufeff", "").strip(" \t\r\n\x00")
    return unicodedata.normalize("NFC", text)


def parse_date(s: str) -> dt.date | None:
    if not _DATE8.match(s):
        return None
    try:
        return dt.date(int(s[4:]), int(s[2:4]), int(s[:2]))
    except ValueError:
        return None


def check_number(number: str) -> tuple[str | None, tuple[str, ...], ScanError | None]:
    """(province name, warnings, error) for a 12-digit personal identification number."""
    if not _DIGITS12.match(number):
        return None, (), error("bad_id_number")
    code = number[:3]
    name = provinces().get(code)
    warnings: tuple[str, ...] = ()
    if name is None:
        if 101 <= int(code) <= 295:
            warnings = ("abroad_province_code",)
        else:
            return None, (), error("unknown_province")
    return name, warnings, None


def birth_year_from_number(number: str) -> int:
    return (19 + int(number[3]) // 2) * 100 + int(number[4:6])


def sex_from_number(number: str) -> str:
    return "female" if int(number[3]) % 2 else "male"


def clean_name(s: str) -> str | None:
    name = " ".join(s.split())
    if not name or len(name) > MAX_NAME_CHARS:
        return None
    for ch in name:
        cat = unicodedata.category(ch)
        if not (cat[0] in "LM" or ch in _NAME_OK_PUNCT):
            return None
    if not any(unicodedata.category(ch)[0] == "L" for ch in name):
        return None
    return name


def parse_sex(s: str) -> str | None:
    return {"nam": "male", "nữ": "female"}.get(s.strip().casefold())


def _printable(s: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in s)


def parse_card_qr(fields: list[str], today: dt.date) -> Identity | ScanError:
    number, old_id, raw_name, raw_dob, raw_sex, raw_address, raw_issued = fields[:7]
    extra = tuple(fields[7:])
    province, warnings, err = check_number(number.strip())
    if err:
        return err
    number = number.strip()
    old_id = old_id.strip()
    if not _DIGITS.match(old_id) or len(old_id) > 12:
        return error("bad_old_id")
    name = clean_name(raw_name)
    if name is None:
        return error("bad_name")
    dob = parse_date(raw_dob.strip())
    if dob is None:
        return error("bad_dob")
    if dob > today:
        return error("dob_in_future")
    if dob.year < 1900:
        return error("dob_too_old")
    sex = parse_sex(raw_sex)
    if sex is None:
        return error("bad_sex")
    if birth_year_from_number(number) != dob.year:
        return error("id_year_mismatch")
    if sex_from_number(number) != sex:
        return error("id_sex_mismatch")
    address = " ".join(raw_address.split())
    if len(address) > MAX_ADDRESS_CHARS or not _printable(address):
        return error("bad_address")
    issued = parse_date(raw_issued.strip())
    if issued is None:
        return error("bad_issue_date")
    if issued < dob:
        return error("issued_before_birth")
    if issued > today:
        return error("issued_in_future")
    if any(not _printable(x) for x in extra):
        return error("bad_field_count")
    if any(x.strip() for x in extra):
        warnings += ("extra_fields_present",)
    return Identity(
        kind="cccd_qr",
        id_number=number,
        old_id=old_id or None,
        full_name=name,
        dob=dob,
        sex=sex,
        address=address or None,
        issued=issued,
        province=province,
        card="can_cuoc_2024" if extra else "cccd_chip_2021",
        extra_fields=extra,
        warnings=warnings,
    )


def parse_number_only(number: str, today: dt.date) -> Identity | ScanError:
    province, warnings, err = check_number(number)
    if err:
        return err
    year = birth_year_from_number(number)
    if year > today.year or year < 1900:
        return error("bad_birth_year")
    return Identity(kind="id_number", id_number=number, province=province, warnings=("number_only",) + warnings)


def parse(raw: bytes | str, today: dt.date | None = None) -> ScanResult:
    """Any scanned or typed input → a typed result. Never raises."""
    try:
        return _parse(raw, today_floor(today))
    except Exception:  # noqa: BLE001 - the contract is "never an exception"; a bug here must not stop the kiosk
        return error("unsupported_code")


def _parse(raw: bytes | str, today: dt.date) -> ScanResult:
    text = clean(raw)
    if isinstance(text, ScanError):
        return text
    if not text:
        return error("empty")
    for prefix, kind in KIOSK_PREFIXES.items():
        if text.startswith(prefix):
            return KioskCode(kind=kind, payload=text)
    if "|" not in text:
        if _DIGITS12.match(text):
            return parse_number_only(text, today)
        if re.fullmatch(r"[0-9]{9}", text):
            return error("old_id_only")
        if _DIGITS.match(text):
            return error("bad_id_number")
        return error("unsupported_code")
    fields = text.split("|")
    if len(fields) in (7, 11):
        return parse_card_qr(fields, today)
    if len(fields) == 6 and any(_SLASH_DATE.match(f.strip()) for f in fields):
        return error("reformatted_text")
    if _DIGITS12.match(fields[0].strip()):
        return error("bad_field_count")
    return error("unsupported_code")


def name_key(name: str | None) -> str:
    """A name as two entries of it are compared: NFC, case-folded, blanks collapsed, as the parser normalises it
    (a card's "Trần Thị Hồng Nhung" is the keypad's "TRẦN THỊ HỒNG  NHUNG"). Accents count: "Tran" is another name."""
    folded = unicodedata.normalize("NFC", str(name or "")).casefold()
    return unicodedata.normalize("NFC", " ".join(folded.split()))


def from_manual(id_number: str, full_name: str, dob: str, today: dt.date | None = None) -> Identity | ScanError:
    """Typed by a citizen or staff when the card cannot be read: the same rules as a scan.

    `dob` is dd/mm/yyyy, ddmmyyyy or yyyy-mm-dd. Sex is taken from the number's century/sex digit.
    """
    try:
        today = today_floor(today)
        number = "".join(str(id_number).split())
        province, warnings, err = check_number(number)
        if err:
            return typed_error(err.code)
        name = clean_name(unicodedata.normalize("NFC", str(full_name)))
        if name is None:
            return typed_error("bad_name")
        text = str(dob).strip()
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            text = text[8:10] + text[5:7] + text[:4]
        elif re.fullmatch(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", text):
            d, m, y = text.split("/")
            text = f"{int(d):02d}{int(m):02d}{y}"
        born = parse_date(text)
        if born is None:
            return typed_error("bad_dob")
        if born > today:
            return typed_error("dob_in_future")
        if born.year < 1900:
            return typed_error("dob_too_old")
        if birth_year_from_number(number) != born.year:
            return typed_error("id_year_mismatch")
        return Identity(kind="manual", id_number=number, full_name=name, dob=born, sex=sex_from_number(number),
                        province=province, warnings=warnings)
    except Exception:  # noqa: BLE001 - same contract as parse(): typed results only
        return error("unsupported_code")
