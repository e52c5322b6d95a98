"""Fleet states and alerts end to end: real kiosks (the kiosk App and its sync part, in this process and as
`vaxkiosk kiosk` processes) → real Mosquitto → the aggregator's ingest and store → the dashboard's API and alerts."""

from __future__ import annotations

from central.alerts import conditions
from central.ops_config import AlertsSection
from tests.central.conftest import EdgeStatus, stop_kiosk, wait_for
from tests.support.sync import KioskProcess, sync_config


def test_online_offline_lost_and_back(central, kiosk_apps, tmp_path, mosquitto):
    apps = [kiosk_apps(site, f"{site.lower()}-k{i}") for site in ("GL-01", "GL-02", "HN-01") for i in range(3)]
    procs = [KioskProcess(sync_config(tmp_path / "procs", mosquitto.port, kiosk=f"proc-{i}", site="GL-02",
                                      keepalive=2, health_interval=0.5)).start() for i in range(2)]
    try:
        wait_for(lambda: len(central.states()) == 11 and set(central.states().values()) == {"online"}, 30,
                 what="11 kiosks online")
        api = {k["kiosk"]: k for k in central.get_json("/api/fleet")}
        k0 = api["gl-01-k0"]
        assert (k0["site"], k0["site_name"], k0["province_name"]) == ("GL-01", "Trạm Y tế Phường Yên Đỗ", "Gia Lai")
        assert k0["backlog"] == 0 and k0["last_seen"] and k0["version"] and k0["clock_synced"] is not None

        stop_kiosk(apps[0])  # a clean exit
        procs[0].kill()      # power cut: the broker publishes the kiosk's Last Will
        wait_for(lambda: central.states()["gl-01-k0"] == "offline", 10, what="clean exit → offline")
        wait_for(lambda: central.states()["proc-0"] == "lost", 15, what="kill -9 → lost")
        # Lost for longer than lost_after_seconds (1 s here, 2 min by default): an alert; a clean exit raises none.
        wait_for(lambda: ("proc-0", "kiosk_lost") in central.active_alerts(), 10, what="kiosk_lost alert")
        assert not any(k == "gl-01-k0" for k, _ in central.active_alerts())
        metrics = central.get_text("/metrics")
        assert 'vaxkiosk_central_kiosks{state="lost"} 1' in metrics
        assert 'vaxkiosk_central_kiosks{state="offline"} 1' in metrics
        assert 'vaxkiosk_central_alerts_active{code="kiosk_lost"} 1' in metrics

        procs[0] = KioskProcess(procs[0].config).start()  # power back
        wait_for(lambda: central.states()["proc-0"] == "online", 30, what="back online")
        wait_for(lambda: ("proc-0", "kiosk_lost") not in central.active_alerts(), 10, what="lost alert cleared")
        cleared = central.ops.ops_store.query("SELECT * FROM alerts WHERE kiosk = 'proc-0' AND code = 'kiosk_lost'")
        assert len(cleared) == 1 and cleared[0]["first_seen"] <= cleared[0]["cleared_at"]
    finally:
        for p in procs:
            p.stop()


def test_printer_and_camera_alerts_raised_and_cleared(central, kiosk_apps):
    printer = EdgeStatus("printer", online=True, paper="ok")
    camera = EdgeStatus("camera", fps=15.0, last_frame_age_s=0.1)
    kiosk_apps("GL-01", "gl-edge", printer, camera)
    wait_for(lambda: central.states().get("gl-edge") == "online", 10, what="online")
    assert central.ops.ops_store.query("SELECT count(*) AS n FROM alerts")[0]["n"] == 0

    printer.status.update(paper="out")
    camera.status.update(fps=0.0)
    wait_for(lambda: central.active_alerts() == {("gl-edge", "printer_paper_out"), ("gl-edge", "camera_no_frames")},
             15, what="paper and camera alerts")
    # A printer out of paper also reports itself offline (ESC/POS status): one fault, one alert.
    printer.status.update(online=False)
    wait_for(lambda: central.get_json("/api/fleet")[0]["printer"] == "offline", 10, what="offline health stored")
    # One evaluation after that health was stored (the ticker's own, called here), so the rule has seen it.
    central.ops.ticker.tick()
    assert central.active_alerts() == {("gl-edge", "printer_paper_out"), ("gl-edge", "camera_no_frames")}
    printer.status.update(paper="ok")  # paper back, still offline: now that is the fault
    wait_for(lambda: central.active_alerts() == {("gl-edge", "printer_offline"), ("gl-edge", "camera_no_frames")},
             15, what="printer offline alert once the paper is back")
    seen = {r["code"]: r["first_seen"] for r in central.ops.ops_store.query("SELECT * FROM alerts")}

    printer.status.update(online=True, paper="ok")
    camera.status.update(fps=14.0)
    wait_for(lambda: not central.active_alerts(), 15, what="all cleared")
    rows = central.ops.ops_store.query("SELECT * FROM alerts ORDER BY id")
    assert sorted(r["code"] for r in rows) == ["camera_no_frames", "printer_offline", "printer_paper_out"]
    assert all(r["cleared_at"] and r["first_seen"] == seen[r["code"]] for r in rows)  # first seen kept


def test_clock_unsynchronised_kiosk_raises_an_alert(central, tmp_path, mosquitto):
    proc = KioskProcess(sync_config(tmp_path / "procs", mosquitto.port, kiosk="no-rtc", site="HN-01",
                                    keepalive=2, health_interval=0.5), env={"VAXKIOSK_CLOCK_SYNCED": "0"}).start()
    try:
        wait_for(lambda: ("no-rtc", "clock_unsynced") in central.active_alerts(), 30, what="clock alert")
        assert central.get_json("/api/fleet")[0]["clock_synced"] is False
    finally:
        proc.stop()


LIMITS = AlertsSection(lost_after_seconds=120, backlog_max=200, backlog_age_max_seconds=900,
                       disk_used_max_percent=90)


def view(**kw) -> dict:
    base = {"kiosk": "k", "site": "s", "state": "online", "state_since": 0.0, "printer": "ok", "paper": "ok",
            "backlog": 0, "oldest_age_s": 0.0, "clock_synced": True, "disk_used_pct": 40.0, "camera_enabled": True,
            "camera_fps": 15.0}
    return {**base, **kw}


def test_alert_rules_at_their_thresholds():
    # Disk and backlog cannot be driven on this machine's disk within a test: the rules are checked at the edges.
    assert conditions(view(), LIMITS, 1000.0) == {}
    assert set(conditions(view(disk_used_pct=90.1), LIMITS, 0)) == {"disk_full"}
    assert conditions(view(disk_used_pct=90.0), LIMITS, 0) == {}
    # One fault, one alert: a backlog over the limit is the stuck outbox its age reports too.
    assert set(conditions(view(backlog=201, oldest_age_s=901.0), LIMITS, 0)) == {"outbox_backlog"}
    assert set(conditions(view(backlog=20, oldest_age_s=901.0), LIMITS, 0)) == {"outbox_age"}
    assert set(conditions(view(paper="out", printer="offline"), LIMITS, 0)) == {"printer_paper_out"}
    assert set(conditions(view(paper="ok", printer="offline"), LIMITS, 0)) == {"printer_offline"}
    assert conditions(view(backlog=200, oldest_age_s=900.0), LIMITS, 0) == {}
    assert conditions(view(state="lost", state_since=0.0), LIMITS, 119.0) == {}
    assert set(conditions(view(state="lost", state_since=0.0), LIMITS, 120.0)) == {"kiosk_lost"}
    # A kiosk that is away: its last health (paper out) is history, not an alert.
    assert conditions(view(state="offline", paper="out", disk_used_pct=99.0), LIMITS, 0) == {}
    # No camera configured: no frames is normal.
    assert conditions(view(camera_enabled=False, camera_fps=None), LIMITS, 0) == {}
    assert set(conditions(view(clock_synced=False), LIMITS, 0)) == {"clock_unsynced"}


def test_health_facts_read_the_parts_own_reports():
    from central.fleet import health_facts

    def printer(**status):
        return {"printer": {"ok": False, "state": "x", "status": status}}

    assert health_facts(printer(known=False))["printer"] == "unknown"  # no answer is never "ok"
    assert health_facts(printer(known=True, online=True, paper="near_end")) | {} == {
        **health_facts(printer(known=True, online=True, paper="near_end")), "printer": "ok", "paper": "near_end"}
    assert health_facts(printer(known=True, online=False, paper="ok"))["printer"] == "offline"
    assert health_facts(printer(known=True, online=True, cover_open=True))["printer"] == "offline"
    assert health_facts({"camera": {"capturing": False, "fps": 12.0}})["camera_fps"] == 0.0  # a stalled capture
    assert health_facts({"outbox_backlog": 3})["camera_enabled"] is False  # no camera part on this kiosk
    assert health_facts(None)["camera_enabled"] is None
