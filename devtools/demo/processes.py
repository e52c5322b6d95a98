"""The demo's child processes: started with their output in a log file, ended by their own pid only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def wait_path(path: Path, timeout: float = 20.0) -> None:
    """A device a child process creates (the virtual modem's pty link)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear after {timeout:.0f} s")
        time.sleep(0.05)


def vaxkiosk_argv(*args: str) -> list[str]:
    """The CLI of the running installation (same interpreter, same package), as a child process."""
    return [sys.executable, "-m", "kiosk", *args]


def child_env() -> dict:
    # The package the demo runs from must be the one its children import (a checkout run with PYTHONPATH too).
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


def run_cli(*args: str, stdin: str | None = None) -> str:
    """A one-shot `vaxkiosk ...` set-up command; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(vaxkiosk_argv(*args), input=stdin, capture_output=True, text=True, env=child_env(),
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"vaxkiosk {' '.join(args[:3])} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class Processes:
    """Long-running children, stopped in reverse order of start (kiosks before the broker they talk to)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        # Own process group: a Ctrl-C in the terminal reaches the demo only, which then stops each child in order.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(),
                                start_new_session=True)
        log.close()
        self.started.append((name, proc))
        return proc

    def exited(self) -> list[tuple[str, int]]:
        return [(name, p.returncode) for name, p in self.started if p.poll() is not None]

    def stop(self, timeout: float = 15.0) -> list[str]:
        """SIGTERM each child (newest first) and wait; SIGKILL only one that ignores it. Names of those killed."""
        killed = []
        for name, proc in reversed(self.started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                    killed.append(name)
        self.started.clear()
        return killed
