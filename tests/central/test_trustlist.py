"""Central's trust list served over HTTP (Flask blueprint in waitress on loopback), fetched and cached by a kiosk,
which then verifies offline, honours revocations and refuses lists it should not trust."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from waitress.server import create_server

from base.signing import ensure_signing_key, kid_of, local_certificate
from base.trustlist import TrustListError, build_document, sign_document
from central.trustlist import ROUTE, trustlist_blueprint
from kiosk.certificates import hcert, sample_certificate_view, trustlist
from kiosk.identity import parse
from tests.conftest import SAMPLE_QR
from tests.support.net import free_port, wait_port


class Registry:
    """Central's registry as the trust list sees it: enrolled signing certificates and revoked kids."""

    def __init__(self):
        self.certificates, self.revoked = [], []

    def entries(self):
        return list(self.certificates), list(self.revoked)


@pytest.fixture
def central(tmp_path):
    key, cert = ensure_signing_key(tmp_path / "central", "vaxkiosk central trust list")
    registry = Registry()
    app = Flask("central-test")
    app.register_blueprint(trustlist_blueprint(registry.entries, key, cert))
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield registry, f"http://127.0.0.1:{port}{ROUTE}", cert, key
    server.close()
    thread.join(10)


@pytest.fixture
def site_a(tmp_path):
    """A site kiosk that issued a certificate with its provisioned key."""
    data_dir = tmp_path / "site-a"
    view = sample_certificate_view(parse(SAMPLE_QR), data_dir)
    return local_certificate(data_dir), view.qr_payload


def test_document_lists_certificates_and_revocations():
    key_a, cert_a = _keypair("a")
    only_kid = b"\x01" * 8
    doc = build_document([cert_a], [only_kid], issued=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc))
    assert doc["format"] == "vaxkiosk-trustlist/1" and doc["version"] == 1_795_564_800_000
    entries = {e["kid"]: e for e in doc["entries"]}
    assert entries[base64.b64encode(kid_of(cert_a)).decode()]["revoked"] is False
    assert entries[base64.b64encode(only_kid).decode()] == {"kid": base64.b64encode(only_kid).decode(),
                                                            "certificate": None, "revoked": True}


def _keypair(name, tmp=None):
    import tempfile

    return ensure_signing_key(tmp or tempfile.mkdtemp(prefix=f"key-{name}-"), name)


def test_kiosk_caches_the_list_and_verifies_offline(central, site_a, tmp_path):
    registry, url, anchor, _ = central
    cert_a, qr_a = site_a
    inspector = tmp_path / "inspector-kiosk"
    assert hcert.verify(qr_a, trustlist.trust_store(inspector)).reason == "unknown_kid"
    registry.certificates.append(cert_a)
    doc = trustlist.refresh(inspector, url, [anchor])
    assert [e["kid"] for e in doc["entries"]] == [base64.b64encode(kid_of(cert_a)).decode()]
    assert (inspector / "trustlist.json").exists()
    # No network from here on: the cache is enough.
    assert hcert.verify(qr_a, trustlist.trust_store(inspector)).valid


def test_revoking_a_key_makes_its_certificates_invalid(central, site_a, tmp_path):
    registry, url, anchor, _ = central
    cert_a, qr_a = site_a
    kiosk_dir = tmp_path / "kiosk"
    registry.certificates.append(cert_a)
    trustlist.refresh(kiosk_dir, url, [anchor])
    assert hcert.verify(qr_a, trustlist.trust_store(kiosk_dir)).valid
    registry.revoked.append(kid_of(cert_a))
    trustlist.refresh(kiosk_dir, url, [anchor])
    result = hcert.verify(qr_a, trustlist.trust_store(kiosk_dir))
    assert (result.valid, result.reason) == (False, "revoked")


def test_revocation_reaches_the_site_that_owns_the_key(central, site_a, tmp_path):
    """The revoked kiosk trusts its own key locally, but central's revocation overrides that."""
    registry, url, anchor, _ = central
    cert_a, qr_a = site_a
    site_dir = tmp_path / "site-a"
    assert hcert.verify(qr_a, trustlist.trust_store(site_dir)).valid
    registry.revoked.append(kid_of(cert_a))
    trustlist.refresh(site_dir, url, [anchor])
    assert hcert.verify(qr_a, trustlist.trust_store(site_dir)).reason == "revoked"


def test_a_list_not_signed_by_the_anchor_is_refused(central, tmp_path):
    _, url, _, _ = central
    _, stranger = _keypair("stranger")
    with pytest.raises(TrustListError, match="anchor"):
        trustlist.refresh(tmp_path / "k", url, [stranger])
    assert not (tmp_path / "k" / "trustlist.json").exists()


def test_a_tampered_list_is_refused(central, site_a, tmp_path):
    registry, url, anchor, _ = central
    envelope = trustlist.fetch(url)
    doc = json.loads(base64.b64decode(envelope["payload"]))
    doc["entries"].append({"kid": base64.b64encode(kid_of(site_a[0])).decode(),
                           "certificate": site_a[0].public_bytes(Encoding.PEM).decode(), "revoked": False})
    envelope["payload"] = base64.b64encode(json.dumps(doc).encode()).decode()
    with pytest.raises(TrustListError):
        trustlist.store(tmp_path / "k", envelope, [anchor])


def test_an_older_list_cannot_replace_a_newer_one(central, site_a, tmp_path):
    """A replayed old list would un-revoke a key."""
    registry, url, anchor, key = central
    cert_a, qr_a = site_a
    kiosk_dir = tmp_path / "kiosk"
    old = sign_document(build_document([cert_a], [], issued=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)),
                        key, anchor)
    registry.certificates.append(cert_a)
    registry.revoked.append(kid_of(cert_a))
    trustlist.refresh(kiosk_dir, url, [anchor])
    with pytest.raises(TrustListError, match="older"):
        trustlist.store(kiosk_dir, old, [anchor])
    assert hcert.verify(qr_a, trustlist.trust_store(kiosk_dir)).reason == "revoked"


def test_an_entry_whose_kid_does_not_match_its_certificate_is_refused(central, site_a, tmp_path):
    _, _, anchor, key = central
    doc = build_document([site_a[0]], [])
    doc["entries"][0]["kid"] = base64.b64encode(b"\x00" * 8).decode()
    with pytest.raises(TrustListError, match="kid"):
        trustlist.store(tmp_path / "k", sign_document(doc, key, anchor), [anchor])


def test_the_refresher_part_keeps_working_through_an_outage(central, site_a, tmp_path):
    from kiosk.app import App
    from kiosk.config import load
    from tests.conftest import write_config

    registry, url, anchor, _ = central
    registry.certificates.append(site_a[0])
    anchor_file = tmp_path / "central-trustlist.pem"
    anchor_file.write_bytes(anchor.public_bytes(Encoding.PEM))
    toml = f'[certificates]\ntrust_list_url = "{url}"\ntrust_anchor = "{anchor_file}"\nrefresh_minutes = 60\n'
    app = App(load(write_config(tmp_path / "kiosk.toml", tmp_path / "data", extra=toml)))
    app.build()  # the kiosk's own part list (PART_FACTORIES) brings the refresher in
    part = app.part("trustlist")
    part.start()  # the first refresh runs at once in the part's thread
    try:
        assert _eventually(lambda: part.health()["ok"]) and part.health()["last_error"] is None
    finally:
        part.stop()
        app.stop()
    unreachable = trustlist.TrustListRefresher(app.config.data_dir, f"http://127.0.0.1:{free_port()}{ROUTE}",
                                               [anchor], "", 3600)
    assert unreachable.refresh_once() is False
    assert unreachable.health()["last_error"]
    assert hcert.verify(site_a[1], trustlist.trust_store(app.config.data_dir)).valid  # the cache still serves


def _eventually(condition, attempts=200):
    import time

    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_no_trust_list_url_means_no_part(kiosk_config):
    from kiosk.app import App

    app = App(kiosk_config)
    try:
        assert trustlist.make_part(app) is None
    finally:
        app.stop()


def test_a_trust_list_url_without_an_anchor_is_a_configuration_error(tmp_path):
    from base.config import ConfigError
    from kiosk.app import App
    from kiosk.config import load
    from tests.conftest import write_config

    config = load(write_config(tmp_path / "kiosk.toml", tmp_path / "data",
                               extra='[certificates]\ntrust_list_url = "https://central.example/api/v1/trustlist"'))
    app = App(config)
    try:
        with pytest.raises(ConfigError, match="trust_anchor"):
            trustlist.make_part(app)
    finally:
        app.stop()
