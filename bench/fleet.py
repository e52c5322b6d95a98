"""Central under a province's fleet: N simulated kiosks (each with its own MQTT connection) against 1 and 2 fleet
monitor processes (`vaxkiosk central-ops`, sharing one ops.db), through a real Mosquitto.

Usage: python bench/fleet.py [--kiosks 500] [--duration 30] [--load 1] [--aggregators 1,2]

Each kiosk sends health every 10 s (QoS 0) and its records (QoS 1) as Poisson streams: --checkins-per-hour check-ins
(default 60, a busy kiosk), 90% of them followed by a vaccination and 85% by a certificate print event; plus its
retained status. --load multiplies every rate (load 4 = the traffic of four times as many kiosks) to find where one
machine stops keeping up without opening thousands of connections.

Printed per run: messages/s published and committed, end-to-end lag (kiosk time stamp → commit in ops.db) p50/p99
from the monitors' Prometheus histograms, CPU of the monitors (cores) and per 1,000 msg/s, CPU of the broker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
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


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


# -- the kiosks (a separate process, so their CPU is not counted as central's) ------------------------------------
def run_kiosks(indices: list[int], port: int, load: float, checkins_per_hour: float, health_interval: float,
               seconds: float, ready, go, published) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    clients = []
    for i in indices:
        kiosk, site = f"k{i:05d}", site_of(i)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=kiosk, protocol=mqtt.MQTTv5)
        c.username_pw_set(kiosk)
        c.will_set(f"{PREFIX}/{site}/{kiosk}/status", json.dumps({"schema": 1, "state": "lost"}), qos=1, retain=True)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", port, keepalive=60)
        c.loop_start()
        c.publish(f"{PREFIX}/{site}/{kiosk}/status", json.dumps({"schema": 1, "state": "online", "at": now_iso()}),
                  qos=1, retain=True)
        clients.append((c, site, kiosk))
    ready.set()
    go.wait()
    rng = random.Random(os.getpid())
    rate = checkins_per_hour * load / 3600
    streams = (("checkins", "checkin", rate), ("vaccinations", "vaccination", rate * 0.9),
               ("print_events", "print_event", rate * 0.85))
    start = time.time()
    next_health = [start + rng.uniform(0, health_interval / load) for _ in clients]
    next_record = [[start + rng.expovariate(r) for _, _, r in streams] for _ in clients]
    count = 0
    while time.time() - start < seconds:
        now = time.time()
        for j, (c, site, kiosk) in enumerate(clients):
            if next_health[j] <= now:
                health = {"schema": 1, "at": now_iso(), "version": "0.1.0", "clock_synced": True,
                          "disk": {"used_pct": 40.0}, "printer": {"state": "ok", "paper": "ok"},
                          "camera": {"enabled": True, "fps": 15.0}, "outbox": {"backlog": 0, "oldest_age_s": 0}}
                c.publish(f"{PREFIX}/{site}/{kiosk}/health", json.dumps(health), qos=0)
                next_health[j] += health_interval / load
                count += 1
            for s, (stream, kind, r) in enumerate(streams):
                while next_record[j][s] <= now:
                    record = {"schema": 1, "type": kind, "record_id": uuid.uuid4().hex, "site": site,
                              "kiosk": kiosk, "at": {"wall": now_iso(), "clock_synced": True}}
                    if kind == "print_event":
                        record.update(kind="certificate", copy=0, state="done")
                    c.publish(f"{PREFIX}/{site}/{kiosk}/records/{stream}", json.dumps(record), qos=1)
                    next_record[j][s] += rng.expovariate(r)
                    count += 1
        time.sleep(0.02)
    published.value += count
    for c, site, kiosk in clients:
        c.publish(f"{PREFIX}/{site}/{kiosk}/status", json.dumps({"schema": 1, "state": "offline"}), qos=1,
                  retain=True)
        c.disconnect()
        c.loop_stop()


# -- measuring central ------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int) -> tuple[float, dict[str, float]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    messages = sum(float(v) for v in re.findall(r'^vaxkiosk_central_messages_total\{[^}]*\} (\S+)', text, re.M))
    buckets = {le: float(v) for le, v in re.findall(r'^vaxkiosk_central_lag_seconds_bucket\{le="([^"]+)"\} (\S+)',
                                                     text, re.M)}
    return messages, buckets


def quantile(buckets: dict[str, float], q: float) -> float | None:
    """Linear interpolation inside the histogram bucket holding the q-th observation (as Prometheus does)."""
    items = sorted(((float("inf") if le == "+Inf" else float(le)), n) for le, n in buckets.items())
    total = items[-1][1] if items else 0
    if not total:
        return None
    target, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in items:
        if cumulative >= target:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (target - below) / max(cumulative - below, 1e-9)
        lower, below = bound, cumulative
    return lower


def write_config(path: Path, data_dir: Path, mqtt_port: int, web_port: int, n_sites: int, name: str) -> None:
    sites = "".join(f'[[sites]]\nid = "{site_of(s * KIOSKS_PER_SITE)}"\nname = "Điểm tiêm {s}"\n'
                    f'district = "{DISTRICTS[s % len(DISTRICTS)]}"\nprovince = "064"\n\n' for s in range(n_sites))
    path.write_text(f'[ops]\ndata_dir = "{data_dir}"\nmqtt_port = {mqtt_port}\nmqtt_client_id = "{name}"\n\n'
                    f'[web]\nport = {web_port}\n\n{sites}', encoding="utf-8")


def run(aggregators: int, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"vaxkiosk-fleet-{aggregators}-"))
    broker = Mosquitto(work / "mosquitto", extra_config="max_connections -1\nmax_inflight_messages 1000").start()
    procs, ports = [], []
    n_sites = (args.kiosks + KIOSKS_PER_SITE - 1) // KIOSKS_PER_SITE
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for a in range(aggregators):
        port = free_port()
        conf = work / f"central-{a}.toml"
        write_config(conf, work / "central", broker.port, port, n_sites, f"bench-ops-{a}")
        procs.append(subprocess.Popen([sys.executable, "-m", "kiosk", "central-ops", "--config", str(conf),
                                       "--log-level", "WARNING"], env=env, stdout=subprocess.DEVNULL))
        ports.append(port)
    for port in ports:
        wait_port(port, timeout=30)
    ctx = mp.get_context("fork")
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
        ready.wait(300)
    go.set()
    time.sleep(args.warmup)

    def sample():
        scraped = [scrape(port) for port in ports]
        buckets: dict[str, float] = {}
        for _, b in scraped:
            for le, n in b.items():
                buckets[le] = buckets.get(le, 0) + n
        return (time.monotonic(), sum(m for m, _ in scraped), buckets, sum(cpu_seconds(p.pid) for p in procs),
                cpu_seconds(broker.proc.pid))

    t0, m0, b0, c0, k0 = sample()
    time.sleep(args.duration)
    t1, m1, b1, c1, k1 = sample()
    for p, _ in generators:
        p.join(120)
    for p in procs:
        p.terminate()
        p.wait(30)
    broker.stop()
    elapsed = t1 - t0
    window = {le: b1[le] - b0.get(le, 0) for le in b1}
    rate = (m1 - m0) / elapsed
    cores = (c1 - c0) / elapsed
    return {"aggregators": aggregators, "kiosks": args.kiosks, "load": args.load,
            "published_per_s": published.value / (args.warmup + args.duration), "committed_per_s": rate,
            "lag_p50_ms": (quantile(window, 0.5) or 0) * 1000, "lag_p99_ms": (quantile(window, 0.99) or 0) * 1000,
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
    ap.add_argument("--aggregators", default="1,2", help="comma-separated numbers of monitor processes to try")
    ap.add_argument("--generators", type=int, default=1, help="kiosk-simulating processes")
    ap.add_argument("--json", action="store_true", help="one JSON line per run instead of the table")
    args = ap.parse_args()
    print(f"{args.kiosks} kiosks, load ×{args.load:g}, {args.duration:g} s measured after {args.warmup:g} s warm-up; "
          f"{os.cpu_count()} CPUs", flush=True)
    print("monitors  published/s  committed/s  lag p50  lag p99  central cores  cores per 1k msg/s  broker cores")
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
