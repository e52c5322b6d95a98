"""Staff desk accounts: a name, a role and a personal PIN stored as a scrypt hash; lockout after repeated failures.

A PIN is short, so the hash is slow (scrypt) and an account locks for LOCK_MINUTES after MAX_FAILURES wrong PINs in a
row: guessing a 6-digit PIN from the site's network then takes years. Every login, failure and lockout is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from base.refusal import Refusal
from kiosk import audit
from kiosk.clock import Clock
from kiosk.store import Store

ROLES = ("staff", "technician")
MIN_PIN_DIGITS = 4
# A technician sees every part's health, the camera and test prints: 10,000 PINs are too few to guess through.
TECHNICIAN_MIN_PIN_DIGITS = 6
MAX_PIN_DIGITS = 12
MAX_FAILURES = 5
LOCK_MINUTES = 15
# n=2**14, r=8: ~16 MB and ~50 ms on a Pi 4 per check; slow for a guesser, unnoticeable at a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


class AccountError(Refusal):
    def __init__(self, code: str, message_vi: str, message_en: str):
        super().__init__(code, message_vi=message_vi, message_en=message_en)


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_pin_format(pin: str, role: str = "staff") -> None:
    if not (pin.isascii() and pin.isdigit() and MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS):
        raise AccountError("bad_pin", f"Mã PIN phải gồm {MIN_PIN_DIGITS}–{MAX_PIN_DIGITS} chữ số.",
                           f"The PIN must be {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits.")
    if role == "technician" and len(pin) < TECHNICIAN_MIN_PIN_DIGITS:
        raise AccountError("technician_pin_too_short",
                           f"Mã PIN của kỹ thuật viên phải có ít nhất {TECHNICIAN_MIN_PIN_DIGITS} chữ số.",
                           f"A technician's PIN must have at least {TECHNICIAN_MIN_PIN_DIGITS} digits.")


class StaffAccounts:
    def __init__(self, store: Store, clock: Clock | None = None):
        self.store = store
        self.clock = clock or Clock()

    def add(self, name: str, role: str, pin: str, actor: str = "cli") -> dict:
        name = " ".join(str(name).split())
        if not name or len(name) > 80:
            raise AccountError("bad_name", "Cần tên nhân viên.", "A staff name is required.")
        if role not in ROLES:
            raise AccountError("bad_role", "Vai trò không hợp lệ.", f"The role must be one of {', '.join(ROLES)}.")
        check_pin_format(pin, role)
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            if db.conn.execute("SELECT 1 FROM staff_accounts WHERE name=?", (name,)).fetchone():
                raise AccountError("name_taken", "Tên này đã có tài khoản.", "This name already has an account.")
            db["staff_accounts"].insert({"name": name, "role": role, "pin_hash": hash_pin(pin),
                                         "created_wall": stamp.wall})
            audit.record(db, actor, "staff_add", f"staff:{name}", None, {"role": role}, stamp=stamp)
        return self.get(name)

    def get(self, name: str) -> dict | None:
        return self.store.query_one("SELECT id, name, role, failed_attempts, locked_until_wall, active, created_wall "
                                    "FROM staff_accounts WHERE name=?", (name,))

    def list(self) -> list[dict]:
        return self.store.query("SELECT id, name, role, failed_attempts, locked_until_wall, active, created_wall "
                                "FROM staff_accounts ORDER BY name")

    def names(self) -> list[str]:
        return [r["name"] for r in self.store.query("SELECT name FROM staff_accounts WHERE active=1 ORDER BY name")]

    def authenticate(self, name: str, pin: str) -> dict:
        """The account on success; AccountError("bad_login" | "locked") otherwise. Unknown names cost the same.

        An attempt is counted before its PIN is checked, in one write transaction (BEGIN IMMEDIATE) with the lock
        check: PINs sent in parallel cannot all be checked before any is counted, so at most MAX_FAILURES PINs are
        checked per lock, and the attempt that reaches MAX_FAILURES sets the lock there and then. The scrypt check
        runs outside the transaction (check-ins must not wait on it); afterwards a right PIN clears the count and
        only the lock its own attempt set."""
        row = self.store.query_one("SELECT id FROM staff_accounts WHERE name=? AND active=1", (name,))
        if row is None:
            verify_pin(pin, hash_pin("0000"))
            with self.store.transaction() as db:
                audit.record(db, "staff:?", "login_failed", None, None, stamp=self.clock.stamp())
            raise AccountError("bad_login", "Sai tên hoặc mã PIN.", "Wrong name or PIN.")
        account, my_lock = self._count_attempt(row["id"])
        ok = verify_pin(pin, account["pin_hash"])
        stamp = self.clock.stamp()
        with self.store.transaction() as db:
            if ok:
                # A lock set meanwhile by another attempt stays; this attempt's own lock goes with its success.
                db.conn.execute("UPDATE staff_accounts SET failed_attempts=0, "
                                "locked_until_wall = CASE WHEN locked_until_wall IS ? THEN NULL "
                                "ELSE locked_until_wall END WHERE id=?", (my_lock, account["id"]))
                audit.record(db, f"staff:{account['name']}", "login", None, None, stamp=stamp)
            else:
                audit.record(db, f"staff:{account['name']}", "lockout" if my_lock else "login_failed", None, None,
                             stamp=stamp)
        # Raised after the commit: raising inside the block would roll the audit back.
        if not ok:
            raise locked_error(my_lock) if my_lock else AccountError("bad_login", "Sai tên hoặc mã PIN.",
                                                                     "Wrong name or PIN.")
        return {"id": account["id"], "name": account["name"], "role": account["role"]}

    def _count_attempt(self, account_id: int) -> tuple[dict, str | None]:
        """(the account, the lock this attempt set or None); raises "locked" while a lock holds."""
        now = self.clock.now()
        with self.store.transaction() as db:
            account = dict(db.conn.execute("SELECT * FROM staff_accounts WHERE id=?", (account_id,)).fetchone())
            held = account["locked_until_wall"]
            locked = bool(held) and dt.datetime.fromisoformat(held) > now
            my_lock = None
            if not locked:
                failures = account["failed_attempts"] + 1
                if failures >= MAX_FAILURES:
                    my_lock, failures = (now + dt.timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds"), 0
                db.conn.execute("UPDATE staff_accounts SET failed_attempts=?, locked_until_wall=? WHERE id=?",
                                (failures, my_lock, account_id))
        if locked:
            raise locked_error(held)
        return account, my_lock


def locked_error(until: str) -> AccountError:
    return AccountError("locked", f"Tài khoản tạm khoá {LOCK_MINUTES} phút do nhập sai nhiều lần.",
                        f"Account locked for {LOCK_MINUTES} minutes after repeated wrong PINs.")


# -- CLI: `vaxkiosk staff add|list` ----------------------------------------------------------------------------------
def add_commands(sub) -> None:
    from kiosk.commands import add_config_arg

    staff = sub.add_parser("staff", help="manage staff desk accounts").add_subparsers(dest="staff_command",
                                                                                        metavar="ACTION")
    p = staff.add_parser("add", help="add an account; prints a new random PIN unless --pin-stdin is given")
    add_config_arg(p)
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--pin-stdin", action="store_true", help="read the PIN from the first line of stdin")
    p.set_defaults(handler=cmd_staff_add)
    p = staff.add_parser("list", help="list accounts (JSON lines, no PINs)")
    add_config_arg(p)
    p.set_defaults(handler=cmd_staff_list)


def cmd_staff_add(args) -> int:
    import sys

    from kiosk.commands import emit, load_config_or_exit

    config = load_config_or_exit(args.config)
    pin = sys.stdin.readline().strip() if args.pin_stdin else f"{secrets.randbelow(10 ** 6):06d}"
    store = Store(config.db_path)
    try:
        account = StaffAccounts(store, Clock(config.kiosk.utc_offset_hours)).add(args.name, args.role, pin)
    except AccountError as exc:
        emit({"ok": False, "error": {"code": exc.code, "message_vi": exc.message_vi, "message_en": exc.message_en}})
        return 1
    finally:
        store.close()
    out = {"ok": True, "name": account["name"], "role": account["role"]}
    if not args.pin_stdin:
        out["pin"] = pin  # shown once; only its hash is stored
    emit(out)
    return 0


def cmd_staff_list(args) -> int:
    from kiosk.commands import emit, load_config_or_exit

    store = Store(load_config_or_exit(args.config).db_path)
    try:
        for account in StaffAccounts(store).list():
            emit(account)
    finally:
        store.close()
    return 0
