"""A kiosk booting in 1970 (no real-time clock, NTP not there yet) and correcting itself later.

The simulated clock file ($VAXKIOSK_SIMULATED_CLOCK, re-read at every time stamp by kiosk/clock.py) moves a real
kiosk process's wall clock; the monotonic clock and the boot id are the machine's own, as on a Pi. Expected: the
kiosk keeps the local day it last knew (the clock's floor, from its store), central keeps the records as `unsynced`
until the same boot sends a synchronised stamp, then puts them at their true time and marks them `corrected`.
"""

import datetime as dt
import json
import time

import pytest

from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

VIETNAM = dt.timezone(dt.timedelta(hours=7))


def set_clock(path, offset_seconds: float, synced: bool) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"offset_seconds": offset_seconds, "synced": synced}))
    tmp.replace(path)


def test_kiosk_booting_in_1970_keeps_its_day_and_central_corrects_the_times(tmp_path):
    clock = tmp_path / "clock.json"
    # The previous session: the clock right, but NTP never confirmed it (so central learns no offset from it).
    set_clock(clock, 0, synced=False)
    with SiteHarness(tmp_path, kiosk_env={"VAXKIOSK_SIMULATED_CLOCK": str(clock)}) as site:
        kiosk = site.kiosks[0]
        earlier = [kiosk.scan(qr(i))["checkin_id"] for i in range(3)]

        kiosk.proc.stop()
        set_clock(clock, -time.time() + 3600, synced=False)  # power cut; the Pi boots on 1 January 1970, 01:00 UTC
        kiosk.start()
        scanned_at = {}
        for i in range(10, 20):
            scanned_at[kiosk.scan(qr(i))["checkin_id"]] = time.time()
        today = dt.datetime.now(VIETNAM).date().isoformat()
        days = {r["day"] for r in kiosk.query("SELECT day FROM checkins")}
        assert days == {today}, f"the kiosk lost its day: {days}"
        numbers = sorted(r["number"] for r in kiosk.query("SELECT number FROM tickets"))
        assert numbers == list(range(1, 14)), "the day's numbering restarted"
        site.wait_drained(30)
        clocks = {r["clock"] for r in site.central_query("SELECT clock FROM records WHERE stream = 'checkins'")}
        assert clocks == {"unsynced"}, clocks

        set_clock(clock, 0, synced=True)  # NTP succeeded: the next health report carries a synchronised stamp
        wait_for(lambda: {r["clock"] for r in site.central_query(
            "SELECT clock FROM records WHERE stream = 'checkins'")} == {"corrected"}, 20, what="records corrected")
        rows = {r["record_id"]: r for r in site.central_query(
            "SELECT record_id, at_wall, day FROM records WHERE stream = 'checkins'")}
        assert set(rows) == set(earlier) | set(scanned_at)
        for record_id, real in scanned_at.items():
            at = dt.datetime.fromisoformat(rows[record_id]["at_wall"]).timestamp()
            assert abs(at - real) < 3.0, (record_id, rows[record_id]["at_wall"])
            assert rows[record_id]["day"] == today
        print(f"clock_jump: {len(earlier)} check-ins before the 1970 boot, {len(scanned_at)} after; kiosk day "
              f"{today} kept, numbering continued; central corrected all {len(rows)} (within 3 s of the real time)")
