"""Disk nearly full on a running kiosk: check-ins are refused with the clear `disk_full` message through the real
scan path before SQLite could be damaged; what was stored stays intact; check-ins work again when space returns.

The free space is simulated with VAXKIOSK_FAKE_FREE_BYTES naming a file (drivers.system.disk_usage re-reads it), so
the same kiosk process sees the card fill up and be cleaned."""

import pytest

from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

SOURCES = ("camera", "serial", "screen", "staff")


def test_disk_nearly_full_refuses_check_ins_clearly_and_recovers(tmp_path):
    free_file = tmp_path / "fake-free-bytes"
    with SiteHarness(tmp_path, kiosk_env={"VAXKIOSK_FAKE_FREE_BYTES": str(free_file)}) as site:
        kiosk = site.kiosks[0]
        before = [kiosk.scan(qr(i))["checkin_id"] for i in range(20)]
        site.wait_drained(30)

        free_file.write_text(str(300 * 1024))  # 300 KB left; the kiosk wants [kiosk] min_free_mb = 1
        refused = [kiosk.scan(qr(100 + i), source=SOURCES[i % len(SOURCES)]) for i in range(20)]
        for answer in refused:
            assert answer["result"] == "error" and answer["checkin_id"] is None, answer
            assert answer["error"]["code"] == "disk_full", answer
            assert "bộ nhớ đầy" in answer["error"]["message_vi"]
            assert "storage full" in answer["error"]["message_en"]
        assert kiosk.proc.running
        assert sorted(kiosk.checkin_ids()) == sorted(before), "a refused check-in left something behind"
        assert kiosk.integrity() == "ok"

        free_file.unlink()  # staff freed space
        after = [kiosk.scan(qr(200 + i))["checkin_id"] for i in range(10)]
        assert all(after)
        site.wait_drained(30)
        assert sorted(site.central_ids(kiosk.id)) == sorted(before + after)
        assert kiosk.integrity() == "ok"
        wait_for(lambda: sorted(kiosk.ticket_numbers_printed()) == list(range(1, 31)), 30, what="30 tickets printed")
        print(f"disk_full: 20 check-ins before, {len(refused)} refused (sources {', '.join(SOURCES)}), "
              f"{len(after)} after space returned; integrity ok, central holds 30, 30 tickets printed once")
