"""One TOML file → validated, typed settings.

Every section is a frozen dataclass; the loader checks each key's type and allowed values and refuses unknown keys, so a
typo in `/etc/vaxkiosk/kiosk.toml` stops the kiosk at start with a message that names the key, the value and what was
expected, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_PATH = "/etc/vaxkiosk/kiosk.toml"
ENV_VAR = "VAXKIOSK_CONFIG"
# Where commands keep their data on a machine without a configuration file (a developer's laptop).
DATA_ENV_VAR = "VAXKIOSK_DATA"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """A configuration file that cannot be used; str() is a message for the technician."""


def _check_id(value: str) -> str | None:
    # Site and kiosk ids become MQTT topic levels and usernames: no '/', '+', '#' or spaces.
    if not _ID_RE.match(value):
        return "letters, digits, '-' or '_' (1-63 characters, no spaces or '/')"
    return None


def _check_positive(value: float) -> str | None:
    return None if value > 0 else "a number greater than 0"


def _check_port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "a TCP port number from 0 to 65535"


def _check_printer_profile(value: str) -> str | None:
    from drivers.printer import ProfileError, load_profile

    try:
        load_profile(value)
    except ProfileError:
        return "a python-escpos printer profile name such as TM-T88V, TM-T20II or POS-5890"
    return None


def checked(check, **kwargs):
    """A dataclass field with an extra validation function `check(value) -> problem | None`."""
    return field(metadata={"check": check}, **kwargs)


@dataclass(frozen=True)
class KioskSection:
    site_id: str = checked(_check_id)
    kiosk_id: str = checked(_check_id)
    site_name: str = ""
    data_dir: str = "/var/lib/vaxkiosk"
    # The address is on the card but not needed for a vaccination record: kept only when a province asks for it.
    keep_address: bool = False
    # Check-ins are refused (with a clear message) before the disk is so full that SQLite could fail mid-write.
    min_free_mb: int = checked(_check_positive, default=50)
    # Delivered records older than this are purged from the kiosk.
    retention_days: int = checked(_check_positive, default=30)
    # Vietnam has one time zone and no daylight saving; the "day" of a check-in is the local calendar day.
    utc_offset_hours: float = 7.0
    # Decision 3588/QĐ-BYT: at least 30 minutes of observation after an injection before the certificate.
    observation_minutes: float = checked(_check_positive, default=30.0)


@dataclass(frozen=True)
class CameraSection:
    enabled: bool = False
    # A V4L2 device path (/dev/v4l/by-id/...), a device index ("0"), "picamera2", a video file or a folder of images.
    source: str = ""
    width: int = checked(_check_positive, default=1280)
    height: int = checked(_check_positive, default=720)
    fps: int = checked(_check_positive, default=30)
    decoder: Literal["twopass", "zxing", "zbar", "cascade"] = "twopass"
    # No new frame for this long means the capture has stalled: it is reopened with backoff.
    stall_seconds: float = checked(_check_positive, default=5.0)
    # The same code seen again within this window is one scan, not many.
    repeat_seconds: float = checked(_check_positive, default=4.0)
    # A file source loops (the demo) or ends (tests).
    loop: bool = False
    # Reopening a stalled or unplugged camera waits 0.5 s, then twice as long each failed time, up to this.
    reopen_max_seconds: float = checked(_check_positive, default=30.0)


@dataclass(frozen=True)
class SerialSection:
    enabled: bool = False
    port: str = ""
    baudrate: int = checked(_check_positive, default=9600)
    # Most handheld scanners end a code with CR; some with LF or CR LF. Written as in TOML ("\r", "\n", "\r\n").
    terminator: str = checked(lambda v: None if v else 'a non-empty string such as "\\r"', default="\r")
    # An unplugged scanner's port is tried again this often until it is back.
    reconnect_seconds: float = checked(_check_positive, default=1.0)


@dataclass(frozen=True)
class PrinterSection:
    enabled: bool = False
    backend: Literal["network", "usb", "serial", "file", "memory"] = "network"
    host: str = "127.0.0.1"
    port: int = checked(_check_port, default=9100)
    usb_vendor: int = 0
    usb_product: int = 0
    device: str = ""
    baudrate: int = checked(_check_positive, default=19200)
    profile: str = checked(_check_printer_profile, default="TM-T88V")
    paper_mm: Literal[58, 80] = 80
    timeout: float = checked(_check_positive, default=5.0)
    # How often the printer worker asks the printer for its status (and retries waiting jobs).
    poll_seconds: float = checked(_check_positive, default=2.0)
    # The ticket's estimated wait: people ahead in the queue × this.
    minutes_per_person: float = checked(_check_positive, default=4.0)


@dataclass(frozen=True)
class WebSection:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = checked(_check_port, default=8080)
    session_minutes: int = checked(_check_positive, default=480)


@dataclass(frozen=True)
class MqttSection:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = checked(_check_port, default=1883)
    # Empty: the kiosk id (the broker's ACL lets a kiosk use only topics carrying its own id as username).
    username: str = ""
    password: str = ""
    # A CA file turns TLS on (port 8883 by convention).
    tls_ca: str = ""
    # The broker publishes the Last Will ("lost") after 1.5 × keepalive without a packet.
    keepalive: int = checked(_check_positive, default=30)
    health_interval: float = checked(_check_positive, default=30.0)
    # Queue state is sent when it changes, at most this often.
    queue_interval: float = checked(_check_positive, default=5.0)
    # An outbox entry not acknowledged by central within this time is sent again.
    ack_timeout: float = checked(_check_positive, default=30.0)
    # Records sent and not yet acknowledged, at most; bounds memory and lets health through during a drain.
    max_inflight: int = checked(_check_positive, default=100)
    # Reconnection backoff doubles from 1 s up to this.
    reconnect_max_delay: float = checked(_check_positive, default=60.0)


@dataclass(frozen=True)
class CertificatesSection:
    # Central's trust list (signing certificates + revocations), cached in the data dir for offline verification.
    trust_list_url: str = ""
    # PEM certificate(s) of central's trust-list signer, installed at enrolment; the list is refused without it.
    trust_anchor: str = ""
    # CA bundle for an HTTPS trust_list_url signed by a private CA ("" = the system's CAs).
    ca_file: str = ""
    # sha256:<hex> of central's public key, pinned at enrolment from the set-up QR (kiosk.central_https): an HTTPS
    # trust_list_url is then fetched only from that key, whoever issued its certificate.
    central_pin: str = ""
    refresh_minutes: float = checked(_check_positive, default=60.0)


def _check_gammurc(value: str) -> str | None:
    from kiosk.sms.settings import gammurc_problem

    return gammurc_problem(value)


def _sms_text(kind: str):
    def check(value: str) -> str | None:
        from kiosk.sms.messages import template_problem

        return template_problem(kind, value)
    return check


@dataclass(frozen=True)
class SmsSection:
    # A Gammu configuration file naming the modem; "" = no SMS part (docs/sms.md).
    gammurc: str = checked(_check_gammurc, default="")
    # ucs2: Vietnamese with its diacritics, 70 characters a part; gsm7: unaccented, 160 a part (fewer parts to pay).
    encoding: Literal["ucs2", "gsm7"] = "ucs2"
    # The words of each text, with {placeholders}; "" = the built-in Vietnamese text (kiosk.sms.messages).
    text_soon: str = checked(_sms_text("soon"), default="")
    text_called: str = checked(_sms_text("called"), default="")
    text_dose: str = checked(_sms_text("dose"), default="")
    text_next_dose: str = checked(_sms_text("next_dose"), default="")
    # A queue text ("N people before you", "come to desk N") not sent within this time is dropped: no longer true.
    queue_text_minutes: float = checked(_check_positive, default=15.0)
    # A failed send is tried again after this, then twice as long each time, up to retry_max_seconds.
    retry_seconds: float = checked(_check_positive, default=10.0)
    retry_max_seconds: float = checked(_check_positive, default=600.0)


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection
    camera: CameraSection = CameraSection()
    serial: SerialSection = SerialSection()
    printer: PrinterSection = PrinterSection()
    web: WebSection = WebSection()
    mqtt: MqttSection = MqttSection()
    certificates: CertificatesSection = CertificatesSection()
    sms: SmsSection = SmsSection()
    source: str = "<defaults>"

    @property
    def data_dir(self) -> Path:
        return Path(self.kiosk.data_dir)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kiosk.db"


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config) if f.name != "source"
}


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _coerce(tp: Any, value: Any) -> tuple[bool, Any]:
    """(ok, value) for a TOML value against a field type; ints are accepted where floats are expected."""
    if typing.get_origin(tp) is Literal:
        return value in typing.get_args(tp) and type(value) is type(typing.get_args(tp)[0]), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if typing.get_origin(tp) in (list, types.GenericAlias) or tp is list:
        return isinstance(value, list), value
    return True, value


def build_section(cls: type, table: Any, where: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{where}] must be a table (section), not {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = []
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(fields)})"
            problems.append(f"{where}.{key}: unknown key{hint}")
    values = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{where}.{name}: missing; expected {_describe(hints[name])}")
            continue
        ok, value = _coerce(hints[name], table[name])
        if not ok:
            problems.append(f"{where}.{name} = {table[name]!r}: expected {_describe(hints[name])}")
            continue
        check = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            problems.append(f"{where}.{name} = {value!r}: expected {problem}")
            continue
        values[name] = value
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return cls(**values)


def from_dict(data: dict, source: str = "<dict>") -> Config:
    problems = []
    for name in data:
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else f" (known sections: {', '.join(SECTIONS)})"
            problems.append(f"[{name}]: unknown section{hint}")
    if "kiosk" not in data:
        problems.append("[kiosk]: missing; it must give at least site_id and kiosk_id")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    sections = {name: build_section(cls, data.get(name, {}), name, source) for name, cls in SECTIONS.items()}
    return Config(**sections, source=source)


def resolve_path(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV_VAR) or Path.home() / ".local" / "share" / "vaxkiosk")


def command_data_dir(explicit: str | None = None) -> Path:
    """The data dir of a command run by hand: the configured one when a configuration file is given or installed,
    else $VAXKIOSK_DATA or ~/.local/share/vaxkiosk (a development machine)."""
    path = resolve_path(explicit)
    if explicit or os.environ.get(ENV_VAR) or path.exists():
        return load(path).data_dir
    return default_data_dir()


def load(path: str | os.PathLike | None = None) -> Config:
    p = resolve_path(str(path) if path else None)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file (give one with --config or ${ENV_VAR})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return from_dict(data, source=str(p))
