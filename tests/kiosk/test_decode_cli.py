"""`vaxkiosk decode` as the acceptance checks call it: a subprocess, one JSON line per file."""

import json
import random

import cv2
import pytest

from devtools.simulation.cards import card_frame, card_payload, code128_frame, random_identity
from tests.conftest import SAMPLE_QR, vaxkiosk


@pytest.fixture
def images(tmp_path):
    rng = random.Random(9)
    other = card_payload(random_identity(rng))
    files = {
        "card.png": (card_frame(SAMPLE_QR, rng, (640, 480)), [{"format": "QRCode", "text": SAMPLE_QR}]),
        "ảnh thẻ.jpg": (card_frame(other, rng, (1280, 720)), [{"format": "QRCode", "text": other}]),
        "barcode.png": (code128_frame("064195001234", rng), [{"format": "Code128", "text": "064195001234"}]),
        "empty.png": (card_frame(None, rng, (640, 480)), []),
    }
    for name, (image, _) in files.items():
        cv2.imwrite(str(tmp_path / name), image)
    return {str(tmp_path / name): codes for name, (_, codes) in files.items()}


@pytest.mark.parametrize("backend", [None, "zxing", "zbar", "cascade"])
def test_one_json_line_per_file_with_exact_text(images, backend):
    args = ["decode"] + (["--backend", backend] if backend else []) + list(images)
    proc = vaxkiosk(*args)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [line["file"] for line in lines] == list(images)
    for line in lines:
        assert line["codes"] == images[line["file"]]
        assert isinstance(line["ms"], float) and line["ms"] >= 0
        assert set(line) == {"file", "codes", "ms"}


def test_unreadable_file_is_reported_and_the_others_still_decoded(images, tmp_path):
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"hello")
    good = next(iter(images))
    proc = vaxkiosk("decode", str(bad), good)
    assert proc.returncode == 1
    first, second = (json.loads(line) for line in proc.stdout.decode("utf-8").splitlines())
    assert first["file"] == str(bad) and first["codes"] == [] and "not a readable image" in first["error"]
    assert second["codes"] == images[good]


def test_unknown_backend_is_a_usage_error(images):
    proc = vaxkiosk("decode", "--backend", "opencv", next(iter(images)))
    assert proc.returncode == 2 and b"invalid choice" in proc.stderr


def test_backend_names_agree_between_cli_config_and_driver():
    import typing

    from drivers.barcode import BACKENDS, DEFAULT_BACKEND
    from kiosk.config import CameraSection
    from kiosk.scan_commands import BACKEND_NAMES

    decoder = typing.get_type_hints(CameraSection)["decoder"]
    assert set(BACKEND_NAMES) == set(BACKENDS) == set(typing.get_args(decoder))
    assert CameraSection().decoder == DEFAULT_BACKEND
