"""drivers.gsm_modem on real Gammu (python-gammu's libGammu) against the virtual modem on a pty: what reaches the
network, decoded by an independent decoder, and each fault as the typed error a caller acts on."""

from __future__ import annotations

import subprocess
import time

import pytest

from drivers.gsm_modem import (GammuModem, ModemGone, ModemTimeout, NetworkRefused, SimNotReady, gammurc_problem,
                                write_gammurc)
from drivers.sms_encoding import encode, unaccent
from drivers.virtual_modem import VirtualModem
from tests.support.pdu import decode, messages

NUMBER = "+84912345678"
LONG_VI = ("Bạn đã tiêm mũi 2 (Comirnaty) ngày 03/06/2026. Mã chứng nhận: URN:UVCI:01:VN:VXK/GL-01/0A1B2C3D4E5F6071#K."
           " Kiểm tra mũi tiêm trên ứng dụng Sổ sức khỏe điện tử.")


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """One modem and one kept connection for the module: Gammu's set-up takes about 5 s."""
    folder = tmp_path_factory.mktemp("modem")
    with VirtualModem(folder / "ttyUSB-modem") as modem:
        driver = GammuModem(write_gammurc(folder / "gammurc", modem.path))
        yield modem, driver
        driver.close()


@pytest.fixture
def modem(line):
    modem, driver = line
    modem.refuse(None)
    modem.sim = "ready"
    modem.received.clear()
    yield modem
    modem.refuse(None)
    modem.sim = "ready"


@pytest.fixture
def driver(line, modem):
    return line[1]


def test_a_long_vietnamese_message_arrives_whole_in_ucs2_parts(modem, driver):
    message = encode(LONG_VI, "ucs2", reference=0x5C)
    assert message.count == 3
    progress = []
    references = driver.send(NUMBER, message, on_part=lambda i, ref: progress.append((i, ref)))
    received = modem.wait_for(3)
    assert references == [p.reference for p in received]
    assert progress == list(enumerate(references))
    parts = [decode(p.hex) for p in received]
    assert {(p.number, p.encoding, p.reference, p.parts) for p in parts} == {(NUMBER, "ucs2", 0x5C, 3)}
    assert [p.part for p in parts] == [1, 2, 3]
    assert messages(received) == [type(messages(received)[0])(NUMBER, "ucs2", LONG_VI, 3)]


def test_gsm7_sends_the_text_unaccented(modem, driver):
    text = LONG_VI + " Cảm ơn bạn."
    assert encode(text, "gsm7").count == 2
    driver.send("0912345678", encode(text, "gsm7", reference=9))
    received = messages(modem.wait_for(2))
    assert len(received) == 1
    assert received[0].encoding == "gsm7" and received[0].parts == 2
    assert received[0].number == "0912345678"  # a national number goes out as typed (type of number "unknown")
    assert received[0].text == unaccent(text)
    assert "Kiem tra mui tiem tren ung dung So suc khoe dien tu." in received[0].text


def test_a_network_refusal_carries_its_cms_code_and_keeps_the_connection(modem, driver):
    set_ups = modem.commands.count("AT+CMEE=1")
    modem.refuse(38)
    with pytest.raises(NetworkRefused) as refused:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert (refused.value.code, refused.value.cms, refused.value.meaning) == ("cms_38", 38, "network out of order")
    assert not refused.value.permanent and not refused.value.subscription
    assert modem.received == [] and len(modem.refused) >= 1
    modem.refuse(None)
    driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert decode(modem.wait_for(1)[0].hex).text == "Xin chao"
    assert modem.commands.count("AT+CMEE=1") == set_ups  # no new set-up: the modem was fine


def test_a_sim_without_credit_is_a_subscription_refusal(modem, driver):
    modem.refuse(50)
    with pytest.raises(NetworkRefused) as refused:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert refused.value.code == "cms_50" and refused.value.subscription


def test_no_sim_and_a_locked_sim(modem, driver):
    modem.sim = "absent"
    with pytest.raises(SimNotReady) as absent:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert absent.value.code == "sim_not_ready" and "310" in absent.value.detail
    modem.sim = "pin"
    with pytest.raises(SimNotReady) as locked:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert "311" in locked.value.detail
    assert modem.received == []


def test_a_refused_part_says_how_many_went_and_the_rest_follows_alone(modem, driver):
    message = encode(LONG_VI, "ucs2", reference=3)
    sent = []

    def refuse_after_first(index, reference):
        sent.append(index)
        modem.refuse(42)

    with pytest.raises(NetworkRefused) as refused:
        driver.send(NUMBER, message, on_part=refuse_after_first)
    assert refused.value.parts_sent == 1 and sent == [0]
    modem.refuse(None)
    driver.send(NUMBER, message, start_part=refused.value.parts_sent)
    received = modem.wait_for(3)
    assert [decode(p.hex).part for p in received] == [1, 2, 3]  # part 1 once, then 2 and 3
    assert messages(received)[0].text == LONG_VI


@pytest.mark.slow
def test_an_unplugged_modem_is_gone_at_once_and_found_again(modem, driver):
    modem.unplug()
    started = time.monotonic()
    with pytest.raises(ModemGone) as gone:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert gone.value.code == "modem_gone" and time.monotonic() - started < 1.0
    assert not driver.connected
    with pytest.raises(ModemGone):
        driver.send(NUMBER, encode("Xin chao", "gsm7"))  # still gone: Gammu cannot open the device
    modem.plug()
    driver.send(NUMBER, encode("Lai roi", "gsm7"))
    assert decode(modem.wait_for(1)[0].hex).text == "Lai roi"
    # Pulled out and back in between two sends: the same path names a new terminal, and the driver notices
    modem.unplug()
    modem.plug()
    driver.send(NUMBER, encode("Lan nua", "gsm7"))
    assert decode(modem.wait_for(2)[1].hex).text == "Lan nua"


@pytest.mark.slow
def test_a_modem_that_never_answers_is_a_timeout(tmp_path):
    with VirtualModem(tmp_path / "ttyUSB-mute") as modem:
        modem.mute()
        driver = GammuModem(write_gammurc(tmp_path / "gammurc", modem.path))
        started = time.monotonic()
        with pytest.raises(ModemTimeout) as timeout:
            driver.send(NUMBER, encode("Xin chao", "gsm7"))
        assert timeout.value.code == "timeout"
        assert 5 < time.monotonic() - started < 60  # Gammu's own wait, about 12 s
        assert not driver.connected and modem.received == []


def test_a_gammurc_that_cannot_be_read(tmp_path):
    driver = GammuModem(tmp_path / "missing-gammurc")
    with pytest.raises(Exception) as error:
        driver.send(NUMBER, encode("Xin chao", "gsm7"))
    assert getattr(error.value, "code", None) == "bad_gammurc"


@pytest.mark.slow
def test_debian_gammu_command_line_talks_to_the_virtual_modem_too(tmp_path):
    """The virtual modem answers what Debian's Gammu 1.42 sends as well as the wheel's newer libGammu."""
    with VirtualModem(tmp_path / "ttyUSB-cli") as modem:
        rc = write_gammurc(tmp_path / "gammurc", modem.path)
        done = subprocess.run(["gammu", "-c", rc, "sendsms", "TEXT", NUMBER, "-unicode", "-text", "Mời số 7"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "message reference=0" in done.stdout
        part = decode(modem.wait_for(1)[0].hex)
        assert (part.number, part.encoding, part.text) == (NUMBER, "ucs2", "Mời số 7")
        assert "AT+CMGF=0" in modem.commands and "AT+CSCA?" in modem.commands


def test_the_configuration_file_is_checked_before_any_modem_is_asked(tmp_path):
    assert gammurc_problem("") is None  # no modem configured: nothing to check
    assert gammurc_problem(str(write_gammurc(tmp_path / "ok", "/dev/ttyUSB0"))) is None
    assert "No such file" in gammurc_problem(str(tmp_path / "missing"))
    (tmp_path / "bt").write_text("[gammu]\ndevice = 00:11:22:33:44:55\nconnection = bluerfat\n", encoding="utf-8")
    assert "USB and serial modems use 'at'" in gammurc_problem(str(tmp_path / "bt"))
    (tmp_path / "nodev").write_text("[gammu]\nconnection = at\n", encoding="utf-8")
    assert gammurc_problem(str(tmp_path / "nodev")).endswith("(no device)")
    (tmp_path / "other").write_text("[smsd]\nservice = files\n", encoding="utf-8")
    assert gammurc_problem(str(tmp_path / "other")).endswith("(no [gammu] section)")
