"""The checks `[sms]` gets when the configuration is read (kiosk.config): a Gammu configuration file that names an
AT modem, so a typo stops the kiosk at start with a message instead of every text failing later."""

from __future__ import annotations

import configparser
from pathlib import Path

EXPECTED = "a readable Gammu configuration file with a [gammu] section giving device = ... and connection = at..."


def gammurc_problem(path: str) -> str | None:
    if path == "":
        return None
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        text = Path(path).read_text(encoding="utf-8")
        parser.read_string(text)
    except (OSError, UnicodeDecodeError) as exc:
        return f"{EXPECTED} ({exc.strerror if isinstance(exc, OSError) else exc})"
    except configparser.Error as exc:
        return f"{EXPECTED} (not an INI file: {exc.message.splitlines()[0]})"
    if not parser.has_section("gammu"):
        return f"{EXPECTED} (no [gammu] section)"
    section = parser["gammu"]
    if not section.get("device", "").strip():
        return f"{EXPECTED} (no device)"
    if not section.get("connection", "").strip().lower().startswith("at"):
        return f"{EXPECTED} (connection = {section.get('connection', '')!r}; USB and serial modems use 'at')"
    return None
