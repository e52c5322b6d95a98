"""Ports for the demo, tests and benches come from below the ephemeral range, a slice per xdist worker."""

import socket
import subprocess
import sys
import time

import pytest

from devtools import ports


def test_a_port_is_free_and_below_the_ephemeral_range():
    port = ports.free_port()
    assert ports.LOWEST <= port < ports.ephemeral_low()  # never a port the kernel may give a client as its source
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # and free


def test_xdist_workers_have_disjoint_slices(monkeypatch):
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        slices.append(set(ports._slice()))
    assert all(slices) and not (slices[0] & slices[1] or slices[1] & slices[2] or slices[0] & slices[2])


def test_a_port_someone_listens_on_is_passed_over(monkeypatch):
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", ports.free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        span = ports._slice()
        monkeypatch.setitem(ports._next, span, port - span.start)  # the next in turn is the one in use
        assert ports.free_port() != port
    finally:
        taken.close()


def test_wait_port_returns_once_a_server_listens_and_reports_a_server_that_exited_at_once():
    port = ports.free_port()
    server = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.socket(); "
                               f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(30)"])
    try:
        ports.wait_port(port, timeout=20, proc=server)
    finally:
        server.kill()
        server.wait()
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with 3"):
        ports.wait_port(ports.free_port(), timeout=20, proc=gone)
    assert time.monotonic() - start < 10  # reported when it exits, not after the timeout
    with pytest.raises(TimeoutError, match="nothing listens"):
        ports.wait_port(ports.free_port(), timeout=0.3)
