"""Fleet states and alerts end to end: simulated kiosks → real Mosquitto → fleet monitor → ops.db → API."""

from __future__ import annotations

import json
import urllib.request

from tests.central.conftest import wait_for


def get_json(ops, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{ops.web_port}{path}", timeout=10) as r:
        return json.loads(r.read())


def fleet_states(ops) -> dict[str, str]:
    return {k["kiosk"]: k["state"] for k in get_json(ops, "/api/fleet")}


def active_alerts(ops) -> set[tuple[str, str]]:
    return {(a["kiosk"], a["code"]) for a in ops.store.query("SELECT * FROM alerts WHERE cleared_at IS NULL")}


def test_online_offline_lost_and_back(ops, kiosks):
    fleet = [kiosks(site, f"{site.lower()}-k{i}") for site in ("GL-01", "GL-02", "HN-01") for i in range(4)]
    for k in fleet:
        k.health()
    wait_for(lambda: set(fleet_states(ops).values()) == {"online"} and len(fleet_states(ops)) == 12,
             what="12 kiosks online")

    fleet[0].shut_down()
    fleet[1].lose_network()
    fleet[2].lose_network()
    wait_for(lambda: fleet_states(ops)[fleet[0].kiosk] == "offline", what="clean exit → offline")
    wait_for(lambda: {fleet_states(ops)[k.kiosk] for k in fleet[1:3]} == {"lost"}, what="will → lost")
    # Lost longer than [alerts] lost_after_seconds (1 s in tests): an alert; a clean exit raises none.
    wait_for(lambda: {(fleet[1].kiosk, "kiosk_lost"), (fleet[2].kiosk, "kiosk_lost")} <= active_alerts(ops),
             what="kiosk_lost alerts")
    assert not any(k == fleet[0].kiosk for k, _ in active_alerts(ops))

    api = {k["kiosk"]: k for k in get_json(ops, "/api/fleet")}
    assert api[fleet[3].kiosk]["site"] == "GL-01" and api[fleet[3].kiosk]["printer"] == "ok"
    assert api[fleet[3].kiosk]["backlog"] == 0 and api[fleet[3].kiosk]["last_seen"]

    fleet[1].connect().health()
    wait_for(lambda: fleet_states(ops)[fleet[1].kiosk] == "online", what="back online")
    wait_for(lambda: (fleet[1].kiosk, "kiosk_lost") not in active_alerts(ops), what="lost alert cleared")
    assert (fleet[2].kiosk, "kiosk_lost") in active_alerts(ops)
    cleared = ops.store.query("SELECT * FROM alerts WHERE kiosk = ? AND cleared_at IS NOT NULL", (fleet[1].kiosk,))
    assert len(cleared) == 1 and cleared[0]["first_seen"] <= cleared[0]["cleared_at"]


def test_health_alerts_raised_and_cleared(ops, kiosks):
    k = kiosks("GL-01", "gl-health")
    bad = {"printer": {"state": "offline", "paper": "out"}, "disk": {"used_pct": 95.0}, "clock_synced": False,
           "camera": {"enabled": True, "fps": 0}, "outbox": {"backlog": 500, "oldest_age_s": 3600.0}}
    k.health(**bad)
    expected = {"printer_offline", "printer_paper_out", "disk_full", "clock_unsynced", "camera_no_frames",
                "outbox_backlog", "outbox_age"}
    wait_for(lambda: {c for kk, c in active_alerts(ops) if kk == k.kiosk} == expected, what="all health alerts")
    first_seen = {r["code"]: r["first_seen"] for r in ops.store.query("SELECT * FROM alerts WHERE kiosk = ?",
                                                                       (k.kiosk,))}
    k.health(**bad)  # still bad: the same alerts, the same first-seen times
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM health_samples WHERE kiosk = ?",
                                         (k.kiosk,))["n"] == 2, what="second health stored")
    assert {r["code"]: r["first_seen"] for r in ops.store.query("SELECT * FROM alerts WHERE kiosk = ?",
                                                                 (k.kiosk,))} == first_seen

    k.health()  # a healthy report again
    wait_for(lambda: {c for kk, c in active_alerts(ops) if kk == k.kiosk} == set(), what="all cleared")
    k.health(camera={"enabled": False, "fps": 0})  # a kiosk without camera is not alerted for 0 fps
    wait_for(lambda: ops.store.query_one("SELECT count(*) AS n FROM health_samples WHERE kiosk = ?",
                                         (k.kiosk,))["n"] == 4, what="fourth health stored")
    ops.monitor.tick()
    assert active_alerts(ops) == set()

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ops.web_port}/metrics", timeout=10).read().decode()
    assert 'vaxkiosk_central_kiosks{state="online"} 1' in metrics
    assert 'vaxkiosk_central_messages_total{kind="health"} 4' in metrics
