"""Citizens at each kiosk after their check-in: every other one types a mobile number on the citizen screen and
agrees to be texted today, through the screen's own endpoint (POST /checkin/sms, JSON, from the kiosk's machine),
as the citizen screen's keypad sends it. Who is waiting is read through kiosk.checkin, as a person reads the board."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request

from devtools.demo.site import KioskSetup, kiosk_store
from kiosk import checkin

log = logging.getLogger("vaxkiosk.demo.citizens")

LOOK_SECONDS = 0.3  # staff call the next citizen within a second: the opt-in must come before


class Citizens:
    def __init__(self, kiosk: KioskSetup):
        self.kiosk = kiosk
        self.seen: set[str] = set()
        self.opted_in = 0
        self.errors: list[str] = []

    def number(self) -> str:
        """A made-up Vietnamese mobile number per citizen (09 + the site's seed + a counter: never a real one's)."""
        return f"09{self.kiosk.site.seed:02d}{len(self.seen):06d}"

    def opt_in(self, checkin_id: str) -> None:
        body = json.dumps({"checkin_id": checkin_id, "phone": self.number(), "agree": True}).encode()
        request = urllib.request.Request(self.kiosk.url + "/checkin/sms", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10):
                self.opted_in += 1
        except urllib.error.HTTPError as exc:  # optin_closed: staff called them first; a person would not mind
            answer = json.loads(exc.read() or b"{}").get("error", {}).get("code")
            if answer != "optin_closed":
                self.errors.append(f"opt-in: HTTP {exc.code} {answer}")

    def work(self, stop: threading.Event) -> None:
        while not stop.wait(LOOK_SECONDS):
            try:
                with kiosk_store(self.kiosk) as store:
                    waiting = checkin.in_states(store, ("waiting",))
                for checkin_id in waiting:
                    if checkin_id not in self.seen:
                        self.seen.add(checkin_id)
                        if len(self.seen) % 2:
                            self.opt_in(checkin_id)
            except Exception as exc:  # noqa: BLE001 - counted in the summary; the others carry on
                self.errors.append(str(exc))
                log.warning("%s: citizen opt-in failed: %s", self.kiosk.kiosk_id, exc)
