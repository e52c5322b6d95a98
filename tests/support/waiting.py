"""Waiting for a condition instead of sleeping: the one helper every test uses."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float = 10.0, what: str = "condition", interval: float = 0.05,
             ignoring: tuple[type[BaseException], ...] = ()):
    """Poll `condition()` until it is truthy and return that value; a timeout is a failure, never a measurement.

    `ignoring`: exceptions that mean "not yet" (a server still starting answers with OSError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except ignoring:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s")
