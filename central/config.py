"""central.toml → validated settings for `vaxkiosk central`, read and checked by base.config's rules: unknown keys and
sections are errors that name the key and what was expected.

Sections owned here: [central] (data folder, time zone), [store] (SQLite in the data folder, or PostgreSQL) and
[mqtt] (the aggregator's broker connection).
Sections owned by other parts of central (dashboard, alerts, registry) are listed in OTHER_SECTIONS: this loader
checks that they are tables and keeps them in `Config.other` for their owners' loaders to validate.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from base.config import (ConfigError, build_sections, check_port, check_positive, checked, read_toml, resolve,
                         unknown_sections)
from central import alert_channels

DEFAULT_PATH = "/etc/vaxkiosk/central.toml"
ENV_VAR = "VAXKIOSK_CENTRAL_CONFIG"

# Validated by their owners (central web app, alerts, registry); [[sites]] and [[users]] are arrays of tables.
OTHER_SECTIONS = ("web", "alerts", "numbers", "sites", "users", "registry", *alert_channels.sections())


@dataclass(frozen=True)
class CentralSection:
    data_dir: str = "/var/lib/vaxkiosk-central"
    # Local day and hour of the records (Vietnam: UTC+7, no daylight saving).
    utc_offset_hours: float = 7.0
    # Health history for the kiosk page's charts, in tiers (docs/central.md "Health history"): each report for a day
    # (the last hours in full detail), per minute for a week (what happened at a site last Tuesday afternoon), per
    # hour for a month (trends). With 20,000 kiosks reporting every 10 s that is at most 346 million raw rows (a
    # whole day more on PostgreSQL, which drops whole days), 230 million minutes and 15 million hours.
    health_raw_days: float = checked(check_positive, default=1.0)
    health_minute_days: float = checked(check_positive, default=7.0)
    health_hour_days: float = checked(check_positive, default=31.0)

    def tier_problems(self) -> list[str]:
        """What is wrong between the tiers' days (each key alone is checked by its rule)."""
        problems = []
        if self.health_raw_days < 1 / 24:
            problems.append(f"central.health_raw_days = {self.health_raw_days!r}: expected at least 0.0417 (an "
                            "hour: the kiosk page shows the last hour of reports)")
        for finer, coarser in (("health_raw_days", "health_minute_days"), ("health_minute_days", "health_hour_days")):
            if getattr(self, coarser) < getattr(self, finer):
                problems.append(f"central.{coarser} = {getattr(self, coarser)!r}: expected at least {finer} "
                                f"({getattr(self, finer)!r}): a coarser tier is kept at least as long as a finer one")
        return problems


def check_store_url(value: str) -> str | None:
    """"" (SQLite in data_dir), a file path (SQLite there) or a postgresql:// URL naming a database."""
    if not value:
        return None
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if not scheme:
        return None if value.strip() == value else "a file path without spaces around it"
    if scheme not in ("postgresql", "postgres"):
        return f"a postgresql:// URL or a file path (scheme {scheme!r} is not supported)"
    import psycopg

    try:
        parts = psycopg.conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        return f"a valid postgresql:// URL ({str(exc).splitlines()[0]})"
    ports = [p for p in str(parts.get("port") or "").split(",") if p]
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in ports):
        return f"a postgresql:// URL with a TCP port number (not {parts.get('port')!r})"
    if not parts.get("dbname"):
        return "a postgresql:// URL that names its database (postgresql://user:password@host:port/database)"
    return None


@dataclass(frozen=True)
class StoreSection:
    # Empty: SQLite files in [central] data_dir (the demo, a province). A postgresql:// URL: central's records,
    # registry and operations data in that database, shared by several aggregators (docs/deployment.md).
    url: str = checked(check_store_url, secret=True, default="")

    @property
    def postgres(self) -> bool:
        return self.url.lower().startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class MqttSection:
    host: str = "127.0.0.1"
    port: int = checked(check_port, default=1883)
    username: str = "central"
    password: str = ""
    tls_ca: str = ""
    keepalive: int = checked(check_positive, default=30)
    # Messages are committed in batches: at most this many, waiting at most this long for more.
    batch_max: int = checked(check_positive, default=500)
    batch_ms: float = checked(check_positive, default=20.0)


@dataclass(frozen=True)
class Config:
    central: CentralSection = CentralSection()
    store: StoreSection = StoreSection()
    mqtt: MqttSection = MqttSection()
    other: dict = field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def store_location(self) -> str | Path:
        """Where central.store and central.registry keep their tables: a PostgreSQL URL or central.db's path."""
        if self.store.postgres:
            return self.store.url
        return Path(self.store.url) if self.store.url else Path(self.central.data_dir) / "central.db"

    @property
    def ops_location(self) -> str | Path:
        """The dashboard's tables (central.ops_store): the same PostgreSQL database, or ops.db in data_dir."""
        return self.store.url if self.store.postgres else Path(self.central.data_dir) / "ops.db"


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config)
    if f.name not in ("other", "source")
}


# Keys of earlier versions, with what replaced them (a file that still has one is refused with this, not with a
# "did you mean" guess).
RENAMED = {"health_history_days": "health_raw_days (the raw reports; health_minute_days and health_hour_days keep "
                                  "the per-minute and per-hour roll-ups)"}


def from_dict(data: dict, source: str = "<dict>") -> Config:
    problems = [f"[{name}]: must be a table, not {value!r}" for name, value in data.items()
                if name in OTHER_SECTIONS and not isinstance(value, (dict, list))]
    problems += unknown_sections(data, SECTIONS, also_known=OTHER_SECTIONS)
    central = data.get("central")
    if isinstance(central, dict) and RENAMED.keys() & central.keys():
        problems += [f"central.{key}: no longer read; replaced by {RENAMED[key]}" for key in RENAMED if key in central]
        data = {**data, "central": {k: v for k, v in central.items() if k not in RENAMED}}
    sections = build_sections(SECTIONS, data, source, problems)
    tiers = sections["central"].tier_problems()
    if tiers:
        raise ConfigError(f"{source}: " + "; ".join(tiers))
    other = {name: data[name] for name in OTHER_SECTIONS if name in data}
    return Config(**sections, other=other, source=source)


def load(path: str | os.PathLike | None = None) -> Config:
    p = resolve(path, ENV_VAR, DEFAULT_PATH)
    return from_dict(read_toml(p, ENV_VAR), source=str(p))
