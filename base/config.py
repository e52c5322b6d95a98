"""How every vaxkiosk TOML file is read and checked: the kiosk's, central's and each part's own sections.

A section is a frozen dataclass; `build_section` checks each key's type, allowed values and `checked(...)` rule and
refuses unknown keys with a "did you mean" hint, so a typo stops the program at start with a message that names the
key, the value and what was expected, instead of being silently ignored. All problems of a file are named at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Callable, Literal

from base.protocol import ID_RE


class ConfigError(Exception):
    """A configuration file that cannot be used; str() is a message for the technician."""


# -- rules for one value: (value) -> what was expected, or None when it is fine -------------------------------------
def check_id(value: str) -> str | None:
    """Site and kiosk ids become MQTT topic levels and usernames: no '/', '+', '#' or spaces."""
    if not ID_RE.match(value):
        return "letters, digits, '-' or '_' (1-63 characters, no spaces or '/')"
    return None


def check_positive(value: float) -> str | None:
    return None if value > 0 else "a number greater than 0"


def check_port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "a TCP port number from 0 to 65535"


def check_percent(value: float) -> str | None:
    return None if 0 < value <= 100 else "a percentage above 0 and at most 100"


def checked(check: Callable[[Any], str | None], secret: bool = False, **kwargs):
    """A dataclass field with an extra validation function `check(value) -> problem | None`. A `secret` field's
    value (a URL with a password in it) is never repeated in an error message: those end up in logs."""
    return field(metadata={"check": check, "secret": secret}, **kwargs)


# -- sections -------------------------------------------------------------------------------------------------------
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
    """The dataclass `cls` from one TOML table named `where`, or ConfigError naming every problem in it."""
    built, problems = section_problems(cls, table, where)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return built


def build_sections(classes: dict[str, type], data: dict, source: str, problems: list[str] = ()) -> dict[str, Any]:
    """name → dataclass for every section in `classes`, or one ConfigError naming every problem of every section
    (and the `problems` the caller found before): a technician fixes the file in one go, not one error a run."""
    found, built = list(problems), {}
    for name, cls in classes.items():
        section, wrong = section_problems(cls, data.get(name, {}), name)
        found += wrong
        built[name] = section
    if found:
        raise ConfigError(f"{source}: " + "; ".join(found))
    return built


def section_problems(cls: type, table: Any, where: str) -> tuple[Any, list[str]]:
    """(the dataclass, []) or (None, every problem of the table)."""
    if not isinstance(table, dict):
        return None, [f"[{where}] must be a table (section), not {table!r}"]
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
            shown = "(not shown: it may hold a password)" if f.metadata.get("secret") else repr(value)
            problems.append(f"{where}.{name} = {shown}: expected {problem}")
            continue
        values[name] = value
    return (None, problems) if problems else (cls(**values), [])


def unknown_sections(data: dict, known: typing.Iterable[str], also_known: typing.Iterable[str] = ()) -> list[str]:
    """Problems for the sections of `data` that are neither `known` nor `also_known` (sections another loader
    checks), with a "did you mean" hint."""
    known, also_known = list(known), list(also_known)
    problems = []
    for name in data:
        if name not in known and name not in also_known:
            close = difflib.get_close_matches(name, known + also_known, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else f" (known sections: {', '.join(known)})"
            problems.append(f"[{name}]: unknown section{hint}")
    return problems


def read_toml(path: Path, env_var: str) -> dict:
    """The decoded file, or ConfigError saying why it cannot be used (`env_var` is named as the way to give one)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file (give one with --config or ${env_var})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def resolve(explicit: str | os.PathLike | None, env_var: str, default: str) -> Path:
    """The file a command reads: --config, else $`env_var`, else the installed default."""
    return Path(explicit or os.environ.get(env_var) or default)
