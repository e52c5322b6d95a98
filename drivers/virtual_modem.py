"""A GSM modem on a pseudo-terminal, for Gammu: the physical edge of the SMS part, faults included.

It answers the AT commands Gammu sends to a real modem, as recorded with `gammu -c FILE -d textall -f LOG sendsms`
against it (docs/sms.md lists them): echo, `+CMEE`, the character sets, the manufacturer/model/revision queries,
`+CPIN?`, `+CSCA?`, `+CMGF=0`, and `AT+CMGS=<n>`, after which it prompts "> ", reads the hex PDU up to Ctrl-Z,
checks that its length is <n> octets after the SMSC part (a real modem refuses it otherwise) and answers
`+CMGS: <ref>` then `OK`. Commands it does not know get `ERROR`, as on a real modem (Gammu probes for optional
features and goes on). It reports a SIMCom SIM800L: Gammu treats that model generically, as it would most USB sticks
in modem mode.

Faults: `unplug()` closes the pty and removes the device path (a USB modem pulled out; `plug()` brings it back at the
same path), `refuse(code)` answers sends with `+CMS ERROR: <code>` (no credit, network refusal), `sim = "absent"` or
`"pin"` answers as a modem without a usable SIM, `hold()` takes the PDU and never answers (the network's answer that
never comes, or the moment a kiosk is killed after the modem took a message).

Every PDU the modem took is kept in `received` (hex, as sent). `python -m drivers.virtual_modem --path P
--record FILE` runs one as a process (for the demo) and appends each PDU to FILE as a JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

CTRL_Z, ESC = b"\x1a", b"\x1b"


@dataclass
class ReceivedPdu:
    hex: str              # the PDU exactly as the modem read it (SMSC part included)
    length: int           # the <n> of AT+CMGS=<n>
    reference: int | None  # the +CMGS reference answered, None when held
    at: float = field(default_factory=time.monotonic)


class VirtualModem:
    def __init__(self, path: str | os.PathLike, smsc: str = "+84980200030", manufacturer: str = "SIMCOM_Ltd",
                 model: str = "SIMCOM_SIM800L", revision: str = "Revision:1418B04SIM800L24"):
        self.path = Path(path)
        self.smsc = smsc
        self.identity = {"AT+CGMI": manufacturer, "AT+GMI": manufacturer, "AT+CGMM": model, "AT+GMM": model,
                         "AT+CGMR": revision, "AT+GMR": revision, "AT+CGSN": "867223020000017"}
        self.received: list[ReceivedPdu] = []
        self.refused: list[str] = []   # PDUs answered with +CMS ERROR
        self.commands: list[str] = []  # every AT command line, in order (PDUs are not commands)
        self.sim = "ready"              # ready | pin | absent
        self._refuse_code: int | None = None
        self._hold = False
        self._mute = False
        self._next_ref = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.on_pdu = None  # optional callback(ReceivedPdu), from the modem's thread

    # -- life cycle --------------------------------------------------------------------------------------------
    def start(self) -> "VirtualModem":
        self.plug()
        self._thread = threading.Thread(target=self._run, name="virtual-modem", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        os.write(self._wake_w, b"x")
        if self._thread:
            self._thread.join(5)
        self.unplug()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "VirtualModem":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def plug(self) -> None:
        """A new pty behind the same device path, in its power-on state (echo on, IRA character set)."""
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)  # the line discipline must not echo or translate: the modem does its own echo
            self._master, self._slave = master, slave
            self._buffer, self._pdu_length, self._echo, self._charset = b"", None, True, "IRA"
            tmp = self.path.with_name(self.path.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(os.ttyname(slave), tmp)
            tmp.replace(self.path)
        os.write(self._wake_w, b"x")

    def unplug(self) -> None:
        """The modem is gone: its device path disappears and the open terminal reads end-of-file."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # -- faults ------------------------------------------------------------------------------------------------
    def refuse(self, code: int | None) -> None:
        """Answer every send with `+CMS ERROR: <code>` until refuse(None)."""
        with self._lock:
            self._refuse_code = code

    def mute(self, on: bool = True) -> None:
        """Read everything and answer nothing (a modem that hangs with its port still open)."""
        with self._lock:
            self._mute = on

    def hold(self, on: bool = True) -> None:
        """Take PDUs but never answer them (until hold(False), which does not answer the held ones either)."""
        with self._lock:
            self._hold = on

    # -- what the modem got ------------------------------------------------------------------------------------
    def wait_for(self, count: int, timeout: float = 60.0) -> list[ReceivedPdu]:
        """Wait until at least `count` PDUs were taken; a timeout is a failure."""
        return self._wait(self.received, count, timeout, "PDUs received")

    def wait_for_refusals(self, count: int, timeout: float = 60.0) -> list[str]:
        return self._wait(self.refused, count, timeout, "PDUs refused")

    def _wait(self, items: list, count: int, timeout: float, what: str) -> list:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"virtual modem: {len(items)} {what}, {count} expected; "
                                         f"last commands {self.commands[-8:]}")
                self._changed.wait(left)
            return list(items)

    # -- the serial line ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop:
            fds = [self._wake_r] + ([self._master] if self._master is not None else [])
            readable, _, _ = select.select(fds, [], [], 1.0)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
            master = self._master
            if master is None or master not in readable:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                continue  # unplugged meanwhile
            with self._lock:
                if self._master != master:
                    continue
                self._feed(data)

    def _write(self, data: bytes) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    def _answer(self, *lines: str, final: str = "OK") -> None:
        self._write(b"".join(f"\r\n{line}\r\n".encode() for line in (*lines, final)))

    def _feed(self, data: bytes) -> None:
        if self._mute:
            self._buffer, self._pdu_length = b"", None
            return
        if self._echo:
            # A modem echoes what it reads as it reads it, PDU digits included, but not Ctrl-Z or ESC.
            self._write(data.replace(CTRL_Z, b"").replace(ESC, b""))
        self._buffer += data
        while True:
            if self._pdu_length is not None:
                end = min((i for i in (self._buffer.find(CTRL_Z), self._buffer.find(ESC)) if i >= 0), default=-1)
                if end < 0:
                    return
                pdu, mark, self._buffer = self._buffer[:end], self._buffer[end:end + 1], self._buffer[end + 1:]
                length, self._pdu_length = self._pdu_length, None
                if mark == ESC:
                    self._answer()  # the send was cancelled
                else:
                    self._take_pdu(pdu.decode("ascii", "replace").strip(), length)
                continue
            i = self._buffer.find(b"\r")
            if i < 0:
                return
            line, self._buffer = self._buffer[:i], self._buffer[i + 1:]
            line = line.strip(b"\n \x1b").decode("ascii", "replace")
            if line:
                self._command(line)

    def _command(self, line: str) -> None:
        self.commands.append(line)
        self._changed.notify_all()
        cmd = line.upper()
        if cmd in ("AT", "ATZ", "AT&F", "ATE0", "ATE1", "ATV1", "AT+CMEE=1", "AT+CMEE=2", "AT+CFUN=1",
                   "AT+CMGF=0"):
            if cmd in ("ATE0", "ATE1"):
                self._echo = cmd == "ATE1"
            return self._answer()
        if cmd in self.identity:
            return self._answer(self.identity[cmd])
        if cmd == "AT+CFUN?":
            return self._answer("+CFUN: 1")
        if cmd == "AT+CSCS?":
            return self._answer(f'+CSCS: "{self._charset}"')
        if cmd == "AT+CSCS=?":
            return self._answer('+CSCS: ("IRA","GSM","UCS2")')
        charset = re.fullmatch(r'AT\+CSCS="(IRA|GSM|UCS2)"', cmd)
        if charset:
            self._charset = charset.group(1)
            return self._answer()
        if cmd == "AT+CMGF=?":
            return self._answer("+CMGF: (0,1)")
        if cmd == "AT+CPIN?":
            if self.sim == "absent":
                return self._answer(final="+CME ERROR: 10")
            return self._answer("+CPIN: READY" if self.sim == "ready" else "+CPIN: SIM PIN")
        if cmd == "AT+CSCA?":
            kind = 145 if self.smsc.startswith("+") else 129
            return self._answer(f'+CSCA: "{self.smsc}",{kind}')
        if cmd == "AT+CREG?":
            return self._answer("+CREG: 0,1")
        if cmd == "AT+CSQ":
            return self._answer("+CSQ: 20,99")
        send = re.fullmatch(r"AT\+CMGS=(\d{1,3})", cmd)
        if send:
            if self.sim != "ready":
                return self._answer(final="+CMS ERROR: 310" if self.sim == "absent" else "+CMS ERROR: 311")
            self._pdu_length = int(send.group(1))
            self._write(b"\r\n> ")
            return None
        return self._answer(final="ERROR")

    def _take_pdu(self, pdu: str, length: int) -> None:
        if not _pdu_matches(pdu, length):
            return self._answer(final="+CMS ERROR: 304")  # invalid PDU mode parameter
        if self._refuse_code is not None:
            self.refused.append(pdu)
            self._changed.notify_all()
            return self._answer(final=f"+CMS ERROR: {self._refuse_code}")
        reference = None if self._hold else self._next_ref
        received = ReceivedPdu(pdu, length, reference)
        self.received.append(received)
        self._changed.notify_all()
        if self.on_pdu:
            self.on_pdu(received)
        if reference is not None:
            self._next_ref = (self._next_ref + 1) % 256
            self._answer(f"+CMGS: {reference}")
        return None


def _pdu_matches(pdu: str, length: int) -> bool:
    """A hex PDU whose TPDU (after the SMSC length octet and its address) is `length` octets."""
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", pdu):
        return False
    smsc_octets = int(pdu[:2], 16)
    return len(pdu) // 2 - 1 - smsc_octets == length


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a GSM modem on a pty for Gammu (see the module's docstring)")
    parser.add_argument("--path", required=True, help="device path to create (a symlink to the pty)")
    parser.add_argument("--record", help="append each PDU taken to this file as a JSON line")
    args = parser.parse_args(argv)
    modem = VirtualModem(args.path)
    if args.record:
        def record(pdu: ReceivedPdu) -> None:
            with open(args.record, "a", encoding="utf-8") as f:
                f.write(json.dumps({"pdu": pdu.hex, "length": pdu.length, "reference": pdu.reference}) + "\n")
        modem.on_pdu = record
    stop = threading.Event()
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with modem:
        print(f"virtual modem on {args.path}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
