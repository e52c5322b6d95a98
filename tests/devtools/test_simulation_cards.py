"""The synthetic people and frames other tests, the benchmark and the demo rely on."""

import random
import unicodedata

import numpy as np

from devtools.simulation.cards import card_frame, card_payload, card_video_frames, random_identity
from kiosk.identity import Identity, parse


def test_every_generated_payload_is_a_valid_card_with_the_same_fields():
    rng = random.Random(1)
    letters = set()
    for _ in range(1000):
        holder = random_identity(rng)
        result = parse(card_payload(holder))
        assert isinstance(result, Identity), (card_payload(holder), result)
        assert (result.id_number, result.full_name, result.dob) == (holder.id_number, holder.full_name, holder.dob)
        assert result.card == holder.card
        assert unicodedata.is_normalized("NFC", holder.full_name + holder.address)
        letters |= set((holder.full_name + holder.address).lower())
    marks = {c for c in unicodedata.normalize("NFD", "".join(letters)) if unicodedata.combining(c)}
    # The five tones (huyền, sắc, hỏi, ngã, nặng) and the breve, circumflex and horn of ă, â/ê/ô, ơ/ư.
    assert {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323", "\u0306", "\u0302", "\u031b"} <= marks
    assert "đ" in letters


def test_same_seed_same_people_and_frames():
    a, b = random.Random(77), random.Random(77)
    assert [random_identity(a) for _ in range(20)] == [random_identity(b) for _ in range(20)]
    payload = card_payload(random_identity(random.Random(5)))
    fa = card_frame(payload, random.Random(3), (320, 240), "hard")
    fb = card_frame(payload, random.Random(3), (320, 240), "hard")
    assert np.array_equal(fa, fb)
    va = list(card_video_frames([payload], (160, 120), seed=4, hold_frames=2, gap_frames=1))
    vb = list(card_video_frames([payload], (160, 120), seed=4, hold_frames=2, gap_frames=1))
    assert all(np.array_equal(x, y) for x, y in zip(va, vb)) and len(va) == len(vb) == 1 + 14 + 1


def test_frames_have_the_requested_size_and_type():
    rng = random.Random(2)
    for size in [(640, 480), (1280, 720)]:
        for difficulty in ["easy", "hard", "empty"]:
            frame = card_frame("x", rng, size, difficulty)
            assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
