"""Live numbers equal what the kiosks committed: real check-ins and vaccinations in each kiosk's store, delivered by
the real sync part through the broker to the aggregator, read back through GET /api/sites and the CSV export."""

from __future__ import annotations

from central.numbers import rollup
from tests.central.conftest import check_in, outbox_empty, vaccinate, wait_for


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
