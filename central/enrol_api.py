"""Central's enrolment endpoint: a kiosk trades a one-time code for its identity and MQTT credentials.

    POST /api/v1/enrol   {"code": "ABCD-EFGH-JKMN", "signing_certificate": "<PEM>" (optional)}
    200 {"ok": true, "enrolment": {...}}                       (see enrolment_document)
    400 {"ok": false, "error": {"code": "bad_request" | "json_too_deep", ...}}
    413 {"ok": false, "error": {"code": "body_too_large", ...}}   (more than 64 KB: refused unread)
    403 {"ok": false, "error": {"code": "code_unknown" | "code_used" | "code_expired", "message_vi", "message_en"}}

The kiosk's document signing certificate (base.signing), when sent, goes on central's trust list; the answer then
carries central's trust-list certificate for the kiosk to pin and the trust list's address (GET /api/v1/trustlist,
served by the same blueprint set: see `device_blueprints`).

The response is the only place the kiosk's MQTT password ever appears: it is never logged. It is served over HTTPS
by the TLS reverse proxy in front of central (docs/provisioning.md, "Central over https"): the code is a bearer secret
until it is used, and kiosks send it only to a central they can verify (base.pinning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, jsonify, request

from base.enrolment import DOCUMENT_SCHEMA, ENROL_PATH, format_code, qr_text
from base.pinning import pin_groups
from base.web.limits import json_body
from central.registry import Enrolment, Registry, RegistryRefused

log = logging.getLogger("vaxkiosk.central.enrol")



@dataclass(frozen=True)
class BrokerAccess:
    """How kiosks reach the broker, as given to them at enrolment."""
    host: str
    port: int
    ca_pem: str = ""  # the project CA when the broker listens with TLS; empty for plain MQTT (loopback tests)


def broker_access(settings) -> BrokerAccess:
    """From central.registry.RegistrySection: what kiosks are told about the broker."""
    ca_pem = Path(settings.broker_ca).read_text() if settings.broker_ca else ""
    return BrokerAccess(settings.broker_host, settings.broker_port, ca_pem)


def device_blueprints(registry: Registry) -> list[Blueprint]:
    """For central's web app, when central.toml has [registry]: the enrolment endpoint and the signed trust list.
    Both are for devices, not people: no login, no CSRF (the one-time code is the credential)."""
    from central.trustlist import trustlist_blueprint

    key, certificate = registry.trust_list_signer()
    return [make_blueprint(registry, broker_access(registry.settings), registry.settings.central_url),
            trustlist_blueprint(registry.trust_entries, key, certificate)]


def new_code_view(registry: Registry, site_id: str, expires_in=None) -> dict:
    """For the dashboard's "new set-up code" page: the code as text and the enrolment QR as inline SVG.
    Raises RegistryRefused (unknown_site) like the CLI."""
    import segno

    from central.registry import DEFAULT_EXPIRY, central_pin

    pin = central_pin(registry.settings)
    code, expires = registry.create_code(site_id, expires_in or DEFAULT_EXPIRY)
    text = qr_text(registry.settings.central_url, code, pin)
    return {"site": site_id, "code": format_code(code), "expires": expires.isoformat(timespec="seconds"),
            "qr_text": text, "central_pin": pin, "central_pin_groups": pin_groups(pin) if pin else "",
            "qr_svg": segno.make(text, error="m").svg_inline(scale=4)}


def enrolment_document(enrolment: Enrolment, access: BrokerAccess, central_url: str,
                       trust_anchor_pem: str = "") -> dict:
    """The enrolment as the kiosk stores it; the same document is the offline bundle's content."""
    from central.trustlist import ROUTE

    certificates = ({"trust_anchor_pem": trust_anchor_pem, "trust_list_url": central_url.rstrip("/") + ROUTE}
                    if trust_anchor_pem else {})
    return {
        "schema": DOCUMENT_SCHEMA,
        "kiosk_id": enrolment.kiosk_id,
        "site": {"id": enrolment.site_id, "name": enrolment.site_name},
        "central_url": central_url,
        "mqtt": {"host": access.host, "port": access.port, "username": enrolment.kiosk_id,
                 "password": enrolment.mqtt_password, "tls_ca_pem": access.ca_pem},
        "certificates": certificates,
    }


def make_blueprint(registry: Registry, access: BrokerAccess, central_url: str = "") -> Blueprint:
    """`central_url`: the address kiosks use for central (default: the one the request came in on)."""
    bp = Blueprint("enrol", __name__)

    @bp.post(ENROL_PATH)
    def enrol():
        body = json_body()  # 400 json_too_deep for a body nested past parsing
        code = body.get("code") if isinstance(body, dict) else None
        signing_certificate = body.get("signing_certificate") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code.strip() or len(code) > 64:
            return jsonify({"ok": False, "error": {"code": "bad_request",
                                                   "message_vi": "Yêu cầu phải có mã cài đặt.",
                                                   "message_en": "The request must carry a set-up code."}}), 400
        try:
            enrolment = registry.redeem(code, signing_certificate)
        except RegistryRefused as exc:
            log.warning("enrolment refused from %s: %s", request.remote_addr, exc.code)
            return jsonify(exc.to_json()), 403
        log.info("kiosk %s enrolled at site %s", enrolment.kiosk_id, enrolment.site_id)
        url = central_url or request.host_url.rstrip("/")
        anchor = ""
        if signing_certificate:
            anchor = registry.trust_list_signer()[1].public_bytes(serialization.Encoding.PEM).decode()
        return jsonify({"ok": True, "enrolment": enrolment_document(enrolment, access, url, anchor)})

    @bp.after_request
    def no_store(response):
        # Credentials must not sit in any proxy or browser cache.
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp
