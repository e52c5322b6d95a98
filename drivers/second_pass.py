"""A second look at a frame where the first pass saw a QR code but could not read it.

The first pass (zxing-cpp over the whole frame) misses small, blurred, noisy codes. Such a frame still shows where a
code is: zxing-cpp returns the outline of a symbol it found but could not decode (`return_errors`), and a QR code's
three finder patterns (the 7×7-module squares in its corners, a 1:1:3:1:1 run of dark and light across their centre)
are found far more cheaply than a code is read. Only there, and only then, is the frame looked at again:

- `finder_patterns(gray)`: the finder patterns, from every second row of the frame (vectorised), each hit kept only
  when the next sampled row has it too and the column through it confirms it. A frame without a code (most frames
  of the day) almost never has one, so it pays only for this search (docs/performance.md, "Scanning").
- `regions(gray, unread)`: square crops that hold a code: three patterns of one module size in a right angle with
  equal legs, two at a distance a code can have, or an outline zxing-cpp could not decode.
- `looks(...)`: what zxing-cpp is shown, best first: the crop sharpened (an unsharp mask against the camera's blur)
  and enlarged (cubic), the mean of the card's last frames when it is held still (`Steadiness`, which takes the gain
  noise of a dim hall down by √n), milder variants. drivers.barcode stops at the first read or after MAX_LOOKS.

Nothing here decides what a code says: a crop is only ever read by zxing-cpp, and a result counts only when zxing-cpp
decodes it without an error (its Reed-Solomon check), exactly as on the first pass.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import cv2
import numpy as np

# Finder patterns are searched with modules of this many pixels (smaller cannot be read even enlarged; larger codes
# are read by the first pass unless blurred beyond what sharpening can undo).
MIN_MODULE_PX = 1.2
MAX_MODULE_PX = 6.0
ROW_STEP = 2  # a finder's 3-module core is ≥ 3.6 px tall: every second row crosses it at least twice
DARK_MARGIN = 14  # grey levels below the local mean for a pixel to count as dark (keeps flat, noisy areas light)
# Each run within this many modules of its 1:1:3:1:1 share: loose enough for blur and noise; the pairing of rows and
# the column check weed out what else passes (no finder on 200 cluttered empty frames of the benchmark).
RUN_TOLERANCE = 0.9
MAX_HITS = 200  # row hits looked at per frame (a frame full of text cannot cost more than this)
MAX_FINDERS = 16
MAX_REGIONS = 3


@dataclass(frozen=True)
class Finder:
    x: float
    y: float
    module: float  # pixels per module


@dataclass(frozen=True)
class Region:
    """A square crop of the frame [x0, x1) × [y0, y1) expected to hold one QR code with modules of `module` px."""

    x0: int
    y0: int
    x1: int
    y1: int
    module: float

    def crop(self, gray: np.ndarray) -> np.ndarray:
        return gray[self.y0:self.y1, self.x0:self.x1]

    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def holds(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def overlaps(self, other: "Region") -> bool:
        """One's centre lies in the other: the same code found by other finder patterns, or moved a little."""
        return self.holds(*other.centre()) or other.holds(*self.centre())


# -- finder patterns ---------------------------------------------------------------------------------------------------
def _row_hits(gray: np.ndarray) -> np.ndarray | None:
    """(y, x, module) where a sampled row crosses dark-light-dark(3)-light-dark runs in a 1:1:3:1:1 ratio, kept only
    where the next sampled row crosses the same pattern too."""
    h, w = gray.shape
    rows = gray[::ROW_STEP]
    # The local mean (the frame 8× smaller, smoothed, enlarged again) copes with a lamp on one side of the card.
    small = cv2.pyrDown(cv2.resize(gray, (w // 4, h // 4), interpolation=cv2.INTER_LINEAR))
    threshold = cv2.resize(cv2.subtract(small, DARK_MARGIN), (w, rows.shape[0]), interpolation=cv2.INTER_LINEAR)
    dark = cv2.compare(rows, threshold, cv2.CMP_LT)
    change = np.flatnonzero(dark[:, 1:] != dark[:, :-1])
    if len(change) < 6:
        return None
    row = change // (w - 1)
    start = change % (w - 1) + 1  # first pixel of the run that begins here
    length = np.diff(start).astype(np.float32)  # run i: from start[i], valid where row[i + 1] == row[i]
    same = row[1:] == row[:-1]
    a, b, c, d, e = length[:-4], length[1:-3], length[2:-2], length[3:-1], length[4:]
    module = (a + b + c + d + e) * (1 / 7)
    tol = RUN_TOLERANCE * module
    ok = same[:-4] & same[1:-3] & same[2:-2] & same[3:-1] & same[4:]
    ok &= (module >= MIN_MODULE_PX) & (module <= MAX_MODULE_PX)
    ok &= (np.abs(a - module) < tol) & (np.abs(b - module) < tol) & (np.abs(d - module) < tol)
    ok &= (np.abs(e - module) < tol) & (np.abs(c - 3 * module) < 2 * tol)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return None
    core = idx + 2
    hit_row = row[core]
    centre_dark = dark[hit_row, start[core]] > 0
    idx, core, hit_row = idx[centre_dark], core[centre_dark], hit_row[centre_dark]
    x = start[core] + length[core] * 0.5
    module = module[idx]
    # A finder's core spans two sampled rows or more; a lone hit is text, noise or a pattern on someone's shirt.
    key = hit_row * 65536.0 + x
    target = key + 65536.0
    pos = np.clip(np.searchsorted(key, target), 0, len(key) - 1)
    prev = np.clip(pos - 1, 0, len(key) - 1)
    paired = (np.abs(key[pos] - target) < module) | (np.abs(key[prev] - target) < module)
    if not paired.any():
        return None
    return np.stack([hit_row[paired] * ROW_STEP + ROW_STEP * 0.5, x[paired], module[paired]], 1)[:MAX_HITS]


def _down_the_column(gray: np.ndarray, y: float, x: float, module: float) -> tuple[float, float] | None:
    """(centre y, module) when the column through (x, y) crosses a 1:1:3:1:1 pattern around y, else None."""
    xi, yi = int(x), int(y)
    reach = int(6 * module) + 2
    y0 = max(0, yi - reach)
    column = gray[y0:yi + reach + 1, xi]
    dark = column < ((int(column.max()) + int(column.min())) >> 1)
    change = np.flatnonzero(dark[1:] != dark[:-1]) + 1
    k = int(np.searchsorted(change, yi - y0, side="right"))  # the run holding y starts at change[k - 1]
    if k < 3 or k + 3 > len(change) or not dark[change[k - 1]]:
        return None  # the pattern's five runs must all end inside the strip
    bounds = change[k - 3:k + 3]
    a, b, c, d, e = np.diff(bounds)
    m = (a + b + c + d + e) / 7
    tol = RUN_TOLERANCE * m
    if (abs(a - m) < tol and abs(b - m) < tol and abs(d - m) < tol and abs(e - m) < tol and abs(c - 3 * m) < 2 * tol
            and 0.6 < m / module < 1.6):
        return y0 + bounds[2] + c / 2, m
    return None


def finder_patterns(gray: np.ndarray) -> list[Finder]:
    """QR finder patterns in a greyscale frame, confirmed across and down their centre."""
    hits = _row_hits(gray)
    if hits is None:
        return []
    found: list[Finder] = []
    for y, x, module in hits:
        if any(abs(y - f.y) < 4 * f.module and abs(x - f.x) < 4 * f.module for f in found):
            continue  # another row through a pattern already confirmed
        down = _down_the_column(gray, y, x, module)
        if down is not None:
            found.append(Finder(float(x), float(down[0]), float((module + down[1]) / 2)))
            if len(found) >= MAX_FINDERS:
                break
    return found


# -- where to look again -----------------------------------------------------------------------------------------------
def _square(cx: float, cy: float, half: float, module: float, shape: tuple[int, ...]) -> Region:
    h, w = shape[:2]
    return Region(max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half) + 1),
                  min(h, int(cy + half) + 1), module)


def _alike(f: Finder, g: Finder) -> bool:
    return 0.67 < f.module / g.module < 1.5


def _distance(f: Finder, g: Finder) -> float:
    return float(np.hypot(f.x - g.x, f.y - g.y))


def regions_from_finders(finders: list[Finder], shape: tuple[int, ...]) -> list[Region]:
    """Crops that hold a QR code whose finder patterns these may be: first three patterns of one module size in a
    right angle with equal legs (the code is the square they span), then pairs 12-75 modules apart (versions 2-10
    side by side, or across the diagonal: the code may lie on either side, so the crop is as wide again)."""
    out: list[Region] = []

    def add(cx: float, cy: float, half: float, module: float) -> None:
        if len(out) < MAX_REGIONS and not any(r.holds(cx, cy) for r in out):
            out.append(_square(cx, cy, half, module, shape))

    pairs = sorted(((_distance(f, g), f, g) for i, f in enumerate(finders) for g in finders[i + 1:]
                    if _alike(f, g) and 12 <= _distance(f, g) / ((f.module + g.module) / 2) <= 75),
                   key=lambda p: -p[0])
    for across, a, c in pairs:  # the longest side of a triangle is the diagonal
        for b in finders:
            if b is a or b is c or not (_alike(a, b) and _alike(b, c)):
                continue
            ab, cb = _distance(a, b), _distance(c, b)
            if 0.85 < ab / cb < 1.18 and 0.85 < across / (np.hypot(ab, cb)) < 1.15:
                module = (a.module + b.module + c.module) / 3
                # The code's corners lie (legs + 7 modules) / √2 from the middle of the diagonal.
                add((a.x + c.x) / 2, (a.y + c.y) / 2, across / 2 + 7 * module, module)
                break
    for distance, f, g in pairs:
        module = (f.module + g.module) / 2
        add((f.x + g.x) / 2, (f.y + g.y) / 2, 1.15 * distance + 7 * module, module)
    return out


def region_around(points: tuple[tuple[int, int], ...], shape: tuple[int, ...]) -> Region | None:
    """A crop around an outline zxing-cpp reported, twice as large (its corners may be off by a few modules)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    side = max(max(xs) - min(xs), max(ys) - min(ys))
    if side < 20:  # no code we could read is this small; zxing-cpp's outline of a failed symbol can be a speck
        return None
    return _square((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2, side, side / 45, shape)


def regions(gray: np.ndarray, unread: list[tuple[tuple[int, int], ...]]) -> list[Region]:
    """Where to look again: around finder patterns that make a code, then around each symbol zxing-cpp found but
    could not decode; at most MAX_REGIONS, none centred inside an earlier one."""
    out = regions_from_finders(finder_patterns(gray), gray.shape)
    for points in unread:
        region = region_around(points, gray.shape)
        if region is None or len(out) >= MAX_REGIONS:
            continue
        cx, cy = region.centre()
        if not any(r.holds(cx, cy) for r in out):
            out.append(region)
    return out


# -- what zxing-cpp is shown -------------------------------------------------------------------------------------------
# (enlargement, pre-smoothing sigma, unsharp-mask sigma, unsharp amount), sigmas in frame pixels, in the order that
# read most of the benchmark's hard frames: the first undoes a camera's blur under its noise, the others are milder.
VARIANTS = (
    (3.0, 0.7, 1.0, 6.0),
    (1.5, 0.0, 1.0, 2.5),
    (3.0, 0.0, 1.0, 2.5),
)
MODULE_PX_WANTED = 9.0  # enlarge no further than to this many pixels per module
MAX_SIDE_PX = 700  # nor beyond this side: it bounds the cost of one look (about 2 ms here, 8-10 ms on a Pi 4)


def variants(crop: np.ndarray, module: float):
    """Sharpened, enlarged versions of a crop: (image, scale) pairs, made lazily (the caller stops at the first read).
    Sharpening comes first, at the crop's own size: nine times fewer pixels than after a 3× enlargement."""
    for scale, smooth, sigma, amount in VARIANTS:
        scale = min(scale, MODULE_PX_WANTED / max(module, 0.5), MAX_SIDE_PX / max(crop.shape))
        image = cv2.GaussianBlur(crop, (0, 0), smooth) if smooth else crop
        image = cv2.addWeighted(image, 1 + amount, cv2.GaussianBlur(image, (0, 0), sigma), -amount, 0)
        if scale > 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        yield image, max(scale, 1.0)


MAX_LOOKS = 3  # zxing-cpp calls a frame may spend on second looks: bounds the dearest frame (see performance.md)


def looks(gray: np.ndarray, regions: list[Region], steady: "Steadiness | None" = None):
    """What zxing-cpp is shown again, best first, lazily: (image, scale, region). For each region: its crop with the
    strongest sharpening; the mean of the card's last frames, when it has been held still; the milder variants."""
    for region in regions:
        own = variants(region.crop(gray), region.module)
        yield (*next(own), region)
        mean = steady.combined(gray, region) if steady is not None else None
        if mean is not None:
            yield (*next(variants(mean, region.module)), region)
        for image, scale in own:
            yield image, scale, region


# -- frames of a card held still ---------------------------------------------------------------------------------------
class Steadiness:
    """The last few frames in which a code was seen but not read; their aligned mean when the card is held still.

    Only for the consecutive frames of one camera (drivers.barcode.make_decoder(..., frames=True)). An earlier frame
    joins the mean only when it came just before (any frame without a candidate starts the history again) and phase
    correlation aligns its crop to the newest one within a few pixels with a clear peak: the same card in nearly the
    same place, not a new card held where the last one was."""

    def __init__(self, depth: int = 4, max_shift: float = 3.0, min_response: float = 0.3):
        self.max_shift, self.min_response = max_shift, min_response
        self._frames: collections.deque[tuple[np.ndarray, list[Region]]] = collections.deque(maxlen=depth - 1)

    def reset(self) -> None:
        self._frames.clear()

    def add(self, gray: np.ndarray, regions: list[Region]) -> None:
        """This frame's candidates, after it has been looked at; none (or a read) starts the history again."""
        if regions:
            self._frames.append((gray, regions))
        else:
            self._frames.clear()

    def combined(self, gray: np.ndarray, region: Region) -> np.ndarray | None:
        """The mean of this frame's crop and the same crop of the frames just before, aligned; None without any."""
        current = region.crop(gray).astype(np.float32)
        stack, window = [current], None
        for frame, earlier in reversed(self._frames):
            if not any(region.overlaps(e) for e in earlier):
                break  # nothing was seen here in that frame: the card came, went or moved
            previous = region.crop(frame).astype(np.float32)
            if window is None:
                window = cv2.createHanningWindow(current.shape[::-1], cv2.CV_32F)
            (dx, dy), response = cv2.phaseCorrelate(current, previous, window)
            if response < self.min_response or np.hypot(dx, dy) > self.max_shift:
                break
            shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
            stack.append(cv2.warpAffine(previous, shift, current.shape[::-1], flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE))
        if len(stack) < 2:
            return None
        return np.clip(np.mean(stack, axis=0) + 0.5, 0, 255).astype(np.uint8)
