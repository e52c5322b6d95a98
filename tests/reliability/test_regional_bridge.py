"""Regional brokers bridged to the national broker (issue 24): exactly once across the bridge, and nobody speaking for
another region's kiosks.

Two regions (north: sites HN-01 and HN-02; south: GL-01), two kiosks a site, each a real kiosk app on its region's
broker; two of central's aggregators on the national broker (tests/reliability/country.py).
"""

import json
import queue
import time

import pytest

from base import protocol
from kiosk.identity import parse
from tests.provisioning.mqtt_probe import Probe
from tests.reliability.country import CheckinLoad, Country
from tests.support.sync import qr, wait_for

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


def test_a_regional_broker_killed_and_a_bridge_cut_for_a_minute_under_load_lose_and_duplicate_nothing(tmp_path):
    # The south's kiosks would resend only after 10 minutes: what they sent during the cut must cross on the bridge's
    # own queue, kept through the bridge's reconnection (local_cleansession false). The north's resend after 10 s.
    with Country(tmp_path, REGIONS, ack_timeout={"north": 10.0, "south": 600.0}) as country:
        north, south = country.regions["north"], country.regions["south"]
        with CheckinLoad(country, interval=0.05) as load:
            wait_for(lambda: load.count >= 40, 30, what="check-ins flowing")

            # The north's broker dies (SIGKILL: no clean save) and comes back on the same port.
            north.broker.stop(kill=True)
            killed_at = load.count
            wait_for(lambda: load.count >= killed_at + 20, 10, what="check-ins made while the north's broker is down")
            north.broker.start()
            for k in country.in_region("north"):
                wait_for(k.sync.connected.is_set, 30, what=f"{k.kiosk_id} back on the restarted north broker")
            country.wait_drained(60)
            after_kill = assert_each_record_once(country)

            # The south's uplink goes silent for a minute; its kiosks stay connected to their regional broker.
            south.link.cut()
            cut_at, made_at_cut = time.monotonic(), load.count
            south_kiosks = country.in_region("south")
            wait_for(lambda: sum(k.undelivered() for k in south_kiosks) >= 20, 30,
                     what="the south's records waiting for acks behind the cut")
            time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
            backlog = sum(k.undelivered() for k in south_kiosks)
            logins_before = country.bridge_connections("south")
            # The north went on meanwhile: its acks never waited for the south.
            assert all(k.undelivered() < 20 for k in country.in_region("north"))
            south.link.restore()
            restored_at = time.monotonic()
            country.wait_drained(120)
            drained_s = time.monotonic() - restored_at
            # The cut outlasted the keep-alives: the national broker dropped the bridge, which logged in again.
            assert country.bridge_connections("south") > logins_before >= 1
        country.wait_drained(60)
        total = assert_each_record_once(country)
        assert total == load.count
        duplicates = sum(i.stats["records_duplicate"] for i in country.ingests)
        north_resent = sum(k.sync.stats["resent"] for k in country.in_region("north"))
        print(f"regional_bridge: north broker killed at check-in {killed_at} ({after_kill} committed once after it, "
              f"{north_resent} north resends); south uplink silent {CUT_SECONDS} s from check-in {made_at_cut}: "
              f"backlog {backlog} records, drained {drained_s:.1f} s after the link came back with no kiosk "
              f"resending; {total} check-ins, each once at central ({duplicates} duplicate deliveries absorbed)")
        assert backlog >= 20  # the cut really held records back
        assert all(k.sync.stats["resent"] == 0 for k in country.in_region("south"))


def test_a_kiosk_cannot_publish_as_a_kiosk_of_another_region_or_of_another_site_of_its_own(tmp_path):
    with Country(tmp_path, REGIONS, aggregators=1) as country:
        thief = next(k for k in country.kiosks if k.site_id == "HN-01")
        victims = [next(k for k in country.kiosks if k.site_id == "GL-01"),  # another region
                   next(k for k in country.kiosks if k.site_id == "HN-02"),  # another site of its region
                   next(k for k in country.kiosks if k.site_id == "HN-01" and k is not thief)]  # its own site
        # A real record of the thief's, as a template the protocol accepts.
        thief.made.append(thief.app.checkins.check_in(parse(qr(1)), "camera").checkin["id"])
        country.wait_drained(30)
        template = json.loads(thief.app.store.query_one("SELECT payload FROM outbox")["payload"])
        thief.app.stop()  # its stolen credentials, on another device
        thief.app = None
        probe = Probe(thief.kiosk_id, thief.password, country.regions["north"].kiosk_port).connect()
        try:
            assert probe.accepted
            for victim in victims:
                forged = {**template, "site": victim.site_id, "kiosk": victim.kiosk_id,
                          "record_id": f"forged-{victim.kiosk_id}"}
                info = probe.publish(protocol.topic(victim.site_id, victim.kiosk_id, "records", "checkins"),
                                     protocol.encode("record", forged, "checkins"))
                assert info.is_published()
            # A barrier through the same bridge: the thief's own next record arrives, so the forged ones had their
            # chance (QoS 1, one connection, one bridge: in order).
            probe.publish(protocol.topic(thief.site_id, thief.kiosk_id, "records", "checkins"),
                          protocol.encode("record", {**template, "record_id": "barrier"}, "checkins"))
            wait_for(lambda: "barrier" in country.central_ids(thief.kiosk_id), 20, what="the barrier record")
        finally:
            probe.close()
        for victim in victims:
            assert country.central_ids(victim.kiosk_id) == [], f"forged record stored for {victim.kiosk_id}"
        assert country.store.rejects() == {}  # refused at the regional broker, not merely by central


def test_a_stolen_regional_bridge_login_speaks_only_for_its_own_sites(tmp_path):
    """The south's regional machine is stolen: its config holds the bridge's password for the national broker."""
    with Country(tmp_path, REGIONS, aggregators=1) as country:
        south = country.regions["south"]
        stolen = south.bridge_password()
        south.broker.stop()  # the thief uses the login from elsewhere
        north_kiosk = next(k for k in country.kiosks if k.region == "north")
        south_kiosk = next(k for k in country.kiosks if k.region == "south")
        north_kiosk.made.append(north_kiosk.app.checkins.check_in(parse(qr(1)), "camera").checkin["id"])
        wait_for(lambda: north_kiosk.undelivered() == 0, 30, what="the north kiosk's record acknowledged")
        template = json.loads(north_kiosk.app.store.query_one("SELECT payload FROM outbox")["payload"])

        thief = Probe("region-south", stolen, country.bridge_port, ca=str(south.dir / "ca.pem")).connect()
        try:
            assert thief.accepted
            thief.subscribe(f"{protocol.ROOT}/#")  # everything it can get: its read ACL decides
            forged = {**template, "record_id": "forged-north"}
            thief.publish(protocol.topic(north_kiosk.site_id, north_kiosk.kiosk_id, "records", "checkins"),
                          protocol.encode("record", forged, "checkins"))
            # Barrier: a record for the south's own site, as the bridge would forward it, reaches central.
            own = {**template, "site": south_kiosk.site_id, "kiosk": south_kiosk.kiosk_id, "record_id": "south-own"}
            thief.publish(protocol.topic(south_kiosk.site_id, south_kiosk.kiosk_id, "records", "checkins"),
                          protocol.encode("record", own, "checkins"))
            wait_for(lambda: "south-own" in country.central_ids(south_kiosk.kiosk_id), 20, what="the barrier")
            # The north's acks and commands keep going to the north only.
            north_kiosk.made.append(north_kiosk.app.checkins.check_in(parse(qr(2)), "camera").checkin["id"])
            wait_for(lambda: north_kiosk.undelivered() == 0, 30, what="the north kiosk's second record acknowledged")
            assert country.ingests[0].send_command(north_kiosk.site_id, north_kiosk.kiosk_id, "health_report")
            received, deadline = [], time.monotonic() + 3
            while time.monotonic() < deadline and len(received) < 1000:
                try:
                    received.append(thief.next_message(max(0.01, deadline - time.monotonic()))[0])
                except queue.Empty:
                    break
        finally:
            thief.close()
        assert "forged-north" not in country.central_ids(north_kiosk.kiosk_id)
        assert set(country.central_ids(north_kiosk.kiosk_id)) == set(north_kiosk.made)
        leaked = [t for t in received if f"/{north_kiosk.site_id}/" in t or "/HN-" in t]
        assert leaked == [], leaked
        assert any(t.endswith(f"/{south_kiosk.kiosk_id}/ack") for t in received), received  # it does get its own
