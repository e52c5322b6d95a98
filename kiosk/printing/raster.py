"""Drawing receipt lines with Pillow: DejaVu Sans, NFC text, 1-bit pixels (no anti-aliasing), wrapped to the width.

A `Canvas` stacks lines top to bottom at a fixed width and remembers the text of each line it drew, so tests and
the bench can see what a layout says without reading pixels back.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
# DejaVu Sans, not DejaVu Sans Mono: the mono face lacks 46 Vietnamese glyphs.
FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
WHITE, BLACK = 1, 0


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=None)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    for folder in FONT_DIRS:
        path = folder / FONT_FILES[bold]
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise FontMissing(f"{FONT_FILES[bold]} not found in {', '.join(map(str, FONT_DIRS))} (Debian: fonts-dejavu-core)")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap by rendered width; a word longer than the line is broken between letters."""
    lines: list[str] = []
    for paragraph in nfc(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:
                if face.getlength(line + char) > width and line:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return lines


class Canvas:
    def __init__(self, width: int, margin: int = 0):
        self.width = width
        self.margin = margin
        self.rows: list[Image.Image] = []
        self.lines: list[str] = []

    @property
    def inner(self) -> int:
        return self.width - 2 * self.margin

    def text(self, text: str, size: int, bold: bool = False, align: str = "left", invert: bool = False) -> None:
        face = font(size, bold)
        ascent, descent = face.getmetrics()
        for line in wrap(text, face, self.inner - (2 * size // 3 if invert else 0)):
            # Stacked marks on capitals (Ẩ, Ễ) rise above the font's ascent: measure the line, never clip a mark.
            top = min(0, face.getbbox(line)[1]) - size // 12
            row = Image.new("1", (self.width, ascent + descent - top + size // 12), BLACK if invert else WHITE)
            draw = ImageDraw.Draw(row)
            draw.fontmode = "1"  # no anti-aliasing: thermal dots are on or off
            length = face.getlength(line)
            x = {"left": self.margin, "center": (self.width - length) / 2,
                 "right": self.width - self.margin - length}[align]
            draw.text((round(x), -top), line, font=face, fill=WHITE if invert else BLACK)
            self.rows.append(row)
            self.lines.append(line)

    def gap(self, height: int) -> None:
        self.rows.append(Image.new("1", (self.width, height), WHITE))

    def rule(self, thickness: int = 2, pad: int = 6) -> None:
        self.gap(pad)
        row = Image.new("1", (self.width, thickness), WHITE)
        ImageDraw.Draw(row).rectangle((self.margin, 0, self.width - self.margin - 1, thickness - 1), fill=BLACK)
        self.rows.append(row)
        self.gap(pad)

    def image(self, picture: Image.Image) -> None:
        """Paste a 1-bit picture (a QR code) centred on its own rows."""
        row = Image.new("1", (self.width, picture.height), WHITE)
        row.paste(picture, ((self.width - picture.width) // 2, 0))
        self.rows.append(row)

    @property
    def empty(self) -> bool:
        return not self.rows

    def finish(self) -> Image.Image:
        height = sum(r.height for r in self.rows)
        out = Image.new("1", (self.width, max(height, 1)), WHITE)
        y = 0
        for row in self.rows:
            out.paste(row, (0, y))
            y += row.height
        self.rows = []
        return out


def qr_picture(payload: str, max_width: int, error: str = "m") -> Image.Image:
    """A QR code as a 1-bit picture at the largest whole module size that fits, with the 4-module quiet zone."""
    import segno

    code = segno.make_qr(payload, error=error, boost_error=False)
    modules = code.symbol_size(scale=1, border=4)[0]
    scale = max(1, max_width // modules)
    side = modules * scale
    picture = Image.new("1", (side, side), WHITE)
    draw = ImageDraw.Draw(picture)
    for y, row in enumerate(code.matrix):
        for x, dark in enumerate(row):
            if dark:
                left, top = (x + 4) * scale, (y + 4) * scale
                draw.rectangle((left, top, left + scale - 1, top + scale - 1), fill=BLACK)
    return picture
