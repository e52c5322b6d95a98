"""The virtual network printer (`vaxkiosk virtual-printer`) as a subprocess on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


class VirtualPrinterProcess:
    def __init__(self, out_dir: Path, profile: str = "TM-T88V"):
        self.out = Path(out_dir)
        self.profile = profile
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, state: str = "online") -> "VirtualPrinterProcess":
        self.out.mkdir(parents=True, exist_ok=True)
        self.set_state(state)
        self.log = open(self.out / "virtual-printer.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "virtual-printer", "--port", str(self.port), "--out", str(self.out),
             "--profile", self.profile],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def set_state(self, word: str) -> None:
        """Write the control file atomically (the printer polls it every 0.1 s)."""
        tmp = self.out / "control.tmp"
        tmp.write_text(word + "\n")
        tmp.replace(self.out / "control")

    def receipts(self) -> list[dict]:
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.out.glob("receipt-*.json"))]

    def errors(self) -> str:
        path = self.out / "errors.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return  # never started (the test was skipped before it needed a printer)
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
        self.log.close()


