"""First boot: a kiosk without an identity shows "scan the set-up code" and enrols itself from the QR.

`vaxkiosk kiosk` comes here when its configuration has no [kiosk] site_id/kiosk_id yet (the installer may have
written [camera], [printer] and [web] already). The kiosk's own camera reads the enrolment QR
(`VXK1:ENROL:<central-url>|<code>`, made by `vaxkiosk central enrol-code` or the dashboard), provisioning.enrol
writes the configuration, and the process replaces itself with the normal kiosk (same command line), so the screen
goes straight to the citizen check-in.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, jsonify
from waitress.server import create_server

from kiosk.config import CameraSection, WebSection, build_section
from kiosk.identity import KioskCode, parse

log = logging.getLogger("vaxkiosk.first_boot")


def needs_enrolment(config_path: Path) -> bool:
    """True when the file is missing or has no identity yet; a broken file is still an error for the caller."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # let the normal loader name the problem
    kiosk = data.get("kiosk")
    return not (isinstance(kiosk, dict) and kiosk.get("site_id") and kiosk.get("kiosk_id"))


@dataclass
class SetupState:
    state: str = "waiting"  # waiting | enrolling | enrolled | error
    message_vi: str = "Quét mã cài đặt"
    message_en: str = "Scan the set-up code"
    kiosk_id: str = ""


class EnrolCodeHandler:
    """The scanner's handler in set-up mode: only an enrolment code does anything."""

    def __init__(self, config_path: Path, data_dir: str, state: SetupState, done: threading.Event):
        from kiosk.events import EventBus

        self.events = EventBus()  # CameraScanner reports camera up/down here; nobody needs it in set-up mode
        self.config_path, self.data_dir, self.state, self.done = config_path, data_dir, state, done
        self._last: bytes | None = None

    def handle(self, raw: bytes, seen_at: float | None = None) -> None:
        if self.done.is_set() or raw == self._last:
            return
        self._last = raw
        result = parse(raw)
        if not (isinstance(result, KioskCode) and result.kind == "enrolment"):
            self._set("waiting", "Đây không phải mã cài đặt. Vui lòng quét mã cài đặt kiosk.",
                      "This is not a set-up code. Please scan the kiosk set-up code.")
            return
        from provisioning.enrol import EnrolError, enrol_from_code_text

        self._set("enrolling", "Đang cài đặt…", "Setting up…")
        try:
            done = enrol_from_code_text(result.payload, self.config_path, data_dir=self.data_dir)
        except EnrolError as exc:
            log.warning("enrolment refused: %s", exc.code)
            self._set("error", exc.message_vi, exc.message_en)
            self._last = None  # the same code may be scanned again after central is fixed
            return
        self.state.kiosk_id = done.kiosk_id
        self._set("enrolled", f"Đã cài đặt: {done.kiosk_id}. Kiosk đang khởi động lại…",
                  f"Set up as {done.kiosk_id}. The kiosk is restarting…")
        log.info("enrolled as %s at site %s", done.kiosk_id, done.site_id)
        self.done.set()

    def _set(self, state: str, vi: str, en: str) -> None:
        self.state.state, self.state.message_vi, self.state.message_en = state, vi, en

    def health(self) -> dict:
        return {}


PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>vaxkiosk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:"DejaVu Sans",sans-serif;background:#0b2545;color:#fff;text-align:center;margin:0}
h1{font-size:3rem;margin:4vh 0 1vh}p{font-size:1.6rem}img{max-width:60vw;max-height:50vh;border:4px solid #fff}
.error{color:#ffd166}</style></head><body><main>
<h1 id="vi">Quét mã cài đặt</h1><p id="en">Scan the set-up code</p>
<img src="/camera.jpg" alt="Camera" id="cam"><p>Kỹ thuật viên: đưa mã QR cài đặt vào camera ·
Technician: hold the set-up QR code to the camera</p></main>
<script>
setInterval(async () => {
  document.getElementById("cam").src = "/camera.jpg?" + Date.now();
  const s = await (await fetch("/setup/state")).json();
  document.getElementById("vi").textContent = s.message_vi;
  document.getElementById("en").textContent = s.message_en;
  document.getElementById("vi").className = s.state === "error" ? "error" : "";
  if (s.state === "enrolled") setTimeout(() => location.reload(), 3000);
}, 1000);
</script></body></html>"""


def setup_app(state: SetupState, scanner) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def page():
        return Response(PAGE, mimetype="text/html")

    @app.get("/setup/state")
    def setup_state():
        return jsonify(state.__dict__)

    @app.get("/camera.jpg")
    def camera():
        jpeg = scanner.latest_preview_jpeg() if scanner else None
        return Response(jpeg, mimetype="image/jpeg") if jpeg else ("", 204)

    return app


def run(config_path: Path, argv: list[str]) -> int:
    """Set-up mode until enrolled; then exec the normal kiosk with the same arguments."""
    from drivers.barcode import make_decoder
    from drivers.camera import open_source
    from kiosk.scanner import CameraScanner

    data = {}
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    source = str(config_path)
    camera = build_section(CameraSection, data.get("camera", {}), "camera", source)
    web = build_section(WebSection, data.get("web", {}), "web", source)
    data_dir = str((data.get("kiosk") or {}).get("data_dir") or "/var/lib/vaxkiosk")
    state, done = SetupState(), threading.Event()
    handler = EnrolCodeHandler(config_path, data_dir, state, done)
    scanner = None
    if camera.source:
        scanner = CameraScanner(open_source(camera.source, camera.width, camera.height, camera.fps, camera.loop),
                                make_decoder(camera.decoder, frames=True), handler, camera.stall_seconds,
                                camera.reopen_max_seconds)
        scanner.start()
    else:
        log.warning("no [camera] source configured: enrol with `vaxkiosk provision` instead")
    server = create_server(setup_app(state, scanner), host=web.host, port=web.port, threads=4)
    threading.Thread(target=server.run, name="setup-web", daemon=True).start()
    log.info("no identity yet: set-up screen on http://%s:%s/ (scan the set-up code)", web.host,
             server.effective_port)
    try:
        while not done.wait(1.0):
            pass
        time.sleep(3.0)  # the screen shows who the kiosk now is before it becomes the check-in screen
    except KeyboardInterrupt:
        return 130
    finally:
        if scanner:
            scanner.stop()
        server.close()
    log.info("enrolled: starting the kiosk")
    os.execv(sys.executable, [sys.executable, "-m", "kiosk", *argv])
    return 0  # not reached

