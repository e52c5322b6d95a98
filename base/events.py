"""In-process events for the screens (server-sent events): scans, check-ins, queue changes, printer state.

Events are notifications only; the store stays the source of truth, so a screen that misses an event re-reads it.
A slow subscriber loses its oldest events rather than slowing down a check-in.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    type: str
    data: dict
    id: int
    at: float = field(default_factory=time.time)


class EventBus:
    def __init__(self, backlog: int = 200):
        self._subs: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._backlog = backlog

    def publish(self, type: str, data: dict | None = None) -> Event:
        event = Event(type, data or {}, next(self._ids))
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            while True:
                try:
                    q.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
        return event

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=self._backlog)
        with self._lock:
            self._subs.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subs.discard(q)
