"""Vietnamese mobile numbers: what may be typed or configured, and its E.164 form (the kiosk's citizen texts,
central's alert texts).

Mobile numbers have 10 digits and start 03, 05, 07, 08 or 09 since the 2018 renumbering (Viettel 03x/08x/09x,
Vinaphone 08x/09x, Mobifone 07x/09x, Vietnamobile 05x/09x, Gmobile 059/099, Itelecom 087); the same number
written internationally is +84 and the 9 digits after the 0. Landlines (02x) cannot receive these texts.
"""

from __future__ import annotations

import re

MOBILE_FIRST_DIGITS = "35789"
_NATIONAL = re.compile(rf"0([{MOBILE_FIRST_DIGITS}]\d{{8}})")
_INTERNATIONAL = re.compile(rf"\+84([{MOBILE_FIRST_DIGITS}]\d{{8}})")
_SEPARATORS = re.compile(r"[\s.\-()]")


def e164(typed: str) -> str | None:
    """"091 234 5678" or "+84912345678" → "+84912345678"; None for anything that is not a Vietnamese mobile."""
    compact = _SEPARATORS.sub("", str(typed or ""))
    found = _NATIONAL.fullmatch(compact) or _INTERNATIONAL.fullmatch(compact)
    return "+84" + found.group(1) if found else None


def national(number: str) -> str:
    """"+84912345678" → "0912345678" (how Vietnamese people write and read their number)."""
    return "0" + number[3:] if number.startswith("+84") else number
