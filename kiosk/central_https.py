"""HTTP requests from a kiosk to central that trust only what the kiosk was told to trust.

A `TrustRule` is one of:
- a pin: `sha256:<hex>` of central's public key (the certificate's SubjectPublicKeyInfo, DER), carried in the
  enrolment QR or given with `vaxkiosk provision --pin`. Any certificate with that key is central, whoever issued it
  (a self-signed certificate behind the reverse proxy is fine); any other key is refused;
- a CA: the system's CAs, or a PEM file (`--ca`), with the usual chain and host name checks;
- both: the chain is checked and the key must be the pinned one.
Whatever the rule, the server is checked right after the TLS handshake, before a byte of the request (which may carry
a one-time set-up code) is sent.

Plain http is accepted only to this machine itself (127.0.0.1, ::1, localhost): a central on the same machine, as in
development and the demo. Every other address is another device, 127.0.0.2 included.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
PIN_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class UntrustedCentral(Exception):
    """`code`: insecure_central (plain http to another machine), central_untrusted (the certificate does not
    verify), central_pin_mismatch (a different key than the pinned one), bad_url."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def spki_pin(certificate: x509.Certificate | bytes) -> str:
    """`sha256:<hex>` of a certificate's public key (it survives renewing the certificate with the same key)."""
    if isinstance(certificate, bytes):
        certificate = x509.load_der_x509_certificate(certificate)
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def normalise_pin(text: str) -> str:
    """A pin as a person may type it (upper case, spaces or colons between hex pairs) → `sha256:<hex>`."""
    body = text.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    pin = f"sha256:{body}"
    if not PIN_RE.match(pin):
        raise ValueError("expected sha256: and 64 hex digits")
    return pin


def pin_groups(pin: str) -> str:
    """The hex of a pin in groups of four, as screens and the operator's printout show it."""
    hexdigits = pin.removeprefix("sha256:").upper()
    return " ".join(hexdigits[i:i + 4] for i in range(0, len(hexdigits), 4))


@dataclass(frozen=True)
class TrustRule:
    pin: str = ""  # sha256:<hex> of central's public key
    ca_file: str = ""  # PEM CAs; "" = the system's

    @property
    def checks_chain(self) -> bool:
        return not self.pin or bool(self.ca_file)


@dataclass(frozen=True)
class Identity:
    """Who answered at `url`, and why the kiosk believes it: verified = pin | ca | loopback."""
    url: str
    host: str
    port: int
    verified: str
    pin: str = ""  # sha256:<hex> of the key it presented ("" over loopback http)
    subject: str = ""
    issuer: str = ""

    def rule(self, ca_file: str = "") -> TrustRule:
        """The rule that accepts this same server again, and nothing else."""
        return TrustRule(pin=self.pin, ca_file=ca_file if self.verified == "ca" else "")

    def to_json(self) -> dict:
        return {"url": self.url, "host": self.host, "port": self.port, "verified": self.verified, "pin": self.pin,
                "pin_groups": pin_groups(self.pin) if self.pin else "", "subject": self.subject,
                "issuer": self.issuer}


def check_url(url: str):
    """The split URL, if the kiosk may talk to it at all."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UntrustedCentral("bad_url", url[:200])
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UntrustedCentral("bad_url", url[:200]) from None
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise UntrustedCentral("insecure_central", f"http://{parts.hostname}")
    return parts


def _context(rule: TrustRule) -> ssl.SSLContext:
    if rule.checks_chain:
        context = ssl.create_default_context(cafile=rule.ca_file or None)
    else:  # the pin alone decides, checked by _check_server before anything is sent
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()


def _connect(url: str, rule: TrustRule, timeout: float) -> tuple[http.client.HTTPConnection, Identity]:
    parts = check_url(url)
    host = parts.hostname
    if parts.scheme == "http":
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
        conn.connect()
        return conn, Identity(url, host, parts.port or 80, "loopback")
    port = parts.port or 443
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_context(rule))
    try:
        conn.connect()
    except ssl.SSLCertVerificationError as exc:
        conn.close()
        raise UntrustedCentral("central_untrusted", exc.verify_message or str(exc)) from None
    except ssl.SSLError as exc:
        conn.close()
        raise UntrustedCentral("central_untrusted", str(exc)) from None
    der = conn.sock.getpeercert(binary_form=True)
    certificate = x509.load_der_x509_certificate(der)
    pin = spki_pin(certificate)
    if rule.pin and pin != rule.pin:
        conn.close()
        raise UntrustedCentral("central_pin_mismatch", f"{host}:{port} presented {pin}")
    identity = Identity(url, host, port, "pin" if rule.pin else "ca", pin, _name(certificate.subject),
                        _name(certificate.issuer))
    return conn, identity


def identify(url: str, rule: TrustRule, timeout: float = 20.0) -> Identity:
    """Connect, check the server against `rule`, and say who it is; no request is sent."""
    conn, identity = _connect(url, rule, timeout)
    conn.close()
    return identity


def request(url: str, rule: TrustRule, method: str = "GET", body: bytes | None = None,
            headers: dict | None = None, timeout: float = 20.0,
            max_bytes: int = 4 * 1024 * 1024) -> tuple[int, bytes]:
    """(status, body) of one request to `url` (scheme, host, port and path); the server is checked first."""
    conn, _identity = _connect(url, rule, timeout)
    try:
        parts = urlsplit(url)
        conn.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(max_bytes)
    finally:
        conn.close()
