"""Deterministic synthetic citizens, their ID-card QR payloads, and camera-like frames and videos of the card.

Everything is driven by a `random.Random` the caller seeds, so a test, the benchmark and the demo see the same people
and the same frames on every run. The people are invented; their numbers are valid (province of birth registration,
century/sex digit and birth year agree with the date of birth and sex, see docs/id-cards.md), their names and
addresses use every Vietnamese tone mark, so `kiosk.identity.parse` accepts every payload made here.

    rng = random.Random(7)
    person = random_identity(rng)
    frame = card_frame(card_payload(person), rng, size=(640, 480), difficulty="easy")   # BGR uint8
    write_card_video("card.avi", [card_payload(person)], size=(640, 480), seed=7)

Difficulty of a frame:
- "easy": the QR is 200-320 px wide and blurred by at most a third of a module: the kiosk must read ≥ 99 % of these;
- "hard": 110-200 px wide, stronger tilt, blur up to 0.6 module, darker light;
- "empty": no code at all (background, hands and the card's plain front), the frame the camera sees most of the day.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
import segno

from base.provinces import provinces

SURNAMES = ["Nguyễn"] * 8 + ["Trần"] * 3 + ["Lê"] * 2 + [
    "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh",
    "Trịnh", "Lương", "Đoàn", "Mạc", "Tạ", "Thạch", "Kiều", "Quách", "Ưng", "Âu"]
MIDDLE = {
    "Nam": ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân", "Ngọc", "Gia", "Trọng", "Việt", "Đình"],
    "Nữ": ["Thị", "Thị", "Ngọc", "Thu", "Thanh", "Hồng", "Mỹ", "Kim", "Diệu", "Bảo", "Khánh", "Hoài", "Tường"],
}
GIVEN = {
    "Nam": ["Dũng", "Hùng", "Cường", "Tuấn", "Quang", "Đức", "Thắng", "Hiếu", "Khải", "Lộc", "Phúc", "Sơn", "Vĩnh",
            "Kiên", "Nghĩa", "Bảo", "Hoàng", "Đạt", "Toàn", "Thịnh", "Khánh", "Huy", "Tú", "Long", "Duy", "Mạnh",
            "Thành", "Lũy", "Trường", "Phước", "Nhật", "Ẩn", "Quyết", "Tưởng", "Hưởng", "Ngữ"],
    "Nữ": ["Nhung", "Hương", "Thảo", "Ngọc", "Lan", "Mai", "Trang", "Hạnh", "Diệp", "Quỳnh", "Xuân", "Yến",
           "Tuyết", "Nguyệt", "Thủy", "Loan", "Huyền", "Trâm", "Giang", "Phượng", "Hằng", "Ánh", "Ngân", "Vy",
           "Nhã", "Mỹ", "Thư", "Uyên", "Ngữ", "Diễm", "Oanh", "Ỷ Lan", "Hoa", "Dạ Thảo", "Kiều", "Tiên"],
}
PLACE_WORDS = ["Yên Đỗ", "Hòa Bình", "Tân Lập", "Phú Nhuận", "Bến Nghé", "Đống Đa", "Ngũ Hành Sơn", "Hội Phú",
               "Trà Bá", "Thống Nhất", "Diên Hồng", "Ia Kring", "Chư Ă", "Ea Tam", "Quỳnh Lưu", "Hưng Lộc",
               "Cẩm Lệ", "Sơn Trà", "Mỹ Tho", "Vĩnh Yên", "Rạch Giá", "Hạ Long", "Điện Biên", "Ỷ La", "Nghĩa Đô",
               "Khương Mai", "Lạc Long Quân", "Ngô Quyền", "Trần Hưng Đạo", "Võ Thị Sáu", "Phạm Văn Đồng"]
STREETS = ["Lê Lợi", "Hùng Vương", "Trần Phú", "Nguyễn Huệ", "Quang Trung", "Lý Thường Kiệt", "Phan Đình Phùng",
           "Điện Biên Phủ", "Hai Bà Trưng", "Nguyễn Thị Minh Khai", "Võ Nguyên Giáp", "Trường Chinh"]


@dataclass(frozen=True)
class CardHolder:
    """An invented citizen as the card's QR states them."""

    id_number: str
    old_id: str
    full_name: str
    dob: dt.date
    sex: str  # "Nam" | "Nữ", as on the card
    address: str
    issued: dt.date
    card: str  # "cccd_chip_2021" (7 fields) | "can_cuoc_2024" (11 fields)


def province_codes() -> list[tuple[str, str]]:
    return list(provinces().items())


def _date_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def random_name(rng: random.Random, sex: str) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"


def random_address(rng: random.Random) -> str:
    first = rng.choice([f"Tổ {rng.randint(1, 30)}", f"Thôn {rng.choice(PLACE_WORDS)}", f"Ấp {rng.choice(PLACE_WORDS)}",
                        f"Số {rng.randint(1, 299)} đường {rng.choice(STREETS)}", f"Khối phố {rng.randint(1, 12)}"])
    ward = f"{rng.choice(['Phường', 'Xã', 'Thị trấn'])} {rng.choice(PLACE_WORDS)}"
    district = f"{rng.choice(['Quận', 'Huyện', 'TP', 'Thị xã'])} {rng.choice(PLACE_WORDS)}"
    return f"{first}, {ward}, {district}, {rng.choice(province_codes())[1]}"


def random_identity(rng: random.Random) -> CardHolder:
    sex = rng.choice(["Nam", "Nữ"])
    dob = _date_between(rng, dt.date(1935, 1, 1), dt.date(2007, 12, 31))
    century_sex = (dob.year // 100 - 19) * 2 + (1 if sex == "Nữ" else 0)
    province = rng.choice(province_codes())[0]
    number = f"{province}{century_sex}{dob.year % 100:02d}{rng.randrange(10 ** 6):06d}"
    card = rng.choice(["cccd_chip_2021", "can_cuoc_2024"])
    if card == "cccd_chip_2021":
        issued = _date_between(rng, dt.date(2021, 1, 1), dt.date(2024, 6, 30))
    else:
        issued = _date_between(rng, dt.date(2024, 7, 1), dt.date(2025, 12, 31))
    old_id = f"{rng.randrange(10 ** 9):09d}" if rng.random() < 0.5 else ""
    return CardHolder(number, old_id, random_name(rng, sex), dob, sex, random_address(rng), issued, card)


def card_payload(holder: CardHolder) -> str:
    fields = [holder.id_number, holder.old_id, holder.full_name, holder.dob.strftime("%d%m%Y"), holder.sex,
              holder.address, holder.issued.strftime("%d%m%Y")]
    if holder.card == "can_cuoc_2024":
        fields += ["", "", "", ""]  # the 2024 card's four extra fields, empty so far
    return "|".join(fields)


# -- images ------------------------------------------------------------------------------------------------------------
DIFFICULTIES = {
    # QR width in px, |rotation| degrees, perspective (fraction of the card moved per corner), blur in modules
    # (Gaussian sigma), light (darkest multiplier), noise sigma.
    "easy": dict(qr_px=(200, 320), angle=25, persp=0.06, blur=(0.0, 1 / 3), light=0.6, noise=(1.0, 6.0)),
    "hard": dict(qr_px=(110, 200), angle=45, persp=0.14, blur=(0.2, 0.6), light=0.4, noise=(3.0, 12.0)),
}


def qr_matrix(payload: str | bytes) -> np.ndarray:
    """The card's QR modules (True = dark) with a 4-module quiet zone: byte mode, UTF-8, no ECI, level M."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    qr = segno.make(data, error="m", micro=False, boost_error=False, eci=False)
    return np.pad(np.array(qr.matrix, dtype=bool), 4)


def background(rng: random.Random, size: tuple[int, int]) -> np.ndarray:
    """A cluttered scene: a desk-like gradient, papers, cables, printed text (never a barcode)."""
    w, h = size
    nprng = np.random.default_rng(rng.randrange(2 ** 32))
    base = np.array([rng.randint(60, 200) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(0.7, 1.2, w, dtype=np.float32)[None, :, None]
    img = np.clip(base[None, None, :] * ramp * np.ones((h, 1, 1), np.float32), 0, 255).astype(np.uint8)
    for _ in range(rng.randint(6, 14)):
        color = tuple(int(c) for c in nprng.integers(0, 256, 3))
        kind = rng.random()
        if kind < 0.4:
            x, y = rng.randrange(w), rng.randrange(h)
            cv2.rectangle(img, (x, y), (x + rng.randint(20, w // 3), y + rng.randint(20, h // 3)), color, -1)
        elif kind < 0.7:
            cv2.circle(img, (rng.randrange(w), rng.randrange(h)), rng.randint(10, h // 5), color, -1)
        elif kind < 0.85:
            cv2.line(img, (rng.randrange(w), rng.randrange(h)), (rng.randrange(w), rng.randrange(h)), color,
                     rng.randint(1, 6))
        else:
            cv2.putText(img, rng.choice(["KHU VUC TIEM CHUNG", "XIN CHAO", "SO 12", "WiFi", "5K"]),
                        (rng.randrange(w), rng.randrange(h)), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.5, 1.5), color, 2)
    return img


def card_image(payload: str | None, module_px: int, rng: random.Random) -> tuple[np.ndarray, float]:
    """The card's back (QR top-left, lines of print, MRZ-like rows) or, with no payload, its plain front.

    Returns the image and the QR's side in card pixels (0 without a QR)."""
    side = qr_matrix(payload).shape[0] if payload is not None else 49
    qr_side = side * module_px
    height = int(qr_side * 1.6)
    width = int(height * 1.585)  # ID-1 card, 85.6 × 54 mm
    tint = np.array([rng.randint(215, 250), rng.randint(225, 250), rng.randint(225, 250)], np.uint8)
    card = np.empty((height, width, 3), np.uint8)
    card[:] = tint
    scale = module_px / 6
    for i in range(5):
        y = int(qr_side * 0.12 + i * qr_side * 0.2)
        cv2.putText(card, rng.choice(["NGAY CAP", "NOI CU TRU", "DAC DIEM", "CUC TRUONG", "BO CONG AN"]),
                    (qr_side + module_px * 6, y), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.6, (60, 60, 60), max(1, int(scale)))
    for i in range(3):
        y = int(qr_side * 1.15 + i * qr_side * 0.15)
        cv2.putText(card, "IDVNM<<<<<<<<<<<<<<<<<<<<<<<<"[: 18 + i * 4], (module_px * 3, y), cv2.FONT_HERSHEY_PLAIN,
                    scale * 1.2, (30, 30, 30), max(1, int(scale)))
    if payload is not None:
        modules = qr_matrix(payload)
        qr = np.where(np.kron(modules, np.ones((module_px, module_px), bool)), 20, 255).astype(np.uint8)
        card[:qr_side, :qr_side] = qr[:, :, None]
        return card, float(qr_side)
    return card, 0.0


def _lighting(rng: random.Random, size: tuple[int, int], darkest: float) -> np.ndarray:
    """A smooth multiplicative light field: a lamp on one side, the other side in shade."""
    w, h = size
    cx, cy = rng.uniform(-0.5, 1.5) * w, rng.uniform(-0.5, 1.5) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / math.hypot(w, h)
    return np.clip(1.15 - dist * (1.15 - darkest) * 1.4, darkest, 1.15)[:, :, None]


def _place(frame: np.ndarray, card: np.ndarray, qr_side: float, qr_px: float, angle: float, persp: float,
           rng: random.Random) -> None:
    """Warp the card onto the frame so that its QR is qr_px wide, rotated and tilted, and fully in view."""
    h, w = frame.shape[:2]
    ch, cw = card.shape[:2]
    k = qr_px / qr_side if qr_side else rng.uniform(0.4, 0.9) * w / cw
    rad = math.radians(angle)
    rot = np.array([[math.cos(rad), -math.sin(rad)], [math.sin(rad), math.cos(rad)]])
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float64)
    jitter = np.array([[rng.uniform(-persp, persp) * cw, rng.uniform(-persp, persp) * ch] for _ in range(4)])
    pts = ((corners + jitter) * k) @ rot.T
    # Put the QR's centre (or the card's, with no QR) somewhere its whole outline stays inside the frame.
    anchor_card = np.array([qr_side / 2, qr_side / 2]) if qr_side else np.array([cw / 2, ch / 2])
    anchor = (anchor_card * k) @ rot.T
    reach = qr_px * 0.75 if qr_side else 0.0
    x = rng.uniform(reach, max(reach, w - reach))
    y = rng.uniform(reach, max(reach, h - reach))
    dst = (pts - anchor + [x, y]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), dst)
    warped = cv2.warpPerspective(card, matrix, (w, h), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), matrix, (w, h))
    frame[mask > 127] = warped[mask > 127]


def _finish(frame: np.ndarray, rng: random.Random, blur_px: float, darkest: float, noise: float) -> np.ndarray:
    size = (frame.shape[1], frame.shape[0])
    img = frame.astype(np.float32) * _lighting(rng, size, darkest)
    if blur_px > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), blur_px)
    nprng = np.random.default_rng(rng.randrange(2 ** 32))
    img += nprng.normal(0, noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    # The camera's MJPG compression, as a USB webcam delivers it.
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(80, 95)])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def card_frame(payload: str | None, rng: random.Random, size: tuple[int, int] = (640, 480),
               difficulty: str = "easy") -> np.ndarray:
    """One camera frame (BGR) of the card held up with its QR; payload None or difficulty "empty" → no code."""
    frame = background(rng, size)
    if payload is None or difficulty == "empty":
        if rng.random() < 0.5:  # half of the empty frames show a card's front: a hard negative
            card, _ = card_image(None, 4, rng)
            _place(frame, card, 0.0, 0.0, rng.uniform(-30, 30), 0.08, rng)
        return _finish(frame, rng, rng.uniform(0, 1.5), 0.5, rng.uniform(1, 8))
    p = DIFFICULTIES[difficulty]
    qr_px = rng.uniform(*p["qr_px"])
    side = qr_matrix(payload).shape[0]
    module_out = qr_px / side
    card, qr_side = card_image(payload, max(2, math.ceil(module_out * 1.5)), rng)
    _place(frame, card, qr_side, qr_px, rng.uniform(-p["angle"], p["angle"]), p["persp"], rng)
    return _finish(frame, rng, rng.uniform(*p["blur"]) * module_out, rng.uniform(p["light"], 0.9),
                   rng.uniform(*p["noise"]))


def code128_frame(text: str, rng: random.Random, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A Code 128 label (an older card's barcode) held up to the camera."""
    import zxingcpp

    bars = np.asarray(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128),
                                                      scale=3))
    label = np.pad(bars, ((30, 30), (40, 40)), constant_values=255)
    label = cv2.cvtColor(label, cv2.COLOR_GRAY2BGR)
    frame = background(rng, size)
    h, w = frame.shape[:2]
    lh, lw = label.shape[:2]
    k = min(0.8 * w / lw, 0.5 * h / lh)
    label = cv2.resize(label, (int(lw * k), int(lh * k)), interpolation=cv2.INTER_AREA)
    y, x = rng.randint(0, h - label.shape[0]), rng.randint(0, w - label.shape[1])
    frame[y:y + label.shape[0], x:x + label.shape[1]] = label
    return _finish(frame, rng, 0.5, 0.7, 3.0)


# -- videos ------------------------------------------------------------------------------------------------------------
def card_video_frames(payloads: Iterable[str | None], size: tuple[int, int] = (640, 480), seed: int = 0,
                      hold_frames: int = 20, gap_frames: int = 10) -> Iterator[np.ndarray]:
    """A citizen at a time holds a card up: empty desk, card coming in (small, blurred), held still, taken away."""
    rng = random.Random(seed)
    desk = background(rng, size)
    for payload in payloads:
        for _ in range(gap_frames):
            yield _finish(desk.copy(), rng, 0.6, 0.7, 3.0)
        if payload is None:
            continue
        side = qr_matrix(payload).shape[0]
        final_px = rng.uniform(230, 300)
        card, qr_side = card_image(payload, max(2, math.ceil(final_px / side * 1.5)), rng)
        angle = rng.uniform(-15, 15)
        approach = 6
        for i in range(approach + hold_frames + approach):
            # Approach and retreat are fast (motion blur, smaller code); the hold jitters a little like a hand.
            t = min(i, approach + hold_frames + approach - 1 - i, approach) / approach
            frame = desk.copy()
            move = random.Random(seed * 1000 + i)
            _place(frame, card, qr_side, final_px * (0.5 + 0.5 * t), angle + move.uniform(-2, 2), 0.02, move)
            blur = 0.15 if t >= 1 else 1.2 * (1 - t) + 0.3
            yield _finish(frame, rng, blur * final_px / side, 0.75, 3.0)
    for _ in range(gap_frames):
        yield _finish(desk.copy(), rng, 0.6, 0.7, 3.0)


def write_card_video(path: str | Path, payloads: Iterable[str | None], size: tuple[int, int] = (640, 480),
                     fps: int = 15, seed: int = 0, hold_frames: int = 20, gap_frames: int = 10) -> Path:
    """An MJPG .avi (what a UVC camera delivers) of `card_video_frames`; returns the path."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write an MJPG video here")
    try:
        for frame in card_video_frames(payloads, size, seed, hold_frames, gap_frames):
            writer.write(frame)
    finally:
        writer.release()
    return path


def write_frame_folder(folder: str | Path, frames: Iterable[np.ndarray]) -> Path:
    """Frames as numbered PNG files (a folder frame source reads them in name order).

    The folder appears whole, as a replugged camera does: the files are written beside it and the folder renamed
    into place, so a running source that reopens meanwhile never lists half of them."""
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} exists: a frame folder is written once, whole")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(partial / f"frame-{i:05d}.png"), frame)
    partial.rename(folder)
    return folder
