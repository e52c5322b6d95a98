"""The kiosk's set-up mode: a kiosk without an identity shows "scan the set-up code" and enrols itself from the QR.

`vaxkiosk kiosk` comes here when its configuration has no [kiosk] site_id/kiosk_id yet (the installer may have
written [camera], [printer] and [web] already). The kiosk's own camera reads the enrolment QR
(`VXK1:ENROL:<central-url>|<code>|sha256:<central's key>`, made by `vaxkiosk central enrol-code` or the dashboard).
The kiosk identifies that central (kiosk.enrolment.prepare: https with the pinned key or a trusted certificate;
plain http only to this machine) and shows it on the screen; only when the technician presses Confirm on the kiosk's
own screen is the code used and the configuration written. The process then replaces itself with the normal kiosk
(same command line), so the screen goes straight to the citizen check-in.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, jsonify, request

from base.config import build_section
from base.events import EventBus
from base.web.loopback import from_this_machine
from base.web.serving import WebServer
from kiosk.config import CameraSection, WebSection
from kiosk.enrolment import EnrolError, complete, parse_code_text, prepare
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


SETUP_THREADS = 4  # the set-up page, its state poll, the camera picture, the technician's buttons
RETRY_SECONDS = 5.0  # the same code held to the camera is looked at again after this long, not on every frame
BUSY_STATES = ("checking", "confirm", "enrolling")

# Refusals of the set-up screen's own buttons: code → (Vietnamese, English).
SCREEN_REFUSALS = {
    "not_this_screen": ("Chỉ xác nhận được trên màn hình của chính kiosk này.",
                        "Only this kiosk's own screen can confirm."),
    "stale": ("Màn hình đã thay đổi. Vui lòng kiểm tra lại rồi xác nhận.",
              "The screen has changed. Check it again, then confirm."),
}

HOW_VERIFIED = {
    "pin": ("Khóa khớp với mã QR cài đặt", "The key matches the set-up QR code"),
    "ca": ("Chứng chỉ do {issuer} cấp", "Certificate issued by {issuer}"),
    "loopback": ("Máy chủ trên chính máy này (http)", "A central on this machine itself (http)"),
}


@dataclass
class SetupState:
    state: str = "waiting"  # waiting | checking | confirm | enrolling | enrolled | error
    message_vi: str = "Quét mã cài đặt"
    message_en: str = "Scan the set-up code"
    kiosk_id: str = ""
    central: dict | None = None  # the identified central, while waiting for confirmation
    nonce: str = ""  # names what is on screen: a confirmation of anything else is refused


def central_view(central) -> dict:
    vi, en = HOW_VERIFIED[central.verified]
    return {**central.to_json(), "how_vi": vi.format(issuer=central.issuer),
            "how_en": en.format(issuer=central.issuer)}


class EnrolCodeHandler:
    """The scanner's handler in set-up mode: an enrolment code identifies its central and waits for the technician
    to confirm it on the screen; only then is the code used and the configuration written."""

    def __init__(self, config_path: Path, data_dir: str, state: SetupState, done: threading.Event):
        self.events = EventBus()  # CameraScanner reports camera up/down here; nobody needs it in set-up mode
        self.config_path, self.data_dir, self.state, self.done = config_path, data_dir, state, done
        self._lock = threading.Lock()
        self._pending = None  # kiosk.enrolment.Pending, while state == "confirm"
        self._last: bytes | None = None
        self._last_until = 0.0

    def handle(self, raw: bytes, seen_at: float | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            if self.done.is_set() or self.state.state in BUSY_STATES:
                return  # one code at a time: the technician cancels on the screen to scan another
            if raw == self._last and now < self._last_until:
                return
            self._last, self._last_until = raw, now + RETRY_SECONDS
        result = parse(raw)
        if not (isinstance(result, KioskCode) and result.kind == "enrolment"):
            self._set("waiting", "Đây không phải mã cài đặt. Vui lòng quét mã cài đặt kiosk.",
                      "This is not a set-up code. Please scan the kiosk set-up code.")
            return
        self._set("checking", "Đang kiểm tra máy chủ trung tâm…", "Checking central…")
        try:
            pending = prepare(parse_code_text(result.payload), self.config_path)
        except EnrolError as exc:
            self._refused(exc)
            return
        with self._lock:
            self._pending = pending
            self.state.central, self.state.nonce = central_view(pending.central), secrets.token_urlsafe(16)
            self._set("confirm", "Kiểm tra máy chủ trung tâm dưới đây rồi bấm Xác nhận.",
                      "Check the central below, then press Confirm.")
        log.info("set-up code for %s (%s): waiting for confirmation", pending.central.url, pending.central.verified)

    def confirm(self, nonce: str) -> str | None:
        """Use the code on screen; None, or a SCREEN_REFUSALS code."""
        with self._lock:
            if self.state.state != "confirm" or not secrets.compare_digest(nonce, self.state.nonce):
                return "stale"
            pending, self._pending = self._pending, None
            self._set("enrolling", "Đang cài đặt…", "Setting up…")
        try:
            done = complete(pending, self.config_path, data_dir=self.data_dir)
        except EnrolError as exc:
            self._refused(exc)
            return None
        self.state.kiosk_id = done.kiosk_id
        self._set("enrolled", f"Đã cài đặt: {done.kiosk_id}. Kiosk đang khởi động lại…",
                  f"Set up as {done.kiosk_id}. The kiosk is restarting…")
        log.info("enrolled as %s at site %s", done.kiosk_id, done.site_id)
        self.done.set()
        return None

    def cancel(self, nonce: str) -> str | None:
        with self._lock:
            if self.state.state != "confirm" or not secrets.compare_digest(nonce, self.state.nonce):
                return "stale"
            self._pending = None
            self._last_until = time.monotonic() + RETRY_SECONDS  # the code still held up is not taken again at once
            self._set("waiting", "Đã hủy. Quét mã cài đặt.", "Cancelled. Scan the set-up code.")
        return None

    def _refused(self, exc) -> None:
        log.warning("enrolment refused: %s", exc.code)
        with self._lock:
            self._pending = None
            self._last_until = time.monotonic() + RETRY_SECONDS  # the same code may be tried again after that
            self._set("error", exc.message_vi, exc.message_en)

    def _set(self, state: str, vi: str, en: str) -> None:
        if state != "confirm":
            self.state.central, self.state.nonce = None, ""
        self.state.state, self.state.message_vi, self.state.message_en = state, vi, en

    def health(self) -> dict:
        return {}


PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>vaxkiosk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:"DejaVu Sans",sans-serif;background:#0b2545;color:#fff;text-align:center;margin:0}
h1{font-size:3rem;margin:4vh 0 1vh}p{font-size:1.6rem}img{max-width:60vw;max-height:50vh;border:4px solid #fff}
.error{color:#ffd166}#central{background:#fff;color:#0b2545;margin:2vh auto;padding:1rem 2rem;max-width:60rem}
#central code{font-size:1.4rem;word-spacing:.4rem}button{font-size:1.8rem;margin:1rem;padding:.8rem 2rem}
#confirm{background:#1b7f3b;color:#fff}#cancel{background:#8a1c1c;color:#fff}</style></head><body><main>
<h1 id="vi">Quét mã cài đặt</h1><p id="en">Scan the set-up code</p>
<section id="central" hidden><h2>Máy chủ trung tâm · Central</h2><p id="c-url"></p>
<p>Khóa · Key (SHA-256):<br><code id="c-pin"></code></p><p id="c-how"></p>
<button id="confirm" type="button">Xác nhận · Confirm</button>
<button id="cancel" type="button">Hủy · Cancel</button></section>
<img src="/camera.jpg" alt="Camera" id="cam"><p>Kỹ thuật viên: đưa mã QR cài đặt vào camera ·
Technician: hold the set-up QR code to the camera</p></main>
<script>
let nonce = "";
const $ = (id) => document.getElementById(id);
async function answer(path) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify({nonce})});
  if (!r.ok) { const e = (await r.json()).error; $("vi").textContent = e.message_vi; $("en").textContent = e.message_en; }
}
$("confirm").onclick = () => answer("/setup/confirm");
$("cancel").onclick = () => answer("/setup/cancel");
async function poll() {
  $("cam").src = "/camera.jpg?" + Date.now();
  const s = await (await fetch("/setup/state")).json();
  $("vi").textContent = s.message_vi;
  $("en").textContent = s.message_en;
  $("vi").className = s.state === "error" ? "error" : "";
  $("central").hidden = s.state !== "confirm";
  nonce = s.nonce;
  if (s.central) {
    $("c-url").textContent = s.central.url;
    $("c-pin").textContent = s.central.pin_groups || "—";
    $("c-how").textContent = s.central.how_vi + " · " + s.central.how_en;
  }
  if (s.state === "enrolled") setTimeout(() => location.reload(), 3000);
}
poll();
setInterval(poll, 1000);
</script></body></html>"""


def setup_app(state: SetupState, scanner, handler: EnrolCodeHandler | None = None) -> Flask:
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

    def answer(action):
        body = request.get_json(silent=True) if request.is_json else None
        nonce = body.get("nonce") if isinstance(body, dict) else None
        # Only the kiosk's own browser (base.web.loopback): not a page elsewhere on the LAN, nor one that rebound
        # its own host name to 127.0.0.1.
        refused = "not_this_screen" if not from_this_machine(request) else (
            "stale" if not isinstance(nonce, str) or handler is None else action(nonce))
        if refused:
            vi, en = SCREEN_REFUSALS[refused]
            return jsonify({"ok": False, "error": {"code": refused, "message_vi": vi, "message_en": en}}), 403
        return jsonify({"ok": True, **state.__dict__})

    @app.post("/setup/confirm")
    def confirm():
        return answer(handler.confirm if handler else None)

    @app.post("/setup/cancel")
    def cancel():
        return answer(handler.cancel if handler else None)

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
    server = WebServer(setup_app(state, scanner, handler), web.host, web.port, SETUP_THREADS, "vaxkiosk-setup")
    server.start("setup-web")
    log.info("no identity yet: set-up screen on http://%s:%s/ (scan the set-up code)", web.host, server.port)
    try:
        while not done.wait(1.0):
            pass
        time.sleep(3.0)  # the screen shows who the kiosk now is before it becomes the check-in screen
    except KeyboardInterrupt:
        return 130
    finally:
        if scanner:
            scanner.stop()
        server.stop()
    log.info("enrolled: starting the kiosk")
    os.execv(sys.executable, [sys.executable, "-m", "kiosk", *argv])
    return 0  # not reached

