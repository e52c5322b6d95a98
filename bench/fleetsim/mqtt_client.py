"""A minimal asyncio MQTT 5 client for the fleet simulator: the packets a kiosk uses and nothing else.

Why not paho or a library (measured, see the commit that added this file and docs/performance.md): paho's
`loop_start` opens a TCP socket pair per client on top of its connection (three sockets and two extra ephemeral
ports per simulated kiosk: 20,000 kiosks run out of ports) and a thread per client; aiomqtt wraps paho and avoids
the socket pair but keeps paho's per-client misc task and a thread-pool connect; gmqtt is pure asyncio but cannot
bind a source address (needed to spread 20,000 connections over several loopback addresses) and costs more CPU and
memory per idle client. This one is an `asyncio.Protocol` per connection on one event loop per process; keep-alive
is driven by the caller (one timer for thousands of clients, not one each).

Spoken: CONNECT (username, password, Last Will, clean start), CONNACK, PUBLISH QoS 0/1 both ways, PUBACK both ways,
SUBSCRIBE/SUBACK, PINGREQ/PINGRESP, DISCONNECT. Not spoken: QoS 2, AUTH, topic aliases, properties beyond
skipping them on receipt. Server-side limits (Receive Maximum) are the caller's business: a simulated kiosk keeps
far fewer records in flight than Mosquitto's 100.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1, 2, 3, 4, 8, 9, 12, 13, 14)
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection: the broker discards the Last Will
MAX_PACKET = 1 << 20  # refuse to buffer more than this from the broker (it never sends a kiosk that much)


class MqttError(Exception):
    pass


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s: str | bytes) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(raw)) + raw


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id: str, username: str | None, password: str | None, keepalive: int,
                   will: tuple[str, bytes, int, bool] | None) -> bytes:
    flags = 0x02  # clean start: a kiosk keeps no broker session (its outbox resends what was not acknowledged)
    payload = utf8(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += b"\x00" + utf8(topic) + utf8(message)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
    if password is not None:
        flags |= 0x40
        payload += utf8(password)
    return packet(CONNECT << 4, utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + b"\x00" + payload)


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int, dup: bool = False) -> bytes:
    head = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = utf8(topic) + (struct.pack("!H", packet_id) if qos else b"") + b"\x00" + payload
    return packet(head, body)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None when `data` ends inside it."""
    value, shift = 0, 0
    while pos < len(data):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise MqttError("malformed remaining length")
    return None


class MqttConnection(asyncio.Protocol):
    """One client connection. `on_message(topic, payload)` for every PUBLISH the broker delivers (QoS 1 ones are
    PUBACKed after the callback); `on_puback(packet_id, reason)` for our QoS 1 publishes; `on_close(exc)` once."""

    def __init__(self, client_id: str, username: str | None = None, password: str | None = None,
                 keepalive: int = 30, will: tuple[str, bytes, int, bool] | None = None,
                 on_message: Callable[[str, bytes], None] | None = None,
                 on_puback: Callable[[int, int], None] | None = None,
                 on_close: Callable[[Exception | None], None] | None = None):
        self.client_id = client_id
        self._connect = connect_packet(client_id, username, password, keepalive, will)
        self.keepalive = keepalive
        self.on_message = on_message
        self.on_puback = on_puback
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future = asyncio.get_running_loop().create_future()
        self._subacks: dict[int, asyncio.Future] = {}
        self._buffer = bytearray()
        self._next_id = 0
        self.last_out = time.monotonic()
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self._write(self._connect)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.connack.done():
            self.connack.set_exception(exc or MqttError("connection closed before CONNACK"))
        for future in self._subacks.values():
            if not future.done():
                future.set_exception(MqttError("connection closed before SUBACK"))
        if self.on_close:
            self.on_close(exc)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_PACKET:
            self.transport.close()
            return
        pos = 0
        view = memoryview(self._buffer)
        try:
            while len(view) - pos >= 2:
                parsed = read_varint(view, pos + 1)
                if parsed is None:
                    break
                length, start = parsed
                end = start + length
                if end > len(view):
                    break
                self._handle(self._buffer[pos], bytes(view[start:end]))
                pos = end
        except (MqttError, struct.error, UnicodeDecodeError, IndexError):
            view.release()
            self.transport.close()
            return
        view.release()
        del self._buffer[:pos]

    # -- packets from the broker ---------------------------------------------------------------------------------
    def _handle(self, first: int, body: bytes) -> None:
        kind = first >> 4
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            (topic_len,) = struct.unpack_from("!H", body)
            topic = body[2:2 + topic_len].decode("utf-8")
            pos = 2 + topic_len
            packet_id = None
            if qos:
                (packet_id,) = struct.unpack_from("!H", body, pos)
                pos += 2
            props = read_varint(body, pos)
            if props is None:
                raise MqttError("malformed PUBLISH")
            payload = body[props[1] + props[0]:]
            if self.on_message:
                self.on_message(topic, payload)
            if qos == 1:
                self._write(packet(PUBACK << 4, struct.pack("!H", packet_id)))
        elif kind == PUBACK:
            (packet_id,) = struct.unpack_from("!H", body)
            if self.on_puback:
                self.on_puback(packet_id, body[2] if len(body) > 2 else 0)
        elif kind == CONNACK:
            reason = body[1]
            if not self.connack.done():
                if reason:
                    self.connack.set_exception(MqttError(f"CONNACK refused: reason {reason:#x}"))
                else:
                    self.connack.set_result(True)
        elif kind == SUBACK:
            (packet_id,) = struct.unpack_from("!H", body)
            props = read_varint(body, 2)
            codes = body[props[1] + props[0]:] if props else b"\x80"
            future = self._subacks.pop(packet_id, None)
            if future and not future.done():
                if any(c >= 0x80 for c in codes):
                    future.set_exception(MqttError(f"SUBACK refused: {codes.hex()}"))
                else:
                    future.set_result(codes)
        elif kind == DISCONNECT:
            self.transport.close()
        # PINGRESP needs nothing: any packet received proves the broker is there.

    # -- what the caller sends -----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.last_out = time.monotonic()

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 0xFFFF + 1
        return self._next_id

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        """Queue a PUBLISH; returns its packet id (0 for QoS 0)."""
        packet_id = self._packet_id() if qos else 0
        self._write(publish_packet(topic, payload, qos, retain, packet_id))
        return packet_id

    async def subscribe(self, filters: list[tuple[str, int]], timeout: float = 10) -> bytes:
        packet_id = self._packet_id()
        body = struct.pack("!H", packet_id) + b"\x00" + b"".join(utf8(t) + bytes([q]) for t, q in filters)
        future = asyncio.get_running_loop().create_future()
        self._subacks[packet_id] = future
        self._write(packet((SUBSCRIBE << 4) | 0x02, body))
        return await asyncio.wait_for(future, timeout)

    def ping_if_idle(self, now: float) -> None:
        """Keep-alive: a PINGREQ when nothing was sent for 3/4 of the keep-alive (the broker drops a client after
        1.5 × keep-alive of silence)."""
        if now - self.last_out >= 0.75 * self.keepalive:
            self._write(PINGREQ_PACKET)

    def disconnect(self) -> None:
        self._write(DISCONNECT_PACKET)
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection without DISCONNECT (a power cut or a cut link): the broker publishes the Will."""
        if self.transport is not None:
            self.transport.abort()


async def open_connection(host: str, port: int, client_id: str, *, source: str | None = None,
                          timeout: float = 10, **kwargs) -> MqttConnection:
    """Connect and wait for a successful CONNACK (MqttError, OSError or TimeoutError otherwise). `source`: the local
    address to connect from (several loopback addresses give each its own range of ephemeral ports)."""
    loop = asyncio.get_running_loop()
    conn: MqttConnection | None = None

    def factory() -> MqttConnection:
        nonlocal conn
        conn = MqttConnection(client_id, **kwargs)
        return conn

    try:
        await asyncio.wait_for(loop.create_connection(factory, host, port,
                                                      local_addr=(source, 0) if source else None), timeout)
        await asyncio.wait_for(asyncio.shield(conn.connack), timeout)
    except BaseException:
        if conn is not None and conn.transport is not None:
            conn.transport.abort()
        raise
    return conn
