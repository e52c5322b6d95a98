"""The kiosk side of enrolment: a set-up code (typed, or read from the enrolment QR) or an offline bundle file →
the kiosk's identity and MQTT credentials, written into its configuration file (mode 0600).

Entry points:
- `enrol_with_code(central_url, code, config_path)`: `vaxkiosk provision --central URL --code CODE`.
- `enrol_from_code_text(text, config_path)`: the first-boot screen calls it with what the camera read
  (`VXK1:ENROL:<central-url>|<code>`).
- `enrol_from_bundle(path, config_path)`: `vaxkiosk provision --bundle FILE`, for a site without a link.

All raise `EnrolError` (Vietnamese + English message, stable code) and never put a secret in a message or a log.
"""

from __future__ import annotations

import json
import os
import pwd
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import ConfigError, from_dict
from kiosk.refusal import Refusal
from provisioning.files import write_atomic

ENROL_PREFIX = "VXK1:ENROL:"
ENROL_PATH = "/api/v1/enrol"
DOCUMENT_SCHEMA = 1
DEFAULT_DATA_DIR = "/var/lib/vaxkiosk"
SERVICE_USER = "vaxkiosk"  # systemd/vaxkiosk-kiosk.service User=
TRUST_ANCHOR_FILE = "central-trust.pem"

REFUSALS: dict[str, tuple[str, str]] = {
    "not_enrol_code": ("Đây không phải mã cài đặt kiosk.", "This is not a kiosk set-up code."),
    "central_unreachable": ("Không kết nối được máy chủ trung tâm. Kiểm tra mạng rồi thử lại.",
                            "Cannot reach central. Check the network and try again."),
    "central_error": ("Máy chủ trung tâm trả lời không hợp lệ.", "Central gave an invalid answer."),
    "bad_bundle": ("Tệp cài đặt không hợp lệ.", "The enrolment bundle file is not valid."),
    "already_provisioned": ("Kiosk đã được cài đặt. Dùng --force để cài đặt lại.",
                            "This kiosk is already set up. Use --force to set it up again."),
    "cannot_write_config": ("Không ghi được tệp cấu hình.", "Cannot write the configuration file."),
    # Refusals central sends (central.registry.REFUSALS) are passed through with their own messages.
}


class EnrolError(Refusal):
    MESSAGES = REFUSALS

    def to_json(self) -> dict:
        return {"ok": False, "error": {"code": self.code, "message_vi": self.message_vi,
                                       "message_en": self.message_en, "detail": self.detail}}


@dataclass(frozen=True)
class Provisioned:
    kiosk_id: str
    site_id: str
    site_name: str
    config_path: Path
    broker: str  # host:port, for the technician's report

    def to_json(self) -> dict:
        return {"ok": True, "kiosk_id": self.kiosk_id, "site_id": self.site_id, "site_name": self.site_name,
                "config": str(self.config_path), "broker": self.broker}


# -- getting the enrolment document --------------------------------------------------------------------------------

def parse_code_text(text: str) -> tuple[str, str]:
    """`VXK1:ENROL:<central-url>|<code>` → (central_url, code)."""
    text = text.strip().lstrip("\ufeff")
    if not text.startswith(ENROL_PREFIX) or "|" not in text:
        raise EnrolError("not_enrol_code")
    url, _, code = text[len(ENROL_PREFIX):].rpartition("|")
    if not url.startswith(("http://", "https://")) or not code.strip():
        raise EnrolError("not_enrol_code")
    return url, code.strip()


def signing_certificate_pem(data_dir: str | os.PathLike) -> str:
    """This kiosk's document signing certificate (created now if it has none): central puts it on the trust list."""
    from cryptography.hazmat.primitives import serialization

    from kiosk.certificates.signing import ensure_signing_key, signing_dir

    _key, certificate = ensure_signing_key(data_dir, "vaxkiosk kiosk")
    for path in [signing_dir(data_dir), *signing_dir(data_dir).iterdir()]:
        _give_to_service_user(path)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def fetch_enrolment(central_url: str, code: str, data_dir: str | os.PathLike | None = None,
                    timeout: float = 20.0) -> dict:
    body = {"code": code}
    if data_dir is not None:
        body["signing_certificate"] = signing_certificate_pem(data_dir)
    request = urllib.request.Request(central_url.rstrip("/") + ENROL_PATH, method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        error = _error_body(exc.read())
        if error:
            raise EnrolError(error.get("code", "central_error"), message_vi=error.get("message_vi", ""),
                             message_en=error.get("message_en", "")) from None
        raise EnrolError("central_error", f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise EnrolError("central_unreachable", str(getattr(exc, "reason", exc))) from None
    try:
        document = json.loads(body)["enrolment"]
    except (ValueError, KeyError, TypeError):
        raise EnrolError("central_error", "no enrolment in the answer") from None
    return _checked(document, "central_error")


def _error_body(body: bytes) -> dict | None:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, dict) else None


def _checked(document, failure: str) -> dict:
    try:
        ok = (document["schema"] == DOCUMENT_SCHEMA and isinstance(document["kiosk_id"], str)
              and isinstance(document["site"]["id"], str) and isinstance(document["mqtt"]["password"], str)
              and isinstance(document["mqtt"]["port"], int))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise EnrolError(failure, "missing or wrong fields")
    return document


# -- writing the kiosk's configuration ---------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def toml_text(data: dict[str, dict]) -> str:
    """The kiosk configuration is flat sections of scalars: this is all the TOML writing it needs."""
    parts = []
    for section, table in data.items():
        parts.append(f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items()))
    return "\n".join(parts)


def config_from_document(document: dict, existing: dict, config_path: Path, data_dir: str) -> tuple[dict, bytes]:
    """(TOML data, CA file content): identity and MQTT replaced, the technician's other sections kept."""
    data = {name: dict(table) for name, table in existing.items()}
    kiosk = data.setdefault("kiosk", {})
    kiosk.update(site_id=document["site"]["id"], kiosk_id=document["kiosk_id"],
                 site_name=document["site"].get("name", ""))
    kiosk.setdefault("data_dir", data_dir)
    mqtt = data.setdefault("mqtt", {})
    m = document["mqtt"]
    ca_pem = (m.get("tls_ca_pem") or "").encode()
    mqtt.update(enabled=True, host=m["host"], port=m["port"], username=m["username"], password=m["password"],
                tls_ca=str(config_path.with_name("broker-ca.pem")) if ca_pem else "")
    trust = document.get("certificates") or {}
    if trust.get("trust_anchor_pem"):
        # Central's trust-list signer, pinned: the kiosk refuses any trust list not signed by it.
        data.setdefault("certificates", {}).update(trust_anchor=str(config_path.with_name(TRUST_ANCHOR_FILE)),
                                                   trust_list_url=trust["trust_list_url"])
    from_dict(data, source=str(config_path))  # refuse to write a file the kiosk would not start with
    return data, ca_pem


def _give_to_service_user(path: Path) -> None:
    # `sudo vaxkiosk provision` runs as root; the kiosk service runs as SERVICE_USER and must read its 0600 file.
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return  # not installed by install-pi.sh (a test, a developer machine): leave it to whoever runs the kiosk
    os.chown(path, user.pw_uid, user.pw_gid)


def existing_config(config_path: Path, force: bool) -> dict:
    """The sections already in the file (kept on re-provisioning); refuses an already provisioned kiosk."""
    try:
        existing = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        if force:
            return {}
        raise EnrolError("already_provisioned", f"{config_path} exists but cannot be read: {exc}") from None
    if (existing.get("kiosk") or {}).get("kiosk_id") and not force:
        raise EnrolError("already_provisioned", str(config_path))
    return existing


def install_document(document: dict, config_path: str | os.PathLike, force: bool = False,
                     data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    config_path = Path(config_path)
    existing = existing_config(config_path, force)
    try:
        data, ca_pem = config_from_document(document, existing, config_path, data_dir)
    except ConfigError as exc:
        raise EnrolError("central_error", str(exc)) from None
    try:
        if ca_pem:
            write_atomic(Path(data["mqtt"]["tls_ca"]), ca_pem, 0o644)
        anchor = (document.get("certificates") or {}).get("trust_anchor_pem")
        if anchor:
            write_atomic(Path(data["certificates"]["trust_anchor"]), anchor.encode(), 0o644)
        write_atomic(config_path, toml_text(data))
        _give_to_service_user(config_path)
    except OSError as exc:
        raise EnrolError("cannot_write_config", f"{config_path}: {exc.strerror}") from None
    m = document["mqtt"]
    return Provisioned(document["kiosk_id"], document["site"]["id"], document["site"].get("name", ""), config_path,
                       f"{m['host']}:{m['port']}")


# -- entry points --------------------------------------------------------------------------------------------------

def enrol_with_code(central_url: str, code: str, config_path: str | os.PathLike, force: bool = False,
                    data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    # Checked before central is asked: a one-time code must not be spent on a kiosk that would refuse to store it.
    existing = existing_config(Path(config_path), force)
    key_dir = existing.get("kiosk", {}).get("data_dir", data_dir)
    return install_document(fetch_enrolment(central_url, code, key_dir), config_path, force=force,
                            data_dir=data_dir)


def enrol_from_code_text(text: str, config_path: str | os.PathLike, force: bool = False,
                         data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    central_url, code = parse_code_text(text)
    return enrol_with_code(central_url, code, config_path, force=force, data_dir=data_dir)


def enrol_from_bundle(bundle_path: str | os.PathLike, config_path: str | os.PathLike, force: bool = False,
                      data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    try:
        document = json.loads(Path(bundle_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnrolError("bad_bundle", f"{bundle_path}: {getattr(exc, 'strerror', None) or 'not JSON'}") from None
    return install_document(_checked(document, "bad_bundle"), config_path, force=force, data_dir=data_dir)
