"""Is the person at the kiosk the person on record? A 12-digit number is not an identity.

The number encodes sex and birth year and is printed on cards, forms and photos, so knowing it proves nothing:
- Nothing stored about a person is shown, printed or changed for an entry (card QR, typed, serial) unless its name
  and birth date are the stored ones (`same_person`, after the parser's normalisation: NFC, case, blanks).
- An entry that does not match flags the record it was compared with (staff see the flag; the public screen shows
  neither the stored nor the typed values) and counts as a failed attempt. NUMBER_LIMIT failures for one number,
  or KIOSK_LIMIT at this kiosk, within WINDOW pause every lookup of that number (of every number) until the oldest
  of them is WINDOW old; staff are told. Attempts are rows in SQLite, so a restart does not reset the count.
- A typed check-in, one whose name or birth date differs from earlier check-ins of its number here, and one an
  entry did not match, wait for staff to confirm that they saw the card and the number on it before screening or an
  injection (`require_card_seen`); the confirmation is audited with who confirmed.

Tables: identity_flags, identity_attempts (migration 0007_identity_checks), owned here; the check-ins themselves are
read through the readers kiosk.checkin hands over (`Visits`), since that module writes them. docs/security.md says
why.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from base.privacy import mask_id
from base.records import Stamp
from base.refusal import Refusal
from kiosk import audit
from kiosk.clock import Clock
from kiosk.config import KioskSection
from kiosk.identity import Identity, name_key
from kiosk.store import Store

NUMBER_LIMIT = 3
KIOSK_LIMIT = 10
WINDOW = dt.timedelta(hours=1)
CARD_READ = "cccd_qr"  # the only entry that is not typed; a typed one waits for staff to see the card

REFUSALS = {
    "identity_mismatch": ("Thông tin không khớp với lượt đăng ký hôm nay. Vui lòng gặp nhân viên.",
                          "The details do not match today's check-in. Please see a staff member."),
    "record_mismatch": ("Thông tin không khớp với hồ sơ tại điểm tiêm này. Vui lòng gặp nhân viên.",
                        "The details do not match the record at this site. Please see a staff member."),
    "lookups_paused": ("Đã nhập sai nhiều lần nên tạm dừng tra cứu. Vui lòng gặp nhân viên.",
                       "Too many entries did not match, so look-ups are paused. Please see a staff member."),
    "card_check_needed": ("Cần xem thẻ căn cước và xác nhận số trên thẻ trước khi khám sàng lọc hoặc tiêm.",
                          "See the ID card and confirm the number on it before screening or an injection."),
    "card_number_mismatch": ("Số trên thẻ không phải số của lượt đăng ký này.",
                             "The number on the card is not this check-in's number."),
    "not_found": ("Không tìm thấy lượt đăng ký.", "Check-in not found."),
    "card_details_unconfirmed": ("Cần xác nhận họ tên và ngày sinh trên thẻ đúng như hồ sơ.",
                                 "Confirm that the name and birth date on the card are the ones on record."),
}


class IdentityRefused(Refusal):
    MESSAGES = REFUSALS

    def __init__(self, code: str, detail: str = "", alerts: list[dict] | None = None):
        super().__init__(code, detail)
        self.alerts = alerts or []  # `staff_alert` event data for the staff desk (masked numbers only)


def same_person(row: dict, full_name: str | None, dob: dt.date | str | None) -> bool:
    """Do this name and birth date belong to the stored record `row` (its full_name and ISO dob)?"""
    born = dob.isoformat() if isinstance(dob, dt.date) else dob
    return bool(row.get("full_name") and full_name and born) and row.get("dob") == born and (
        name_key(row["full_name"]) == name_key(full_name))


def flag(db, checkin_id: str, kind: str, entry: str, source: str, kiosk_id: str, stamp: Stamp) -> None:
    """One flag inside the caller's transaction (a new check-in's flags commit with it)."""
    db["identity_flags"].insert({"checkin_id": checkin_id, "kind": kind, "entry": entry, "source": source,
                                 "kiosk_id": kiosk_id, "at_wall": stamp.wall})


def flag_new_checkin(db, checkin_id: str, identity: Identity, source: str, settings: KioskSection,
                     stamp: Stamp, earlier: list[dict]) -> None:
    """Inside the check-in's transaction: a typed entry waits for staff to see the card, and so does an entry
    whose name or birth date is not that of any earlier check-in of its number here (`earlier`: their full_name
    and dob; someone else's number)."""
    forget_old_attempts(db, stamp)
    if identity.kind != CARD_READ:
        flag(db, checkin_id, "typed", identity.kind, source, settings.kiosk_id, stamp)
    if earlier and not any(same_person(r, identity.full_name, identity.dob) for r in earlier):
        flag(db, checkin_id, "other_record", identity.kind, source, settings.kiosk_id, stamp)


def forget_old_attempts(db, stamp: Stamp) -> None:
    """Wrong tries hold the number typed: they are kept only as long as they count (every check-in and lookup)."""
    db.conn.execute("DELETE FROM identity_attempts WHERE at_wall < ?", (_ago(stamp.wall, WINDOW),))


def require_card_seen(db, checkin_id: str) -> None:
    """Inside a screening or injection transaction: refuse while a flag of this check-in is open."""
    if db.conn.execute("SELECT 1 FROM identity_flags WHERE checkin_id=? AND resolved_wall IS NULL LIMIT 1",
                       (checkin_id,)).fetchone():
        raise IdentityRefused("card_check_needed", checkin_id)


def resolve(db, checkin_id: str, actor: str, resolution: str, stamp: Stamp) -> list[str]:
    """Close the open flags of a check-in inside the caller's transaction; returns their kinds."""
    kinds = [r[0] for r in db.conn.execute(
        "SELECT kind FROM identity_flags WHERE checkin_id=? AND resolved_wall IS NULL ORDER BY id", (checkin_id,))]
    db.conn.execute("UPDATE identity_flags SET resolved_wall=?, resolved_by=?, resolution=? "
                    "WHERE checkin_id=? AND resolved_wall IS NULL", (stamp.wall, actor, resolution, checkin_id))
    return kinds


class CheckinRows(Protocol):
    """How this module reads check-ins (kiosk.checkin.Visits), inside its transactions."""

    def of_number(self, db, site_id: str, id_number: str) -> list[dict]: ...

    def number_of(self, db, checkin_id: str) -> str | None: ...


class Verification:
    def __init__(self, store: Store, settings: KioskSection, clock: Clock, checkins: CheckinRows):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.checkins = checkins

    # -- the citizen's entries -------------------------------------------------------------------------------
    def admit(self, row: dict, identity: Identity, source: str) -> dict:
        """The check-in `row` holding `identity`'s number today → `row`, when the entry is its person."""
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            self._refuse_if_paused(db, identity.id_number, stamp)
            if same_person(row, identity.full_name, identity.dob):
                return row
            alerts = self._failed(db, identity, row, source, stamp)
        raise IdentityRefused("identity_mismatch", row["id"], alerts)

    def lookup(self, identity: Identity, source: str) -> None:
        """The record check: refuses unless the entry is the person of at least one check-in of its number here
        (a number without any check-in here has nothing to show and passes: "no doses recorded here")."""
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            self._refuse_if_paused(db, identity.id_number, stamp)
            rows = self.checkins.of_number(db, self.settings.site_id, identity.id_number)
            if not rows or any(same_person(r, identity.full_name, identity.dob) for r in rows):
                return
            alerts = self._failed(db, identity, rows[-1], source, stamp)
        raise IdentityRefused("record_mismatch", rows[-1]["id"], alerts)

    def _failed(self, db, identity: Identity, row: dict, source: str, stamp: Stamp) -> list[dict]:
        """Count a failed attempt and flag the record it was compared with; the staff alerts it gives."""
        kiosk_id = self.settings.kiosk_id
        db["identity_attempts"].insert({"kiosk_id": kiosk_id, "id_number": identity.id_number,
                                        "at_wall": stamp.wall})
        flag(db, row["id"], "mismatch", identity.kind, source, kiosk_id, stamp)
        alerts = []
        if row["day"] == self.clock.today().isoformat():
            alerts.append({"code": "identity_mismatch", "ticket": row["number"], "checkin_id": row["id"]})
        paused = self._pause(db, identity.id_number, stamp)
        if paused:  # this failure started the pause (a paused lookup never gets this far)
            scope, until = paused
            detail = {"scope": scope, "id_masked": mask_id(identity.id_number) if scope == "number" else None,
                      "until": until}
            audit.record(db, f"kiosk:{kiosk_id}", "identity.lookups_paused", None, None, detail, stamp=stamp)
            alerts.append({"code": "lookups_paused", **detail})
        return alerts

    # -- the pause ---------------------------------------------------------------------------------------------
    def _refuse_if_paused(self, db, id_number: str, stamp: Stamp) -> None:
        forget_old_attempts(db, stamp)
        paused = self._pause(db, id_number, stamp)
        if paused:
            raise IdentityRefused("lookups_paused", f"{paused[0]} until {paused[1]}")

    def _pause(self, db, id_number: str, stamp: Stamp) -> tuple[str, str] | None:
        """("number" | "kiosk", until) when lookups of `id_number` are paused at `stamp`, else None."""
        since = _ago(stamp.wall, WINDOW)
        for scope, where, key, limit in (("number", "id_number=?", id_number, NUMBER_LIMIT),
                                         ("kiosk", "kiosk_id=?", self.settings.kiosk_id, KIOSK_LIMIT)):
            walls = [r[0] for r in db.conn.execute(
                f"SELECT at_wall FROM identity_attempts WHERE {where} AND at_wall > ? ORDER BY at_wall DESC LIMIT ?",
                (key, since, limit))]
            if len(walls) >= limit:
                return scope, (dt.datetime.fromisoformat(walls[-1]) + WINDOW).isoformat(timespec="milliseconds")
        return None

    def pauses(self) -> list[dict]:
        """Lookups paused now, for the staff board: [{scope, id_masked, until}]."""
        stamp, db = self.clock.stamp(), self.store.db
        found = []
        kiosk_paused = self._pause(db, "", stamp)
        if kiosk_paused:
            found.append({"scope": "kiosk", "id_masked": None, "until": kiosk_paused[1]})
        for (number,) in db.conn.execute("SELECT DISTINCT id_number FROM identity_attempts WHERE at_wall > ?",
                                         (_ago(stamp.wall, WINDOW),)).fetchall():
            paused = self._pause(db, number, stamp)
            if paused and paused[0] == "number":
                found.append({"scope": "number", "id_masked": mask_id(number), "until": paused[1]})
        return found

    # -- the staff desk ----------------------------------------------------------------------------------------
    def open_flags(self, checkin_ids: list[str] | None = None) -> dict[str, list[dict]]:
        """checkin_id → its open flags (oldest first), for the board and a citizen's page."""
        rows = self.store.query("SELECT * FROM identity_flags WHERE resolved_wall IS NULL ORDER BY id")
        wanted = None if checkin_ids is None else set(checkin_ids)
        flags: dict[str, list[dict]] = {}
        for r in rows:
            if wanted is None or r["checkin_id"] in wanted:
                flags.setdefault(r["checkin_id"], []).append(r)
        return flags

    def flags(self, checkin_id: str) -> list[dict]:
        return self.store.query("SELECT * FROM identity_flags WHERE checkin_id=? ORDER BY id", (checkin_id,))

    def confirm_card(self, checkin_id: str, number_on_card: str, details_match: bool, actor: str) -> list[str]:
        """Staff saw the card: its number (typed from the card) is this check-in's and its name and birth date are
        the ones on record. Closes the open flags, audited `identity.card_seen`; returns the kinds closed."""
        number = "".join(str(number_on_card or "").split())
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            on_record = self.checkins.number_of(db, checkin_id)
            if on_record is None:
                raise IdentityRefused("not_found", checkin_id)
            if number != on_record:
                raise IdentityRefused("card_number_mismatch")
            if not details_match:
                raise IdentityRefused("card_details_unconfirmed")
            kinds = resolve(db, checkin_id, actor, "card_seen", stamp)
            audit.record(db, actor, "identity.card_seen", checkin_id, None, {"flags": kinds}, stamp=stamp)
        return kinds


def _ago(wall: str, delta: dt.timedelta) -> str:
    return (dt.datetime.fromisoformat(wall) - delta).isoformat(timespec="milliseconds")
