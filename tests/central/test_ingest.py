"""The aggregator's ingest against a real Mosquitto, fed by the real kiosk sync code and by hostile clients."""

import collections
import contextlib
import json
import random

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.config import MqttSection
from central.ingest import Ingest
from central.store import CentralStore
from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from tests.support.sync import central, qr, sync_config, wait_for

STAMP = {"wall": "2026-11-25T03:00:00.000+00:00", "mono": 10.0, "boot_id": "b", "clock_synced": True}


def record(kiosk="k1", rid=None, **kw):
    return {"schema": 1, "type": "checkin", "record_id": rid or f"r{random.randrange(10**9)}", "site": "GL-01",
            "kiosk": kiosk, "day": "2026-11-25", "ticket": 1, "scan_kind": "cccd_qr", "source": "camera",
            "at": STAMP, **kw}


def hostile(i: int) -> tuple[str, bytes]:
    """One of many kinds of broken or lying messages, on topics central subscribes to with QoS 1."""
    records = "vaxkiosk/v1/GL-01/k1/records/checkins"
    kinds = [
        (records, b"{broken json"),
        (records, json.dumps(record(schema=99)).encode()),
        (records, json.dumps(record(pad="x" * 17000)).encode()),
        (records, json.dumps(record(kiosk="k2")).encode()),  # speaks for another kiosk
        (records, json.dumps(record(ticket="one")).encode()),
        (records, b'{"schema":1,"mono":NaN}'),
        (records, b"[" * 5000 + b"]" * 5000),
        (records, bytes(random.getrandbits(8) for _ in range(64))),
        (records, json.dumps(record(at={**STAMP, "wall": "not a time"})).encode()),
        (records, json.dumps(record(record_id="../../etc/passwd")).encode()),
        ("vaxkiosk/v1/GL-01/k1/records/secrets", json.dumps(record()).encode()),
        ("vaxkiosk/v1/GL-01/k1/status", json.dumps({"schema": 1, "site": "GL-01", "kiosk": "k1",
                                                    "state": "pwned", "boot_id": "b"}).encode()),
        ("vaxkiosk/v1/GL-01/k1/status", b""),
    ]
    return kinds[i % len(kinds)]


def raw_client(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@pytest.fixture
def kiosk_app(tmp_path, mosquitto):
    app = App(load(sync_config(tmp_path, mosquitto.port)))
    app.start()
    yield app
    app.stop()


def test_10000_hostile_messages_leave_ingestion_running_and_stored_data_intact(tmp_path, mosquitto, kiosk_app,
                                                                               store_location):
    attacker = raw_client(mosquitto.port)
    with central(tmp_path, mosquitto.port, store_location) as (store, ingest):
        made = []
        for i in range(10_000):
            topic, payload = hostile(i)
            info = attacker.publish(topic, payload, qos=1)
            if i % 200 == 0:  # the real kiosk checks people in meanwhile
                made.append(kiosk_app.checkins.check_in(parse(qr(i)), "camera").checkin["id"])
        info.wait_for_publish(30)
        wait_for(lambda: sum(store.rejects().values()) == 10_000, 60, what="10000 rejects counted")
        wait_for(lambda: store.record_count() == len(made), 20, what="the kiosk's records")
        assert set(store.record_ids("k1", "checkins")) == set(made)
        rejects = store.rejects()
        assert {"bad_json", "bad_schema", "too_large", "kiosk_mismatch", "bad_type", "bad_time", "bad_value",
                "bad_topic"} <= set(rejects), rejects
        assert [k["kiosk"] for k in store.fleet()] == ["k1"] and store.kiosk("k1")["state"] == "online"
        assert ingest.connected.is_set() and ingest.stats["batch_errors"] == 0
        # Still ingesting after the storm.
        late = kiosk_app.checkins.check_in(parse(qr(99_999)), "camera").checkin["id"]
        wait_for(lambda: late in store.record_ids("k1", "checkins"), 10, what="a record after the storm")
    attacker.loop_stop()
    attacker.disconnect()


@contextlib.contextmanager
def aggregators(location, port: int, n: int):
    """n aggregators on one database, as n `vaxkiosk central` processes would be, each subscribed (SUBACK) before
    the test publishes anything."""
    stores = [CentralStore(location) for _ in range(n)]
    ingests = [Ingest(s, MqttSection(port=port, batch_ms=5)) for s in stores]
    for ingest in ingests:
        ingest.start()
    try:
        for ingest in ingests:
            wait_for(ingest.connected.is_set, 10, what="aggregator subscribed")
        yield stores, ingests
    finally:
        for ingest in ingests:
            ingest.stop()
        for s in stores:
            s.close()


def test_two_aggregators_share_the_record_streams_and_store_each_record_once(store_location, mosquitto, kiosk_app):
    with aggregators(store_location, mosquitto.port, 2) as (stores, ingests):
        made = [kiosk_app.checkins.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(300)]
        wait_for(lambda: stores[0].record_count("checkins") == 300, 30, what="300 records")
        assert set(stores[0].record_ids("k1", "checkins")) == set(made)
        wait_for(lambda: kiosk_app.store.query_one(
            "SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"] == 0, 10, what="all acked")
        shares = [i.stats["records_new"] for i in ingests]
        assert sum(shares) == 300 and all(shares), shares


ROUNDS, REPORTS = 15, 6


@pytest.mark.parametrize("n", [1, 2, 3])
def test_each_health_report_is_applied_once_whatever_the_number_of_aggregators(store_location, mosquitto, n):
    """Issue 23: health reached every aggregator, so n aggregators stored each report n times (the old test passed
    when one happened to subscribe late). Rounds of reports, each with its own boot and monotonic stamp, and every
    report must be one row and one delivery in all; retained status and queue (every aggregator gets them) leave
    one kiosk in one state."""
    kiosk = raw_client(mosquitto.port)
    try:
        with aggregators(store_location, mosquitto.port, n) as (stores, ingests):
            for topic_leaf, payload in (("status", {"state": "online", "boot_id": "b1", "version": "0.1.0"}),
                                        ("queue", {"day": "2026-11-25", "waiting": 4, "called": 1, "served_today": 9,
                                                   "last_ticket": 14})):
                kiosk.publish(f"vaxkiosk/v1/GL-01/k1/{topic_leaf}", json.dumps(
                    {"schema": 1, "site": "GL-01", "kiosk": "k1", "at": STAMP, **payload}), qos=1, retain=True)
            sent = []
            for r in range(ROUNDS):
                for i in range(REPORTS):
                    at = {**STAMP, "boot_id": f"boot-{r}", "mono": 100.0 + i}
                    sent.append((at["boot_id"], at["mono"]))
                    kiosk.publish("vaxkiosk/v1/GL-01/k1/health", json.dumps(health_report(at)), qos=1)
                wait_for(lambda: len(rows(stores[0])) >= len(sent), 10, what=f"round {r} stored")
            expected_deliveries = len(sent) + 2 * n  # each report once; retained status and queue once each
            wait_for(lambda: sum(i.stats["received"] for i in ingests) >= expected_deliveries and
                     not any(i._buffer for i in ingests), 10, what="every aggregator idle")
            stored = rows(stores[0])
            assert collections.Counter(stored) == collections.Counter(sent), "a health report was stored twice"
            assert sum(i.stats["received"] for i in ingests) == expected_deliveries
            assert sum(i.stats["rejected"] for i in ingests) == 0
            fleet = stores[-1].fleet()
            assert [(k["kiosk"], k["state"], k["queue_waiting"]) for k in fleet] == [("k1", "online", 4)]
    finally:
        kiosk.loop_stop()
        kiosk.disconnect()


def health_report(at: dict) -> dict:
    return {"schema": 1, "site": "GL-01", "kiosk": "k1", "at": at, "uptime_s": 5, "load": 0.1, "disk_free_mb": 1000,
            "disk_used_pct": 40, "db_bytes": 4096, "outbox_backlog": 0, "version": "0.1.0", "config_rev": "r1",
            "parts": {}}


def rows(store: CentralStore) -> list[tuple[str, float]]:
    return [(r["boot_id"], r["mono"]) for r in store._store.query(
        "SELECT boot_id, mono FROM health_history WHERE kiosk = 'k1'")]


def test_the_registry_hook_refuses_kiosks_it_does_not_know(store_location, mosquitto):
    store = CentralStore(store_location)
    ingest = Ingest(store, MqttSection(port=mosquitto.port), registry=lambda site, kiosk: kiosk == "k1")
    ingest.start()
    client = raw_client(mosquitto.port)
    try:
        wait_for(ingest.connected.is_set, 10, what="aggregator connected")
        for kiosk in ("k1", "k2"):
            client.publish(f"vaxkiosk/v1/GL-01/{kiosk}/records/checkins", json.dumps(record(kiosk)), qos=1)
        wait_for(lambda: store.rejects().get("unknown_kiosk") == 1 and store.record_count() == 1, 10,
                 what="k1 stored, k2 refused")
        assert [k["kiosk"] for k in store.fleet()] == ["k1"]
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()
        store.close()
