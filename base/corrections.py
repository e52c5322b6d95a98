"""A citizen's correction request, as both ends know it: filed at a kiosk (kiosk.corrections), decided at central
(central.corrections), the decision sent back as the command `correction_outcome` (docs/protocol.md)."""

from __future__ import annotations

import datetime as dt

KINDS = ("missing_dose", "wrong_dose")
# Central's decisions; "deferred" may be decided again.
OUTCOMES = ("approved", "deferred", "rejected")
MAX_REASON_CHARS = 300
# Central must answer within this time; the deadline travels with the request.
DEADLINE = dt.timedelta(hours=48)

# Reasons named by the Ministry's guidance of Nov 2021 (9458/BYT-CNTT) for deferring or rejecting; "other" asks for
# free text. Central's staff pick them; a citizen looking up an outcome sees only these, never free text.
REASONS = {
    "blurred_photo": ("Ảnh chụp không rõ", "The photo is blurred"),
    "mismatch": ("Họ tên / ngày sinh / ngày tiêm không khớp", "Name, date of birth or date does not match"),
    "no_diacritics": ("Họ tên không có dấu", "The name has no diacritics"),
    "edited_form": ("Phiếu đã bị sửa", "The form has been edited"),
    "other": ("Lý do khác", "Other reason"),
}
KIND_WORDS = {"missing_dose": ("Thiếu mũi tiêm", "Missing dose"), "wrong_dose": ("Sai mũi tiêm", "Wrong dose")}
STATE_WORDS = {"received": ("Đã tiếp nhận, đang chờ xử lý", "Received, waiting for a decision"),
               "approved": ("Đã chấp thuận", "Approved"), "deferred": ("Tạm hoãn, cần bổ sung", "Deferred"),
               "rejected": ("Không chấp thuận", "Rejected")}


def reason_code(reason: str | None) -> str | None:
    """The REASONS code of a decision's reason text; None for free text (which may name people)."""
    return next((code for code, (vi, _) in REASONS.items() if reason == vi and code != "other"), None)


# What a correction is about (record fields `about_*`, docs/protocol.md): for a wrong dose, the dose as recorded;
# for a missing dose, what the citizen says happened (the day, the dose number, the vaccine, the place).
MAX_PLACE_CHARS = 120

# The reference a citizen is given (screen and slip) and looks the outcome up by, at any kiosk: 11 random digits and
# a Luhn check digit (a mistyped digit is caught at the kiosk, not counted as a guess). Digits, so the kiosk's keypad
# takes it; 10^11 of them, so a stranger guessing at the lookup's rate limit finds nobody's.
REFERENCE_DIGITS = 12


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def new_reference() -> str:
    import secrets

    body = "".join(secrets.choice("0123456789") for _ in range(REFERENCE_DIGITS - 1))
    return body + _luhn_digit(body)


def read_reference(text: str) -> str | None:
    """Typed or printed text (`PA-1234-5678-9012`, spaces, dashes) → the 12 digits, or None if it cannot be one."""
    digits = "".join(c for c in str(text or "").upper().removeprefix("PA") if c not in " -.")
    if len(digits) != REFERENCE_DIGITS or not digits.isdigit():
        return None
    return digits if _luhn_digit(digits[:-1]) == digits[-1] else None


def show_reference(reference: str) -> str:
    """12 digits → `PA-1234-5678-9012` (PA: phản ánh), as screens and slips show it."""
    return "PA-" + "-".join(reference[i:i + 4] for i in range(0, len(reference), 4))


def about_words(payload: dict, site_names: dict | None = None, vaccine_names: dict | None = None) -> tuple[str, str]:
    """What a correction is about, in words (Vietnamese, English), from its about_* fields; ("", "") for a request
    from a kiosk that did not send them. It holds the citizen's own text: screens escape it."""
    number, day = payload.get("about_dose_number"), payload.get("about_day")
    if number is None and not day:
        return "", ""
    vaccine = payload.get("about_vaccine")
    vaccine = (vaccine_names or {}).get(vaccine, vaccine)
    when = "/".join(reversed(day.split("-"))) if isinstance(day, str) else "?"
    what_vi = f"mũi {number}" + (f" {vaccine}" if vaccine else " (không nhớ loại vắc xin)")
    what_en = f"dose {number}" + (f" {vaccine}" if vaccine else " (vaccine not remembered)")
    if payload.get("kind") == "wrong_dose":
        site_id = payload.get("about_site") or "?"
        name = (site_names or {}).get(site_id)
        place = f"{name} ({site_id})" if name else site_id
        lot = payload.get("about_lot") or "?"
        return (f"Ghi nhận: {what_vi}, lô {lot}, ngày {when}, tại {place}",
                f"As recorded: {what_en}, lot {lot}, on {when}, at {place}")
    place = payload.get("about_place") or "?"
    return (f"Người dân cho biết: đã tiêm {what_vi} ngày {when} tại {place}",
            f"The citizen says: {what_en} given on {when} at {place}")
