"""sd_notify over a real unix datagram socket: READY=1 at start, WATCHDOG=1 only while no part's loop is stalled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from kiosk.app import App
from kiosk.watchdog import Notifier, stalled_parts
from tests.conftest import ROOT, write_config


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(15)
    yield path, sock
    sock.close()


def receive_until(sock, wanted: str) -> list[str]:
    seen = []
    while True:
        message = sock.recv(4096).decode()
        seen.append(message)
        if wanted in message.splitlines():
            return seen


def test_kiosk_process_tells_systemd_it_is_ready_pings_and_says_stopping(notify_socket, tmp_path):
    path, sock = notify_socket
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "data", extra="[web]\nenabled = false\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = receive_until(sock, "READY=1")
        assert first[-1].splitlines()[0] == "READY=1"
        receive_until(sock, "WATCHDOG=1")
        receive_until(sock, "WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        receive_until(sock, "STOPPING=1")
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Part:
    """A kiosk part whose loop can be made to stall, the way a stuck camera or sync thread would report it."""
    name = "sync"

    def __init__(self):
        self.alive = True
        self.device_ok = True

    def start(self): ...

    def stop(self): ...

    def health(self) -> dict:
        return {"alive": self.alive, "ok": self.device_ok}


def test_watchdog_is_pinged_only_while_no_part_is_stalled(notify_socket, kiosk_config):
    path, sock = notify_socket
    sock.settimeout(0.5)
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    app = App(kiosk_config)
    part = Part()
    app.parts.append(part)

    app.supervise(notifier)
    assert sock.recv(4096) == b"WATCHDOG=1"
    part.device_ok = False  # printer out of paper, camera unplugged: a restart would not help, keep pinging
    app.supervise(notifier)
    assert sock.recv(4096) == b"WATCHDOG=1"
    part.alive = False
    app.supervise(notifier)
    app.supervise(notifier)
    sent = []
    try:
        while True:
            sent.append(sock.recv(4096).decode())
    except socket.timeout:
        pass
    assert sent == ["STATUS=stalled: sync", "STATUS=stalled: sync"]  # no WATCHDOG=1: systemd will restart us
    part.alive = True
    app.supervise(notifier)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STATUS=running"
    app.store.close()


def test_notifier_reads_systemd_environment(tmp_path):
    assert not Notifier({}).enabled and Notifier({}).ping() is False
    n = Notifier({"NOTIFY_SOCKET": "@vaxkiosk-test", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    assert n.address == "\0vaxkiosk-test" and n.ping_interval == 15.0
    # Variables inherited by a child process are not meant for it.
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).ping_interval is None
    # systemd gone: nothing raises.
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")}).ready() is False


def test_abstract_socket_address(tmp_path):
    name = f"vaxkiosk-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready("running")
        assert sock.recv(4096) == b"READY=1\nSTATUS=running"
    finally:
        sock.close()


def test_stalled_parts():
    assert stalled_parts({"a": {"alive": True}, "b": {"ok": False}, "c": {"alive": False}}) == ["c"]


def test_a_worker_thread_that_died_stops_the_watchdog_pings(notify_socket, kiosk_config, tmp_path):
    """The real printer worker part: its thread dies of an unexpected error → health says not alive → no ping."""
    import threading

    from kiosk.printing.worker import make_part
    from kiosk.watchdog import thread_alive

    assert thread_alive(None)
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    assert not thread_alive(dead)

    config = write_config(tmp_path / "k2.toml", tmp_path / "data2",
                          extra='[web]\nenabled = false\n[printer]\nenabled = true\nbackend = "memory"\n')
    from kiosk.config import load

    app = App(load(config))
    part = make_part(app)
    app.parts.append(part)
    part.start()
    assert app.health()["printer"]["alive"] is True
    part.stop()
    part._thread = dead  # as if its loop had raised: the thread object is there, but finished
    assert stalled_parts(app.health()) == ["printer"]
    app.store.close()
