"""Issue 14 item 7: half-sent requests (slowloris) must not block either web server.

Attack: 110 connections from one LAN device (127.0.0.2), and in a second wave 110 from 110 devices, each sending
its request headers one byte a second, never finishing. Before the fix waitress took 100 connections, then stopped
accepting; the drip kept each one "active", so the kiosk's citizen screen and central's dashboard waited forever.

The contract (docs/security.md): while the attack runs, loopback (the citizen screen, a local proxy) and another LAN
device are answered within seconds; no connection is held longer than the request deadline (10 s) without
finishing its request: the server closes every attacking connection by 20 s.
"""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

from tests.support.hostile_http import LAN_DEVICE, central, kiosk, request  # noqa: F401

ANSWER_WITHIN = 4.0
ALL_CLOSED_WITHIN = 20.0


class SlowLoris:
    """Connections that send a request's first line, then one header byte a second, from a thread."""

    def __init__(self, port: int, sources: list[str]):
        self.port = port
        self.socks: list[socket.socket] = []
        for source in sources:
            sock = socket.socket()
            sock.settimeout(2)
            sock.bind((source, 0))
            try:
                sock.connect(("127.0.0.1", port))
                sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
            except OSError:
                sock.close()  # refused at once: the server is already defending itself
                continue
            sock.setblocking(False)
            self.socks.append(sock)
        self.closed_by_server: set[socket.socket] = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)

    def __enter__(self) -> "SlowLoris":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()

    def _drip(self) -> None:
        while not self.stopping.wait(1.0):
            for sock in self.open():
                try:
                    sock.send(b"a")
                except OSError:
                    self.closed_by_server.add(sock)
            self._notice_closed()

    def _notice_closed(self) -> None:
        for sock in select.select(self.open(), [], [], 0)[0]:
            try:
                if sock.recv(65536) == b"":
                    self.closed_by_server.add(sock)
            except BlockingIOError:
                pass
            except OSError:
                self.closed_by_server.add(sock)

    def open(self) -> list[socket.socket]:
        return [s for s in self.socks if s not in self.closed_by_server]


def answered(port: int, path: str, source: str) -> int | str:
    try:
        return request(port, "GET", path, source=source, timeout=ANSWER_WITHIN).status
    except (TimeoutError, ConnectionError) as exc:
        return f"no answer within {ANSWER_WITHIN} s ({type(exc).__name__})"


def attack(port: int, sources: list[str], probes: list[tuple[str, str]]) -> None:
    with SlowLoris(port, sources) as loris:
        time.sleep(1.5)  # the drip is under way: every held connection has sent more than its first line
        answers = {(path, source): answered(port, path, source) for path, source in probes}
        assert answers == {probe: 200 for probe in probes}, answers
        deadline = time.monotonic() + ALL_CLOSED_WITHIN
        while loris.open() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not loris.open(), f"{len(loris.open())} half-sent requests still held after {ALL_CLOSED_WITHIN} s"


ONE_DEVICE = [LAN_DEVICE] * 110
MANY_DEVICES = [f"127.0.1.{n}" for n in range(1, 111)]


@pytest.mark.parametrize("sources", [ONE_DEVICE, MANY_DEVICES], ids=["one-device", "110-devices"])
def test_slow_headers_do_not_block_the_kiosk(kiosk, sources):
    attack(kiosk.port, sources, [("/", "127.0.0.1"), ("/api/health", "127.0.0.1"),
                                 ("/display/state", "127.0.0.250")])
    assert answered(kiosk.port, "/display/state", LAN_DEVICE) == 200  # the attacker's device itself, afterwards


@pytest.mark.parametrize("sources", [ONE_DEVICE, MANY_DEVICES], ids=["one-device", "110-devices"])
def test_slow_headers_do_not_block_central(central, sources):
    attack(central.port, sources, [("/healthz", "127.0.0.1"), ("/login", "127.0.0.250")])
