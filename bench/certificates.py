"""Certificate figures for docs/performance.md: HC1 size and QR version, sign and verify time, QR decode time.

Run: PYTHONPATH=. python bench/certificates.py   (prints medians over repeated runs; timing here is noisy)
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import segno

from kiosk.certificates import dcc, hcert
from kiosk.certificates import read_qr_image, sign_dose
from kiosk.certificates.signing import local_signer
from kiosk.vaccines import VACCINES

REPEATS = 200


def median_ms(fn, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-certs-"))
    signer = local_signer(work, "bench")
    dose = dcc.Dose(VACCINES["comirnaty"], 2, dt.date(2026, 11, 25), "URN:UVCI:01:VN:VXK/GL-01/0123456789ABCDEF#K")
    name, dob = "Nguyễn Thị Phương Thảo", dt.date(1995, 8, 12)
    text = sign_dose(signer, name, dob, dose)
    trust = hcert.TrustStore()
    trust.add(signer.certificate)
    qr = segno.make_qr(text, error="q")
    png = work / "qr.png"
    qr.save(png, scale=3, border=4)
    print(f"HC1 text: {len(text)} characters; QR version {qr.version} (error correction Q), "
          f"{qr.symbol_size(scale=1, border=0)[0]} modules wide")
    print(f"sign (DCC → HC1, ES256): median {median_ms(lambda: sign_dose(signer, name, dob, dose)):.2f} ms")
    print(f"verify (HC1 → checked): median {median_ms(lambda: hcert.verify(text, trust)):.2f} ms")
    print(f"decode QR from a {qr.symbol_size(scale=3)[0]} px PNG (zxing-cpp): "
          f"median {median_ms(lambda: read_qr_image(png), 50):.2f} ms")


if __name__ == "__main__":
    main()
