"""Every barcode backend on real rendered codes: exact Vietnamese, QR + Code 128 only, corners where the code is, text
as the symbol's ECI says; and the two-pass decoder's second look on frames zxing-cpp's single pass cannot read."""

import random

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from devtools.simulation.cards import card_frame, card_payload, qr_matrix, random_identity
from drivers import second_pass
from drivers.barcode import BACKENDS, CODE128, QR, make_decoder
from kiosk.identity import Identity, parse
from tests.conftest import SAMPLE_QR

ZXING_BACKENDS = [name for name in BACKENDS if name != "zbar"]  # zbar does not report ECI designators


def clean_qr(payload: str | bytes, module_px: int = 4) -> np.ndarray:
    modules = qr_matrix(payload)
    return np.where(np.kron(modules, np.ones((module_px, module_px), bool)), 0, 255).astype(np.uint8)


def code128(text: str) -> np.ndarray:
    bars = np.asarray(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128),
                                                      scale=2))
    return np.pad(bars, 30, constant_values=255)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_vietnamese_payloads_come_back_exact(backend):
    # Payloads that zbar's charset guessing garbled in our measurements: many tone marks, "Nữ", no ECI marker.
    decode = make_decoder(backend)
    rng = random.Random(42)
    payloads = [SAMPLE_QR] + [card_payload(random_identity(rng)) for _ in range(150)]
    for payload in payloads:
        codes = decode(clean_qr(payload))
        assert [(c.format, c.text) for c in codes] == [(QR, payload)]
        assert codes[0].raw == payload.encode("utf-8")


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_code128_with_twelve_digits(backend):
    codes = make_decoder(backend)(code128("064195001234"))
    assert [(c.format, c.text) for c in codes] == [(CODE128, "064195001234")]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_other_symbologies_are_not_searched(backend):
    for fmt, text in [(zxingcpp.BarcodeFormat.EAN13, "893456789012"), (zxingcpp.BarcodeFormat.DataMatrix, "hello"),
                      (zxingcpp.BarcodeFormat.Code39, "ABC123")]:
        image = np.pad(np.asarray(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, fmt), scale=4)),
                       30, constant_values=255)
        assert zxingcpp.read_barcodes(image), f"the {fmt} test image itself must be readable"
        assert make_decoder(backend)(image) == []


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_corners_outline_the_code_in_a_camera_frame(backend):
    frame = np.full((480, 640), 200, np.uint8)
    qr = clean_qr(SAMPLE_QR, 5)
    y, x = 120, 300
    frame[y:y + qr.shape[0], x:x + qr.shape[1]] = qr
    (code,) = make_decoder(backend)(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    quiet = 4 * 5
    xs, ys = [p[0] for p in code.points], [p[1] for p in code.points]
    assert abs(min(xs) - (x + quiet)) <= 6 and abs(max(xs) - (x + qr.shape[1] - quiet)) <= 6
    assert abs(min(ys) - (y + quiet)) <= 6 and abs(max(ys) - (y + qr.shape[0] - quiet)) <= 6


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_bytes_that_are_not_utf8_keep_their_raw_bytes(backend):
    raw = "Nguyễn Thị Hà".encode("latin-1", "replace") + b"N\xfe\xff"
    (code,) = make_decoder(backend)(clean_qr(raw))
    assert code.raw == raw
    assert "\ufffd" in code.text


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_empty_and_cluttered_frames_give_nothing(backend):
    rng = random.Random(5)
    decode = make_decoder(backend)
    for _ in range(10):
        assert decode(card_frame(None, rng, (640, 480))) == []


def test_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="nosuch"):
        make_decoder("nosuch")


def symbol_prefix(image: np.ndarray) -> bytes:
    """The symbology identifier zxing-cpp puts before the content in the ECI protocol: ]Q2 when ECI is present."""
    (found,) = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.HexECI)
    return bytes.fromhex(found.text)[:3]


def test_segno_writes_byte_mode_without_eci():
    # The card's QR carries UTF-8 bytes with no ECI; our test codes must be the same or the tests prove nothing.
    # (zxing-cpp's symbology_identifier says ]Q1 either way: only the ECI protocol's prefix tells them apart.)
    qr = segno.make(SAMPLE_QR.encode("utf-8"), error="m", micro=False, boost_error=False, eci=False)
    assert qr.mode == "byte"
    assert symbol_prefix(clean_qr(SAMPLE_QR)) == b"]Q1"
    assert symbol_prefix(eci_qr(SAMPLE_QR, "utf-8")) == b"]Q2"


# -- ECI: text as the symbol says -------------------------------------------------------------------------------------
def eci_qr(content: str | bytes, encoding: str, module_px: int = 4) -> np.ndarray:
    """A QR code with an ECI designator for `encoding`, written by segno, rendered like clean_qr."""
    qr = segno.make(content, encoding=encoding, eci=True, error="m", micro=False, mode="byte")
    modules = np.pad(np.array(qr.matrix, dtype=bool), 4)
    return np.where(np.kron(modules, np.ones((module_px, module_px), bool)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("backend", ZXING_BACKENDS)
def test_utf8_eci_card_payload_reads_exact_and_parses(backend):
    (code,) = make_decoder(backend)(eci_qr(SAMPLE_QR, "utf-8"))
    assert (code.text, code.raw, code.eci) == (SAMPLE_QR, SAMPLE_QR.encode("utf-8"), (26,))
    assert code.payload == SAMPLE_QR.encode("utf-8")  # UTF-8 by ECI: the parser gets the bytes, as without ECI
    assert isinstance(parse(code.payload), Identity)


@pytest.mark.parametrize("backend", ZXING_BACKENDS)
@pytest.mark.parametrize("text, encoding, eci", [
    ("Привет, мир", "iso-8859-5", 7),  # bytes that are not UTF-8 at all
    ("Ã© Ã¨ Ã¼", "cp1252", 23),  # bytes that are valid UTF-8 ("é è ü"): the designator wins, no guess
    ("カード番号", "shift_jis", 20),
])
def test_a_declared_charset_is_honoured(backend, text, encoding, eci):
    (code,) = make_decoder(backend)(eci_qr(text, encoding))
    assert (code.text, code.eci, code.raw) == (text, (eci,), text.encode(encoding))
    assert code.payload == text


@pytest.mark.parametrize("backend", ZXING_BACKENDS)
def test_bytes_invalid_in_their_declared_charset_never_become_text(backend):
    raw = "Nguyễn".encode("utf-8")[:-1] + b"\xff\xfe"  # declared UTF-8, but cut and followed by two invalid bytes
    (code,) = make_decoder(backend)(eci_qr(raw, "utf-8"))
    assert code.raw == raw and code.eci == (26,) and "\ufffd" in code.text
    assert parse(code.payload).code == "not_utf8"
    raw = b"\x81\x20 so 12"  # 0x81 0x20 is no Shift-JIS character
    (code,) = make_decoder(backend)(eci_qr(raw, "shift_jis"))
    assert code.eci == (20,) and isinstance(code.payload, str)
    assert parse(code.payload).code == "not_utf8"


def test_zbar_reads_an_eci_code_as_utf8_bytes():
    # zbar reports no designator: what it reads is taken as UTF-8 (documented in docs/scanning.md).
    (code,) = make_decoder("zbar")(eci_qr(SAMPLE_QR, "utf-8"))
    assert (code.text, code.eci, code.payload) == (SAMPLE_QR, (), SAMPLE_QR.encode("utf-8"))


# -- the second pass ---------------------------------------------------------------------------------------------------
def hard_frames(count: int, seed: int) -> list[tuple[str, np.ndarray]]:
    rng = random.Random(seed)
    frames = []
    for _ in range(count):
        payload = card_payload(random_identity(rng))
        frames.append((payload, card_frame(payload, rng, (640, 480), "hard")))
    return frames


def test_hard_frames_the_single_pass_misses_are_read_by_the_second_pass():
    single, two_pass = make_decoder("zxing"), make_decoder("twopass")
    missed = [(p, f) for p, f in hard_frames(40, seed=2027) if p not in [c.text for c in single(f)]]
    assert len(missed) >= 12, "the hard frames must be hard for zxing-cpp's single pass, or this proves nothing"
    rescued = 0
    for payload, frame in missed:
        codes = two_pass(frame)
        assert all(c.text == payload for c in codes)
        if codes:
            assert all(c.second_pass and c.format == QR for c in codes)
            rescued += 1
    assert rescued >= 0.5 * len(missed), f"{rescued} of {len(missed)}"


def test_readable_and_empty_frames_are_left_to_the_first_pass():
    rng = random.Random(8)
    two_pass = make_decoder("twopass")
    for _ in range(10):
        payload = card_payload(random_identity(rng))
        assert [(c.text, c.second_pass) for c in two_pass(card_frame(payload, rng, (640, 480), "easy"))] == \
               [(payload, False)]
        empty = cv2.cvtColor(card_frame(None, rng, (640, 480)), cv2.COLOR_BGR2GRAY)
        assert second_pass.regions(empty, []) == [] and two_pass(empty) == []


def small_noisy_code(payload: str | bytes | np.ndarray, seed: int, module_px: float = 2.2, blur: float = 0.5,
                     noise: float = 20.0, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A code of `module_px` pixels per module, blurred by `blur` modules and with gain noise, on a grey desk."""
    modules = qr_matrix(payload) if not isinstance(payload, np.ndarray) else payload
    big = np.where(np.kron(modules, np.ones((8, 8), bool)), 30.0, 200.0).astype(np.float32)
    side = int(round(modules.shape[0] * module_px))
    frame = np.full((360, 480), 110, np.float32)
    y, x = 100 + shift[1], 150 + shift[0]
    frame[y:y + side, x:x + side] = cv2.resize(big, (side, side), interpolation=cv2.INTER_AREA)
    frame = cv2.GaussianBlur(frame, (0, 0), blur * module_px)
    frame += np.random.default_rng(seed).normal(0, noise, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_a_card_held_still_is_read_from_the_mean_of_its_frames():
    frames = [small_noisy_code(SAMPLE_QR, seed=i, shift=(i % 2, (i // 2) % 2)) for i in range(4)]
    single = make_decoder("twopass")
    assert all(single(f) == [] for f in frames), "each frame alone must be too noisy, or this proves nothing"
    camera = make_decoder("twopass", frames=True)
    read_at = next((i for i, f in enumerate(frames) if [c.text for c in camera(f)] == [SAMPLE_QR]), None)
    assert read_at is not None and read_at >= 1


def test_a_new_card_held_where_the_last_one_was_is_never_read_as_the_last_one():
    rng = random.Random(3)
    for trial in range(6):
        other = card_payload(random_identity(rng))
        camera = make_decoder("twopass", frames=True)
        for i in range(3):  # the first card, held still but too noisy to read
            camera(small_noisy_code(SAMPLE_QR, seed=100 * trial + i, shift=(i % 2, 0)))
        for i in range(4):
            texts = [c.text for c in camera(small_noisy_code(other, seed=100 * trial + 10 + i, shift=(i % 2, 0)))]
            assert SAMPLE_QR not in texts and all(t == other for t in texts)


def damaged(payload: str, fraction: float, seed: int) -> np.ndarray:
    """The code's modules with `fraction` of those outside the finder patterns flipped (ink, scratches, glare)."""
    modules = qr_matrix(payload).copy()
    n = modules.shape[0]
    rng = np.random.default_rng(seed)
    inside = np.zeros_like(modules)
    inside[4:n - 4, 4:n - 4] = True
    for y0, x0 in ((4, 4), (4, n - 12), (n - 12, 4)):  # keep the finders (and their separators) intact
        inside[y0:y0 + 8, x0:x0 + 8] = False
    flip = inside & (rng.random(modules.shape) < fraction)
    return modules ^ flip


@pytest.mark.parametrize("backend", ["twopass", "zxing"])
def test_a_damaged_code_never_yields_a_wrong_text(backend):
    # Damage from within the error correction's reach (level M: about 15 % of codewords) to far beyond it, clean
    # and small-and-blurred (which sends the frame to the second pass). The only acceptable texts: exact or none.
    decode = make_decoder(backend)
    read = unread = 0
    for seed, fraction in enumerate([0.01, 0.02, 0.04, 0.08, 0.15, 0.3] * 4):
        modules = damaged(SAMPLE_QR, fraction, seed)
        clean = np.where(np.kron(modules, np.ones((4, 4), bool)), 0, 255).astype(np.uint8)
        for image in (clean, small_noisy_code(modules, seed, module_px=2.6, blur=0.35, noise=6.0)):
            texts = [c.text for c in decode(image)]
            assert texts in ([], [SAMPLE_QR]), texts
            read += bool(texts)
            unread += not texts
    assert read and unread, "both readable and unreadable damage must occur, or this proves nothing"


@pytest.mark.parametrize("backend", ["zxing", "twopass"])
@pytest.mark.parametrize("angle", [-20, 0, 20])
def test_code128_tilted_like_a_card_held_by_hand(angle, backend):
    image = np.pad(code128("064195001234"), 120, constant_values=255)
    h, w = image.shape
    tilted = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1), (w, h), borderValue=255)
    assert [c.text for c in make_decoder(backend)(tilted)] == ["064195001234"]
