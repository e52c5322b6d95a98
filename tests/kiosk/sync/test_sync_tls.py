"""Sync over TLS: a real Mosquitto TLS listener with a certificate from a test CA; the kiosk and central trust
only that CA ([mqtt] tls_ca)."""

import datetime as dt
import getpass
import ipaddress
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from tests.support.mosquitto import Mosquitto
from tests.support.sync import central, outbox_undelivered, qr, sync_config, wait_for


def _cert(subject: str, issuer_key, public_key, issuer: str, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
            "127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(folder):
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("vaxkiosk test CA", ca_key, ca_key.public_key(), "vaxkiosk test CA", ca=True)
    server = _cert("127.0.0.1", ca_key, server_key.public_key(), "vaxkiosk test CA", ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption()))
    return folder / "ca.pem"


def test_records_flow_over_tls_to_a_broker_the_kiosk_and_central_trust(tmp_path):
    folder = tmp_path / "tls-broker"
    folder.mkdir()
    ca = make_pki(folder)
    # `user`: started as root, Mosquitto would switch to its own user, which cannot read pytest's 0700 folders.
    broker = Mosquitto(folder, extra_config=f"user {getpass.getuser()}\ncafile {ca}\n"
                                            f"certfile {folder / 'server.pem'}\nkeyfile {folder / 'server.key'}\n"
                                            "tls_version tlsv1.2\n").start()
    # The listener speaks TLS with the test CA's certificate (not plain MQTT).
    with ssl.create_default_context(cafile=str(ca)).wrap_socket(
            socket.create_connection(("127.0.0.1", broker.port), timeout=5), server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.3" or tls.version() == "TLSv1.2"
    config = sync_config(tmp_path, broker.port, tls_ca=str(ca))
    app = App(load(config))
    app.start()
    try:
        with central(tmp_path, broker.port, tls_ca=str(ca)) as (store, _ingest):
            checkin_id = app.checkins.check_in(parse(qr(1)), "camera").checkin["id"]
            wait_for(lambda: store.record_ids("k1", "checkins") == [checkin_id], 10, what="record over TLS")
            wait_for(lambda: outbox_undelivered(config) == 0, 10, what="acknowledged over TLS")
    finally:
        app.stop()
        broker.stop()
