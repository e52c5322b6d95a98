"""Extends the aggregator's storm test (tests/central/test_ingest.py, record kinds) with messages aimed at the fleet
view — health, queue and status that lie about a kiosk, poison numbers or overflow — while the dashboard is
serving: 10,000 of them leave ingestion running, the dashboard answering, and what it shows equal to the truth."""

from __future__ import annotations

import json

from tests.central.conftest import check_in, outbox_empty, wait_for
from tests.central.test_ingest import STAMP, hostile, raw_client

P = "vaxkiosk/v1/GL-01"


def health(kiosk="honest", **kw) -> dict:
    return {"schema": 1, "site": "GL-01", "kiosk": kiosk, "at": STAMP, "uptime_s": 5, "load": 0.1,
            "disk_free_mb": 100, "disk_used_pct": 10, "db_bytes": 1, "outbox_backlog": 0, "version": "x",
            "config_rev": "r", "parts": {}, **kw}


def fleet_hostile(i: int) -> tuple[str, bytes]:
    kinds = [
        (f"{P}/honest/health", json.dumps(health(kiosk="other")).encode()),             # speaks for another kiosk
        (f"{P}/honest/health", json.dumps(health(outbox_backlog="many")).encode()),     # wrong type
        (f"{P}/honest/health", json.dumps(health(disk_used_pct=1e999)).encode()),       # Infinity after decoding
        (f"{P}/honest/health", b'{"schema":1,"disk_used_pct":NaN}'),
        (f"{P}/honest/health", json.dumps(health(parts={"x": "y" * 20000})).encode()),  # too large
        (f"{P}/honest/queue", json.dumps({"schema": 1, "site": "GL-01", "kiosk": "honest", "at": STAMP,
                                          "day": "yesterday", "waiting": 5, "called": 0, "served_today": 0,
                                          "last_ticket": 0}).encode()),
        (f"{P}/honest/status", json.dumps({"schema": 1, "site": "GL-02", "kiosk": "honest", "state": "lost",
                                           "boot_id": "b"}).encode()),                   # wrong site for the topic
        (f"{P}/honest/status", json.dumps({"schema": 1, "site": "GL-01", "kiosk": "honest",
                                           "state": "offline"}).encode()),               # missing boot id
        (f"{P}/honest/health/extra", json.dumps(health()).encode()),
    ]
    return kinds[i % len(kinds)] if i % 2 else hostile(i // 2)


def test_storm_of_lies_about_the_fleet(central, kiosk_apps, mosquitto):
    app = kiosk_apps("GL-01", "honest")
    made = [check_in(app, n) for n in range(5)]
    wait_for(lambda: outbox_empty(app), 15, what="honest records delivered")
    before = {k["kiosk"]: (k["state"], k["site"]) for k in central.get_json("/api/fleet")}
    attacker = raw_client(mosquitto.port)
    # Central subscribes to health and queue at QoS 0 (they are replaced by the next report): the broker may drop
    # some of a burst of those before central sees them. Everything else is QoS 1 and must be counted exactly.
    best_effort = 0
    try:
        for i in range(10_000):
            topic, payload = fleet_hostile(i)
            best_effort += topic.endswith(("/health", "/queue"))
            info = attacker.publish(topic, payload, qos=1)
            if i % 1000 == 0:
                assert central.get_json("/api/sites")[0]["site"] == "GL-01"  # the dashboard answers meanwhile
        info.wait_for_publish(30)
        wait_for(lambda: sum(central.store.rejects().values()) >= 10_000 - best_effort, 60,
                 what="every QoS 1 refusal counted")
        settled = wait_for(lambda: _settled(central), 30, what="refusal count settled")
        assert 10_000 - best_effort <= settled <= 10_000
    finally:
        attacker.loop_stop()
        attacker.disconnect()
    made.append(check_in(app, 99))  # still ingesting after the storm
    wait_for(lambda: outbox_empty(app), 15, what="the late record delivered")
    assert {k["kiosk"]: (k["state"], k["site"]) for k in central.get_json("/api/fleet")} == before
    wait_for(lambda: {k: central.get_json("/api/sites")[0][k] for k in ("checked_in", "waiting")} ==
             {"checked_in": len(made), "waiting": len(made)}, 10, what="numbers equal to the kiosk's")
    metrics = central.get_text("/metrics")
    refused = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("vaxkiosk_central_rejected_total{"))
    assert refused == settled
    assert central.ops.health()["commands_connected"]


_last: list[int] = []


def _settled(central) -> int | None:
    """The refusal count once it has stopped moving for a second (polled every 50 ms by wait_for)."""
    _last.append(sum(central.store.rejects().values()))
    return _last[-1] if len(_last) > 20 and len(set(_last[-20:])) == 1 else None
