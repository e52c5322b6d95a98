"""A scripted staff member at each kiosk's staff desk, through its HTTP interface like a person with a browser:
log in with a PIN (CSRF token from the form), call the next citizen, screen, record the injection, and finish the
observation once it is over (which queues the certificate). What to do next is read from the kiosk's database
through its tables' owners (kiosk.checkin, kiosk.vaccination), as a person would read it off the queue board."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import logging
import re
import threading
import urllib.parse
import urllib.request

from devtools.demo.site import IN_QUEUE, STAFF_NAME, STAFF_PIN, KioskSetup, kiosk_store
from kiosk import checkin
from kiosk.config import load
from kiosk.vaccination import VaccinationService

log = logging.getLogger("vaxkiosk.demo.staff")

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
VACCINE, LOT = "comirnaty", "FK1234"
PAUSE_SECONDS = 0.8  # between two actions: a person, not a load test
# Every third citizen's certificate gets wet and is printed again, and every fourth ticket: reprints are part of a
# real shift, and central must count them on their own, not as more people (the summary checks it).
REPRINT_CERTIFICATE_EVERY, REPRINT_TICKET_EVERY = 3, 4


class StaffDesk:
    def __init__(self, kiosk: KioskSetup):
        self.kiosk = kiosk
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""
        self.called = self.injected = self.finished = 0
        self.reprinted = {"ticket": 0, "certificate": 0}
        self.errors: list[str] = []

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _open(self, path: str, form: dict | None = None) -> tuple[str, str]:
        data = urllib.parse.urlencode({**form, "csrf": self.csrf}).encode() if form is not None else None
        with self.opener.open(self.kiosk.url + path, data=data, timeout=15) as resp:
            html = resp.read().decode("utf-8", "replace")
            found = CSRF.search(html)
            if found:
                self.csrf = found.group(1)
            return resp.geturl(), html

    def login(self) -> None:
        self._open("/staff/login")
        url, _ = self._open("/staff/login", {"name": STAFF_NAME, "pin": STAFF_PIN})
        if "/staff/login" in url:
            raise RuntimeError(f"{self.kiosk.kiosk_id}: staff login refused")

    def call_and_vaccinate(self) -> bool:
        """Call the next citizen, screen them eligible, record dose 1. False when nobody is waiting."""
        url, _ = self._open("/staff/call-next", {"desk": "1"})
        match = re.search(r"/staff/checkin/([0-9a-f]+)", url)
        if not match:
            return False
        self.called += 1
        base = f"/staff/checkin/{match.group(1)}"
        if self.called % REPRINT_TICKET_EVERY == 0:
            self.reprint(match.group(1), "ticket")
        self._open(f"{base}/screen", {"outcome": "eligible"})
        self._open(f"{base}/inject", {"vaccine": VACCINE, "lot": LOT, "dose_number": "1",
                                      "vaccinator": STAFF_NAME})
        self.injected += 1
        return True

    def finish(self, checkin_id: str) -> None:
        self._open(f"/staff/checkin/{checkin_id}/finish", {})
        self.finished += 1
        if self.finished % REPRINT_CERTIFICATE_EVERY == 0:
            self.reprint(checkin_id, "certificate")

    def reprint(self, checkin_id: str, kind: str) -> None:
        self._open(f"/staff/checkin/{checkin_id}/reprint", {"kind": kind, "reason": "giấy bị ướt · paper got wet"})
        self.reprinted[kind] += 1

    # -- what the board shows --------------------------------------------------------------------------------
    def observations_over(self) -> list[str]:
        now = dt.datetime.now(dt.timezone.utc)
        with kiosk_store(self.kiosk) as store:
            doses = VaccinationService(store, load(self.kiosk.config).kiosk)
            return [cid for cid in checkin.in_states(store, ("observing",))
                    if (dose := doses.for_checkin(cid)) and dt.datetime.fromisoformat(dose["observation_until"]) <= now]

    def busy(self) -> bool:
        """Someone is still waiting or under observation."""
        with kiosk_store(self.kiosk) as store:
            return bool(checkin.in_states(store, IN_QUEUE))

    # -- the shift -------------------------------------------------------------------------------------------
    def work(self, stop: threading.Event) -> None:
        try:
            self.login()
        except Exception as exc:  # noqa: BLE001 - reported in the summary, the demo goes on without this desk
            self.errors.append(f"login: {exc}")
            return
        while not stop.is_set():
            try:
                for checkin_id in self.observations_over():
                    self.finish(checkin_id)
                self.call_and_vaccinate()
            except Exception as exc:  # noqa: BLE001 - one failed action is counted; the staff member carries on
                self.errors.append(str(exc))
                log.warning("%s: staff action failed: %s", self.kiosk.kiosk_id, exc)
            stop.wait(PAUSE_SECONDS)
