"""What the waiting-room display reads from the queue: who each desk serves now, and the pace of the calls."""

from __future__ import annotations

import datetime as dt

from kiosk.checkin import minutes_per_call, now_serving
from kiosk.identity import from_manual

PEOPLE = [("064190005678", "Ksor H'Wen", "05/03/1990"), ("064085004321", "Rơ Châm", "20/07/1985"),
          ("001090004321", "Nguyễn Văn An", "01/02/1990"), ("064195001234", "Trần Thị Hồng Nhung", "12/08/1995"),
          ("064088001111", "Siu Y-Ngông", "01/01/1988")]


def checked_in(checkins, n=len(PEOPLE)):
    return [checkins.check_in(from_manual(*p), "staff").checkin for p in PEOPLE[:n]]


def test_a_desk_serves_nobody_once_its_citizen_has_left_the_desk(store, checkins, kiosk_config):
    site, day = kiosk_config.kiosk.site_id, checked_in(checkins, 3)[0]["day"]
    first = checkins.call_next("3", "staff:test")
    second = checkins.call_next("1", "staff:test")
    assert now_serving(store, site, day) == {"3": first["number"], "1": second["number"]}
    checkins.transition(first["id"], "screened", "staff:test")
    assert now_serving(store, site, day)["3"] == first["number"]  # still at the desk
    checkins.transition(first["id"], "vaccinated", "staff:test")
    checkins.transition(first["id"], "observing", "staff:test")
    assert now_serving(store, site, day) == {"1": second["number"]}  # gone to observation: desk 3 is free
    checkins.transition(second["id"], "left", "staff:test", reason="did not come")
    assert now_serving(store, site, day) == {}
    third = checkins.call_next("3", "staff:test")
    assert now_serving(store, site, day) == {"3": third["number"]}


def test_the_pace_is_measured_from_recent_calls_else_the_configured_minutes(store, checkins, kiosk_config):
    site, day = kiosk_config.kiosk.site_id, checked_in(checkins)[0]["day"]
    called = [checkins.call_next("1", "staff:test") for _ in range(5)]
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)

    def called_at(minutes_ago: list[float]) -> None:
        for row, ago in zip(called, minutes_ago):
            store.db.conn.execute("UPDATE state_changes SET at_wall=? WHERE checkin_id=? AND to_state='called'",
                                  ((now - dt.timedelta(minutes=ago)).isoformat(), row["id"]))

    called_at([24, 18, 12, 6, 0])
    assert minutes_per_call(store, site, day, now, default=4.0) == 6.0
    called_at([300, 200, 9, 6, 3])  # the morning's calls are too old to count: three recent ones are too few
    assert minutes_per_call(store, site, day, now, default=4.0) == 4.0


def test_the_ticket_estimates_the_wait_with_the_displays_pace(store, checkins, kiosk_config):
    from kiosk.printing.render import ticket_view

    rows = checked_in(checkins)
    site, day, last = kiosk_config.kiosk.site_id, rows[0]["day"], rows[-1]
    now = dt.datetime.fromisoformat(last["created_wall"])
    configured = kiosk_config.printer.minutes_per_person

    def ticket():
        return ticket_view(store, last["id"], 0, "Trạm", configured, now, dt.timezone.utc)

    assert ticket().people_ahead == 4 and ticket().wait_minutes == round(4 * configured)  # nothing measured yet
    called = [checkins.call_next("1", "staff:test") for _ in range(4)]
    for row, ago in zip(called, [27, 18, 9, 0]):  # a call every 9 minutes
        store.db.conn.execute("UPDATE state_changes SET at_wall=? WHERE checkin_id=? AND to_state='called'",
                              ((now - dt.timedelta(minutes=ago)).isoformat(), row["id"]))
    assert minutes_per_call(store, site, day, now, default=configured) == 9.0
    # Those ahead (called or waiting) × the measured pace, the display's pace, not the configured minutes.
    assert ticket().people_ahead == 4 and ticket().wait_minutes == 4 * 9
