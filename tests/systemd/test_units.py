"""Every unit in systemd/ passes `systemd-analyze verify` with no warning, and keeps the properties the kiosk relies on.

The units name the installed paths (/opt/vaxkiosk/venv/bin/vaxkiosk); verify insists that ExecStart binaries exist,
so the test verifies a copy whose ExecStart runs this checkout with the test's Python instead.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS_DIR = ROOT / "systemd"
UNITS = sorted(p.name for p in UNITS_DIR.iterdir() if p.suffix in (".service", ".path", ".timer", ".socket"))
INSTALLED = "/opt/vaxkiosk/venv/bin/vaxkiosk"


def verify(unit_dir: Path, unit: str) -> subprocess.CompletedProcess:
    # --man=no: Documentation= would otherwise run `man`, which a minimal Debian does not have.
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit_dir / unit)], capture_output=True,
                          text=True,
                          env={"SYSTEMD_UNIT_PATH": f"{unit_dir}:", "PATH": "/usr/bin:/bin"}, timeout=60)


@pytest.fixture(scope="module")
def unit_copy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("units")
    for path in UNITS_DIR.iterdir():
        if path.is_file():
            (out / path.name).write_text(path.read_text().replace(INSTALLED, f"{sys.executable} -m kiosk"))
    # Debian's own mosquitto unit, with our drop-in next to it, exactly as it is installed on central.
    shutil.copy("/lib/systemd/system/mosquitto.service", out)
    shutil.copytree(UNITS_DIR / "mosquitto.service.d", out / "mosquitto.service.d")
    return out


@pytest.mark.parametrize("unit", UNITS + ["mosquitto.service"])
def test_unit_verifies_without_warnings(unit_copy, unit):
    proc = verify(unit_copy, unit)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_verify_catches_a_broken_unit(unit_copy, tmp_path):
    """The check above can fail: a typo in a key is reported."""
    broken = (unit_copy / "vaxkiosk-kiosk.service").read_text().replace("WatchdogSec=", "WatchdogSecs=")
    (tmp_path / "vaxkiosk-kiosk.service").write_text(broken)
    assert "Unknown key" in verify(tmp_path, "vaxkiosk-kiosk.service").stderr


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS_DIR / name)
    return parser


def test_kiosk_unit_is_a_watched_hardened_appliance():
    service = unit("vaxkiosk-kiosk.service")["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0 and service["Restart"] == "always"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "true"
    assert service["PrivateTmp"] == "true" and "/var/lib/vaxkiosk" in service["ReadWritePaths"]
    assert service["User"] == "vaxkiosk" and set(service["SupplementaryGroups"].split()) == {"video", "lp", "dialout"}
    assert "PrivateDevices" not in service  # it would hide the camera, printer and scanner
    assert service["ExecStart"].startswith(INSTALLED + " kiosk")


def test_browser_unit_runs_chromium_kiosk_under_cage():
    exec_start = unit("vaxkiosk-browser.service")["Service"]["ExecStart"]
    assert exec_start.startswith("/usr/bin/cage ") and "/usr/bin/chromium --kiosk" in exec_start
