"""Both barcode backends on real rendered codes: exact Vietnamese, QR + Code 128 only, corners where the code is."""

import random

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from drivers.barcode import BACKENDS, CODE128, QR, make_decoder
from kiosk.simulation.cards import card_frame, card_payload, qr_matrix, random_identity
from tests.conftest import SAMPLE_QR


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


def test_segno_writes_byte_mode_without_eci():
    # The card's QR carries UTF-8 bytes with no ECI; our test codes must be the same or the tests prove nothing.
    qr = segno.make(SAMPLE_QR.encode("utf-8"), error="m", micro=False, boost_error=False, eci=False)
    assert qr.mode == "byte"
    (found,) = zxingcpp.read_barcodes(clean_qr(SAMPLE_QR))
    assert found.symbology_identifier == "]Q1"  # ]Q2 would mean an ECI header is present


@pytest.mark.parametrize("angle", [-20, 0, 20])
def test_code128_tilted_like_a_card_held_by_hand(angle):
    image = np.pad(code128("064195001234"), 120, constant_values=255)
    h, w = image.shape
    tilted = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1), (w, h), borderValue=255)
    assert [c.text for c in make_decoder("zxing")(tilted)] == ["064195001234"]
