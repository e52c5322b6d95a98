"""Ending a kiosk's session at the broker, from central (on revocation).

Mosquitto keeps a disconnected client's session (its subscriptions, queued messages) as long as the client asked,
up to `persistent_client_expiration`; the reload that removes a revoked kiosk's password closes its connection but
keeps its session. Central ends it by logging in on its own listener, where client ids are not forced to the
username, under the kiosk's client id with a clean start and no session expiry: the broker discards the old session
(handle_connect.c, connect__on_authorised) and forgets the new one when central disconnects.
"""

from __future__ import annotations

import logging
import threading

from base.mqtt import make_client
from central.config import MqttSection

log = logging.getLogger("vaxkiosk.central.broker_sessions")


def end_session(settings: MqttSection, client_id: str, timeout: float = 10.0) -> bool:
    """True when the broker accepted central's takeover of `client_id` (any session under it is gone)."""
    client = make_client(client_id, settings.username, settings.password, settings.tls_ca)
    answered, accepted = threading.Event(), []

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        accepted.append(not reason_code.is_failure)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, keepalive=max(10, settings.keepalive), clean_start=True)
    except OSError as exc:
        log.warning("cannot reach the broker to end %s's session: %s", client_id, exc)
        return False
    client.loop_start()
    try:
        if not answered.wait(timeout):
            log.warning("no answer from the broker while ending %s's session", client_id)
            return False
        if not accepted[0]:
            log.warning("the broker refused central's login while ending %s's session", client_id)
        return accepted[0]
    finally:
        client.disconnect()
        client.loop_stop()
