"""The number a citizen types for their texts: a Vietnamese mobile (base.phone) or a refusal with a stable code,
and the other refusals of the opt-in. It is shown masked everywhere (base.privacy.mask_phone)."""

from __future__ import annotations

from base.phone import e164
from base.refusal import Refusal

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
    number = e164(typed)
    if number is None:
        raise SmsRefused("bad_phone")
    return number

