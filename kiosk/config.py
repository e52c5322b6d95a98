"""kiosk.toml → validated, typed settings: the kiosk's sections, read and checked by base.config's rules (unknown
keys and sections are errors that name the key, the value and what was expected)."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from base.config import (build_sections, check_id, check_port, check_positive, checked, read_toml, resolve,
                         unknown_sections)

DEFAULT_PATH = "/etc/vaxkiosk/kiosk.toml"
ENV_VAR = "VAXKIOSK_CONFIG"
# Where commands keep their data on a machine without a configuration file (a developer's laptop).
DATA_ENV_VAR = "VAXKIOSK_DATA"


def _check_printer_profile(value: str) -> str | None:
    from drivers.printer import ProfileError, load_profile

    try:
        load_profile(value)
    except ProfileError:
        return "a python-escpos printer profile name such as TM-T88V, TM-T20II or POS-5890"
    return None


@dataclass(frozen=True)
class KioskSection:
    site_id: str = checked(check_id)
    kiosk_id: str = checked(check_id)
    site_name: str = ""
    data_dir: str = "/var/lib/vaxkiosk"
    # The address is on the card but not needed for a vaccination record: kept only when a province asks for it.
    keep_address: bool = False
    # Check-ins are refused (with a clear message) before the disk is so full that SQLite could fail mid-write.
    min_free_mb: int = checked(check_positive, default=50)
    # Delivered records older than this are purged from the kiosk.
    retention_days: int = checked(check_positive, default=30)
    # Vietnam has one time zone and no daylight saving; the "day" of a check-in is the local calendar day.
    utc_offset_hours: float = 7.0
    # Decision 3588/QĐ-BYT: at least 30 minutes of observation after an injection before the certificate.
    observation_minutes: float = checked(check_positive, default=30.0)


@dataclass(frozen=True)
class CameraSection:
    enabled: bool = False
    # A V4L2 device path (/dev/v4l/by-id/...), a device index ("0"), "picamera2", a video file or a folder of images.
    source: str = ""
    width: int = checked(check_positive, default=1280)
    height: int = checked(check_positive, default=720)
    fps: int = checked(check_positive, default=30)
    decoder: Literal["twopass", "zxing", "zbar", "cascade"] = "twopass"
    # No new frame for this long means the capture has stalled: it is reopened with backoff.
    stall_seconds: float = checked(check_positive, default=5.0)
    # The same code seen again within this window is one scan, not many.
    repeat_seconds: float = checked(check_positive, default=4.0)
    # A file source loops (the demo) or ends (tests).
    loop: bool = False
    # Reopening a stalled or unplugged camera waits 0.5 s, then twice as long each failed time, up to this.
    reopen_max_seconds: float = checked(check_positive, default=30.0)


@dataclass(frozen=True)
class SerialSection:
    enabled: bool = False
    port: str = ""
    baudrate: int = checked(check_positive, default=9600)
    # Most handheld scanners end a code with CR; some with LF or CR LF. Written as in TOML ("\r", "\n", "\r\n").
    terminator: str = checked(lambda v: None if v else 'a non-empty string such as "\\r"', default="\r")
    # An unplugged scanner's port is tried again this often until it is back.
    reconnect_seconds: float = checked(check_positive, default=1.0)


@dataclass(frozen=True)
class PrinterSection:
    enabled: bool = False
    backend: Literal["network", "usb", "serial", "file", "memory"] = "network"
    host: str = "127.0.0.1"
    port: int = checked(check_port, default=9100)
    usb_vendor: int = 0
    usb_product: int = 0
    device: str = ""
    baudrate: int = checked(check_positive, default=19200)
    profile: str = checked(_check_printer_profile, default="TM-T88V")
    paper_mm: Literal[58, 80] = 80
    timeout: float = checked(check_positive, default=5.0)
    # How often the printer worker asks the printer for its status (and retries waiting jobs).
    poll_seconds: float = checked(check_positive, default=2.0)
    # The queue's pace (minutes per person) until calls measure it: ticket and display estimate the wait with it.
    minutes_per_person: float = checked(check_positive, default=4.0)


@dataclass(frozen=True)
class WebSection:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = checked(check_port, default=8080)
    session_minutes: int = checked(check_positive, default=480)


@dataclass(frozen=True)
class MqttSection:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = checked(check_port, default=1883)
    # Empty: the kiosk id (the broker's ACL lets a kiosk use only topics carrying its own id as username).
    username: str = ""
    password: str = ""
    # A CA file turns TLS on (port 8883 by convention).
    tls_ca: str = ""
    # The broker publishes the Last Will ("lost") after 1.5 × keepalive without a packet.
    keepalive: int = checked(check_positive, default=30)
    health_interval: float = checked(check_positive, default=30.0)
    # Queue state is sent when it changes, at most this often.
    queue_interval: float = checked(check_positive, default=5.0)
    # An outbox entry not acknowledged by central within this time is sent again (base.resend: one at a time).
    ack_timeout: float = checked(check_positive, default=30.0)
    # While central acknowledges nothing, each resend waits twice as long as the one before, up to this.
    resend_max_delay: float = checked(check_positive, default=300.0)
    # Records sent and not yet acknowledged, at most; bounds memory and lets health through during a drain.
    max_inflight: int = checked(check_positive, default=100)
    # Reconnection backoff doubles from 1 s up to this.
    reconnect_max_delay: float = checked(check_positive, default=60.0)


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
    refresh_minutes: float = checked(check_positive, default=60.0)


def _check_gammurc(value: str) -> str | None:
    from drivers.gsm_modem import gammurc_problem

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
    queue_text_minutes: float = checked(check_positive, default=15.0)
    # A failed send is tried again after this, then twice as long each time, up to retry_max_seconds.
    retry_seconds: float = checked(check_positive, default=10.0)
    retry_max_seconds: float = checked(check_positive, default=600.0)


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


def from_dict(data: dict, source: str = "<dict>") -> Config:
    problems = unknown_sections(data, SECTIONS)
    if "kiosk" not in data:
        problems.append("[kiosk]: missing; it must give at least site_id and kiosk_id")
    return Config(**build_sections(SECTIONS, data, source, problems), source=source)


def resolve_path(explicit: str | None = None) -> Path:
    return resolve(explicit, ENV_VAR, DEFAULT_PATH)


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
    return from_dict(read_toml(p, ENV_VAR), source=str(p))


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
