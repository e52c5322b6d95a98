"""Camera frame sources behind one interface: USB (V4L2 through OpenCV), Raspberry Pi CSI (picamera2), files.

    source = open_source("/dev/v4l/by-id/usb-...-video-index0", width=1280, height=720, fps=30)
    source.open()                       # raises CameraError when the device cannot be opened
    frame = source.read(timeout=0.5)    # the newest frame not seen yet, or None
    source.health()                     # fps, frame age, frames captured / dropped, last error
    source.close()

Capture runs on a thread of its own and keeps only the newest frame: a decoder that is slower than the camera gets
the most recent picture, never a queue of old ones (a citizen who moved the card must not wait for stale frames).

Each open() starts a new capture thread with its own device handle. A driver call that hangs (a known failure of UVC
cameras) keeps only that thread: close() gives up on it after a moment, releases its device from a helper thread,
and the next open() starts afresh. Deciding *when* to reopen is the caller's job (kiosk.scanning.readers watches frame age).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("vaxkiosk.camera")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
JOIN_SECONDS = 1.0


class CameraError(Exception):
    """The device cannot be opened or stopped delivering; str() names the device and the reason."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR (or grey) uint8
    seq: int  # 1, 2, 3... over the life of the source object
    captured: float  # time.monotonic() when it arrived


class FrameSource:
    """Owns the capture thread. Subclasses say how to open, grab from and close one device handle."""

    def __init__(self, description: str):
        self.description = description
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._seq = 0
        self._read_seq = 0
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._handle: Any = None
        self._stop = threading.Event()
        self._arrivals: collections.deque[float] = collections.deque(maxlen=31)
        self.last_error: str | None = None
        self.ended = False  # a file source without loop has delivered its last frame
        self.opens = 0

    # -- what a device type provides -----------------------------------------------------------------------------
    def _open_device(self) -> Any:
        raise NotImplementedError

    def _grab(self, handle: Any) -> np.ndarray | None:
        """Block until the next frame; None at the end of a file; raise CameraError when the device fails."""
        raise NotImplementedError

    def _close_device(self, handle: Any) -> None:
        raise NotImplementedError

    # -- the interface -------------------------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        try:
            handle = self._open_device()
        except CameraError as exc:
            self.last_error = str(exc)
            raise
        except Exception as exc:  # noqa: BLE001 - a driver's own exception types must not escape the interface
            self.last_error = f"{self.description}: {exc}"
            raise CameraError(self.last_error) from exc
        with self._cond:
            self._generation += 1
            generation = self._generation
        self.opens += 1
        self.ended = False
        self._stop = threading.Event()
        self._handle = handle
        self._thread = threading.Thread(target=self._capture, args=(handle, generation, self._stop),
                                        name=f"capture-{generation}", daemon=True)
        self._thread.start()

    def read(self, timeout: float = 0.0) -> Frame | None:
        """The newest frame not returned before (older ones are dropped), waiting up to `timeout` seconds."""
        with self._cond:
            if self._seq <= self._read_seq and timeout > 0:
                self._cond.wait_for(lambda: self._seq > self._read_seq, timeout)
            if self._seq <= self._read_seq or self._latest is None:
                return None
            self._read_seq = self._latest.seq
            return self._latest

    def close(self) -> None:
        thread, handle = self._thread, self._handle
        if thread is None:
            return
        self._stop.set()
        with self._cond:
            self._generation += 1  # a hung thread that wakes up later must not publish into the new stream
        self._thread = self._handle = None
        thread.join(JOIN_SECONDS)
        if thread.is_alive():
            # The driver call is hung: release the device from a helper so close() itself can never hang.
            log.warning("%s: capture thread did not stop; releasing the device behind it", self.description)
            threading.Thread(target=self._close_quietly, args=(handle,), daemon=True).start()

    @property
    def capturing(self) -> bool:
        """The capture thread runs (False after a device error, at the end of a file, or before open())."""
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> dict:
        with self._cond:
            latest, arrivals = self._latest, list(self._arrivals)
            captured, read = self._seq, self._read_seq
        fps = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 and arrivals[-1] > arrivals[0] else 0.0
        return {
            "source": self.description,
            "capturing": self.capturing,
            "ended": self.ended,
            "fps": round(fps, 1),
            "last_frame_age_s": round(time.monotonic() - latest.captured, 3) if latest else None,
            "frames": captured,
            "opens": self.opens,
            "last_error": self.last_error,
            "unread_newest": captured > read,
        }

    # -- the thread ----------------------------------------------------------------------------------------------
    def _capture(self, handle: Any, generation: int, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    image = self._grab(handle)
                except Exception as exc:  # noqa: BLE001 - any driver failure ends this stream, never the kiosk
                    self.last_error = f"{self.description}: {exc}"
                    log.warning("capture stopped: %s", self.last_error)
                    return
                if image is None:
                    self.ended = True
                    return
                with self._cond:
                    if generation != self._generation:
                        return
                    self._seq += 1
                    now = time.monotonic()
                    self._latest = Frame(image, self._seq, now)
                    self._arrivals.append(now)
                    self._cond.notify_all()
        finally:
            self._close_quietly(handle)

    def _close_quietly(self, handle: Any) -> None:
        try:
            self._close_device(handle)
        except Exception:  # noqa: BLE001 - closing a device that already went away
            log.debug("%s: close failed", self.description, exc_info=True)


class V4L2Source(FrameSource):
    """A USB (UVC) camera through OpenCV's V4L2 backend, asking for MJPG (raw YUYV cannot do 720p at 30 fps on USB 2).

    Prefer a /dev/v4l/by-id/ path to an index: a camera that is unplugged and comes back may get another index."""

    def __init__(self, device: str | int, width: int = 1280, height: int = 720, fps: int = 30):
        super().__init__(f"v4l2:{device}")
        self.device, self.width, self.height, self.fps = device, width, height, fps

    def _open_device(self):
        import cv2

        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise CameraError(f"{self.description}: no such device (unplugged?)")
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"{self.description}: cannot be opened (busy, unplugged or not a camera)")
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's own queue would hand us old frames
        return cap

    def _grab(self, cap):
        ok, image = cap.read()
        if not ok:
            raise CameraError("the camera returned no frame (unplugged?)")
        return image

    def _close_device(self, cap):
        cap.release()


class Picamera2Source(FrameSource):
    """A Raspberry Pi CSI camera (Camera Module 2/3) through libcamera's picamera2; OpenCV cannot open these.

    picamera2 is a Debian package (python3-picamera2), not on PyPI for the Pi's libcamera: the venv must be created
    with --system-site-packages. It is imported only when this source is used."""

    def __init__(self, width: int = 1280, height: int = 720, fps: int = 30):
        super().__init__("picamera2")
        self.width, self.height, self.fps = width, height, fps

    def _open_device(self):
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError("picamera2 is not installed (apt install python3-picamera2; venv with "
                              "--system-site-packages)") from exc
        cam = Picamera2()
        # "RGB888" is libcamera's name for B,G,R byte order: exactly what OpenCV and our decoders expect.
        config = cam.create_video_configuration(main={"size": (self.width, self.height), "format": "RGB888"},
                                                controls={"FrameRate": self.fps}, buffer_count=2)
        cam.configure(config)
        cam.start()
        return cam

    def _grab(self, cam):
        return cam.capture_array("main")

    def _close_device(self, cam):
        cam.stop()
        cam.close()


class FileSource(FrameSource):
    """A video file or a folder of images, delivered at `fps` like a camera (tests and the demo).

    Frames arrive in real time whether or not anyone reads them, so a slow consumer drops frames exactly as it
    would with a camera. Without `loop` the source ends after the last frame (`ended` becomes True)."""

    def __init__(self, path: str | os.PathLike, fps: float = 30, loop: bool = False):
        super().__init__(f"file:{path}")
        self.path, self.fps, self.loop = Path(path), fps, loop

    def _open_device(self):
        import cv2

        if self.path.is_dir():
            images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise CameraError(f"{self.description}: the folder holds no images")
            return _Paced(images=images, fps=self.fps)
        if not self.path.exists():
            raise CameraError(f"{self.description}: no such file or folder")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise CameraError(f"{self.description}: not a video OpenCV can read")
        return _Paced(video=cap, fps=self.fps)

    def _grab(self, paced: "_Paced"):
        paced.wait_turn()
        image = paced.next_image()
        if image is None and self.loop:
            paced.rewind()
            image = paced.next_image()
            if image is None:
                # A looping source never ends: nothing readable after a rewind means the files went away, which is
                # the camera unplugged (reopened with backoff), not the end of a recording.
                raise CameraError(f"{self.description}: no readable frame any more")
        return image

    def _close_device(self, paced: "_Paced"):
        if paced.video is not None:
            paced.video.release()


class _Paced:
    """A file handle that hands out images no faster than a camera would."""

    def __init__(self, fps: float, images: list[Path] | None = None, video=None):
        self.images, self.video, self.period = images, video, 1.0 / fps
        self.index = 0
        self.due = time.monotonic()

    def wait_turn(self) -> None:
        now = time.monotonic()
        if self.due > now:
            time.sleep(self.due - now)
        self.due = max(self.due + self.period, time.monotonic() - self.period)

    def next_image(self) -> np.ndarray | None:
        import cv2

        if self.video is not None:
            ok, image = self.video.read()
            return image if ok else None
        while self.index < len(self.images):
            path = self.images[self.index]
            self.index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            log.warning("skipping unreadable image %s", path)
        return None

    def rewind(self) -> None:
        import cv2

        self.index = 0
        if self.video is not None:
            self.video.set(cv2.CAP_PROP_POS_FRAMES, 0)


def open_source(spec: str, width: int = 1280, height: int = 720, fps: int = 30, loop: bool = False) -> FrameSource:
    """The [camera] source setting → a (not yet opened) FrameSource.

    "picamera2" → CSI camera; a number → V4L2 device index; a path under /dev/ → V4L2 device; anything else is a
    video file or a folder of images."""
    spec = spec.strip()
    if not spec:
        raise CameraError("no camera source configured ([camera] source)")
    if spec == "picamera2":
        return Picamera2Source(width, height, fps)
    if spec.isdigit():
        return V4L2Source(int(spec), width, height, fps)
    if spec.startswith("/dev/"):
        return V4L2Source(spec, width, height, fps)
    return FileSource(spec, fps=fps, loop=loop)
