"""Videos of one citizen bringing a card up to the camera: what the kiosk sees before it can read the code.

    video = approach_video(payload, seed=3)          # Approach: frames (BGR), in_view, fps
    write_approach_video("card.avi", video)          # MJPG, as a UVC camera delivers it

Each video is a dim hall and a hand that is not steady, all drawn from the seed (same seed, same video):
- motion: a few frames of the empty desk, then the card comes in from the left, the right or below and slows to rest
  over 0.4-0.7 s, turning and coming closer as it does; then it is held for 2 s with a tremor (4-6 Hz, 0.2-0.8 mm,
  a mild physiological to essential tremor) and a slow drift;
- motion blur: the card's path during the exposure, 1/20 s (a webcam's automatic exposure in a dim room);
- low light and gain noise: the picture at 35-65 % of a well-lit one, with a lamp on one side, and sensor noise of
  σ 5-12 grey levels (the gain turned up);
- a glare spot on the laminate in most videos: a bright, partly saturated patch that moves with the card and lies
  on the code in about a third of them;
- slight tilt: rotation up to ±20°, perspective up to 5 % of the card;
- the code 130-230 px wide at rest in a 640×480 frame: a 16 mm code 40-60 cm from a 720p webcam's lens, scaled.

`in_view` is the first frame in which the whole code, quiet zone included, is inside the picture: no decoder can read
it earlier, so time to read is counted from there.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from devtools.simulation.cards import background, card_image, qr_matrix

FPS = 15
EXPOSURE_S = 1 / 20
CODE_MM = 16.0  # the side of the card's QR code


@dataclass(frozen=True)
class Approach:
    frames: list[np.ndarray]  # BGR uint8, before the camera's compression
    in_view: int  # index of the first frame with the whole code in the picture
    payload: str
    fps: int = FPS


def _pose_matrix(card_shape, qr_side: float, centre, qr_px: float, angle: float, jitter) -> np.ndarray:
    """Card → frame: the QR (top left of the card) `qr_px` wide, centred on `centre`, turned by `angle` degrees."""
    ch, cw = card_shape[:2]
    k = qr_px / qr_side
    rad = math.radians(angle)
    rot = np.array([[math.cos(rad), -math.sin(rad)], [math.sin(rad), math.cos(rad)]])
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float64)
    pts = ((corners + jitter) * k) @ rot.T
    anchor = (np.array([qr_side / 2, qr_side / 2]) * k) @ rot.T
    dst = (pts - anchor + np.asarray(centre)).astype(np.float32)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst)


def _motion_kernel(dx: float, dy: float) -> np.ndarray | None:
    length = math.hypot(dx, dy)
    if length < 1.0:
        return None
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    for t in np.linspace(-0.5, 0.5, max(2, int(length * 2))):
        kernel[int(round(c + t * dy)), int(round(c + t * dx))] += 1
    return kernel / kernel.sum()


def approach_video(payload: str, seed: int = 0, size: tuple[int, int] = (640, 480), desk_frames: int = 4,
                   hold_s: float = 2.0) -> Approach:
    rng = random.Random(seed)
    nprng = np.random.default_rng(rng.randrange(2 ** 32))
    w, h = size
    desk = background(rng, size).astype(np.float32)
    side = qr_matrix(payload).shape[0]
    rest_px = rng.uniform(130, 230)
    card, qr_side = card_image(payload, max(3, math.ceil(rest_px / side * 1.5)), rng)
    ch, cw = card.shape[:2]
    card_f = card.astype(np.float32)
    px_per_mm = rest_px * (side - 8) / side / CODE_MM  # the code without its quiet zone is CODE_MM wide

    # The pose at rest: the code well inside the picture.
    reach = rest_px * 0.8
    rest = np.array([rng.uniform(reach, w - reach), rng.uniform(reach, h - reach)])
    angle = rng.uniform(-20, 20)
    jitter = np.array([[rng.uniform(-0.05, 0.05) * cw, rng.uniform(-0.05, 0.05) * ch] for _ in range(4)])
    # Where it comes from: outside the picture on one side.
    side_in = rng.choice(["left", "right", "bottom"])
    far = 1.6 * max(cw, ch) * rest_px / qr_side
    start = rest + {"left": (-rest[0] - far, rng.uniform(-60, 60)), "right": (w - rest[0] + far, rng.uniform(-60, 60)),
                    "bottom": (rng.uniform(-80, 80), h - rest[1] + far)}[side_in]
    approach = rng.randint(6, 10)
    hold = int(round(hold_s * FPS))

    # The hand: a tremor along a random direction plus a slow drift; a glare spot fixed on the laminate.
    tremor_hz, tremor_mm = rng.uniform(4, 6), rng.uniform(0.2, 0.8)
    tremor_dir = rng.uniform(0, math.pi)
    phase = rng.uniform(0, 2 * math.pi)
    glare = None
    if rng.random() < 0.7:
        on_code = rng.random() < 0.45
        gx = rng.uniform(0.15, 0.85) * (qr_side if on_code else cw)
        gy = rng.uniform(0.15, 0.85) * (qr_side if on_code else ch)
        radius = rng.uniform(0.06, 0.14) * qr_side
        yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        glare = (rng.uniform(140, 240) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius ** 2)))[:, :, None]
    brightness = rng.uniform(0.35, 0.65)
    noise = rng.uniform(5.0, 12.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = rng.uniform(-0.3, 1.3) * w, rng.uniform(-0.3, 1.3) * h
    light = (brightness * np.clip(1.15 - 0.5 * np.hypot(xx - lx, yy - ly) / math.hypot(w, h), 0.6, 1.15))[:, :, None]

    def pose(t: float):
        """(centre, code width px, angle) at time t in frames from the start of the approach."""
        if t < approach:
            s = t / approach
            ease = 1 - (1 - s) ** 2.5
            return start + (rest - start) * ease, rest_px * (0.8 + 0.2 * ease), angle + 12 * (1 - ease)
        held = t - approach
        sway = tremor_mm * px_per_mm * math.sin(2 * math.pi * tremor_hz * held / FPS + phase)
        drift = np.array([math.sin(held / 17.0), math.cos(held / 23.0)]) * 2.0
        offset = sway * np.array([math.cos(tremor_dir), math.sin(tremor_dir)]) + drift
        return rest + offset, rest_px, angle

    frames, in_view = [], None
    qr_corners = np.float32([[0, 0], [qr_side, 0], [qr_side, qr_side], [0, qr_side]]).reshape(-1, 1, 2)
    for i in range(desk_frames + approach + hold):
        if i < desk_frames:
            img = desk * light
        else:
            t = i - desk_frames
            centre, px, ang = pose(t)
            before, _, _ = pose(max(0.0, t - EXPOSURE_S * FPS))
            matrix = _pose_matrix(card.shape, qr_side, centre, px, ang, jitter)
            warped = cv2.warpPerspective(card_f, matrix, (w, h), flags=cv2.INTER_LINEAR)
            mask = cv2.warpPerspective(np.ones((ch, cw), np.float32), matrix, (w, h))[:, :, None]
            shine = cv2.warpPerspective(glare, matrix, (w, h))[:, :, None] if glare is not None else 0.0
            kernel = _motion_kernel(*(np.asarray(centre) - before))
            if kernel is not None:
                warped = cv2.filter2D(warped, -1, kernel)
                mask = cv2.filter2D(mask, -1, kernel)[:, :, None]
                if glare is not None:
                    shine = cv2.filter2D(shine, -1, kernel)[:, :, None]
            img = (desk * (1 - mask) + warped) * light + shine
            if in_view is None:
                quad = cv2.perspectiveTransform(qr_corners, matrix).reshape(-1, 2)
                if quad[:, 0].min() >= 0 and quad[:, 1].min() >= 0 and quad[:, 0].max() < w and quad[:, 1].max() < h:
                    in_view = i
        img = cv2.GaussianBlur(img, (0, 0), 0.6)  # the lens
        img += nprng.normal(0, noise, img.shape).astype(np.float32)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return Approach(frames, in_view if in_view is not None else len(frames), payload)


def write_approach_video(path: str | Path, video: Approach, quality: int = 85) -> Path:
    """An MJPG .avi (a UVC webcam's format: the only compression the frames get) of the video; returns the path."""
    path = Path(path)
    h, w = video.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), video.fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write an MJPG video here")
    try:
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
        for frame in video.frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def read_video(path: str | Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return frames
            frames.append(frame)
    finally:
        capture.release()
