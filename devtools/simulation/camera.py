"""A camera at the physical edge that can fail the way real USB cameras do, for tests and the demo.

It runs through the real `drivers.camera.FrameSource` machinery (capture thread, newest-frame hand-off, close of a
hung thread); only the device calls are simulated:

- `freeze()`: the current stream hangs inside the driver call and delivers nothing, silently (the known UVC
  failure). Reopening the device starts a new stream that works again, as it does with real cameras.
- `unplug()` / `replug()`: the device is gone: the running stream fails and open() raises CameraError until it
  comes back.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Sequence

import numpy as np

from drivers.camera import CameraError, FrameSource


class SimulatedCamera(FrameSource):
    def __init__(self, frames: Sequence[np.ndarray], fps: float = 30, name: str = "simulated"):
        super().__init__(f"sim:{name}")
        if not frames:
            raise ValueError("a simulated camera needs at least one frame")
        self.frames, self.period = list(frames), 1.0 / fps
        self._plugged = True
        self._frozen_streams: set[int] = set()
        self._streams = itertools.count(1)
        self._release = threading.Event()  # set only when the test is over, so hung threads can finish

    def freeze(self) -> None:
        """The stream open right now stops delivering without an error."""
        self._frozen_streams.add(self._current_stream)

    def unplug(self) -> None:
        self._plugged = False

    def replug(self) -> None:
        self._plugged = True

    def shutdown(self) -> None:
        self.close()
        self._release.set()

    def _open_device(self):
        if not self._plugged:
            raise CameraError(f"{self.description}: no such device (unplugged)")
        self._current_stream = next(self._streams)
        return {"stream": self._current_stream, "frames": itertools.cycle(self.frames)}

    def _grab(self, handle):
        time.sleep(self.period)
        if handle["stream"] in self._frozen_streams:
            self._release.wait()  # hung in the driver: returns only when the whole test is over
            return None
        if not self._plugged:
            raise CameraError("the camera returned no frame (unplugged?)")
        return next(handle["frames"])

    def _close_device(self, handle):
        pass
