"""A real Mosquitto broker (Debian package) on a free loopback port, started and ended by the test that owns it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.net import free_port, wait_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    def __init__(self, workdir: Path, extra_config: str = "", port: int | None = None, persistence: bool = False,
                 own_listener: bool = True):
        """`own_listener=False`: `extra_config` declares every listener (a generated configuration); `port` is then
        the one of them to wait for."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_config = extra_config
        self.persistence = persistence
        self.own_listener = own_listener
        self.proc: subprocess.Popen | None = None
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"

    def write_config(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1"] if self.own_listener else []
        lines += [
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
        ]
        if "allow_anonymous" not in self.extra_config and "password_file" not in self.extra_config:
            lines.append("allow_anonymous true")
        self.conf.write_text("\n".join(lines) + "\n" + self.extra_config + "\n")

    def start(self) -> "Mosquitto":
        self.write_config()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            # A generated configuration for 20,000 kiosks (bench/fleet.py) takes Mosquitto seconds to load.
            wait_port(self.port, timeout=60.0, proc=self.proc)
        except BaseException:
            self.stop(kill=True)  # a broker that never listened is not left running for the caller to find
            raise
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(10)
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads password and ACL files."""
        assert self.proc is not None
        self.proc.send_signal(1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
