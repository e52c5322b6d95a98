"""Central under the country's fleet: N simulated kiosks, each with its own MQTT connection, against A `vaxkiosk
central` processes (the aggregator's ingest; the first also serves the dashboard) sharing one store, through a real
Mosquitto with the broker configuration central generates (central/broker.py: a password and an ACL per
kiosk, central on its own listener).

    python bench/fleet.py --kiosks N --duration S --aggregators A[,A...] --regions R[,R...] --store sqlite|postgresql
                          [--burst K] [--json]

--regions R: the kiosks are spread over R regional brokers (every kiosk of a site on the same one) bridged over TLS
to the national broker that central reads (central/bridge.py); 0 (the default) is one broker for kiosks and central.
With several values (`--regions 0,2`) the runs follow each other and each bridged run reports the lag it adds over the
R=0 run with the same aggregators: `bridge_extra_p50_ms`, `bridge_extra_p99_ms` (consecutive runs). Within each
bridged run a share of the sites as large as one region's connects straight to the national broker, and the run
reports the lag of both groups under the same load: `same_run_extra_p50_ms`, `same_run_extra_p99_ms` (bridged minus
direct), the figure that machine load disturbs least.

Traffic (bench/fleetsim/kiosks.py): health every --health-interval s (QoS 0), check-ins, vaccinations (90% of
check-ins) and certificate print events (85%) as Poisson streams (QoS 1, acknowledged by central after its commit,
resent by the real kiosk's rule, base.resend: one at a time, after --ack-timeout doubling to --resend-max-delay
while central acknowledges nothing), a retained queue state per check-in, retained status with a Last
Will. The default rate is the national one of issue 17: 6 check-ins per kiosk-hour and health every 10 s, so 20,000
kiosks send ~2,000 health messages/s and ~92 records/s (1.9 million doses over an 18-hour day); --checkins-per-hour
60 is a busy kiosk (the province figures of docs/performance.md). --load multiplies every rate.

The simulated kiosks run in --generators processes (default one per 5,000 kiosks), each one asyncio event loop, each
kiosk connecting from one of --sources loopback addresses (127.0.2.1, 127.0.2.2, ...: every source address has its
own range of ephemeral ports). The bench raises its open-file limit (the broker and the generators inherit it).

--burst K: after the measured window, K kiosks lose their link (the broker publishes their Will), queue
--burst-records records each (50), and come back all at once while the rest of the fleet goes on: the time from the
reconnection to the last of those records acknowledged is `burst_drain_s`.

Printed per run (one JSON line with --json, else a table row): kiosks, connected (at the end of the measured
window), aggregators, store, published and committed (health + records, during the measured window: sent by the
kiosks, and stored by central as read back from its store), lost (record ids the kiosks had acknowledged that are not
in central's store) and duplicates (rows of a record id beyond the first), lag p50/p99 of records (kiosk send time →
central's commit), central_cores and broker_cores (CPU over the window), and more (see the JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleetsim.brokers import start_brokers  # noqa: E402
from bench.fleetsim.kiosks import KIOSKS_PER_SITE, Plan, region_of, run_generator, site_of  # noqa: E402
from central import broker  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402

DISTRICTS = ["Pleiku", "An Khê", "Ayun Pa", "Chư Păh", "Ia Grai", "Mang Yang", "Kbang", "Đak Đoa", "Chư Prông"]
KIOSKS_PER_GENERATOR = 5000
BROKER_SPARE_FILES = 500  # a broker's own files beside its kiosks: listeners, central, bridges, log, persistence


def say(*parts) -> None:
    """Progress goes to stderr: stdout carries the figures (one JSON line per run with --json)."""
    print(*parts, file=sys.stderr, flush=True)


def iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def epoch(value) -> float:
    """A stored time (ISO 8601 text in SQLite, timestamptz or text in PostgreSQL) as epoch seconds."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return dt.datetime.fromisoformat(value).timestamp()


# -- what must hold before anything starts ------------------------------------------------------------------------
def raise_fd_limit(kiosks: int) -> int:
    """A broker holds one descriptor per kiosk and inherits this process's limit (so do the generators): the soft
    limit goes up to the hard one, and the hard one too when allowed (root with CAP_SYS_RESOURCE). Returns how many
    kiosks one broker can hold."""
    wanted = kiosks + BROKER_SPARE_FILES
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return kiosks
        except (ValueError, PermissionError):
            pass  # several regional brokers then (bench/fleetsim/brokers.py)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard - BROKER_SPARE_FILES


# -- central --------------------------------------------------------------------------------------------------
def write_config(path: Path, data_dir: Path, mqtt_port: int, password: str, web_port: int, n_sites: int,
                 store_url: str | None) -> None:
    sites = "".join(f'[[sites]]\nid = "{site_of(s * KIOSKS_PER_SITE)}"\nname = "Điểm tiêm {s}"\n'
                    f'district = "{DISTRICTS[s % len(DISTRICTS)]}"\nprovince = "064"\n\n' for s in range(n_sites))
    store = f'[store]\nurl = "{store_url}"\n\n' if store_url else ""
    path.write_text(f'[central]\ndata_dir = "{data_dir}"\n\n{store}[mqtt]\nport = {mqtt_port}\n'
                    f'password = "{password}"\n\n[web]\nport = {web_port}\n\n{sites}', encoding="utf-8")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """A process and its children (PostgreSQL: the postmaster and its backends)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += cpu_seconds(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return total


class StoreReader:
    """The rows central committed, read back after the run: (record_id, sent_wall, received) of every record and
    `received` of every health row. The same SQL on both stores (central.store's tables)."""

    def __init__(self, sqlite_path: Path | None = None, url: str | None = None):
        self.sqlite_path, self.url = sqlite_path, url

    def _rows(self, sql: str) -> list[tuple]:
        if self.url:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=60)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def records(self) -> list[tuple[str, str, float, float]]:
        return [(rid, kiosk, epoch(sent), epoch(received)) for rid, kiosk, sent, received
                in self._rows("SELECT record_id, kiosk, sent_wall, received FROM records")]

    def health_received(self) -> list[float]:
        return [epoch(r[0]) for r in self._rows("SELECT received FROM health_history")]

    def rejects(self) -> dict[str, int]:
        """Messages central refused, by reason (docs/protocol.md, "Rejects"): a simulator that speaks the protocol
        right has none."""
        return dict(self._rows("SELECT reason, count FROM rejects"))

    def kiosk_states(self) -> dict[str, int]:
        return dict(self._rows("SELECT state, count(*) FROM kiosks GROUP BY state"))


def quantile(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# -- one run -----------------------------------------------------------------------------------------------------
def run(aggregators: int, regions: int, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"vaxkiosk-fleet-{aggregators}-"))
    secret, central_password = secrets.token_urlsafe(16), broker.new_password()
    started = time.monotonic()
    brokers = start_brokers(args.kiosks, regions, secret, central_password, direct=regions > 0)
    say(f"{args.kiosks} kiosks " + (f"on {regions} regional broker(s) bridged to a national one" if regions else
                                    "on one broker") + f", ready in {time.monotonic() - started:.1f} s")
    pg = None
    procs: list[subprocess.Popen] = []
    generators: list[tuple[mp.Process, object]] = []
    try:
        store_url = None
        if args.store == "postgresql":
            from tests.support.postgres_server import PostgresServer

            pg = PostgresServer().start()
            store_url = pg.url(pg.create_database("central"))
        n_sites = (args.kiosks + KIOSKS_PER_SITE - 1) // KIOSKS_PER_SITE
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        web_port = free_port()
        conf = work / "central.toml"
        # One config for every process, as on a real machine: the first to bind the port serves the dashboard.
        write_config(conf, work / "central", brokers.central_port, central_password, web_port, n_sites, store_url)
        for _ in range(aggregators):
            with (work / f"central-{len(procs)}.log").open("wb") as log:
                procs.append(subprocess.Popen([sys.executable, "-m", "kiosk", "central", "--config", str(conf),
                                               "--log-level", "WARNING"], env=env, stdout=log, stderr=log))
            if not procs[1:]:
                wait_port(web_port, timeout=60)
        time.sleep(1)  # the aggregators subscribe (a record sent before that is resent after the ack timeout)

        ctx = mp.get_context("spawn")
        sources = [f"127.0.2.{s + 1}" for s in range(args.sources)]
        burst = set(range(0, args.kiosks, max(1, args.kiosks // args.burst))[:args.burst]) if args.burst else set()
        started = time.monotonic()
        for g in range(args.generators):
            indices = list(range(g, args.kiosks, args.generators))
            plan = Plan(indices=indices, host="127.0.0.1", ports=brokers.kiosk_ports, sources=sources, secret=secret,
                        warmup=args.warmup, duration=args.duration,
                        checkins_per_hour=args.checkins_per_hour, load=args.load,
                        health_interval=args.health_interval, keepalive=args.keepalive,
                        ack_timeout=args.ack_timeout, resend_max_delay=args.resend_max_delay,
                        max_inflight=args.max_inflight,
                        burst=[i for i in indices if i in burst], burst_records=args.burst_records,
                        settle=args.settle)
            parent, child = ctx.Pipe()
            p = ctx.Process(target=run_generator, args=(plan, child), daemon=True)
            p.start()
            generators.append((p, parent))
        connected = 0
        for p, pipe in generators:
            if not pipe.poll(600):
                raise SystemExit("a generator did not finish connecting its kiosks within 600 s")
            _, n, _connect_s, errors = pipe.recv()
            connected += n
            if errors:
                say(f"generator {p.pid}: connect errors {errors}")
        connect_s = time.monotonic() - started
        say(f"{connected}/{args.kiosks} kiosks connected in {connect_s:.1f} s")
        go = time.monotonic() + 0.5
        for _, pipe in generators:
            pipe.send(("go", go))
        time.sleep(max(0.0, go + args.warmup - time.monotonic()))
        since = time.time()
        c0 = sum(cpu_seconds(p.pid) for p in procs)
        k0 = sum(cpu_seconds(pid) for pid in brokers.pids)
        g0 = sum(cpu_seconds(p.pid) for p, _ in generators)
        s0 = tree_cpu_seconds(pg.pid) if pg else 0.0
        t0 = time.monotonic()
        time.sleep(max(0.0, go + args.warmup + args.duration - time.monotonic()))
        elapsed = time.monotonic() - t0
        until = time.time()
        c1 = sum(cpu_seconds(p.pid) for p in procs)
        k1 = sum(cpu_seconds(pid) for pid in brokers.pids)
        g1 = sum(cpu_seconds(p.pid) for p, _ in generators)
        s1 = tree_cpu_seconds(pg.pid) if pg else 0.0
        if burst:
            say(f"burst: {len(burst)} kiosks cut off, {args.burst_records} records each, then back")
        reports = []
        for p, pipe in generators:
            if not pipe.poll(args.burst_timeout + args.settle + 120):
                raise SystemExit("a generator did not finish")
            reports.append(pipe.recv()[1])
            p.join(30)
        for p in procs:  # SIGTERM: each commits what it holds and acknowledges it before it exits
            p.terminate()
        for p in procs:
            p.wait(60)
        reader = StoreReader(work / "central" / "central.db") if not pg else StoreReader(url=store_url)
        records = reader.records()
        health = reader.health_received()
        rejects, states = reader.rejects(), reader.kiosk_states()
    finally:
        for p, _ in generators:
            if p.is_alive():
                p.kill()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        brokers.stop()
        if pg:
            pg.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    acked = {rid for r in reports for rid in r["acked_ids"]}
    stored_ids = [rid for rid, _, _, _ in records]
    in_window = [received - sent for _rid, _k, sent, received in records if since <= received < until]
    committed = len(in_window) + sum(since <= h < until for h in health)
    published = sum(r["published_in_window"] for r in reports)
    cores = (c1 - c0) / elapsed
    rate = committed / elapsed
    ack_lags = [lag for r in reports for lag in r["ack_lags"]]
    result = {
        "kiosks": args.kiosks, "connected": sum(r["connected"] for r in reports), "aggregators": aggregators,
        "store": args.store, "published": published, "committed": committed,
        "lost": len(acked - set(stored_ids)), "duplicates": len(stored_ids) - len(set(stored_ids)),
        "lag_p50_ms": ms(quantile(in_window, 0.5)), "lag_p99_ms": ms(quantile(in_window, 0.99)),
        "central_cores": round(cores, 3), "broker_cores": round((k1 - k0) / elapsed, 3),
        "generator_cores": round((g1 - g0) / elapsed, 3),
        "store_cores": round((s1 - s0) / elapsed, 3) if pg else None,
        "published_per_s": round(published / elapsed, 1), "committed_per_s": round(rate, 1),
        "cores_per_1000_msg_s": round(cores / rate * 1000, 3) if rate else None,
        # PostgreSQL's own processes too: what a machine running central and its database spends.
        "cores_per_1000_msg_s_with_store": round((cores + (s1 - s0) / elapsed) / rate * 1000, 3)
        if rate and pg else None,
        "records_committed_per_s": round(len(in_window) / elapsed, 1),
        "ack_p50_ms": ms(quantile(ack_lags, 0.5)), "ack_p99_ms": ms(quantile(ack_lags, 0.99)),
        "records_acked": len(acked), "records_unacked": sum(r["records_unacked"] for r in reports),
        "resent": sum(r["resent"] for r in reports), "disconnects": sum(r["disconnects"] for r in reports),
        "connect_s": round(connect_s, 1), "generators": len(reports), "regions": regions, "load": args.load,
        "checkins_per_hour": args.checkins_per_hour, "duration_s": round(elapsed, 1),
        "rejects": rejects, "kiosk_states": states,
    }
    if brokers.direct:
        groups = len(brokers.kiosk_ports)
        direct = [received - sent for _rid, k, sent, received in records
                  if since <= received < until and region_of(int(k[1:]), groups) == 0]
        bridged = [received - sent for _rid, k, sent, received in records
                   if since <= received < until and region_of(int(k[1:]), groups) != 0]
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            lags = {"direct": quantile(direct, q), "bridged": quantile(bridged, q)}
            result[f"direct_lag_{name}_ms"], result[f"bridged_lag_{name}_ms"] = ms(lags["direct"]), ms(lags["bridged"])
            result[f"same_run_extra_{name}_ms"] = (ms(lags["bridged"] - lags["direct"])
                                                  if None not in lags.values() else None)
        result["direct_records"], result["bridged_records"] = len(direct), len(bridged)
    if burst:
        starts = [r["burst_start"] for r in reports if r["burst_start"] is not None]
        done = [r["burst_done"] for r in reports if r["burst_records"]]
        unacked = sum(r["burst_unacked"] for r in reports)
        result.update({"burst_kiosks": len(burst), "burst_records": sum(r["burst_records"] for r in reports),
                       "burst_unacked": unacked,
                       "burst_drain_s": round(max(done) - min(starts), 1) if not unacked and starts else None})
    if args.keep:
        say(f"kept {work} (central.toml, central logs)")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=500)
    ap.add_argument("--duration", type=float, default=30, help="measured seconds per run (after the warm-up)")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--aggregators", default="1,2", help="comma-separated numbers of central processes to try")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--load", type=float, default=1.0, help="multiplies every kiosk's message rate")
    ap.add_argument("--checkins-per-hour", type=float, default=6.0,
                    help="per kiosk (6: the national average of issue 17; 60: a busy kiosk)")
    ap.add_argument("--health-interval", type=float, default=10)
    ap.add_argument("--keepalive", type=int, default=30)
    ap.add_argument("--ack-timeout", type=float, default=30,
                    help="a kiosk resends a record not acknowledged by then (its [mqtt] ack_timeout)")
    ap.add_argument("--resend-max-delay", type=float, default=300,
                    help="the kiosks' resend backoff stops doubling there (their [mqtt] resend_max_delay)")
    ap.add_argument("--max-inflight", type=int, default=100, help="records a kiosk has sent and not yet had acked")
    ap.add_argument("--burst", type=int, default=0, help="kiosks whose link comes back after the measured window")
    ap.add_argument("--burst-records", type=int, default=50, help="records each of them drains")
    ap.add_argument("--burst-timeout", type=float, default=300)
    ap.add_argument("--settle", type=float, default=90, help="at the end, how long to wait for the last acks")
    ap.add_argument("--generators", type=int, default=0,
                    help=f"kiosk-simulating processes (default: one per {KIOSKS_PER_GENERATOR} kiosks)")
    ap.add_argument("--sources", type=int, default=8, help="loopback source addresses the kiosks connect from")
    ap.add_argument("--regions", default="",
                    help="comma-separated numbers of regional brokers bridged to the national one to try; 0 = one "
                         "broker, no bridge (default: 0, or as many regions as the open-file limit requires)")
    ap.add_argument("--json", action="store_true", help="one JSON line per run instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep each run's folder (central's config and logs)")
    args = ap.parse_args()
    args.generators = args.generators or max(1, math.ceil(args.kiosks / KIOSKS_PER_GENERATOR))
    per_broker = raise_fd_limit(args.kiosks)
    needed = 0 if args.kiosks <= per_broker else math.ceil(args.kiosks / per_broker)
    regions = [int(x) for x in args.regions.split(",")] if args.regions else [needed]
    if any(0 < r < needed or (r == 0 and needed) for r in regions):
        raise SystemExit(f"one broker holds at most {per_broker} kiosks here (open-file limit): --regions "
                         f"{needed} or more")
    header = (f"{args.kiosks} kiosks in {args.generators} generator processes, regions {args.regions or needed}, "
              f"{args.checkins_per_hour:g} check-ins "
              f"per kiosk-hour, health every {args.health_interval:g} s, load ×{args.load:g}, store {args.store}; "
              f"{args.duration:g} s measured after {args.warmup:g} s warm-up; {os.cpu_count()} CPUs")
    if args.json:
        say(header)
    else:
        print(header, flush=True)
        print("regions  centrals  published/s  committed/s  lag p50  lag p99  bridge +p50  bridge +p99"
              "  same run +p50  same run +p99  central cores  cores per 1k msg/s  broker cores  connected  lost  dup"
              "  burst drain")
    unbridged: dict[int, dict] = {}  # aggregators -> the R=0 run
    for n_regions in regions:
        for n in [int(x) for x in args.aggregators.split(",")]:
            r = run(n, n_regions, args)
            if n_regions == 0:
                unbridged[n] = r
            elif n in unbridged:
                r.update(bridge_extra(r, unbridged[n]))
            if args.json:
                print(json.dumps(r), flush=True)
                continue
            per_k = f"{r['cores_per_1000_msg_s']:.3f}" if r["cores_per_1000_msg_s"] is not None else "—"
            drain = f"{r['burst_drain_s']} s" if r.get("burst_drain_s") is not None else "—"
            extra = [f"{r[k]:+8.0f} ms" if r.get(k) is not None else "         —"
                     for k in ("bridge_extra_p50_ms", "bridge_extra_p99_ms")]
            same = [f"{r[k]:+10.0f} ms" if r.get(k) is not None else "           —"
                    for k in ("same_run_extra_p50_ms", "same_run_extra_p99_ms")]
            print(f"{n_regions:7d}  {n:8d}  {r['published_per_s']:11.0f}  {r['committed_per_s']:11.0f}"
                  f"  {r['lag_p50_ms'] or 0:5.0f} ms  {r['lag_p99_ms'] or 0:5.0f} ms  {extra[0]}  {extra[1]}"
                  f"  {same[0]}  {same[1]}"
                  f"  {r['central_cores']:13.2f}  {per_k:>18}  {r['broker_cores']:12.2f}"
                  f"  {r['connected']:9d}  {r['lost']:4d}  {r['duplicates']:3d}  {drain:>11}", flush=True)


def bridge_extra(bridged: dict, direct: dict) -> dict:
    """The lag a bridged run adds over the R=0 run before it (kiosk send → central's commit, same load)."""
    return {f"bridge_extra_{q}_ms": round(bridged[f"lag_{q}_ms"] - direct[f"lag_{q}_ms"], 1)
            if bridged[f"lag_{q}_ms"] is not None and direct[f"lag_{q}_ms"] is not None else None
            for q in ("p50", "p99")}


if __name__ == "__main__":
    main()
