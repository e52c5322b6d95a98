"""`vaxkiosk doctor`: is this kiosk ready for a vaccination day? One check per thing that can be wrong on site.

Each check returns a `Check` (pass / fail / skip, with a sentence a technician can act on). Parts the configuration
does not enable are skipped, not failed. Checks touch the real devices, so run doctor while the kiosk service is
stopped (only one process can own the camera).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.config import Config, ConfigError, load

PASS, FAIL, SKIP = "pass", "fail", "skip"
FRAMES_NEEDED = 3
CAMERA_TIMEOUT = 10.0
BROKER_TIMEOUT = 10.0
# ESC/POS real-time status (DLE EOT n): n=1 printer, n=4 paper roll sensor.
DLE_EOT_PRINTER, DLE_EOT_PAPER = b"\x10\x04\x01", b"\x10\x04\x04"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


# -- configuration, disk, clock ------------------------------------------------------------------------------------

def check_config(path: str | None) -> tuple[Check, Config | None]:
    try:
        config = load(path)
    except ConfigError as exc:
        return Check("config", FAIL, str(exc)), None
    return Check("config", PASS, f"{config.source}: site {config.kiosk.site_id}, kiosk {config.kiosk.kiosk_id}"), config


def check_disk(config: Config) -> Check:
    from drivers import system

    path = config.data_dir if config.data_dir.exists() else config.data_dir.parent
    while not path.exists():
        path = path.parent
    free, total = system.disk_usage(path)
    free_mb = free // (1024 * 1024)
    needed = config.kiosk.min_free_mb * 4  # room for a full day of check-ins above the refusal threshold
    detail = f"{free_mb} MB free of {total // (1024 * 1024)} MB on {path} (needs {needed} MB)"
    return Check("disk", PASS if free_mb >= needed else FAIL, detail)


def check_clock() -> Check:
    from drivers import system

    if system.clock_synchronized():
        return Check("clock", PASS, "system clock synchronised (NTP)")
    return Check("clock", FAIL, "system clock not synchronised: a Pi has no real-time clock; check the network and "
                                "`timedatectl timesync-status` (records are still stamped and corrected later)")


# -- camera and decoder ------------------------------------------------------------------------------------------

def _frames(source: str, count: int, timeout: float) -> list:
    """Up to `count` frames from a camera source; a folder of images and a video file count as sources."""
    import cv2

    path = Path(source)
    if path.is_dir():
        images = [cv2.imread(str(p)) for p in sorted(path.iterdir()) if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        return [img for img in images if img is not None][:count]
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    frames, deadline = [], time.monotonic() + timeout
    try:
        while capture.isOpened() and len(frames) < count and time.monotonic() < deadline:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    return frames


def check_camera(config: Config) -> tuple[Check, list]:
    if not config.camera.enabled:
        return Check("camera", SKIP, "camera not enabled in [camera]"), []
    if not config.camera.source:
        return Check("camera", FAIL, "[camera] source is empty"), []
    frames = _frames(config.camera.source, FRAMES_NEEDED, CAMERA_TIMEOUT)
    if len(frames) < FRAMES_NEEDED:
        return Check("camera", FAIL, f"{config.camera.source}: {len(frames)} of {FRAMES_NEEDED} frames arrived "
                                     f"(unplugged, wrong path, or used by another process?)"), frames
    h, w = frames[0].shape[:2]
    return Check("camera", PASS, f"{config.camera.source}: frames arrive ({w}×{h})"), frames


def check_decoder(config: Config, frames: list) -> Check:
    """The decoder reads a QR made here; frames from the camera that hold a code are counted as a bonus."""
    import numpy as np
    import segno

    from drivers.barcode import make_decoder

    try:
        decode = make_decoder(config.camera.decoder)
    except (ValueError, ImportError, OSError) as exc:
        return Check("decoder", FAIL, f"{config.camera.decoder}: cannot load: {exc}")
    sample = "VXK1:DOCTOR:Nữ"
    modules = np.array([list(row) for row in segno.make(sample, error="m", micro=False).matrix], dtype=np.uint8)
    image = np.kron(np.pad(255 - 255 * modules, 4, constant_values=255), np.ones((6, 6), dtype=np.uint8))
    if not any(code.text == sample for code in decode(image)):
        return Check("decoder", FAIL, f"{config.camera.decoder}: could not read a clean test QR")
    seen = sum(1 for frame in frames if decode(frame))
    extra = f"; {seen} of {len(frames)} camera frames hold a code" if frames else ""
    return Check("decoder", PASS, f"{config.camera.decoder} reads a UTF-8 test QR{extra}")


# -- printer -----------------------------------------------------------------------------------------------------

def _printer(config: Config):
    from escpos import printer

    p = config.printer
    if p.backend == "network":
        return printer.Network(p.host, p.port, timeout=p.timeout, profile=p.profile)
    if p.backend == "usb":
        return printer.Usb(p.usb_vendor, p.usb_product, timeout=int(p.timeout * 1000), profile=p.profile)
    if p.backend == "serial":
        return printer.Serial(p.device, baudrate=p.baudrate, timeout=p.timeout, profile=p.profile)
    return None


def _status(device, query: bytes) -> int | None:
    try:
        answer = device.query_status(query)
    except (OSError, socket.timeout):
        return None
    return answer[0] if answer else None


def check_printer(config: Config, test_print: bool) -> Check:
    if not config.printer.enabled:
        return Check("printer", SKIP, "printer not enabled in [printer]")
    device = _printer(config)
    if device is None:
        return Check("printer", SKIP, f"backend {config.printer.backend!r} has no status to ask")
    where = (f"{config.printer.host}:{config.printer.port}" if config.printer.backend == "network"
             else config.printer.device or f"usb {config.printer.usb_vendor:04x}:{config.printer.usb_product:04x}")
    try:
        device.open()
    except Exception as exc:  # noqa: BLE001 - python-escpos raises its own error types per backend
        return Check("printer", FAIL, f"{where}: cannot open: {' '.join(str(exc).split())}")
    try:
        online, paper = _status(device, DLE_EOT_PRINTER), _status(device, DLE_EOT_PAPER)
        # No answer is "unknown", never "fine": CUPS-like backends and dead printers both say nothing.
        if online is None or paper is None:
            return Check("printer", FAIL, f"{where}: no status answer (printer off, or the backend cannot report)")
        if online & 0x08:
            return Check("printer", FAIL, f"{where}: printer is offline (cover open or error)")
        if paper & 0x60 == 0x60:
            return Check("printer", FAIL, f"{where}: paper out")
        if test_print:
            device.text("vaxkiosk doctor: test print OK\n")
            device.cut()
        low = ", paper low" if paper & 0x0C == 0x0C else ""
        return Check("printer", PASS, f"{where}: online{low}" + (", test page sent" if test_print else ""))
    finally:
        device.close()


# -- broker ------------------------------------------------------------------------------------------------------

def check_broker(config: Config) -> Check:
    """Log in with the kiosk's own credentials (over TLS when configured): the same path the sync part takes."""
    if not config.mqtt.enabled:
        return Check("broker", SKIP, "MQTT not enabled in [mqtt]")
    import paho.mqtt.client as mqtt

    m = config.mqtt
    where = f"{m.host}:{m.port}" + (" (TLS)" if m.tls_ca else "")
    # The broker forces client id = username (use_username_as_clientid), so this login replaces a running kiosk's
    # connection and starts a clean session: acknowledgements queued for the kiosk are dropped and its outbox sends
    # those records again after ack_timeout (central deduplicates). Hence: run doctor with the kiosk stopped.
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=m.username, protocol=mqtt.MQTTv5)
    client.username_pw_set(m.username, m.password)
    if m.tls_ca:
        client.tls_set(ca_certs=m.tls_ca)
    done, outcome = threading.Event(), {}

    def on_connect(_c, _u, _flags, reason, _props):
        outcome["reason"] = reason
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except (OSError, ValueError) as exc:
        return Check("broker", FAIL, f"{where}: cannot connect: {exc}")
    client.loop_start()
    try:
        if not done.wait(BROKER_TIMEOUT):
            return Check("broker", FAIL, f"{where}: no answer to the login within {BROKER_TIMEOUT:.0f} s")
        reason = outcome["reason"]
        if reason.is_failure:
            return Check("broker", FAIL, f"{where}: login as {m.username} refused: {reason} "
                                         "(revoked kiosk or wrong password: provision again)")
        return Check("broker", PASS, f"{where}: logged in as {m.username}")
    finally:
        client.disconnect()
        client.loop_stop()


def run(config_path: str | None, test_print: bool = False) -> list[Check]:
    config_check, config = check_config(config_path)
    if config is None:
        return [config_check]
    camera, frames = check_camera(config)
    return [config_check, check_disk(config), check_clock(), camera, check_decoder(config, frames),
            check_printer(config, test_print), check_broker(config)]


def report(checks: list[Check]) -> str:
    marks = {PASS: "OK  ", FAIL: "FAIL", SKIP: "--  "}
    lines = [f"[{marks[c.status]}] {c.name:<8} {c.detail}" for c in checks]
    failed = [c.name for c in checks if c.status == FAIL]
    lines.append("Kết quả / result: " + ("ĐẠT / all checks passed" if not failed
                                          else f"LỖI / failed: {', '.join(failed)}"))
    return "\n".join(lines)
