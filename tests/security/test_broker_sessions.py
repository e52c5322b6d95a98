"""Issue 14, item 1: a kiosk must not be able to join central's shared subscription or keep a session that works
against others. The attack: with its own credentials, a kiosk subscribes to every shared-subscription group it can
guess for the record streams, with a session that outlives its connection, and leaves. Before the fix the broker
then handed every other record to that session (and dropped it there), until the session expired; revoking the
kiosk did not end the session."""

from __future__ import annotations

from central.config import load as load_central
from central.ingest import Ingest
from central.store import CentralStore
from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from tests.security.conftest import ROOT, SITE
from tests.support.sync import qr, sync_config, wait_for

RECORDS = 40
# What a kiosk can learn or guess: the group the code and docs used to name, and obvious others (bounded).
GUESSED_GROUPS = ("central", "vaxkiosk", "aggregator", "ingest", "records", "g", "1")


def leave_a_thief_session(site, thief) -> None:
    probe = site.kiosk(thief).connect(clean_start=False, session_expiry=300)
    assert probe.accepted
    for group in GUESSED_GROUPS:
        probe.subscribe(f"$share/{group}/{ROOT}/+/+/records/#")
        probe.subscribe(f"$share/{group}/{ROOT}/+/+/health", qos=0)
    probe.close()


def test_a_kiosk_cannot_take_records_from_centrals_shared_subscription(broker_site, tmp_path):
    thief, honest = broker_site.enrol(), broker_site.enrol()
    leave_a_thief_session(broker_site, thief)

    # Central's real aggregator, and the honest kiosk's real sync part. The kiosk sends a record again only after
    # 60 s without an acknowledgement: within this test every record must arrive the first time.
    store = CentralStore(tmp_path / "central" / "central.db")
    ingest = Ingest(store, load_central(broker_site.config).mqtt, registry=broker_site.registry.is_enrolled)
    ingest.start()
    kiosk = App(load(sync_config(tmp_path / "kiosks", broker_site.kiosk_port, kiosk=honest.kiosk_id, site=SITE,
                                 username=honest.kiosk_id, password=honest.mqtt_password, ack_timeout=60.0)))
    kiosk.start()
    try:
        wait_for(ingest.connected.is_set, 10, what="central connected")
        wait_for(kiosk.part("sync").connected.is_set, 10, what="kiosk connected")
        made = {kiosk.checkins.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(RECORDS)}
        wait_for(lambda: store.record_count("checkins") >= RECORDS, 20, what=f"{RECORDS} records at central "
                 f"(stored so far: {store.record_count('checkins')})")
        assert set(store.record_ids(honest.kiosk_id, "checkins")) == made
        assert kiosk.part("sync").stats["resent"] == 0
    finally:
        kiosk.stop()
        ingest.stop()
        store.close()


def test_revoking_a_kiosk_ends_its_broker_session(broker_site):
    thief = broker_site.enrol()
    leave_a_thief_session(broker_site, thief)
    out = broker_site.cli("revoke", "--kiosk", thief.kiosk_id, "--reason", "stolen")
    assert out["broker_reloaded"]
    # Central asks the broker to resume the session under the kiosk's client id: there must be none left.
    check = broker_site.central(client_id=thief.kiosk_id).connect(clean_start=False)
    try:
        assert check.accepted and check.session_present is False
    finally:
        check.close()
