"""The waiting-room display in Chromium against a real kiosk process: spoken calls (real espeak-ng clips decoded
back), finished calls cleared, the next numbers and the wait."""

from __future__ import annotations

import array
import io
import json
import math
import urllib.error
import urllib.request
import wave

import pytest

from tests.conftest import SAMPLE_QR
from tests.web.conftest import STAFF_PIN, Kiosk, axe_violations, screenshot

CARDS = [SAMPLE_QR, "001090004321||Nguyễn Văn An|01021990|Nam|Số 1 Phố Huế, Hà Nội|10102022",
         "064190005678||Ksor H'Wen|05031990|Nữ|Gia Lai|10102022",
         "064085004321||Rơ Châm|20071985|Nam|Gia Lai|10102022",
         "064088001111||Siu Y-Ngông|01011988|Nam|Gia Lai|10102022"]


def staff_session(page, kiosk_server) -> str:
    """A logged-in staff page; → its CSRF token, for the desk's own form posts."""
    kiosk_server.add_staff("Lê Thị Mai", "staff", STAFF_PIN)
    page.goto(kiosk_server.url + "/staff/")
    page.select_option("#name", "Lê Thị Mai")
    page.fill("#pin", STAFF_PIN)
    page.click("button[type=submit]")
    page.wait_for_selector("#board")
    return page.get_attribute("input[name=csrf]", "value")


def desk_post(page, kiosk_server, path: str, csrf: str, **form) -> None:
    resp = page.request.post(kiosk_server.url + path, form={**form, "csrf": csrf}, max_redirects=0)
    assert resp.status in (302, 303), (path, resp.status, resp.text()[:300])


def rms(wav: bytes) -> tuple[wave._wave_params, float]:
    with wave.open(io.BytesIO(wav), "rb") as w:
        params = w.getparams()
        samples = array.array("h", w.readframes(params.nframes))
    return params, math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def open_display(page_at, kiosk_server, waiting: int):
    display = page_at("large", axe=True)
    display.goto(kiosk_server.url + "/display/")
    display.wait_for_selector("body[data-live='1']")
    display.wait_for_function(f"() => document.querySelectorAll('#next li').length === {waiting}")
    return display


def test_a_call_is_spoken_and_cleared_when_its_citizen_leaves_the_desk(kiosk_server, page_at):
    for card in CARDS:
        assert kiosk_server.scan(card)["result"] == "checked_in"
    display = open_display(page_at, kiosk_server, len(CARDS))
    assert display.locator("#next li").all_inner_texts() == ["1", "2", "3", "4", "5"]
    # No calls yet to measure: the ticket's own 4 minutes per person ([printer] minutes_per_person).
    assert display.inner_text("#wait-estimate") == "Thời gian chờ: khoảng 20 phút / Wait: about 20 min"
    assert display.is_visible("#no-serving")
    screenshot(display, "display-next-and-wait")

    desk = page_at("small")
    csrf = staff_session(desk, kiosk_server)
    with display.expect_response(lambda r: r.url.endswith("/display/call/1.wav")) as got:
        desk_post(desk, kiosk_server, "/staff/call-next", csrf, desk="3")
    clip = got.value
    # Chromium's media element asks for "bytes=0-": the whole clip, as a range.
    assert clip.status in (200, 206) and clip.headers["content-type"] == "audio/wav"
    if clip.status == 206:
        size = int(clip.headers["content-range"].split("/")[1])
        assert clip.headers["content-range"] == f"bytes 0-{size - 1}/{size}" and len(clip.body()) == size
    params, loudness = rms(clip.body())
    assert (params.nchannels, params.sampwidth) == (1, 2) and params.nframes / params.framerate > 1.0
    assert loudness > 500  # spoken words, not silence
    display.wait_for_function("() => document.body.dataset.lastSpeech === 'spoken:1'")
    assert display.get_attribute("body", "data-last-sound") == "call"  # the chime came first
    assert display.inner_text("#serving tr[data-desk='3'] td.ticket") == "1"
    assert display.locator("#next li").all_inner_texts() == ["2", "3", "4", "5"]
    screenshot(display, "display-call-spoken")
    assert axe_violations(display) == []
    assert len(list((kiosk_server.data / "speech").glob("call-1-*.wav"))) == 1  # kept for a recall

    # A number nobody calls is not synthesised for whoever asks.
    try:
        urllib.request.urlopen(kiosk_server.url + "/display/call/2.wav", timeout=5)
        raise AssertionError("a clip of an uncalled number was made")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404

    with kiosk_server.db() as db:
        first = db.execute("SELECT checkin_id FROM tickets WHERE number=1").fetchone()[0]
    desk_post(desk, kiosk_server, f"/staff/checkin/{first}/screen", csrf, outcome="eligible")
    assert display.inner_text("#serving tr[data-desk='3'] td.ticket") == "1"  # screened: still at desk 3
    desk_post(desk, kiosk_server, f"/staff/checkin/{first}/inject", csrf, vaccine="comirnaty", lot="FK1234",
              dose_number="1", vaccinator="Mai")
    display.wait_for_selector("#no-serving:not(.hidden)")  # gone to observation: desk 3 serves nobody
    assert display.locator("#serving tr").count() == 0
    assert display.inner_text("#wait-estimate") == "Thời gian chờ: khoảng 16 phút / Wait: about 16 min"


def test_without_a_working_espeak_the_call_is_the_chime(tmp_path, page_at, monkeypatch):
    # espeak-ng installed without its voice data: it fails, as it would on a broken image.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").write_text("#!/bin/sh\necho 'Error: voice vi not found' >&2\nexit 1\n")
    (bin_dir / "espeak-ng").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    kiosk_server = Kiosk(tmp_path).start()
    try:
        kiosk_server.scan(SAMPLE_QR)
        display = open_display(page_at, kiosk_server, 1)
        desk = page_at("small")
        csrf = staff_session(desk, kiosk_server)
        with display.expect_response(lambda r: r.url.endswith("/display/call/1.wav")) as got:
            desk_post(desk, kiosk_server, "/staff/call-next", csrf, desk="2")
        assert got.value.status == 503
        # The audio element may drop the body of an answer it cannot play: ask for the same clip again to read it.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(kiosk_server.url + "/display/call/1.wav", timeout=10)
        assert refused.value.code == 503
        assert json.loads(refused.value.read())["error"]["code"] == "speech_unavailable"
        display.wait_for_function("() => document.body.dataset.lastSpeech === 'chime-only'")
        assert display.get_attribute("body", "data-last-sound") == "call"
        assert display.inner_text("#serving tr[data-desk='2'] td.ticket") == "1"
    finally:
        assert kiosk_server.stop() == 0
