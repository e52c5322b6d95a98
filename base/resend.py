"""The kiosk's resend rule: which records sent and not yet acknowledged by central go again, and when.

The rule (docs/sync.md, "Delivery"), shared by kiosk.sync.part and the simulated kiosks of bench/fleet.py:
- A resend waits until the oldest unacknowledged record was last sent, and the previous resend happened, at least
  `wait` ago. `wait` starts at `ack_timeout` and doubles with every resend that no ack followed, up to
  `max_delay`; each wait is drawn between itself and 1.5 times itself (jitter), so thousands of kiosks whose link
  came back together do not resend together. An ack that delivers something resets it to `ack_timeout`.
- A resend sends one record: the oldest unacknowledged. A central that is slow but alive acknowledges the
  originals in its queue; it gains nothing from copies of all of them (with 5,000 kiosks × 50 records the copies
  crowded out the backlog they were copies of).
- An ack naming a record whose last send was a copy shows central is handling this kiosk's later messages: the
  oldest record sent before that copy goes again at once (it was probably lost: an aggregator killed with it in its
  batch, say). One per such ack, so lost records come back at central's pace, one round trip each, while a late
  ack of an original (which the kiosk cannot tell from its copy's) costs one copy, not the whole window.
- After a reconnection the caller sends everything in flight again (`restart`): the old session may be gone.

So a slow central sees from each kiosk at most one copy per wait (30, 60, 120, … `max_delay` s) plus one per ack
that names a copy. Nothing is lost: every unacknowledged record is the oldest one after at most `len(self)`
resends, and an acknowledged one is forgotten, so never sent again.
"""

from __future__ import annotations

import random as _random
from typing import Callable, Iterable

JITTER = 0.5  # a wait is drawn in [wait, (1 + JITTER) × wait]


class Unacknowledged:
    """Records sent and not yet acknowledged, oldest last send first, and the resend backoff."""

    def __init__(self, ack_timeout: float, max_delay: float, random: Callable[[], float] = _random.random):
        self.ack_timeout = ack_timeout
        self.max_delay = max(max_delay, ack_timeout)
        self.random = random
        self._sent: dict[str, tuple[float, bool]] = {}  # record id -> (last send, that send was a copy)
        self.round = 0  # resends since the last ack that delivered something
        self.last_resend = float("-inf")
        self.wait = self._draw()

    def __len__(self) -> int:
        return len(self._sent)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._sent

    def ids(self) -> list[str]:
        """In the order of their last send."""
        return list(self._sent)

    def _draw(self) -> float:
        base = min(self.ack_timeout * 2 ** min(self.round, 32), self.max_delay)
        return base * (1 + JITTER * self.random())

    def sent(self, record_id: str, now: float, copy: bool = False) -> None:
        self._sent.pop(record_id, None)  # to the end: the order is the order of last sends
        self._sent[record_id] = (now, copy)

    def acked(self, record_ids: Iterable[str]) -> list[str]:
        """Forget what central acknowledged (unknown and repeated ids are ignored); returns the record to send again
        at once ([] or one id): the oldest, if it was last sent before an acknowledged copy was."""
        copy_sent, delivered = None, False
        for rid in record_ids:
            entry = self._sent.pop(rid, None)
            if entry is None:
                continue
            delivered = True
            if entry[1]:
                copy_sent = entry[0] if copy_sent is None else max(copy_sent, entry[0])
        if delivered:
            self.round = 0
            self.wait = self._draw()
        if copy_sent is None or not self._sent:
            return []
        oldest, (at, _copy) = next(iter(self._sent.items()))
        return [oldest] if at < copy_sent else []

    def due(self, now: float) -> list[str]:
        """The record to send again now ([] or the oldest), advancing the backoff; the caller sends it and calls
        `sent(id, now, copy=True)`, or `acked([id])` if it turns out delivered already."""
        if not self._sent:
            return []
        oldest, (at, _copy) = next(iter(self._sent.items()))
        if now < max(at, self.last_resend) + self.wait:
            return []
        self.round += 1
        self.last_resend = now
        self.wait = self._draw()
        return [oldest]

    def next_due(self) -> float | None:
        """When `due` will next return a record if no ack comes (None: nothing in flight)."""
        if not self._sent:
            return None
        at = next(iter(self._sent.values()))[0]
        return max(at, self.last_resend) + self.wait

    def restart(self) -> list[str]:
        """After a reconnection: forget the sends (the caller sends these again, in this order); the backoff
        stays, since no ack came."""
        ids = self.ids()
        self._sent.clear()
        return ids
