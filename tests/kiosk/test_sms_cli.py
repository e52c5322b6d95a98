"""The `vaxkiosk sms-test` contract (kept exactly: acceptance checks use it), on the real command line, real Gammu
and the virtual modem: one JSON line {"sent", "parts", "encoding", "error"}, exit 0 only when sent."""

from __future__ import annotations

import json

import pytest

from drivers.gsm_modem import write_gammurc
from drivers.sms_encoding import unaccent
from drivers.virtual_modem import VirtualModem
from tests.conftest import vaxkiosk
from tests.support.pdu import messages

pytestmark = pytest.mark.slow

LONG = ("Mời số 12 đến bàn 3 ngay bây giờ. Nếu bạn đang ở ngoài, vui lòng quay lại khu vực chờ trong năm phút. "
        "Cảm ơn bạn.")


@pytest.fixture
def modem(tmp_path):
    with VirtualModem(tmp_path / "ttyUSB-test") as m:
        yield m


def sms_test(tmp_path, device, *args):
    gammurc = write_gammurc(tmp_path / "gammurc", device)
    proc = vaxkiosk("sms-test", "--gammurc", str(gammurc), *args, timeout=180)
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr
    answer = json.loads(lines[0])
    assert list(answer) == ["sent", "parts", "encoding", "error"]
    return proc.returncode, answer


def test_a_vietnamese_text_goes_in_ucs2_parts(tmp_path, modem):
    code, answer = sms_test(tmp_path, modem.path, "+84912345678", LONG)
    assert (code, answer) == (0, {"sent": True, "parts": 2, "encoding": "ucs2", "error": None})
    [message] = messages(modem.received)
    assert (message.number, message.encoding, message.text, message.parts) == ("+84912345678", "ucs2", LONG, 2)


def test_plain_text_goes_in_gsm7_and_gsm7_can_be_asked_for(tmp_path, modem):
    assert sms_test(tmp_path, modem.path, "0912345678", "Test 1 [ok] 5€") == (
        0, {"sent": True, "parts": 1, "encoding": "gsm7", "error": None})
    assert sms_test(tmp_path, modem.path, "--encoding", "gsm7", "0912345678", LONG) == (
        0, {"sent": True, "parts": 1, "encoding": "gsm7", "error": None})
    first, second = messages(modem.received)
    assert (first.encoding, first.text, first.number) == ("gsm7", "Test 1 [ok] 5€", "0912345678")
    assert second.text == unaccent(LONG) and second.text.startswith("Moi so 12 den ban 3")


def test_a_network_refusal_is_its_cms_code(tmp_path, modem):
    modem.refuse(38)
    code, answer = sms_test(tmp_path, modem.path, "+84912345678", "Xin chao")
    assert code != 0 and answer == {"sent": False, "parts": 1, "encoding": "gsm7", "error": "cms_38"}
    assert modem.received == []


def test_no_modem_and_no_number(tmp_path):
    code, answer = sms_test(tmp_path, tmp_path / "ttyUSB-nothing", "+84912345678", "Xin chào")
    assert code != 0 and answer == {"sent": False, "parts": 1, "encoding": "ucs2", "error": "modem_gone"}
    code, answer = sms_test(tmp_path, tmp_path / "ttyUSB-nothing", "số của tôi", "Xin chao")
    assert code != 0 and answer["error"] == "bad_number" and answer["sent"] is False
