"""Issue 14, item 3: a kiosk must not be able to make the broker keep (and persist, and send central again on every
resubscribe) what it likes: a 20 MB retained message, retained messages under invented sites and streams, or
messages under a site that is not its own."""

from __future__ import annotations

import json
import time

from tests.security.conftest import OTHER_SITE, ROOT, SITE

BIG = 20 * 1024 * 1024
INVENTED = 300


def retained_now(site) -> list[tuple[str, bytes]]:
    """Every retained message a fresh subscription of central receives (up to a barrier of its own)."""
    watcher = site.central("central-retained").connect()
    try:
        watcher.subscribe(f"{ROOT}/#")
        barrier = f"{ROOT}/{SITE}/barrier/ack"
        watcher.publish(barrier, b'{"schema": 1, "record_ids": ["barrier"]}')
        return [(t, p) for t, p in watcher.until(barrier) if t != barrier]
    finally:
        watcher.close()


def status(enrolment, site: str) -> bytes:
    return json.dumps({"schema": 1, "site": site, "kiosk": enrolment.kiosk_id, "state": "online",
                       "boot_id": "b"}).encode()


def test_a_kiosk_cannot_fill_the_broker_with_retained_messages_or_speak_for_another_site(broker_site):
    thief = broker_site.enrol(SITE)
    own = f"{ROOT}/{SITE}/{thief.kiosk_id}"
    live = broker_site.central("central-live").connect()
    live.subscribe(f"{ROOT}/#")

    attacker = broker_site.kiosk(thief).connect()
    for i in range(INVENTED):  # sites that do not exist, and streams that do not exist, all retained
        attacker.client.publish(f"{ROOT}/ZZ{i}/{thief.kiosk_id}/status", status(thief, f"ZZ{i}"), qos=1, retain=True)
    for i in range(50):
        attacker.client.publish(f"{own}/records/zz{i}", b"{}", qos=1, retain=True)
    # A real site, not the kiosk's own: a record that central's registry would have to catch.
    attacker.client.publish(f"{ROOT}/{OTHER_SITE}/{thief.kiosk_id}/records/checkins", b'{"forged": true}', qos=1)
    attacker.publish(f"{own}/status", status(thief, SITE), retain=True)  # its own status, the barrier
    seen = [t for t, _ in live.until(f"{own}/status")]
    assert seen == [f"{own}/status"], seen[:5]

    # 20 MB retained on its own status topic. Whether the broker closes the connection or refuses the message,
    # it must not keep it.
    info = attacker.client.publish(f"{own}/status", b"x" * BIG, qos=1, retain=True)
    deadline = time.monotonic() + 30
    while not (info.is_published() or attacker.disconnected.is_set()) and time.monotonic() < deadline:
        time.sleep(0.05)
    attacker.client.loop_stop()
    live.close()

    def check_kept():
        kept = retained_now(broker_site)
        assert [t for t, _ in kept] == [f"{own}/status"], [t for t, _ in kept][:5]
        assert max(len(p) for _, p in kept) < 64 * 1024
    check_kept()
    broker_site.restart_broker()  # and nothing of it was persisted
    check_kept()
