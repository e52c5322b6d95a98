"""Simulated kiosks for central's tests: each one is a real kiosk store with the real check-in and vaccination
services, and its own MQTT connection (username = kiosk id, a retained "lost" will) publishing what a kiosk's sync
part publishes: status, health, queue and its outbox records on the agreed topics.

The kiosk's sync part (kiosk/sync.py) is written on another branch; until it is merged, `publish_outbox` plays its
role in the simplest correct way (every pending outbox row, QoS 1, in order).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.checkin import CheckinService
from kiosk.config import from_dict
from kiosk.identity import parse
from kiosk.store import Store
from kiosk.vaccination import Injection, VaccinationService

PREFIX = "vaxkiosk/v1"


def qr(n: int) -> str:
    # Gia Lai (064), a woman born 1995, a unique six-digit tail.
    return f"0641950{n:05d}||Trần Thị Thử|12081995|Nữ|Pleiku, Gia Lai|03062021"


def healthy(**overrides) -> dict:
    h = {"schema": 1, "version": "0.1.0", "clock_synced": True, "cpu_temp_c": 52.0,
         "disk": {"used_pct": 41.0}, "printer": {"state": "ok", "paper": "ok"},
         "camera": {"enabled": True, "fps": 14.5}, "outbox": {"backlog": 0, "oldest_age_s": 0.0}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(h.get(key), dict):
            h[key] = {**h[key], **value}
        else:
            h[key] = value
    return h


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class SimKiosk:
    def __init__(self, site: str, kiosk: str, port: int, workdir: Path, keepalive: int = 2):
        self.site, self.kiosk, self.port = site, kiosk, port
        self.config = from_dict({"kiosk": {"site_id": site, "kiosk_id": kiosk, "data_dir": str(workdir / kiosk),
                                           "min_free_mb": 1}})
        self.store = Store(self.config.db_path)
        self.checkins = CheckinService(self.store, self.config.kiosk)
        self.vaccinations = VaccinationService(self.store, self.config.kiosk)
        self.keepalive = keepalive
        self.commands: list[dict] = []
        self.connected = threading.Event()
        self.client: mqtt.Client | None = None
        self._published_seq = 0

    def topic(self, leaf: str) -> str:
        return f"{PREFIX}/{self.site}/{self.kiosk}/{leaf}"

    # -- connection ----------------------------------------------------------------------------------------------
    def connect(self) -> "SimKiosk":
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.kiosk, protocol=mqtt.MQTTv5)
        c.username_pw_set(self.kiosk)
        c.will_set(self.topic("status"), json.dumps({"schema": 1, "state": "lost"}), qos=1, retain=True)

        def on_connect(client, userdata, flags, reason, properties):
            client.subscribe(self.topic("cmd"), qos=1)
            client.publish(self.topic("status"), json.dumps({"schema": 1, "state": "online", "at": now_iso()}),
                           qos=1, retain=True)
            self.connected.set()

        c.on_connect = on_connect
        c.on_message = lambda client, userdata, msg: self.commands.append(json.loads(msg.payload))
        c.connect("127.0.0.1", self.port, keepalive=self.keepalive)
        c.loop_start()
        self.client = c
        if not self.connected.wait(10):
            raise TimeoutError(f"{self.kiosk} could not connect")
        return self

    def shut_down(self) -> None:
        """A clean exit: "offline", retained."""
        info = self.client.publish(self.topic("status"), json.dumps({"schema": 1, "state": "offline"}), qos=1,
                                   retain=True)
        info.wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    def lose_network(self) -> None:
        """The link dies without a goodbye: the broker publishes the "lost" will after 1.5 × keepalive."""
        self.client.loop_stop()
        self.client.socket().close()
        self.connected.clear()

    def close(self) -> None:
        if self.client is not None and self.connected.is_set():
            self.client.disconnect()
            self.client.loop_stop()
        self.store.close()

    # -- telemetry -------------------------------------------------------------------------------------------------
    def send(self, leaf: str, payload: dict | bytes, qos: int = 0, retain: bool = False) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.client.publish(self.topic(leaf), body, qos=qos, retain=retain).wait_for_publish(5)

    def health(self, **overrides) -> None:
        self.send("health", {**healthy(**overrides), "at": now_iso(), "site": self.site, "kiosk": self.kiosk})

    def queue(self) -> None:
        day = self.checkins.clock.today().isoformat()
        waiting = self.store.query_one("SELECT count(*) AS n FROM tickets WHERE site_id=? AND day=? AND "
                                       "state='waiting'", (self.site, day))["n"]
        self.send("queue", {"schema": 1, "day": day, "waiting": waiting, "avg_wait_s": 300.0, "at": now_iso()},
                  retain=True)

    # -- the day's work, through the real kiosk services -------------------------------------------------------------
    def check_in(self, n: int) -> str:
        return self.checkins.check_in(parse(qr(n)), "camera").checkin["id"]

    def vaccinate(self, checkin_id: str) -> None:
        self.checkins.transition(checkin_id, "called", "doctor", desk="1")
        self.vaccinations.screen(checkin_id, "eligible", "doctor")
        self.vaccinations.record_injection(checkin_id, Injection("comirnaty", "FK1234", 1, "Y tá Lan"), "nurse")

    def certificate_printed(self) -> None:
        # Print events come from the printer worker (another branch); published here in the shape it agreed.
        record = {"schema": 1, "type": "print_event", "record_id": uuid.uuid4().hex, "site": self.site,
                  "kiosk": self.kiosk, "kind": "certificate", "copy": 0, "state": "done", "at": now_iso()}
        self.send("records/print_events", record, qos=1)

    def publish_outbox(self, again: bool = False) -> int:
        """Every outbox row not yet published (or all of them, `again`: a resend after a lost ack)."""
        rows = self.store.query("SELECT seq, stream, payload FROM outbox WHERE seq > ? ORDER BY seq",
                                (0 if again else self._published_seq,))
        for r in rows:
            self.client.publish(self.topic(f"records/{r['stream']}"), r["payload"].encode(), qos=1).wait_for_publish(5)
            self._published_seq = max(self._published_seq, r["seq"])
        return len(rows)

    def committed(self) -> dict:
        """What this kiosk committed today: the numbers central must show."""
        return {
            "checked_in": self.store.query_one("SELECT count(*) AS n FROM checkins")["n"],
            "vaccinated": self.store.query_one("SELECT count(*) AS n FROM vaccinations")["n"],
        }
