"""The sync part inside a real kiosk App, against a real Mosquitto and the real aggregator."""

import getpass
import json
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from base import protocol
from central.protocol import cmd_message
from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from tests.support.sync import central, qr, sync_config, wait_for


class Listener:
    """A plain MQTT client that records what is published under the kiosks' topics."""

    def __init__(self, port: int, topic: str = "vaxkiosk/v1/#"):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self._add(m.topic, m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _add(self, topic, payload):
        with self.lock:
            self.messages.append((topic, payload))

    def on(self, leaf: str) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p in self.messages if t.split("/")[4] == leaf and p]

    def publish(self, topic: str, payload: bytes, qos: int = 1):
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def kiosk_app(tmp_path, mosquitto):
    apps = []

    def make(**mqtt_settings):
        app = App(load(sync_config(tmp_path, mosquitto.port, **mqtt_settings)))
        app.start()
        apps.append(app)
        wait_for(app.part("sync").connected.is_set, 10, what="kiosk connected")
        return app

    yield make
    for app in apps:
        app.stop()


@pytest.fixture
def listener(mosquitto):
    listen = Listener(mosquitto.port)
    yield listen
    listen.close()


def test_a_puback_alone_delivers_nothing_records_wait_for_centrals_ack_and_are_resent(kiosk_app, tmp_path,
                                                                                      mosquitto, listener):
    app = kiosk_app(ack_timeout=0.5)
    checkin_id = app.checkins.check_in(parse(qr(1)), "camera").checkin["id"]
    # No aggregator yet: the broker PUBACKs, nobody acknowledges, so the record is published again and again.
    wait_for(lambda: len([r for r in listener.on("records") if r["record_id"] == checkin_id]) >= 2, 10,
             what="a resend")
    row = app.store.query_one("SELECT attempts, delivered_wall FROM outbox WHERE record_id = ?", (checkin_id,))
    assert row["attempts"] >= 2 and row["delivered_wall"] is None
    with central(tmp_path, mosquitto.port) as (store, _ingest):
        wait_for(lambda: app.store.query_one("SELECT delivered_wall FROM outbox WHERE record_id = ?",
                                             (checkin_id,))["delivered_wall"], 10, what="delivered")
        assert store.record_ids("k1", "checkins") == [checkin_id]


def test_in_flight_records_are_bounded_and_leave_in_outbox_order_without_personal_data(kiosk_app, listener,
                                                                                       tmp_path, mosquitto):
    app = kiosk_app(max_inflight=5, ack_timeout=2)
    made = [app.checkins.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(30)]
    wait_for(lambda: len(listener.on("records")) >= 5, 10, what="a first window")
    # Without acks the window stays at 5; after the ack timeout the same 5 go again.
    app.part("sync").client.publish("vaxkiosk/v1/GL-01/k1/health", b"").wait_for_publish(5)  # a round trip
    wait_for(lambda: any(t.endswith("/health") and not p for t, p in listener.messages), 5, what="round trip")
    assert [r["record_id"] for r in listener.on("records")] == made[:5]
    # Central starts late: the 5 it never saw are resent after the ack timeout, then the rest flows.
    with central(tmp_path, mosquitto.port):
        wait_for(lambda: len({r["record_id"] for r in listener.on("records")}) == 30, 10, what="30 records")
    first_sends = list(dict.fromkeys(r["record_id"] for r in listener.on("records")))
    assert first_sends == made
    everything = b"".join(p for _t, p in listener.messages)
    assert b"001090000001" not in everything and "Nguyễn".encode() not in everything


def test_health_and_queue_reports_describe_the_kiosk_without_personal_data(kiosk_app, listener, mosquitto,
                                                                          tmp_path):
    app = kiosk_app(health_interval=3600, queue_interval=0.1)
    for i in range(3):
        app.checkins.check_in(parse(qr(i)), "camera")
    app.checkins.call_next("desk-1", "staff:an")
    wait_for(lambda: any(q["waiting"] == 2 and q["called"] == 1 for q in listener.on("queue")), 10, what="queue")
    queue = [q for q in listener.on("queue") if q["called"] == 1][-1]
    assert queue["last_ticket"] == 3 and queue["served_today"] == 0 and queue["avg_wait_s"] >= 0
    (health,) = listener.on("health")  # one at connect; the interval is an hour
    protocol.validate("health", health)
    assert health["outbox_backlog"] >= 0 and health["parts"]["sync"]["connected"] is True
    assert health["config_rev"] != "none" and health["db_bytes"] > 0
    # Central asks for a report: it comes at once, not in an hour.
    with central(tmp_path, mosquitto.port) as (_store, ingest):
        assert ingest.send_command("GL-01", "k1", "health_report")
        wait_for(lambda: len(listener.on("health")) == 2, 5, what="health on request")
    everything = b"".join(p for t, p in listener.messages if "/records/" not in t)
    assert b"001090000001" not in everything and "Nguyễn".encode() not in everything


def test_malformed_acks_and_commands_are_ignored_and_other_commands_reach_the_screens(kiosk_app, listener):
    app = kiosk_app()
    events = app.events.subscribe()
    for junk in (b"", b"{", b'{"schema":1,"record_ids":"all"}', b"\xff" * 50000, b'{"schema":9}'):
        listener.publish("vaxkiosk/v1/GL-01/k1/ack", junk)
        listener.publish("vaxkiosk/v1/GL-01/k1/cmd", junk)
    topic, payload, qos = cmd_message("GL-01", "k1", "correction_outcome", {"record_id": "r1", "state": "approved"})
    listener.publish(topic, payload, qos)
    event = wait_for(lambda: next((e for e in iter(lambda: events.get(timeout=5), None)
                                   if e.type == "central_command"), None), 5, what="command event")
    assert event.data["command"] == "correction_outcome" and event.data["args"]["state"] == "approved"
    sync = app.part("sync")
    assert sync.stats["bad_messages"] == 10
    checkin_id = app.checkins.check_in(parse(qr(9)), "camera").checkin["id"]
    wait_for(lambda: any(r["record_id"] == checkin_id for r in listener.on("records")), 5, what="still syncing")


def test_a_kiosk_speaking_under_another_username_is_refused_by_the_broker_acl_and_says_so(tmp_path):
    from tests.support.mosquitto import Mosquitto

    folder = tmp_path / "acl-broker"
    folder.mkdir()
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(folder / "passwd"), "k2", "secret"], check=True)
    (folder / "acl").write_text("pattern readwrite vaxkiosk/v1/+/%u/#\n")
    # `user`: started as root, Mosquitto would switch to its own user, which cannot read pytest's 0700 folders.
    broker = Mosquitto(folder, extra_config=f"user {getpass.getuser()}\nallow_anonymous false\n"
                                            f"password_file {folder / 'passwd'}\nacl_file {folder / 'acl'}\n").start()
    app = App(load(sync_config(tmp_path, broker.port, username="k2", password="secret")))  # kiosk id is k1
    app.start()
    try:
        sync = app.part("sync")
        app.checkins.check_in(parse(qr(1)), "camera")
        wait_for(lambda: sync.stats["refused_by_broker"] > 0, 10, what="the broker's refusal")
        assert app.store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"] == 1
    finally:
        app.stop()
        broker.stop()
