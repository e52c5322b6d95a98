"""Fixtures shared by every test package. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_QR = "064195001234|230987654|Trần Thị Hồng Nhung|12081995|Nữ|Tổ 5, Phường Yên Đỗ, TP Pleiku, Gia Lai|03062021"


def vaxkiosk(*args: str, input: bytes | None = None, timeout: float = 120, env: dict | None = None,
             check: bool = False) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (the code of this checkout)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=input, capture_output=True,
                          timeout=timeout, env=full_env, check=check)


def vaxkiosk_json(*args: str, **kw) -> tuple[int, dict]:
    proc = vaxkiosk(*args, **kw)
    return proc.returncode, json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])


def write_config(path: Path, data_dir: Path, site: str = "GL-01", kiosk: str = "k1", extra: str = "") -> Path:
    path.write_text(f'[kiosk]\nsite_id = "{site}"\nkiosk_id = "{kiosk}"\nsite_name = "Trạm Y tế Phường Yên Đỗ"\n'
                    f'data_dir = "{data_dir}"\nmin_free_mb = 1\n{extra}\n', encoding="utf-8")
    return path


@pytest.fixture
def kiosk_config(tmp_path):
    from kiosk.config import load

    return load(write_config(tmp_path / "kiosk.toml", tmp_path / "data"))


@pytest.fixture
def store(kiosk_config):
    from kiosk.store import Store

    s = Store(kiosk_config.db_path)
    yield s
    s.close()


@pytest.fixture
def checkins(store, kiosk_config):
    from kiosk.checkin import CheckinService

    return CheckinService(store, kiosk_config.kiosk)


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session: Playwright's sync API cannot run two at once."""
    from tests.web.conftest import launch_chromium

    yield from launch_chromium()
