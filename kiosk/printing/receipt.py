"""A receipt as printer-independent segments (raster images, big ASCII text, QR codes) and its ESC/POS bytes.

Layouts add lines to a `ReceiptBuilder`; consecutive lines become one raster image. `to_escpos()` turns the
segments into bytes with python-escpos for a given profile, using a command only when the profile has it: native QR
(`GS ( k`) only with the `qrCode` feature (otherwise the code is drawn into the image), a cut only with a cutter.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field

from PIL import Image

from drivers.printer import load_profile, printable_width, supports
from kiosk.printing.raster import Canvas, qr_picture

# Tall images go in slices: a printer's receive buffer is small, and a slice that fails costs less paper.
FRAGMENT_HEIGHT = 256
FONT_A_WIDTH = 12  # dots per character of the printer's font A (12 × 24)
QR_ERROR = "m"


@dataclass(frozen=True)
class Raster:
    image: Image.Image


@dataclass(frozen=True)
class BigText:
    text: str  # plain ASCII only
    scale: int  # 1-8, printer font magnification


@dataclass(frozen=True)
class QrCode:
    payload: str
    module: int  # dots per module


@dataclass
class Receipt:
    profile: str
    width: int
    segments: list = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # every text line drawn, in order (for tests and logs)


class ReceiptBuilder:
    def __init__(self, profile: str, paper_mm: int):
        load_profile(profile)
        self.profile = profile
        self.width = printable_width(profile, paper_mm)
        self.native_qr = supports(profile, "qrCode")
        self.receipt = Receipt(profile=profile, width=self.width)
        self.canvas = Canvas(self.width, margin=max(4, self.width // 64))

    def _flush(self) -> None:
        if not self.canvas.empty:
            self.receipt.segments.append(Raster(self.canvas.finish()))

    def text(self, text: str, size: int, bold: bool = False, align: str = "left", invert: bool = False) -> None:
        before = len(self.canvas.lines)
        self.canvas.text(text, size, bold=bold, align=align, invert=invert)
        self.receipt.lines.extend(self.canvas.lines[before:])

    def gap(self, height: int) -> None:
        self.canvas.gap(height)

    def rule(self) -> None:
        self.canvas.rule()

    def big_text(self, text: str) -> None:
        if not text.isascii() or not text.isprintable():
            raise ValueError(f"printer fonts take plain ASCII only, not {text!r}")
        self._flush()
        scale = max(1, min(6, self.width // (FONT_A_WIDTH * max(3, len(text)))))
        self.receipt.segments.append(BigText(text, scale))
        self.receipt.lines.append(text)

    def qr(self, payload: str) -> None:
        if self.native_qr:
            import segno

            modules = segno.make_qr(payload, error=QR_ERROR, boost_error=False).symbol_size(
                scale=1, border=0)[0]
            module = max(1, min(8, self.width // (modules + 8)))
            self._flush()
            self.receipt.segments.append(QrCode(payload, module))
        else:
            self.canvas.image(qr_picture(payload, self.width, error=QR_ERROR))

    def finish(self) -> Receipt:
        self._flush()
        return self.receipt


def to_escpos(receipt: Receipt) -> bytes:
    from escpos.printer import Dummy

    p = Dummy(profile=receipt.profile)
    p.hw("INIT")
    # python-escpos print()s a notice to stdout for profiles without a known width: it would corrupt JSON output.
    with contextlib.redirect_stdout(io.StringIO()):
        _encode_segments(p, receipt)
    if supports(receipt.profile, "paperPartCut") or supports(receipt.profile, "paperFullCut"):
        p.cut(mode="PART")  # feeds past the cutter; a partial cut when the printer has one (the receipt stays)
    else:
        p.print_and_feed(5)  # no cutter: feed past the tear bar
    return p.output


def _encode_segments(p, receipt: Receipt) -> None:
    from escpos.constants import QR_ECLEVEL_M

    for segment in receipt.segments:
        if isinstance(segment, Raster):
            if segment.image.width > receipt.width:
                raise ValueError(f"raster {segment.image.width} dots wide > printable {receipt.width}")
            p.image(segment.image, impl="bitImageRaster", fragment_height=FRAGMENT_HEIGHT)
        elif isinstance(segment, BigText):
            p.set(align="center", bold=True, custom_size=True, width=segment.scale, height=segment.scale)
            p.text(segment.text + "\n")
            p.set(align="left", bold=False, normal_textsize=True)
        elif isinstance(segment, QrCode):
            p.set(align="center")
            p.qr(segment.payload, native=True, size=segment.module, ec=QR_ECLEVEL_M)
            p.set(align="left")
            p.ln()

