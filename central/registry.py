"""Central's device registry: sites, kiosks (active or revoked) and one-time enrolment codes.

An enrolment code is bound to a site, expires, and can be redeemed once; redeeming it registers a new kiosk with its
own MQTT password. Only hashes are stored: the code (SHA-256, it is random and short-lived) and the MQTT password
(Mosquitto `$7$`). Every change to the set of active kiosks rewrites the broker's password files and ACLs and
reloads the broker (central.broker), so a revoked kiosk loses its broker access at once; its broker session is
then ended too (central.broker_sessions).

Its tables (devices, enrol_codes, signing_certs) are in central.db, migrations "0002_registry" and
"0003_signing_certs" of central.store, and only this module writes them; the sites it enrols at and the kiosks it
revokes it writes through central.store's functions. Settings: the [registry] section of central.toml
(RegistrySection).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from base.config import build_section, check_id, check_port, checked
from base.pinning import UntrustedCentral, check_url, spki_pin
from base.refusal import Refusal
from base.store import open_store
from central import broker
from central.store import MIGRATIONS, mark_revoked, register_site, site_names, site_row

DEFAULT_EXPIRY = dt.timedelta(hours=24)
# No 0/O, 1/I/L: the code is read aloud and typed on a kiosk's touch screen.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12  # ~59 bits: enough for a one-time code valid for hours

# Refusals a technician sees: code → (Vietnamese, English). Codes are stable (HTTP API, CLI, tests).
REFUSALS: dict[str, tuple[str, str]] = {
    "code_unknown": ("Mã cài đặt không đúng. Vui lòng kiểm tra lại hoặc xin mã mới.",
                     "Unknown set-up code. Check it or ask for a new one."),
    "code_used": ("Mã cài đặt này đã được dùng. Vui lòng xin mã mới.",
                  "This set-up code has already been used. Ask for a new one."),
    "code_expired": ("Mã cài đặt đã hết hạn. Vui lòng xin mã mới.",
                     "This set-up code has expired. Ask for a new one."),
    "unknown_site": ("Không có điểm tiêm này trong hệ thống.", "No such site in the registry."),
    "unknown_kiosk": ("Không có máy kiosk này trong hệ thống.", "No such kiosk in the registry."),
    "bad_site_id": ("Mã điểm tiêm không hợp lệ.",
                    "Invalid site id (letters, digits, '-' or '_', 1-63 characters)."),
    "bad_certificate": ("Chứng thư ký của máy không hợp lệ.",
                        "The kiosk's signing certificate is not a PEM X.509 certificate with a P-256 or RSA key."),
    "unknown_key": ("Không có khóa ký này trong danh sách tin cậy.", "No such signing key in the trust list."),
}
MAX_CERTIFICATE_BYTES = 8192


class RegistryRefused(Refusal):
    MESSAGES = REFUSALS


def _check_central_url(value: str) -> str | None:
    if not value:
        return None
    try:
        check_url(value)
    except UntrustedCentral:
        return ("https://... (the TLS reverse proxy in front of central), or http://127.0.0.1... for a kiosk on "
                "this same machine: kiosks refuse plain http to any other host")
    return None


@dataclass(frozen=True)
class RegistrySection:
    """[registry] in central.toml. Present = this central enrols kiosks and ingest accepts only enrolled ones."""
    # Where the Mosquitto password file and ACL are written (the broker's config points at them).
    broker_dir: str = "/var/lib/vaxkiosk-central/broker"
    # The broker to SIGHUP after a change; "" when the vaxkiosk-broker-reload.path unit reloads it instead.
    broker_pid_file: str = "/run/mosquitto/mosquitto.pid"
    # What kiosks are told at enrolment: central's address (put in the QR), the broker's address and its CA.
    # central_url is https (the TLS reverse proxy in front of central), or http to 127.0.0.1 for a kiosk on the same
    # machine: kiosks refuse plain http to any other host.
    central_url: str = checked(_check_central_url, default="")
    # The PEM certificate central_url presents (the reverse proxy's): its key's pin goes into the enrolment QR, and
    # the kiosk talks only to that key. "" = a certificate from a public CA, which kiosks check against theirs.
    central_certificate: str = ""
    broker_host: str = ""
    broker_port: int = checked(check_port, default=8883)
    broker_ca: str = ""


def registry_settings(config) -> RegistrySection | None:
    """The [registry] section of a central.config.Config, validated; None when the section is absent."""
    table = config.other.get("registry")
    return None if table is None else build_section(RegistrySection, table, "registry", config.source)


def registry_from_config(config) -> "Registry | None":
    settings = registry_settings(config)
    if settings is None:
        return None
    from central.broker_sessions import end_session

    files = broker.BrokerFiles(settings.broker_dir, settings.broker_pid_file or None)
    # Central's own broker login comes from [mqtt] password: it is written to central's password file.
    central_hash = broker.hash_password(config.mqtt.password) if config.mqtt.password else None
    return Registry(config.store_location, files, central_password_hash=central_hash, settings=settings,
                    end_session=functools.partial(end_session, config.mqtt))


@dataclass(frozen=True)
class Enrolment:
    """What a kiosk receives once, when it enrols. `mqtt_password` exists nowhere else."""
    kiosk_id: str
    site_id: str
    site_name: str
    mqtt_password: str


def normalise_code(code: str) -> str:
    """What the technician typed → the canonical code: case, spaces and dashes do not matter."""
    return re.sub(r"[\s-]", "", code).upper()


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def central_pin(settings: "RegistrySection") -> str:
    """The pin of [registry] central_certificate, or "" without one."""
    from cryptography import x509

    if not settings.central_certificate:
        return ""
    return spki_pin(x509.load_pem_x509_certificate(Path(settings.central_certificate).read_bytes()))


def parse_signing_certificate(pem: str):
    """A kiosk's document signing certificate as sent at enrolment, or RegistryRefused("bad_certificate")."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if not isinstance(pem, str) or len(pem) > MAX_CERTIFICATE_BYTES:
        raise RegistryRefused("bad_certificate")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
        key = certificate.public_key()
    except (ValueError, UnicodeEncodeError):
        raise RegistryRefused("bad_certificate") from None
    p256 = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    if not (p256 or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048)):
        raise RegistryRefused("bad_certificate", "key type")
    return certificate


@dataclass(frozen=True)
class Revocation:
    broker_reloaded: bool  # the running broker was signalled (its live connection is cut now)
    session_ended: bool | None  # its broker session was ended; None: this registry has no broker login to do it


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


class Registry:
    def __init__(self, path: str | Path, broker_files: broker.BrokerFiles,
                 central_password_hash: str | None = None, now=None, settings: RegistrySection | None = None,
                 end_session: Callable[[str], bool] | None = None):
        self.store = open_store(path, MIGRATIONS, "central")
        self.settings = settings or RegistrySection()
        self.broker_files = broker_files
        # Central's own broker login; when None the existing entry in the password file is kept.
        self.central_password_hash = central_password_hash
        # kiosk id -> whether its broker session was ended (central.broker_sessions.end_session with central's login)
        self._end_session = end_session
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    def close(self) -> None:
        self.store.close()

    # -- sites -------------------------------------------------------------------------------------------------
    def add_site(self, site_id: str, name: str = "", district: str = "", province: str = "") -> None:
        """Register or update a site; empty fields keep what is there."""
        if check_id(site_id):
            raise RegistryRefused("bad_site_id", site_id)
        with self.store.transaction() as db:
            register_site(db, site_id, name, district, province)

    def sites(self) -> list[dict]:
        return site_names(self.store.db)

    def site(self, site_id: str) -> dict | None:
        return site_row(self.store.db, site_id)

    # -- codes -------------------------------------------------------------------------------------------------
    def create_code(self, site_id: str, expires_in: dt.timedelta = DEFAULT_EXPIRY) -> tuple[str, dt.datetime]:
        """A new one-time code for `site_id`: (code, expiry). The site must exist (add_site)."""
        if not self.site(site_id):
            raise RegistryRefused("unknown_site", site_id)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = self._now() + expires_in
        with self.store.transaction() as db:
            db.conn.execute("INSERT INTO enrol_codes (code_hash, site_id, created_wall, expires_wall) "
                            "VALUES (?, ?, ?, ?)", (_hash_code(code), site_id, _iso(self._now()), _iso(expires)))
        return code, expires

    def outstanding_codes(self) -> list[dict]:
        """Codes neither used nor expired (site, created, expires; the code itself is not stored, only its hash)."""
        return self.store.query("SELECT site_id, created_wall, expires_wall FROM enrol_codes "
                                "WHERE used_wall IS NULL AND expires_wall > ? ORDER BY expires_wall",
                                (_iso(self._now()),))

    def redeem(self, code: str, signing_certificate_pem: str | None = None) -> Enrolment:
        """Use a code: registers a new kiosk of its site and returns its credentials. Refuses used/expired/unknown.

        `signing_certificate_pem`: the kiosk's document signing certificate (base.signing), put on the trust list."""
        certificate = parse_signing_certificate(signing_certificate_pem) if signing_certificate_pem else None
        with self.store.transaction() as db:
            row = db.conn.execute("SELECT * FROM enrol_codes WHERE code_hash = ?", (_hash_code(code),)).fetchone()
            if row is None:
                raise RegistryRefused("code_unknown")
            if row["used_wall"]:
                raise RegistryRefused("code_used")
            if dt.datetime.fromisoformat(row["expires_wall"]) <= self._now():
                raise RegistryRefused("code_expired")
            enrolment = self._register(db, row["site_id"], "code")
            if certificate is not None:
                self._add_signing_certificate(db, enrolment.kiosk_id, certificate)
            db.conn.execute("UPDATE enrol_codes SET used_wall = ?, used_by = ? WHERE code_hash = ?",
                            (_iso(self._now()), enrolment.kiosk_id, row["code_hash"]))
            self._write_broker_files()
        self.broker_files.reload()
        return enrolment

    def enrol_directly(self, site_id: str) -> Enrolment:
        """Register a kiosk without a code: the offline bundle, made by an operator at central."""
        if not self.site(site_id):
            raise RegistryRefused("unknown_site", site_id)
        with self.store.transaction() as db:
            enrolment = self._register(db, site_id, "bundle")
            self._write_broker_files()
        self.broker_files.reload()
        return enrolment

    def _register(self, db, site_id: str, via: str) -> Enrolment:
        site = site_row(db, site_id)
        count = db.conn.execute("SELECT count(*) FROM devices WHERE site_id = ?", (site_id,)).fetchone()[0]
        # Readable ids (site + sequence) that never repeat, revoked kiosks included.
        n = count + 1
        while db.conn.execute("SELECT 1 FROM devices WHERE kiosk_id = ?", (f"{site_id}-k{n:02d}",)).fetchone():
            n += 1
        kiosk_id = f"{site_id}-k{n:02d}"
        password = broker.new_password()
        db.conn.execute("INSERT INTO devices (kiosk_id, site_id, password_hash, enrolled_wall, enrolled_via) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (kiosk_id, site_id, broker.hash_password(password), _iso(self._now()), via))
        return Enrolment(kiosk_id, site_id, site["name"] or "", password)

    # -- devices -----------------------------------------------------------------------------------------------
    def device(self, kiosk_id: str) -> dict | None:
        return self.store.query_one("SELECT kiosk_id, site_id, state, enrolled_wall, enrolled_via, revoked_wall, "
                                    "revoked_reason FROM devices WHERE kiosk_id = ?", (kiosk_id,))

    def devices(self, site_id: str | None = None) -> list[dict]:
        where, params = ("WHERE site_id = ?", (site_id,)) if site_id else ("", ())
        return self.store.query("SELECT kiosk_id, site_id, state, enrolled_wall, enrolled_via, revoked_wall "
                                f"FROM devices {where} ORDER BY kiosk_id", params)

    def is_enrolled(self, site_id: str, kiosk_id: str) -> bool:
        """Ingest's check on every message (central.ingest.KioskRegistry): the kiosk is active and publishes under
        its own site. The broker's ACL already allows a kiosk only its own site's topics; this also catches a kiosk
        revoked since the broker last reloaded, or a broker configured by hand."""
        row = self.store.query_one("SELECT site_id, state FROM devices WHERE kiosk_id = ?", (kiosk_id,))
        return bool(row) and row["state"] == "active" and row["site_id"] == site_id

    def revoke(self, kiosk_id: str, reason: str = "") -> Revocation:
        """Revoke a kiosk: its password and ACL go, the broker reloads (its live connection is cut), and then its
        broker session is ended, so nothing it subscribed to stays behind."""
        with self.store.transaction() as db:
            updated = db.conn.execute("UPDATE devices SET state = 'revoked', revoked_wall = ?, revoked_reason = ? "
                                      "WHERE kiosk_id = ? AND state = 'active'",
                                      (_iso(self._now()), reason, kiosk_id)).rowcount
            if not updated and not db.conn.execute("SELECT 1 FROM devices WHERE kiosk_id = ?",
                                                   (kiosk_id,)).fetchone():
                raise RegistryRefused("unknown_kiosk", kiosk_id)
            mark_revoked(db, kiosk_id, _iso(self._now()))
            self._write_broker_files()
        reloaded = self.broker_files.reload()
        # After the SIGHUP: the signal is handled before the broker reads this login, so the kiosk cannot log in
        # again and start a new session behind it. (Reloaded later by the path unit: a session the kiosk managed to
        # open in between expires within persistent_client_expiration, with no ACL to use.)
        ended = self._end_session(kiosk_id) if self._end_session else None
        return Revocation(reloaded, ended)

    # -- document signing certificates: the trust list -----------------------------------------------------------
    def _add_signing_certificate(self, db, kiosk_id: str, certificate) -> None:
        from cryptography.hazmat.primitives import serialization

        from base.signing import kid_of
        from base.trustlist import b64

        db.conn.execute("INSERT INTO signing_certs (kid, kiosk_id, certificate_pem, added_wall) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (kid) DO UPDATE SET kiosk_id = excluded.kiosk_id, certificate_pem = "
                        "excluded.certificate_pem, added_wall = excluded.added_wall, revoked_wall = NULL, "
                        "revoked_reason = NULL",
                        (b64(kid_of(certificate)), kiosk_id,
                         certificate.public_bytes(serialization.Encoding.PEM).decode(), _iso(self._now())))

    def trust_entries(self):
        """(signing certificates, revoked kids) for central.trustlist: a key is revoked with its kiosk or alone."""
        import base64

        from cryptography import x509

        rows = self.store.query("SELECT s.kid, s.certificate_pem, s.revoked_wall, d.state FROM signing_certs s "
                                "JOIN devices d ON d.kiosk_id = s.kiosk_id ORDER BY s.kid")
        certificates = [x509.load_pem_x509_certificate(r["certificate_pem"].encode()) for r in rows]
        revoked = [base64.b64decode(r["kid"]) for r in rows if r["revoked_wall"] or r["state"] == "revoked"]
        return certificates, revoked

    def revoke_key(self, kid_b64: str, reason: str = "") -> None:
        with self.store.transaction() as db:
            if not db.conn.execute("UPDATE signing_certs SET revoked_wall = ?, revoked_reason = ? WHERE kid = ?",
                                   (_iso(self._now()), reason, kid_b64)).rowcount:
                raise RegistryRefused("unknown_key", kid_b64)

    def trust_list_signer(self):
        """(key, certificate) central signs its trust list with; kiosks pin the certificate at enrolment."""
        from base.signing import ensure_signing_key

        return ensure_signing_key(self.store.path.parent / "trustlist-signer", "vaxkiosk central trust list")

    # -- broker ------------------------------------------------------------------------------------------------
    def broker_logins(self) -> list[broker.KioskLogin]:
        """Every active kiosk with its site and password hash: the kiosk listeners' password file and ACL."""
        return [broker.KioskLogin(r["kiosk_id"], r["site_id"], r["password_hash"]) for r in self.store.query(
            "SELECT kiosk_id, site_id, password_hash FROM devices WHERE state = 'active' ORDER BY kiosk_id")]

    def _write_broker_files(self) -> None:
        # Called inside the write transaction: two processes enrolling at once (CLI, dashboard) write the files in
        # the order of their commits, so the file always matches the registry. A failed write rolls the change back.
        self.broker_files.write(self.broker_logins(), self.central_password_hash)

    def sync_broker(self) -> bool:
        """Rewrite password file + ACL from the registry and reload the broker."""
        with self.store.transaction():
            self._write_broker_files()
        return self.broker_files.reload()
