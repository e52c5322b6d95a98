"""drivers.sms_encoding: unaccented Vietnamese, the GSM-7/UCS-2 choice and limits, and parts split as Gammu splits
them (Gammu's own EncodeSMS is the oracle)."""

from __future__ import annotations

import unicodedata

import gammu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sms_encoding import (GSM7_BASIC, GSM7_EXTENSION, MessageTooLong, choose_encoding, encode, septets,
                                  to_gsm7, unaccent)

VOWELS = "aăâeêioôơuưy"
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # ngang, huyền, sắc, ngã, hỏi, nặng


def test_every_vietnamese_vowel_with_every_tone_loses_its_marks():
    for vowel in VOWELS + VOWELS.upper():
        for tone in TONES:
            letter = unicodedata.normalize("NFC", vowel + tone)
            assert len(letter) == 1  # precomposed, as typed
            assert unaccent(letter) == unicodedata.normalize("NFD", vowel)[0], letter


def test_unaccented_sentences():
    assert unaccent("Đặng Thị Ngọc Hưởng, mời đến bàn số 3") == "Dang Thi Ngoc Huong, moi den ban so 3"
    assert unaccent("Sổ sức khỏe điện tử") == "So suc khoe dien tu"
    assert unaccent("ĐỖ ƯỚC") == "DO UOC"
    # Text typed in decomposed form reads the same
    assert unaccent(unicodedata.normalize("NFD", "Nguyễn Văn Đức")) == "Nguyen Van Duc"


def test_gsm7_keeps_its_alphabet_and_replaces_the_rest():
    assert to_gsm7("Giá 5€ [mũi 2] ~ {ok}") == "Gia 5€ [mui 2] ~ {ok}"
    assert to_gsm7("“Mời” – số 3…") == '"Moi" - so 3...'
    assert to_gsm7("中文 😀") == "?? ?"
    basic = GSM7_BASIC.replace("\x1b", "")
    # The accented letters GSM-7 has are written unaccented too: one rule for the whole text
    assert to_gsm7(basic) == unaccent(basic)
    assert septets("a€[") == 5


def test_encoding_choice_keeps_what_was_typed():
    assert choose_encoding("Moi so 12 den ban 3") == "gsm7"
    assert choose_encoding("Price: 5€ [test]") == "gsm7"
    assert choose_encoding("Mời số 12") == "ucs2"
    assert choose_encoding("Café") == "ucs2"  # GSM-7 has é, but this module writes gsm7 unaccented


@pytest.mark.parametrize("encoding, single, per_part", [("gsm7", 160, 153), ("ucs2", 70, 67)])
def test_limits_of_one_part_and_of_concatenated_parts(encoding, single, per_part):
    letter = "a" if encoding == "gsm7" else "ư"
    one = encode(letter * single, encoding)
    assert one.count == 1 and one.parts[0].udh == b""
    two = encode(letter * (single + 1), encoding, reference=0x2A)
    assert [len(p.text) for p in two.parts] == [per_part, single + 1 - per_part]
    assert [p.udh for p in two.parts] == [bytes([5, 0, 3, 0x2A, 2, 1]), bytes([5, 0, 3, 0x2A, 2, 2])]


def test_an_escaped_character_never_straddles_two_parts():
    message = encode("a" * 152 + "€" + "b" * 10, "gsm7")
    assert [p.text[-1] for p in message.parts] == ["a", "b"]
    assert message.parts[1].text.startswith("€")
    assert all(septets(p.text) <= 153 for p in message.parts)


def test_a_surrogate_pair_and_a_combining_mark_stay_whole():
    pair = encode("a" * 66 + "😀" + "b" * 10, "ucs2")
    assert pair.parts[0].text == "a" * 66 and pair.parts[1].text.startswith("😀")
    # A mark without a precomposed form (NFC keeps it separate) is not cut from its letter
    marked = encode("a" * 66 + "q\u0303" + "c" * 10, "ucs2")
    assert marked.parts[0].text.endswith("a") and marked.parts[1].text.startswith("q\u0303")


def test_too_many_parts_is_refused():
    with pytest.raises(MessageTooLong) as refused:
        encode("ư" * 67 * 4, "ucs2", max_parts=3)
    assert refused.value.parts == 4


GAMMU_TEXTS = [
    "Mời số 12 đến bàn 3 ngay bây giờ. " * 5,
    "Bạn đã tiêm mũi 2 (Comirnaty) ngày 03/06/2026. Mã chứng nhận: URN:UVCI:01:VN:VXK/GL-01/0A1B2C3D4E5F6071#K. "
    "Kiểm tra mũi tiêm trên ứng dụng Sổ sức khỏe điện tử.",
    "x" * 70, "x" * 71, "y" * 134, "y" * 135, "z" * 200,
]


@pytest.mark.parametrize("text", GAMMU_TEXTS)
@pytest.mark.parametrize("encoding", ["ucs2", "gsm7"])
def test_parts_are_the_ones_gammu_makes(text, encoding):
    mine = encode(text, encoding, reference=0x37)
    source = mine.text
    theirs = gammu.EncodeSMS({"Class": -1, "Unicode": encoding == "ucs2",
                              "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": source}]})
    assert [p.text for p in mine.parts] == [p["Text"] for p in theirs]
    coding = "Unicode_No_Compression" if encoding == "ucs2" else "Default_No_Compression"
    assert {p["Coding"] for p in theirs} == {coding}
    if len(theirs) > 1:
        # Gammu's header is the same but for the reference it draws from the clock
        assert [p.udh[:3] + p.udh[4:] for p in mine.parts] == [p["UDH"]["Text"][:3] + p["UDH"]["Text"][4:]
                                                               for p in theirs]
    else:
        assert theirs[0]["UDH"]["Type"] == "NoUDH" and mine.parts[0].udh == b""


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400),
       st.sampled_from(["ucs2", "gsm7"]))
def test_parts_join_back_to_the_text_and_fit(text, encoding):
    message = encode(text, encoding, reference=200)
    assert "".join(p.text for p in message.parts) == message.text
    if encoding == "gsm7":
        assert all(c in GSM7_BASIC + GSM7_EXTENSION for c in message.text)
        limit, size = (160, septets) if message.count == 1 else (153, septets)
    else:
        limit, size = (70 if message.count == 1 else 67), (lambda t: len(t.encode("utf-16-be")) // 2)
    assert all(0 < size(p.text) <= limit for p in message.parts) or message.text == ""
    assert [p.udh[5] for p in message.parts if p.udh] == (list(range(1, message.count + 1))
                                                          if message.count > 1 else [])
