"""`make bench`: every benchmark in bench/ with short arguments, one summary table at the end.

    PYTHONPATH=. python bench/run_all.py [--only NAME[,NAME]] [--markdown]

Each benchmark runs as its own process (as its docstring says to run it) with arguments chosen so the whole set takes
about 6-8 minutes on the reference machine (2 cores); each has a time limit. The key figures are read from what the
script prints (the patterns below): a benchmark whose output changes shape shows "figure not found" rather than a
wrong number. The full outputs are kept in bench-results/<name>.txt. Short runs are noisier than the documented
ones in docs/performance.md; the command column says how to reproduce a figure with the documented arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    measures: str
    # (regex with groups, template filled with the groups): each match found adds one figure.
    figures: tuple[tuple[str, str], ...]
    timeout: float = 180

    @property
    def command(self) -> str:
        return " ".join(["python", f"bench/{self.name}.py", *self.args])


BENCHES = (
    Bench("checkin", ("--count", "2000"), "durable check-ins/s on SQLite (WAL, synchronous=FULL); commit latency",
          ((r"= (\d+) check-ins/s", "{} check-ins/s"),
           (r"commit latency: p50 ([\d.]+) ms, p99 ([\d.]+) ms", "commit p50 {} ms, p99 {} ms"))),
    Bench("print", ("--runs", "5"), "ESC/POS bytes and render time per job (TM-T88V 80 mm)",
          ((r"TM-T88V\s+80mm\s+ticket\s+(\d+)\s+([\d.]+)", "ticket {} B in {} ms"),
           (r"TM-T88V\s+80mm\s+certificate\s+(\d+)\s+([\d.]+)", "certificate {} B in {} ms"))),
    Bench("certificates", (), "HC1 certificate size, ES256 sign and verify, QR decode, the EU conformance cases",
          ((r"HC1 text: (\d+) characters; QR version (\d+)", "HC1 {} chars, QR v{}"),
           (r"sign .*median ([\d.]+) ms", "sign {} ms"),
           (r"verify .*median ([\d.]+) ms", "verify {} ms"),
           (r"verify the (\d+) dgc-testdata cases: .*, ([\d.]+) ms per case", "{} dgc-testdata cases {} ms each"))),
    Bench("scan", ("--frames", "40", "--payloads", "100"),
          "QR read rate and cost on synthetic camera frames against zxing-cpp's single pass; time to read a card "
          "brought into view; Vietnamese exactness; frame → committed check-in",
          ((r"^\| (zxing-cpp) \| 640×480 \| ([\d.]+%) \| ([\d.]+%) \|", "{} 640×480: easy {}, hard {}"),
           (r"^\| (twopass) \| 640×480 \| ([\d.]+%) \| ([\d.]+%) \|(?:[^|]*\|){4} ([^|]+?) \|",
            "{} 640×480: easy {}, hard {}, × zxing-cpp (easy / empty) {}"),
           (r"^\| (twopass) \| \d+/\d+ \| ([^|]+?) \|", "{} time to read p50 / p95 {} frames"),
           (r"^\| (twopass) \| (\d+/\d+) \| \d+ \| \d+ \|$", "{} Vietnamese exact {}"),
           (r"^median ([\d.]+) ms, p95 ([\d.]+) ms", "frame → check-in p50 {} ms, p95 {} ms")),
          timeout=300),
    Bench("screens_latency", ("--scans", "15"), "scan → citizen screen drawn (Chromium, SSE)",
          ((r"scan-to-screen\s+median\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", "p50 {} ms, p95 {} ms"),)),
    Bench("sync", ("--count", "500", "--live", "60", "--runs", "1"),
          "kiosk → central: backlog drain rate and commit-to-commit latency",
          ((r"drained at (\d+) records/s", "drain {} records/s"),
           (r"p50 ([\d.]+) ms, p99 ([\d.]+) ms$", "latency p50 {} ms, p99 {} ms"))),
    Bench("provisioning", ("--runs", "3"), "enrolment code → provisioned kiosk; revocation → connection closed",
          ((r"provision .*median (\d+) ms", "provision {} ms"),
           (r"revoke .*median ([\d.]+) ms", "revoke {} ms"))),
    Bench("fleet", ("--kiosks", "200", "--duration", "15", "--aggregators", "1"),
          "central ingest under a fleet of simulated kiosks (real MQTT connections)",
          ((r"^\s*1\s+(\d+)\s+(\d+)\s+(\d+) ms\s+(\d+) ms", "published {}/s, committed {}/s, lag p50 {} ms, p99 {} ms"),),
          timeout=240),
    Bench("sms", ("--runs", "3"), "one SMS through Gammu against the virtual modem: command line, python-gammu",
          ((r"gammu sendsms .*median ([\d.]+) s", "gammu sendsms {} s/message"),
           (r"connection kept: set-up ([\d.]+) s, then median ([\d.]+) s", "python-gammu set-up {} s, then {} s"
                                                                            "/message"))),
    Bench("central_pages", ("--kiosks", "100", "--days", "7", "--people", "20", "--runs", "10"),
          "numbers pages' time on central's store filled with a week of 100 kiosks (docs: a month of 500)",
          ((r"^numbers today \(sites\)\s+(\d+)\s+(\d+)\s", "numbers today p50 {} ms, p95 {} ms"),
           (r"^numbers month \(provinces\)\s+(\d+)\s+(\d+)\s", "range p50 {} ms, p95 {} ms"),
           (r"^worst p95: (\d+) ms", "worst p95 {} ms")),
          timeout=300),
    Bench("health_history", ("--kiosks", "1000", "--minute-kiosks", "100", "--raw-kiosks", "20", "--records-kiosks",
                             "10", "--runs", "5"),
          "a month of health in tiers (1,000 kiosks; docs: 20,000): roll-up rate, kiosk page per tier, numbers pages",
          ((r"^roll-up of the full-density minutes: .*: ([\d,]+) raw rows/s", "roll-up {} reports/s"),
           (r"^kiosk, a week \(minutes\)\s+(\d+)\s+(\d+)\s", "kiosk page, a week of minutes p50 {} ms, p95 {} ms"),
           (r"^worst p95: (\d+) ms", "worst p95 {} ms")),
          timeout=300),
)


def run(bench: Bench, out_dir: Path) -> tuple[str, float]:
    """(figures or the reason there are none, seconds)."""
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench.name}.py"), *bench.args], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=bench.timeout)
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        (out_dir / f"{bench.name}.txt").write_text(output)
        return f"timed out after {bench.timeout:.0f} s", time.monotonic() - started
    elapsed = time.monotonic() - started
    (out_dir / f"{bench.name}.txt").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed (exit {done.returncode}): {last[:120]}", elapsed
    found = []
    for pattern, template in bench.figures:
        match = re.search(pattern, done.stdout, re.MULTILINE)
        if match:
            found.append(template.format(*(g.strip() for g in match.groups())))
    return "; ".join(found) or "figure not found (see the output file)", elapsed


def table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| benchmark | what it measures | figure (short run) | command |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {what} | {figure} | `{command}` |" for name, what, figure, command in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--out", default=str(ROOT / "bench-results"), help="folder for the full outputs")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    listed = {b.name for b in BENCHES} | {"run_all"}
    unlisted = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem not in listed)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, failed, total = [], 0, 0.0
    for bench in chosen:
        print(f"==> {bench.command}", file=sys.stderr, flush=True)
        figure, seconds = run(bench, out_dir)
        total += seconds
        failed += figure.startswith(("failed", "timed out", "figure not found"))
        print(f"    {figure} ({seconds:.0f} s)", file=sys.stderr, flush=True)
        rows.append((bench.name, bench.measures, figure, bench.command))
    for name in unlisted:
        rows.append((name, "not in bench/run_all.py yet", "—", f"python bench/{name}.py"))
    print(table(rows))
    print(f"\n{len(chosen)} benchmarks in {total:.0f} s; full outputs in {out_dir}", file=sys.stderr)
    return 1 if failed or unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
