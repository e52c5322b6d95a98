"""The printer worker: one thread that prints pending jobs in id order and reports the printer's condition.

A check-in only inserts a job row; this thread does everything slow. Before each job it asks the printer for its
status; on a backend that can answer, anything but OK/near-end (paper out, cover open, offline, no answer) leaves the
job pending and the job waits, in order, until the printer is back. The job is marked `printing` (committed) before
its bytes leave, and `done` once the transport accepted all of them; a send error returns it to pending.

Exactly once across a crash: a job still `printing` when the kiosk starts may be on paper or not (the bytes may sit
in the printer's buffer). It is marked failed with a clear reason, never re-sent by itself: staff reprint it (an
audited copy) if the citizen has no paper. A duplicate ticket is worse than a missing one that staff can see.
"""

from __future__ import annotations

import logging
import threading

from base.health import PrinterHealth
from base.health import PrinterStatus as ReportedStatus
from drivers.escpos_status import PrinterStatus, unknown
from drivers.printer import Printer, PrinterError
from kiosk.checkin import place_of
from kiosk.printing import jobs
from kiosk.printing.render import Unprintable, render_job
from kiosk.watchdog import thread_alive

log = logging.getLogger("vaxkiosk.printing")


UNCONFIRMED = ("printer stopped answering right after this job: it may not have printed "
               "(reprint if the citizen has no ticket)")


class PrinterWorker:
    name = "printer"

    def __init__(self, store, config, events, clock, printer: Printer | None = None):
        self.store = store
        self.config = config
        self.events = events
        self.clock = clock
        self.printer = printer or Printer(config.printer)
        self.poll = config.printer.poll_seconds
        self.status: PrinterStatus = unknown("not asked yet")
        self.last_error: str | None = None
        self.interrupted: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._test_requested = threading.Event()

    # -- Part ------------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.interrupted = jobs.recover_interrupted(self.store, self.clock.stamp().wall)
        if self.interrupted:
            log.warning("print jobs %s were interrupted by a stop: marked failed, staff may reprint",
                        self.interrupted)
            self.events.publish("printer", {"interrupted_jobs": self.interrupted})
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="printer-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            # A send in progress finishes (bounded by the printer timeout) so the job's state is written truthfully.
            self._thread.join(self.config.printer.timeout * 4 + 5)

    def health(self) -> dict:
        return PrinterHealth(
            alive=thread_alive(self._thread),
            ok=self.status.can_print or (not self.printer.reports_status),
            state=self.status.state,
            status=ReportedStatus(**self.status.to_json()),
            device=self.printer.describe(),
            jobs=jobs.counts(self.store),
            last_error=self.last_error,
            interrupted_jobs=self.interrupted,
        ).to_json()

    def test_print(self) -> None:
        """The technician page's test print: sent by the worker thread between two jobs (one writer at a time)."""
        self._test_requested.set()

    # -- the loop --------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                printed = self._step()
            except Exception:  # noqa: BLE001 - the worker must outlive a bug in one job; it is logged and retried
                log.exception("printer worker step failed")
                printed = False
            if not printed:
                self._stop.wait(self.poll)

    def _step(self) -> bool:
        """Print at most one job; True when one was printed (the next may follow without waiting)."""
        job = jobs.next_pending(self.store)
        self._observe(self.printer.status())
        if self._test_requested.is_set():
            self._test_requested.clear()
            self._send_test_slip()
        if job is None:
            return False
        wall = self.clock.stamp().wall
        if self.printer.reports_status and not self.status.can_print:
            jobs.note_error(self.store, job["id"], f"waiting: printer {self.status.state} {self.status.detail}".strip(),
                            wall)
            return False
        try:
            data = render_job(self.store, job, self.config, self.clock)
        except Unprintable as exc:
            self._failed(job, str(exc))
            return True
        except Exception as exc:  # noqa: BLE001 - a layout bug must not block every later job
            log.exception("rendering print job %s failed", job["id"])
            self._failed(job, f"layout error: {exc!r}")
            return True
        jobs.mark_printing(self.store, job["id"], wall)
        try:
            self.printer.send(data)
        except PrinterError as exc:
            self.last_error = str(exc)
            jobs.mark_waiting(self.store, job["id"], str(exc), self.clock.stamp().wall)
            log.warning("print job %s not sent, will retry: %s", job["id"], exc)
            self._observe(unknown(str(exc)) if self.printer.reports_status else self.status)
            return False
        if self.printer.reports_status and not self._confirmed_after_send():
            # The bytes left, but the printer stopped answering at once (switched off, unplugged): its buffer may
            # be gone. Not re-sent (it may have printed); failed with a reason, so staff see it and can reprint.
            self._failed(job, UNCONFIRMED)
            return True
        jobs.mark_done(self.store, job["id"], self.clock.stamp(), place_of(self.store, job["checkin_id"]))
        log.info("printed %s job %s (copy %s, %d bytes)", job["kind"], job["id"], job["copy"], len(data))
        self.events.publish("printer", {"job": job["id"], "kind": job["kind"], "state": "done",
                                        "checkin_id": job["checkin_id"]})
        return True

    def _confirmed_after_send(self) -> bool:
        """A status answer after the job: a printer that answers has the job (even out of paper, it keeps and
        prints it on the new roll); no answer means it may have lost it."""
        after = self.printer.status()
        self._observe(after)
        return after.known

    def _send_test_slip(self) -> None:
        from kiosk.printing.layouts import test_slip

        try:
            self.printer.send(test_slip(self.config))
        except PrinterError as exc:
            self.last_error = f"test print: {exc}"
            log.warning("test print failed: %s", exc)
            self.events.publish("printer", {"test_print": "failed", "error": str(exc)})
        else:
            log.info("test slip printed")
            self.events.publish("printer", {"test_print": "done"})

    def _failed(self, job: dict, error: str) -> None:
        self.last_error = error
        jobs.mark_failed(self.store, job["id"], error, self.clock.stamp(), place_of(self.store, job["checkin_id"]))
        log.error("print job %s failed for good: %s", job["id"], error)
        self.events.publish("printer", {"job": job["id"], "kind": job["kind"], "state": "failed", "error": error,
                                        "checkin_id": job["checkin_id"]})

    def _observe(self, status: PrinterStatus) -> None:
        changed = status.state != self.status.state
        self.status = status
        if changed:
            (log.info if status.can_print else log.warning)("printer %s: %s %s", self.printer.describe(),
                                                             status.state, status.detail)
            self.events.publish("printer", {"state": status.state, "detail": status.detail,
                                            "pending": jobs.counts(self.store)["pending"]})


def make_part(app) -> PrinterWorker | None:
    if not app.config.printer.enabled:
        return None
    return PrinterWorker(app.store, app.config, app.events, app.clock)
