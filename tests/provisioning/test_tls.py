"""The broker's TLS listener with the project CA: made by `vaxkiosk central broker-config`, trusted by a kiosk
provisioned from a bundle that carries the CA, refused by a client that trusts another CA."""

from __future__ import annotations

import shutil
import socket
import ssl

import pytest

from central import broker
from tests.conftest import vaxkiosk_json
from tests.provisioning.conftest import SITE, broker_readable_dir, write_central_toml
from tests.provisioning.mqtt_probe import Probe
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port


@pytest.fixture
def tls_central(tmp_path):
    broker_dir = broker_readable_dir()
    tls_port = free_port()
    pid_file = broker_dir / "mosquitto.pid"
    config = write_central_toml(tmp_path / "central.toml", tmp_path / "central", "central-secret", broker_dir,
                                pid_file, "https://central.example.vn", "localhost", tls_port,
                                str(broker_dir / "tls" / "ca.pem"))
    registry_args = ["--config", str(config)]
    code, out = vaxkiosk_json("central", "add-site", "--site", SITE, "--name", "Trạm Y tế", "--json", *registry_args)
    assert code == 0, out
    conf = broker_dir / "vaxkiosk.conf"
    code, out = vaxkiosk_json("central", "broker-config", "--conf", str(conf), "--tls-listen", f"127.0.0.1:{tls_port}",
                              "--central-listen", f"127.0.0.1:{free_port()}",
                              "--tls-host", "127.0.0.1", "--tls-host", "localhost", "--json", *registry_args)
    assert code == 0, out
    run_dir = broker_dir / "run"
    mosq = Mosquitto(run_dir, extra_config=conf.read_text()).start()
    pid_file.write_text(str(mosq.proc.pid))
    wait_port(tls_port)
    yield {"registry_args": registry_args, "port": tls_port, "ca": broker_dir / "tls" / "ca.pem", "broker": mosq}
    mosq.stop()
    shutil.rmtree(broker_dir, ignore_errors=True)


def test_kiosk_connects_over_tls_verifying_the_project_ca(tls_central, tmp_path):
    bundle = tmp_path / "bundle.json"
    code, out = vaxkiosk_json("central", "enrol-bundle", "--site", SITE, "--out", str(bundle), "--json",
                              *tls_central["registry_args"])
    assert code == 0, out
    config = tmp_path / "etc" / "kiosk.toml"
    code, out = vaxkiosk_json("provision", "--bundle", str(bundle), "--config", str(config), "--json",
                              "--data-dir", str(tmp_path / "data"))
    assert code == 0, out
    assert (tmp_path / "etc" / "broker-ca.pem").read_bytes() == tls_central["ca"].read_bytes()

    # `vaxkiosk doctor` logs in over TLS exactly as the kiosk will.
    code, report = vaxkiosk_json("doctor", "--config", str(config), "--json", env={"VAXKIOSK_CLOCK_SYNCED": "1"})
    broker_check = next(c for c in report["checks"] if c["name"] == "broker")
    assert broker_check["status"] == "pass" and "(TLS)" in broker_check["detail"], broker_check


def test_a_client_that_trusts_another_ca_is_refused(tls_central, tmp_path):
    other_ca, _ = broker.make_ca(tmp_path / "other")
    impostor = Probe("anyone", "x", tls_central["port"], host="localhost", ca=str(other_ca))
    with pytest.raises(ssl.SSLCertVerificationError):
        impostor.client.connect("localhost", tls_central["port"])


def test_the_certificate_names_the_broker(tls_central):
    """Hostname verification is on: the right CA with a name not in the certificate is refused."""
    context = ssl.create_default_context(cafile=str(tls_central["ca"]))
    for name in ("localhost", "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", tls_central["port"])) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with socket.create_connection(("127.0.0.1", tls_central["port"])) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="central.example.vn")
