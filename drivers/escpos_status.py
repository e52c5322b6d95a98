"""ESC/POS real-time status (`DLE EOT n`): the bytes a printer answers and what they mean.

Both sides live here so that the kiosk's reading of a status byte and the virtual printer's answer cannot drift apart.
Every answer byte has fixed bits (bit 1 and bit 4 set, bits 0 and 7 clear); a byte without them is not a status
answer (noise, or data from something that is not an ESC/POS printer) and reads as unknown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

DLE_EOT = b"\x10\x04"
PRINTER = 1  # n=1: printer status (bit 3: offline)
OFFLINE_CAUSE = 2  # n=2: bit 2 cover open, bit 5 printing stopped by paper end, bit 6 error
ERROR_CAUSE = 3  # n=3: not read by the kiosk, answered by the virtual printer for completeness
ROLL_PAPER = 4  # n=4: bits 2-3 paper near end, bits 5-6 paper end

FIXED_MASK, FIXED_BITS = 0b1001_0011, 0b0001_0010


def query(n: int) -> bytes:
    return DLE_EOT + bytes([n])


def is_status_byte(value: int) -> bool:
    return value & FIXED_MASK == FIXED_BITS


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. `known` False means it did not answer: never read that as OK."""

    known: bool
    online: bool | None = None
    paper: str | None = None  # "ok" | "near_end" | "out"
    cover_open: bool | None = None
    detail: str = ""

    @property
    def state(self) -> str:
        """One word for screens and health: ok, paper_near_end, paper_out, cover_open, offline or unknown."""
        if not self.known:
            return "unknown"
        if self.paper == "out":
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if not self.online:
            return "offline"
        if self.paper == "near_end":
            return "paper_near_end"
        return "ok"

    @property
    def can_print(self) -> bool:
        return self.state in ("ok", "paper_near_end")

    def to_json(self) -> dict:
        return {"state": self.state, **asdict(self)}


def unknown(detail: str) -> PrinterStatus:
    return PrinterStatus(known=False, detail=detail)


def decode(printer: int, offline_cause: int, roll_paper: int) -> PrinterStatus:
    """The three answer bytes (to n=1, 2, 4) → status; any malformed byte makes the whole answer unknown."""
    for name, value in (("printer", printer), ("offline cause", offline_cause), ("roll paper", roll_paper)):
        if not is_status_byte(value):
            return unknown(f"not a status answer ({name} byte 0x{value:02x})")
    if roll_paper & 0b0110_0000 or offline_cause & 0b0010_0000:
        paper = "out"
    elif roll_paper & 0b0000_1100:
        paper = "near_end"
    else:
        paper = "ok"
    return PrinterStatus(known=True, online=not printer & 0b0000_1000, paper=paper,
                         cover_open=bool(offline_cause & 0b0000_0100))


def encode(n: int, *, online: bool, paper: str, cover_open: bool) -> bytes:
    """The answer a printer in this condition gives to `DLE EOT n` (used by the virtual printer)."""
    value = FIXED_BITS
    if n == PRINTER and not online:
        value |= 0b0000_1000
    elif n == OFFLINE_CAUSE:
        value |= (0b0000_0100 if cover_open else 0) | (0b0010_0000 if paper == "out" else 0)
    elif n == ROLL_PAPER:
        value |= {"ok": 0, "near_end": 0b0000_1100, "out": 0b0110_1100}[paper]
    return bytes([value])
