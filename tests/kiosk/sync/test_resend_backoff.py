"""The kiosk's resend rule (base.resend) in a real kiosk App against a real Mosquitto, its time moved by the test.

"Central" here acknowledges when the test says so (a plain MQTT client publishing central's ack messages): a
central that is alive and slow. What the kiosk sends is counted on the broker side, by a subscriber to its topics.
"""

import threading
import time
from collections import Counter

import pytest

from central.protocol import ack_message
from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from tests.kiosk.sync.test_sync import Listener
from tests.support.sync import central, qr, sync_config, wait_for

ACK_TIMEOUT, MAX_DELAY = 10.0, 40.0


class MovedClock:
    """The sync worker's monotonic clock, moved by the test; counts its reads so the test knows when the worker has
    looked at a new time."""

    def __init__(self):
        self.t, self.reads = time.monotonic(), 0  # from now on, the worker's time stands still unless moved
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.reads += 1
            return self.t


class Kiosk:
    def __init__(self, tmp_path, port: int, listener: Listener):
        self.config = sync_config(tmp_path, port, ack_timeout=ACK_TIMEOUT, resend_max_delay=MAX_DELAY,
                                  health_interval=3600.0)
        self.listener, self.clock, self.app = listener, None, None

    def start(self) -> "Kiosk":
        self.app = App(load(self.config))
        self.app.start()
        wait_for(self.sync.connected.is_set, 10, what="kiosk connected")
        self.clock = MovedClock()  # before any record: every send is timed by it
        self.sync.monotonic = self.clock
        return self

    def stop(self) -> None:
        self.app.stop()

    @property
    def sync(self):
        return self.app.part("sync")

    def settle(self) -> None:
        """Until the worker has run a whole step at the clock's time and all it published is at the listener."""
        seen = self.clock.reads
        wait_for(lambda: self.clock.reads >= seen + 2, 5, what="a sync step at the new time")
        marker = f"marker-{seen}".encode()
        self.sync.client.publish("vaxkiosk/v1/GL-01/k1/health", marker).wait_for_publish(5)
        wait_for(lambda: any(p == marker for _t, p in self.listener.messages), 5, what="a round trip")

    def check_in_sent(self, count: int) -> list[str]:
        """`count` check-ins, once the kiosk has sent each of them (first sends, in order)."""
        made = [self.app.checkins.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(count)]
        self.settle()
        wait_for(lambda: len(sends(self.listener)) >= count, 5, what="the first sends")
        assert sends(self.listener) == made
        return made

    def run_to(self, t: float, step: float = 1.0) -> None:
        while self.clock.t < t:
            self.clock.t = min(t, self.clock.t + step)
            self.settle()


def sends(listener: Listener) -> list[str]:
    return [r["record_id"] for r in listener.on("records")]


def resend_times(kiosk: Kiosk, until: float) -> list[tuple[float, str]]:
    """Steps the clock to `until`, one second at a time; returns (time, record id) of every copy seen."""
    out, before = [], len(sends(kiosk.listener))
    while kiosk.clock.t < until:
        kiosk.run_to(kiosk.clock.t + 1)
        now = sends(kiosk.listener)
        out += [(kiosk.clock.t, rid) for rid in now[before:]]
        before = len(now)
    return out


@pytest.fixture
def listener(mosquitto):
    listen = Listener(mosquitto.port)
    yield listen
    listen.close()


def ack(listener: Listener, record_ids: list[str]) -> None:
    topic, payload, qos = ack_message("GL-01", "k1", record_ids)
    listener.publish(topic, payload, qos)


def test_a_slow_central_sees_one_copy_at_a_time_spaced_out_and_an_ack_resets_the_backoff(tmp_path, mosquitto,
                                                                                         listener):
    kiosk = Kiosk(tmp_path, mosquitto.port, listener).start()
    try:
        made = kiosk.check_in_sent(20)
        start = kiosk.clock.t

        # 150 s without an ack: the old rule (everything after every ack_timeout) sent 300 copies.
        copies = resend_times(kiosk, start + 150)
        times = [t - start for t, _rid in copies]
        gaps = [b - a for a, b in zip([0.0, *times], times)]
        assert [rid for _t, rid in copies] == made[:len(copies)]  # one at a time, oldest first
        # The waits 10, 20, 40, 40 s (capped), each up to 1.5 times that; the clock moves in 1 s steps.
        assert 3 <= len(copies) <= 5, times
        for gap, wait in zip(gaps, [10, 20, 40, 40, 40]):
            assert wait <= gap <= 1.5 * wait + 1, (gaps, times)

        # The next copy (at least 40 s after this one without an ack); then an ack of a record never resent (an
        # original): the copy after comes within ack_timeout again.
        while len(resend_times(kiosk, kiosk.clock.t + 1)) == 0:
            pass
        copied_at = kiosk.clock.t
        acked = made[-1]
        ack(listener, [acked])
        wait_for(lambda: kiosk.sync.stats["acked"] == 1, 5, what="the ack taken")
        after = resend_times(kiosk, copied_at + 16)
        assert len(after) == 1 and 10 <= after[0][0] - copied_at <= 16, (copied_at, after)
        assert acked not in {rid for _t, rid in after}

        # An ack of a copy: central is handling this kiosk's later messages, so the oldest record sent before that
        # copy (lost on the way) goes again at once; so does the next with the ack of that one, and so on.
        copy = after[0][1]
        waiting = [rid for rid in made if rid not in (acked, copy)]
        resent = {rid for rid, n in Counter(sends(listener)).items() if n > 1}
        oldest_first = [rid for rid in waiting if rid not in resent]  # never resent: last sent first, in order
        for n, rid in enumerate([copy, *oldest_first[:3]]):
            before = len(sends(listener))
            ack(listener, [rid])
            wait_for(lambda: kiosk.sync.stats["acked"] == 2 + n, 5, what="the ack taken")
            kiosk.settle()
            assert sends(listener)[before:] == [oldest_first[n]]
        waiting = [rid for rid in waiting if rid not in oldest_first[:3]]

        # Acknowledged records are never sent again, however long the kiosk waits.
        ack(listener, waiting)
        wait_for(lambda: kiosk.sync.stats["acked"] == 20, 5, what="every ack taken")
        before = len(sends(listener))
        kiosk.run_to(kiosk.clock.t + 400, step=20)
        assert sends(listener)[before:] == []
        assert kiosk.app.store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"] == 0
    finally:
        kiosk.stop()


def test_nothing_is_lost_across_a_restart_in_backoff_and_central_stores_each_record_once(tmp_path, mosquitto,
                                                                                       listener):
    kiosk = Kiosk(tmp_path, mosquitto.port, listener).start()
    try:
        made = kiosk.check_in_sent(30)
        ack(listener, made[:10])  # central had those; the acks of the others never come
        wait_for(lambda: kiosk.sync.stats["acked"] == 10, 5, what="the acks taken")
        kiosk.run_to(kiosk.clock.t + 160, step=2)
        assert kiosk.sync.unacked.round >= 3  # deep in the backoff when the kiosk goes down
    finally:
        kiosk.stop()
    sent_before = Counter(sends(listener))

    kiosk = Kiosk(tmp_path, mosquitto.port, listener)
    with central(tmp_path, mosquitto.port) as (store, _ingest):
        kiosk.start()
        try:
            # The new process sends what is undelivered at once, not after a backoff.
            kiosk.settle()
            wait_for(lambda: kiosk.sync.stats["acked"] == 20, 10, what="the rest acknowledged")
            assert sorted(store.record_ids("k1", "checkins")) == sorted(made[10:])
            assert kiosk.app.store.query_one(
                "SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"] == 0
            # What was acknowledged before the restart was not sent again after it.
            sent_after = Counter(sends(listener)) - sent_before
            assert set(sent_after) == set(made[10:])
        finally:
            kiosk.stop()
