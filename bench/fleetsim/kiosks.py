"""Simulated kiosks for bench/fleet.py: one generator process holds thousands of them on one asyncio event loop.

Each simulated kiosk speaks protocol v1 (base.protocol validates and encodes every message it sends) over
its own MQTT connection (bench/fleetsim/mqtt_client.py), logged in as itself with its own password on the broker's kiosk
listener, from one of several loopback source addresses:
- at connect: Last Will `lost` (retained, QoS 1), subscription to its `ack` and `cmd` topics, retained `online`;
- health every `health_interval` s (QoS 0), check-ins, vaccinations and print events as Poisson streams (QoS 1),
  and a retained queue state after each check-in (QoS 0);
- an outbox like the real one (kiosk.sync.part): records are sent in order, at most `max_inflight` unacknowledged;
  a record stays until central's application ack names it; unacknowledged records go again by the kiosk's own
  resend rule (base.resend: one at a time, backing off from `ack_timeout` to `resend_max_delay`) and all of them
  after every reconnection;
- at the end, `offline` and a clean DISCONNECT.

The "link comes back" burst: the chosen kiosks drop their connections (the broker publishes their Will), queue
`burst_records` records each while cut off, then all reconnect at once and drain.

Everything is timed from `go` (a time.monotonic() instant shared by every process of the machine). What a generator
reports: its counts, the ids of every record central acknowledged (the bench compares them with the rows in central's
store), ack latencies, and how long the burst took to drain.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import hashlib
import hmac
import heapq
import json
import os
import random
import resource
import time
import uuid
from dataclasses import dataclass, field

from bench.fleetsim.mqtt_client import MqttConnection, MqttError, open_connection
from base import protocol
from base.resend import Unacknowledged

KIOSKS_PER_SITE = 5
LOCAL_TZ = dt.timezone(dt.timedelta(hours=7))
STREAM_SHARE = (("checkins", 1.0), ("vaccinations", 0.9), ("print_events", 0.85))
HEALTH, RECORD = 0, 1


def kiosk_id(i: int) -> str:
    return f"k{i:05d}"


def site_of(i: int) -> str:
    return f"GL-{i // KIOSKS_PER_SITE:04d}"


def region_of(i: int, regions: int) -> int:
    """Which regional broker a kiosk connects to (bench/fleetsim/brokers.py): every kiosk of a site to the same one."""
    return (i // KIOSKS_PER_SITE) % regions


def kiosk_password(secret: str, kiosk: str) -> str:
    """Each kiosk its own password, derived so the bench need not ship 20,000 of them to every process."""
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), kiosk.encode(), hashlib.sha256).digest()[:18]).decode()


@dataclass
class Plan:
    """What one generator does (picklable: it crosses to a spawned process)."""
    indices: list[int]
    host: str
    ports: list[int]  # the kiosk listener of each region's broker
    sources: list[str]
    secret: str
    warmup: float
    duration: float
    checkins_per_hour: float = 6.0
    load: float = 1.0
    health_interval: float = 10.0
    keepalive: int = 30
    ack_timeout: float = 30.0
    resend_max_delay: float = 300.0
    max_inflight: int = 100
    connect_concurrency: int = 32
    burst: list[int] = field(default_factory=list)  # kiosk indices of this generator that take part
    burst_records: int = 50
    burst_outage: float = 5.0
    burst_timeout: float = 300.0
    settle: float = 90.0  # at the end: how long to wait for the last acks


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class SimKiosk:
    def __init__(self, gen: "Generator", index: int):
        self.gen = gen
        self.index = index
        self.kiosk = kiosk_id(index)
        self.site = site_of(index)
        self.password = kiosk_password(gen.plan.secret, self.kiosk)
        self.source = gen.plan.sources[index % len(gen.plan.sources)]
        self.boot_id = uuid.uuid4().hex
        self.mono0 = time.monotonic() - gen.rng.uniform(600, 36000)  # booted some time ago
        self.conn: MqttConnection | None = None
        self.online = False
        self.cut = False  # in a simulated outage: do not reconnect
        # The outbox: record id → (stream, payload); `pending` in send order, `unacked` sent and not acknowledged.
        self.records: dict[str, tuple[str, bytes]] = {}
        self.first_sent: dict[str, float] = {}
        self.pending: collections.deque[str] = collections.deque()
        self.unacked = Unacknowledged(gen.plan.ack_timeout, gen.plan.resend_max_delay, gen.rng.random)
        self.ticket = 0
        self.burst_ids: set[str] = set()
        self.health_checked = False
        self.topics = {leaf: protocol.topic(self.site, self.kiosk, leaf) for leaf in ("status", "health", "queue",
                                                                                     "ack", "cmd")}

    # -- messages --------------------------------------------------------------------------------------------
    def stamp(self) -> dict:
        return {"wall": now_iso(), "mono": round(time.monotonic() - self.mono0, 3), "boot_id": self.boot_id,
                "clock_synced": True}

    def status(self, state: str, with_stamp: bool = True) -> bytes:
        payload = {"schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "state": state,
                   "boot_id": self.boot_id, "version": "bench"}
        if with_stamp:
            payload["at"] = self.stamp()
        return protocol.encode("status", payload)

    def health(self) -> bytes:
        payload = {
            "schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "at": self.stamp(),
            "uptime_s": round(time.monotonic() - self.mono0, 1), "load": 0.2, "disk_free_mb": 9000.0,
            "disk_used_pct": 40.0, "db_bytes": 1 << 20, "outbox_backlog": len(self.records),
            "version": "bench", "config_rev": "bench", "parts": {},
            "camera": {"capturing": True, "fps": 15.0},
            "printer": {"ok": True, "state": "ok", "status": {"known": True, "online": True, "paper": "ok"}}}
        if self.health_checked:
            # Health is 95% of the traffic: after the first one of each kiosk has passed the protocol's
            # validation (base.protocol.encode), the same shape is only encoded, with the same JSON options.
            # Central validates every message; the bench reports its rejects.
            return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        self.health_checked = True
        return protocol.encode("health", payload)

    def record(self, stream: str) -> str:
        """A new fact at the kiosk: into the outbox (sent when the window and the link allow)."""
        stamp = self.stamp()
        envelope = {"schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "at": stamp,
                    "type": protocol.RECORD_TYPE[stream], "record_id": uuid.uuid4().hex}
        if stream == "checkins":
            self.ticket += 1
            day = dt.datetime.fromisoformat(stamp["wall"]).astimezone(LOCAL_TZ).date().isoformat()
            body = {"day": day, "ticket": self.ticket, "scan_kind": "cccd_qr", "source": "camera"}
        elif stream == "vaccinations":
            # An invented person: no real personal data in a bench.
            body = {"checkin_id": uuid.uuid4().hex, "dose_number": 1,
                    "person": {"id_number": "064195000000", "full_name": "Bench", "dob": "1995-08-12", "sex": "F"},
                    "vaccine": {"code": "comirnaty"}, "lot": "FK1234", "uvci": f"URN:UVCI:01:VN:{uuid.uuid4().hex}"}
        else:
            body = {"kind": "certificate", "state": "done", "checkin_id": uuid.uuid4().hex, "copy": 0}
        payload = {**envelope, **body}
        rid = payload["record_id"]
        self.records[rid] = (stream, protocol.encode("record", payload, stream))
        self.pending.append(rid)
        self.gen.created += 1
        if stream == "checkins" and self.online:
            self.queue_state(stamp)
        self.pump()
        return rid

    def queue_state(self, stamp: dict) -> None:
        payload = {"schema": protocol.SCHEMA, "site": self.site, "kiosk": self.kiosk, "at": stamp,
                   "day": dt.datetime.fromisoformat(stamp["wall"]).astimezone(LOCAL_TZ).date().isoformat(),
                   "waiting": self.gen.rng.randint(0, 12), "called": 1, "served_today": self.ticket,
                   "last_ticket": self.ticket}
        self.publish(self.topics["queue"], protocol.encode("queue", payload), 0, True, counted=False)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False, counted: bool = True) -> None:
        """`counted`: health and records, the messages that become rows in central's store (status and queue
        update a kiosk's row instead), and so the ones the bench compares with what central committed."""
        if self.conn is not None:
            self.conn.publish(topic, payload, qos, retain)
            if counted:
                self.gen.count_published()

    # -- the outbox ----------------------------------------------------------------------------------------------
    def pump(self) -> None:
        """Send pending records while the window has room (kiosk.sync.part._fill_window)."""
        if not self.online:
            return
        now = time.monotonic()
        while self.pending and len(self.unacked) < self.gen.plan.max_inflight:
            rid = self.pending.popleft()
            if rid not in self.records:
                continue
            self._send(rid, now)
        if self.unacked:
            self.gen.busy.add(self)

    def _send(self, rid: str, now: float, copy: bool = False) -> None:
        stream, payload = self.records[rid]
        self.publish(protocol.topic(self.site, self.kiosk, "records", stream), payload, 1)
        self.unacked.sent(rid, now, copy)
        if rid in self.first_sent:
            self.gen.resent += 1
        else:
            self.first_sent[rid] = now

    def resend_expired(self, now: float) -> None:
        """The record the resend rule says is due goes again (kiosk.sync.part._resend_expired)."""
        if not self.online:
            return
        for rid in self.unacked.due(now):
            self._send(rid, now, copy=True)

    def on_ack(self, record_ids: list[str]) -> None:
        now = time.monotonic()
        overtaken = self.unacked.acked(record_ids)
        for rid in record_ids:
            if self.records.pop(rid, None) is None:
                self.gen.late_acks += 1  # a second ack (for a resend): harmless
                continue
            first = self.first_sent.pop(rid)
            self.gen.acked(rid, now - first, first)
            if rid in self.burst_ids:
                self.burst_ids.discard(rid)
                self.gen.burst_acked(now)
        if self.online:
            for rid in overtaken:  # sent before a copy central acknowledged: lost on the way
                self._send(rid, now, copy=True)
        self.pump()
        if not self.unacked:
            self.gen.busy.discard(self)

    # -- the connection ------------------------------------------------------------------------------------------
    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            if topic == self.topics["ack"]:
                self.on_ack(protocol.decode("ack", payload)["record_ids"])
            elif topic == self.topics["cmd"]:
                protocol.decode("cmd", payload)
                self.gen.commands += 1
        except protocol.ProtocolError:
            self.gen.bad_messages += 1

    def on_close(self, exc) -> None:
        if self.conn is not None and not self.conn.closed:
            return  # the end of an older connection, or of a failed attempt: the current one lives
        was_online, self.online = self.online, False
        self.conn = None
        if was_online and not self.cut and not self.gen.stopping:
            self.gen.disconnects += 1
            self.gen.loop.create_task(self.connect(delay=self.gen.rng.uniform(1, 5)))

    async def connect(self, delay: float = 0.0, attempts: int = 10) -> bool:
        if delay:
            await asyncio.sleep(delay)
        plan = self.gen.plan
        for attempt in range(attempts):
            if self.gen.stopping or self.cut:
                return False
            try:
                async with self.gen.connect_slots:
                    conn = await open_connection(
                        plan.host, plan.ports[region_of(self.index, len(plan.ports))], self.kiosk, source=self.source, username=self.kiosk,
                        password=self.password, keepalive=plan.keepalive,
                        will=(self.topics["status"], self.status("lost", with_stamp=False), 1, True),
                        on_message=self.on_message, on_close=self.on_close)
                    await conn.subscribe([(self.topics["ack"], 1), (self.topics["cmd"], 1)])
            except (OSError, MqttError, asyncio.TimeoutError) as exc:
                self.gen.connect_errors[type(exc).__name__] += 1
                await asyncio.sleep(min(30, 0.5 * 2 ** attempt) * self.gen.rng.uniform(0.5, 1.5))
                continue
            if conn.closed:
                continue
            self.conn = conn
            self.online = True
            self.gen.connects += 1
            self.publish(self.topics["status"], self.status("online"), 1, True, counted=False)
            # Whatever was in flight may be gone with the old connection: all of it again, in order.
            self.pending.extendleft(reversed(self.unacked.restart()))
            self.pump()
            return True
        return False

    def cut_link(self) -> None:
        """The site's link goes down: no DISCONNECT, the broker publishes the Will."""
        self.cut = True
        self.online = False  # from now on records wait in the outbox
        if self.conn is not None:
            self.conn.abort()

    def stop(self) -> None:
        if self.conn is not None and self.online:
            self.publish(self.topics["status"], self.status("offline"), 1, True, counted=False)
            self.conn.disconnect()


class Generator:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.rng = random.Random(os.getpid() ^ int(time.time()))
        self.loop = asyncio.get_running_loop()
        self.connect_slots = asyncio.Semaphore(plan.connect_concurrency)
        self.kiosks = [SimKiosk(self, i) for i in plan.indices]
        self.by_index = {k.index: k for k in self.kiosks}
        self.busy: set[SimKiosk] = set()
        self.stopping = False
        self.go = 0.0
        self.window = (0.0, 0.0)
        self.published = self.published_in_window = 0
        self.created = self.resent = self.late_acks = self.commands = self.bad_messages = 0
        self.connects = self.disconnects = 0
        self.connect_errors: collections.Counter = collections.Counter()
        self.acked_ids: list[str] = []
        self.ack_lags_window: list[float] = []
        self.burst_pending = 0
        self.burst_start = self.burst_done = None
        self.connected_at_window_end = 0

    def count_published(self) -> None:
        self.published += 1
        if self.window[0] <= time.monotonic() < self.window[1]:
            self.published_in_window += 1

    def acked(self, rid: str, lag: float, first_sent: float) -> None:
        self.acked_ids.append(rid)
        if self.window[0] <= first_sent < self.window[1]:
            self.ack_lags_window.append(lag)

    def burst_acked(self, now: float) -> None:
        self.burst_pending -= 1
        if self.burst_pending == 0:
            self.burst_done = now

    # -- phases ----------------------------------------------------------------------------------------------
    async def connect_all(self) -> float:
        started = time.monotonic()
        await asyncio.gather(*(k.connect() for k in self.kiosks))
        return time.monotonic() - started

    async def keepalive(self) -> None:
        while True:
            await asyncio.sleep(2)
            now = time.monotonic()
            for k in self.kiosks:
                if k.online:
                    k.conn.ping_if_idle(now)
            for k in list(self.busy):
                k.resend_expired(now)

    async def traffic(self) -> None:
        """Health and records of every kiosk as timed events, until cancelled."""
        plan, rng = self.plan, self.rng
        heap: list[tuple[float, int, int, int]] = []
        interval = plan.health_interval / plan.load
        for k in self.kiosks:
            heap.append((self.go + rng.uniform(0, interval), k.index, HEALTH, 0))
            for s, (_stream, share) in enumerate(STREAM_SHARE):
                rate = plan.checkins_per_hour * share * plan.load / 3600
                if rate > 0:
                    heap.append((self.go + rng.expovariate(rate), k.index, RECORD, s))
        heapq.heapify(heap)
        while True:
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                due, index, kind, s = heapq.heappop(heap)
                kiosk = self.by_index[index]
                if kind == HEALTH:
                    if kiosk.online:
                        kiosk.publish(kiosk.topics["health"], kiosk.health(), 0)
                    heapq.heappush(heap, (due + interval, index, HEALTH, 0))
                else:
                    stream, share = STREAM_SHARE[s]
                    kiosk.record(stream)
                    heapq.heappush(heap, (due + rng.expovariate(plan.checkins_per_hour * share * plan.load / 3600),
                                          index, RECORD, s))
            await asyncio.sleep(min(0.02, max(0.0, (heap[0][0] - time.monotonic()) if heap else 0.02)))

    async def burst(self) -> None:
        kiosks = [self.by_index[i] for i in self.plan.burst]
        for k in kiosks:
            k.cut_link()
        for k in kiosks:
            for j in range(self.plan.burst_records):
                k.burst_ids.add(k.record(STREAM_SHARE[j % len(STREAM_SHARE)][0]))
        self.burst_pending = sum(len(k.burst_ids) for k in kiosks)
        await asyncio.sleep(self.plan.burst_outage)
        self.burst_start = time.monotonic()
        for k in kiosks:
            k.cut = False
        await asyncio.gather(*(k.connect() for k in kiosks))

    async def settle(self, deadline: float) -> None:
        while time.monotonic() < deadline and any(k.records for k in self.kiosks):
            await asyncio.sleep(0.1)

    def report(self, connect_s: float) -> dict:
        rusage = resource.getrusage(resource.RUSAGE_SELF)
        return {"kiosks": len(self.kiosks), "connected": self.connected_at_window_end, "connect_s": connect_s,
                "published": self.published, "published_in_window": self.published_in_window,
                "records_created": self.created, "records_acked": len(self.acked_ids),
                "records_unacked": sum(len(k.records) for k in self.kiosks), "resent": self.resent,
                "late_acks": self.late_acks, "connects": self.connects, "disconnects": self.disconnects,
                "connect_errors": dict(self.connect_errors), "bad_messages": self.bad_messages,
                "ack_lags": self.ack_lags_window, "acked_ids": self.acked_ids,
                "burst_records": self.plan.burst_records * len(self.plan.burst),
                "burst_unacked": self.burst_pending if self.plan.burst else 0,
                "burst_start": self.burst_start, "burst_done": self.burst_done,
                "cpu_s": rusage.ru_utime + rusage.ru_stime}


async def generate(plan: Plan, pipe) -> None:
    gen = Generator(plan)
    connect_s = await gen.connect_all()
    pipe.send(("ready", sum(k.online for k in gen.kiosks), connect_s, dict(gen.connect_errors)))
    go = await asyncio.to_thread(pipe.recv)
    gen.go = go[1]
    gen.window = (gen.go + plan.warmup, gen.go + plan.warmup + plan.duration)
    await asyncio.sleep(max(0.0, gen.go - time.monotonic()))
    ticker = asyncio.create_task(gen.keepalive())
    traffic = asyncio.create_task(gen.traffic())
    await asyncio.sleep(max(0.0, gen.window[1] - time.monotonic()))
    gen.connected_at_window_end = sum(k.online for k in gen.kiosks)
    if plan.burst:
        # The rest of the fleet goes on meanwhile, until every burst record is acknowledged (or the time is up).
        deadline = time.monotonic() + plan.burst_outage + plan.burst_timeout
        await gen.burst()
        while gen.burst_pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    traffic.cancel()
    await gen.settle(time.monotonic() + plan.settle)
    gen.stopping = True
    ticker.cancel()
    for k in gen.kiosks:
        k.stop()
    await asyncio.sleep(0.5)  # let the offline statuses and DISCONNECTs leave
    pipe.send(("done", gen.report(connect_s)))


def run_generator(plan: Plan, pipe) -> None:
    """Entry point of a generator process (multiprocessing, spawn)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(generate(plan, pipe))
