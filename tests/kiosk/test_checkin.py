"""The check-in service on a real SQLite file: one transaction per check-in, the queue's rules."""

import threading

import pytest

from kiosk.checkin import CheckinRefused, CheckinService
from kiosk.config import from_dict
from kiosk.identity import from_manual, parse
from kiosk.store import MIGRATIONS, Store
from tests.conftest import SAMPLE_QR
from tests.support.burst import payload


def counts(store):
    return {t: store.query_one(f"SELECT count(*) AS n FROM {t}")["n"]
            for t in ("checkins", "tickets", "outbox", "print_jobs", "state_changes")}


def test_one_checkin_writes_record_ticket_outbox_and_print_job(store, checkins):
    r = checkins.check_in(parse(SAMPLE_QR), "camera")
    assert r.created and r.ticket == 1 and r.checkin["state"] == "waiting"
    assert r.checkin["full_name"] == "Trần Thị Hồng Nhung" and r.checkin["dob"] == "1995-08-12"
    assert counts(store) == {"checkins": 1, "tickets": 1, "outbox": 1, "print_jobs": 1, "state_changes": 1}
    job = store.query_one("SELECT * FROM print_jobs")
    assert (job["kind"], job["checkin_id"], job["state"]) == ("ticket", r.checkin["id"], "pending")
    out = store.query_one("SELECT * FROM outbox")
    assert out["record_id"] == r.checkin["id"] and out["stream"] == "checkins"
    # Central gets no personal data with a check-in.
    assert "Nhung" not in out["payload"] and "064195001234" not in out["payload"]


def test_address_kept_only_when_configured(tmp_path):
    for keep in (False, True):
        cfg = from_dict({"kiosk": {"site_id": "S", "kiosk_id": "k", "data_dir": str(tmp_path / str(keep)),
                                   "keep_address": keep, "min_free_mb": 1}})
        s = Store(cfg.db_path)
        r = CheckinService(s, cfg.kiosk).check_in(parse(SAMPLE_QR), "camera")
        assert (r.checkin["address"] is not None) == keep
        s.close()


def test_same_person_same_day_gets_the_same_ticket(store, checkins):
    first = checkins.check_in(parse(SAMPLE_QR), "camera")
    again = checkins.check_in(parse(SAMPLE_QR + "\r\n"), "serial")
    assert not again.created and again.ticket == first.ticket and again.checkin["id"] == first.checkin["id"]
    assert counts(store)["checkins"] == 1 and counts(store)["print_jobs"] == 1


def test_tickets_number_up_per_site_and_day(store, checkins, kiosk_config):
    tickets = [checkins.check_in(parse(payload(i)), "camera").ticket for i in range(5)]
    assert tickets == [1, 2, 3, 4, 5]
    other_site = CheckinService(store, from_dict({"kiosk": {"site_id": "OTHER", "kiosk_id": "k9",
                                                            "min_free_mb": 1}}).kiosk)
    assert other_site.check_in(parse(payload(0)), "camera").ticket == 1


def test_concurrent_scans_of_one_person_make_one_checkin(store, checkins):
    results = []
    threads = [threading.Thread(target=lambda: results.append(checkins.check_in(parse(SAMPLE_QR), "camera")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.checkin["id"] for r in results}) == 1 and sum(r.created for r in results) == 1
    assert counts(store)["checkins"] == 1


def test_number_only_is_refused_until_name_and_dob_are_given(checkins):
    with pytest.raises(CheckinRefused) as e:
        checkins.check_in(parse("064195001234"), "camera")
    assert e.value.code == "number_only_needs_details" and e.value.message_vi
    r = checkins.check_in(from_manual("064195001234", "Trần Thị Hồng Nhung", "12/08/1995"), "screen")
    assert r.created and r.checkin["scan_kind"] == "manual"


def test_disk_nearly_full_refuses_before_writing(store, checkins, monkeypatch):
    monkeypatch.setenv("VAXKIOSK_FAKE_FREE_BYTES", str(512 * 1024))
    with pytest.raises(CheckinRefused) as e:
        checkins.check_in(parse(SAMPLE_QR), "camera")
    assert e.value.code == "disk_full" and "bộ nhớ đầy" in e.value.message_vi
    assert counts(store)["checkins"] == 0


def test_queue_state_machine_and_timestamps(store, checkins):
    a = checkins.check_in(parse(payload(1)), "camera").checkin
    b = checkins.check_in(parse(payload(2)), "camera").checkin
    called = checkins.call_next("2", "staff:lan")
    assert called["id"] == a["id"] and called["state"] == "called" and called["desk"] == "2"
    assert checkins.call_next("3", "staff:lan")["id"] == b["id"]
    assert checkins.call_next("3", "staff:lan") is None
    with pytest.raises(CheckinRefused) as e:
        checkins.transition(a["id"], "done", "staff:lan")
    assert e.value.code == "bad_transition"
    checkins.transition(a["id"], "left", "staff:lan", reason="went home")
    changes = store.query("SELECT * FROM state_changes WHERE checkin_id=? ORDER BY id", (a["id"],))
    assert [(c["from_state"], c["to_state"]) for c in changes] == [(None, "waiting"), ("waiting", "called"),
                                                                   ("called", "left")]
    assert all(c["at_wall"] and c["at_mono"] > 0 and c["at_boot_id"] and c["at_clock_synced"] in (0, 1)
               for c in changes)
    assert [r["number"] for r in checkins.queue(states=("called",))] == [2]


def test_migrations_are_applied_once_and_reopen_cleanly(kiosk_config):
    s = Store(kiosk_config.db_path)
    assert s.schema_version == len(MIGRATIONS)
    s.close()
    s = Store(kiosk_config.db_path)
    assert s.migrate() == [] and s.integrity_check() == "ok"
    assert s.query_one("PRAGMA journal_mode")["journal_mode"] == "wal"
    assert s.query_one("PRAGMA synchronous")["synchronous"] == 2  # FULL
    s.close()


def test_a_database_from_a_newer_version_is_not_downgraded(kiosk_config):
    s = Store(kiosk_config.db_path)
    s.db.conn.execute("INSERT INTO schema_migrations VALUES ('9999_future', 'x')")
    s.close()
    with pytest.raises(Exception, match="newer vaxkiosk"):
        Store(kiosk_config.db_path)


def test_processes_opening_one_new_database_together_all_succeed(tmp_path):
    """Aggregators sharing central.db (and a kiosk beside its CLI) may open a fresh file at the same moment."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (f"import time, sys; sys.path.insert(0, {str(ROOT)!r}); from kiosk.store import Store; "
            f"t = float(sys.argv[1]); time.sleep(max(0, t - time.time())); Store({str(tmp_path / 'new.db')!r})")
    start = f"{__import__('time').time() + 1.5}"
    procs = [subprocess.Popen([sys.executable, "-c", code, start], stderr=subprocess.PIPE) for _ in range(6)]
    results = [(p.wait(60), p.stderr.read().decode()) for p in procs]
    assert all(rc == 0 for rc, _ in results), [err[-300:] for rc, err in results if rc]
    store = Store(tmp_path / "new.db")
    assert store.integrity_check() == "ok" and store.schema_version == len(MIGRATIONS)
    store.close()
