"""Settings of the operations side of central (dashboard, alerts, sites, users), validated like the kiosk's.

They live in the central TOML file next to the aggregator's [central] and [mqtt] (central/config.py, which hands
these sections over in Config.other):

    [web]      listen address, session length, cookie secret, API token
    [alerts]   thresholds, notification retries
    [alert_<channel>]  where alerts are sent: [alert_webhook], [alert_email], [alert_sms] (central.alert_channels)
    [[sites]]  id, name, district, province (3-digit code from base/provinces.csv)
    [[users]]  name, password_hash (`vaxkiosk central-password` prints one)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from base.config import (ConfigError, build_sections, check_id, check_percent, check_port, check_positive, checked,
                         section_problems)
from base.provinces import provinces
from central import alert_channels, coverage


def _check_province(value: str) -> str | None:
    return None if value in provinces() else "a 3-digit province code listed in base/provinces.csv"


@dataclass(frozen=True)
class WebSection:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = checked(check_port, default=8090)
    session_minutes: int = checked(check_positive, default=480)
    # Signs the session cookie; empty = a random one per start (everyone logs in again after a restart).
    secret_key: str = ""
    # Bearer token for /api/* and /metrics when the dashboard listens on a non-loopback address.
    api_token: str = ""
    # Server-sent event streams end after this long (the browser reconnects): a waitress thread is never held forever.
    sse_seconds: float = checked(check_positive, default=55.0)


@dataclass(frozen=True)
class AlertsSection:
    lost_after_seconds: float = checked(check_positive, default=120.0)
    # No status or health from an "online" kiosk for this long makes it "lost" (the broker's will may come late).
    silent_after_seconds: float = checked(check_positive, default=90.0)
    backlog_max: int = checked(check_positive, default=200)
    backlog_age_max_seconds: float = checked(check_positive, default=900.0)
    disk_used_max_percent: float = checked(check_percent, default=90.0)
    evaluate_every_seconds: float = checked(check_positive, default=5.0)
    # A notification a channel failed to send is tried again after this, then twice as long each time (up to 10 min).
    notify_retry_seconds: float = checked(check_positive, default=5.0)


@dataclass(frozen=True)
class NumbersSection:
    # What one vaccination desk should manage per hour; the numbers page shows each site's figure against it.
    desk_target_per_hour: float = checked(check_positive, default=12.0)
    # A CSV of target population per district (central.coverage), relative to this file's folder; "" = no coverage.
    coverage: str = ""


@dataclass(frozen=True)
class Site:
    id: str = checked(check_id)
    province: str = checked(_check_province)
    name: str = ""
    district: str = ""

    @property
    def province_name(self) -> str:
        return provinces()[self.province]


@dataclass(frozen=True)
class User:
    name: str = checked(check_id)
    password_hash: str = ""
    # "admin" may also revoke kiosks from the dashboard; "ops" sees and decides everything else.
    role: Literal["ops", "admin"] = "ops"


@dataclass(frozen=True)
class OpsConfig:
    web: WebSection = WebSection()
    alerts: AlertsSection = AlertsSection()
    numbers: NumbersSection = NumbersSection()
    sites: tuple[Site, ...] = ()
    users: tuple[User, ...] = ()
    # channel name → its settings, for each [alert_<name>] section present (central.alert_channels)
    channels: dict = field(default_factory=dict)
    source: str = "<defaults>"
    site_by_id: dict = field(default_factory=dict, compare=False, repr=False)
    # (province, district) → target population, read from [numbers] coverage
    targets: dict = field(default_factory=dict, compare=False, repr=False)


TABLES = {"web": WebSection, "alerts": AlertsSection, "numbers": NumbersSection}
ARRAYS = {"sites": Site, "users": User}


def from_dict(data: dict, source: str = "<dict>") -> OpsConfig:
    # Every problem of the file at once (base.config.build_sections), the arrays' included.
    problems, arrays = [], {}
    for name, cls in ARRAYS.items():
        items = data.get(name, [])
        if not isinstance(items, list):
            problems.append(f"{name} must be written as [[{name}]] tables")
            items = []
        built = [section_problems(cls, item, f"{name}[{i}]") for i, item in enumerate(items)]
        problems += [p for _, wrong in built for p in wrong]
        arrays[name] = tuple(item for item, _ in built if item is not None)
    ids = [s.id for s in arrays["sites"]]
    if len(ids) != len(set(ids)):
        problems.append(f"[[sites]] lists the same id twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    if any(not u.password_hash for u in arrays["users"]):
        problems.append("every [[users]] needs a password_hash (vaxkiosk central password-hash prints one)")
    # The [alert_<channel>] sections present turn their channels on; their problems are reported with the others'.
    wanted = {section: module for section, module in alert_channels.sections().items() if section in data}
    sections = build_sections({**TABLES, **{s: m.Settings for s, m in wanted.items()}}, data, source, problems)
    channels = {module.NAME: sections.pop(section) for section, module in wanted.items()}
    config = OpsConfig(**sections, **arrays, channels=channels, source=source)
    config.site_by_id.update({s.id: s for s in config.sites})
    if config.numbers.coverage:
        path = Path(config.numbers.coverage)
        if not path.is_absolute() and not source.startswith("<"):
            path = Path(source).parent / path
        try:
            config.targets.update(coverage.load(path, config.sites))
        except coverage.CoverageError as exc:
            raise ConfigError(f"{source}: [numbers] coverage: {exc}") from None
    return config
