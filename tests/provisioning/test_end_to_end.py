"""From an enrolment code to a kiosk online at the broker, with the broker's access rules checked by what arrives."""

from __future__ import annotations

import datetime as dt
import json
import queue
import stat
import tomllib

import pytest

from central import broker
from central.registry import Registry
from kiosk.config import load
from kiosk.enrolment import EnrolError, enrol_from_code_text, enrol_with_code
from tests.conftest import vaxkiosk, vaxkiosk_json
from tests.provisioning.conftest import SITE, SITE_NAME
from tests.provisioning.mqtt_probe import Probe

ROOT = "vaxkiosk/v1"


def central_probe(central, client_id: str = "central-test") -> Probe:
    return Probe(broker.CENTRAL_USER, central.password, central.central_port, client_id=client_id).connect()


def kiosk_probe(config, will: bool = True) -> Probe:
    m = config.mqtt
    status = f"{ROOT}/{config.kiosk.site_id}/{config.kiosk.kiosk_id}/status"
    lost = json.dumps({"schema": 1, "state": "lost"}).encode()
    return Probe(m.username, m.password, m.port, host=m.host, ca=m.tls_ca or None,
                 will=(status, lost) if will else None).connect()


def enrol_code(central, *extra: str) -> dict:
    code, out = vaxkiosk_json("central", "enrol-code", "--site", SITE, "--json", *central.registry_args, *extra)
    assert code == 0, out
    return out


def test_code_to_provisioned_kiosk_online_at_broker(central, tmp_path):
    created = enrol_code(central)
    assert created["qr_text"] == f"VXK1:ENROL:{central.url}|{created['code']}"

    config_path = tmp_path / "etc" / "kiosk.toml"
    proc = vaxkiosk("provision", "--central", central.url, "--code", created["code"].lower(),
                    "--config", str(config_path), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 0, proc.stderr.decode()
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    config = load(config_path)
    assert config.kiosk.site_id == SITE and config.kiosk.site_name == SITE_NAME
    assert config.kiosk.kiosk_id == config.mqtt.username == f"{SITE}-k01"
    assert config.mqtt.enabled and config.mqtt.port == central.broker.port
    # The one secret never reaches the terminal (or a journal that captures it).
    assert config.mqtt.password.encode() not in proc.stdout + proc.stderr
    # The hint checks the file just written, not whatever `doctor` alone would find (issue 18).
    assert f"next: `vaxkiosk doctor --config {config_path}`" in proc.stdout.decode()
    assert central.registry.device(config.kiosk.kiosk_id)["state"] == "active"

    watcher = central_probe(central)
    watcher.subscribe(f"{ROOT}/+/+/status")
    watcher.subscribe(f"$share/central/{ROOT}/+/+/records/#")
    kiosk = kiosk_probe(config)
    assert kiosk.accepted
    base = f"{ROOT}/{SITE}/{config.kiosk.kiosk_id}"
    kiosk.publish(f"{base}/status", json.dumps({"schema": 1, "state": "online"}), retain=True)
    record = {"schema": 1, "type": "checkin", "record_id": "r1", "site": SITE, "kiosk": config.kiosk.kiosk_id}
    kiosk.publish(f"{base}/records/checkins", json.dumps(record))
    got = dict(watcher.until(f"{base}/records/checkins"))
    assert json.loads(got[f"{base}/status"])["state"] == "online"
    assert json.loads(got[f"{base}/records/checkins"])["record_id"] == "r1"

    # Central acknowledges on the kiosk's ack topic; the kiosk reads it.
    kiosk.subscribe(f"{base}/ack")
    watcher.publish(f"{base}/ack", json.dumps({"schema": 1, "record_ids": ["r1"]}))
    assert kiosk.next_message() == (f"{base}/ack", b'{"schema": 1, "record_ids": ["r1"]}')

    # A kiosk that vanishes is reported "lost" by its Last Will.
    kiosk.client._sock.close()  # the TCP connection dies without DISCONNECT, like a power cut
    topic, payload = watcher.next_message()
    assert topic == f"{base}/status" and json.loads(payload)["state"] == "lost"
    kiosk.client.loop_stop()
    watcher.close()


def test_kiosk_cannot_publish_or_read_as_another(central, tmp_path):
    a = central.registry.redeem(central.registry.create_code(SITE)[0])
    b = central.registry.redeem(central.registry.create_code(SITE)[0])
    port = central.broker.port
    watcher = central_probe(central)
    watcher.subscribe(f"{ROOT}/#")
    kiosk_a = Probe(a.kiosk_id, a.mqtt_password, port).connect()
    kiosk_b = Probe(b.kiosk_id, b.mqtt_password, port).connect()
    base_a, base_b = f"{ROOT}/{SITE}/{a.kiosk_id}", f"{ROOT}/{SITE}/{b.kiosk_id}"

    # A tries to speak for B (records, status) and to answer itself as central (ack): the broker drops all of it.
    for topic in (f"{base_b}/records/checkins", f"{base_b}/status", f"{base_a}/ack", f"{base_a}/cmd",
                  f"{ROOT}/OTHER/{b.kiosk_id}/records/checkins"):
        kiosk_a.publish(topic, b'{"forged": true}')
    kiosk_a.publish(f"{base_a}/health", b'{"barrier": 1}', qos=1)
    seen = watcher.until(f"{base_a}/health")
    assert [t for t, _ in seen] == [f"{base_a}/health"]

    # A subscribes to everything it can think of; only its own topics reach it.
    for pattern in (f"{base_b}/ack", f"{base_b}/cmd", f"{ROOT}/#", f"{ROOT}/+/+/records/#"):
        kiosk_a.subscribe(pattern)
    kiosk_a.subscribe(f"{base_a}/cmd")
    kiosk_b.subscribe(f"{base_b}/ack")
    watcher.publish(f"{base_b}/ack", b'{"record_ids": ["b1"]}')
    kiosk_b.publish(f"{base_b}/records/checkins", b'{"record_id": "b2"}')
    assert kiosk_b.next_message() == (f"{base_b}/ack", b'{"record_ids": ["b1"]}')
    watcher.publish(f"{base_a}/cmd", b'{"cmd": "barrier"}')
    assert [t for t, _ in kiosk_a.until(f"{base_a}/cmd")] == [f"{base_a}/cmd"]
    for probe in (kiosk_a, kiosk_b, watcher):
        probe.close()


def test_revoked_kiosk_is_cut_off_at_once_and_cannot_reconnect(central, tmp_path):
    enrolment = central.registry.redeem(central.registry.create_code(SITE)[0])
    other = central.registry.redeem(central.registry.create_code(SITE)[0])
    port = central.broker.port
    kiosk = Probe(enrolment.kiosk_id, enrolment.mqtt_password, port).connect()
    bystander = Probe(other.kiosk_id, other.mqtt_password, port).connect()
    assert kiosk.accepted and bystander.accepted

    code, out = vaxkiosk_json("central", "revoke", "--kiosk", enrolment.kiosk_id, "--reason", "stolen", "--json",
                              *central.registry_args)
    assert (code, out["broker_reloaded"]) == (0, True)
    # Mosquitto 2.0.11 closes the live connection of a user no longer in the password file when it reloads.
    assert kiosk.disconnected.wait(10), "revoked kiosk still connected after the broker reload"
    kiosk.client.loop_stop()
    again = Probe(enrolment.kiosk_id, enrolment.mqtt_password, port).connect()
    assert not again.accepted and again.connect_reason.value == 135  # Not authorized
    again.client.loop_stop()
    # The other kiosk of the site was not disturbed by the reload.
    assert not bystander.disconnected.is_set()
    bystander.publish(f"{ROOT}/{SITE}/{other.kiosk_id}/health", b"{}")
    assert central.registry.device(enrolment.kiosk_id)["state"] == "revoked"
    bystander.close()


def test_used_expired_and_unknown_codes_are_refused(central, tmp_path):
    created = enrol_code(central)
    first = enrol_from_code_text(created["qr_text"], tmp_path / "a.toml", data_dir=str(tmp_path / "data"))
    assert first.kiosk_id == f"{SITE}-k01"

    # Reused: a second kiosk holding the same QR.
    proc = vaxkiosk("provision", "--qr-text", created["qr_text"], "--config", str(tmp_path / "b.toml"),
                    "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 1
    assert "đã được dùng" in proc.stderr.decode() and "already been used" in proc.stderr.decode()
    assert not (tmp_path / "b.toml").exists()

    # Expired: a code made "two days ago" that lived 24 hours.
    two_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    past = Registry(central.registry.store.path, central.registry.broker_files, now=lambda: two_days_ago)
    old_code, _ = past.create_code(SITE)
    past.close()
    code, out = vaxkiosk_json("provision", "--central", central.url, "--code", old_code, "--json",
                              "--config", str(tmp_path / "c.toml"))
    assert (code, out["error"]["code"]) == (1, "code_expired")
    assert out["error"]["message_vi"] and out["error"]["message_en"]

    with pytest.raises(EnrolError) as unknown:
        enrol_with_code(central.url, "AAAA-BBBB-CCCC", tmp_path / "d.toml")
    assert unknown.value.code == "code_unknown"
    # A refused code registers nothing.
    assert [d["kiosk_id"] for d in central.registry.devices()] == [first.kiosk_id]


def test_a_provisioned_kiosk_is_not_overwritten_without_force(central, tmp_path):
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text('[kiosk]\nsite_id = "GL-01"\nkiosk_id = "old"\n\n[printer]\nenabled = true\nport = 9101\n')
    created = enrol_code(central)
    with pytest.raises(EnrolError) as refused:
        enrol_from_code_text(created["qr_text"], config_path)
    assert refused.value.code == "already_provisioned"
    # The code was not spent on a kiosk that refused to store the result.
    result = enrol_from_code_text(created["qr_text"], config_path, force=True, data_dir=str(tmp_path / "d"))
    data = tomllib.loads(config_path.read_text())
    assert data["kiosk"]["kiosk_id"] == result.kiosk_id
    assert data["printer"] == {"enabled": True, "port": 9101}  # the technician's other settings are kept


def test_offline_bundle_provisions_a_kiosk(central, tmp_path):
    bundle = tmp_path / "usb" / "GL-01.vxkbundle"
    code, out = vaxkiosk_json("central", "enrol-bundle", "--site", SITE, "--out", str(bundle), "--json",
                              *central.registry_args)
    assert code == 0 and stat.S_IMODE(bundle.stat().st_mode) == 0o600
    config_path = tmp_path / "kiosk.toml"
    code, result = vaxkiosk_json("provision", "--bundle", str(bundle), "--config", str(config_path), "--json",
                                 "--data-dir", str(tmp_path / "data"), "--enable-services")
    assert code == 0 and result["kiosk_id"] == out["kiosk_id"]
    assert result["services"].startswith("skipped")  # no systemd as PID 1 in the test machine
    kiosk = kiosk_probe(load(config_path))
    assert kiosk.accepted
    kiosk.close()

    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": 1, "kiosk_id": "x"}')
    code, out = vaxkiosk_json("provision", "--bundle", str(broken), "--config", str(tmp_path / "x.toml"), "--json")
    assert (code, out["error"]["code"]) == (1, "bad_bundle")


def test_queue_limits_keep_every_record_for_an_offline_central(central):
    """Queue limits are high: a slow central loses nothing (checked with 5000 QoS 1 records while offline)."""
    enrolment = central.registry.redeem(central.registry.create_code(SITE)[0])
    slow = Probe(broker.CENTRAL_USER, central.password, central.central_port, client_id="central-slow")
    slow.client.connect(slow.host, slow.port, clean_start=False,
                        properties=_session_expiry(3600))
    slow.client.loop_start()
    assert slow.connected.wait(10)
    slow.subscribe(f"$share/central/{ROOT}/+/+/records/#")
    slow.client.disconnect()
    slow.client.loop_stop()

    kiosk = Probe(enrolment.kiosk_id, enrolment.mqtt_password, central.broker.port).connect()
    topic = f"{ROOT}/{SITE}/{enrolment.kiosk_id}/records/checkins"
    for i in range(5000):
        kiosk.client.publish(topic, str(i).encode(), qos=1)
    kiosk.publish(topic, b"last")
    kiosk.close()

    back = Probe(broker.CENTRAL_USER, central.password, central.central_port, client_id="central-slow")
    back.client.connect(back.host, back.port, clean_start=False, properties=_session_expiry(3600))
    back.client.loop_start()
    received = []
    try:
        while True:
            received.append(back.next_message()[1])
            if received[-1] == b"last":
                break
    except queue.Empty:
        pass
    back.close()
    assert len(received) == 5001


def _session_expiry(seconds: int):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = seconds
    return props


def test_operator_commands_in_text_mode(central):
    proc = vaxkiosk("central", "enrol-code", "--site", SITE, "--expires-in", "2h", *central.registry_args)
    out = proc.stdout.decode()
    assert proc.returncode == 0 and "set-up code for site GL-01" in out and central.url in out
    assert "█" in out or "▀" in out  # segno's terminal QR, drawn with block characters
    proc = vaxkiosk("central", "enrol-code", "--site", "NOPE", *central.registry_args)
    assert proc.returncode == 1 and "No such site" in proc.stderr.decode()
    proc = vaxkiosk("central", "enrol-code", "--site", SITE, "--expires-in", "soon", *central.registry_args)
    assert proc.returncode == 2 and "duration" in proc.stderr.decode()

    enrolled = central.registry.redeem(central.registry.create_code(SITE)[0])
    listing = vaxkiosk("central", "devices", *central.registry_args).stdout.decode()
    assert enrolled.kiosk_id in listing and "active" in listing
    # Without a [registry] section the registry commands refuse to guess where the broker files are.
    bare = central.config_path.with_name("bare.toml")
    bare.write_text('[central]\ndata_dir = "/tmp/nowhere"\n')
    proc = vaxkiosk("central", "devices", "--config", str(bare))
    assert proc.returncode == 78 and "[registry]" in proc.stderr.decode()


def test_enrol_code_pins_centrals_key_and_central_url_must_be_https(central, tmp_path):
    from cryptography import x509

    from base.pinning import pin_groups, spki_pin

    ca, ca_key = broker.make_ca(tmp_path / "ca")
    cert, _key = broker.make_server_cert(tmp_path / "tls", ca, ca_key, ["central.example.vn"])
    toml = central.config_path.read_text()
    pinned = central.config_path.with_name("pinned.toml")
    pinned.write_text(toml.replace(f'central_url = "{central.url}"', 'central_url = "https://central.example.vn"\n'
                                   f'central_certificate = "{cert}"'))
    code, out = vaxkiosk_json("central", "enrol-code", "--site", SITE, "--json", "--config", str(pinned))
    pin = spki_pin(x509.load_pem_x509_certificate(cert.read_bytes()))
    assert code == 0 and out["central_pin"] == pin
    assert out["qr_text"] == f"VXK1:ENROL:https://central.example.vn|{out['code']}|{pin}"
    text = vaxkiosk("central", "enrol-code", "--site", SITE, "--config", str(pinned)).stdout.decode()
    assert pin_groups(pin) in text  # what the kiosk's screen shows before the code is used

    insecure = central.config_path.with_name("insecure.toml")
    insecure.write_text(toml.replace(f'central_url = "{central.url}"', 'central_url = "http://192.0.2.10:8081"'))
    proc = vaxkiosk("central", "enrol-code", "--site", SITE, "--config", str(insecure))
    assert proc.returncode == 78 and "https" in proc.stderr.decode()


def test_aggregators_share_a_login_but_kiosks_cannot(central):
    """Central's listener keeps each aggregator's own client id; the kiosk listener forces id = username."""
    first, second = central_probe(central, "central-1"), central_probe(central, "central-2")
    enrolment = central.registry.redeem(central.registry.create_code(SITE)[0])
    port = central.broker.port
    kiosk = Probe(enrolment.kiosk_id, enrolment.mqtt_password, port, client_id="mine").connect()
    clone = Probe(enrolment.kiosk_id, enrolment.mqtt_password, port, client_id="another").connect()
    assert clone.accepted and kiosk.disconnected.wait(10)  # one connection per kiosk id
    second.publish(f"{ROOT}/{SITE}/{enrolment.kiosk_id}/cmd", b"{}")  # round trip on the central listener
    assert not first.disconnected.is_set() and not second.disconnected.is_set()
    # Central's listener is no back door: it knows no kiosk login (tests/security/test_broker_client_ids.py).
    sneaky = Probe(enrolment.kiosk_id, enrolment.mqtt_password, central.central_port, client_id="x").connect()
    assert not sneaky.accepted and sneaky.connect_reason.value == 135  # not authorized
    kiosk.client.loop_stop()
    for probe in (first, second, clone, sneaky):
        probe.close()
