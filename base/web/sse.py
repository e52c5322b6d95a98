"""Server-sent event streams, for the kiosk's screens (/api/events) and central's dashboard (/events) alike.

An open stream holds one waitress worker thread, so streams must never take the threads the citizen screen needs:
- StreamSlots rations them: at most `per_address` per client address and `remote` for all addresses other than
  loopback together; loopback (the citizen screen's own browser, a reverse proxy) has its own `loopback` budget.
  A stream refused for want of a slot answers at once with a `busy` event and a `retry:` delay: the browser's
  EventSource comes back by itself later, no thread is held meanwhile.
- A stream ends within a second of its client leaving: waitress reads the socket while the stream runs and tells
  us (environ "waitress.client_disconnected", base.web.serving); a keep-alive comment every KEEPALIVE_SECONDS
  that nothing was written (events skipped as private included) is the backstop, since writing to a gone client
  ends the stream, and it keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Callable

from flask import Response, request, stream_with_context

from base.events import Event, EventBus
from base.web.loopback import LOOPBACK_ADDRESSES

KEEPALIVE_SECONDS = 5.0
POLL_SECONDS = 0.5
BUSY_RETRY_MS = 10_000
BUSY = {"code": "too_many_streams", "message_vi": "Quá nhiều màn hình đang kết nối; sẽ tự kết nối lại.",
        "message_en": "Too many screens connected; reconnecting later by itself.", "retry_ms": BUSY_RETRY_MS}


class StreamSlots:
    def __init__(self, per_address: int, remote: int, loopback: int):
        self.per_address, self.remote, self.loopback = per_address, remote, loopback
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        with self._lock:
            mine = self._open.get(address, 0)
            if address in LOOPBACK_ADDRESSES:
                allowed = sum(n for a, n in self._open.items() if a in LOOPBACK_ADDRESSES) < self.loopback
            else:
                remote = sum(n for a, n in self._open.items() if a not in LOOPBACK_ADDRESSES)
                allowed = mine < self.per_address and remote < self.remote
            if allowed:
                self._open[address] = mine + 1
            return allowed

    def give_back(self, address: str) -> None:
        with self._lock:
            left = self._open.get(address, 0) - 1
            if left > 0:
                self._open[address] = left
            else:
                self._open.pop(address, None)

    def open_streams(self) -> int:
        with self._lock:
            return sum(self._open.values())


def event(ev: Event, data: dict) -> str:
    return f"id: {ev.id}\nevent: {ev.type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream(events: EventBus, slots: StreamSlots, render: Callable[[Event], str | None],
           stopped: Callable[[], bool], retry_ms: int, seconds: float | None = None) -> Response:
    """The response for one stream: `render` turns an event into its text, or None to skip it (not for this
    client); the stream ends when `stopped()`, when its client leaves, or after `seconds` (the browser reconnects)."""
    address = request.remote_addr or ""
    client_gone = request.environ.get("waitress.client_disconnected", lambda: False)

    def generate():
        # The slot is taken when the stream starts, not before: a response waitress never starts holds none.
        if not slots.take(address):
            yield f"retry: {BUSY_RETRY_MS}\nevent: busy\ndata: {json.dumps(BUSY, ensure_ascii=False)}\n\n"
            return
        sub = events.subscribe()
        try:
            yield f"retry: {retry_ms}\n: connected\n\n"
            ends = time.monotonic() + seconds if seconds else None
            written = time.monotonic()
            while not stopped() and not client_gone() and (ends is None or time.monotonic() < ends):
                try:
                    text = render(sub.get(timeout=POLL_SECONDS))
                except queue.Empty:
                    text = None
                if text is None and time.monotonic() - written >= KEEPALIVE_SECONDS:
                    text = ": keep-alive\n\n"
                if text is not None:
                    yield text
                    written = time.monotonic()
        finally:
            events.unsubscribe(sub)
            slots.give_back(address)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
