"""Live numbers equal what the kiosks committed: real check-ins and vaccinations in each kiosk's store, delivered by
the real sync part through the broker to the aggregator, read back through GET /api/sites and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from central.numbers import rollup
from tests.central.conftest import KIOSK_MQTT, check_in, outbox_empty, run_plan, vaccinate, wait_for
from tests.central.test_web import Browser, file_correction
from tests.support.sync import sync_config
from tests.support.virtual_printer import VirtualPrinterProcess


def test_counts_equal_what_kiosks_committed(central, kiosk_apps):
    plan = {("GL-01", "gl1-a"): (7, 3), ("GL-01", "gl1-b"): (5, 5), ("GL-02", "gl2-a"): (4, 0),
            ("HN-01", "hn1-a"): (9, 2), ("HN-01", "hn1-b"): (2, 1)}
    apps = run_plan(kiosk_apps, plan)

    expected: dict[str, dict] = {}
    for (site, kid) in plan:
        e = expected.setdefault(site, {"checked_in": 0, "vaccinated": 0, "waiting": 0})
        store = apps[kid].store
        e["checked_in"] += store.query_one("SELECT count(*) AS n FROM checkins")["n"]
        e["vaccinated"] += store.query_one("SELECT count(*) AS n FROM vaccinations")["n"]
        e["waiting"] += store.query_one("SELECT count(*) AS n FROM tickets WHERE state = 'waiting'")["n"]
    assert expected["GL-01"] == {"checked_in": 12, "vaccinated": 8, "waiting": 4}

    def api_matches():
        got = {r["site"]: r for r in central.get_json("/api/sites")}
        ok = all({k: got[s][k] for k in e} == e for s, e in expected.items())
        return ok and got

    got = wait_for(api_matches, 20, what="GET /api/sites equal to the kiosks' commits")
    assert set(got) == {"GL-01", "GL-02", "HN-01"}
    assert all(set(r) >= {"site", "checked_in", "vaccinated", "certificates", "waiting"} for r in got.values())
    # Each record exactly once, though the sync part may have sent some twice.
    assert central.store.record_count("checkins") == sum(c for c, _ in plan.values())
    assert central.store.record_count("vaccinations") == sum(v for _, v in plan.values())


def test_rollup_by_district_and_province():
    rows = [
        {"site": "a", "province": "064", "province_name": "Gia Lai", "district": "Pleiku", "checked_in": 3,
         "vaccinated": 1, "certificates": 1, "waiting": 2, "avg_wait_s": 100.0},
        {"site": "b", "province": "064", "province_name": "Gia Lai", "district": "Ia Grai", "checked_in": 4,
         "vaccinated": 2, "certificates": 0, "waiting": 0, "avg_wait_s": None},
        {"site": "c", "province": "001", "province_name": "Hà Nội", "district": "Cầu Giấy", "checked_in": 1,
         "vaccinated": 1, "certificates": 1, "waiting": 1, "avg_wait_s": 300.0},
    ]
    provinces = {r["province"]: r for r in rollup(rows, "province")}
    assert provinces["064"]["checked_in"] == 7 and provinces["064"]["sites"] == 2
    assert provinces["064"]["avg_wait_s"] == 100.0 and provinces["001"]["waiting"] == 1
    assert [d["district"] for d in rollup(rows, "district")] == ["Cầu Giấy", "Ia Grai", "Pleiku"]


@pytest.fixture
def vprinter(tmp_path):
    printer = VirtualPrinterProcess(tmp_path / "printer", profile="TM-T88V")
    printer.start()
    yield printer
    printer.stop()


def printing_kiosk(tmp_path, mqtt_port: int, printer_port: int, site: str, kiosk: str):
    """The real kiosk App with its sync part and its printer part, printing to the virtual network printer."""
    from kiosk.app import App
    from kiosk.config import load

    path = sync_config(tmp_path / "kiosks", mqtt_port, kiosk=kiosk, site=site, **KIOSK_MQTT)
    path.write_text(path.read_text(encoding="utf-8") + f'[printer]\nenabled = true\nbackend = "network"\n'
                    f'port = {printer_port}\nprofile = "TM-T88V"\npaper_mm = 80\npoll_seconds = 0.1\ntimeout = 3\n',
                    encoding="utf-8")
    app = App(load(path))
    app.start()
    wait_for(lambda: app.part("sync").connected.is_set(), 10, what=f"{kiosk} connected")
    return app


def test_reprints_count_on_their_own_and_people_are_counted_once(tmp_path, mosquitto, central, vprinter):
    """Staff reprint certificates and a ticket: certificates and tickets still count people, reprints are their
    own figure, and certificates ≤ vaccinated ≤ checked in at every level, in the API and the CSV."""
    from kiosk.reprints import reprint
    from kiosk.vaccination import VaccinationService

    app = printing_kiosk(tmp_path, mosquitto.port, vprinter.port, "GL-01", "gl1-print")
    try:
        ids = [check_in(app, 500 + i) for i in range(4)]
        service = VaccinationService(app.store, app.config.kiosk, app.clock)
        for cid in ids[:3]:
            vaccinate(app, cid)
            service.finish(cid, "nurse", early_reason="test: observation shortened")
        wait_for(lambda: len(vprinter.receipts()) == 7, 30, what="4 tickets and 3 certificates printed")
        for kind, cid in (("certificate", ids[0]), ("certificate", ids[0]), ("certificate", ids[1]),
                          ("ticket", ids[3])):
            reprint(app.store, app.clock, kind, cid, "staff:lan", "giấy bị ướt")
        wait_for(lambda: len(vprinter.receipts()) == 11, 30, what="4 reprints printed")
        # Each print's event is committed just after its receipt came out: wait for the 11th, then the outbox.
        wait_for(lambda: central.store.record_count("print_events") == 11, 30, what="11 print events at central")
        wait_for(lambda: outbox_empty(app), 30, what="every record acknowledged")

        want = {"checked_in": 4, "tickets": 4, "ticket_reprints": 1, "vaccinated": 3, "certificates": 3,
                "certificate_reprints": 3}
        got = wait_for(lambda: (lambda r: r if {k: r[k] for k in want} == want else None)(
            next(r for r in central.get_json("/api/sites") if r["site"] == "GL-01")), 20, what="GL-01 figures")
        assert got["wait_p50_s"] is not None and got["per_desk_hour"] is not None
        for level in ("site", "district", "province"):
            rows = central.get_json(f"/api/numbers?level={level}")["rows"]
            assert rows and all(r["certificates"] <= r["vaccinated"] <= r["checked_in"] for r in rows)
            assert all(r["tickets"] <= r["checked_in"] for r in rows)
            assert sum(r["certificates"] for r in rows) == 3 and sum(r["certificate_reprints"] for r in rows) == 3
        browser = Browser(central.port)
        browser.login()
        status, _, body = browser.get("/numbers.csv?level=site")
        assert status == 200
        csv_rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
        gl = next(r for r in csv_rows if r["site"] == "GL-01")
        assert (gl["district"], gl["certificates"], gl["certificate_reprints"]) == ("Pleiku", "3", "3")
    finally:
        app.stop()


def _stamp(wall: str, mono: float, boot: str = "boot-1", synced: bool = True):
    from base.records import Stamp

    return Stamp(wall, mono, boot, synced)


def _inbound(stream: str, rid: str, at, site: str = "GL-01", kiosk: str = "k1", **fields):
    """A record as a kiosk builds it (base.records) and as ingest admits it (base.protocol.validate)."""
    from base.protocol import validate
    from base.records import record
    from central.store import Inbound

    return Inbound(site, kiosk, "records", validate("record", record(stream, rid, site, kiosk, at, **fields), stream),
                   stream)


def summaries(store) -> dict:
    """The summary tables' rows; rows that count nothing (an hour with only first prints in it) are no difference."""
    return {t: sorted(tuple(r.values()) for r in store._store.query(f"SELECT * FROM {t}")
                      if any(v for k, v in r.items() if k not in ("day", "site", "hour", "bucket", "vaccine",
                                                                   "dose_number", "lot")))
            for t in ("site_hours", "site_waits", "site_doses", "site_days")}


def recounted(store) -> dict:
    """The summaries counted afresh from the stored records (what migration 0005 does), replacing the kept ones."""
    from central.store import _BACKFILL, _DAYS_FROM_HOURS

    with store._store.transaction() as db:
        for t in ("site_hours", "site_waits", "site_doses", "site_days"):
            db.conn.execute(f"DELETE FROM {t}")
        for statement in _BACKFILL.split(";\n"):
            db.conn.execute(statement)
        db.conn.execute(_DAYS_FROM_HOURS.format(where="1 = 1"))
    return summaries(store)


def _visit(n: int, day: str, hour: int, wait_s: float, desk: str, site: str = "GL-01", lot: str = "FK1",
           dose: int = 1, vaccine: str = "comirnaty", boot: str = "boot-1", synced: bool = True):
    """A check-in at `hour` (UTC+7), called `wait_s` later at `desk`, vaccinated, certificate printed (stamped by
    kiosk `boot`, its wall clock `synced` or not: unsynchronised, every record carries the check-in's wall)."""
    wall = f"{day}T{hour - 7:02d}:00:00.000+00:00"
    cid, mono = f"c{n:04d}", 1000.0 + n * 10000
    at = lambda mono: _stamp(wall, mono, boot, synced)  # noqa: E731
    called = at(mono + wait_s).to_json()
    person = {"id_number": f"0641950{n:05d}", "full_name": "Thử", "dob": "1995-08-12", "sex": "Nữ"}
    return [
        _inbound("checkins", cid, at(mono), site, day=day, ticket=n, scan_kind="qr", source="camera"),
        _inbound("vaccinations", f"v{n:04d}", at(mono + wait_s + 60), site, checkin_id=cid,
                 person=person, dose_number=dose, vaccine={"code": vaccine}, lot=lot, uvci=f"URN:UVCI:{n}",
                 called=called, desk=desk),
        _inbound("print_events", f"p{n:04d}", at(mono + wait_s + 2000), site, kind="certificate",
                 state="done", checkin_id=cid, copy=0),
    ]


def test_days_ranges_waits_throughput_and_doses(tmp_path):
    from central import numbers
    from central.ops_config import Site
    from central.store import CentralStore

    store = CentralStore(tmp_path / "central.db")
    sites = {"GL-01": Site("GL-01", "064", "Yên Đỗ", "Pleiku"), "GL-02": Site("GL-02", "064", "Ia Kha", "Ia Grai")}
    batch = []
    # 1 Dec: GL-01 waits 60..600 s (ten people, two desks in one hour), GL-02 one person, lot B, dose 2.
    for i in range(10):
        batch += _visit(i, "2026-12-01", 9, 60 * (i + 1), desk=str(1 + i % 2))
    batch += _visit(50, "2026-12-01", 10, 30, desk="1", site="GL-02", lot="B", dose=2)
    # 3 Dec: GL-01 two people (a day in between with none).
    batch += _visit(60, "2026-12-03", 14, 120, desk="1") + _visit(61, "2026-12-03", 15, 120, desk="1")
    store.apply(batch)
    # The vaccination arriving before its check-in still gets its wait once the check-in comes.
    late = _visit(70, "2026-12-03", 16, 300, desk="2")
    store.apply(late[1:])
    store.apply(late[:1])

    day1 = {r["site"]: r for r in numbers.site_counts(store, sites, "2026-12-01")}
    gl = day1["GL-01"]
    assert (gl["checked_in"], gl["vaccinated"], gl["certificates"]) == (10, 10, 10)
    assert (gl["wait_p50_s"], gl["wait_p90_s"]) == (330.0, 570.0)  # 300 s and 540 s, in minute buckets
    assert (gl["desk_hours"], gl["per_desk_hour"]) == (2, 5.0)
    assert day1["GL-02"]["wait_p50_s"] == 30.0

    rng = {r["site"]: r for r in numbers.site_counts(store, sites, "2026-12-01", "2026-12-03")}
    assert rng["GL-01"]["vaccinated"] == 13 and rng["GL-01"]["desk_hours"] == 2 + 3
    # 13 waits; the median is the late vaccination's 300 s (without it, 12 waits and a median of 240 s).
    assert rng["GL-01"]["wait_p50_s"] == 330.0
    trend = numbers.per_day(store, "2026-12-01", "2026-12-03", ["GL-01", "GL-02"])
    assert [(d["day"], d["vaccinated"]) for d in trend] == [("2026-12-01", 11), ("2026-12-02", 0),
                                                           ("2026-12-03", 3)]
    assert numbers.doses(store, "2026-12-01", "2026-12-03", ["GL-01", "GL-02"]) == [
        {"vaccine": "comirnaty", "dose_number": 1, "lot": "FK1", "vaccinated": 13},
        {"vaccine": "comirnaty", "dose_number": 2, "lot": "B", "vaccinated": 1}]
    district = {r["district"]: r for r in rollup(list(rng.values()), "district")}
    assert district["Pleiku"]["wait_p90_s"] == rng["GL-01"]["wait_p90_s"]
    store.close()


@pytest.mark.parametrize("args", ["day=2026-13-01", "day=01/12/2026", "day=20261201", "from=2026-12-05&to=2026-12-01",
                                  "day=2026-12-01&from=2026-12-01", "from=2025-01-01&to=2026-12-31"])
def test_a_bad_day_is_a_clear_400_on_every_page_and_api(central, args):
    browser = Browser(central.port)
    browser.login()
    for path in ("/", "/numbers", "/numbers.csv", "/alerts", "/corrections", "/api/sites", "/api/fleet",
                 "/api/numbers", "/metrics"):
        status, _, body = browser.get(f"{path}?{args}")
        assert status == 400, path
        error = json.loads(body)["error"]
        assert error["code"] == "bad_day" and error["message_vi"].startswith("Ngày không hợp lệ")


def test_day_and_range_are_honoured_and_rows_drill_down(central, kiosk_apps):
    app = kiosk_apps("GL-01", "gl-days")
    cid = check_in(app, 7)
    vaccinate(app, cid)
    wait_for(lambda: central.store.record_count("vaccinations") == 1, 15, what="records stored")
    today = central.store.today()
    assert next(r for r in central.get_json(f"/api/sites?day={today}") if r["site"] == "GL-01")["vaccinated"] == 1
    assert next(r for r in central.get_json("/api/sites?day=2020-01-01") if r["site"] == "GL-01")["checked_in"] == 0
    start = (dt.date.fromisoformat(today) - dt.timedelta(days=40)).isoformat()
    ranged = central.get_json(f"/api/numbers?level=province&from={start}&to={today}")
    assert ranged["from"] == start and len(ranged["daily"]) == 41 and ranged["daily"][-1]["vaccinated"] == 1
    assert ranged["daily"][0]["checked_in"] == 0
    assert {r["province"]: r["vaccinated"] for r in ranged["rows"]} == {"001": 0, "064": 1}
    assert ranged["doses"] == [{"vaccine": "comirnaty", "dose_number": 1, "lot": "FK1234", "vaccinated": 1}]

    browser = Browser(central.port)
    browser.login()
    _, _, page = browser.get("/numbers?level=province")
    href = re.search(r'<tr class="drill">.*?<a href="([^"]+)">Gia Lai', page, re.S).group(1)
    assert "level=district" in href and "province=064" in href
    _, _, page = browser.get(href.replace("&amp;", "&"))
    href = re.search(r'<a href="([^"]+)">Pleiku</a>', page).group(1)
    _, _, page = browser.get(href.replace("&amp;", "&"))
    table = re.search(r'<table class="numbers">.*?</table>', page, re.S).group(0)
    assert "Trạm Y tế Phường Yên Đỗ" in table and "Ia Kha" not in table and "Dịch Vọng" not in table
    _, _, old = browser.get("/numbers?day=2020-01-01")
    assert "2020-01-01" in old and "FK1234" not in old
    assert "FK1234" in browser.get("/numbers")[2]

    # The other pages keep to the asked day too: a correction filed today, the kiosk's health of today.
    file_correction(app, cid, "missing_dose", "mũi 2 chưa ghi")
    wait_for(lambda: central.store.record_count("corrections") == 1, 15, what="correction stored")
    wait_for(lambda: len(central.store.health_history("gl-days")) >= 1, 15, what="a health report")
    assert "mũi 2 chưa ghi" in browser.get(f"/corrections?day={today}")[2]
    assert "mũi 2 chưa ghi" not in browser.get("/corrections?day=2020-01-01")[2]
    assert "mũi 2 chưa ghi" in browser.get("/corrections")[2]
    assert "Recent health (0 báo cáo · reports" in browser.get("/kiosk/gl-days?day=2020-01-01")[2]
    assert "Recent health (0 báo cáo · reports" not in browser.get(f"/kiosk/gl-days?day={today}")[2]


def test_summaries_kept_by_increments_equal_a_recount_whatever_the_arrival_order(tmp_path):
    """Records arrive in any order and batches (prints before their check-in, doses before theirs, reprints,
    duplicates): the summaries ingest keeps must equal counting the stored records afresh."""
    import random

    from central.store import CentralStore

    store = CentralStore(tmp_path / "central.db")
    records = []
    for n in range(60):
        visit = _visit(n, "2026-12-01", 8 + n % 9, 30 + 17 * n, desk=str(n % 3), lot=f"L{n % 2}", dose=1 + n % 2,
                       site=("GL-01", "GL-02")[n % 2])
        records += visit
        if n % 4 == 0:  # a reprint, and a ticket
            records.append(_inbound("print_events", f"p{n:04d}r", _stamp(
                f"2026-12-01T{n % 9 + 2:02d}:30:00.000+00:00", 9e6 + n), visit[0].site, kind="certificate",
                state="done", checkin_id=visit[0].payload["record_id"], copy=1))
        if n % 3 == 0:
            records.append(_inbound("print_events", f"t{n:04d}", _stamp(
                f"2026-12-01T{n % 9 + 1:02d}:00:00.000+00:00", 8e6 + n), visit[0].site, kind="ticket",
                state="done", checkin_id=visit[0].payload["record_id"], copy=0))
    rng = random.Random(19)
    rng.shuffle(records)
    for i in range(0, len(records), 23):
        store.apply(records[i:i + 23] + rng.sample(records, 3))  # some duplicates too

    kept = summaries(store)
    assert kept == recounted(store)
    assert sum(r[5] for r in kept["site_hours"]) == 60  # certificates: people
    assert sum(r[6] for r in kept["site_hours"]) == 20  # tickets
    assert sum(r[7] for r in kept["site_hours"]) == 15  # certificate reprints
    store.close()
