"""A handheld 2D scanner in serial mode (USB CDC-ACM, /dev/ttyACM*): one scanned code per line.

    reader = SerialLineReader("/dev/serial/by-id/usb-...", on_line=handle, terminator=b"\\r")
    reader.start(); ...; reader.stop()

`on_line(raw: bytes)` gets each code's bytes exactly as the scanner sent them, without the terminator; decoding and
cleaning (BOM, stray CR/LF, spaces) is the caller's business. When the device goes away (unplugged, a USB reset) the
partial line is dropped and the port is reopened every `reconnect_seconds` until it is back; prefer a
/dev/serial/by-id/ path, which stays the same when the scanner comes back under another ttyACM number.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import serial

log = logging.getLogger("vaxkiosk.serial")

MAX_LINE_BYTES = 4096  # a line longer than any code: a scanner without terminator, or noise; dropped


def terminator_bytes(setting: str) -> bytes:
    """The config's terminator ("\\r", "\\n", "\\r\\n", as TOML gives them) as bytes."""
    if not setting:
        raise ValueError("the serial terminator cannot be empty")
    return setting.encode("latin-1")


class SerialLineReader:
    def __init__(self, port: str, on_line: Callable[[bytes], None], terminator: bytes = b"\r",
                 baudrate: int = 9600, reconnect_seconds: float = 1.0):
        self.port, self.on_line, self.terminator = port, on_line, terminator
        self.baudrate, self.reconnect_seconds = baudrate, reconnect_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self.lines = 0
        self.reconnects = 0
        self.failed_opens = 0  # attempts to open a port that was not there (unplugged, not yet enumerated)
        self.pending_bytes = 0  # of a line whose terminator has not arrived yet
        self.last_error: str | None = None
        self.last_line_at: float | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="serial-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2.0)
        self._thread = None

    def health(self) -> dict:
        return {"port": self.port, "connected": self.connected, "lines": self.lines, "reconnects": self.reconnects,
                "failed_opens": self.failed_opens, "pending_bytes": self.pending_bytes, "last_error": self.last_error,
                "last_line_age_s": round(time.monotonic() - self.last_line_at, 1) if self.last_line_at else None}

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=0.2, exclusive=True)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.last_error = f"{self.port}: {exc}"
                self.failed_opens += 1
                self._stop.wait(self.reconnect_seconds)
                continue
            if not first:
                self.reconnects += 1
            first = False
            self.connected = True
            self.last_error = None
            log.info("serial scanner connected on %s", self.port)
            try:
                self._read_lines(port)
            except (serial.SerialException, OSError) as exc:
                self.last_error = f"{self.port}: {exc}"
                log.warning("serial scanner lost: %s", self.last_error)
            finally:
                self.connected = False
                self.pending_bytes = 0  # the partial line is dropped with the connection
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
            self._stop.wait(self.reconnect_seconds)

    def _read_lines(self, port: serial.Serial) -> None:
        buf = b""
        while not self._stop.is_set():
            chunk = port.read(max(1, port.in_waiting))
            if not chunk:
                continue
            buf += chunk
            while self.terminator in buf:
                line, buf = buf.split(self.terminator, 1)
                if line.strip(b"\r\n \t"):
                    self.lines += 1
                    self.last_line_at = time.monotonic()
                    self._deliver(line)
            if len(buf) > MAX_LINE_BYTES:
                log.warning("%s: %d bytes without a terminator; dropped (wrong terminator setting?)",
                            self.port, len(buf))
                buf = b""
            self.pending_bytes = len(buf)

    def _deliver(self, line: bytes) -> None:
        try:
            self.on_line(line)
        except Exception:  # noqa: BLE001 - a bug in handling one code must not disconnect the scanner
            log.exception("handling a serial scan failed")
