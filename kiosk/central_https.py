"""HTTP requests from a kiosk to central that trust only what the kiosk was told to trust (the pin and URL rules are
base.pinning's, which central checks its own address against).

A `TrustRule` is one of:
- a pin: `sha256:<hex>` of central's public key (the certificate's SubjectPublicKeyInfo, DER), carried in the
  enrolment QR or given with `vaxkiosk provision --pin`. Any certificate with that key is central, whoever issued it
  (a self-signed certificate behind the reverse proxy is fine); any other key is refused;
- a CA: the system's CAs, or a PEM file (`--ca`), with the usual chain and host name checks;
- both: the chain is checked and the key must be the pinned one.
Whatever the rule, the server is checked right after the TLS handshake, before a byte of the request (which may carry
a one-time set-up code) is sent. Plain http goes only to this machine itself.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from base.pinning import UntrustedCentral, check_url, pin_groups, spki_pin


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
