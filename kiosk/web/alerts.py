"""Tell the staff desks when a citizen has just checked in but their ticket cannot be printed.

Watches the `scan` events of every source (camera, serial, keypad) and publishes a `staff_alert` that every open
staff board shows as a banner; the citizen screen shows the ticket number instead of the paper.
"""

from __future__ import annotations

import logging
import queue
import threading

from kiosk.scan_handler import printer_problem

log = logging.getLogger("vaxkiosk.web")


class PrinterAlerts:
    def __init__(self, kiosk, stopping: threading.Event):
        self.kiosk = kiosk
        self.stopping = stopping
        self.sub = kiosk.events.subscribe()
        self.thread = threading.Thread(target=self._run, name="web-alerts", daemon=True)

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
            if event.type != "scan" or event.data.get("result") != "checked_in":
                continue
            try:
                problem = printer_problem(self.kiosk)
            except Exception:  # noqa: BLE001 - an alert that fails must not stop the next one
                log.exception("printer check failed")
                continue
            if problem:
                self.kiosk.events.publish("staff_alert", {"code": "printer_problem", "ticket": event.data["ticket"],
                                                          "detail": problem["detail"]})
