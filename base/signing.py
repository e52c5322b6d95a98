"""Document signing keys: one EC P-256 key and self-signed X.509 certificate per site or kiosk.

The key signs vaccination certificates (kiosk.certificates.hcert); verifiers find its certificate by key id (kid): the first
8 bytes of the SHA-256 of the DER certificate, as the EU DCC specification defines it. Provisioning calls
`ensure_signing_key` once; on a development machine the first certificate issued creates the key, and the machine
then trusts its own certificate, so a certificate printed here verifies here.

Files, in `<data_dir>/signing/`: `dsc-key.pem` (PKCS#8, mode 0600) and `dsc.pem` (the certificate).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KEY_FILE = "dsc-key.pem"
CERT_FILE = "dsc.pem"
# A document signer certificate outlives the certificates it signs; verifiers check iat falls inside it.
CERT_VALIDITY_DAYS = 5 * 365


@dataclass(frozen=True)
class Signer:
    key: object  # a cryptography private key (EC P-256 here; RSA accepted for PS256)
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return kid_of(self.certificate)


def kid_of(certificate: x509.Certificate) -> bytes:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def signing_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "signing"


def ensure_signing_key(data_dir: str | os.PathLike, subject: str, now: dt.datetime | None = None):
    """(private key, certificate) of this data dir, created on first call. Idempotent; never replaces a key.

    `now` is the caller's clock: a key created on first use is valid from the time the caller signs at, not from
    this machine's wall clock (a test's or a kiosk's clock may be anywhere)."""
    folder = signing_dir(data_dir)
    if not (folder / CERT_FILE).exists():
        folder.mkdir(parents=True, exist_ok=True)
        # The printer worker, a web request and a command may all ask first at once: one of them creates the key,
        # the others wait and load it (two keys would leave certificates signed by a key nobody trusts).
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / CERT_FILE).exists():
                _create(folder, subject, now)
    signer = load_signer(data_dir)
    return signer.key, signer.certificate


def _create(folder: Path, subject: str, now: dt.datetime | None) -> None:
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_certificate(key, subject, now)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write_atomic(key_path, key_pem, mode=0o600)
    # Written last: a crash in between leaves no certificate, so the next call starts again (nothing was signed).
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def self_signed_certificate(key, subject: str, now: dt.datetime | None = None,
                            days: int = CERT_VALIDITY_DAYS) -> x509.Certificate:
    now = now or dt.datetime.now(dt.timezone.utc)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vaxkiosk"),
        x509.NameAttribute(NameOID.COMMON_NAME, subject[:64] or "vaxkiosk"),
    ])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )


def load_signer(data_dir: str | os.PathLike) -> Signer:
    folder = signing_dir(data_dir)
    key = serialization.load_pem_private_key((folder / KEY_FILE).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((folder / CERT_FILE).read_bytes())
    return Signer(key, cert)


def local_signer(data_dir: str | os.PathLike, subject: str, now: dt.datetime | None = None) -> Signer:
    key, cert = ensure_signing_key(data_dir, subject, now)
    return Signer(key, cert)


def local_certificate(data_dir: str | os.PathLike) -> x509.Certificate | None:
    """This machine's own signing certificate, trusted locally; None before the first key exists."""
    path = signing_dir(data_dir) / CERT_FILE
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.exists() else None


def load_pem_certificates(path: str | os.PathLike) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a trust file may hold several)."""
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
