"""Vietnamese mobile numbers: what a citizen may type, its E.164 form, and how it is shown.

Mobile numbers have 10 digits and start 03, 05, 07, 08 or 09 since the 2018 renumbering (Viettel 03x/08x/09x,
Vinaphone 08x/09x, Mobifone 07x/09x, Vietnamobile 05x/09x, Gmobile 059/099, Itelecom 087); the same number
written internationally is +84 and the 9 digits after the 0. Landlines (02x) cannot receive these texts.
"""

from __future__ import annotations

import re

from base.refusal import Refusal

MOBILE_FIRST_DIGITS = "35789"
_NATIONAL = re.compile(rf"0([{MOBILE_FIRST_DIGITS}]\d{{8}})")
_INTERNATIONAL = re.compile(rf"\+84([{MOBILE_FIRST_DIGITS}]\d{{8}})")
_SEPARATORS = re.compile(r"[\s.\-()]")

REFUSALS = {
    "bad_phone": ("Số điện thoại không hợp lệ. Vui lòng nhập 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09 "
                  "(hoặc +84).",
                  "This phone number is not valid. Please type 10 digits starting with 03, 05, 07, 08 or 09 "
                  "(or +84)."),
    "consent_required": ("Vui lòng bấm “Đồng ý nhận tin nhắn” để nhận tin nhắn hôm nay.",
                         "Please press “I agree to get texts” to get text messages today."),
    "optin_closed": ("Lượt đăng ký này đã xong, không thể đăng ký nhận tin nhắn nữa.",
                     "This check-in is over: texts can no longer be asked for."),
    "not_found": ("Không tìm thấy lượt đăng ký hôm nay.", "Today's check-in was not found."),
    "phone_limit": ("Số điện thoại này đã được đăng ký cho nhiều lượt hôm nay. Vui lòng gặp nhân viên.",
                    "This number already gets the texts of many check-ins today. Please see a staff member."),
    "sms_off": ("Điểm tiêm này chưa gửi tin nhắn.", "This site does not send text messages."),
}


class SmsRefused(Refusal):
    MESSAGES = REFUSALS


def parse_mobile(typed: str) -> str:
    """The E.164 form ("+84912345678") of a typed Vietnamese mobile number; SmsRefused("bad_phone") otherwise."""
    compact = _SEPARATORS.sub("", str(typed or ""))
    found = _NATIONAL.fullmatch(compact) or _INTERNATIONAL.fullmatch(compact)
    if not found:
        raise SmsRefused("bad_phone")
    return "+84" + found.group(1)


def national(number: str) -> str:
    """"+84912345678" → "0912345678" (how Vietnamese people write and read their number)."""
    return "0" + number[3:] if number.startswith("+84") else number


def mask_phone(number: str | None) -> str:
    """"+84912345678" → "091••••678": enough for the citizen to recognise, not enough to call."""
    if not number:
        return ""
    written = national(number)
    if len(written) < 7:
        return "•" * len(written)
    return written[:3] + "•" * (len(written) - 6) + written[-3:]
