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


def new_pin(role: str) -> str:
    """A random PIN long enough for the role (shown once to whoever hands it over; only its hash is kept)."""
    digits = TECHNICIAN_MIN_PIN_DIGITS if role == "technician" else 6
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


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
        account, my_lock, failures = self._count_attempt(row["id"])
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
            if my_lock:
                raise locked_error(my_lock)
            if failures == MAX_FAILURES - 1:  # the next wrong PIN locks: say so now, not after
                raise AccountError("bad_login", f"Sai tên hoặc mã PIN. Chỉ còn 1 lần thử: nhập sai lần nữa, tài khoản "
                                   f"bị khoá {LOCK_MINUTES} phút.",
                                   f"Wrong name or PIN. One try left: another wrong PIN locks the account for "
                                   f"{LOCK_MINUTES} minutes.")
            raise AccountError("bad_login", "Sai tên hoặc mã PIN.", "Wrong name or PIN.")
        return {"id": account["id"], "name": account["name"], "role": account["role"]}

    def _count_attempt(self, account_id: int) -> tuple[dict, str | None, int]:
        """(the account, the lock this attempt set or None, wrong tries in a row counting this one);
        raises "locked" while a lock holds."""
        now = self.clock.now()
        with self.store.transaction() as db:
            account = dict(db.conn.execute("SELECT * FROM staff_accounts WHERE id=?", (account_id,)).fetchone())
            held = account["locked_until_wall"]
            locked = bool(held) and dt.datetime.fromisoformat(held) > now
            my_lock, failures = None, account["failed_attempts"]
            if not locked:
                failures = account["failed_attempts"] + 1
                if failures >= MAX_FAILURES:
                    my_lock, failures = (now + dt.timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds"), 0
                db.conn.execute("UPDATE staff_accounts SET failed_attempts=?, locked_until_wall=? WHERE id=?",
                                (failures, my_lock, account_id))
        if locked:
            raise locked_error(held)
        return account, my_lock, failures

    # -- what a technician does for a colleague (CLI `vaxkiosk staff ...` and the technician page) ------------------
    def unlock(self, name: str, actor: str = "cli") -> dict:
        """End a lock and forget the wrong tries (audited `staff_unlock`)."""
        return self._change(name, actor, "staff_unlock", "UPDATE staff_accounts SET failed_attempts=0, "
                            "locked_until_wall=NULL WHERE id=?")

    def reset_pin(self, name: str, pin: str, actor: str = "cli") -> dict:
        """A new PIN (the old one stops working at once, its logins end), lock and wrong tries cleared (audited
        `staff_reset_pin`)."""
        check_pin_format(pin, self.existing(name)["role"])
        return self._change(name, actor, "staff_reset_pin", "UPDATE staff_accounts SET pin_hash=?, failed_attempts=0, "
                            "locked_until_wall=NULL WHERE id=?", hash_pin(pin), end_logins=True)

    def remove(self, name: str, actor: str = "cli") -> dict:
        """The account can no longer log in, its logins end and it leaves the login list; its row stays, so the
        audit log's names keep meaning someone (audited `staff_remove`)."""
        return self._change(name, actor, "staff_remove", "UPDATE staff_accounts SET active=0 WHERE id=?",
                            end_logins=True)

    def existing(self, name: str) -> dict:
        """The active account of that name, or AccountError "unknown_account"."""
        account = self.get(" ".join(str(name).split()))
        if account is None or not account["active"]:
            raise AccountError("unknown_account", f"Không có tài khoản nhân viên tên “{name}”.",
                               f"There is no staff account named “{name}”.")
        return account

    def _change(self, name: str, actor: str, action: str, sql: str, *params, end_logins: bool = False) -> dict:
        account = self.existing(name)
        with self.store.transaction() as db:
            db.conn.execute(sql, (*params, account["id"]))
            if end_logins:
                from base.web.sessions import end_all  # flask: only when a login has to end

                end_all(db, str(account["id"]))
            audit.record(db, actor, action, f"staff:{account['name']}", None, stamp=self.clock.stamp())
        return self.get(account["name"])


def locked_error(until: str) -> AccountError:
    return AccountError("locked", f"Tài khoản tạm khoá {LOCK_MINUTES} phút do nhập sai nhiều lần.",
                        f"Account locked for {LOCK_MINUTES} minutes after repeated wrong PINs.")


# -- CLI: `vaxkiosk staff add|list|unlock|reset-pin|remove` -----------------------------------------------------------
def add_commands(sub) -> None:
    from base.cli import command
    from kiosk.commands import add_config_arg

    parent = command(sub, "staff", "manage staff desk accounts (personal PINs for the staff desk)",
                     "vaxkiosk staff add --name 'Lê Thị Mai' --role staff --config /etc/vaxkiosk/kiosk.toml",
                     "Accounts of the staff desk (/staff/): add, list, unlock after wrong PINs, give a new PIN, "
                     "remove. Every change is audited. Run one of the ACTIONs below.")
    staff = parent.add_subparsers(dest="staff_command", metavar="ACTION", help="what to do")
    parent.set_defaults(handler=lambda _args: print_help_of(parent))
    p = command(staff, "add", "add an account; prints a new random PIN unless --pin-stdin is given",
                "vaxkiosk staff add --name 'Lê Thị Mai' --role staff")
    add_config_arg(p)
    p.add_argument("--name", required=True, help="the person's name as the login list shows it")
    p.add_argument("--role", required=True, choices=ROLES, help="staff: the desk; technician: also the technician "
                                                                "page and staff accounts")
    p.add_argument("--pin-stdin", action="store_true", help="read the PIN from the first line of stdin")
    p.set_defaults(handler=cmd_staff_add)
    p = command(staff, "list", "list accounts (JSON lines, no PINs)", "vaxkiosk staff list")
    add_config_arg(p)
    p.set_defaults(handler=cmd_staff_list)
    for action, summary, example, handler in (
            ("unlock", f"end the {LOCK_MINUTES}-minute lock after {MAX_FAILURES} wrong PINs",
             "vaxkiosk staff unlock 'Lê Thị Mai'", cmd_staff_unlock),
            ("reset-pin", "give an account a new PIN (printed once unless --pin-stdin); its logins end",
             "vaxkiosk staff reset-pin 'Lê Thị Mai'", cmd_staff_reset_pin),
            ("remove", "remove an account: it cannot log in any more (its audit history stays)",
             "vaxkiosk staff remove 'Lê Thị Mai'", cmd_staff_remove)):
        p = command(staff, action, summary, example)
        add_config_arg(p)
        p.add_argument("name", metavar="NAME", help="the account's name, as `vaxkiosk staff list` shows it")
        if action == "reset-pin":
            p.add_argument("--pin-stdin", action="store_true", help="read the new PIN from the first line of stdin")
        p.set_defaults(handler=handler)


def print_help_of(parser) -> int:
    import sys

    parser.print_help(sys.stderr)
    return 2


def _accounts_cmd(args, work) -> int:
    """Open the kiosk's store, run `work(StaffAccounts)` → JSON out; AccountError → its bilingual JSON, exit 1."""
    from kiosk.commands import emit, load_config_or_exit

    config = load_config_or_exit(args.config)
    store = Store(config.db_path)
    try:
        emit({"ok": True, **work(StaffAccounts(store, Clock(config.kiosk.utc_offset_hours)))})
    except AccountError as exc:
        emit(exc.to_json())
        return 1
    finally:
        store.close()
    return 0


def cmd_staff_add(args) -> int:
    import sys

    pin = sys.stdin.readline().strip() if args.pin_stdin else None

    def work(accounts: StaffAccounts) -> dict:
        chosen = pin if pin is not None else new_pin(args.role)
        account = accounts.add(args.name, args.role, chosen)
        out = {"name": account["name"], "role": account["role"]}
        if pin is None:
            out["pin"] = chosen  # shown once; only its hash is stored
        return out
    return _accounts_cmd(args, work)


def cmd_staff_list(args) -> int:
    from kiosk.commands import emit, load_config_or_exit

    store = Store(load_config_or_exit(args.config).db_path)
    try:
        for account in StaffAccounts(store).list():
            emit(account)
    finally:
        store.close()
    return 0


def cmd_staff_unlock(args) -> int:
    return _accounts_cmd(args, lambda accounts: _shown(accounts.unlock(args.name)))


def cmd_staff_reset_pin(args) -> int:
    import sys

    pin = sys.stdin.readline().strip() if args.pin_stdin else None

    def work(accounts: StaffAccounts) -> dict:
        account = accounts.existing(args.name)
        chosen = pin if pin is not None else new_pin(account["role"])
        out = _shown(accounts.reset_pin(args.name, chosen))
        if pin is None:
            out["pin"] = chosen  # shown once
        return out
    return _accounts_cmd(args, work)


def cmd_staff_remove(args) -> int:
    return _accounts_cmd(args, lambda accounts: _shown(accounts.remove(args.name)))


def _shown(account: dict) -> dict:
    return {"name": account["name"], "role": account["role"], "active": bool(account["active"]),
            "locked_until_wall": account["locked_until_wall"]}
