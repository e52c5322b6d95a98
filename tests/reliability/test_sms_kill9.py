"""kill -9 of the kiosk between "the modem took the text" and "marked sent": no second send, and staff see it.

A real `python -m kiosk kiosk` process sends through real Gammu to the virtual modem, which takes the PDU and holds
its answer, so the kiosk is killed exactly in that window (the row is `sending`, the network has the text). After
the restart the text is `uncertain` ("may have been sent" on the technician page, number masked) and never goes
again, while a later text does.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request

import pytest

from drivers.gsm_modem import write_gammurc
from drivers.virtual_modem import VirtualModem
from kiosk.checkin import CheckinService
from kiosk.clock import SIMULATED_CLOCK_ENV, Clock
from kiosk.config import load
from kiosk.identity import parse
from kiosk.sms import optin
from kiosk.store import Store
from tests.conftest import vaxkiosk, write_config
from tests.support.burst import payload
from tests.support.net import free_port, wait_port
from tests.support.pdu import messages
from tests.support.process import Proc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

TECH_PIN = "775120"


def noon_today_offset(path) -> None:
    """Local noon of today for every clock of the test (this process and the kiosk's): midnight cannot fall inside."""
    now = dt.datetime.now(dt.timezone.utc)
    local = now.astimezone(dt.timezone(dt.timedelta(hours=7)))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    path.write_text(json.dumps({"offset_seconds": (noon - local).total_seconds(), "synced": True}))


def technician_page(url: str, name: str, pin: str) -> str:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(url + "/staff/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    opener.open(url + "/staff/login", data=urllib.parse.urlencode({"csrf": csrf, "name": name, "pin": pin}).encode(),
                timeout=10)
    return opener.open(url + "/staff/tech", timeout=10).read().decode()


def test_kill9_between_modem_and_mark_sends_nothing_twice(tmp_path, monkeypatch):
    clock_file = tmp_path / "clock.json"
    noon_today_offset(clock_file)
    monkeypatch.setenv(SIMULATED_CLOCK_ENV, str(clock_file))
    with VirtualModem(tmp_path / "ttyUSB-kiosk") as modem:
        gammurc = write_gammurc(tmp_path / "gammurc", modem.path)
        port = free_port()
        config_path = write_config(tmp_path / "kiosk.toml", tmp_path / "data",
                                   extra=f'[web]\nport = {port}\n[sms]\ngammurc = "{gammurc}"\nretry_seconds = 1\n')
        config = load(config_path)
        add = vaxkiosk("staff", "add", "--config", str(config_path), "--name", "Phạm Văn Kỹ", "--role", "technician",
                       "--pin-stdin", input=(TECH_PIN + "\n").encode())
        assert add.returncode == 0, add.stderr

        store = Store(config.db_path)
        clock = Clock(config.kiosk.utc_offset_hours)
        checkins = CheckinService(store, config.kiosk, clock)
        first, second = (checkins.check_in(parse(payload(i)), "camera").checkin for i in range(2))
        optin.opt_in(store, clock, first["id"], "0912345678", True)
        checkins.call_next("3", "staff:lan")  # "come to desk 3" for ticket 1, waiting in the outbox
        optin.opt_in(store, clock, second["id"], "0987654321", True)  # next in line: no "soon" text
        assert store.query_one("SELECT count(*) AS n FROM sms_outbox")["n"] == 1

        def state(kind_ticket: int) -> str | None:
            row = store.query_one("SELECT m.state FROM sms_outbox m JOIN tickets t ON t.checkin_id = m.checkin_id "
                                  "WHERE m.kind = 'called' AND t.number = ?", (kind_ticket,))
            return row and row["state"]

        env = {SIMULATED_CLOCK_ENV: str(clock_file)}
        modem.hold()
        kiosk = Proc(["kiosk", "--config", str(config_path)], tmp_path / "kiosk.log", env).start()
        modem.wait_for(1, timeout=60)  # the network has the text; its answer never comes
        assert state(1) == "sending"
        kiosk.kill()
        modem.hold(False)

        checkins.call_next("1", "staff:lan")  # a later text, for ticket 2
        kiosk = Proc(["kiosk", "--config", str(config_path)], tmp_path / "kiosk.log", env).start()
        try:
            wait_for(lambda: state(2) == "sent", 60, "the later text sent after the restart")
            assert state(1) == "uncertain"
            texts = [m.text for m in messages(modem.received)]
            assert texts == ["Mời số 1 đến bàn 3 ngay bây giờ.", "Mời số 2 đến bàn 1 ngay bây giờ."]  # 1 went once
            wait_port(port, timeout=20)
            page = technician_page(f"http://127.0.0.1:{port}", "Phạm Văn Kỹ", TECH_PIN)
            row = re.search(r'<tr data-sms="\d+" data-state="uncertain">.*?</tr>', page, re.S).group(0)
            assert "Có thể đã gửi" in row and "May have been sent" in row and "091••••678" in row
            assert "0912345678" not in page and "912345678" not in page
            assert "may have been sent" in kiosk.log_text() and "912345678" not in kiosk.log_text()
        finally:
            assert kiosk.stop() == 0, kiosk.log_text()[-3000:]
        store.close()
