"""How a kiosk knows central: by its key. Both ends use these rules, so that central never hands out an address or a
pin a kiosk would refuse.

A pin is `sha256:<hex>` of a certificate's public key (its SubjectPublicKeyInfo, DER): central puts it in the
enrolment QR (or the operator gives it to `vaxkiosk provision --pin`), and the kiosk then talks only to that key,
whoever issued the certificate. Plain http is accepted only to this machine itself (127.0.0.1, ::1, localhost): a
central on the same machine, as in development and the demo; every other address is another device, 127.0.0.2
included. The kiosk's HTTPS client that applies these rules is kiosk.central_https.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from base.web.loopback import LOOPBACK_NAMES

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


def check_url(url: str):
    """The split URL, if the kiosk may talk to it at all."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UntrustedCentral("bad_url", url[:200])
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UntrustedCentral("bad_url", url[:200]) from None
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_NAMES:
        raise UntrustedCentral("insecure_central", f"http://{parts.hostname}")
    return parts


