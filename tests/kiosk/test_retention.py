"""Privacy purge on a real kiosk store: old, delivered visits go with every row that refers to them."""

import datetime as dt

import pytest

from kiosk.checkin import CheckinService
from kiosk.identity import parse
from kiosk.outbox import Outbox
from kiosk.retention import purge
from tests.support.clock import SteppedClock
from tests.support.sync import qr

pytestmark = pytest.mark.dates

START = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Vietnam


@pytest.fixture
def clock():
    return SteppedClock(START)


@pytest.fixture
def checkins(store, kiosk_config, clock):
    return CheckinService(store, kiosk_config.kiosk, clock)


def test_old_delivered_visits_are_purged_with_their_dependents_and_nothing_else(store, checkins, clock):
    old = checkins.check_in(parse(qr(0)), "camera").checkin["id"]
    Outbox(store, clock).mark_delivered([old])
    clock.advance(days=40)
    recent = checkins.check_in(parse(qr(1)), "camera").checkin["id"]
    Outbox(store, clock).mark_delivered([recent])
    deleted = purge(store, retention_days=30, now=clock.now())
    assert deleted["checkins"] == 1 and deleted["tickets"] == 1 and deleted["print_jobs"] == 1
    assert deleted["state_changes"] == 1 and deleted["outbox"] == 1
    assert [r["id"] for r in store.query("SELECT id FROM checkins")] == [recent]
    assert store.query("SELECT record_id FROM outbox") == [{"record_id": recent}]


def test_a_visit_is_kept_until_its_retention_period_is_over(store, checkins, clock):
    visit = checkins.check_in(parse(qr(1)), "camera").checkin["id"]
    Outbox(store, clock).mark_delivered([visit])
    clock.advance(days=29)
    assert purge(store, retention_days=30, now=clock.now())["checkins"] == 0
    clock.advance(days=2)
    assert purge(store, retention_days=30, now=clock.now())["checkins"] == 1


def test_a_visit_whose_record_central_has_not_acknowledged_is_kept(store, checkins, clock):
    checkins.check_in(parse(qr(1)), "camera")
    clock.advance(days=40)
    assert purge(store, retention_days=30, now=clock.now())["checkins"] == 0
    assert store.query_one("SELECT count(*) AS n FROM checkins")["n"] == 1
