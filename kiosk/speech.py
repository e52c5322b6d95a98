"""Spoken calls for the waiting-room display: "Mời số 28 đến bàn 3", made offline by Debian's espeak-ng (voice `vi`).

Each clip is made once per (number, desk) and kept as a WAV file under `<data_dir>/speech/`; a call that is recalled
or heard by several displays is read from disk. Without espeak-ng, or when it fails, `clip` answers None and the
display keeps its chime (kiosk/web/static/display.js).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger("vaxkiosk.speech")

ESPEAK = "espeak-ng"
VOICE = "vi"
WORDS_PER_MINUTE = 135  # a little slower than espeak's 175: the room is noisy and many listeners are old
SYNTH_SECONDS = 10


def call_text(ticket: int, desk: str) -> str:
    return f"Mời số {ticket} đến bàn {desk}"


class CallVoice:
    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()  # one synthesis at a time: a Pi has few cores, and clips are made once

    def clip(self, ticket: int, desk: str) -> Path | None:
        """The WAV of this call, made now if it is not cached yet; None when it cannot be made."""
        # The desk is staff's free text (up to 8 characters): its bytes in hex make a safe, stable file name.
        path = self.cache_dir / f"call-{int(ticket)}-{desk.encode('utf-8').hex()}.wav"
        if path.exists():
            return path
        with self._lock:
            if path.exists():
                return path
            return self._make(call_text(int(ticket), desk), path)

    def _make(self, text: str, path: Path) -> Path | None:
        program = shutil.which(ESPEAK)
        if program is None:
            log.warning("%s not installed: calls are announced by the chime only", ESPEAK)
            return None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        try:
            # The text is one argument (no shell); espeak-ng reads no markup without -m.
            done = subprocess.run([program, "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(partial), text],
                                  capture_output=True, timeout=SYNTH_SECONDS, check=False)
            if done.returncode != 0 or not partial.exists() or partial.stat().st_size <= 44:
                log.warning("%s failed (exit %s): %s", ESPEAK, done.returncode,
                            done.stderr.decode("utf-8", "replace").strip()[:200])
                return None
            os.replace(partial, path)  # a display never reads half a clip
            return path
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("%s failed: %s", ESPEAK, exc)
            return None
        finally:
            partial.unlink(missing_ok=True)
