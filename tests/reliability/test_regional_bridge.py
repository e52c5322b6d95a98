"""Regional brokers bridged to the national broker (issue 24): exactly once across the bridge, and nobody speaking for
another region's kiosks.

Two regions (north: sites HN-01 and HN-02; south: GL-01), two kiosks a site, each a real kiosk app on its region's
broker; two of central's aggregators on the national broker (tests/reliability/country.py).
"""

import json
import time

import pytest

from base import protocol
from tests.provisioning.mqtt_probe import Probe
from tests.reliability.country import CheckinLoad, Country
from tests.support.sync import wait_for

pytestmark = pytest.mark.slow

REGIONS = {"north": ["HN-01", "HN-02"], "south": ["GL-01"]}
# The figure: a bridge uplink silent for a minute. Far longer than the bridge's keep-alive detection (1.5 x
# 20 s) and several kiosk ack timeouts (10 s), so the national broker drops the bridge, the kiosks resend into the
# regional queue, and the bridge's reconnection attempts into the dead link fail too.
CUT_SECONDS = 60


def assert_each_record_once(country: Country) -> int:
    total = 0
    for k in country.kiosks:
        at_central = country.central_ids(k.kiosk_id)
        assert len(at_central) == len(set(at_central)), f"{k.kiosk_id}: a record stored twice"
        assert set(at_central) == set(k.made), f"{k.kiosk_id}: central and kiosk disagree"
        total += len(at_central)
    return total


def test_records_of_both_regions_reach_central_once_and_their_acks_come_back_through_their_region(tmp_path):
    with Country(tmp_path, REGIONS) as country:
        with CheckinLoad(country, interval=0.01, limit=300) as load:
            wait_for(lambda: load.count >= 300, 30, what="300 check-ins made")
        country.wait_drained(60)
        assert assert_each_record_once(country) == 300
        assert all(k.made for k in country.kiosks)
        # Both aggregators took their share through the national broker's shared subscription.
        shares = [i.stats["records_new"] for i in country.ingests]
        assert sum(shares) == 300 and all(shares), shares
        # Every kiosk's retained status crossed its bridge: a fresh subscriber on the national broker gets each
        # kiosk's `online`, retained.
        watcher = Probe("central", country.password, country.central_port, client_id="central-watch").connect()
        try:
            watcher.subscribe(f"{protocol.ROOT}/+/+/status")
            seen = {}
            deadline = time.monotonic() + 10
            while len(seen) < len(country.kiosks) and time.monotonic() < deadline:
                topic, payload = watcher.next_message(10)
                seen[topic.split("/")[3]] = json.loads(payload)["state"]
            assert seen == {k.kiosk_id: "online" for k in country.kiosks}
        finally:
            watcher.close()
