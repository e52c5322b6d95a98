"""Certificate figures for docs/performance.md: HC1 size and QR version, sign and verify time, QR decode time, and
verification of the member states' conformance cases (tests/kiosk/data/dgc-testdata: ES256 on P-256 and P-384,
PS256, foreign DSCs with extended key usage).

Run: PYTHONPATH=. python bench/certificates.py   (prints medians over repeated runs; timing here is noisy)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import segno
from cryptography import x509

from base.signing import local_signer
from kiosk.certificates import dcc, hcert, read_qr_image, sign_dose
from kiosk.vaccines import VACCINES

REPEATS = 200
CONFORMANCE = Path(__file__).resolve().parent.parent / "tests" / "kiosk" / "data" / "dgc-testdata" / "cases.json"


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
    conformance_figures()


def conformance_figures() -> None:
    """Each member-state case verified with its own DSC as the only trusted one, at its own validation clock."""
    data = json.loads(CONFORMANCE.read_text(encoding="utf-8"))
    runs = []
    for case in data["cases"]:
        trust = hcert.TrustStore()
        trust.add(x509.load_der_x509_certificate(base64.b64decode(data["certificates"][case["certificate"]])))
        at = dt.datetime.fromisoformat(case["clock"])
        runs.append((case["prefix"], trust, at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)))

    def verify_all():
        for text, trust, at in runs:
            hcert.verify(text, trust, at)

    total = median_ms(verify_all, 15)
    print(f"verify the {len(runs)} dgc-testdata cases: median {total:.1f} ms in all, "
          f"{total / len(runs):.2f} ms per case")


if __name__ == "__main__":
    main()
