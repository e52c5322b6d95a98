"""Live numbers equal what the kiosks committed: real check-ins and vaccinations in each kiosk's store, their
outbox records over the real broker (some twice, as after a lost ack), read back through GET /api/sites and CSV."""

from __future__ import annotations

import json
import urllib.request

from tests.central.conftest import wait_for


def sites(ops) -> dict[str, dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ops.web_port}/api/sites", timeout=10) as r:
        return {row["site"]: row for row in json.loads(r.read())}


def test_counts_equal_what_kiosks_committed(ops, kiosks):
    plan = {("GL-01", "gl1-a"): (7, 3), ("GL-01", "gl1-b"): (5, 5), ("GL-02", "gl2-a"): (4, 0),
            ("HN-01", "hn1-a"): (9, 2)}
    made, n = {}, 0
    for (site, kid), (checkins, vaccinated) in plan.items():
        k = kiosks(site, kid)
        ids = []
        for _ in range(checkins):
            n += 1
            ids.append(k.check_in(n))
        for cid in ids[:vaccinated]:
            k.vaccinate(cid)
        k.publish_outbox()
        k.publish_outbox(again=True)  # every record a second time: counted once
        k.queue()
        made[kid] = k
    for _ in range(2):
        made["gl1-a"].certificate_printed()

    expected: dict[str, dict] = {}
    for (site, kid), _ in plan.items():
        c = made[kid].committed()
        e = expected.setdefault(site, {"checked_in": 0, "vaccinated": 0})
        e["checked_in"] += c["checked_in"]
        e["vaccinated"] += c["vaccinated"]
    assert expected["GL-01"] == {"checked_in": 12, "vaccinated": 8}

    def matches():
        got = sites(ops)
        return all(got[s]["checked_in"] == e["checked_in"] and got[s]["vaccinated"] == e["vaccinated"]
                   for s, e in expected.items()) and got["GL-01"]["certificates"] == 2 and got

    got = wait_for(matches, what="counts equal to the kiosks' commits")
    assert got["GL-02"]["certificates"] == 0
    # Waiting now: checked in and not yet called (the kiosks' own queue telemetry).
    assert got["GL-01"]["waiting"] == (7 - 3) + (5 - 5)
    assert got["HN-01"]["waiting"] == 7
    assert set(got) == {"GL-01", "GL-02", "HN-01"}
    assert ops.monitor.stats.duplicates == sum(c + v for c, v in plan.values())


def test_rollup_by_district_and_province():
    from central.numbers import rollup

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
