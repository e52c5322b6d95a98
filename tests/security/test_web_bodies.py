"""Issue 14 items 6 and 9: request bodies the servers must refuse, with a code, without reading or parsing them.

Item 6. Before the fix waitress read a body whole (spooled to disk) before Flask's 64 KB limit was looked at: a
declared 200 MB to the kiosk's /api/scan, or 100 MB to central's unauthenticated /api/v1/enrol, were accepted and
read. Now a body over 64 KB is refused from its Content-Length, or (chunked) as soon as it passes the limit: 413
with the code `body_too_large`, answered before the client has sent the body.

Item 9. 30,000 nested brackets (60 KB, under the size limit) made Python's json parser raise RecursionError: HTTP
500 on /api/scan, /checkin/manual, /record/lookup and /api/v1/enrol. Now 400 with the code `json_too_deep`.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import SAMPLE_QR
from tests.support.hostile_http import (FORM, LAN_DEVICE, central, json_of, kiosk, post_json,  # noqa: F401
                                        raw_connection, read_until, status_of)

DECLARED = 200 * 1024 * 1024
ANSWER_WITHIN = 3.0


def declared_body(port: int, path: str, content_type: str, source: str = "127.0.0.1") -> bytes:
    """Headers announcing 200 MB, then nothing: the answer must come without the body."""
    sock = raw_connection(port, source)
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {DECLARED}\r\n\r\n".encode())
        return read_until(sock, b"}", ANSWER_WITHIN)
    finally:
        sock.close()


def chunked_body(port: int, path: str, content_type: str, chunks: int = 64) -> tuple[bytes, int]:
    """A chunked body of up to 64 × 64 KB, sent until the server answers; (the answer, bytes sent before it)."""
    sock = raw_connection(port, "127.0.0.1")
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"10000\r\n" + b"[" * 0x10000 + b"\r\n"
        for _ in range(chunks):
            answer = read_until(sock, b"}", 0.05)
            if answer:
                return answer + read_until(sock, b"}", ANSWER_WITHIN), sent
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server closed the connection after answering
            sent += 0x10000
        return read_until(sock, b"}", ANSWER_WITHIN), sent
    finally:
        sock.close()


def refused_with(raw: bytes, status: int, code: str) -> bool:
    return status_of(raw) == status and json_of(raw)["error"]["code"] == code and json_of(raw)["error"]["message_vi"]


def test_oversized_bodies_to_the_kiosk_are_refused_unread(kiosk):
    port = kiosk.port
    for path, content_type, source in (("/api/scan", "application/json", "127.0.0.1"),
                                       ("/checkin/manual", "application/json", "127.0.0.1"),
                                       ("/staff/login", FORM["Content-Type"], LAN_DEVICE),
                                       ("/staff/checkin/x/screen", FORM["Content-Type"], LAN_DEVICE)):
        raw = declared_body(port, path, content_type, source)
        assert refused_with(raw, 413, "body_too_large"), (path, raw[:300])
    raw, sent = chunked_body(port, "/api/scan", "application/json")
    assert refused_with(raw, 413, "body_too_large"), raw[:300]
    assert sent <= 128 * 1024, f"{sent} bytes read before the refusal"
    # Nothing was stored and the kiosk still checks people in.
    with kiosk.db() as db:
        assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0
    assert kiosk.scan(SAMPLE_QR)["result"] == "checked_in"


def test_oversized_bodies_to_central_are_refused_unread(central):
    for path, content_type in (("/api/v1/enrol", "application/json"), ("/login", FORM["Content-Type"])):
        raw = declared_body(central.port, path, content_type, LAN_DEVICE)
        assert refused_with(raw, 413, "body_too_large"), (path, raw[:300])
    raw, sent = chunked_body(central.port, "/api/v1/enrol", "application/json")
    assert refused_with(raw, 413, "body_too_large") and sent <= 128 * 1024, (sent, raw[:300])


NESTED = b"[" * 30_000 + b"]" * 30_000  # 60 KB: under the size limit, far past the parser's recursion limit


@pytest.mark.parametrize("body", [NESTED, b'{"text": ' + NESTED + b'}'], ids=["bare", "in-a-field"])
def test_deeply_nested_json_is_refused_with_a_code(kiosk, central, body):
    targets = [(kiosk.port, path) for path in ("/api/scan", "/checkin/manual", "/record/lookup")]
    targets.append((central.port, "/api/v1/enrol"))
    answers = {}
    for port, path in targets:
        answer = post_json(port, path, body)
        answers[path] = (answer.status, answer.json()["error"]["code"] if answer.status < 500 else answer.body[:80])
    assert answers == {path: (400, "json_too_deep") for _, path in targets}
    # A shallow body still gets the endpoint's own answer.
    assert post_json(kiosk.port, "/api/scan", {"text": [[["x"]]]}).json()["error"]["code"] == "bad_request"
    assert post_json(central.port, "/api/v1/enrol", {"code": "ABCD-EFGH-JKMN"}).json()["error"]["code"] \
        == "code_unknown"


def test_a_refused_body_leaves_the_connection_closed(kiosk):
    """The 413 ends the connection: the unread body can never be taken for the next request."""
    sock = raw_connection(kiosk.port, "127.0.0.1")
    try:
        sock.sendall(f"POST /api/scan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {DECLARED}\r\n\r\n".encode() + b'{"text": "x"}' * 100)
        started = time.monotonic()
        raw = read_until(sock, b"marker never sent", ANSWER_WITHIN)  # everything until the server closes
        assert time.monotonic() - started < ANSWER_WITHIN, "the server kept the connection open"
        assert status_of(raw) == 413 and raw.count(b"HTTP/1.1 ") == 1, raw[:300]
    finally:
        sock.close()
