"""The scanner parts of `vaxkiosk kiosk`: camera frames or serial lines → ID card → check-in → a "scan" event.

    camera ──frames──▶ decoder ──raw bytes──┐
                                           ├─▶ ScanHandler: debounce → identity.parse → CheckinService → App.events
    serial scanner ──lines (raw bytes)─────┘

Every outcome is published on App.events as type "scan" with one stable shape (docs/scanning.md):
    {"result": "checked_in" | "already_checked_in" | "error" | "kiosk_code", "source": "camera" | "serial",
     "ticket": int | None, "checkin_id": str | None, "kiosk_code_kind": str | None,
     "error": {"code", "message_vi", "message_en"} | None}
plus "id_number" only with the error "number_only_needs_details" (the screen pre-fills manual entry with it).
No name, birth date or address travels in events or logs: the screen looks the check-in up by checkin_id.

The camera part watches its source: no new frame for [camera] stall_seconds, or a capture that died, means the
source is reopened with exponential backoff; the rest of the kiosk (manual entry, serial scanner) is not affected.
"""

from __future__ import annotations

import collections
import logging
import statistics
import threading
import time
from typing import Callable

import numpy as np

from base.config import ConfigError
from base.events import EventBus
from drivers.barcode import Code, Decoder, make_decoder, timed
from drivers.camera import CameraError, Frame, FrameSource, open_source
from drivers.serial_scanner import SerialLineReader, terminator_bytes
from kiosk.checkin import CheckinService
from kiosk.scan_handler import RecordCheck, process, record_check
from kiosk.watchdog import thread_alive

log = logging.getLogger("vaxkiosk.scanner")

FIRST_BACKOFF_SECONDS = 0.5
PREVIEW_MAX_WIDTH = 640


class ScanHandler:
    """Raw code bytes from one source → at most one check-in and one "scan" event per sighting of a code.

    A code counts again only after it has been out of sight for `repeat_seconds`: a card held in front of the
    camera for a minute is one scan, not 1,800."""

    def __init__(self, events: EventBus, checkins: CheckinService, source: str, repeat_seconds: float,
                 now: Callable[[], float] = time.monotonic, records: RecordCheck | None = None):
        self.events, self.checkins, self.source, self.records = events, checkins, source, records
        self.repeat_seconds, self.now = repeat_seconds, now
        self._seen: dict[bytes | str, float] = {}
        self._lock = threading.Lock()
        self.scans = 0
        self.commit_ms: collections.deque[float] = collections.deque(maxlen=200)
        self.last_error: str | None = None

    def handle(self, raw: bytes | str, seen_at: float | None = None) -> dict | None:
        """Publish and return the outcome, or None when this is the same code seen again. `raw` is a code's
        payload (drivers.barcode.Code.payload: bytes, or text when the symbol names its charset) or a serial line."""
        now = self.now()
        with self._lock:
            last = self._seen.get(raw)
            self._seen[raw] = now
            if len(self._seen) > 1000:  # forget codes out of sight for long; keeps memory bounded all day
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.repeat_seconds}
        if last is not None and now - last < self.repeat_seconds:
            return None
        self.scans += 1
        data = process(raw, self.source, self.events, self.checkins, self.records)
        if data.get("error"):
            self.last_error = data["error"]["code"]
        if seen_at is not None and data["result"] in ("checked_in", "already_checked_in"):
            self.commit_ms.append((time.monotonic() - seen_at) * 1000.0)
        return data

    def health(self) -> dict:
        ms = sorted(self.commit_ms)
        return {"scans": self.scans, "last_scan_error": self.last_error,
                "frame_to_commit_ms_p50": round(statistics.median(ms), 1) if ms else None,
                "frame_to_commit_ms_max": round(ms[-1], 1) if ms else None}


class CameraScanner:
    """Frames → decoder → ScanHandler, on one thread, with the camera watchdog and the live preview."""

    name = "camera"

    def __init__(self, source: FrameSource, decode: Decoder, handler: ScanHandler, stall_seconds: float = 5.0,
                 reopen_max_seconds: float = 30.0):
        self.source, self.decode, self.handler = source, decode, handler
        self.stall_seconds, self.reopen_max_seconds = stall_seconds, reopen_max_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._preview_lock = threading.Lock()
        self._preview: tuple[Frame, list[Code]] | None = None
        self._preview_jpeg: tuple[int, bytes] | None = None
        self.decode_ms: collections.deque[float] = collections.deque(maxlen=100)
        self.frames_decoded = 0
        self.second_pass_reads = 0  # codes read only by the decoder's second look (drivers.second_pass)
        self.stalls = 0
        self.camera_ok = False
        self.last_error: str | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="camera-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5.0)
        self._thread = None
        self.source.close()

    # -- the loop ------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        opened_at = None
        last_frame_at = 0.0
        while not self._stop.is_set():
            if opened_at is None:
                try:
                    self.source.open()
                except CameraError as exc:
                    self._camera_down(str(exc))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.reopen_max_seconds)
                    continue
                opened_at = last_frame_at = time.monotonic()
            frame = self.source.read(timeout=0.2)
            if frame is None:
                if self.source.ended:  # a file source without loop: done, nothing to recover
                    self.camera_ok = False
                    self._stop.wait(0.2)
                    continue
                silent = time.monotonic() - last_frame_at
                if silent > self.stall_seconds or not self.source.capturing:
                    self.stalls += 1
                    died = not self.source.capturing and self.source.last_error
                    self._camera_down(died or f"no frame for {silent:.1f} s")
                    self.source.close()
                    opened_at = None
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.reopen_max_seconds)
                continue
            last_frame_at = frame.captured
            backoff = FIRST_BACKOFF_SECONDS
            if not self.camera_ok:
                log.info("camera delivering frames from %s", self.source.description)
                self.handler.events.publish("camera", {"ok": True, "error": None})
            self.camera_ok = True
            self._scan(frame)

    def _scan(self, frame: Frame) -> None:
        try:
            codes, ms = timed(self.decode, frame.image)
        except Exception as exc:  # noqa: BLE001 - one undecodable frame must not stop the scanner
            self.last_error = f"decoder: {exc}"
            log.exception("decoding a frame failed")
            return
        self.decode_ms.append(ms)
        self.frames_decoded += 1
        with self._preview_lock:
            self._preview = (frame, codes)
        for code in codes:
            self.second_pass_reads += code.second_pass
            self.handler.handle(code.payload, seen_at=frame.captured)

    def _camera_down(self, reason: str) -> None:
        if self.camera_ok or reason != self.last_error:
            log.warning("camera unavailable: %s", reason)
        if self.camera_ok:  # the staff screen shows it; the citizen screen can switch to "please type"
            self.handler.events.publish("camera", {"ok": False, "error": reason})
        self.camera_ok = False
        self.last_error = reason

    # -- what the screens and health checks see ------------------------------------------------------------------
    def latest_preview_jpeg(self) -> bytes | None:
        """The newest decoded frame as JPEG (at most 640 px wide) with each detected code outlined in green."""
        with self._preview_lock:
            preview, cached = self._preview, self._preview_jpeg
        if preview is None:
            return None
        frame, codes = preview
        if cached and cached[0] == frame.seq:
            return cached[1]
        jpeg = render_preview(frame.image, codes)
        with self._preview_lock:
            self._preview_jpeg = (frame.seq, jpeg)
        return jpeg

    def health(self) -> dict:
        ms = sorted(self.decode_ms)
        return {
            **self.source.health(),
            "alive": thread_alive(self._thread),
            "ok": self.camera_ok,
            "decode_ms_p50": round(statistics.median(ms), 2) if ms else None,
            "frames_decoded": self.frames_decoded,
            "second_pass_reads": self.second_pass_reads,
            "stalls": self.stalls,
            "last_error": self.last_error,
            **self.handler.health(),
        }


def render_preview(image: np.ndarray, codes: list[Code]) -> bytes:
    import cv2

    scale = min(1.0, PREVIEW_MAX_WIDTH / image.shape[1])
    out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image.copy()
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    for code in codes:
        if len(code.points) >= 2:
            pts = (np.array(code.points, np.float32) * scale).astype(np.int32)
            cv2.polylines(out, [pts], True, (0, 200, 0), 3)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return jpeg.tobytes()


class SerialScanner:
    """A handheld scanner's lines → ScanHandler."""

    name = "serial"

    def __init__(self, reader_factory: Callable[[Callable[[bytes], None]], SerialLineReader], handler: ScanHandler):
        self.handler = handler
        self.reader = reader_factory(lambda line: self.handler.handle(line))

    def start(self) -> None:
        self.reader.start()

    def stop(self) -> None:
        self.reader.stop()

    def health(self) -> dict:
        return {**self.reader.health(), "ok": self.reader.connected, **self.handler.health()}


# -- factories for kiosk.app.PART_FACTORIES -----------------------------------------------------------------------------
def camera_part(app) -> CameraScanner | None:
    cfg = app.config.camera
    if not cfg.enabled:
        return None
    try:
        source = open_source(cfg.source, cfg.width, cfg.height, cfg.fps, cfg.loop)
    except CameraError as exc:
        raise ConfigError(f"{app.config.source}: camera.source: {exc}") from None
    handler = ScanHandler(app.events, app.checkins, "camera", cfg.repeat_seconds, records=record_check(app))
    # frames=True: this decoder sees one camera's consecutive frames, so it may average a card held still.
    return CameraScanner(source, make_decoder(cfg.decoder, frames=True), handler, cfg.stall_seconds,
                         cfg.reopen_max_seconds)


def serial_part(app) -> SerialScanner | None:
    cfg = app.config.serial
    if not cfg.enabled:
        return None
    if not cfg.port:
        raise ConfigError(f"{app.config.source}: serial.port: missing (e.g. /dev/serial/by-id/usb-...)")
    handler = ScanHandler(app.events, app.checkins, "serial", app.config.camera.repeat_seconds,
                          records=record_check(app))
    return SerialScanner(lambda on_line: SerialLineReader(cfg.port, on_line, terminator_bytes(cfg.terminator),
                                                          cfg.baudrate, cfg.reconnect_seconds), handler)
