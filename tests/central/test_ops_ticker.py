"""Stopping central's operations threads: a tick caught mid-way by the stop neither logs a failure nor goes unseen."""

import logging
import threading
from types import SimpleNamespace

from central.ops_ticker import Ticker


def ops(every=0.01):
    return SimpleNamespace(config=SimpleNamespace(alerts=SimpleNamespace(evaluate_every_seconds=every)))


class StoreClosesUnderTick(Ticker):
    def __init__(self, ops):
        super().__init__(ops)
        self.ticking = threading.Event()
        self.store_closed = threading.Event()

    def tick(self):
        self.ticking.set()
        self.store_closed.wait(5)
        raise RuntimeError("the store is closed")

    def notify(self):
        return 0, 0


def test_a_tick_failing_because_central_stopped_is_not_logged_as_an_alert_failure(caplog):
    ticker = StoreClosesUnderTick(ops())
    ticker.start()
    assert ticker.ticking.wait(5)
    with caplog.at_level(logging.WARNING, logger="vaxkiosk.central.ops"):
        ticker.stopping.set()
        ticker.store_closed.set()
        ticker.stop()
    assert not any(t.is_alive() for t in ticker.threads)
    assert not [r for r in caplog.records if "alert evaluation failed" in r.getMessage()]


def test_a_thread_that_outlives_stop_is_named(caplog):
    ticker = StoreClosesUnderTick(ops())
    ticker.stop_wait_seconds = 0.2
    ticker.start()
    assert ticker.ticking.wait(5)
    with caplog.at_level(logging.WARNING, logger="vaxkiosk.central.ops"):
        ticker.stop()
    assert "ops-ticker" in caplog.text and "still running" in caplog.text
    ticker.store_closed.set()
    for t in ticker.threads:
        t.join(5)
    assert not any(t.is_alive() for t in ticker.threads)
