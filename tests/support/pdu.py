"""What the virtual modem received, read back by smspdudecoder: a PDU decoder that shares nothing with Gammu or with
drivers.sms_encoding, so a test checks the bytes on the air, not the code that made them."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO

from smspdudecoder.fields import SMSSubmit


@dataclass(frozen=True)
class SubmittedPart:
    number: str          # "+84..." for an international address
    encoding: str        # "ucs2" | "gsm7"
    text: str
    reference: int | None  # the concatenation header's, None for a message of one part
    parts: int
    part: int


@dataclass(frozen=True)
class Message:
    number: str
    encoding: str
    text: str
    parts: int


def decode(pdu_hex: str) -> SubmittedPart:
    sms = SMSSubmit.decode(StringIO(pdu_hex))
    assert sms["header"]["mti"] == "submit", sms["header"]
    recipient = sms["recipient"]
    number = ("+" if recipient["toa"]["ton"] == "international" else "") + recipient["number"]
    encoding = {"ucs2": "ucs2", "gsm": "gsm7"}[sms["dcs"]["encoding"]]
    reference, parts, part = None, 1, 1
    for element in (sms["user_data"].get("header") or {}).get("elements", []):
        if element["iei"] == 0x00:  # concatenated short messages, 8-bit reference
            data = element["data"]
            reference, parts, part = data["reference"], data["parts_count"], data["part_number"]
    return SubmittedPart(number, encoding, sms["user_data"]["data"], reference, parts, part)


def messages(pdus) -> list[Message]:
    """Whole messages in the order their first part arrived, parts joined by number as a phone joins them."""
    pending: dict[tuple, dict[int, SubmittedPart]] = {}
    order: list[tuple] = []
    for pdu in pdus:
        part = decode(pdu if isinstance(pdu, str) else pdu.hex)
        key = (part.number, part.reference, part.parts) if part.reference is not None else (part.number, id(part))
        if key not in pending:
            pending[key], order = {}, order + [key]
        assert part.part not in pending[key], f"part {part.part} of {key} received twice"
        pending[key][part.part] = part
    joined = []
    for key in order:
        got = pending[key]
        first = next(iter(got.values()))
        assert sorted(got) == list(range(1, first.parts + 1)), f"parts {sorted(got)} of {first.parts} for {key}"
        assert len({p.encoding for p in got.values()}) == 1
        joined.append(Message(first.number, first.encoding, "".join(got[i].text for i in sorted(got)), first.parts))
    return joined
