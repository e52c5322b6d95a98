"""central.store on a real SQLite file and a real PostgreSQL database: deduplication, counts per area and hour, clock correction, fleet state."""

import datetime as dt

import pytest

from central.store import CentralStore, Inbound


@pytest.fixture
def central(store_location):
    s = CentralStore(store_location, utc_offset_hours=7)
    yield s
    s.close()


def stamp(wall="2026-11-25T03:00:00.000+00:00", mono=1000.0, boot="boot-a", synced=True):
    return {"wall": wall, "mono": mono, "boot_id": boot, "clock_synced": synced}


def record(rid, stream="checkins", site="GL-01", kiosk="k1", at=None, **extra):
    kind = {"checkins": "checkin", "vaccinations": "vaccination", "print_events": "print_event"}[stream]
    payload = {"schema": 1, "type": kind, "record_id": rid, "site": site, "kiosk": kiosk, "at": at or stamp(), **extra}
    return Inbound(site, kiosk, "records", payload, stream)


def health(kiosk="k1", site="GL-01", at=None, backlog=0):
    return Inbound(site, kiosk, "health", {
        "schema": 1, "site": site, "kiosk": kiosk, "at": at or stamp(), "uptime_s": 5, "load": 0.1,
        "disk_free_mb": 1000, "disk_used_pct": 40, "db_bytes": 4096, "outbox_backlog": backlog, "version": "0.1.0",
        "config_rev": "abc", "parts": {}, "camera": {"fps": 12.5},
        "printer": {"state": "ok", "status": {"known": True, "online": True, "paper": "ok"}}})


def test_records_are_deduplicated_and_every_copy_acknowledged(central):
    first = central.apply([record("r1"), record("r2")])
    again = central.apply([record("r1")])
    assert first.new_records == 2 and again.new_records == 0 and again.duplicates == 1
    assert again.acks == {("GL-01", "k1"): ["r1"]}
    assert central.record_count("checkins") == 2


def test_counts_per_site_district_province_and_hour(central):
    central.upsert_site("GL-01", "Trạm Y tế Yên Đỗ", "Pleiku", "064")
    central.upsert_site("GL-02", "Trạm Y tế Hoa Lư", "Pleiku", "064")
    # 03:00 UTC = 10:00 in Vietnam
    central.apply([record("a"), record("b", site="GL-02", kiosk="k2"),
                   record("v", "vaccinations", checkin_id="a"),
                   record("p1", "print_events", kind="certificate", state="done", checkin_id="a"),
                   record("p2", "print_events", kind="certificate", state="failed", checkin_id="a"),
                   record("p3", "print_events", kind="ticket", state="done", checkin_id="a"),
                   record("x", at=stamp(wall="2026-11-25T18:00:00+00:00"))])  # 01:00 on the 26th, local
    day = "2026-11-25"
    sites = {c["site"]: c for c in central.counts("site", day)}
    assert sites["GL-01"]["checked_in"] == 1 and sites["GL-01"]["vaccinated"] == 1
    assert sites["GL-01"]["certificates"] == 1 and sites["GL-02"]["checked_in"] == 1
    assert central.counts("district", day) == [{"district": "Pleiku", "checked_in": 2, "vaccinated": 1,
                                                "certificates": 1, "tickets": 1, "certificate_reprints": 0,
                                                "ticket_reprints": 0, "corrections": 0, "waiting": 0,
                                                "avg_wait_s": None}]
    assert [(h["hour"], h["checked_in"]) for h in central.hourly(day)] == [(10, 2)]
    assert central.hourly("2026-11-26", "province", "064")[0]["hour"] == 1


def test_unsynchronised_records_are_corrected_with_the_offset_learned_later_from_the_same_boot(central):
    # Booted without a clock: the kiosk believes it is 1970. 100 s after the record, NTP has synced.
    wrong = stamp(wall="1970-01-01T00:16:40+00:00", mono=1000.0, synced=False)
    central.apply([record("early", at=wrong), record("other-boot", at={**wrong, "boot_id": "boot-b"})])
    row = central.records("checkins")[0]
    assert {r["clock"] for r in central.records("checkins")} == {"unsynced"}
    central.apply([health(at=stamp(wall="2026-11-25T03:01:40+00:00", mono=1100.0))])
    rows = {r["record_id"]: r for r in central.records("checkins")}
    assert rows["early"]["clock"] == "corrected"
    assert dt.datetime.fromisoformat(rows["early"]["at_wall"]) == dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    assert (rows["early"]["day"], rows["early"]["hour"]) == ("2026-11-25", 10)
    assert rows["early"]["sent_wall"] == row["sent_wall"]
    assert rows["other-boot"]["clock"] == "unsynced"
    # The day's figures moved with the record: counted on its real day, no longer on 1 January 1970.
    assert {c["site"]: c["checked_in"] for c in central.counts("site", "2026-11-25")} == {"GL-01": 1}
    assert {c["site"]: c["checked_in"] for c in central.counts("site", "1970-01-01")} == {"GL-01": 1}  # other-boot
    assert [(h["hour"], h["checked_in"]) for h in central.hourly("2026-11-25")] == [(10, 1)]
    # Later records of that boot are corrected on arrival.
    central.apply([record("late", at=stamp(wall="1970-01-01T00:20:00+00:00", mono=1200.0, synced=False))])
    late = {r["record_id"]: r for r in central.records("checkins")}["late"]
    assert late["clock"] == "corrected" and late["at_wall"].startswith("2026-11-25T03:03:20")


def test_fleet_state_follows_status_and_health(central):
    status = lambda state: Inbound("GL-01", "k1", "status", {"schema": 1, "site": "GL-01", "kiosk": "k1",  # noqa: E731
                                                             "state": state, "boot_id": "boot-a"})
    central.apply([status("online"), health(backlog=3, at=stamp(mono=1000.0))])
    central.apply([health(backlog=5, at=stamp(mono=1010.0))])  # each report has its own stamp
    (k1,) = central.fleet()
    assert k1["state"] == "online" and k1["health"]["outbox_backlog"] == 5 and 0 <= k1["silent_s"] < 60
    assert [h["outbox_backlog"] for h in central.health_history("k1")] == [3, 5]
    assert central.health_history("k1")[0]["camera_fps"] == 12.5
    assert central.health_history("k1")[0]["printer_online"] == 1
    central.apply([status("lost")])
    assert central.kiosk("k1")["state"] == "lost"


def test_a_health_report_applied_twice_is_one_row(central, store_location):
    """Issue 23: the same report (kiosk, boot, monotonic stamp) reaching central twice, through two aggregators or
    a replay, is one row, and the second copy does not rewrite the kiosk's latest health."""
    other = CentralStore(store_location)  # a second aggregator on the same database
    try:
        central.apply([health(backlog=3, at=stamp(mono=1000.0))])
        other.apply([health(backlog=3, at=stamp(mono=1000.0)), health(backlog=4, at=stamp(mono=1000.0, boot="b2"))])
        central.apply([health(backlog=9, at=stamp(mono=1000.0))])  # a replay with other content changes nothing
        assert [h["outbox_backlog"] for h in central.health_history("k1")] == [3, 4]
        assert central.kiosk("k1")["health"]["outbox_backlog"] == 4
    finally:
        other.close()


def test_rejects_are_counted_by_reason(central):
    central.count_rejects({"bad_json": 2})
    central.apply([], {"bad_json": 1, "kiosk_mismatch": 4})
    assert central.rejects() == {"bad_json": 3, "kiosk_mismatch": 4}
