"""Issue 14, item 8: client id = username for kiosks on every listener. Before the fix one kiosk's password with
another kiosk's client id kicked the real kiosk off (on central's listener, where ids are not forced), and five
sessions on one credential worked side by side."""

from __future__ import annotations

import contextlib

from tests.security.conftest import ROOT, SITE
from tests.support.sync import wait_for


def test_one_kiosks_password_cannot_kick_another_kiosk_off_on_any_listener(broker_site):
    a, b = broker_site.enrol(), broker_site.enrol()
    real_b = broker_site.kiosk(b).connect()
    assert real_b.accepted
    impostors = [broker_site.kiosk(a, port, client_id=b.kiosk_id).connect()
                 for port in (broker_site.kiosk_port, broker_site.central_port)]
    # A round trip after the impostors' CONNACKs: a kiosk that was kicked off gets no PUBACK.
    with contextlib.suppress(RuntimeError):  # paho: "not currently connected"
        real_b.publish(f"{ROOT}/{SITE}/{b.kiosk_id}/health", b"{}")
    assert not real_b.disconnected.is_set(), "kiosk B was kicked off by kiosk A's credentials"
    for probe in (real_b, *impostors):
        probe.close()


def test_one_kiosk_credential_holds_one_session_and_central_keeps_its_own(broker_site):
    a = broker_site.enrol()
    aggregators = [broker_site.central(f"central-{i}").connect() for i in range(2)]
    probes = [broker_site.kiosk(a, port, client_id=f"{a.kiosk_id}-{i}").connect()
              for port in (broker_site.kiosk_port, broker_site.central_port) for i in range(5)]

    def live() -> int:
        return sum(p.accepted and not p.disconnected.is_set() for p in probes)

    wait_for(lambda: live() <= 1, 5, what=f"one live session for {a.kiosk_id} (live: {live()})")
    # Central's aggregators log in with one credential and their own client ids: both stay.
    assert all(c.accepted and not c.disconnected.is_set() for c in aggregators)
    for probe in (*probes, *aggregators):
        probe.close()
