"""Operations alerts by text message: one more alert channel of central (issue 22 item 4), through a GSM modem.

`SmsAlertChannel.send(alert)` texts one alert (a row of central.alerts: id, code, site, kiosk, detail) to every
number of the central TOML's [alert_sms] section, Vietnamese first, in GSM-7 (unaccented) or UCS-2 as configured,
through drivers.gsm_modem and drivers.sms_encoding (the kiosk's own). It raises AlertSmsFailed when a number could
not be texted and may be tried again; the caller (an outbox) tries again later, and the numbers already texted are
not texted twice.

The outbox rules of the kiosk's texts hold per (alert, number), in the table alert_sms of ops.db (owned here):
- a row is committed `sending` before the modem is asked and `sent` after; a row found `sending` when the channel
  starts is `uncertain` (the process died between the modem taking it and the mark): never sent again, counted in
  `health()` so operations can see it;
- each number gets at most [alert_sms] max_per_hour texts an hour: an alert over the limit is `suppressed` for that
  number (a phone is not flooded when a whole province goes offline), and the next text that number gets says how
  many were held back, so the dashboard is looked at;
- a number the network refuses for good (+CMS ERROR 1, 28, 30, ...) is `refused` and not tried again; any other
  failure leaves the row `failed`, tried again at the next send of that alert (parts already sent are not resent).
Numbers are operations staff's work phones from the configuration; logs and health show them masked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal

from base.config import check_positive, checked
from base.phone import e164
from base.privacy import mask_phone
from central import alerts
from drivers.gsm_modem import GammuModem, ModemError, NetworkRefused, gammurc_problem
from drivers.sms_encoding import MessageTooLong, encode

log = logging.getLogger("vaxkiosk.central.alert_sms")

NAME = "sms"


def _check_numbers(value: list) -> str | None:
    bad = [n for n in value if not isinstance(n, str) or e164(n) is None]
    if bad or not value:
        return "a list of Vietnamese mobile numbers such as \"0912345678\" or \"+84912345678\""
    if len({e164(n) for n in value}) != len(value):
        return "each number once"
    return None


@dataclass(frozen=True)
class Settings:
    """[alert_sms] in central's TOML file (no section: no SMS alerts)."""
    # A Gammu configuration file naming the modem (`gammu -c FILE identify` tries it; docs/sms.md).
    gammurc: str = checked(gammurc_problem)
    numbers: list = checked(_check_numbers)
    # gsm7: unaccented, 160 characters a part; ucs2: Vietnamese with its diacritics, 70 a part.
    encoding: Literal["gsm7", "ucs2"] = "gsm7"
    # Texts to one number in any hour; more alerts than that are held back (counted in the next text).
    max_per_hour: int = checked(check_positive, default=6)

SCHEMA = """
CREATE TABLE alert_sms (
    alert_id INTEGER NOT NULL,         -- central.alerts' id
    number TEXT NOT NULL,              -- E.164, an operations phone from [alert_sms] numbers
    state TEXT NOT NULL,               -- sending | sent | uncertain | suppressed | failed | refused
    at REAL NOT NULL,                  -- epoch seconds of the last change (the rate limit counts sends by it)
    text TEXT,                         -- the words as first sent (a retry sends the same parts)
    encoding TEXT,                     -- ucs2 | gsm7
    parts_total INTEGER,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    refs TEXT,                         -- the network's message references, one per part sent
    error TEXT,                        -- a stable code: cms_38, modem_gone, sim_not_ready, timeout, ...
    PRIMARY KEY (alert_id, number)
);
CREATE INDEX alert_sms_rate ON alert_sms (number, state, at);
"""

# An alert text is short; a long detail is cut rather than paid for in many parts.
MAX_PARTS = 2
COUNTED = ("sending", "sent", "uncertain")  # what the rate limit counts: texts that went, or may have


class AlertSmsFailed(Exception):
    """Some numbers could not be texted this time; `codes` maps each masked number to its error code."""

    def __init__(self, codes: dict[str, str]):
        self.codes = codes
        super().__init__("alert SMS not sent to " + ", ".join(f"{n} ({c})" for n, c in codes.items()))


def alert_text(alert: dict, held_back: int = 0) -> str:
    """Vietnamese first, English second: what happened, where, the detail central's rule gave."""
    title_vi, title_en = alerts.TITLES.get(alert["code"], (alert["code"], alert["code"]))
    text = (f"VaxKiosk: {title_vi} / {title_en}. Điểm {alert['site']}, kiosk {alert['kiosk']}: "
            f"{alert.get('detail') or ''}.")
    if held_back:
        text += f" Còn {held_back} cảnh báo khác chưa nhắn, xem bảng điều khiển."
    return text


class SmsAlertChannel:
    name = NAME

    def __init__(self, settings: Settings, ops_store, modem: GammuModem | None = None,
                 now: Callable[[], float] = time.time):
        self.settings = settings
        self.store = ops_store
        self.modem = modem or GammuModem(settings.gammurc)
        self.now = now
        self.numbers = [e164(n) for n in settings.numbers]
        self._recovered = False

    def _recover(self) -> None:
        """Rows left `sending` by a process that died between the modem taking a text and the mark: `uncertain`.
        Done on the first send, not at construction: every central process builds its channels, but only the one
        that serves the dashboard sends, and another must not take rows it is sending for interrupted ones."""
        with self.store.transaction() as db:
            found = db.conn.execute("UPDATE alert_sms SET state = 'uncertain' WHERE state = 'sending'").rowcount
        if found:
            log.warning("alert SMS: %d text(s) may have been sent before a crash; not sent again", found)
        self._recovered = True

    def send(self, alert: dict) -> None:
        if not self._recovered:
            self._recover()
        failures: dict[str, str] = {}
        for number in self.numbers:
            try:
                self._send_to(number, alert)
            except ModemError as exc:
                failures[mask_phone(number)] = exc.code
        if failures:
            raise AlertSmsFailed(failures)

    def close(self) -> None:
        self.modem.close()

    def health(self) -> dict:
        rows = self.store.query("SELECT state, count(*) AS n FROM alert_sms GROUP BY state")
        return {"numbers": [mask_phone(n) for n in self.numbers], "texts": {r["state"]: r["n"] for r in rows}}

    # -- one number ------------------------------------------------------------------------------------------------
    def _send_to(self, number: str, alert: dict) -> None:
        now = self.now()
        with self.store.transaction() as db:
            row = db.conn.execute("SELECT * FROM alert_sms WHERE alert_id = ? AND number = ?",
                                  (alert["id"], number)).fetchone()
            if row is not None and row["state"] != "failed":
                return  # sent, may have been sent, held back or refused: never twice
            if row is None:
                sent_lately = db.conn.execute(
                    f"SELECT count(*) FROM alert_sms WHERE number = ? AND at > ? AND state IN "
                    f"({','.join('?' * len(COUNTED))})", (number, now - 3600, *COUNTED)).fetchone()[0]
                if sent_lately >= self.settings.max_per_hour:
                    db.conn.execute("INSERT INTO alert_sms (alert_id, number, state, at) "
                                    "VALUES (?, ?, 'suppressed', ?)", (alert["id"], number, now))
                    log.info("alert SMS %s to %s held back: %d texts in the last hour", alert["id"],
                             mask_phone(number), sent_lately)
                    return
                message = self._encode(alert, self._held_back(db, number), alert["id"])
                db.conn.execute(
                    "INSERT INTO alert_sms (alert_id, number, state, at, text, encoding, parts_total) "
                    "VALUES (?, ?, 'sending', ?, ?, ?, ?)",
                    (alert["id"], number, now, message.text, message.encoding, message.count))
                start = 0
            else:
                message = encode(row["text"], row["encoding"], reference=alert["id"] & 0xFF, max_parts=MAX_PARTS)
                start = row["parts_sent"]
                db.conn.execute("UPDATE alert_sms SET state = 'sending', at = ? WHERE alert_id = ? AND number = ?",
                                (now, alert["id"], number))
        try:
            self.modem.send(number, message, start_part=start, on_part=lambda i, ref: self._part_sent(
                alert["id"], number, i, ref))
        except ModemError as exc:
            refused = isinstance(exc, NetworkRefused) and exc.permanent
            with self.store.transaction() as db:
                db.conn.execute("UPDATE alert_sms SET state = ?, error = ?, at = ? WHERE alert_id = ? AND number = ?",
                                ("refused" if refused else "failed", exc.code, self.now(), alert["id"], number))
            log.warning("alert SMS %s to %s: %s", alert["id"], mask_phone(number), exc.code)
            if not refused:
                raise
            return
        with self.store.transaction() as db:
            db.conn.execute("UPDATE alert_sms SET state = 'sent', error = NULL WHERE alert_id = ? AND number = ?",
                            (alert["id"], number))

    def _part_sent(self, alert_id: int, number: str, index: int, reference: int) -> None:
        with self.store.transaction() as db:
            db.conn.execute("UPDATE alert_sms SET parts_sent = ?, refs = COALESCE(refs || ',', '') || ? "
                            "WHERE alert_id = ? AND number = ?", (index + 1, str(reference), alert_id, number))

    def _held_back(self, db, number: str) -> int:
        """Alerts held back for this number since the last text it got."""
        last = db.conn.execute("SELECT max(at) FROM alert_sms WHERE number = ? AND state IN "
                               f"({','.join('?' * len(COUNTED))})", (number, *COUNTED)).fetchone()[0]
        return db.conn.execute("SELECT count(*) FROM alert_sms WHERE number = ? AND state = 'suppressed' AND at > ?",
                               (number, last or 0)).fetchone()[0]

    def _encode(self, alert: dict, held_back: int, alert_id: int):
        text = alert_text(alert, held_back)
        while True:
            try:
                return encode(text, self.settings.encoding, reference=alert_id & 0xFF, max_parts=MAX_PARTS)
            except MessageTooLong:
                text = text[:-10].rstrip() + "..."  # a very long detail: the title and place come first


def build(settings: Settings, ops_store) -> SmsAlertChannel:
    return SmsAlertChannel(settings, ops_store)
