"""Spoken calls made by the real espeak-ng (Debian package, Makefile APT_PACKAGES), decoded back as audio."""

from __future__ import annotations

import array
import math
import os
import wave

from kiosk import speech
from kiosk.speech import CallVoice, call_text


def decoded(path) -> tuple[wave._wave_params, float]:
    """The WAV's header and the RMS of its samples (16-bit PCM: full scale is 32768)."""
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        samples = array.array("h", w.readframes(params.nframes))
    return params, math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def test_a_call_is_spoken_vietnamese_audio_made_once(tmp_path):
    assert call_text(28, "3") == "Mời số 28 đến bàn 3"
    voice = CallVoice(tmp_path / "speech")
    clip = voice.clip(28, "3")
    assert clip is not None and clip.parent == tmp_path / "speech"
    params, rms = decoded(clip)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 22050)
    assert 1.0 < params.nframes / params.framerate < 6.0  # six words, spoken slowly
    assert rms > 500  # speech, not silence
    made = clip.stat().st_mtime_ns

    # Cached: read from disk even when espeak-ng has gone.
    speech.ESPEAK, original = "espeak-ng-not-installed", speech.ESPEAK
    try:
        assert voice.clip(28, "3") == clip and clip.stat().st_mtime_ns == made
        assert voice.clip(29, "3") is None  # a new clip cannot be made: the display keeps the chime
    finally:
        speech.ESPEAK = original
    assert [p.name for p in (tmp_path / "speech").iterdir()] == [clip.name]


def test_another_desk_is_another_clip_and_a_desk_name_cannot_leave_the_cache(tmp_path):
    voice = CallVoice(tmp_path / "speech")
    a, b = voice.clip(5, "3"), voice.clip(5, "../../B")
    assert a is not None and b is not None and a != b
    assert {p.parent for p in (a, b)} == {tmp_path / "speech"}
    assert decoded(b)[1] > 500


def test_a_failing_espeak_leaves_no_clip_behind(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "espeak-ng"
    # espeak-ng without its voice data: writes a header, then fails.
    ran = tmp_path / "ran"
    broken.write_text(f"#!/bin/sh\nprintf 'RIFF' > \"$6\"\necho \"$6\" > {ran}\n"
                      "echo 'Error: voice vi not found' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    voice = CallVoice(tmp_path / "speech")
    assert voice.clip(7, "1") is None
    assert ran.read_text().startswith(str(tmp_path / "speech"))  # it did write there...
    assert list((tmp_path / "speech").iterdir()) == []  # ...and its half a file is gone
