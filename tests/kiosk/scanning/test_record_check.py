"""The record-check window of the citizen screen: a lease the open screen renews, bounded, never reopened by a
renewal (kiosk.scanning.record_check.RecordCheck, on an injected monotonic clock)."""

from kiosk.scanning.record_check import RecordCheck


class Ticking:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_window_lives_while_renewed_and_ends_a_lease_after_the_last_renewal():
    clock = Ticking()
    window = RecordCheck(now=clock)
    assert not window.active() and window.renew() is False  # a renewal does not open a closed window
    window.open()
    for _ in range(10):  # the open screen renews every 2 s
        clock.t += 2
        assert window.renew() is True and window.active()
    clock.t += RecordCheck.LEASE_SECONDS - 0.1
    assert window.active()
    clock.t += 0.2  # the screen has gone: no renewal for a lease
    assert not window.active() and window.renew() is False


def test_renewals_cannot_hold_the_window_past_its_end_and_close_ends_it_at_once():
    clock = Ticking()
    window = RecordCheck(now=clock)
    window.open()
    while clock.t < 1000 + RecordCheck.WINDOW_SECONDS - 1:
        clock.t += 2
        window.renew()
    clock.t = 1000 + RecordCheck.WINDOW_SECONDS + 0.01
    assert not window.active() and window.renew() is False
    window.open()
    window.close()
    assert not window.active() and window.renew() is False
