"""The attacker's side of the web attack tests (tests/security/test_web_*.py, test_sessions_*.py): raw HTTP from a
chosen source address, and a real `vaxkiosk central` process to aim at.

Addresses other than 127.0.0.1 stand for devices on the site's network: 127.0.0.2 is "a device on the site LAN",
127.0.0.3 and up are other devices (Linux routes all of 127/8 to the loopback interface, so any of them can be a
client's source address). Every socket has a timeout: an attack that works shows up as a timeout, not a hang.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from tests.support.net import free_port, wait_port
from tests.support.process import Proc

LAN_DEVICE = "127.0.0.2"
CENTRAL_USER, CENTRAL_PASSWORD = "ops", "mật-khẩu-thử-1"


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    elapsed: float = 0.0

    def json(self):
        return json.loads(self.body)

    @property
    def cookie(self) -> str | None:
        """The Set-Cookie value (name=value), if any."""
        raw = self.headers.get("set-cookie")
        return raw.split(";", 1)[0] if raw else None


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            source: str = "127.0.0.1", timeout: float = 5.0) -> Answer:
    """One request on its own connection; raises socket.timeout when the server does not answer in time."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(),
                      time.monotonic() - started)
    finally:
        conn.close()


def post_json(port: int, path: str, body, source: str = "127.0.0.1", headers: dict | None = None,
              timeout: float = 5.0) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request(port, "POST", path, data, {"Content-Type": "application/json", **(headers or {})}, source,
                   timeout)


def raw_connection(port: int, source: str, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_until(sock: socket.socket, marker: bytes, timeout: float, limit: int = 1 << 20) -> bytes:
    """Bytes from `sock` until `marker` shows up, the peer closes, or `timeout` passes (then what came so far)."""
    deadline = time.monotonic() + timeout
    data = b""
    while marker not in data and len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(raw: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(match.group(1)) if match else None


def json_of(raw: bytes):
    """The JSON body of a raw response (Content-Length framed, as waitress sends error answers)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return json.loads(body)


def close_wait_sockets(port: int) -> int:
    """Server-side sockets on `port` whose client has gone while the server still holds them (TCP CLOSE_WAIT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "08":
                count += 1
    return count


def csrf_from(html: bytes) -> str:
    return re.search(rb'name="csrf" value="([^"]+)"', html).group(1).decode()


def form(fields: dict) -> bytes:
    return urllib.parse.urlencode(fields).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def login_form(port: int, path: str, fields: dict, source: str, timeout: float = 20.0) -> Answer:
    """GET the login page (a session cookie and its CSRF token), then POST `fields` with them."""
    page = request(port, "GET", path, source=source, timeout=timeout)
    cookie = page.cookie
    answer = request(port, "POST", path, form({"csrf": csrf_from(page.body), **fields}),
                     {**FORM, "Cookie": cookie}, source, timeout)
    answer.headers.setdefault("x-request-cookie", cookie)
    return answer


@dataclass
class CentralProcess:
    """`vaxkiosk central` (aggregator + dashboard, waitress) as a real process, with [registry] so that the
    devices' endpoint /api/v1/enrol is served on the dashboard's port, as in production."""

    folder: Path
    broker_port: int
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    def start(self) -> "CentralProcess":
        data = self.folder / "data"
        config = self.folder / "central.toml"
        self.folder.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'[central]\ndata_dir = "{data}"\n'
            f'[mqtt]\nport = {self.broker_port}\npassword = "central-secret"\nkeepalive = 5\n'
            f'[web]\nport = {self.port}\nsecret_key = "attack-test-secret"\n'
            f'[registry]\nbroker_dir = "{self.folder / "broker"}"\nbroker_pid_file = ""\n'
            f'broker_host = "127.0.0.1"\nbroker_port = {self.broker_port}\n'
            f'[[users]]\nname = "{CENTRAL_USER}"\npassword_hash = "{generate_password_hash(CENTRAL_PASSWORD)}"\n',
            encoding="utf-8")
        self.proc = Proc(["central", "--config", str(config)], self.folder / "central.log").start()
        wait_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    def log(self) -> str:
        return self.proc.log_text() if self.proc else ""


@pytest.fixture
def kiosk(tmp_path):
    """`vaxkiosk kiosk` with its screens (waitress) on a free loopback port: tests.web's process."""
    from tests.web.conftest import Kiosk

    k = Kiosk(tmp_path).start()
    yield k
    assert k.stop() == 0, (tmp_path / "kiosk.log").read_text()


@pytest.fixture
def central(tmp_path, mosquitto):
    c = CentralProcess(tmp_path / "central", mosquitto.port).start()
    yield c
    c.stop()
