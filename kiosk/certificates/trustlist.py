"""The kiosk's copy of central's trust list, and the trust a verification on this machine uses.

Central signs the list (format in base.trustlist and docs/certificates.md); the kiosk checks the signature
against central's trust-list certificate (the anchor, installed at enrolment), refuses a list older than the one it
holds, and keeps the signed envelope in `<data_dir>/trustlist.json`, so certificates verify with no network.
A verification here trusts: this machine's own signing certificate, the cached list, and any PEM files given.
Revocations in the list apply to all of them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterable

from cryptography import x509

from base.signing import kid_of, load_pem_certificates, local_certificate
from base.trustlist import TrustListError, open_envelope, parse_document
from kiosk.certificates.hcert import TrustStore
from kiosk.watchdog import thread_alive

CACHE_FILE = "trustlist.json"
MAX_BYTES = 4 * 1024 * 1024
log = logging.getLogger("vaxkiosk.trustlist")


def add_document(trust: TrustStore, doc: dict) -> None:
    for entry in doc["entries"]:
        kid = base64.b64decode(entry["kid"])
        if entry.get("certificate"):
            cert = x509.load_pem_x509_certificate(entry["certificate"].encode("ascii"))
            if kid_of(cert) != kid:
                raise TrustListError(f"entry {entry['kid']}: kid does not match its certificate")
            trust.add(cert)
        if entry.get("revoked"):
            trust.revoke(kid)


# -- the cache in the data dir -------------------------------------------------------------------------------
def cache_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / CACHE_FILE


def load_cached(data_dir: str | os.PathLike) -> dict | None:
    """The cached document; it was verified before it was written (only `store` writes the file)."""
    path = cache_path(data_dir)
    if not path.exists():
        return None
    envelope = json.loads(path.read_text(encoding="utf-8"))
    return parse_document(base64.b64decode(envelope["payload"]))


def store(data_dir: str | os.PathLike, envelope: dict, anchors: Iterable[x509.Certificate]) -> dict:
    """Verify and cache an envelope; a list older than the cached one is refused (a replayed list could
    un-revoke a key)."""
    doc = open_envelope(envelope, list(anchors))
    cached = load_cached(data_dir)
    if cached and doc["version"] < cached["version"]:
        raise TrustListError(f"version {doc['version']} is older than the cached {cached['version']}")
    add_document(TrustStore(), doc)  # refuse a list with a broken entry before it replaces a good one
    path = cache_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(envelope, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return doc


def fetch(url: str, ca_file: str = "", timeout: float = 10.0, pin: str = "") -> dict:
    if pin and url.startswith("https:"):  # the key the kiosk enrolled with, whoever issued its certificate
        from kiosk.central_https import TrustRule, request

        status, body = request(url, TrustRule(pin, ca_file), timeout=timeout, max_bytes=MAX_BYTES)
        if status != 200:
            raise TrustListError(f"HTTP {status}")
        return json.loads(body)
    context = ssl.create_default_context(cafile=ca_file or None) if url.startswith("https:") else None
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return json.loads(response.read(MAX_BYTES))


def refresh(data_dir: str | os.PathLike, url: str, anchors: Iterable[x509.Certificate], ca_file: str = "",
            pin: str = "") -> dict:
    return store(data_dir, fetch(url, ca_file, pin=pin), anchors)


def trust_store(data_dir: str | os.PathLike, extra_pem_files: Iterable[str | os.PathLike] = ()) -> TrustStore:
    """What a verification on this machine trusts: its own key, the cached list, the given PEM files."""
    trust = TrustStore()
    own = local_certificate(data_dir)
    if own is not None:
        trust.add(own)
    for path in extra_pem_files:
        for cert in load_pem_certificates(path):
            trust.add(cert)
    cached = load_cached(data_dir)
    if cached:
        add_document(trust, cached)
    return trust


# -- the kiosk part that keeps the cache fresh ---------------------------------------------------------------
class TrustListRefresher:
    name = "trustlist"

    def __init__(self, data_dir: Path, url: str, anchors: list[x509.Certificate], ca_file: str,
                 interval_s: float, pin: str = ""):
        self.data_dir, self.url, self.anchors, self.ca_file, self.pin = data_dir, url, anchors, ca_file, pin
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_ok: float | None = None
        self.last_error: str | None = None
        self.version: int | None = None

    def start(self) -> None:
        cached = load_cached(self.data_dir)
        self.version = cached["version"] if cached else None
        self._thread = threading.Thread(target=self._run, name="trustlist", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(15)

    def refresh_once(self) -> bool:
        try:
            doc = refresh(self.data_dir, self.url, self.anchors, self.ca_file, self.pin)
        except Exception as exc:  # noqa: BLE001 - offline is normal; the cached list stays in use
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("trust list refresh failed: %s", self.last_error)
            return False
        self.version, self.last_ok, self.last_error = doc["version"], time.time(), None
        return True

    def _run(self) -> None:
        # Retry sooner after a failure, but never hammer central: at most every minute.
        while not self._stop.is_set():
            ok = self.refresh_once()
            self._stop.wait(self.interval_s if ok else min(self.interval_s, 60.0))

    def health(self) -> dict:
        return {"alive": thread_alive(self._thread), "ok": self.version is not None, "version": self.version,
                "last_ok": self.last_ok,
                "last_error": self.last_error}


def make_part(app) -> TrustListRefresher | None:
    """PART_FACTORIES entry "kiosk.certificates.trustlist:make_part": None unless [certificates] trust_list_url is set."""
    from base.config import ConfigError

    settings = app.config.certificates
    if not settings.trust_list_url:
        return None
    if not settings.trust_anchor:
        raise ConfigError(f"{app.config.source}: certificates.trust_list_url needs certificates.trust_anchor "
                          "(central's trust-list certificate, installed at enrolment)")
    return TrustListRefresher(app.config.data_dir, settings.trust_list_url,
                              load_pem_certificates(settings.trust_anchor), settings.ca_file,
                              settings.refresh_minutes * 60, settings.central_pin)
