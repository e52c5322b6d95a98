"""Central under a province's fleet: N simulated kiosks (each with its own MQTT connection) against 1 and 2
`vaxkiosk central` processes (the aggregator's ingest; the first also serves the dashboard) sharing one central.db,
through a real Mosquitto.

Usage: python bench/fleet.py [--kiosks 500] [--duration 30] [--load 1] [--aggregators 1,2]

Each kiosk sends health every 10 s (QoS 0) and its records (QoS 1) as Poisson streams: --checkins-per-hour check-ins
(default 60, a busy kiosk), 90% of them followed by a vaccination and 85% by a certificate print event; plus its
retained status. --load multiplies every rate (load 4 = the traffic of four times as many kiosks) to find where one
machine stops keeping up without opening thousands of connections.

Messages follow protocol v1 (kiosk/sync/protocol.py) so that central accepts them; each kiosk subscribes to its ack topic.
Printed per run: messages/s published and committed (records and health rows in central.db during the measured
window), end-to-end lag of records (kiosk send time → central's commit) p50/p99, CPU of the central processes
(cores) and per 1,000 msg/s, CPU of the broker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402

PREFIX = "vaxkiosk/v1"
KIOSKS_PER_SITE = 5
DISTRICTS = ["Pleiku", "An Khê", "Ayun Pa", "Chư Păh", "Ia Grai", "Mang Yang", "Kbang", "Đak Đoa", "Chư Prông"]


def site_of(i: int) -> str:
    return f"GL-{i // KIOSKS_PER_SITE:03d}"


# What each stream's record carries besides the envelope (no real personal data: the bench's person is invented).
RECORD_BODY = {
    "checkins": lambda n: {"type": "checkin", "day": dt.date.today().isoformat(), "ticket": n,
                           "scan_kind": "cccd_qr", "source": "camera"},
    "vaccinations": lambda n: {"type": "vaccination", "checkin_id": uuid.uuid4().hex, "dose_number": 1,
                               "person": {"id_number": "064195000000", "full_name": "Bench", "dob": "1995-08-12",
                                          "sex": "F"},
                               "vaccine": {"code": "comirnaty"}, "lot": "FK1234", "uvci": f"URN:UVCI:01:VN:{n}"},
    "print_events": lambda n: {"type": "print_event", "kind": "certificate", "state": "done",
                               "checkin_id": uuid.uuid4().hex, "copy": 0},
}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# -- the kiosks (a separate process, so their CPU is not counted as central's) ------------------------------------
def run_kiosks(indices: list[int], port: int, load: float, checkins_per_hour: float, health_interval: float,
               seconds: float, ready, go, published) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from base.protocol import encode

    clients = []
    boot = uuid.uuid4().hex
    for i in indices:
        kiosk, site = f"k{i:05d}", site_of(i)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=kiosk, protocol=mqtt.MQTTv5)
        c.username_pw_set(kiosk)
        c.will_set(f"{PREFIX}/{site}/{kiosk}/status", json.dumps({"schema": 1, "site": site, "kiosk": kiosk,
                   "state": "lost", "boot_id": boot}), qos=1, retain=True)
        acked = threading.Event()

        def on_connect(client, userdata, flags, reason, properties, t=f"{PREFIX}/{site}/{kiosk}/ack", ev=acked):
            client.subscribe(t, qos=1)
            ev.set()

        c.on_connect = on_connect
        # One at a time, each until its CONNACK: hundreds of connects in a burst overflow the broker's accept
        # backlog, and a connection the broker never accepted looks established to the client until it times out.
        for _attempt in range(5):
            c.connect("127.0.0.1", port, keepalive=60)
            c.loop_start()
            if acked.wait(5):
                break
            c.loop_stop()
        else:
            raise RuntimeError(f"{kiosk} could not connect")
        c.publish(f"{PREFIX}/{site}/{kiosk}/status", encode("status", {"schema": 1, "site": site, "kiosk": kiosk,
                  "state": "online", "boot_id": boot, "version": "bench"}), qos=1, retain=True)
        clients.append((c, site, kiosk))
    ready.set()
    go.wait()
    rng = random.Random(os.getpid())
    rate = checkins_per_hour * load / 3600
    streams = (("checkins", rate), ("vaccinations", rate * 0.9), ("print_events", rate * 0.85))
    start = time.time()
    mono0 = time.monotonic()
    next_health = [start + rng.uniform(0, health_interval / load) for _ in clients]
    next_record = [[start + rng.expovariate(r) for _, r in streams] for _ in clients]
    count = 0
    ticket = 0
    while time.time() - start < seconds:
        now = time.time()
        for j, (c, site, kiosk) in enumerate(clients):
            stamp = {"wall": now_iso(), "mono": round(time.monotonic() - mono0 + 1, 3), "boot_id": boot,
                     "clock_synced": True}
            envelope = {"schema": 1, "site": site, "kiosk": kiosk, "at": stamp}
            if next_health[j] <= now:
                health = {**envelope, "uptime_s": 100.0, "load": 0.2, "disk_free_mb": 9000.0,
                          "disk_used_pct": 40.0, "db_bytes": 1 << 20, "outbox_backlog": 0, "outbox_oldest_s": 0.0,
                          "version": "bench", "config_rev": "bench", "parts": {},
                          "camera": {"capturing": True, "fps": 15.0},
                          "printer": {"ok": True, "state": "ok",
                                      "status": {"known": True, "online": True, "paper": "ok"}}}
                c.publish(f"{PREFIX}/{site}/{kiosk}/health", encode("health", health), qos=0)
                next_health[j] += health_interval / load
                count += 1
            for s, (stream, r) in enumerate(streams):
                while next_record[j][s] <= now:
                    ticket += 1
                    record = {**envelope, **RECORD_BODY[stream](ticket), "record_id": uuid.uuid4().hex}
                    c.publish(f"{PREFIX}/{site}/{kiosk}/records/{stream}", encode("record", record, stream), qos=1)
                    next_record[j][s] += rng.expovariate(r)
                    count += 1
        time.sleep(0.02)
    published.value += count
    for c, site, kiosk in clients:
        c.publish(f"{PREFIX}/{site}/{kiosk}/status", encode("status", {"schema": 1, "site": site, "kiosk": kiosk,
                  "state": "offline", "boot_id": boot}), qos=1, retain=True)
        c.disconnect()
        c.loop_stop()


# -- measuring central ------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def committed(db: Path, since: str, until: str) -> tuple[int, list[float]]:
    """Messages stored in central.db between two instants (records + health rows) and the records' lags (s)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        lags = sorted(r[0] for r in conn.execute(
            "SELECT (julianday(received) - julianday(sent_wall)) * 86400.0 FROM records "
            "WHERE received >= ? AND received < ?", (since, until)))
        # Every central process stores every health report (normal subscription): count each report once.
        health = conn.execute("SELECT count(DISTINCT kiosk || json_extract(payload, '$.at.wall')) FROM health_history "
                              "WHERE received >= ? AND received < ?", (since, until)).fetchone()[0]
    finally:
        conn.close()
    return len(lags) + health, lags


def quantile(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def write_config(path: Path, data_dir: Path, mqtt_port: int, web_port: int, n_sites: int) -> None:
    sites = "".join(f'[[sites]]\nid = "{site_of(s * KIOSKS_PER_SITE)}"\nname = "Điểm tiêm {s}"\n'
                    f'district = "{DISTRICTS[s % len(DISTRICTS)]}"\nprovince = "064"\n\n' for s in range(n_sites))
    path.write_text(f'[central]\ndata_dir = "{data_dir}"\n\n[mqtt]\nport = {mqtt_port}\n\n'
                    f'[web]\nport = {web_port}\n\n{sites}', encoding="utf-8")


def iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def run(aggregators: int, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"vaxkiosk-fleet-{aggregators}-"))
    broker = Mosquitto(work / "mosquitto", extra_config="max_connections -1").start()
    n_sites = (args.kiosks + KIOSKS_PER_SITE - 1) // KIOSKS_PER_SITE
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    web_port = free_port()
    conf = work / "central.toml"
    # One config for every process, as on a real machine: the first to bind the port serves the dashboard.
    write_config(conf, work / "central", broker.port, web_port, n_sites)
    procs = []
    for _ in range(aggregators):
        with (work / f"central-{len(procs)}.log").open("wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "kiosk", "central", "--config", str(conf),
                                           "--log-level", "WARNING"], env=env, stdout=log, stderr=log))
        if not procs[1:]:
            wait_port(web_port, timeout=30)
    time.sleep(1)
    ctx = mp.get_context("spawn")
    published = ctx.Value("q", 0)
    go = ctx.Event()
    generators = []
    indices = list(range(args.kiosks))
    for g in range(args.generators):
        ready = ctx.Event()
        p = ctx.Process(target=run_kiosks, args=(indices[g::args.generators], broker.port, args.load,
                                                 args.checkins_per_hour, args.health_interval,
                                                 args.warmup + args.duration, ready, go, published))
        p.start()
        generators.append((p, ready))
    for p, ready in generators:
        if not ready.wait(300):
            raise SystemExit("the simulated kiosks could not connect")
    go.set()
    time.sleep(args.warmup)
    t0, since, c0 = time.monotonic(), iso_now(), sum(cpu_seconds(p.pid) for p in procs)
    k0 = cpu_seconds(broker.proc.pid)
    time.sleep(args.duration)
    t1, until, c1 = time.monotonic(), iso_now(), sum(cpu_seconds(p.pid) for p in procs)
    k1 = cpu_seconds(broker.proc.pid)
    for p, _ in generators:
        p.join(120)
    time.sleep(2)  # let the last records in flight be committed before counting the window
    for p in procs:
        p.terminate()
        p.wait(30)
    broker.stop()
    elapsed = t1 - t0
    stored, lags = committed(work / "central" / "central.db", since, until)
    rate = stored / elapsed
    cores = (c1 - c0) / elapsed
    return {"aggregators": aggregators, "kiosks": args.kiosks, "load": args.load,
            "published_per_s": published.value / (args.warmup + args.duration), "committed_per_s": rate,
            "lag_p50_ms": (quantile(lags, 0.5) or 0) * 1000, "lag_p99_ms": (quantile(lags, 0.99) or 0) * 1000,
            "central_cores": cores, "cores_per_1000_msg_s": cores / rate * 1000 if rate else None,
            "broker_cores": (k1 - k0) / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=500)
    ap.add_argument("--duration", type=float, default=30, help="measured seconds per run (after the warm-up)")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--load", type=float, default=1.0, help="multiplies every kiosk's message rate")
    ap.add_argument("--checkins-per-hour", type=float, default=60)
    ap.add_argument("--health-interval", type=float, default=10)
    ap.add_argument("--aggregators", default="1,2", help="comma-separated numbers of central processes to try")
    ap.add_argument("--generators", type=int, default=0,
                    help="kiosk-simulating processes (default: one per 250 kiosks; paho's select() loop cannot "
                         "use file descriptors above 1024, about 330 clients per process)")
    ap.add_argument("--json", action="store_true", help="one JSON line per run instead of the table")
    args = ap.parse_args()
    args.generators = args.generators or -(-args.kiosks // 250)
    print(f"{args.kiosks} kiosks, load ×{args.load:g}, {args.duration:g} s measured after {args.warmup:g} s warm-up; "
          f"{os.cpu_count()} CPUs", flush=True)
    print("centrals  published/s  committed/s  lag p50  lag p99  central cores  cores per 1k msg/s  broker cores")
    for n in [int(x) for x in args.aggregators.split(",")]:
        r = run(n, args)
        if args.json:
            print(json.dumps(r), flush=True)
            continue
        per_k = f"{r['cores_per_1000_msg_s']:.3f}" if r["cores_per_1000_msg_s"] is not None else "—"
        print(f"{n:8d}  {r['published_per_s']:11.0f}  {r['committed_per_s']:11.0f}  {r['lag_p50_ms']:5.0f} ms"
              f"  {r['lag_p99_ms']:5.0f} ms  {r['central_cores']:13.2f}  {per_k:>18}  {r['broker_cores']:12.2f}",
              flush=True)


if __name__ == "__main__":
    main()
