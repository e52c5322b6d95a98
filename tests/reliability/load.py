"""Check-ins flowing through a kiosk's `POST /api/scan` in a background thread, and the seed every random choice of
the suite comes from (printed, and taken from $VAXKIOSK_RELIABILITY_SEED to replay a failure)."""

from __future__ import annotations

import os
import random
import threading


def seeded_rng(test: str) -> random.Random:
    seed = int(os.environ.get("VAXKIOSK_RELIABILITY_SEED") or random.randrange(1_000_000))
    print(f"{test}: seed {seed} (replay with VAXKIOSK_RELIABILITY_SEED={seed})")
    return random.Random(seed)


class ScanLoad:
    """Scans `qr(i)` for i = start, start+1, ... every `interval` s until stopped.

    A scan counts as acknowledged only when the kiosk answered `checked_in` with its id; a scan the kiosk did not
    answer (it was down) is simply not acknowledged and is not retried (a citizen would scan again, a new i here).
    """

    def __init__(self, kiosk, make_payload, interval: float = 0.1, start: int = 0):
        self.kiosk, self.make_payload, self.interval = kiosk, make_payload, interval
        self.next = start
        self.acknowledged: dict[str, int] = {}  # checkin id → ticket number
        self.unanswered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ScanLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            payload = self.make_payload(self.next)
            self.next += 1
            try:
                body = self.kiosk.scan(payload)
            except OSError:
                self.unanswered += 1
            else:
                assert body["result"] == "checked_in", body
                self.acknowledged[body["checkin_id"]] = body["ticket"]
            self._stop.wait(self.interval)

    @property
    def tried(self) -> int:
        return self.next
