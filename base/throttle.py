"""Attempts per key within a sliding window, in memory (a restart forgets them, which is acceptable for a guessing
brake): central's logins, correction look-ups at central and at a kiosk.

The attempt is counted and judged in one step under the lock: attempts sent in parallel cannot all pass before any
of them is counted (at most `max_attempts` pass per window)."""

from __future__ import annotations

import threading


class Throttle:
    def __init__(self, max_attempts: int, window_s: float):
        self.max_attempts, self.window_s = max_attempts, window_s
        self._attempts: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, key: str, now: float) -> bool:
        """Count an attempt for `key`; False (refuse it) when the window already holds too many."""
        with self._lock:
            recent = [t for t in self._attempts.get(key, []) if now - t < self.window_s]
            allowed = len(recent) < self.max_attempts
            if allowed:
                recent.append(now)
            if recent:
                self._attempts[key] = recent
            else:
                self._attempts.pop(key, None)
            return allowed

    def forget(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)
