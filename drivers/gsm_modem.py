"""One GSM modem through Gammu (python-gammu): send one SMS, part by part, and get the network's references back.

Hardware only: no outbox, no retries, no kiosk imports (central's alerts can use it as it is). The modem is named by a
Gammu configuration file (`[gammu] device = ... connection = at`), the one a technician tries with
`gammu -c FILE identify`. The connection is opened on the first send and kept: Gammu's set-up of an AT modem takes
about 5 s (it writes slowly until it knows the model), a send after that well under a second (docs/performance.md).

Every failure is a typed ModemError with a stable `code`:
- `modem_gone`: the device is missing or stopped answering on its line (unplugged, re-enumerated, another port);
  `modem_busy` (another program holds its lock) and `modem_permission` (the user may not open it) name the cure;
- `sim_not_ready`: no SIM, a SIM asking for its PIN, a failed SIM (+CMS ERROR 310-318, +CME ERROR 10-15);
- `cms_<N>`: the network refused the message with +CMS ERROR: <N> (TS 27.005 3.2.5 / TS 24.011 E-2); a SIM without
  credit shows as one of these, which one depends on the operator (`NetworkRefused.meaning` says what each is);
- `timeout`: the modem took the command but no answer came (Gammu waits up to about 100 s for a send).
Gammu does not hand its +CMS code to Python, so each call's Gammu log goes to an in-memory file (memfd: the PDUs in
it, with the phone number, never reach a disk) and the code is read from there.

Gammu does not treat a read error as fatal: on a modem that is gone, each command waits out its timeout, and closing
the connection (python-gammu first switches notifications off) can take minutes. So the device node is checked before
each send (gone: at once; replaced by a replugged modem: a new connection), and a connection is closed by a thread of
its own that the caller waits for a few seconds at most.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import threading
from pathlib import Path
from typing import Callable

import gammu

from drivers.sms_encoding import EncodedMessage

# TS 24.011 E-2, TS 23.040 9.2.3.22 and TS 27.005 3.2.5 (the table Gammu's atgen.c carries), the codes a site meets.
CMS_MEANINGS = {
    1: "unassigned number", 8: "operator determined barring", 10: "call barred",
    21: "short message transfer rejected", 27: "destination out of service", 28: "unidentified subscriber",
    29: "facility rejected", 30: "unknown subscriber", 38: "network out of order", 41: "temporary failure",
    42: "congestion", 47: "resources unavailable", 50: "requested facility not subscribed",
    69: "requested facility not implemented", 96: "invalid mandatory information", 111: "protocol error",
    127: "interworking unspecified", 0xC0: "SC busy", 0xC1: "no SC subscription", 0xC2: "SC system failure",
    0xC3: "invalid SME address", 0xC4: "destination SME barred", 0xC5: "duplicate message rejected",
    300: "ME failure", 302: "operation not allowed", 304: "invalid PDU mode parameter", 310: "SIM not inserted",
    311: "SIM PIN required", 312: "PH-SIM PIN required", 313: "SIM failure", 314: "SIM busy", 315: "SIM wrong",
    316: "SIM PUK required", 330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
    500: "unknown error",
}
# Refusals that say "this SIM may not send": what an operator answers for a prepaid SIM without credit.
SUBSCRIPTION_CODES = frozenset({8, 10, 21, 29, 50, 0xC1})
# Refusals of the number itself: sending again will not help.
NUMBER_CODES = frozenset({1, 28, 30, 0xC3, 0xC4})
SIM_CMS_CODES = frozenset(range(310, 319))
SIM_CME_CODES = frozenset(range(10, 16))

_GONE = {"ERR_DEVICENOTEXIST", "ERR_DEVICEOPENERROR", "ERR_DEVICEREADERROR", "ERR_DEVICEWRITEERROR",
         "ERR_DEVICENODRIVER", "ERR_DEVICENOTWORK", "ERR_DEVICECHANGESPEEDERROR", "ERR_DEVICEPARITYERROR",
         "ERR_DEVICEDTRRTSERROR"}
_SIM = {"ERR_NOSIM", "ERR_SECURITYERROR"}
_TIMEOUT = {"ERR_TIMEOUT", "ERR_GETTING_SMSC"}
_LOG_CODE = re.compile(r"(CMS|CME) Error (\d+)")


class ModemError(Exception):
    code = "modem_error"

    def __init__(self, detail: str, parts_sent: int = 0, code: str | None = None):
        self.code = code or type(self).code
        self.detail, self.parts_sent = detail, parts_sent
        super().__init__(f"{self.code}: {detail}")


class ModemGone(ModemError):
    code = "modem_gone"


class SimNotReady(ModemError):
    code = "sim_not_ready"


class ModemTimeout(ModemError):
    code = "timeout"


class NetworkRefused(ModemError):
    def __init__(self, cms: int, parts_sent: int = 0):
        self.cms = cms
        super().__init__(f"+CMS ERROR: {cms} ({self.meaning})", parts_sent, code=f"cms_{cms}")

    @property
    def meaning(self) -> str:
        return CMS_MEANINGS.get(self.cms, "no description")

    @property
    def subscription(self) -> bool:
        """The network refuses this SIM (no credit, SMS not in its plan, barred)."""
        return self.cms in SUBSCRIPTION_CODES

    @property
    def permanent(self) -> bool:
        """The network refuses the number: sending the same message again cannot succeed."""
        return self.cms in NUMBER_CODES


class GammuModem:
    def __init__(self, gammurc: str | os.PathLike):
        self.gammurc = Path(gammurc)
        self._sm: gammu.StateMachine | None = None
        self._log_fd: int | None = None
        self._log = None
        self._node: tuple[int, int, int] | None = None
        self.device = ""

    @property
    def connected(self) -> bool:
        return self._sm is not None

    def connect(self) -> None:
        if self._sm is not None:
            return
        sm = gammu.StateMachine()
        try:
            sm.ReadConfig(Filename=str(self.gammurc))
        except gammu.GSMError as exc:
            raise ModemError(f"{self.gammurc}: {_text(exc)}", code="bad_gammurc") from None
        self.device = str(sm.GetConfig(0).get("Device") or "")
        self._check_device()
        self._node = _node(self.device)
        try:
            sm.Init()
        except gammu.GSMError as exc:
            raise self._classify(exc, 0, "") from None
        # Gammu's Init() sets its log from the configuration; the in-memory log is attached after it.
        self._log_fd = os.memfd_create("gammu-log", os.MFD_CLOEXEC)
        self._log = os.fdopen(self._log_fd, "w+", closefd=True)
        sm.SetDebugFile(self._log)
        sm.SetDebugLevel("text")
        self._sm = sm

    def close(self, wait: float = 5.0) -> None:
        """Close the connection, waiting `wait` seconds at most (a gone modem's goodbye runs on by itself)."""
        sm, log = self._sm, self._log
        self._sm = self._log = self._log_fd = None
        if sm is None:
            return
        closing = threading.Thread(target=_terminate, args=(sm, log), name="gammu-close", daemon=True)
        closing.start()
        closing.join(wait)

    def send(self, number: str, message: EncodedMessage, start_part: int = 0,
             on_part: Callable[[int, int], None] | None = None) -> list[int]:
        """Send the parts of `message` from `start_part` on; returns the references the network gave them.

        `on_part(index, reference)` runs after each part the modem took, so a caller can record progress before
        the next part goes out. A failure raises ModemError with `parts_sent` counting the parts that did go."""
        references: list[int] = []
        coding = "Unicode_No_Compression" if message.encoding == "ucs2" else "Default_No_Compression"
        for index in range(start_part, message.count):
            part = message.parts[index]
            try:
                self._check_device()
                if self._sm is not None and _node(self.device) != self._node:
                    self.close(wait=0)  # replugged: the old connection talks to a terminal that is no more
                self.connect()
            except ModemError as exc:
                exc.parts_sent = index
                self.close(wait=0)
                raise
            sms = {"Number": number, "SMSC": {"Location": 1}, "Coding": coding, "Text": part.text, "Class": -1}
            if part.udh:
                sms["UDH"] = {"Type": "UserUDH", "Text": part.udh}
            self._clear_log()
            try:
                reference = int(self._sm.SendSMS(sms))
            except gammu.GSMError as exc:
                error = self._classify(exc, index, self._read_log())
                if isinstance(error, ModemGone):
                    self.close(wait=0)
                # A timeout keeps the connection: the same modem may answer the next time, and a second
                # connection would talk over the first one's goodbye on the same line.
                raise error from None
            references.append(reference)
            if on_part:
                on_part(index, reference)
        return references

    # -- errors ------------------------------------------------------------------------------------------------
    def _check_device(self) -> None:
        if self.device.startswith("/") and not os.path.exists(self.device):
            raise ModemGone(f"{self.device} does not exist")

    def _classify(self, exc: gammu.GSMError, parts_sent: int, log: str) -> ModemError:
        name, text = type(exc).__name__, _text(exc)
        if self.device.startswith("/") and not os.path.exists(self.device):
            return ModemGone(f"{self.device} disappeared ({text})", parts_sent)
        found = _LOG_CODE.findall(log)
        if found:
            kind, value = found[-1][0], int(found[-1][1])
            if (kind == "CMS" and value in SIM_CMS_CODES) or (kind == "CME" and value in SIM_CME_CODES):
                return SimNotReady(f"+{kind} ERROR: {value} ({CMS_MEANINGS.get(value, text)})", parts_sent)
            if kind == "CMS":
                return NetworkRefused(value, parts_sent)
        if name in _SIM:
            return SimNotReady(text, parts_sent)
        if name in _GONE:
            return ModemGone(f"{self.device}: {text}", parts_sent)
        if name == "ERR_DEVICELOCKED":
            return ModemGone(f"{self.device}: {text}", parts_sent, code="modem_busy")
        if name == "ERR_DEVICENOPERMISSION":
            return ModemGone(f"{self.device}: {text}", parts_sent, code="modem_permission")
        if name in _TIMEOUT:
            return ModemTimeout(text, parts_sent)
        return ModemError(f"{name}: {text}", parts_sent)

    def _clear_log(self) -> None:
        if self._log_fd is not None:
            self._log.flush()
            os.ftruncate(self._log_fd, 0)  # Gammu's handle appends, so it writes from the new end

    def _read_log(self) -> str:
        if self._log_fd is None:
            return ""
        return os.pread(self._log_fd, 1 << 20, 0).decode("utf-8", "replace")


def _node(device: str) -> tuple[int, int, int] | None:
    """Which terminal a device path names now (a replugged modem gets a new node, often under the same path)."""
    if not device.startswith("/"):
        return None
    try:
        st = os.stat(device)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_rdev


def _terminate(sm: gammu.StateMachine, log) -> None:
    with contextlib.suppress(gammu.GSMError):
        sm.Terminate()
    if log is not None:
        with contextlib.suppress(OSError):
            log.close()


def _text(exc: gammu.GSMError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(info.get("Text") or exc)


# -- the configuration file -----------------------------------------------------------------------------------------
# Checked when a program's configuration is read (the kiosk's [sms], central's [alert_sms]), so a typo stops it at
# start with a message instead of every text failing later.
GAMMURC_EXPECTED = ("a readable Gammu configuration file with a [gammu] section giving device = ... and "
                    "connection = at...")


def gammurc_problem(path: str) -> str | None:
    if path == "":
        return None
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        text = Path(path).read_text(encoding="utf-8")
        parser.read_string(text)
    except (OSError, UnicodeDecodeError) as exc:
        return f"{GAMMURC_EXPECTED} ({exc.strerror if isinstance(exc, OSError) else exc})"
    except configparser.Error as exc:
        return f"{GAMMURC_EXPECTED} (not an INI file: {exc.message.splitlines()[0]})"
    if not parser.has_section("gammu"):
        return f"{GAMMURC_EXPECTED} (no [gammu] section)"
    section = parser["gammu"]
    if not section.get("device", "").strip():
        return f"{GAMMURC_EXPECTED} (no device)"
    if not section.get("connection", "").strip().lower().startswith("at"):
        return f"{GAMMURC_EXPECTED} (connection = {section.get('connection', '')!r}; USB and serial modems use 'at')"
    return None


def write_gammurc(path: str | os.PathLike, device: str | os.PathLike) -> Path:
    """The Gammu configuration of an AT modem at `device`: what docs/sms.md has a technician write."""
    path = Path(path)
    path.write_text(f"[gammu]\ndevice = {device}\nconnection = at\n", encoding="utf-8")
    return path


def send_text(gammurc: str | os.PathLike, number: str, message: EncodedMessage) -> list[int]:
    """One message through a modem opened for it and closed after (the `sms-test` command)."""
    modem = GammuModem(gammurc)
    try:
        return modem.send(number, message)
    finally:
        modem.close()


__all__ = ("GammuModem", "ModemError", "ModemGone", "SimNotReady", "ModemTimeout", "NetworkRefused", "CMS_MEANINGS",
           "gammurc_problem", "write_gammurc", "send_text")
