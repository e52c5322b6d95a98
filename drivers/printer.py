"""ESC/POS printers behind one narrow interface: `send(job_bytes)` and `status() -> PrinterStatus`.

python-escpos does the transport for every backend (network, USB, serial, device file, in-memory). Each operation
opens the device, does its work and closes it again: a printer that was switched off, unplugged or restarted is
simply found again at the next job, with no stale socket or handle to detect.

Status is asked with `DLE EOT` on the backends that can answer (network, USB, serial). "No answer" is unknown, never
OK: python-escpos itself reads an empty answer as "paper present", which is how jobs get lost.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from drivers.escpos_status import OFFLINE_CAUSE, PRINTER, ROLL_PAPER, PrinterStatus, decode, query, unknown

log = logging.getLogger("vaxkiosk.printer")

PAPER_DOTS = {58: 384, 80: 576}
STATUS_BACKENDS = ("network", "usb", "serial")


class PrinterError(Exception):
    """The job could not be handed to the printer (not there, timed out, refused)."""


class ProfileError(ValueError):
    pass


@lru_cache(maxsize=None)
def load_profile(name: str):
    from escpos.capabilities import NotSupported, get_profile

    try:
        return get_profile(name)
    except (NotSupported, KeyError):  # python-escpos 3.1 raises a bare KeyError for an unknown name
        raise ProfileError(f"unknown printer profile {name!r} (see python-escpos capabilities)") from None


def supports(profile_name: str, feature: str) -> bool:
    return bool(load_profile(profile_name).supports(feature))


def printable_width(profile_name: str, paper_mm: int) -> int:
    """Dots across the printable area: the paper's, or less when the profile says so (Epson TM-T88: 512 on 80 mm)."""
    pixels = load_profile(profile_name).profile_data.get("media", {}).get("width", {}).get("pixels")
    paper = PAPER_DOTS[paper_mm]
    return min(paper, int(pixels)) if isinstance(pixels, int) or str(pixels).isdigit() else paper


class Printer:
    def __init__(self, settings):
        self.settings = settings
        self.backend = settings.backend
        load_profile(settings.profile)  # fail at start-up on a misspelt profile, not at the first ticket
        self._memory = None

    @property
    def reports_status(self) -> bool:
        return self.backend in STATUS_BACKENDS

    def describe(self) -> str:
        s = self.settings
        return {
            "network": f"network {s.host}:{s.port}",
            "usb": f"usb {s.usb_vendor:04x}:{s.usb_product:04x}",
            "serial": f"serial {s.device} @ {s.baudrate}",
            "file": f"file {s.device}",
            "memory": "memory",
        }[self.backend]

    # -- the interface ---------------------------------------------------------------------------------------------
    def send(self, job: bytes) -> None:
        """Hand all of `job` to the printer or raise PrinterError; returns once the transport accepted every byte."""
        device = self._open()
        try:
            device._raw(job)
            if self.backend == "file":
                device.flush()
        except Exception as exc:  # noqa: BLE001 - socket, USB, serial and file errors all mean "not sent"
            raise PrinterError(f"{self.describe()}: sending failed: {exc}") from exc
        finally:
            self._close(device)

    def status(self) -> PrinterStatus:
        if not self.reports_status:
            return unknown(f"the {self.backend} backend cannot report status")
        try:
            device = self._open()
        except PrinterError as exc:
            return unknown(str(exc))
        try:
            answers = [self._ask(device, n) for n in (PRINTER, OFFLINE_CAUSE, ROLL_PAPER)]
        except Exception as exc:  # noqa: BLE001 - any transport error is "no answer"
            return unknown(f"{self.describe()}: no status answer: {exc}")
        finally:
            self._close(device)
        if any(a is None for a in answers):
            return unknown(f"{self.describe()}: no answer to DLE EOT")
        return decode(*answers)

    @property
    def memory_output(self) -> bytes:
        """Everything sent to the in-memory backend (tests)."""
        return self._memory.output if self._memory is not None else b""

    # -- transports ------------------------------------------------------------------------------------------------
    def _ask(self, device, n: int) -> int | None:
        device._raw(query(n))
        if self.backend == "serial":
            data = device.device.read(1)  # read(16) would wait the full timeout for bytes that never come
        else:
            data = device._read()
        return data[0] if data else None

    def _open(self):
        from escpos import printer as escpos_printer

        s = self.settings
        if self.backend == "memory":
            if self._memory is None:
                self._memory = escpos_printer.Dummy(profile=s.profile)
            return self._memory
        if self.backend == "network":
            device = escpos_printer.Network(host=s.host, port=s.port, timeout=s.timeout, profile=s.profile)
        elif self.backend == "usb":
            # pyusb's timeout is in milliseconds; python-escpos's default (0) waits forever on a stuck printer.
            device = escpos_printer.Usb(s.usb_vendor, s.usb_product, timeout=int(s.timeout * 1000),
                                        profile=s.profile)
        elif self.backend == "serial":
            device = escpos_printer.Serial(devfile=s.device, baudrate=s.baudrate, timeout=s.timeout,
                                           profile=s.profile)
        else:
            device = escpos_printer.File(devfile=s.device, profile=s.profile)
        try:
            device.open()
        except Exception as exc:  # noqa: BLE001 - DeviceNotFoundError, missing pyusb, permissions...
            raise PrinterError(f"{self.describe()}: cannot open: {exc}") from exc
        if self.backend == "serial":
            device.device.write_timeout = s.timeout  # python-escpos leaves writes unbounded
        return device

    def _close(self, device) -> None:
        if self.backend == "memory":
            return
        try:
            device.close()
        except Exception:  # noqa: BLE001 - closing a dead device is not an error worth more than a log line
            log.debug("closing %s failed", self.describe(), exc_info=True)
