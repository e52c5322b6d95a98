"""One `python -m kiosk ...` process (kiosk, central, virtual printer) that a test starts, kills and restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """One `python -m kiosk ...` process with its output appended to a log file; kill() is SIGKILL."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.args, self.log, self.env = args, log, env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Proc":
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", *self.args], stdout=log,
                                         stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.running:
            self.proc.terminate()
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
