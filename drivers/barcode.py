"""Barcodes in an image → (format, text as the symbol says, raw bytes, corner points). Hardware only: no ID-card rules.

Four backends behind one function type, `Decoder = Callable[[image], list[Code]]`:

- zxing: zxing-cpp's single pass over the frame, the fastest and most robust library in our measurements
  (docs/performance.md, "Scanning"). It hands back the raw bytes of a code as `.bytes` and, with `TextMode.HexECI`,
  the ECI designators the symbol carries.
- zbar: pyzbar (libzbar) through its ctypes bindings, with the scanner switched to binary mode for QR codes: zbar's
  default charset guessing (Shift-JIS, Latin-1, Big5 before UTF-8) garbles Vietnamese (`Nữ` → `N盻ｯ`). zbar does not
  report ECI designators, so what it reads is always taken as UTF-8.
- cascade: zxing, then zbar when zxing found nothing.
- twopass (the default): zxing-cpp once over the frame, then, only where it saw a QR code it could not read, a second
  look at that part of the frame (drivers.second_pass: crop, enlarge, sharpen; with `frames=True`, for the consecutive
  frames of one camera, also the average of the last few frames while the card is held still). A second-pass result
  counts only when zxing-cpp decodes it without error, exactly like a first-pass one.

Only QR Code and Code 128 are searched: every other symbology multiplies the cost of an empty frame for nothing.

Text: a code with ECI designators is decoded as they say, segment by segment (the charsets of the AIM ECI register);
a code without any, like the ID card's, is decoded as UTF-8 here, never by a library's guess at a legacy charset.
Bytes that are not valid in their charset keep their raw bytes and get replacement characters in `text`; `payload`
(what a parser is given) never turns them into text.
"""

from __future__ import annotations

import ctypes
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

QR = "QRCode"
CODE128 = "Code128"

Point = tuple[int, int]


@dataclass(frozen=True)
class Code:
    format: str  # "QRCode" | "Code128"
    text: str  # as the symbol says (its ECI charsets, else UTF-8); replacement characters where bytes are invalid
    raw: bytes  # the content bytes, without ECI designators
    points: tuple[Point, ...]  # corners (or the scan line's ends) in image pixels, for the preview outline
    eci: tuple[int, ...] = ()  # the ECI designators in the symbol, in order; () = none, read as UTF-8
    second_pass: bool = False  # read by drivers.second_pass, not by the first pass over the whole frame
    # What a parser is given: the raw bytes when the symbol says nothing or says UTF-8 (the parser decodes and
    # checks them, as for a serial scanner's line); otherwise the text in the symbol's charsets, where a byte that
    # is invalid there becomes a lone surrogate (never valid text). Defaults to `raw`.
    payload: bytes | str = field(default=b"", repr=False)

    def __post_init__(self):
        if not self.payload:
            object.__setattr__(self, "payload", self.raw)

    def to_json(self) -> dict:
        return {"format": self.format, "text": self.text}


Decoder = Callable[[np.ndarray], list[Code]]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def gray(image: np.ndarray) -> np.ndarray:
    """Both libraries work on luminance; converting once is cheaper than letting each do it."""
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


# -- ECI ---------------------------------------------------------------------------------------------------------------
UTF8_ECI = 26
# The character-set ECIs zxing-cpp knows (its ECI.h), as Python codecs. 0-2 are obsolete but still met.
ECI_CODECS = {
    0: "cp437", 1: "latin-1", 2: "cp437", 3: "latin-1", 4: "iso8859-2", 5: "iso8859-3", 6: "iso8859-4",
    7: "iso8859-5", 8: "iso8859-6", 9: "iso8859-7", 10: "iso8859-8", 11: "iso8859-9", 12: "iso8859-10",
    13: "iso8859-11", 15: "iso8859-13", 16: "iso8859-14", 17: "iso8859-15", 18: "iso8859-16", 20: "shift_jis",
    21: "cp1250", 22: "cp1251", 23: "cp1252", 24: "cp1256", 25: "utf-16-be", 26: "utf-8", 27: "ascii", 28: "big5",
    29: "gb2312", 30: "euc_kr", 32: "gb18030", 33: "utf-16-le", 34: "utf-32-be", 35: "utf-32-le", 170: "ascii",
}


def eci_segments(bytes_eci: bytes, identifier: str) -> list[tuple[int | None, bytes]]:
    """zxing-cpp's `bytesECI` (symbology identifier, then the content in the ECI protocol) → [(ECI or None, bytes)].

    Without ECI the identifier is the plain one (`]Q1`) and the bytes follow as they are. With ECI it is the ECI
    variant (`]Q2`) and every block starts with a designator `\\nnnnnn`; a backslash in the data is doubled. zxing-cpp
    reports bytes before the first designator of such a symbol as ECI 3, the standard's default."""
    if bytes_eci.startswith(identifier.encode("ascii")):
        return [(None, bytes_eci[len(identifier):])]
    body, segments, current, chunk, i = bytes_eci[len(identifier):], [], None, bytearray(), 0
    while i < len(body):
        if body[i] == 0x5C and body[i + 1:i + 2] == b"\\":
            chunk.append(0x5C)
            i += 2
            continue
        digits = body[i + 1:i + 7]
        if body[i] == 0x5C and len(digits) == 6 and digits.isdigit():
            if chunk:
                segments.append((current, bytes(chunk)))
            current, chunk = int(digits), bytearray()
            i += 7
            continue
        chunk.append(body[i])
        i += 1
    if chunk or not segments:
        segments.append((current, bytes(chunk)))
    return segments


def symbol_text(segments: list[tuple[int | None, bytes]]) -> tuple[str, bytes | str]:
    """(text for people, payload for a parser) of a symbol's segments; see Code.payload."""
    text, strict = [], []
    for eci, data in segments:
        codec = "utf-8" if eci is None else ECI_CODECS.get(eci)
        if codec is None:  # a charset we do not know (or ECI 899, binary): nothing here is text we can trust
            text.append("\ufffd" * len(data))
            strict.append("".join(chr(0xDC00 + b) for b in data))
        else:
            text.append(data.decode(codec, errors="replace"))
            strict.append(data.decode(codec, errors="surrogateescape"))
    raw = b"".join(data for _, data in segments)
    if all(eci in (None, UTF8_ECI) for eci, _ in segments):
        return "".join(text), raw
    return "".join(text), "".join(strict)


# -- zxing-cpp ---------------------------------------------------------------------------------------------------------
class Zxing:
    """zxing-cpp with our settings. `read` → (decoded codes, outlines of symbols it found but could not decode)."""

    def __init__(self):
        import zxingcpp

        self.lib = zxingcpp
        self.names = {zxingcpp.BarcodeFormat.QRCode: QR, zxingcpp.BarcodeFormat.Code128: CODE128}
        self.both = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128)
        self.qr = zxingcpp.BarcodeFormat.QRCode
        self.code128 = zxingcpp.BarcodeFormat.Code128

    def read(self, image: np.ndarray, formats, *, downscale: bool = True, errors: bool = False,
             scale: tuple[float, float] = (1.0, 1.0), offset: tuple[int, int] = (0, 0),
             second_pass: bool = False) -> tuple[list[Code], list[tuple[Point, ...]]]:
        # try_invert off: the card's codes are dark on light. try_rotate off: it only adds a vertical search for
        # linear codes (a QR code is found at any angle anyway) and doubles the cost of every empty frame; Code 128
        # is still read up to about ±25° from horizontal (tests/drivers/test_barcode.py). HexECI: the content with
        # its ECI designators, so that we decode the text as the symbol says and not as zxing-cpp guesses.
        found = self.lib.read_barcodes(image, formats=formats, try_invert=False, try_rotate=False,
                                       try_downscale=downscale, return_errors=errors,
                                       text_mode=self.lib.TextMode.HexECI)
        codes, unread = [], []
        for b in found:
            p = b.position
            corners = tuple((int(round(q.x / scale[0])) + offset[0], int(round(q.y / scale[1])) + offset[1])
                            for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
            if not b.valid:
                unread.append(corners)
                continue
            segments = eci_segments(bytes.fromhex(b.text), b.symbology_identifier)
            text, payload = symbol_text(segments)
            codes.append(Code(self.names.get(b.format, str(b.format)), text, bytes(b.bytes), corners,
                              tuple(eci for eci, _ in segments if eci is not None), second_pass, payload))
        return codes, unread


def zxing_decoder() -> Decoder:
    zx = Zxing()

    def decode(image: np.ndarray) -> list[Code]:
        return zx.read(gray(image), zx.both)[0]

    return decode


# -- zbar (pyzbar's ctypes bindings) -----------------------------------------------------------------------------------
# zbar.h (0.23): ZBAR_CFG_BINARY = 4, "don't convert binary data to text". pyzbar 0.1.9's enum predates it (it still
# calls 4 CFG_NUM), so the number is written here.
ZBAR_CFG_ENABLE = 0
ZBAR_CFG_BINARY = 4
ZBAR_QRCODE = 64
ZBAR_CODE128 = 128
_Y800 = int.from_bytes(b"Y800", "little")


def zbar_decoder() -> Decoder:
    from pyzbar import wrapper as zb

    scanner = zb.zbar_image_scanner_create()
    # Everything off, then only our two symbologies on, QR codes in binary mode.
    zb.zbar_image_scanner_set_config(scanner, 0, ZBAR_CFG_ENABLE, 0)
    for symbol in (ZBAR_QRCODE, ZBAR_CODE128):
        zb.zbar_image_scanner_set_config(scanner, symbol, ZBAR_CFG_ENABLE, 1)
    zb.zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1)
    names = {ZBAR_QRCODE: QR, ZBAR_CODE128: CODE128}

    def decode(image: np.ndarray) -> list[Code]:
        pixels = np.ascontiguousarray(gray(image))
        height, width = pixels.shape
        img = zb.zbar_image_create()
        try:
            zb.zbar_image_set_format(img, _Y800)
            zb.zbar_image_set_size(img, width, height)
            zb.zbar_image_set_data(img, pixels.ctypes.data_as(ctypes.c_void_p), pixels.nbytes, None)
            if zb.zbar_scan_image(scanner, img) <= 0:
                return []
            codes = []
            symbol = zb.zbar_image_first_symbol(img)
            while symbol:
                kind = symbol.contents.type
                raw = ctypes.string_at(zb.zbar_symbol_get_data(symbol), zb.zbar_symbol_get_data_length(symbol))
                points = tuple((zb.zbar_symbol_get_loc_x(symbol, i), zb.zbar_symbol_get_loc_y(symbol, i))
                               for i in range(zb.zbar_symbol_get_loc_size(symbol)))
                if kind in names:
                    codes.append(Code(names[kind], _text(raw), raw, _outline(points, kind)))
                symbol = zb.zbar_symbol_next(symbol)
            return codes
        finally:
            # The pixels belong to numpy: no cleanup handler was given, zbar only frees its own structure.
            zb.zbar_image_destroy(img)

    return decode


def _outline(points: tuple[Point, ...], kind: int) -> tuple[Point, ...]:
    # zbar gives a QR code's four corners, but every scan line's crossing points for a linear code: keep their hull.
    if kind == ZBAR_QRCODE or len(points) <= 4:
        return points
    import cv2

    hull = cv2.convexHull(np.array(points, dtype=np.int32)).reshape(-1, 2)
    return tuple((int(x), int(y)) for x, y in hull)


# -- cascade -----------------------------------------------------------------------------------------------------------
def cascade_decoder() -> Decoder:
    """zxing-cpp first; zbar only when zxing found nothing. See docs/performance.md for what it buys and costs."""
    first, second = zxing_decoder(), zbar_decoder()

    def decode(image: np.ndarray) -> list[Code]:
        g = gray(image)
        return first(g) or second(g)

    return decode


# Every fourth row is enough for Code 128: tilted (±25°) and scaled labels read the same on every row and every second
# to sixth (120 generated labels, devtools.simulation.cards.code128_frame, 2026-12-02); a label 30 px tall still
# gets seven rows. The rows skipped are three quarters of the cost.
CODE128_ROW_STEP = 4


# -- zxing-cpp, then a second look where it saw a code it could not read -----------------------------------------------
def two_pass_decoder(frames: bool = False) -> Decoder:
    """The first pass is zxing-cpp over the whole frame at its own resolution (no downscaled copy: the codes we lose
    are small, not large) with `return_errors`, so that a symbol it found but could not decode comes back with its
    outline; Code 128 is searched on every fourth row (a bar code reads the same on any row through it, and this
    takes three quarters off the dearest part of an empty frame). When no QR code was read, drivers.second_pass finds
    where one may be and shows zxing-cpp only that part again, sharpened and enlarged. `frames=True`: the images are the consecutive frames of one
    camera, and a card held still is also read from the mean of its last few frames."""
    from drivers import second_pass

    zx = Zxing()
    steady = second_pass.Steadiness() if frames else None

    def decode(image: np.ndarray) -> list[Code]:
        g = gray(image)
        codes, unread = zx.read(g, zx.qr, downscale=False, errors=True)
        codes += zx.read(np.ascontiguousarray(g[::CODE128_ROW_STEP]), zx.code128, downscale=False,
                         scale=(1.0, 1 / CODE128_ROW_STEP))[0]
        if any(c.format == QR for c in codes):
            if steady:
                steady.reset()
            return codes
        regions = second_pass.regions(g, unread)
        found: list[Code] = []
        for look, scale, region in itertools.islice(second_pass.looks(g, regions, steady), second_pass.MAX_LOOKS):
            found, _ = zx.read(look, zx.qr, downscale=False, scale=(scale, scale), offset=(region.x0, region.y0),
                               second_pass=True)
            if found:
                break
        if steady:
            steady.add(g, [] if found else regions)
        return codes + found

    return decode


BACKENDS: dict[str, Callable[..., Decoder]] = {
    "twopass": two_pass_decoder,
    "zxing": zxing_decoder,
    "zbar": zbar_decoder,
    "cascade": cascade_decoder,
}
DEFAULT_BACKEND = "twopass"


def make_decoder(name: str = DEFAULT_BACKEND, frames: bool = False) -> Decoder:
    """`frames=True`: for the consecutive frames of one camera (the backend may then combine frames); a decoder made
    so must not be shared between cameras or used for unrelated images."""
    try:
        make = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown barcode backend {name!r} (known: {', '.join(BACKENDS)})") from None
    return make(frames=True) if frames and make is two_pass_decoder else make()


def timed(decode: Decoder, image: np.ndarray) -> tuple[list[Code], float]:
    """(codes, milliseconds)."""
    start = time.perf_counter()
    codes = decode(image)
    return codes, (time.perf_counter() - start) * 1000.0
