"""What the staff boards and the waiting-room display hear of a new check-in, whichever source made it (camera,
serial scanner, keypad, the scan hook).

Scans only publish `scan` events; this thread, part of the web part, turns each new check-in into
  - a `queue` event (ticket number only), so the staff boards and the waiting-room display update, and
  - a `staff_alert` when the printer part cannot print the ticket now, shown as a banner on every staff board
    (the citizen screen shows the ticket number instead of the paper).
"""

from __future__ import annotations

import logging
import queue
import threading

from kiosk.printing.worker import printer_problem

log = logging.getLogger("vaxkiosk.web")


class CheckinNotices:
    def __init__(self, kiosk, stopping: threading.Event):
        self.kiosk = kiosk
        self.stopping = stopping
        self.sub = kiosk.events.subscribe()
        self.thread = threading.Thread(target=self._run, name="web-checkin-notices", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        self.kiosk.events.unsubscribe(self.sub)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                event = self.sub.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.type == "scan" and event.data.get("result") == "checked_in":
                try:
                    self._checked_in(event.data)
                except Exception:  # noqa: BLE001 - one failed notice must not stop the next ones
                    log.exception("check-in notice failed")

    def _checked_in(self, data: dict) -> None:
        events = self.kiosk.events
        events.publish("queue", {"checkin_id": data["checkin_id"], "ticket": data["ticket"], "state": "waiting",
                                 "desk": None})
        problem = printer_problem(self.kiosk)
        if problem:
            events.publish("staff_alert", {"code": "printer_problem", "ticket": data["ticket"],
                                           "detail": problem["detail"]})
