"""SMS text on the air interface (3GPP TS 23.038 / 23.040): alphabets, unaccented Vietnamese, parts and their headers.

Pure functions, no kiosk imports: the kiosk's SMS part and central's alerts share them with drivers.gsm_modem.

Two encodings, chosen per site:
- `ucs2`: any text, as written (Vietnamese with its diacritics); 70 UTF-16 units in one message, 67 per part when the
  text needs several.
- `gsm7`: the GSM 7-bit default alphabet, 160 septets in one message, 153 per part. Vietnamese is written unaccented,
  as Vietnamese SMS usually are ("khong dau"): every diacritic is removed (đ → d), so the text reads the same on every
  phone, not with the few accented letters GSM-7 happens to have and the rest stripped. A character that has no GSM-7
  form after that becomes "?", as Gammu writes it.

A long text is split the way Gammu's GSM_MakeMultiPartSMS splits it: each part carries the concatenation header
05 00 03 <reference> <parts> <part> (8-bit reference), an escaped GSM-7 character (two septets) never straddles two
parts, and a UCS-2 part never ends inside a surrogate pair or just before a combining mark.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["ucs2", "gsm7"]
ENCODINGS: tuple[str, ...] = ("ucs2", "gsm7")

# TS 23.038 6.2.1: the default alphabet, in code order (0x1B is the escape to the extension table, not a character).
GSM7_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
# TS 23.038 6.2.1.1: the extension table's characters, each sent as ESC + one septet.
GSM7_EXTENSION = "\f^{}\\[~]|€"
_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENSION = frozenset(GSM7_EXTENSION)

SINGLE = {"ucs2": 70, "gsm7": 160}      # characters (UTF-16 units, septets) in a message of one part
PER_PART = {"ucs2": 67, "gsm7": 153}    # ... in each part of a concatenated message (6-octet header)
MAX_PARTS = 255                          # the 8-bit header's limit; callers set their own, lower one

# Typography a template or a keyboard brings in, written as GSM-7 has it.
_PLAIN = str.maketrans({"đ": "d", "Đ": "D", "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-",
                        "…": "...", "\u00a0": " ", "\u202f": " ", "\t": " ", "Ð": "D", "ð": "d"})


class MessageTooLong(ValueError):
    def __init__(self, parts: int, limit: int):
        super().__init__(f"the text needs {parts} parts, more than the {limit} allowed")
        self.parts, self.limit = parts, limit


@dataclass(frozen=True)
class Part:
    text: str
    udh: bytes  # the user data header with its length octet (b"" for a message of one part)


@dataclass(frozen=True)
class EncodedMessage:
    encoding: Encoding
    text: str                # what the phone will show (after the GSM-7 conversion)
    parts: tuple[Part, ...]

    @property
    def count(self) -> int:
        return len(self.parts)


def unaccent(text: str) -> str:
    """Vietnamese (and any Latin text) without diacritics: "Mời đến bàn số 3" → "Moi den ban so 3"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def to_gsm7(text: str) -> str:
    """The text as a GSM-7 message will carry it: unaccented, and "?" for what the alphabet cannot write."""
    return "".join(c if c in _BASIC or c in _EXTENSION else "?" for c in unaccent(text))


def septets(text: str) -> int:
    """Septets of a GSM-7 text (an extension character takes two). Every character must be GSM-7 (to_gsm7)."""
    return sum(2 if c in _EXTENSION else 1 for c in text)


def choose_encoding(text: str) -> Encoding:
    """gsm7 when it carries the text unchanged, else ucs2 (so nothing the writer typed is lost)."""
    return "gsm7" if to_gsm7(text) == text else "ucs2"


def encode(text: str, encoding: Encoding, reference: int = 0, max_parts: int = MAX_PARTS) -> EncodedMessage:
    """The parts of one message; `reference` (0-255) ties the parts of a long message together on the phone."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown SMS encoding {encoding!r}")
    if encoding == "gsm7":
        text = to_gsm7(text)
        chunks = _split_gsm7(text)
    else:
        text = unicodedata.normalize("NFC", text)
        chunks = _split_ucs2(text)
    if len(chunks) > min(max_parts, MAX_PARTS):
        raise MessageTooLong(len(chunks), min(max_parts, MAX_PARTS))
    if len(chunks) == 1:
        return EncodedMessage(encoding, text, (Part(chunks[0], b""),))
    total = len(chunks)
    parts = tuple(Part(chunk, bytes([0x05, 0x00, 0x03, reference & 0xFF, total, number]))
                  for number, chunk in enumerate(chunks, start=1))
    return EncodedMessage(encoding, text, parts)


def _split_gsm7(text: str) -> list[str]:
    if septets(text) <= SINGLE["gsm7"]:
        return [text]
    chunks, current, used = [], [], 0
    for c in text:
        need = 2 if c in _EXTENSION else 1
        if used + need > PER_PART["gsm7"]:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += need
    chunks.append("".join(current))
    return chunks


def _split_ucs2(text: str) -> list[str]:
    units = text.encode("utf-16-be")
    count = len(units) // 2
    if count <= SINGLE["ucs2"]:
        return [text]

    def unit(i: int) -> int:
        return int.from_bytes(units[2 * i:2 * i + 2], "big")

    chunks, start = [], 0
    while start < count:
        take = min(PER_PART["ucs2"], count - start)
        end = start + take
        if take > 1 and end < count:
            if 0xD800 <= unit(end - 1) <= 0xDBFF:
                end -= 1  # a surrogate pair stays whole
            elif unicodedata.combining(chr(unit(end))):
                end -= 1  # a mark stays with its letter
        chunks.append(units[2 * start:2 * end].decode("utf-16-be"))
        start = end
    return chunks
