"""`vaxkiosk decode`: barcodes in image files → one JSON line per file (the acceptance checks' contract)."""

from __future__ import annotations

# drivers.barcode.BACKENDS, listed here to keep OpenCV out of start-up
BACKEND_NAMES = ("twopass", "zxing", "zbar", "cascade")


def add_commands(sub) -> None:
    from base.cli import command

    p = command(sub, "decode", "decode QR / Code 128 in image files; one JSON line per file",
                "vaxkiosk decode --backend zxing card-front.jpg card-back.png")
    p.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                   help="barcode library (default: the kiosk's default, see docs/scanning.md)")
    p.add_argument("files", nargs="+", metavar="FILE", help="image files (JPEG, PNG, ...)")
    p.set_defaults(handler=cmd_decode)


def cmd_decode(args) -> int:
    """{"file", "codes": [{"format", "text"}], "ms"} per file; exit 1 when a file is not a readable image."""
    import cv2
    import numpy as np
    from PIL import Image

    from drivers.barcode import DEFAULT_BACKEND, make_decoder, timed
    from kiosk.commands import emit

    decode = make_decoder(args.backend or DEFAULT_BACKEND)
    status = 0
    for name in args.files:
        image = cv2.imread(name, cv2.IMREAD_GRAYSCALE)
        if image is None:  # formats OpenCV lacks (GIF, some TIFFs) still open through Pillow
            try:
                with Image.open(name) as im:
                    image = np.asarray(im.convert("L"))
            except (OSError, ValueError) as exc:
                emit({"file": name, "codes": [], "ms": None, "error": f"not a readable image: {exc}"})
                status = 1
                continue
        codes, ms = timed(decode, image)
        emit({"file": name, "codes": [c.to_json() for c in codes], "ms": round(ms, 2)})
    return status
