"""Issue 14 item 2: event streams opened from the site's network must never starve the kiosk's screens.

Attack: 30 `GET /api/events` from one LAN device (127.0.0.2) and 30 more from 30 other devices, held open, then
dropped. Before the fix every stream held one of the kiosk's 24 server threads, the LAN stream skipped private
`scan` events without ever writing, so it never noticed its client had gone, and `/` and `/api/health` timed out
for minutes with sockets stuck in CLOSE-WAIT.

The contract checked here (docs/security.md): the citizen screen's page and health answer within seconds whatever
the streams do; one device holds at most 4 live streams and the network 12, the others are told `busy` with a
`retry:` delay; a stream writes a keep-alive within 10 s even while every event is private; a client that goes is
noticed within a few seconds.
"""

from __future__ import annotations

import select
import socket
import time

from tests.support.hostile_http import LAN_DEVICE, close_wait_sockets, kiosk, post_json, request  # noqa: F401
from tests.support.sync import wait_for

PER_DEVICE, PER_NETWORK = 4, 12
ANSWER_WITHIN = 5.0


def open_stream(port: int, source: str) -> socket.socket | None:
    """A started `GET /api/events`, or None when the server refused the connection."""
    sock = socket.socket()
    sock.settimeout(ANSWER_WITHIN)
    sock.bind((source, 0))
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    except OSError:
        sock.close()
        return None
    return sock


def first_blocks(socks: list, timeout: float = ANSWER_WITHIN) -> dict:
    """Each socket's bytes until its first complete event-stream block (or it closed, or the time ran out)."""
    data = {s: b"" for s in socks if s is not None}
    pending, deadline = set(data), time.monotonic() + timeout
    while pending and (left := deadline - time.monotonic()) > 0:
        for s in select.select(list(pending), [], [], left)[0]:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            data[s] += chunk
            if not chunk or b"\n\n" in data[s].partition(b"\r\n\r\n")[2]:
                pending.discard(s)
    return data


def live(raw: bytes) -> bool:
    return raw.startswith(b"HTTP/1.1 200") and b"retry:" in raw and b"event: busy" not in raw


def citizen_screen_answers(port: int) -> dict:
    answers = {}
    for path in ("/", "/api/health"):
        try:
            answers[path] = request(port, "GET", path, timeout=ANSWER_WITHIN).status
        except TimeoutError:
            answers[path] = f"no answer within {ANSWER_WITHIN} s"
    return answers


def test_lan_event_streams_never_starve_the_citizen_screen(kiosk):
    port = kiosk.port
    one_device = [open_stream(port, LAN_DEVICE) for _ in range(30)]
    many_devices = [open_stream(port, f"127.0.0.{10 + n}") for n in range(30)]
    streams = first_blocks(one_device + many_devices)
    try:
        # The kiosk's own browser, meanwhile: its page, its health, its own event stream.
        assert citizen_screen_answers(port) == {"/": 200, "/api/health": 200}
        own = open_stream(port, "127.0.0.1")
        assert live(first_blocks([own])[own]), "the citizen screen's own stream was refused"
        own.close()

        from_one = [streams[s] for s in one_device if s in streams]
        assert sum(live(raw) for raw in from_one) <= PER_DEVICE
        assert sum(live(raw) for raw in streams.values()) <= PER_NETWORK
        busy = [raw for raw in streams.values() if b"event: busy" in raw]
        assert busy and all(b"retry: " in raw and b"too_many_streams" in raw for raw in busy)
        # The rest of the network is still served (the waiting-room display's numbers).
        assert request(port, "GET", "/display/state", source="127.0.0.200", timeout=ANSWER_WITHIN).status == 200
    finally:
        for s in streams:
            s.close()
    # Every dropped stream is noticed: no socket left half-closed, every slot back within seconds.
    wait_for(lambda: close_wait_sockets(port) == 0, 5, what="the kiosk to notice its gone stream clients")
    wait_for(lambda: streams_granted(port, LAN_DEVICE, PER_DEVICE), 5, interval=1.0,
             what="the device's stream slots given back")


def streams_granted(port: int, source: str, count: int) -> bool:
    socks = [open_stream(port, source) for _ in range(count)]
    blocks = first_blocks(socks)
    for s in blocks:
        s.close()
    return all(live(blocks.get(s, b"")) for s in socks)


def test_a_lan_stream_writes_keepalives_while_every_event_is_private(kiosk):
    port = kiosk.port
    sock = open_stream(port, LAN_DEVICE)
    seen = first_blocks([sock])[sock]
    assert live(seen)
    # The kiosk's own screen scans unreadable codes: `scan` events, private, never sent to the LAN stream.
    deadline = time.monotonic() + 12
    while b"keep-alive" not in seen and time.monotonic() < deadline:
        assert post_json(port, "/api/scan", {"text": "không phải thẻ căn cước"}).status == 200
        if select.select([sock], [], [], 0.25)[0]:
            seen += sock.recv(65536)
    assert b"keep-alive" in seen, "no keep-alive within 12 s while private events flowed"
    assert b"event: scan" not in seen
    sock.close()
    wait_for(lambda: close_wait_sockets(port) == 0, 3, what="the kiosk to notice the stream's client left")
