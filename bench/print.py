"""Bytes per ticket / certificate and render time per job (layout → 1-bit raster → ESC/POS), per printer profile.

Usage: python bench/print.py [--runs 30]
The certificate is kiosk.certificates.sample_certificate_view's (a real signed HC1 payload).
Serial time is the wire time alone at 8N1 (10 bits per byte), the worst link a site may have.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from base.privacy import mask_id  # noqa: E402
from kiosk.certificates import sample_certificate_view  # noqa: E402
from kiosk.identity import parse  # noqa: E402
from kiosk.printing import layouts  # noqa: E402
from kiosk.printing.receipt import to_escpos  # noqa: E402

SAMPLE_QR = "064195001234|230987654|Trần Thị Hồng Nhung|12081995|Nữ|Tổ 5, Phường Yên Đỗ, TP Pleiku, Gia Lai|03062021"
PROFILES = [("POS-5890", 58), ("TM-T88V", 80), ("TM-T20II", 80)]


def certificate_view():
    identity = parse(SAMPLE_QR)
    return sample_certificate_view(identity, tempfile.mkdtemp(prefix="vaxkiosk-bench-")), "signed payload"


def ticket_view():
    identity = parse(SAMPLE_QR)
    return layouts.TicketView(site_name="Trạm Y tế Phường Yên Đỗ", number=42, checked_in=dt.datetime.now(),
                              full_name=identity.full_name, masked_id=mask_id(identity.id_number), people_ahead=7,
                              wait_minutes=28)


def measure(make, runs: int) -> tuple[int, float]:
    make()  # warm the font cache: the kiosk pays it once per process
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        size = len(make())
        times.append(time.perf_counter() - t0)
    return size, statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    cert, kind = certificate_view()
    print(f"certificate QR: {kind}, {len(cert.qr_payload)} characters; median of {args.runs} runs")
    print(f"{'profile':<10} {'paper':>5} {'job':<12} {'bytes':>7} {'render ms':>10} {'9600 bd s':>10} {'115200 bd s':>12}")
    for profile, paper in PROFILES:
        for job, make in (("ticket", lambda: to_escpos(layouts.ticket(ticket_view(), profile, paper))),
                          ("certificate", lambda: to_escpos(layouts.certificate(cert, profile, paper)))):
            size, ms = measure(make, args.runs)
            print(f"{profile:<10} {paper:>4}mm {job:<12} {size:>7} {ms:>10.1f} {size * 10 / 9600:>10.1f} "
                  f"{size * 10 / 115200:>12.2f}")


if __name__ == "__main__":
    main()
