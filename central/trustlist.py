"""GET /api/v1/trustlist: central's trust list (format in base.trustlist), built fresh from the registry and signed
with central's trust-list key at every request."""

from __future__ import annotations

from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, jsonify

from base.trustlist import build_document, sign_document

ROUTE = "/api/v1/trustlist"


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
