"""Facts about the machine the kiosk runs on: boot id, clock synchronisation, temperature, load, memory, disk."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import time
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (x86_64 and aarch64 share this layout); only `status` is read.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_padding", ctypes.c_int * 11)]


TIME_ERROR = 5


def clock_synchronized() -> bool:
    """True when the kernel says NTP has disciplined the clock (adjtimex state != TIME_ERROR).

    VAXKIOSK_CLOCK_SYNCED=0/1 overrides it: tests and the demo simulate a Pi that booted without a real-time clock.
    """
    forced = os.environ.get("VAXKIOSK_CLOCK_SYNCED")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        tx = _Timex()
        state = _libc().adjtimex(ctypes.byref(tx))
        return state not in (-1, TIME_ERROR)
    except (OSError, AttributeError):
        return False


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    # find_library runs ldconfig in a subprocess: once per process, not once per time stamp.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def cpu_temperature() -> float | None:
    try:
        return int(Path("/sys/class/thermal/thermal_zone0/temp").read_text()) / 1000.0
    except (OSError, ValueError):
        return None


def load_average() -> float:
    return os.getloadavg()[0]


def memory_used_percent() -> float | None:
    try:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
        return round(100.0 * (1 - info["MemAvailable"] / info["MemTotal"]), 1)
    except (OSError, KeyError, ValueError, ZeroDivisionError):
        return None


def disk_usage(path: str | os.PathLike) -> tuple[int, int]:
    """(free bytes, total bytes) of the file system holding `path`.

    VAXKIOSK_FAKE_FREE_BYTES lets the reliability tests simulate a nearly full SD card without filling the disk: a
    number, or the path of a file holding one (re-read at every call, so a running kiosk sees space come back).
    """
    usage = shutil.disk_usage(path)
    fake = os.environ.get("VAXKIOSK_FAKE_FREE_BYTES", "")
    if fake and not fake.isdigit():
        try:
            fake = Path(fake).read_text().strip()
        except OSError:
            fake = ""  # no file: the real figure
    if fake.isdigit():
        return int(fake), usage.total
    return usage.free, usage.total


def uptime_seconds() -> float:
    return time.monotonic()
