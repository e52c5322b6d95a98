"""Free loopback ports for the demo, the tests and the benches, picked where nothing else on this machine takes them,
and the wait for a server to listen on one.

A port found free by binding port 0 comes from the kernel's ephemeral range, the range every outgoing connection
takes its source port from. Between that pick and the server's own bind, a client connection of another test may
take the port as its source, and the server dies with "Address already in use" (seen in a full `make test`: the
demo's dashboard). So ports are picked below the ephemeral range instead, where the kernel never hands out source
ports: each pytest-xdist worker has its own slice of it (two workers never hand out the same port), a process takes
the ports of its slice in turn from a random place, and each is checked free by a bind.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from pathlib import Path

LOWEST = 10000  # below: ports of services a developer may run on this machine
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")

_lock = threading.Lock()
_next: dict[range, int] = {}


def ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _slice() -> range:
    """This process's ports: its pytest-xdist worker's share of [LOWEST, ephemeral low), or all of it."""
    top = ephemeral_low()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    width = (top - LOWEST) // max(count, 1)
    return range(LOWEST + index * width, LOWEST + (index + 1) * width)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port nothing listens on, outside the ephemeral range."""
    ports = _slice()
    if len(ports) < 100:  # an unusual ephemeral range leaves no room below it: the kernel's pick, with its race
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    with _lock:
        at = _next.get(ports)
        if at is None:
            at = random.randrange(len(ports))
        for step in range(len(ports)):
            port = ports[(at + step) % len(ports)]
            if _bindable(port):
                _next[ports] = (at + step + 1) % len(ports)
                return port
    raise OSError(f"no free loopback port in {ports.start}-{ports.stop - 1}")


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    """Until something accepts connections on host:port. `proc`: the server's process; if it exits first (a
    configuration it refuses, a port taken), that is reported at once rather than after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:g} s")
