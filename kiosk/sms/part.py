"""The SMS part: one thread that sends the outbox's texts through the modem, each once, oldest first.

Off unless `[sms] gammurc` names a Gammu configuration file; then the citizen screen offers the opt-in, and the
queue and the injection queue texts for those who opted in (kiosk.sms.hooks). The thread:
- at start, marks texts left `sending` by a stop as `uncertain` (shown to staff as "may have been sent", not resent);
- at start and whenever the local date changes, purges the numbers and texts of earlier days (kiosk.sms.optin);
- drops queue texts that are no longer true, then sends the oldest due text: `sending` is committed before the
  modem is asked, each part the modem took is recorded, then `sent`; an error puts the text back to pending with
  the error's code and a later try (retry_seconds, doubling up to retry_max_seconds), or `failed` when the network
  refuses the number itself.
Health and the technician page show the modem, the last error and the texts by state; numbers only masked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading

from base.privacy import mask_phone
from drivers.gsm_modem import GammuModem, ModemError, NetworkRefused
from drivers.sms_encoding import MessageTooLong, encode
from kiosk import checkin
from kiosk.sms import messages, optin
from kiosk.sms.outbox import Outbox
from kiosk.watchdog import thread_alive

log = logging.getLogger("vaxkiosk.sms")

POLL_SECONDS = 1.0
# A queue text is true while its ticket is in this state: "N people before you" while waiting, "come to desk" while
# called.
QUEUE_TEXT_STATES = {"soon": "waiting", "called": "called"}


class SmsPart:
    name = "sms"

    def __init__(self, store, config, clock, modem: GammuModem | None = None):
        self.store = store
        self.settings = config.sms
        self.site = config.kiosk.site_name or config.kiosk.site_id
        self.clock = clock
        self.outbox = Outbox(store)
        self.modem = modem or GammuModem(self.settings.gammurc)
        self.templates = {"soon": self.settings.text_soon, "called": self.settings.text_called,
                          "dose": self.settings.text_dose, "next_dose": self.settings.text_next_dose}
        self.last_error: str | None = None
        self.last_error_detail: str | None = None
        self.last_sent_wall: str | None = None
        self.interrupted: list[int] = []
        self._day: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- Part --------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.interrupted = self.outbox.recover_interrupted(self._wall())
        if self.interrupted:
            log.warning("sms %s were being sent when the kiosk stopped: they may have been sent, they are not sent "
                        "again (staff see them as uncertain)", self.interrupted)
        self.purge_if_new_day()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sms-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        self.modem.close(wait=3)

    def health(self) -> dict:
        return {
            "alive": thread_alive(self._thread),
            "ok": self.last_error is None,
            "modem": "connected" if self.modem.connected else "not connected",
            "encoding": self.settings.encoding,
            "last_error": self.last_error,
            "last_error_detail": self.last_error_detail,
            "last_sent_wall": self.last_sent_wall,
            "messages": self.outbox.counts(),
            "interrupted": self.interrupted,
        }

    # -- the loop ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        self._connect()
        while not self._stop.is_set():
            try:
                sent = self.step()
            except Exception:  # noqa: BLE001 - the sender must outlive a bug in one text; logged, tried again
                log.exception("sms sender step failed")
                sent = False
            if not sent:
                self._stop.wait(POLL_SECONDS)

    def _connect(self) -> None:
        """Set the modem up at start, so health tells of a missing modem before the first text is due."""
        try:
            self.modem.connect()
        except ModemError as exc:
            self._note_error(exc.code, exc.detail)
            log.warning("sms modem not ready at start: %s", exc)

    def purge_if_new_day(self) -> None:
        today = self.clock.today().isoformat()
        if today != self._day:
            optin.purge(self.store, today)
            self._day = today

    def step(self) -> bool:
        """Send at most one text; True when one went (the next may follow at once)."""
        self.purge_if_new_day()
        if not self.outbox.has_pending():
            return False
        now = self.clock.now()
        self.expire_stale(now)
        row = self.outbox.next_due(now.isoformat(timespec="milliseconds"))
        if row is None:
            return False
        number = optin.number_for(self.store.db, row["checkin_id"])
        if number is None:  # the opt-in went (its day was purged) between the two reads
            self.outbox.expire([row["id"]], self._wall())
            return True
        return self._send({**row, "number": number})

    def expire_stale(self, now: dt.datetime) -> None:
        """Texts not to send any more: without an opt-in, or a queue text no longer true ("come to desk 3" for a
        ticket already served) or older than [sms] queue_text_minutes."""
        oldest = (now - dt.timedelta(minutes=self.settings.queue_text_minutes)).isoformat(timespec="milliseconds")
        db = self.store.db
        stale = []
        for row in self.outbox.pending():
            if not optin.opted_in(db, row["checkin_id"]):
                stale.append(row["id"])
            elif row["kind"] in QUEUE_TEXT_STATES:
                ticket = checkin.ticket_in(db, row["checkin_id"])
                if row["created_wall"] < oldest or ticket is None or ticket["state"] != QUEUE_TEXT_STATES[row["kind"]]:
                    stale.append(row["id"])
        if stale:
            self.outbox.expire(stale, now.isoformat(timespec="milliseconds"))

    def _send(self, row: dict) -> bool:
        text, encoding = row["text"], row["encoding"] or self.settings.encoding
        try:
            if text is None:  # a retry sends the words of the first try, whatever the configuration says now
                text = messages.render(row["kind"], json.loads(row["params"]), self.site, self.templates)
            message = encode(text, encoding, reference=row["id"] & 0xFF, max_parts=messages.MAX_PARTS)
        except (KeyError, ValueError, MessageTooLong) as exc:
            self.outbox.mark_error(row["id"], "bad_text", str(exc), self._wall(), None)
            log.error("sms %s (%s) cannot be written: %s", row["id"], row["kind"], exc)
            return True
        self.outbox.mark_sending(row["id"], text, encoding, message.count, self._wall())
        try:
            self.modem.send(row["number"], message, start_part=row["parts_sent"],
                            on_part=lambda index, ref: self.outbox.mark_part_sent(row["id"], index, ref, self._wall()))
        except ModemError as exc:
            self._failed(row, exc)
            return False
        self.outbox.mark_sent(row["id"], self._wall())
        self.last_sent_wall = self._wall()
        self.last_error = self.last_error_detail = None
        log.info("sms %s (%s, %d part%s, %s) sent to %s", row["id"], row["kind"], message.count,
                 "s" if message.count > 1 else "", encoding, mask_phone(row["number"]))
        return True

    def _failed(self, row: dict, exc: ModemError) -> None:
        permanent = isinstance(exc, NetworkRefused) and exc.permanent
        attempts = row["attempts"] + 1
        delay = min(self.settings.retry_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
        next_try = None if permanent else (self.clock.now() + dt.timedelta(seconds=delay)).isoformat(
            timespec="milliseconds")
        self.outbox.mark_error(row["id"], exc.code, exc.detail, self._wall(), next_try)
        self._note_error(exc.code, exc.detail)
        log.warning("sms %s (%s) to %s not sent (%s)%s", row["id"], row["kind"], mask_phone(row["number"]), exc,
                    "; not tried again: the network refuses the number" if permanent else f"; next try in {delay:.0f} s")

    def _note_error(self, code: str, detail: str) -> None:
        self.last_error, self.last_error_detail = code, detail

    def _wall(self) -> str:
        return self.clock.now().isoformat(timespec="milliseconds")


def make_part(app) -> SmsPart | None:
    if not app.config.sms.gammurc:
        # No SMS here (any more): numbers and texts left from a day the part ran still go with their day.
        optin.purge(app.store, app.clock.today().isoformat())
        return None
    return SmsPart(app.store, app.config, app.clock)
