"""Live numbers equal what the kiosks committed: real check-ins and vaccinations in each kiosk's store, delivered by
the real sync part through the broker to the aggregator, read back through GET /api/sites and the CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from central.numbers import rollup
from tests.central.conftest import KIOSK_MQTT, check_in, outbox_empty, vaccinate, wait_for
from tests.central.test_web import Browser
from tests.support.sync import sync_config
from tests.support.virtual_printer import VirtualPrinterProcess


def test_counts_equal_what_kiosks_committed(central, kiosk_apps):
    plan = {("GL-01", "gl1-a"): (7, 3), ("GL-01", "gl1-b"): (5, 5), ("GL-02", "gl2-a"): (4, 0),
            ("HN-01", "hn1-a"): (9, 2), ("HN-01", "hn1-b"): (2, 1)}
    apps, n = {}, 0
    for (site, kid), (checkins, vaccinated) in plan.items():
        app = kiosk_apps(site, kid)
        ids = []
        for _ in range(checkins):
            n += 1
            ids.append(check_in(app, n))
        for cid in ids[:vaccinated]:
            vaccinate(app, cid)
        apps[kid] = app
    wait_for(lambda: all(outbox_empty(a) for a in apps.values()), 30, what="every outbox acknowledged")

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
        wait_for(lambda: outbox_empty(app), 30, what="every record acknowledged")
        assert central.store.record_count("print_events") == 11

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
