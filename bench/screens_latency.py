"""Scan → citizen screen feedback latency: a real kiosk process, Debian's Chromium showing `/`, scans injected
through POST /api/scan (the scanner's own path: parse → check-in → event → SSE → screen).

Prints the median and 95th percentile of
  - scan-to-screen: from just before the scan is handed to the kiosk until the result screen is drawn,
  - publish-to-screen: from the event's publication in the kiosk until drawn (the SSE + browser part alone).
The target is 300 ms from decode to feedback. Run: PYTHONPATH=. .venv/bin/python bench/screens_latency.py [--scans N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, Kiosk  # noqa: E402  (the same server the tests run)


def card(i: int) -> str:
    # 064 Gia Lai, 1 = woman born in the 1900s, 95 = 1995: the number agrees with the birth date and sex.
    return f"064195{i:06d}||Trần Thị Thử {i}|12081995|Nữ|Gia Lai|03062021"


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=40)
    parser.add_argument("--size", default="800x480")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        kiosk = Kiosk(Path(tmp)).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": w, "height": h})
                page.goto(kiosk.url + "/")
                page.wait_for_selector("body[data-live='1']")
                total, sse = [], []
                for i in range(1, args.scans + 1):
                    before = page.get_attribute("body", "data-last-scan-shown")
                    t0 = time.time()
                    kiosk.scan(card(i))
                    page.wait_for_function(f"() => document.body.dataset.lastScanShown !== {json.dumps(before)}")
                    shown = json.loads(page.get_attribute("body", "data-last-scan-shown"))
                    total.append(shown["shown"] - t0 * 1000)
                    sse.append(shown["shown"] - shown["at"] * 1000)
                browser.close()
        finally:
            kiosk.stop()
    print(f"scans: {len(total)} at {args.size} (new check-ins, each a durable SQLite commit)")
    print(f"scan-to-screen    median {statistics.median(total):6.1f} ms   p95 {pct(total, 0.95):6.1f} ms")
    print(f"publish-to-screen median {statistics.median(sse):6.1f} ms   p95 {pct(sse, 0.95):6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
