"""Issue 14, item 4: enrolment only with a central the technician can trust. Before the fix a kiosk enrolled with any
`VXK1:ENROL:` QR shown to its camera, plain http to any host included, and a rogue central got its check-ins with
names and ID numbers. The rogue here is a real central (registry + enrolment endpoint) on 127.0.0.2, a device on the
site LAN; the real central is behind a TLS terminator, as behind its reverse proxy in production."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import time
import tomllib

import segno
from PIL import Image

from tests.conftest import ROOT, vaxkiosk, vaxkiosk_json
from tests.security.conftest import LAN
from tests.support.net import free_port, wait_port
from tests.support.waiting import wait_for


def provision(tmp_path, name: str, *args: str) -> tuple[int, dict, object]:
    folder = tmp_path / name
    code, out = vaxkiosk_json("provision", *args, "--config", str(folder / "kiosk.toml"), "--data-dir",
                              str(folder / "data"), "--json")
    return code, out, folder


def test_plain_http_to_another_machine_never_gets_the_code(enrol_centrals, tmp_path):
    rogue = enrol_centrals("rogue", LAN, https=False)
    code = rogue.code()
    for i, args in enumerate((["--qr-text", rogue.qr(code)], ["--central", rogue.url, "--code", code])):
        rc, out, folder = provision(tmp_path, f"k{i}", *args)
        assert (rc, out["ok"]) == (1, False), out
        assert out["error"]["code"] == "insecure_central" and "https" in out["error"]["message_en"]
        assert not folder.exists()  # no configuration, no signing key: nothing written
    proc = vaxkiosk("provision", "--qr-text", rogue.qr(code), "--config", str(tmp_path / "t" / "kiosk.toml"))
    assert proc.returncode == 1 and "phải dùng https" in proc.stderr.decode() and "plain http" in proc.stderr.decode()
    assert rogue.log.seen == [] and rogue.enrolled() == []


def test_the_code_goes_only_to_the_key_the_code_names_or_a_trusted_ca(enrol_centrals, tmp_path):
    genuine = enrol_centrals("central", "127.0.0.1")
    rogue = enrol_centrals("rogue", LAN)
    code = genuine.code()
    # The QR's address answered by the rogue (a spoofed DNS name, ARP on the site LAN), with or without a pin.
    attacks = [(["--qr-text", f"VXK1:ENROL:{rogue.url}|{code}|{genuine.pin}"], "central_pin_mismatch"),
               (["--central", rogue.url, "--code", code, "--pin", genuine.pin], "central_pin_mismatch"),
               (["--central", rogue.url, "--code", code], "central_untrusted"),
               (["--central", rogue.url, "--code", code, "--ca", str(genuine.ca)], "central_untrusted")]
    for i, (args, refusal) in enumerate(attacks):
        rc, out, folder = provision(tmp_path, f"attack{i}", *args)
        assert (rc, out["error"]["code"]) == (1, refusal), (args, out)
        assert out["error"]["message_vi"] and out["error"]["message_en"] and not folder.exists()
    assert rogue.log.seen == [], "a request reached the rogue central"  # TLS handshakes only: no code sent
    assert genuine.enrolled() == []  # and the code was not spent

    rc, out, folder = provision(tmp_path, "pinned", "--qr-text", genuine.qr(code))
    assert rc == 0, out
    assert (out["central"]["pin"], out["central"]["verified"]) == (genuine.pin, "pin")
    written = tomllib.loads((folder / "kiosk.toml").read_text())
    assert written["certificates"]["central_pin"] == genuine.pin  # later requests to central need the same key
    rc, out, _ = provision(tmp_path, "with-ca", "--central", genuine.url, "--code", genuine.code(),
                           "--ca", str(genuine.ca))
    assert (rc, out["central"]["verified"]) == (0, "ca"), out
    assert len(genuine.enrolled()) == 2 and rogue.enrolled() == []


# -- the same at first boot, through the kiosk's camera and its own screen ------------------------------------

def show_qr(folder, text: str) -> None:
    """What the camera sees from now on: a set-up QR held in front of it (the frames are replaced atomically)."""
    folder.mkdir(exist_ok=True)
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=5, border=4)
    frame = Image.new("RGB", (1280, 720), (235, 235, 230))
    frame.paste(Image.open(buf).convert("RGB"), (360, 60))
    for i in range(3):
        tmp = folder / f".frame-{i}.png"
        frame.save(tmp, format="PNG")
        os.replace(tmp, folder / f"frame-{i}.png")


def state_of(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/setup/state")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def wait_state(port: int, states: tuple[str, ...], timeout: float = 40) -> dict:
    return wait_for(lambda: (state := state_of(port))["state"] in states and state, timeout,
                    f"set-up screen in {states}", interval=0.2, ignoring=(OSError,))


def press(port: int, path: str, nonce: str, source: str = "127.0.0.1", host: str = "") -> tuple[int, dict]:
    """A POST the set-up screen's buttons make, from `source`, asking for `host`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps({"nonce": nonce}),
                     headers={"Content-Type": "application/json", "Host": host or f"127.0.0.1:{port}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_first_boot_shows_central_and_enrols_only_after_confirmation_on_its_own_screen(enrol_centrals, tmp_path,
                                                                                        browser):
    genuine = enrol_centrals("central", "127.0.0.1")
    rogue_http = enrol_centrals("rogue-http", LAN, https=False)
    rogue = enrol_centrals("rogue", LAN)
    frames, port, config = tmp_path / "frames", free_port(), tmp_path / "kiosk.toml"
    show_qr(frames, rogue_http.qr(rogue_http.code()))
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n\n'
                      f'[camera]\nenabled = true\nsource = "{frames}"\nloop = true\nfps = 5\n\n'
                      f'[web]\nport = {port}\n', encoding="utf-8")
    installed = config.read_text()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout=30)
        # 1. A rogue QR with plain http to a LAN address: refused on screen, in both languages.
        state = wait_state(port, ("error", "confirm", "enrolled"))
        assert state["state"] == "error" and "https" in state["message_vi"] and "https" in state["message_en"]

        # 2. The attacker's own https QR, pinning the attacker's key: the kiosk shows who that is and waits.
        show_qr(frames, rogue.qr(rogue.code()))
        state = wait_state(port, ("confirm", "enrolled"))
        assert state["state"] == "confirm" and state["central"]["url"] == rogue.url
        assert state["central"]["pin"] == rogue.pin
        # Nobody but the kiosk's own screen can confirm: not a device on the LAN, not a page that rebound a name.
        assert press(port, "/setup/confirm", state["nonce"], source=LAN)[0] == 403
        assert press(port, "/setup/confirm", state["nonce"], host=f"evil.example:{port}")[0] == 403
        assert state_of(port)["state"] == "confirm"
        assert press(port, "/setup/cancel", state["nonce"])[0] == 200  # the technician refuses it

        # 3. The real central's QR: its key is on screen; the technician confirms there.
        show_qr(frames, genuine.qr(genuine.code()))
        state = wait_state(port, ("confirm",))
        assert state["central"]["url"] == genuine.url and state["central"]["verified"] == "pin"
        assert config.read_text() == installed and not (tmp_path / "data").exists()  # nothing written yet
        page = browser.new_page(viewport={"width": 800, "height": 480})
        page.goto(f"http://127.0.0.1:{port}/")
        shown = genuine.pin.removeprefix("sha256:").upper()
        page.wait_for_function("(pin) => document.getElementById('c-pin').textContent.replaceAll(' ', '') === pin",
                               arg=shown, timeout=10_000)
        assert "Xác nhận" in page.inner_text("#confirm")
        page.click("#confirm")
        state = wait_state(port, ("enrolled", "error"))
        assert state["state"] == "enrolled", state
        page.close()
        # The kiosk it became fetches central's trust list from the same pinned key.
        deadline = time.monotonic() + 60
        while not (tmp_path / "data" / "trustlist.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / "data" / "trustlist.json").exists(), "no trust list fetched after enrolment"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert genuine.enrolled() == [state["kiosk_id"]]
    assert rogue.enrolled() == [] and rogue_http.enrolled() == []
    assert rogue.log.seen == [] and rogue_http.log.seen == [], "a request reached a rogue central"
    written = tomllib.loads(config.read_text())
    assert written["kiosk"]["kiosk_id"] == state["kiosk_id"] and written["certificates"]["central_pin"] == genuine.pin
    assert written["mqtt"]["password"] not in out
