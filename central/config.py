"""central.toml → validated settings for `vaxkiosk central`, with the kiosk's loader rules (kiosk.config helpers):
unknown keys and sections are errors that name the key and what was expected.

Sections owned here: [central] (storage, time zone) and [mqtt] (the aggregator's broker connection).
Sections owned by other parts of central (dashboard, alerts, registry) are listed in OTHER_SECTIONS: this loader
checks that they are tables and keeps them in `Config.other` for their owners' loaders to validate.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import ConfigError, _check_port, _check_positive, build_section, checked

DEFAULT_PATH = "/etc/vaxkiosk/central.toml"
ENV_VAR = "VAXKIOSK_CENTRAL_CONFIG"

# Validated by their owners (central web app, alerts, registry); [[sites]] and [[users]] are arrays of tables.
OTHER_SECTIONS = ("web", "alerts", "sites", "users", "registry")


@dataclass(frozen=True)
class CentralSection:
    data_dir: str = "/var/lib/vaxkiosk-central"
    # Local day and hour of the records (Vietnam: UTC+7, no daylight saving).
    utc_offset_hours: float = 7.0
    # Health history kept for the kiosk detail charts.
    health_history_days: float = checked(_check_positive, default=2.0)


@dataclass(frozen=True)
class MqttSection:
    host: str = "127.0.0.1"
    port: int = checked(_check_port, default=1883)
    username: str = "central"
    password: str = ""
    tls_ca: str = ""
    keepalive: int = checked(_check_positive, default=30)
    # Messages are committed in batches: at most this many, waiting at most this long for more.
    batch_max: int = checked(_check_positive, default=500)
    batch_ms: float = checked(_check_positive, default=20.0)


@dataclass(frozen=True)
class Config:
    central: CentralSection = CentralSection()
    mqtt: MqttSection = MqttSection()
    other: dict = field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def db_path(self) -> Path:
        return Path(self.central.data_dir) / "central.db"


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config)
    if f.name not in ("other", "source")
}


def from_dict(data: dict, source: str = "<dict>") -> Config:
    problems = []
    for name, value in data.items():
        if name in OTHER_SECTIONS:
            if not isinstance(value, (dict, list)):
                problems.append(f"[{name}]: must be a table, not {value!r}")
        elif name not in SECTIONS:
            close = difflib.get_close_matches(name, [*SECTIONS, *OTHER_SECTIONS], n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else f" (known sections: {', '.join(SECTIONS)})"
            problems.append(f"[{name}]: unknown section{hint}")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    sections = {name: build_section(cls, data.get(name, {}), name, source) for name, cls in SECTIONS.items()}
    other = {name: data[name] for name in OTHER_SECTIONS if name in data}
    return Config(**sections, other=other, source=source)


def load(path: str | os.PathLike | None = None) -> Config:
    p = Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file (give one with --config or ${ENV_VAR})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return from_dict(data, source=str(p))
