"""The link between a kiosk and the broker goes silent for CUT_SECONDS while citizens keep checking in.

A TCP proxy process sits between kiosk and broker; the cut stops forwarding without closing anything, as a dead
uplink does, so only MQTT keep-alives can notice it (both ends). Expected: the kiosk keeps checking in and printing,
central marks it `lost` (the broker's keep-alive fired the Last Will), the kiosk notices too (sync part
disconnected); after the link returns everything committed meanwhile reaches central exactly once.
"""

import time
from collections import Counter

import pytest

from tests.reliability.load import ScanLoad
from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

# "For minutes" on a site; what matters is that the cut outlasts both ends' keep-alive detection several times over,
# so the kiosk's reconnect attempts into the dead link fail too. The harness's keep-alive is 3 s: 5 periods.
CUT_SECONDS = 15


def test_silent_network_cut_between_kiosk_and_broker_loses_and_duplicates_nothing(tmp_path):
    with SiteHarness(tmp_path, link_proxy=True) as site:
        kiosk = site.kiosks[0]
        with ScanLoad(kiosk, qr, interval=0.2) as load:
            wait_for(lambda: len(load.acknowledged) >= 10, 30, what="check-ins flowing")
            site.link.cut()
            cut_at, at_cut = time.monotonic(), len(load.acknowledged)
            wait_for(lambda: site.central_kiosk_state(kiosk.id) == "lost", 15, what="central sees the kiosk lost")
            wait_for(lambda: "disconnected from the broker" in kiosk.proc.log_text(),
                     15, what="the kiosk notices the silent link")
            time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
            during = len(load.acknowledged) - at_cut
            backlog = kiosk.undelivered()
            site.link.restore()
            wait_for(lambda: site.central_kiosk_state(kiosk.id) == "online", 30, what="online again")
            after = len(load.acknowledged)
            wait_for(lambda: len(load.acknowledged) >= after + 5, 30, what="check-ins flowing after the cut")
        site.wait_drained(60)
        committed = set(kiosk.checkin_ids())
        assert set(load.acknowledged) <= committed
        at_central = site.central_ids(kiosk.id)
        assert len(at_central) == len(set(at_central)) and set(at_central) == committed
        wait_for(lambda: len(kiosk.ticket_numbers_printed()) == len(committed), 60, what="every ticket printed")
        assert Counter(kiosk.ticket_numbers_printed()) == Counter(range(1, len(committed) + 1))
        print(f"network_cut: link silent {CUT_SECONDS} s; {during} check-ins made during the cut "
              f"(outbox backlog {backlog} at restore); tried {load.tried}, acknowledged {len(load.acknowledged)}; "
              f"central holds {len(at_central)}, each once; tickets printed once each")
