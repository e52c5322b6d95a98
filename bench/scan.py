"""Scanning figures for docs/performance.md ("Scanning"): decoders on synthetic camera frames, Vietnamese exactness,
and the time from a readable frame to a committed check-in. Single thread; medians of repeated runs.

    PYTHONPATH=. .venv/bin/python bench/scan.py [--frames 200] [--payloads 1000] [--seed 1]

Frames come from kiosk.simulation.cards (seeded, so every run sees the same frames): "easy" = QR 200-320 px wide and
blur ≤ 1/3 module (the target is ≥ 99 % read), "hard" = 110-200 px, more tilt and blur, darker; "empty" = no code.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from drivers.barcode import BACKENDS, DEFAULT_BACKEND, gray, make_decoder, timed  # noqa: E402
from kiosk.simulation.cards import card_frame, card_payload, qr_matrix, random_identity  # noqa: E402

SIZES = [(640, 480), (1280, 720)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def frame_sets(size, n, seed):
    rng = random.Random(seed * 7919 + size[0])
    sets = {}
    for difficulty in ("easy", "hard", "empty"):
        frames = []
        for _ in range(n):
            payload = card_payload(random_identity(rng))
            frames.append((payload, gray(card_frame(payload, rng, size, difficulty))))
        sets[difficulty] = frames
    return sets


def decoders_table(n: int, seed: int) -> None:
    print(f"\n### Decoders on synthetic camera frames ({n} frames per set, seed {seed})\n")
    print("| backend | frame | easy read | hard read | ms/frame with code: median / p95 | ms/empty frame: median / p95 |")
    print("|---|---|---|---|---|---|")
    for size in SIZES:
        sets = frame_sets(size, n, seed)
        for name in BACKENDS:
            decode = make_decoder(name)
            read, ms = {}, {}
            for difficulty, frames in sets.items():
                ok, times = 0, []
                for payload, image in frames:
                    codes, t = timed(decode, image)
                    times.append(t)
                    if difficulty == "empty":
                        ok += not codes
                    else:
                        ok += any(c.text == payload for c in codes)
                read[difficulty], ms[difficulty] = ok / len(frames), times
            assert read["empty"] == 1.0, f"{name} read a code in an empty frame"
            print(f"| {name} | {size[0]}×{size[1]} | {read['easy']:.1%} | {read['hard']:.1%} | "
                  f"{statistics.median(ms['easy']):.1f} / {pct(ms['easy'], 0.95):.1f} | "
                  f"{statistics.median(ms['empty']):.2f} / {pct(ms['empty'], 0.95):.2f} |", flush=True)


def vietnamese_table(n: int, seed: int) -> None:
    rng = random.Random(seed)
    payloads = [card_payload(random_identity(rng)) for _ in range(n)]
    images = [np.where(np.kron(qr_matrix(p), np.ones((3, 3), bool)), 0, 255).astype(np.uint8) for p in payloads]
    print(f"\n### Vietnamese text exact ({n} random card payloads, UTF-8 bytes, no ECI)\n")
    print("| backend | exact | wrong text | not read |")
    print("|---|---|---|---|")
    for name in BACKENDS:
        decode = make_decoder(name)
        exact = wrong = missing = 0
        for payload, image in zip(payloads, images):
            texts = [c.text for c in decode(image)]
            exact += texts == [payload]
            wrong += bool(texts) and texts != [payload]
            missing += not texts
        print(f"| {name} | {exact}/{n} | {wrong} | {missing} |", flush=True)
    # For comparison: pyzbar's own decode(), i.e. zbar with its charset guessing (what we switch off).
    from pyzbar import pyzbar

    exact = wrong = missing = 0
    for payload, image in zip(payloads, images):
        texts = [s.data.decode("utf-8", "replace") for s in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])]
        exact += texts == [payload]
        wrong += bool(texts) and texts != [payload]
        missing += not texts
    print(f"| pyzbar.decode() default, for comparison | {exact}/{n} | {wrong} | {missing} |", flush=True)


def commit_table(n: int, seed: int) -> None:
    """From the first readable frame (in the decoder's hands) to the check-in committed (fsynced) in SQLite."""
    from kiosk.checkin import CheckinService
    from kiosk.config import from_dict
    from kiosk.events import EventBus
    from kiosk.scanner import ScanHandler
    from kiosk.store import Store

    rng = random.Random(seed)
    frames = [gray(card_frame(card_payload(random_identity(rng)), rng, (640, 480), "easy")) for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        config = from_dict({"kiosk": {"site_id": "BENCH", "kiosk_id": "k1", "data_dir": tmp, "min_free_mb": 1}})
        store = Store(config.db_path)
        handler = ScanHandler(EventBus(), CheckinService(store, config.kiosk), "camera", 4.0)
        decode = make_decoder(DEFAULT_BACKEND)
        times = []
        for image in frames:
            start = time.perf_counter()
            results = [handler.handle(code.raw) for code in decode(image)]
            times.append((time.perf_counter() - start) * 1000.0)
            assert results and results[0]["result"] == "checked_in", results
        store.close()
    print(f"\n### First readable frame → committed check-in ({n} people, 640×480, {DEFAULT_BACKEND}, "
          "SQLite WAL synchronous=FULL on this disk)\n")
    print(f"median {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms, max {max(times):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per set (easy, hard, empty) and size")
    parser.add_argument("--payloads", type=int, default=1000, help="payloads for the Vietnamese exactness check")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    decoders_table(args.frames, args.seed)
    vietnamese_table(args.payloads, args.seed)
    commit_table(200, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
