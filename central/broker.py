"""Mosquitto 2.0 configuration that central owns: password files, ACLs, broker settings, and the project's TLS CA.

Two kinds of listener, each with its own password file and ACL (per_listener_settings):
- kiosk listeners: only kiosks can log in (username = kiosk id, its own random password), and the broker replaces
  the client id with the username, so one credential holds one session and cannot take over another kiosk's. The
  ACL names each kiosk's own topics under its own site (`vaxkiosk/v1/<site>/<kiosk>/...`): the registry knows both.
- central's listener (normally loopback): only `central` can log in, with client ids of its own choosing (several
  aggregator processes share the record subscription). A kiosk's credentials are refused there.
- the bridge listener (TLS, only with regional brokers): only the regional brokers' bridges log in, each as
  `region-<name>` with its own ACL naming its sites' topics (central.bridge).

What Mosquitto 2.0.11 does not check, and what stands in for it: its acl_file plugin accepts every SUBSCRIBE
(security_default.c: "FIXME - implement ACL subscription strings") and lets any client subscribe to any `$share/...`
filter, so an ACL line cannot keep a kiosk out of central's shared-subscription group. Central's group name is
therefore a secret derived from central's own password (central.protocol.shared_group); a kiosk that joins another
group gets only what its read ACL allows, which is its own ack and cmd. Sessions a kiosk asks the broker to keep are
capped by `persistent_client_expiration` and ended when the kiosk is revoked (central.broker_sessions).

Revocation relies on a fact checked against Mosquitto 2.0.11 (tests/provisioning/test_end_to_end.py): on SIGHUP it
re-reads the password files and disconnects connected clients whose username is no longer in theirs. Rewriting the
files and sending SIGHUP therefore ends a revoked kiosk's access at once, live connection included.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import grp
import hashlib
import ipaddress
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from base import protocol
from base.files import write_atomic

CENTRAL_USER = "central"
TOPIC_ROOT = protocol.ROOT
# Mosquitto 2.0's default for `$7$` hashes (mosquitto_passwd uses the same count).
PBKDF2_ITERATIONS = 101
# Default is 1000: a slow aggregator (central restarting, a backlog after a site comes back online) would lose QoS 1
# records beyond that. The kiosks keep a durable outbox, but a drop still costs a resend round.
MAX_QUEUED_MESSAGES = 200_000
# The largest payload the protocol allows (an ack of 500 record ids); the broker drops bigger ones (MQTT 5: PUBACK
# reason "packet too large"). A packet bigger than the payload limit plus room for the topic and properties closes
# the connection before the broker has read (and allocated) it.
MESSAGE_SIZE_LIMIT = max(protocol.MAX_BYTES.values())
MAX_PACKET_SIZE = MESSAGE_SIZE_LIMIT + 1024
# A session a client asks the broker to keep after its connection ends lives at most this long (the shortest
# Mosquitto can express). Neither kiosks nor central's aggregators use persistent sessions: the kiosk's outbox
# resends whatever was not acknowledged.
PERSISTENT_CLIENT_EXPIRATION = "1h"


@dataclass(frozen=True)
class KioskLogin:
    """An active kiosk as the broker needs it: who it is, where it is, its `$7$` password hash."""
    kiosk_id: str
    site_id: str
    password_hash: str


def kiosk_topics(site_id: str, kiosk_id: str) -> list[tuple[str, str]]:
    """(access, topic) a kiosk may use: it writes its telemetry and record streams, reads central's acks and
    commands. Every topic is spelled out (no wildcard), so a kiosk can retain messages on these few topics only."""
    writes = [protocol.topic(site_id, kiosk_id, leaf) for leaf in ("status", "health", "queue")]
    writes += [protocol.topic(site_id, kiosk_id, "records", stream) for stream in protocol.STREAMS]
    reads = [protocol.topic(site_id, kiosk_id, leaf) for leaf in ("ack", "cmd")]
    return [("write", t) for t in writes] + [("read", t) for t in reads]


def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Mosquitto 2.0 `$7$` hash: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key, both base64."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    _, seven, iterations, salt, _key = hashed.split("$")
    if seven != "7":
        return False
    return secrets.compare_digest(hash_password(password, base64.b64decode(salt), int(iterations)), hashed)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def password_file_text(users: dict[str, str]) -> str:
    """`users`: username → `$7$` hash. Sorted so that an unchanged registry gives an unchanged file."""
    return "".join(f"{name}:{hashed}\n" for name, hashed in sorted(users.items()))


def kiosk_acl_text(kiosks: list[KioskLogin]) -> str:
    """The kiosk listeners' ACL: one `user` block per active kiosk with its own topics, under its own site."""
    lines = ["# Generated by vaxkiosk (central/broker.py) from central's registry; edits are overwritten.",
             "# Each kiosk may use only its own topics, under its own site; a user not listed may use none."]
    for kiosk in sorted(kiosks, key=lambda k: k.kiosk_id):
        lines += ["", f"user {kiosk.kiosk_id}"]
        lines += [f"topic {access} {topic}" for access, topic in kiosk_topics(kiosk.site_id, kiosk.kiosk_id)]
    return "\n".join(lines) + "\n"


def central_acl_text() -> str:
    """Central's listener: it reads every kiosk's topics and writes their acks and commands."""
    return "\n".join([
        "# Generated by vaxkiosk (central/broker.py); edits are overwritten.",
        f"user {CENTRAL_USER}",
        f"topic read {TOPIC_ROOT}/#",
        f"topic write {TOPIC_ROOT}/+/+/ack",
        f"topic write {TOPIC_ROOT}/+/+/cmd",
    ]) + "\n"


@dataclass(frozen=True)
class Listener:
    port: int
    address: str = ""  # empty: every interface
    # A kiosk listener (kiosks log in, client id forced to the username) or central's (only central logs in, with
    # its own client ids: several aggregator processes share the record subscription; forced ids would make them
    # kick each other off).
    kiosks: bool = True
    # The national broker's listener for regional bridges (central.bridge): their own users and ACL.
    bridges: bool = False
    # With TLS: PEM files of the project CA, the server certificate and its key.
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    def lines(self, files: "BrokerFiles") -> list[str]:
        out = [f"listener {self.port} {self.address}".rstrip()]
        if self.certfile:
            out += [f"cafile {self.cafile}", f"certfile {self.certfile}", f"keyfile {self.keyfile}",
                    "tls_version tlsv1.2", "require_certificate false"]
        return out + listener_auth_lines(files, self.kiosks, self.bridges)


def listener_auth_lines(files: "BrokerFiles", kiosks: bool, bridges: bool = False) -> list[str]:
    """Security settings of the listener above them (per_listener_settings)."""
    if bridges:
        password_file, acl_file = files.bridge_password_file, files.bridge_acl_file
    elif kiosks:
        password_file, acl_file = files.password_file, files.acl_file
    else:
        password_file, acl_file = files.central_password_file, files.central_acl_file
    return [
        "allow_anonymous false",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        # Kiosks: one session per kiosk id, and no device can take over another kiosk's client id. Bridges: one
        # session per region (their client id is their username anyway).
        f"use_username_as_clientid {'true' if kiosks or bridges else 'false'}",
    ]


def global_conf_lines() -> list[str]:
    return [
        "# Generated by vaxkiosk (central/broker.py).",
        # Kiosk and central listeners have their own users, ACLs and client id rules.
        "per_listener_settings true",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        "max_inflight_messages 100",
        # Records in flight to central survive a broker restart.
        "persistence true",
        f"persistent_client_expiration {PERSISTENT_CLIENT_EXPIRATION}",
        f"message_size_limit {MESSAGE_SIZE_LIMIT}",
        f"max_packet_size {MAX_PACKET_SIZE}",
    ]


def broker_conf_text(files: "BrokerFiles", listeners: list[Listener]) -> str:
    """The part of mosquitto.conf vaxkiosk needs (Debian: /etc/mosquitto/conf.d/vaxkiosk.conf)."""
    lines = global_conf_lines()
    for listener in listeners:
        lines += [""] + listener.lines(files)
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str | bytes, mode: int = 0o640) -> None:
    write_atomic(path, text, mode)
    _share_with_broker(path)


def _share_with_broker(path: Path) -> None:
    # Mosquitto re-reads these files on SIGHUP after it has dropped root for its own user: give them its group.
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(path, -1, grp.getgrnam("mosquitto").gr_gid)


class BrokerFiles:
    """The password files and ACLs in `directory`, and how to make the running broker re-read them."""

    def __init__(self, directory: str | os.PathLike, pid_file: str | os.PathLike | None = None):
        self.directory = Path(directory)
        self.pid_file = Path(pid_file) if pid_file else None

    @property
    def password_file(self) -> Path:
        """The kiosks' (kiosk listeners); vaxkiosk-broker-reload.path watches it."""
        return self.directory / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.directory / "acl"

    @property
    def central_password_file(self) -> Path:
        return self.directory / "central.passwd"

    @property
    def central_acl_file(self) -> Path:
        return self.directory / "central.acl"

    @property
    def bridge_password_file(self) -> Path:
        """The regional bridges' logins (central.bridge); present once a bridge listener or a region exists."""
        return self.directory / "bridge.passwd"

    @property
    def bridge_acl_file(self) -> Path:
        return self.directory / "bridge.acl"

    @property
    def has_bridges(self) -> bool:
        return (self.directory / "regions").is_dir()

    def write(self, kiosks: list[KioskLogin], central_hash: str | None) -> None:
        """Rewrite every file; the kiosks' password file last, since writing it is what triggers the path unit's
        reload. Without `central_hash` central's password file is left as it is."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_private(self.central_acl_file, central_acl_text(), 0o644)
        if central_hash:
            _write_private(self.central_password_file, password_file_text({CENTRAL_USER: central_hash}))
        if self.has_bridges:
            from central import bridge  # it builds on this module

            bridge.write_files(self, kiosks)
        _write_private(self.acl_file, kiosk_acl_text(kiosks), 0o640)
        _write_private(self.password_file,
                       password_file_text({k.kiosk_id: k.password_hash for k in kiosks}))

    def write_conf(self, path: str | os.PathLike, listeners: list[Listener]) -> Path:
        path = Path(path)
        _write_private(path, broker_conf_text(self, listeners), 0o644)
        return path

    def reload(self) -> bool:
        """SIGHUP the broker named by the pid file; False when there is none (a systemd path unit reloads it)."""
        if not self.pid_file:
            return False
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError):
            return False
        return True


# -- the project CA -----------------------------------------------------------------------------------------------

def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vaxkiosk"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(directory: str | os.PathLike, years: int = 20) -> tuple[Path, Path]:
    """A P-256 root CA for the broker's TLS listener: (ca.pem, ca.key). Kiosks trust only this CA."""
    directory = Path(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name("vaxkiosk project CA")).issuer_name(_name("vaxkiosk project CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    ca_pem, ca_key = directory / "ca.pem", directory / "ca.key"
    _write_private(ca_pem, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_private(ca_key, _pem_key(key), 0o600)
    return ca_pem, ca_key


def make_server_cert(directory: str | os.PathLike, ca_pem: Path, ca_key: Path, hostnames: list[str],
                     days: int = 825) -> tuple[Path, Path]:
    """The broker's certificate signed by the project CA: (server.pem, server.key). Names may be IP addresses."""
    directory = Path(directory)
    ca_cert = x509.load_pem_x509_certificate(Path(ca_pem).read_bytes())
    ca_private = serialization.load_pem_private_key(Path(ca_key).read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_private, hashes.SHA256()))
    server_pem, server_key = directory / "server.pem", directory / "server.key"
    _write_private(server_pem, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    # Mosquitto drops root privileges before it reads the key on Debian: group-readable for the mosquitto group.
    _write_private(server_key, _pem_key(key), 0o640)
    return server_pem, server_key
