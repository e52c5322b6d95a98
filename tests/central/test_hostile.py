"""10,000 malformed or hostile messages of many kinds leave the fleet monitor running and the stored data intact."""

from __future__ import annotations

import itertools
import json
import random
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.central.conftest import wait_for

P = "vaxkiosk/v1"


def hostile_messages(rng: random.Random):
    """(topic, payload, expected rejection reason) of many kinds, all on topics the monitor subscribes to."""
    good_record = {"schema": 1, "type": "checkin", "record_id": "x" * 32, "site": "GL-01", "kiosk": "k1",
                   "day": "2026-01-01"}
    kinds = [
        (f"{P}/GL-01/k1/health", b"{not json", "bad_json"),
        (f"{P}/GL-01/k1/health", b"\xff\xfe\x00garbage", "bad_json"),
        (f"{P}/GL-01/k1/queue", b"[" * 5000 + b"]" * 5000, "bad_json"),  # nesting deeper than the parser allows
        (f"{P}/GL-01/k1/health", b"[1, 2, 3]", "not_an_object"),
        (f"{P}/GL-01/k1/health", b'"just a string"', "not_an_object"),
        (f"{P}/GL-01/k1/health", json.dumps({"schema": 2}).encode(), "bad_schema"),
        (f"{P}/GL-01/k1/health", json.dumps({"version": "0.1"}).encode(), "bad_schema"),
        (f"{P}/GL-01/k1/health", b'{"schema": 1, "pad": "' + b"A" * 70_000 + b'"}', "too_large"),
        (f"{P}/GL-01/k1/health", json.dumps({"schema": 1, "kiosk": "k2"}).encode(), "identity_mismatch"),
        (f"{P}/GL-01/k1/records/checkins", json.dumps({**good_record, "kiosk": "k9"}).encode(), "identity_mismatch"),
        (f"{P}/GL-01/k1/records/checkins", json.dumps({**good_record, "site": "HN-01"}).encode(),
         "identity_mismatch"),
        (f"{P}/XX-99/k1/health", json.dumps({"schema": 1}).encode(), "unknown_site"),
        (f"{P}/GL-01/k1/records/checkins", json.dumps({**good_record, "record_id": "../" * 30}).encode(),
         "bad_record_id"),
        (f"{P}/GL-01/k1/records/checkins", json.dumps({**good_record, "record_id": 12345}).encode(), "bad_record_id"),
        (f"{P}/GL-01/k1/records/refunds", json.dumps(good_record).encode(), "bad_topic"),
        (f"{P}/GL-01/k1/records/checkins/extra", json.dumps(good_record).encode(), "bad_topic"),
        (f"{P}/GL-01/k1/status", json.dumps({"schema": 1, "state": "exploded"}).encode(), "bad_state"),
        (f"{P}/GL-01/k1/status", b"", "empty"),
    ]
    for i in itertools.count():
        topic, payload, reason = kinds[i % len(kinds)]
        if reason == "bad_json" and i % 7 == 0:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) + b"\x80"
        yield topic, payload, reason


def test_ten_thousand_hostile_messages(ops, kiosks):
    honest = kiosks("GL-01", "gl-honest")
    for n in range(5):
        honest.check_in(n)
    honest.publish_outbox()
    honest.health()
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM records_seen")["n"] == 5, what="5 records")
    before = ops.store.query("SELECT * FROM records_seen ORDER BY record_id")
    kiosk_before = ops.store.query_one("SELECT site, state FROM kiosks WHERE kiosk = 'gl-honest'")

    attacker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="attacker", protocol=mqtt.MQTTv5)
    connected = threading.Event()
    attacker.on_connect = lambda *a: connected.set()
    attacker.connect("127.0.0.1", ops.config.ops.mqtt_port)
    attacker.loop_start()
    assert connected.wait(10)
    expected: dict[str, int] = {}
    rng = random.Random(7)
    infos = []
    for topic, payload, reason in itertools.islice(hostile_messages(rng), 10_000):
        infos.append(attacker.publish(topic, payload, qos=1))
        expected[reason] = expected.get(reason, 0) + 1
    for info in infos:
        info.wait_for_publish(30)
    attacker.disconnect()
    attacker.loop_stop()

    wait_for(lambda: sum(ops.monitor.stats.rejected.values()) >= 10_000, timeout=60, what="10,000 rejections")
    assert dict(ops.monitor.stats.rejected) == expected
    assert len(expected) >= 10

    # Still running: the honest kiosk's next records are counted, its state untouched by the impostor.
    for n in range(5, 8):
        honest.check_in(n)
    honest.publish_outbox()
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM records_seen")["n"] == 8, what="8 records")
    assert all(t.is_alive() for t in ops.monitor.threads)
    after = ops.store.query("SELECT * FROM records_seen ORDER BY record_id")
    assert [r for r in after if r["record_id"] in {b["record_id"] for b in before}] == before
    assert ops.store.query_one("SELECT site, state FROM kiosks WHERE kiosk = 'gl-honest'") == kiosk_before
    assert ops.store.query("SELECT kiosk FROM kiosks") == [{"kiosk": "gl-honest"}]
    assert ops.store.integrity_check() == "ok"
