"""The trust list's format, both ends of it: central signs the list of every kiosk's document signing certificates
(and the revoked ones); a kiosk keeps a copy and verifies certificates offline against it.

Document (JSON, UTF-8), format "vaxkiosk-trustlist/1":

    {"format": "vaxkiosk-trustlist/1", "version": <int, grows with every list>, "issued": "<ISO 8601 UTC>",
     "entries": [{"kid": "<base64 of the 8-byte kid>", "certificate": "<PEM>" | null, "revoked": bool}, ...]}

Envelope (what GET /api/v1/trustlist returns): {"payload": "<base64 of the document bytes>", "alg": "ES256",
"signer_kid": "<base64 kid of central's trust-list certificate>", "signature": "<base64 DER ECDSA signature over
the payload bytes>"}. Kiosks pin central's trust-list certificate (installed at enrolment) and refuse a list that is
not signed by it or that is older than the one they hold (kiosk.certificates.trustlist keeps the copy).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from base.signing import kid_of

FORMAT = "vaxkiosk-trustlist/1"


class TrustListError(Exception):
    pass


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_document(certificates: Iterable[x509.Certificate], revoked_kids: Iterable[bytes],
                   issued: dt.datetime | None = None) -> dict:
    """The trust list of these signing certificates; a revoked kid stays listed (so verifiers say "revoked", not
    "unknown"), with its certificate when central has it."""
    issued = issued or dt.datetime.now(dt.timezone.utc)
    revoked = set(revoked_kids)
    entries = {}
    for cert in certificates:
        kid = kid_of(cert)
        entries[kid] = {"kid": b64(kid), "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
                        "revoked": kid in revoked}
    for kid in revoked - set(entries):
        entries[kid] = {"kid": b64(kid), "certificate": None, "revoked": True}
    return {"format": FORMAT, "version": int(issued.timestamp() * 1000),
            "issued": issued.isoformat(timespec="seconds"), "entries": [entries[k] for k in sorted(entries)]}


def sign_document(document: dict, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> dict:
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"payload": b64(payload), "alg": "ES256", "signer_kid": b64(kid_of(certificate)),
            "signature": b64(key.sign(payload, ec.ECDSA(hashes.SHA256())))}


def open_envelope(envelope: dict, anchors: Iterable[x509.Certificate]) -> dict:
    """The document inside a signed envelope, if one of the anchors signed it."""
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        signature = base64.b64decode(envelope["signature"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustListError(f"malformed envelope: {exc}") from None
    if envelope.get("alg") != "ES256":
        raise TrustListError(f"unsupported algorithm {envelope.get('alg')!r}")
    for anchor in anchors:
        public = anchor.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            continue
        try:
            public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return parse_document(payload)
    raise TrustListError("not signed by the trust-list anchor")


def parse_document(payload: bytes) -> dict:
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TrustListError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("version"), int) \
            or not isinstance(doc.get("entries"), list):
        raise TrustListError("not a vaxkiosk trust list")
    return doc


