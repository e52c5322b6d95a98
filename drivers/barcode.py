"""Barcodes in an image → (format, exact UTF-8 text, raw bytes, corner points). Hardware only: no ID-card rules here.

Two libraries behind one function type, `Decoder = Callable[[image], list[Code]]`:

- zxing-cpp: fastest and most robust in our measurements (docs/performance.md, "Scanning"); it hands back the raw
  bytes of a QR code as `.bytes`.
- pyzbar (libzbar) through its ctypes bindings, with the scanner switched to binary mode for QR codes: zbar's default
  charset guessing (Shift-JIS, Latin-1, Big5 before UTF-8) garbles Vietnamese (`Nữ` → `N盻ｯ`), and the card's QR has
  no ECI marker to tell it otherwise.

Only QR Code and Code 128 are searched: every other symbology multiplies the cost of an empty frame for nothing.
The bytes are decoded as UTF-8 here, never by a library; invalid UTF-8 keeps its raw bytes and gets replacement
characters in `text` so the caller can refuse it with its own message.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

QR = "QRCode"
CODE128 = "Code128"

Point = tuple[int, int]


@dataclass(frozen=True)
class Code:
    format: str  # "QRCode" | "Code128"
    text: str  # raw bytes decoded as UTF-8 (replacement characters where they are not UTF-8)
    raw: bytes
    points: tuple[Point, ...]  # corners (or the scan line's ends) in image pixels, for the preview outline

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


# -- zxing-cpp ---------------------------------------------------------------------------------------------------------
def zxing_decoder() -> Decoder:
    import zxingcpp

    formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128)
    names = {zxingcpp.BarcodeFormat.QRCode: QR, zxingcpp.BarcodeFormat.Code128: CODE128}

    def decode(image: np.ndarray) -> list[Code]:
        # try_invert off: the card's codes are dark on light. try_rotate off: it only adds a vertical search for
        # linear codes (a QR code is found at any angle anyway) and doubles the cost of every empty frame; Code 128
        # is still read up to about ±25° from horizontal (tests/drivers/test_barcode.py).
        found = zxingcpp.read_barcodes(gray(image), formats=formats, try_invert=False, try_rotate=False,
                                       text_mode=zxingcpp.TextMode.Plain)
        codes = []
        for b in found:
            p = b.position
            corners = tuple((int(q.x), int(q.y)) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
            raw = bytes(b.bytes)
            codes.append(Code(names.get(b.format, str(b.format)), _text(raw), raw, corners))
        return codes

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


BACKENDS: dict[str, Callable[[], Decoder]] = {
    "zxing": zxing_decoder,
    "zbar": zbar_decoder,
    "cascade": cascade_decoder,
}
DEFAULT_BACKEND = "zxing"


def make_decoder(name: str = DEFAULT_BACKEND) -> Decoder:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown barcode backend {name!r} (known: {', '.join(BACKENDS)})") from None


def timed(decode: Decoder, image: np.ndarray) -> tuple[list[Code], float]:
    """(codes, milliseconds)."""
    start = time.perf_counter()
    codes = decode(image)
    return codes, (time.perf_counter() - start) * 1000.0
