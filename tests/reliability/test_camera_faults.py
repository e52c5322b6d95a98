"""The camera disappears from a running kiosk and comes back, while the serial scanner and manual entry keep working.

The camera is the file source (a folder of generated card pictures, looping, as the demo's camera); removing the
folder is the camera gone, putting it back is the camera replugged. The serial scanner is a pty, as a USB-serial
handheld scanner looks to the kiosk. A silent freeze of a running stream is covered in-process by
tests/kiosk/test_scanner.py (SimulatedCamera.freeze); a file source cannot be frozen from outside the process.
"""

import os
import random
import shutil
from collections import Counter

import pytest

from devtools.simulation.cards import card_frame, write_frame_folder
from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow


def card_folder(folder, numbers, rng):
    blank = card_frame(None, rng, (640, 480))
    frames = []
    for n in numbers:
        frames += [card_frame(qr(n), rng, (640, 480))] * 3 + [blank] * 3
    return write_frame_folder(folder, frames)


def camera_ok(kiosk):
    status, body = kiosk.request("GET", "/api/health")
    return body["parts"]["camera"]["ok"]


def sources(kiosk) -> Counter:
    return Counter(r["source"] for r in kiosk.query("SELECT source FROM checkins"))


def test_camera_gone_and_back_while_serial_and_manual_entry_keep_checking_in(tmp_path):
    rng = random.Random(10)
    frames = tmp_path / "camera"
    card_folder(frames, range(3), rng)
    master, slave = os.openpty()
    port = tmp_path / "usb-HandheldScanner-if00"
    port.symlink_to(os.ttyname(slave))
    os.close(slave)
    sections = {"camera": {"enabled": True, "source": str(frames), "loop": True, "fps": 10, "stall_seconds": 1.0,
                           "reopen_max_seconds": 1.0},
                "serial": {"enabled": True, "port": str(port), "reconnect_seconds": 0.2}}
    try:
        with SiteHarness(tmp_path, kiosk_sections=sections) as site:
            kiosk = site.kiosks[0]
            wait_for(lambda: sources(kiosk)["camera"] == 3, 60, what="3 people checked in by the camera")

            shutil.rmtree(frames)  # the camera is gone
            wait_for(lambda: camera_ok(kiosk) is False, 15, what="camera reported down")
            for n in range(100, 103):
                os.write(master, qr(n).encode("utf-8") + b"\r")
                assert kiosk.scan(qr(200 + n), source="screen")["result"] == "checked_in"
            wait_for(lambda: sources(kiosk)["serial"] == 3, 15, what="serial check-ins while the camera is gone")
            assert camera_ok(kiosk) is False

            card_folder(frames, range(10, 12), rng)  # replugged
            wait_for(lambda: sources(kiosk)["camera"] == 5, 60, what="camera check-ins again")
            assert camera_ok(kiosk)
            site.wait_drained(30)
            assert sources(kiosk) == Counter({"camera": 5, "serial": 3, "screen": 3})
            assert sorted(site.central_ids(kiosk.id)) == sorted(kiosk.checkin_ids())
            wait_for(lambda: sorted(kiosk.ticket_numbers_printed()) == list(range(1, 12)), 30,
                     what="11 tickets, once each")
            print(f"camera_faults: camera removed and put back; check-ins by source {dict(sources(kiosk))}; "
                  f"central holds 11; 11 tickets printed once")
    finally:
        os.close(master)
