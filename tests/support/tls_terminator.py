"""A TLS terminator in front of a plain HTTP server, as the reverse proxy in front of central's waitress is in
production: `socat OPENSSL-LISTEN` (OpenSSL, a separate process) forwarding each connection to the backend."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.net import free_port, wait_port

SOCAT = shutil.which("socat") or "/usr/bin/socat"


class TlsTerminator:
    def __init__(self, backend_port: int, certfile: Path, keyfile: Path, host: str = "127.0.0.1",
                 log: Path | None = None):
        self.backend_port, self.certfile, self.keyfile, self.host = backend_port, certfile, keyfile, host
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> "TlsTerminator":
        listen = (f"OPENSSL-LISTEN:{self.port},bind={self.host},reuseaddr,fork,cert={self.certfile},"
                  f"key={self.keyfile},verify=0")
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen([SOCAT, listen, f"TCP:127.0.0.1:{self.backend_port}"],
                                     stdout=subprocess.DEVNULL, stderr=out)
        wait_port(self.port, host=self.host)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
