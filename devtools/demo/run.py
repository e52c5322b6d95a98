"""The demo's order of events: set up central and the broker, enrol two kiosks, start every process, staff the
desks, show progress; with a time limit, drain the queues and judge the summary. Ctrl-C / SIGTERM stop it all."""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from devtools.demo import site, summary
from devtools.demo.citizens import Citizens
from devtools.demo.processes import Processes, vaxkiosk_argv, wait_path
from devtools.demo.staff import StaffDesk
from devtools.ports import wait_port

PROGRESS_SECONDS = 5.0
SETTLED_SECONDS = 3.0  # the summary adds up and stays so for this long: nothing was still on its way
# One card in the video is 2.4 s (gap, approach, hold, retreat: 24 frames at 10 fps), plus its share of bad codes.
SECONDS_PER_CITIZEN = 3.0


def say(text: str = "") -> None:
    print(text, flush=True)


def work_dir(requested: str | None) -> Path:
    if requested is None:
        return Path(tempfile.mkdtemp(prefix="vaxkiosk-demo-"))
    path = Path(requested).resolve()
    if path.exists() and any(path.iterdir()):
        raise SystemExit(f"vaxkiosk demo: {path} is not empty (the demo sets up a fresh site there)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def citizens_for(seconds: float | None) -> int:
    # A timed run's video holds about as many people as its time shows, so the queue can empty afterwards (a
    # person seen again the same day gets their existing ticket, not a new check-in).
    return 24 if seconds is None else max(4, int(seconds / SECONDS_PER_CITIZEN))


class Interrupted(Exception):
    """Ctrl-C / SIGTERM during the set-up: stop there instead of finishing it first."""


class Demo:
    def __init__(self, root: Path, seconds: float | None, drain_seconds: float):
        self.root, self.seconds, self.drain_seconds = root, seconds, drain_seconds
        (root / "logs").mkdir(exist_ok=True)
        self.procs = Processes(root / "logs")
        self.stop = threading.Event()
        self.staff_stop = threading.Event()
        self.kiosks: list[site.KioskSetup] = []
        self.desks: list[StaffDesk] = []
        self.citizens: list[Citizens] = []
        self.threads: list[threading.Thread] = []

    # -- start --------------------------------------------------------------------------------------------------
    def step(self) -> None:
        if self.stop.is_set():
            raise Interrupted

    def start(self) -> None:
        say(f"==> demo folder {self.root} (logs in {self.root / 'logs'})")
        self.central = site.write_central(self.root)
        site.register_sites(self.central)
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        broker = self.procs.start("mosquitto", [mosquitto, "-c", str(site.broker_main_conf(self.central))])
        wait_port(self.central.broker_port, timeout=20, proc=broker)
        wait_port(self.central.central_port, timeout=20, proc=broker)
        say(f"==> Mosquitto on 127.0.0.1:{self.central.broker_port} (kiosks) and :{self.central.central_port} "
            "(central), generated password file + ACL")
        central = self.procs.start("central", vaxkiosk_argv("central", "--config", str(self.central.config)))
        wait_port(self.central.web_port, timeout=60, proc=central)
        citizens = citizens_for(self.seconds)
        for s in site.SITES:
            kiosk = site.enrol_kiosk(self.central, s, self.root, citizens)
            say(f"==> enrolled {kiosk.kiosk_id} at {s.id} ({s.name}) with a one-time set-up code")
            self.kiosks.append(kiosk)
            self.step()
        missing = [k for k in self.kiosks if not site.cached_video(k)]
        if missing:
            say(f"==> drawing the camera videos ({citizens} citizens per kiosk, plus invalid and non-ID codes; "
                f"about {citizens * 1.5:.0f} s the first time, kept in {site.video_cache()})")
            # One process per video: drawing frames is CPU-bound numpy (35-50 ms a frame).
            with concurrent.futures.ProcessPoolExecutor(len(missing)) as pool:
                list(pool.map(site.write_video, missing))
        self.step()
        for k in self.kiosks:
            k.printer_out.mkdir()
            printer = self.procs.start(f"printer-{k.site.id}", vaxkiosk_argv(
                "virtual-printer", "--port", str(k.printer_port), "--out", str(k.printer_out)))
            wait_port(k.printer_port, timeout=20, proc=printer)
        for k in self.kiosks:
            self.procs.start(f"modem-{k.site.id}", [sys.executable, "-m", "drivers.virtual_modem", "--path",
                                                    str(k.modem), "--record", str(k.modem_record)])
        for k in self.kiosks:
            wait_path(k.modem)
            proc = self.procs.start(f"kiosk-{k.site.id}", vaxkiosk_argv("kiosk", "--config", str(k.config)))
            wait_port(k.web_port, timeout=60, proc=proc)
        self.step()
        self.print_urls()
        for k in self.kiosks:
            desk = StaffDesk(k)
            self.desks.append(desk)
            thread = threading.Thread(target=desk.work, args=(self.staff_stop,), name=f"staff-{k.site.id}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
            citizens = Citizens(k)
            self.citizens.append(citizens)
            thread = threading.Thread(target=citizens.work, args=(self.staff_stop,), name=f"citizens-{k.site.id}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)

    def print_urls(self) -> None:
        say()
        say(f"Central dashboard   {self.central.url}/        login {site.OPS_USER} / {site.OPS_PASSWORD}")
        for k in self.kiosks:
            say(f"{k.kiosk_id} ({k.site.name})")
            say(f"  citizen screen    {k.url}/")
            say(f"  staff desk        {k.url}/staff     login {site.STAFF_NAME} / PIN {site.STAFF_PIN}")
            say(f"  waiting room      {k.url}/display")
            say(f"  printed receipts  {k.printer_out}/receipt-*.png")
            say(f"  texts sent        {k.modem_record} (virtual modem; listed at the end)")
        say()
        say("Ctrl-C stops everything." if self.seconds is None else f"Running for {self.seconds:.0f} s.")
        say()

    # -- run ----------------------------------------------------------------------------------------------------
    def watch(self) -> bool:
        """Progress until the time is up or a stop is asked; False when a process died on its own."""
        deadline = None if self.seconds is None else time.monotonic() + self.seconds
        while not self.stop.wait(PROGRESS_SECONDS if deadline is None
                                 else max(0.0, min(PROGRESS_SECONDS, deadline - time.monotonic()))):
            dead = self.procs.exited()
            if dead:
                say(f"!! process ended on its own: {dead} (see {self.root / 'logs'})")
                return False
            say(time.strftime("%H:%M:%S ") + summary.progress_line(summary.count_all(self.central, self.kiosks)))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return True

    def drain(self) -> list[summary.KioskCount]:
        """Staff keep working until nobody is in the queue; wait until the figures add up and stay so (bounded)."""
        say(f"==> time is up: letting the queues drain (at most {self.drain_seconds:.0f} s)")
        deadline = time.monotonic() + self.drain_seconds
        settled_since = None
        counts = summary.count_all(self.central, self.kiosks)
        while time.monotonic() < deadline and not self.stop.is_set():
            counts = summary.count_all(self.central, self.kiosks)
            if summary.problems(counts):
                settled_since = None
            elif settled_since is None:
                settled_since = time.monotonic()
            elif time.monotonic() - settled_since >= SETTLED_SECONDS:
                break
            self.stop.wait(0.5)
        return summary.count_all(self.central, self.kiosks)

    def shutdown(self) -> None:
        self.staff_stop.set()
        for t in self.threads:
            t.join(20)
        killed = self.procs.stop()
        say("==> stopped every process the demo started" + (f" (had to kill: {', '.join(killed)})" if killed else ""))

    def report(self, counts: list[summary.KioskCount]) -> list[str]:
        found = summary.problems(counts)
        for desk in self.desks:
            if desk.errors:
                found.append(f"{desk.kiosk.kiosk_id}: staff desk errors ({len(desk.errors)}), first: {desk.errors[0]}")
        say()
        say(summary.table(counts))
        say()
        say(summary.texts_listing(self.kiosks))
        (self.root / "summary.json").write_text(json.dumps(
            {"kiosks": summary.as_json(counts), "texts": summary.texts_json(self.kiosks), "problems": found},
            ensure_ascii=False, indent=1), encoding="utf-8")
        say()
        if found:
            say("DOES NOT ADD UP:")
            for p in found:
                say(f"  - {p}")
        else:
            say("OK: check-ins = tickets printed = check-ins at central; vaccinations = certificates printed = "
                "vaccinations at central = certificates at central; reprints printed = reprints at central; "
                "texts marked sent = texts the modem took; nothing pending.")
        return found


def run(dir_arg: str | None, seconds: float | None, drain_seconds: float) -> int:
    demo = Demo(work_dir(dir_arg), seconds, drain_seconds)
    interrupted = threading.Event()

    def on_signal(*_):
        interrupted.set()
        demo.stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        demo.start()
        healthy = demo.watch()
        if not healthy:
            demo.report(summary.count_all(demo.central, demo.kiosks))
            return 1
        if interrupted.is_set():
            say("==> stopping")
            if seconds is None:
                say("Where things stood (not judged: records and prints may still have been on their way):")
                say(summary.table(summary.count_all(demo.central, demo.kiosks)))
                return 0
            return 130
        counts = demo.drain()
        if interrupted.is_set():
            return 130
        return 1 if demo.report(counts) else 0
    except Interrupted:
        say("==> stopped during the set-up")
        return 130
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"vaxkiosk demo: {exc} (logs in {demo.root / 'logs'})", file=sys.stderr)
        return 1
    finally:
        demo.shutdown()
