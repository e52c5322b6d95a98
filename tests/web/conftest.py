"""The screens under test: a real `python -m kiosk kiosk` process serving on a free loopback port, driven by Debian's
Chromium through Playwright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, vaxkiosk, write_config
from tests.support.net import free_port, wait_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
ARTIFACTS = ROOT / "test-artifacts" / "screens"
AXE = ROOT / ".cache" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"small": (800, 480), "large": (1920, 1080)}
STAFF_PIN = "482913"
TECH_PIN = "775120"


class Kiosk:
    def __init__(self, tmp: Path, extra: str = ""):
        self.port = free_port()
        self.data = tmp / "data"
        self.config = write_config(tmp / "kiosk.toml", self.data,
                                   extra=f"[web]\nport = {self.port}\nsession_minutes = 30\n{extra}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "kiosk.log", "wb")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Kiosk":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--config", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_port(self.port, timeout=20)
        return self

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode if self.proc else 0

    def add_staff(self, name: str, role: str, pin: str) -> dict:
        proc = vaxkiosk("staff", "add", "--config", str(self.config), "--name", name, "--role", role, "--pin-stdin",
                        input=(pin + "\n").encode())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    def scan(self, text: str) -> dict:
        return self.post_json("/api/scan", {"text": text})

    def post_json(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def db(self):
        import sqlite3

        conn = sqlite3.connect(self.data / "kiosk.db")
        conn.row_factory = sqlite3.Row
        return conn


@pytest.fixture
def kiosk_server(tmp_path):
    k = Kiosk(tmp_path).start()
    yield k
    assert k.stop() == 0, (tmp_path / "kiosk.log").read_text()


def launch_chromium():
    """Debian's Chromium under Playwright, for the session (the `browser` fixture of tests/conftest.py, defined
    there once so that tests/web and tests/security share one browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (see Makefile APT_PACKAGES)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page_at(browser):
    """page_at("small"|"large") → a fresh page with that viewport (closed after the test)."""
    contexts = []

    def make(size: str = "small", axe: bool = False):
        w, h = SIZES[size]
        # axe-core is injected as a script tag, which the screens' Content-Security-Policy rightly refuses.
        ctx = browser.new_context(viewport={"width": w, "height": h}, locale="vi-VN", bypass_csp=axe)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def screenshot(page, name: str) -> list[Path]:
    """The page as it is now, at both kiosk sizes (the layout reflows; the viewport is put back afterwards).

    Saved under test-artifacts/screens/ (gitignored); `make screens-docs` copies them to docs/screens/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    for w, h in SIZES.values():
        page.set_viewport_size({"width": w, "height": h})
        path = ARTIFACTS / f"{name}-{w}x{h}.png"
        page.screenshot(path=str(path))
        paths.append(path)
    page.set_viewport_size(original)
    return paths


def axe_violations(page) -> list[dict]:
    """axe-core (installed by `make axe`) run inside the page: serious and critical violations only."""
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `make axe` (npm install axe-core into .cache/)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]

