"""The kiosk side of enrolment: a set-up code (typed, or read from the enrolment QR) or an offline bundle file →
the kiosk's identity and MQTT credentials, written into its configuration file (mode 0600).

Entry points:
- `enrol_with_code(central_url, code, config_path, pin=, ca_file=)`: `vaxkiosk provision --central URL --code CODE
  [--pin sha256:... | --ca FILE]`.
- `enrol_from_code_text(text, config_path)`: `vaxkiosk provision --qr-text`, the text of the enrolment QR
  (`VXK1:ENROL:<central-url>|<code>|sha256:<key pin>`; the pin is optional for a central with a public CA).
- `prepare` then `complete`: the first-boot screen, which shows central's identity and waits for the technician's
  confirmation in between (kiosk.first_boot).
- `enrol_from_bundle(path, config_path)`: `vaxkiosk provision --bundle FILE`, for a site without a link.

The set-up code goes only to a central the kiosk can trust (kiosk.central_https): https with the key pinned by the
QR or `--pin`, or a certificate from the system's CAs or `--ca`; plain http only to this machine itself. Central is
identified before anything is written or sent: the kiosk's signing key is made, and the code spent, only after.

All raise `EnrolError` (Vietnamese + English message, stable code) and never put a secret in a message or a log.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from base.config import ConfigError
from base.enrolment import ENROL_PATH, SetupCode, is_document, parse_qr_text
from base.files import write_atomic
from base.pinning import UntrustedCentral, normalise_pin
from base.refusal import Refusal
from kiosk import central_https
from kiosk.central_https import Identity, TrustRule
from kiosk.config import from_dict, toml_text

DEFAULT_DATA_DIR = "/var/lib/vaxkiosk"
SERVICE_USER = "vaxkiosk"  # systemd/vaxkiosk-kiosk.service User=
TRUST_ANCHOR_FILE = "central-trust.pem"
CENTRAL_CA_FILE = "central-ca.pem"
MAX_ANSWER_BYTES = 1024 * 1024

REFUSALS: dict[str, tuple[str, str]] = {
    "not_enrol_code": ("Đây không phải mã cài đặt kiosk.", "This is not a kiosk set-up code."),
    "central_unreachable": ("Không kết nối được máy chủ trung tâm. Kiểm tra mạng rồi thử lại.",
                            "Cannot reach central. Check the network and try again."),
    "central_error": ("Máy chủ trung tâm trả lời không hợp lệ.", "Central gave an invalid answer."),
    "insecure_central": ("Máy chủ trung tâm phải dùng https. Kiosk không gửi mã cài đặt qua http không mã hóa "
                         "tới máy khác.",
                         "Central must use https: the kiosk does not send a set-up code over plain http to another "
                         "machine."),
    "central_untrusted": ("Không xác minh được máy chủ trung tâm: chứng chỉ của nó không được tin cậy. "
                          "Chưa gửi gì đi.",
                          "Central could not be verified: its certificate is not trusted. Nothing was sent."),
    "central_pin_mismatch": ("Máy trả lời không phải máy chủ trung tâm ghi trong mã cài đặt (khóa không khớp). "
                             "Chưa gửi gì đi.",
                             "The server that answered is not the central named in the set-up code (its key does "
                             "not match). Nothing was sent."),
    "bad_central_url": ("Địa chỉ máy chủ trung tâm không hợp lệ.", "Invalid central address."),
    "bad_pin": ("Dấu vân tay khóa không hợp lệ (cần sha256: và 64 chữ số hex).",
                "Invalid key fingerprint (expected sha256: and 64 hex digits)."),
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
    central: Identity | None = None  # who enrolled it (None: an offline bundle)

    def to_json(self) -> dict:
        out = {"ok": True, "kiosk_id": self.kiosk_id, "site_id": self.site_id, "site_name": self.site_name,
               "config": str(self.config_path), "broker": self.broker}
        if self.central:
            out["central"] = self.central.to_json()
        return out


@dataclass(frozen=True)
class Pending:
    """A set-up code whose central has been identified, waiting to be used (after the technician's confirmation)."""
    code: SetupCode
    central: Identity
    ca_file: str = ""


# -- who central is ------------------------------------------------------------------------------------------------

def parse_code_text(text: str) -> SetupCode:
    """The enrolment QR's text → SetupCode, or EnrolError("not_enrol_code")."""
    try:
        return parse_qr_text(text)
    except ValueError as exc:
        detail = "" if str(exc) == "not a set-up code" else str(exc)
        raise EnrolError("not_enrol_code", detail) from None


def trust_rule(pin: str = "", ca_file: str = "") -> TrustRule:
    """The rule for a pin and CA file as a technician gives them."""
    try:
        return TrustRule(normalise_pin(pin) if pin else "", ca_file)
    except ValueError:
        raise EnrolError("bad_pin", pin[:80]) from None


def _refusal(exc: UntrustedCentral) -> EnrolError:
    return EnrolError("bad_central_url" if exc.code == "bad_url" else exc.code, exc.detail)


def identify_central(central_url: str, rule: TrustRule, timeout: float = 20.0) -> Identity:
    """Who answers at `central_url`, checked against `rule`; nothing is sent and nothing written."""
    try:
        return central_https.identify(central_url, rule, timeout)
    except UntrustedCentral as exc:
        raise _refusal(exc) from None
    except OSError as exc:
        raise EnrolError("central_unreachable", str(exc)) from None


def signing_certificate_pem(data_dir: str | os.PathLike) -> str:
    """This kiosk's document signing certificate (created now if it has none): central puts it on the trust list."""
    from cryptography.hazmat.primitives import serialization

    from base.signing import ensure_signing_key, signing_dir

    _key, certificate = ensure_signing_key(data_dir, "vaxkiosk kiosk")
    for path in [signing_dir(data_dir), *signing_dir(data_dir).iterdir()]:
        _give_to_service_user(path)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def fetch_enrolment(central: Identity, code: str, data_dir: str | os.PathLike | None = None,
                    timeout: float = 20.0, ca_file: str = "") -> dict:
    """Spend the code at `central` (only the server identified as it: the same key) for the enrolment document."""
    body = {"code": code}
    if data_dir is not None:
        body["signing_certificate"] = signing_certificate_pem(data_dir)
    try:
        status, answer = central_https.request(central.url.rstrip("/") + ENROL_PATH, central.rule(ca_file), "POST",
                                               json.dumps(body).encode(), {"Content-Type": "application/json"},
                                               timeout, MAX_ANSWER_BYTES)
    except UntrustedCentral as exc:
        raise _refusal(exc) from None
    except OSError as exc:
        raise EnrolError("central_unreachable", str(exc)) from None
    if status != 200:
        error = _error_body(answer)
        if error:
            raise EnrolError(error.get("code", "central_error"), message_vi=error.get("message_vi", ""),
                             message_en=error.get("message_en", "")) from None
        raise EnrolError("central_error", f"HTTP {status}")
    try:
        document = json.loads(answer)["enrolment"]
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
    if not is_document(document):
        raise EnrolError(failure, "missing or wrong fields")
    return document


# -- writing the kiosk's configuration ---------------------------------------------------------------------------

def config_from_document(document: dict, existing: dict, config_path: Path, data_dir: str,
                         central: Identity | None = None, ca_file: str = "") -> tuple[dict, bytes]:
    """(TOML data, CA file content): identity and MQTT replaced, the technician's other sections kept. The trust
    list is fetched later from central with the trust the kiosk enrolled with (`central`'s pinned key or `ca_file`)."""
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
        certificates = data.setdefault("certificates", {})
        certificates.update(trust_anchor=str(config_path.with_name(TRUST_ANCHOR_FILE)),
                            trust_list_url=trust["trust_list_url"])
        if central and central.verified == "pin":
            certificates["central_pin"] = central.pin
        if ca_file:
            certificates["ca_file"] = str(config_path.with_name(CENTRAL_CA_FILE))
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
                     data_dir: str = DEFAULT_DATA_DIR, central: Identity | None = None,
                     ca_file: str = "") -> Provisioned:
    config_path = Path(config_path)
    existing = existing_config(config_path, force)
    try:
        data, ca_pem = config_from_document(document, existing, config_path, data_dir, central, ca_file)
    except ConfigError as exc:
        raise EnrolError("central_error", str(exc)) from None
    try:
        if ca_pem:
            write_atomic(Path(data["mqtt"]["tls_ca"]), ca_pem, 0o644)
        if (data.get("certificates") or {}).get("ca_file") == str(config_path.with_name(CENTRAL_CA_FILE)):
            shutil.copyfile(ca_file, config_path.with_name(CENTRAL_CA_FILE))
        anchor = (document.get("certificates") or {}).get("trust_anchor_pem")
        if anchor:
            write_atomic(Path(data["certificates"]["trust_anchor"]), anchor.encode(), 0o644)
        write_atomic(config_path, toml_text(data))
        _give_to_service_user(config_path)
    except OSError as exc:
        raise EnrolError("cannot_write_config", f"{config_path}: {exc.strerror}") from None
    m = document["mqtt"]
    return Provisioned(document["kiosk_id"], document["site"]["id"], document["site"].get("name", ""), config_path,
                       f"{m['host']}:{m['port']}", central)


# -- entry points --------------------------------------------------------------------------------------------------

def prepare(code: SetupCode, config_path: str | os.PathLike, force: bool = False, ca_file: str = "") -> Pending:
    """Identify the code's central (the first half of enrolling): nothing is written, the code is not sent."""
    # Checked before central is asked: a one-time code must not be spent on a kiosk that would refuse to store it.
    existing_config(Path(config_path), force)
    return Pending(code, identify_central(code.central_url, trust_rule(code.pin, ca_file)), ca_file)


def complete(pending: Pending, config_path: str | os.PathLike, force: bool = False,
             data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    """Spend the code at the identified central and write the configuration (the second half)."""
    existing = existing_config(Path(config_path), force)
    key_dir = existing.get("kiosk", {}).get("data_dir", data_dir)
    document = fetch_enrolment(pending.central, pending.code.code, key_dir, ca_file=pending.ca_file)
    return install_document(document, config_path, force=force, data_dir=data_dir, central=pending.central,
                            ca_file=pending.ca_file)


def enrol_with_code(central_url: str, code: str, config_path: str | os.PathLike, force: bool = False,
                    data_dir: str = DEFAULT_DATA_DIR, pin: str = "", ca_file: str = "") -> Provisioned:
    enrol_code = SetupCode(central_url, code, trust_rule(pin).pin)
    return complete(prepare(enrol_code, config_path, force, ca_file), config_path, force, data_dir)


def enrol_from_code_text(text: str, config_path: str | os.PathLike, force: bool = False,
                         data_dir: str = DEFAULT_DATA_DIR, ca_file: str = "") -> Provisioned:
    return complete(prepare(parse_code_text(text), config_path, force, ca_file), config_path, force, data_dir)


def enrol_from_bundle(bundle_path: str | os.PathLike, config_path: str | os.PathLike, force: bool = False,
                      data_dir: str = DEFAULT_DATA_DIR) -> Provisioned:
    try:
        document = json.loads(Path(bundle_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnrolError("bad_bundle", f"{bundle_path}: {getattr(exc, 'strerror', None) or 'not JSON'}") from None
    return install_document(_checked(document, "bad_bundle"), config_path, force=force, data_dir=data_dir)
