"""central.alert_sms on real Gammu against the virtual modem on a pty: what reaches the network (decoded by
smspdudecoder), each alert once per number, the per-number rate limit, refusals kept and retried, kill -9 between
"the modem took it" and "marked sent", and the whole path from a kiosk's paper-out to the operations phone."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from base.config import ConfigError
from central.alert_sms import AlertSmsFailed, SmsAlertChannel, alert_text
from central.alert_sms import Settings as AlertSmsSection
from central.ops_config import from_dict
from central.ops_store import open_ops_store
from drivers.gsm_modem import GammuModem, write_gammurc
from drivers.sms_encoding import unaccent
from drivers.virtual_modem import VirtualModem
from tests.central.conftest import EdgeStatus, start_central
from tests.conftest import ROOT
from tests.support.pdu import messages
from tests.support.sync import wait_for

ON_CALL = ["0912345678", "+84387654321"]


def alert(alert_id: int, code: str = "printer_paper_out", detail: str = "paper out") -> dict:
    return {"id": alert_id, "code": code, "site": "GL-01", "kiosk": "gl-01-k1", "detail": detail}


class Clock:
    def __init__(self, at: float = 1_780_000_000.0):
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """One virtual modem and one kept Gammu connection for the module: Gammu's set-up takes about 5 s."""
    folder = tmp_path_factory.mktemp("alert-modem")
    with VirtualModem(folder / "ttyUSB-alerts") as modem:
        driver = GammuModem(write_gammurc(folder / "gammurc", modem.path))
        yield modem, driver
        driver.close()


@pytest.fixture
def modem(line):
    modem, _ = line
    modem.refuse(None)
    modem.received.clear()
    yield modem
    modem.refuse(None)


def channel(tmp_path, line, clock=None, **settings) -> SmsAlertChannel:
    section = AlertSmsSection(**{"gammurc": str(tmp_path / "unused"), "numbers": ON_CALL, **settings})
    return SmsAlertChannel(section, open_ops_store(tmp_path / "ops.db"), modem=line[1], now=clock or Clock())


def test_an_alert_reaches_each_number_once_unaccented_in_gsm7(tmp_path, line, modem):
    sms = channel(tmp_path, line)
    sms.send(alert(1))
    got = messages(modem.wait_for(2))
    expected = "VaxKiosk: May in het giay / Printer out of paper. Diem GL-01, kiosk gl-01-k1: paper out."
    assert [(m.number, m.encoding, m.text, m.parts) for m in got] == [
        ("+84912345678", "gsm7", expected, 1), ("+84387654321", "gsm7", expected, 1)]
    sms.send(alert(1))  # the outbox may hand the same alert again: nobody is texted twice
    assert len(modem.received) == 2
    assert sms.health() == {"numbers": ["091••••678", "038••••321"], "texts": {"sent": 2}}


def test_ucs2_keeps_the_vietnamese_and_a_long_detail_is_cut_to_two_parts(tmp_path, line, modem):
    sms = channel(tmp_path, line, numbers=ON_CALL[:1], encoding="ucs2")
    sms.send(alert(7, "outbox_backlog", "Dữ liệu tồn đọng " * 20))
    got = messages(modem.wait_for(2))
    assert len(got) == 1 and got[0].encoding == "ucs2" and got[0].parts == 2
    assert got[0].text.startswith("VaxKiosk: Dữ liệu chưa gửi tồn đọng / Outbox backlog too large. "
                                  "Điểm GL-01")
    assert got[0].text.endswith("...")


def test_each_number_gets_at_most_max_per_hour_and_then_hears_what_was_held_back(tmp_path, line, modem):
    clock = Clock()
    sms = channel(tmp_path, line, clock, numbers=ON_CALL[:1], max_per_hour=2)
    for alert_id in (1, 2, 3, 4):
        sms.send(alert(alert_id))
        clock.at += 60
    assert len(messages(modem.wait_for(2))) == 2
    assert sms.health()["texts"] == {"sent": 2, "suppressed": 2}
    clock.at += 3600
    sms.send(alert(3))  # the shared outbox trying a held-back alert again: settled, not retried into a flood
    assert sms.health()["texts"] == {"sent": 2, "suppressed": 2}
    sms.send(alert(5, "disk_full", "disk 97% used (limit 90%)"))
    last = messages(modem.wait_for(3))[-1]
    assert last.text.endswith("Con 2 canh bao khac chua nhan, xem bang dieu khien.")
    assert "Bo nho gan day / Disk almost full" in last.text


def test_a_network_refusal_is_raised_kept_and_the_retry_texts_only_who_missed_it(tmp_path, line, modem):
    sms = channel(tmp_path, line)
    modem.refuse(38)
    with pytest.raises(AlertSmsFailed) as failed:
        sms.send(alert(3))
    assert failed.value.codes == {"091••••678": "cms_38", "038••••321": "cms_38"}
    assert modem.received == [] and sms.health()["texts"] == {"failed": 2}
    modem.refuse(None)
    sms.send(alert(3))
    assert len(messages(modem.wait_for(2))) == 2
    sms.send(alert(3))
    assert len(modem.received) == 2


def test_a_number_the_network_refuses_for_good_is_not_tried_again(tmp_path, line, modem):
    sms = channel(tmp_path, line, numbers=ON_CALL[:1])
    modem.refuse(1)  # unassigned number
    sms.send(alert(4))  # nothing to try again: the outbox is not told to
    assert sms.health()["texts"] == {"refused": 1}
    modem.refuse(None)
    sms.send(alert(4))
    assert modem.received == []


def test_a_gone_modem_fails_at_once_and_the_alert_goes_when_it_is_back(tmp_path, line, modem):
    sms = channel(tmp_path, line, numbers=ON_CALL[:1])
    modem.unplug()
    try:
        with pytest.raises(AlertSmsFailed) as failed:
            sms.send(alert(5))
        assert failed.value.codes == {"091••••678": "modem_gone"}
    finally:
        modem.plug()
    sms.send(alert(5))
    assert [m.text for m in messages(modem.wait_for(1))] == [unaccent(alert_text(alert(5)))]


def test_numbers_are_masked_in_logs(tmp_path, line, modem, caplog):
    sms = channel(tmp_path, line, numbers=ON_CALL[:1])
    modem.refuse(42)
    with caplog.at_level(logging.INFO, logger="vaxkiosk.central.alert_sms"), pytest.raises(AlertSmsFailed):
        sms.send(alert(6))
    assert "091••••678" in caplog.text and "0912345678" not in caplog.text and "912345678" not in caplog.text


def test_the_section_is_checked_when_central_starts(tmp_path):
    rc = str(write_gammurc(tmp_path / "gammurc", "/dev/ttyUSB0"))
    with pytest.raises(ConfigError, match="numbers"):
        from_dict({"alert_sms": {"gammurc": rc, "numbers": ["0212345678"]}})  # a landline cannot get texts
    with pytest.raises(ConfigError, match="numbers"):
        from_dict({"alert_sms": {"gammurc": rc, "numbers": ["0912345678", "+84912345678"]}})  # the same phone twice
    with pytest.raises(ConfigError, match="encoding"):
        from_dict({"alert_sms": {"gammurc": rc, "numbers": ON_CALL, "encoding": "utf8"}})
    with pytest.raises(ConfigError, match="gammurc"):
        from_dict({"alert_sms": {"gammurc": str(tmp_path / "missing"), "numbers": ON_CALL}})
    with pytest.raises(ConfigError, match="numbers"):
        from_dict({"alert_sms": {"gammurc": rc}})  # a modem but nobody to text
    with pytest.raises(ConfigError, match="numbers"):
        from_dict({"alert_sms": {"gammurc": rc, "numbers": []}})
    assert from_dict({"alert_sms": {"gammurc": rc, "numbers": ON_CALL}}).channels["sms"].numbers == ON_CALL
    assert "sms" not in from_dict({}).channels  # no section: no SMS alerts


SENDER = textwrap.dedent("""
    import sys
    from central.alert_sms import Settings, SmsAlertChannel
    from central.ops_store import open_ops_store
    section = Settings(gammurc=sys.argv[1], numbers=["0912345678"])
    SmsAlertChannel(section, open_ops_store(sys.argv[2])).send(
        {"id": 9, "code": "kiosk_lost", "site": "GL-01", "kiosk": "gl-01-k1", "detail": "lost for 130 s"})
""")


@pytest.mark.slow
def test_kill_9_between_the_modem_taking_it_and_the_mark_sends_it_no_second_time(tmp_path):
    with VirtualModem(tmp_path / "ttyUSB-kill") as modem:
        rc = str(write_gammurc(tmp_path / "gammurc", modem.path))
        modem.hold()  # the modem takes the PDU and the answer never comes: the sender is between the two
        sender = subprocess.Popen([sys.executable, "-c", SENDER, rc, str(tmp_path / "ops.db")], cwd=ROOT)
        try:
            modem.wait_for(1)
        finally:
            os.kill(sender.pid, signal.SIGKILL)
            sender.wait(10)
        modem.hold(False)
        store = open_ops_store(tmp_path / "ops.db")
        driver = GammuModem(rc)
        try:
            sms = SmsAlertChannel(AlertSmsSection(gammurc=rc, numbers=["0912345678"]), store, modem=driver)
            assert sms.health()["texts"] == {"sending": 1}  # what the killed sender left
            sms.send({"id": 9, "code": "kiosk_lost", "site": "GL-01", "kiosk": "gl-01-k1", "detail": "lost"})
            assert sms.health()["texts"] == {"uncertain": 1}  # may have gone: never sent again
            sms.send(alert(10))
            got = messages(modem.wait_for(2))
        finally:
            driver.close()
        assert [m.text.split(".")[0] for m in got] == ["VaxKiosk: Mat ket noi voi kiosk / Kiosk lost",
                                                        "VaxKiosk: May in het giay / Printer out of paper"]


@pytest.mark.slow
def test_a_kiosk_out_of_paper_reaches_the_operations_phone(tmp_path, mosquitto, kiosk_apps):
    with VirtualModem(tmp_path / "ttyUSB-central") as modem:
        app = start_central(tmp_path, mosquitto.port, sections={"alert_sms": {
            "gammurc": str(write_gammurc(tmp_path / "gammurc", modem.path)), "numbers": ["0912345678"],
            "encoding": "ucs2"}})
        try:
            kiosk_apps("GL-01", "gl-edge", EdgeStatus("printer", online=True, paper="out"))
            ops = next(p for p in app.parts if p.name == "web")
            wait_for(lambda: ops.health()["alert_sms"]["texts"] == {"sent": 1}, 60, what="alert texted")
            got = messages(modem.received)
        finally:
            app.stop()
    assert [(m.number, m.encoding, m.parts) for m in got] == [("+84912345678", "ucs2", 2)]
    assert got[0].text == ("VaxKiosk: Máy in hết giấy / Printer out of paper. "
                           "Điểm GL-01, kiosk gl-edge: hết giấy · paper out.")

