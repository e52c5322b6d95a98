"""Only typed results ever come out of the parser: property tests and a 100,000-input fuzz run."""

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.identity import MESSAGES, Identity, KioskCode, ScanError, parse, provinces

TYPED = (Identity, KioskCode, ScanError)
TODAY = dt.date(2026, 11, 25)


def check(result):
    assert isinstance(result, TYPED)
    if isinstance(result, ScanError):
        assert result.code in MESSAGES
    return result


@given(st.binary(max_size=600))
@settings(max_examples=2000, deadline=None)
def test_any_bytes(raw):
    check(parse(raw, today=TODAY))


@given(st.text(max_size=400))
@settings(max_examples=2000, deadline=None)
def test_any_text(text):
    check(parse(text, today=TODAY))


@given(st.lists(st.text(max_size=40), min_size=1, max_size=14))
@settings(max_examples=2000, deadline=None)
def test_any_field_lists(fields):
    check(parse("|".join(fields), today=TODAY))


@st.composite
def valid_cards(draw):
    code = draw(st.sampled_from(sorted(provinces())))
    dob = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
    female = draw(st.booleans())
    digit4 = (dob.year // 100 - 19) * 2 + int(female)
    number = f"{code}{digit4}{dob.year % 100:02d}{draw(st.integers(0, 999999)):06d}"
    issued = draw(st.dates(min_value=dob, max_value=TODAY))
    name = draw(st.sampled_from(["Nguyễn Văn An", "Trần Thị Hồng Nhung", "Lê Đức Thọ", "Phạm Ngọc Ẩn"]))
    return number, name, dob, female, issued


@given(valid_cards())
@settings(max_examples=1000, deadline=None)
def test_every_consistent_card_is_accepted_exactly(card):
    number, name, dob, female, issued = card
    text = f"{number}||{name}|{dob:%d%m%Y}|{'Nữ' if female else 'Nam'}|Hà Nội|{issued:%d%m%Y}"
    r = parse(text, today=TODAY)
    assert isinstance(r, Identity), r
    assert (r.id_number, r.full_name, r.dob, r.sex) == (number, name, dob, "female" if female else "male")


@given(valid_cards(), st.integers(0, 11), st.integers(0, 9))
@settings(max_examples=1000, deadline=None)
def test_a_changed_century_or_year_digit_is_caught(card, pos, digit):
    number, name, dob, female, issued = card
    if pos not in (3, 4, 5) or number[pos] == str(digit):
        return
    edited = number[:pos] + str(digit) + number[pos + 1:]
    text = f"{edited}||{name}|{dob:%d%m%Y}|{'Nữ' if female else 'Nam'}|Hà Nội|{issued:%d%m%Y}"
    assert isinstance(parse(text, today=TODAY), ScanError)


def test_fuzz_100k_random_inputs():
    """Mutations of real payloads plus random bytes: 100,000 inputs, typed results only."""
    rng = random.Random(20261125)
    seeds = [
        "064195001234|230987654|Trần Thị Hồng Nhung|12081995|Nữ|Tổ 5, Phường Yên Đỗ, TP Pleiku, Gia Lai|03062021",
        "001099001234||Nguyễn Văn An|01011999|Nam|Hà Nội|10082024||||",
        "064195001234", "HC1:6BFOXN%TS3DH0YOJ58S", "",
    ]
    alphabet = "0123456789|/ \r\n\ufeffaăâđêôơưAĂÂĐÊÔƠƯáàảãạ\x00\x7f" + "".join(chr(c) for c in range(0x300, 0x310))
    counts = {"ok": 0, "error": 0}
    for i in range(100_000):
        kind = i % 4
        if kind == 0:
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
        else:
            s = list(rng.choice(seeds))
            for _ in range(rng.randint(1, 6)):
                op = rng.random()
                pos = rng.randint(0, len(s))
                if op < 0.4:
                    s.insert(pos, rng.choice(alphabet))
                elif op < 0.7 and s:
                    del s[min(pos, len(s) - 1)]
                elif s:
                    s[min(pos, len(s) - 1)] = rng.choice(alphabet)
            raw = "".join(s) if kind != 3 else "".join(s).encode("utf-8", "surrogatepass")
        result = check(parse(raw, today=TODAY))
        counts["ok" if result.ok else "error"] += 1
    assert counts["ok"] > 1000 and counts["error"] > 50_000, counts
