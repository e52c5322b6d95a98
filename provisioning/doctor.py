"""`vaxkiosk doctor`: is this kiosk ready for a vaccination day? One check per thing that can be wrong on site.

Each check returns a `Check` (pass / fail / skip, with a sentence a technician can act on). Parts the configuration
does not enable are skipped, not failed. Checks touch the real devices, so run doctor while the kiosk service is
stopped (only one process can own the camera).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from base.config import ConfigError
from kiosk.config import Config, load

PASS, FAIL, SKIP = "pass", "fail", "skip"
FRAMES_NEEDED = 3
CAMERA_TIMEOUT = 10.0
BROKER_TIMEOUT = 10.0


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

def check_camera(config: Config) -> tuple[Check, list]:
    """Frames arrive from the configured source (drivers.camera: V4L2, picamera2, a video file or image folder)."""
    if not config.camera.enabled:
        return Check("camera", SKIP, "camera not enabled in [camera]"), []
    from drivers.camera import CameraError, open_source

    c = config.camera
    try:
        source = open_source(c.source, c.width, c.height, c.fps, loop=False)
        source.open()
    except CameraError as exc:
        return Check("camera", FAIL, f"{exc} (unplugged, wrong path, or used by another process?)"), []
    frames, deadline = [], time.monotonic() + CAMERA_TIMEOUT
    try:
        while len(frames) < FRAMES_NEEDED and time.monotonic() < deadline:
            frame = source.read(timeout=0.5)
            if frame is not None:
                frames.append(frame.image)
            elif not source.capturing:
                break  # the device failed or the file ended
    finally:
        source.close()
    if len(frames) < FRAMES_NEEDED:
        why = source.last_error or "no more frames"
        return Check("camera", FAIL, f"{c.source}: {len(frames)} of {FRAMES_NEEDED} frames arrived ({why}; "
                                     "unplugged, wrong path, or used by another process?)"), frames
    h, w = frames[0].shape[:2]
    return Check("camera", PASS, f"{c.source}: frames arrive ({w}×{h})"), frames


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

def check_printer(config: Config, test_print: bool) -> Check:
    """Status through drivers.printer (DLE EOT); no answer is "unknown", never "fine"."""
    if not config.printer.enabled:
        return Check("printer", SKIP, "printer not enabled in [printer]")
    from drivers.printer import Printer, PrinterError
    from kiosk.printing.layouts import test_slip

    printer = Printer(config.printer)
    where = printer.describe()
    if not printer.reports_status:
        return Check("printer", SKIP, f"{where}: this backend cannot report status")
    status = printer.status()
    if not status.known:
        return Check("printer", FAIL, f"{' '.join(status.detail.split())} (printer off, cable, or hung)")
    if not status.can_print:
        return Check("printer", FAIL, f"{where}: {status.state.replace('_', ' ')}")
    note = ", paper near end" if status.state == "paper_near_end" else ""
    if test_print:
        try:
            printer.send(test_slip(config))
        except PrinterError as exc:
            return Check("printer", FAIL, f"test print: {exc}")
        note += ", test slip sent"
    return Check("printer", PASS, f"{where}: online{note}")


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
