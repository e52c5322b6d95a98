"""Central's trust list: the document signing certificates of every site/kiosk, and the revoked ones, signed by
central so kiosks can keep a copy and verify certificates offline.

Document (JSON, UTF-8), format "vaxkiosk-trustlist/1":

    {"format": "vaxkiosk-trustlist/1", "version": <int, grows with every list>, "issued": "<ISO 8601 UTC>",
     "entries": [{"kid": "<base64 of the 8-byte kid>", "certificate": "<PEM>" | null, "revoked": bool}, ...]}

Envelope (what GET /api/v1/trustlist returns): {"payload": "<base64 of the document bytes>", "alg": "ES256",
"signer_kid": "<base64 kid of central's trust-list certificate>", "signature": "<base64 DER ECDSA signature over
the payload bytes>"}. Kiosks pin central's trust-list certificate (installed at enrolment) and refuse a list that is
not signed by it or that is older than the one they hold (kiosk/certificates/trustlist.py reads this format).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Callable, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, jsonify

from base.signing import kid_of

FORMAT = "vaxkiosk-trustlist/1"
ROUTE = "/api/v1/trustlist"


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


def trustlist_blueprint(entries: Callable[[], tuple[list[x509.Certificate], list[bytes]]],
                        key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> Blueprint:
    """GET /api/v1/trustlist → the signed envelope, built fresh from `entries()` (central's registry:
    (signing certificates, revoked kids)). Mount it in central's Flask app with app.register_blueprint()."""
    bp = Blueprint("trustlist", __name__)

    @bp.get(ROUTE)
    def get_trustlist():
        certificates, revoked = entries()
        response = jsonify(sign_document(build_document(certificates, revoked), key, certificate))
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp
