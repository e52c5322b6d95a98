"""A strict ESC/POS interpreter that prints onto images: the virtual printer's mechanism and `escpos-render`.

It knows the commands the kiosk and common drivers send, and checks each against the printer profile: a command the
profile does not have (native QR on a printer without it, a cut without a cutter), a raster wider than the printable
width, or a byte that is neither ASCII text nor a known command is an `EscposError` naming the offset. Real printers
print garbage or silently skip such bytes; a test stand-in must refuse them instead.

Data may arrive in pieces (a TCP stream): `feed()` keeps an incomplete command until the rest comes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from drivers.printer import load_profile

ESC, GS, DLE, LF, CR = 0x1B, 0x1D, 0x10, 0x0A, 0x0D
FONT_A = (12, 24)  # dots per character cell
LINE_GAP = 6  # default line spacing adds this to the character height
UNKNOWN_WIDTH = 576
MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")


class EscposError(Exception):
    def __init__(self, offset: int, message: str):
        self.offset = offset
        self.message = message
        super().__init__(f"byte {offset}: {message}")


class _NeedMore(Exception):
    pass


@dataclass
class PrintedReceipt:
    image: Image.Image
    text_runs: list[dict] = field(default_factory=list)
    qr_commands: list[str] = field(default_factory=list)  # payloads as sent in GS ( k (not decoded from pixels)


def profile_width(profile_name: str) -> int:
    pixels = load_profile(profile_name).profile_data.get("media", {}).get("width", {}).get("pixels")
    return int(pixels) if str(pixels).isdigit() else UNKNOWN_WIDTH


@lru_cache(maxsize=None)
def _mono(height: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(MONO), height)


def decode_qr(image: Image.Image) -> list[str]:
    """QR payloads found in the image, decoded from the raw bytes as UTF-8 (no charset guessing)."""
    import numpy as np

    from drivers.barcode import QR, make_decoder

    return [c.text for c in make_decoder("zxing")(np.asarray(image.convert("L"))) if c.format == QR]


class EscposRenderer:
    def __init__(self, profile_name: str, on_receipt: Callable[[PrintedReceipt], None],
                 on_status: Callable[[int], None] | None = None):
        self.profile_name = profile_name
        self.profile = load_profile(profile_name)
        self.width = profile_width(profile_name)
        self.on_receipt = on_receipt
        self.on_status = on_status or (lambda n: None)
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0], for error messages
        self._qr_data = b""
        self._reset_modes()
        self._start_receipt()

    # -- state ---------------------------------------------------------------------------------------------------
    def _reset_modes(self) -> None:
        self.align = 0
        self.scale = (1, 1)
        self.bold = False
        self.qr_module = 3
        self.qr_error = "l"

    def _start_receipt(self) -> None:
        self.rows: list[Image.Image] = []
        self.line = ""
        self.runs: list[dict] = []
        self.qr_commands: list[str] = []

    def _supports(self, feature: str, what: str, offset: int) -> None:
        if not self.profile.supports(feature):
            raise EscposError(offset, f"{what} is not supported by profile {self.profile_name} (feature {feature})")

    # -- input ---------------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._buf += data
        pos = 0
        try:
            while pos < len(self._buf):
                try:
                    pos = self._command(pos)
                except _NeedMore:
                    break
        finally:
            del self._buf[:pos]
            self._offset += pos

    def finish(self) -> None:
        """End of stream: an incomplete command is an error; what was printed since the last cut is a receipt."""
        if self._buf:
            raise EscposError(self._offset, f"stream ends inside a command ({bytes(self._buf[:8]).hex(' ')}…)")
        self._flush_line()
        if self.rows or self.runs:
            self._emit()

    def _need(self, pos: int, n: int) -> bytes:
        if pos + n > len(self._buf):
            raise _NeedMore
        return bytes(self._buf[pos:pos + n])

    def _command(self, pos: int) -> int:
        at = self._offset + pos
        b = self._buf[pos]
        if 0x20 <= b <= 0x7E:
            self.line += chr(b)
            return pos + 1
        if b == LF:
            self._flush_line(feed_if_empty=True)
            return pos + 1
        if b == CR:
            return pos + 1
        if b == DLE:
            _, c, n = self._need(pos, 3)
            if c == 0x04 and 1 <= n <= 4:
                self.on_status(n)
                return pos + 3
            raise EscposError(at, f"real-time command DLE 0x{c:02x} 0x{n:02x} is not supported")
        if b == ESC:
            return self._esc(pos, at)
        if b == GS:
            return self._gs(pos, at)
        raise EscposError(at, f"byte 0x{b:02x} is neither ASCII text nor a command (Vietnamese must be raster)")

    def _esc(self, pos: int, at: int) -> int:
        c = self._need(pos, 2)[1]
        if c == ord("@"):
            self._flush_line()
            self._reset_modes()
            return pos + 2
        if c in (ord("2"),):
            return pos + 2
        n = self._need(pos, 3)[2]
        if c == ord("a"):
            if n not in (0, 1, 2, 48, 49, 50):
                raise EscposError(at, f"ESC a {n}: no such alignment")
            self.align = n % 48
        elif c == ord("E"):
            self.bold = bool(n & 1)
        elif c == ord("!"):
            self.bold = bool(n & 0x08)
            self.scale = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)
        elif c == ord("d"):
            self._flush_line()
            self._feed(n * (FONT_A[1] + LINE_GAP))
        elif c == ord("J"):
            self._flush_line()
            self._feed(n)
        elif c == ord("t"):
            if str(n) not in self.profile.get_code_pages().values():
                raise EscposError(at, f"ESC t {n}: code page not in profile {self.profile_name}")
        elif c in (ord("-"), ord("M"), ord("3")):
            pass  # underline, font, line spacing: accepted, not drawn
        else:
            raise EscposError(at, f"ESC 0x{c:02x} ({chr(c) if 32 < c < 127 else '?'}) is not supported")
        return pos + 3

    def _gs(self, pos: int, at: int) -> int:
        c = self._need(pos, 2)[1]
        if c == ord("!"):
            n = self._need(pos, 3)[2]
            self.scale = ((n >> 4) + 1, (n & 0x0F) + 1)
            if max(self.scale) > 8:
                raise EscposError(at, f"GS ! 0x{n:02x}: character size beyond 8")
            return pos + 3
        if c in (ord("B"), ord("b")):
            self._need(pos, 3)
            return pos + 3
        if c == ord("v"):
            head = self._need(pos, 8)
            if head[2] != ord("0"):
                raise EscposError(at, "GS v: only GS v 0 (raster bit image) exists")
            self._supports("bitImageRaster", "GS v 0 raster image", at)
            x_bytes, height = head[4] | head[5] << 8, head[6] | head[7] << 8
            if x_bytes == 0 or height == 0:  # outside the command's range (1-128 bytes, 1-4095 rows)
                raise EscposError(at, f"GS v 0 raster of {x_bytes * 8}x{height} dots: zero-sized")
            data = self._need(pos + 8, x_bytes * height)
            if x_bytes * 8 > self.width:
                raise EscposError(at, f"raster {x_bytes * 8} dots wide > printable width {self.width}")
            self._flush_line()
            image = Image.frombytes("1", (x_bytes * 8, height), data, "raw", "1;I")
            self._place(image)
            return pos + 8 + x_bytes * height
        if c == ord("("):
            head = self._need(pos, 5)
            length = head[3] | head[4] << 8
            body = self._need(pos + 5, length)
            if head[2] == ord("k"):
                self._supports("qrCode", "GS ( k native QR code", at)
                self._qr(body, at)
            elif head[2] == ord("L"):
                self._supports("graphics", "GS ( L graphics", at)
                raise EscposError(at, "GS ( L graphics is not rendered by this virtual printer")
            else:
                raise EscposError(at, f"GS ( {chr(head[2])} is not supported")
            return pos + 5 + length
        if c == ord("V"):
            m = self._need(pos, 3)[2]
            if m in (0, 48, 65):
                self._supports("paperFullCut", "full cut", at)
            elif m in (1, 49, 66):
                self._supports("paperPartCut", "partial cut", at)
            else:
                raise EscposError(at, f"GS V {m}: no such cut")
            end = pos + 3
            if m in (65, 66):
                self._feed(self._need(pos, 4)[3])
                end += 1
            self._flush_line()
            self._emit()
            return end
        raise EscposError(at, f"GS 0x{c:02x} ({chr(c) if 32 < c < 127 else '?'}) is not supported")

    # -- drawing -------------------------------------------------------------------------------------------------
    def _qr(self, body: bytes, at: int) -> None:
        if len(body) < 2 or body[0] != ord("1"):
            raise EscposError(at, "GS ( k: only QR codes (cn 49) are supported")
        fn, args = body[1], body[2:]
        if fn == 65:
            if not args or args[0] not in (49, 50):
                raise EscposError(at, "GS ( k: QR model must be 1 or 2")
        elif fn == 67:
            if not args or not 1 <= args[0] <= 16:
                raise EscposError(at, "GS ( k: QR module size must be 1-16")
            self.qr_module = args[0]
        elif fn == 69:
            if not args or args[0] not in (48, 49, 50, 51):
                raise EscposError(at, "GS ( k: QR error correction must be 48-51")
            self.qr_error = "lmqh"[args[0] - 48]
        elif fn == 80:
            self._qr_data = args[1:]
        elif fn == 81:
            import segno

            self._flush_line()
            if not self._qr_data:
                raise EscposError(at, "GS ( k: print QR without stored data")
            code = segno.make_qr(self._qr_data, error=self.qr_error, boost_error=False)
            side = code.symbol_size(scale=self.qr_module, border=4)[0]
            if side > self.width:
                raise EscposError(at, f"QR code {side} dots wide > printable width {self.width}")
            image = Image.new("1", (side, side), 1)
            draw = ImageDraw.Draw(image)
            s = self.qr_module
            for y, row in enumerate(code.matrix):
                for x, dark in enumerate(row):
                    if dark:
                        draw.rectangle(((x + 4) * s, (y + 4) * s, (x + 5) * s - 1, (y + 5) * s - 1), fill=0)
            self._place(image)
            self.qr_commands.append(self._qr_data.decode("utf-8", errors="replace"))
        else:
            raise EscposError(at, f"GS ( k: QR function {fn} is not supported")

    def _place(self, image: Image.Image) -> None:
        row = Image.new("1", (self.width, image.height), 1)
        x = {0: 0, 1: (self.width - image.width) // 2, 2: self.width - image.width}[self.align]
        row.paste(image, (x, 0))
        self.rows.append(row)

    def _feed(self, dots: int) -> None:
        if dots:
            self.rows.append(Image.new("1", (self.width, dots), 1))

    def _flush_line(self, feed_if_empty: bool = False) -> None:
        if not self.line:
            if feed_if_empty:
                self._feed((FONT_A[1] + LINE_GAP) * self.scale[1])
            return
        w, h = self.scale
        cell_w, cell_h = FONT_A[0] * w, FONT_A[1] * h
        text = self.line[: self.width // cell_w]  # a real printer wraps; the kiosk never relies on it
        small = Image.new("1", (FONT_A[0] * len(text), FONT_A[1]), 1)
        draw = ImageDraw.Draw(small)
        draw.fontmode = "1"
        for i, char in enumerate(text):
            draw.text((i * FONT_A[0], 1), char, font=_mono(20), fill=0)
        big = small.resize((cell_w * len(text), cell_h), Image.NEAREST)
        self._place(big)
        self._feed(LINE_GAP * h)
        self.runs.append({"text": self.line, "width": w, "height": h, "bold": self.bold,
                          "align": ["left", "center", "right"][self.align]})
        self.line = ""

    def _emit(self) -> None:
        height = sum(r.height for r in self.rows)
        image = Image.new("1", (self.width, max(1, height)), 1)
        y = 0
        for row in self.rows:
            image.paste(row, (0, y))
            y += row.height
        receipt = PrintedReceipt(image, self.runs, self.qr_commands)
        self._start_receipt()
        self.on_receipt(receipt)


def render_bytes(data: bytes, profile_name: str) -> list[PrintedReceipt]:
    """Interpret a whole job (a file); raises EscposError on the first byte the profile cannot print."""
    receipts: list[PrintedReceipt] = []
    renderer = EscposRenderer(profile_name, receipts.append)
    renderer.feed(data)
    renderer.finish()
    return receipts
