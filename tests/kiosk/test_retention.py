"""Privacy purge on a real kiosk store: old, delivered visits go with every row that refers to them."""

import datetime as dt

from kiosk.identity import parse
from kiosk.sync.outbox import Outbox
from kiosk.sync.retention import purge
from tests.support.sync import qr


def age(store, checkin_id: str, days: int) -> None:
    with store.transaction() as db:
        old = (dt.date.today() - dt.timedelta(days=days)).isoformat()
        db.conn.execute("UPDATE checkins SET day = ? WHERE id = ?", (old, checkin_id))
        db.conn.execute("UPDATE tickets SET day = ? WHERE checkin_id = ?", (old, checkin_id))
        wall = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
        db.conn.execute("UPDATE outbox SET created_wall = ?, delivered_wall = CASE WHEN delivered_wall IS NULL "
                        "THEN NULL ELSE ? END WHERE record_id = ?", (wall, wall, checkin_id))


def test_old_delivered_visits_are_purged_with_their_dependents_and_nothing_else(store, checkins):
    old, recent = (checkins.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(2))
    Outbox(store).mark_delivered([old, recent])
    age(store, old, 40)
    deleted = purge(store, retention_days=30)
    assert deleted["checkins"] == 1 and deleted["tickets"] == 1 and deleted["print_jobs"] == 1
    assert deleted["state_changes"] == 1 and deleted["outbox"] == 1
    assert [r["id"] for r in store.query("SELECT id FROM checkins")] == [recent]
    assert store.query("SELECT record_id FROM outbox") == [{"record_id": recent}]


def test_a_visit_whose_record_central_has_not_acknowledged_is_kept(store, checkins):
    waiting = checkins.check_in(parse(qr(1)), "camera").checkin["id"]
    age(store, waiting, 40)
    assert purge(store, retention_days=30)["checkins"] == 0
    assert store.query_one("SELECT count(*) AS n FROM checkins")["n"] == 1
