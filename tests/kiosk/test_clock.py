"""The clock of a Pi without a real-time clock: simulated through the file the tests and the demo write."""

import datetime as dt
import json

import pytest

from kiosk.app import App
from kiosk.clock import SIMULATED_CLOCK_ENV, Clock
from kiosk.identity import parse
from tests.conftest import SAMPLE_QR

pytestmark = pytest.mark.dates

EPOCH_OFFSET = -(dt.datetime.now(dt.timezone.utc) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds()


def test_simulated_clock_file_sets_offset_and_sync_flag(tmp_path, monkeypatch):
    f = tmp_path / "clock.json"
    f.write_text(json.dumps({"offset_seconds": EPOCH_OFFSET, "synced": False}))
    monkeypatch.setenv(SIMULATED_CLOCK_ENV, str(f))
    clock = Clock()
    assert clock.now().year == 1970 and clock.stamp().clock_synced is False
    f.write_text(json.dumps({"offset_seconds": 0, "synced": True}))
    assert abs(clock.now() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)
    assert clock.stamp().clock_synced is True


def test_a_kiosk_booting_in_1970_continues_from_the_last_known_day(kiosk_config, tmp_path, monkeypatch):
    app = App(kiosk_config)
    first = app.checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    app.store.close()

    f = tmp_path / "clock.json"
    f.write_text(json.dumps({"offset_seconds": EPOCH_OFFSET, "synced": False}))
    monkeypatch.setenv(SIMULATED_CLOCK_ENV, str(f))
    rebooted = App(kiosk_config)
    # The same person scanning again after the reboot is still a duplicate of today, not a new 1970 check-in.
    again = rebooted.checkins.check_in(parse(SAMPLE_QR), "camera")
    assert not again.created and again.checkin["id"] == first["id"]
    stamp = rebooted.clock.stamp()
    assert stamp.clock_synced is False and stamp.wall >= first["created_wall"]
    rebooted.store.close()
