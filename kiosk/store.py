"""The kiosk's single source of truth: one SQLite file in WAL mode, committed durably.

Every part of the kiosk (scanner, web screens, printer worker, sync worker) reads its work from here and writes its
results back; no part calls another's internals. Each thread gets its own connection; writes are serialised by
SQLite (BEGIN IMMEDIATE + busy timeout), so a check-in never interleaves with another writer.

Schema changes are forward migrations identified by name, applied in list order inside one transaction each.
Tables belong to the module that owns their rules (see docs/architecture.md): checkins/tickets/state_changes to
`kiosk.checkin`, outbox to `kiosk.sync`, print_jobs to `kiosk.printing`, audit_log to `kiosk.audit`,
identity_flags/identity_attempts to `kiosk.verification`, sms_optins to `kiosk.sms.optin`, sms_outbox to
`kiosk.sms.outbox`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

import sqlite_utils

BUSY_TIMEOUT_MS = 10_000

# Logins the server can end (kiosk.web.sessions): the staff desk's here, the dashboard's in central's ops.db.
WEB_SESSIONS = """
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,          -- sha256 of the random id in the session cookie
    subject TEXT NOT NULL,             -- who logged in (staff account id, dashboard user name)
    started_at REAL NOT NULL           -- epoch seconds; rows older than the session length are pruned at login
);
"""

# kiosk.sms: the number a citizen agreed to be texted at today, and the texts waiting for the modem. Both hold
# personal data for one day only (kiosk.sms.optin.purge), and neither is ever sent to central.
SMS_TABLES = """
CREATE TABLE sms_optins (
    checkin_id TEXT PRIMARY KEY REFERENCES checkins(id),
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,                 -- the check-in's local day: the number is purged after it
    number TEXT NOT NULL,              -- E.164, +84...
    agreed_wall TEXT NOT NULL          -- when the citizen agreed on the screen
);
CREATE INDEX sms_optins_number ON sms_optins (number, day);
CREATE INDEX sms_optins_day ON sms_optins (day);
CREATE TABLE sms_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- sending order; its low byte is the parts' concatenation reference
    checkin_id TEXT NOT NULL REFERENCES checkins(id),
    day TEXT NOT NULL,
    kind TEXT NOT NULL,                -- soon | called | dose
    params TEXT NOT NULL,              -- JSON: what the text says (ticket, desk, dose, UVCI, next dose date)
    state TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | uncertain | failed | expired
    text TEXT,                         -- the words as first sent (a retry sends the same parts)
    encoding TEXT,                     -- ucs2 | gsm7
    parts_total INTEGER,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    refs TEXT,                         -- the network's message references, one per part sent
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_wall TEXT NOT NULL,
    last_error TEXT,                   -- a stable code: cms_38, modem_gone, sim_not_ready, timeout, ...
    last_error_detail TEXT,
    created_wall TEXT NOT NULL,
    updated_wall TEXT NOT NULL
);
CREATE INDEX sms_outbox_due ON sms_outbox (state, next_try_wall, id);
CREATE INDEX sms_outbox_day ON sms_outbox (day);
CREATE UNIQUE INDEX sms_outbox_once ON sms_outbox (checkin_id, kind) WHERE kind IN ('soon', 'dose');
"""

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE checkins (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            day TEXT NOT NULL,                -- local calendar day, YYYY-MM-DD
            id_number TEXT NOT NULL,
            full_name TEXT,
            dob TEXT,
            sex TEXT,
            address TEXT,                     -- only when [kiosk] keep_address = true
            scan_kind TEXT NOT NULL,          -- cccd_qr | id_number | manual
            source TEXT NOT NULL,             -- camera | serial | screen | staff
            created_wall TEXT NOT NULL,
            created_mono REAL NOT NULL,
            created_boot_id TEXT NOT NULL,
            created_clock_synced INTEGER NOT NULL,
            UNIQUE (site_id, day, id_number)
        );
        CREATE TABLE tickets (
            checkin_id TEXT PRIMARY KEY REFERENCES checkins(id),
            site_id TEXT NOT NULL,
            day TEXT NOT NULL,
            number INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting',
            desk TEXT,
            state_wall TEXT NOT NULL,
            UNIQUE (site_id, day, number)
        );
        CREATE INDEX tickets_state ON tickets (site_id, day, state, number);
        CREATE TABLE state_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            at_wall TEXT NOT NULL,
            at_mono REAL NOT NULL,
            at_boot_id TEXT NOT NULL,
            at_clock_synced INTEGER NOT NULL
        );
        CREATE INDEX state_changes_checkin ON state_changes (checkin_id);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order
            record_id TEXT NOT NULL UNIQUE,
            stream TEXT NOT NULL,
            payload TEXT NOT NULL,                 -- JSON, exactly what is published
            created_wall TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_sent_wall TEXT,
            delivered_wall TEXT
        );
        CREATE INDEX outbox_pending ON outbox (delivered_wall, seq);
        CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- print order
            kind TEXT NOT NULL,                    -- ticket | certificate
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            subject_id TEXT,                       -- the vaccination record of a certificate
            copy INTEGER NOT NULL DEFAULT 0,       -- 0 = original, n = n-th reprint
            state TEXT NOT NULL DEFAULT 'pending', -- pending | printing | done | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_wall TEXT NOT NULL,
            updated_wall TEXT NOT NULL
        );
        CREATE INDEX print_jobs_pending ON print_jobs (state, id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_wall TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT,
            reason TEXT,
            detail TEXT
        );
        """,
    ),
    (
        "0002_vaccinations",
        """
        CREATE TABLE screenings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            outcome TEXT NOT NULL,            -- eligible | postponed | referred
            reason TEXT,
            actor TEXT NOT NULL,
            at_wall TEXT NOT NULL
        );
        CREATE TABLE vaccinations (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            dose_number INTEGER NOT NULL,
            vaccine TEXT NOT NULL,            -- key of kiosk.vaccines.VACCINES
            product TEXT NOT NULL,            -- EU DCC mp
            manufacturer TEXT NOT NULL,       -- EU DCC ma
            vaccine_type TEXT NOT NULL,       -- EU DCC vp
            lot TEXT NOT NULL,
            vaccinator TEXT NOT NULL,
            screening_outcome TEXT NOT NULL,
            uvci TEXT NOT NULL UNIQUE,        -- certificate identifier, the same on every reprint
            administered_wall TEXT NOT NULL,
            administered_mono REAL NOT NULL,
            administered_boot_id TEXT NOT NULL,
            administered_clock_synced INTEGER NOT NULL,
            observation_until TEXT NOT NULL,
            observation_end_wall TEXT,
            UNIQUE (checkin_id)
        );
        """,
    ),
    (
        "0003_certificates",
        """
        -- The site's name as it was on the day of the dose: a certificate printed later shows the same site.
        ALTER TABLE vaccinations ADD COLUMN site_name TEXT NOT NULL DEFAULT '';
        -- Reprints look up the copies of one certificate.
        CREATE INDEX print_jobs_subject ON print_jobs (subject_id, copy);
        """,
    ),
    (
        "0004_screens",
        """
        -- Citizens' correction requests (kiosk.corrections).
        CREATE TABLE corrections (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            id_number TEXT NOT NULL,
            kind TEXT NOT NULL,               -- missing_dose | wrong_dose
            vaccination_id TEXT,              -- the dose a wrong_dose request is about
            reason TEXT NOT NULL,
            filed_wall TEXT NOT NULL,
            deadline_wall TEXT NOT NULL
        );
        CREATE INDEX corrections_site ON corrections (site_id, deadline_wall);
        -- Staff desk accounts (kiosk.staff_accounts): personal PINs, stored as scrypt hashes.
        CREATE TABLE staff_accounts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,               -- staff | technician
            pin_hash TEXT NOT NULL,           -- scrypt$n$r$p$salt_hex$hash_hex
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until_wall TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            created_wall TEXT NOT NULL
        );
        """,
    ),
    (
        "0005_correction_outcomes",
        """
        -- Central's decision on a correction (command correction_outcome), shown on the staff desk.
        ALTER TABLE corrections ADD COLUMN outcome_state TEXT;     -- approved | deferred | rejected
        ALTER TABLE corrections ADD COLUMN outcome_reason TEXT;
        ALTER TABLE corrections ADD COLUMN outcome_decided_at REAL;  -- central's decision time (epoch s)
        """,
    ),
    ("0006_web_sessions", WEB_SESSIONS),
    (
        "0007_identity_checks",
        """
        -- A check-in that staff find is not the card holder's gives the number back for the day
        -- (kiosk.checkin.CheckinService.release), so the real holder can check in: one check-in per person per
        -- site per day *holds* the number. SQLite cannot drop the old UNIQUE constraint, so the table is rebuilt
        -- (SQLite's documented procedure; migrate() runs with foreign keys off and checks them before commit).
        -- A migration that adds a column to checkins before this one must add it to both lists below.
        CREATE TABLE checkins_rebuilt (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            day TEXT NOT NULL,
            id_number TEXT NOT NULL,
            full_name TEXT,
            dob TEXT,
            sex TEXT,
            address TEXT,
            scan_kind TEXT NOT NULL,
            source TEXT NOT NULL,
            created_wall TEXT NOT NULL,
            created_mono REAL NOT NULL,
            created_boot_id TEXT NOT NULL,
            created_clock_synced INTEGER NOT NULL,
            released_wall TEXT,               -- staff gave the number back: this check-in is not the holder's
            released_by TEXT
        );
        INSERT INTO checkins_rebuilt (id, site_id, kiosk_id, day, id_number, full_name, dob, sex, address, scan_kind,
                                      source, created_wall, created_mono, created_boot_id, created_clock_synced)
            SELECT id, site_id, kiosk_id, day, id_number, full_name, dob, sex, address, scan_kind,
                   source, created_wall, created_mono, created_boot_id, created_clock_synced FROM checkins;
        DROP TABLE checkins;
        ALTER TABLE checkins_rebuilt RENAME TO checkins;
        CREATE UNIQUE INDEX checkins_holder ON checkins (site_id, day, id_number) WHERE released_wall IS NULL;
        CREATE INDEX checkins_day ON checkins (site_id, day);
        CREATE INDEX checkins_id_number ON checkins (id_number);
        -- kiosk.verification: why a check-in waits for staff to see the card (typed entry, an entry that did not
        -- match it), and who resolved that.
        CREATE TABLE identity_flags (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            kind TEXT NOT NULL,               -- typed | other_record | mismatch
            entry TEXT NOT NULL,              -- what was presented: cccd_qr | manual
            source TEXT NOT NULL,             -- camera | serial | screen | staff
            kiosk_id TEXT NOT NULL,
            at_wall TEXT NOT NULL,
            resolved_wall TEXT,
            resolved_by TEXT,
            resolution TEXT                   -- card_seen | released
        );
        CREATE INDEX identity_flags_checkin ON identity_flags (checkin_id, resolved_wall);
        -- Entries whose name or birth date did not match the record of their number: counted for the pause.
        -- Kept for an hour only (kiosk.verification.WINDOW): the next check-in or lookup deletes older ones.
        CREATE TABLE identity_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kiosk_id TEXT NOT NULL,
            id_number TEXT NOT NULL,
            at_wall TEXT NOT NULL
        );
        CREATE INDEX identity_attempts_number ON identity_attempts (id_number, at_wall);
        CREATE INDEX identity_attempts_kiosk ON identity_attempts (kiosk_id, at_wall);
        """,
    ),
    ("0008_sms", SMS_TABLES),
]


def _set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, waiting out another process that is switching the same new file at the same moment.

    Changing the journal mode takes an exclusive lock and SQLite answers "database is locked" at once rather than
    through the busy handler, so two processes opening a fresh database together (aggregators sharing central.db)
    retry here within the usual busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class StoreError(Exception):
    pass


class Store:
    def __init__(self, path: str | Path, migrations: list[tuple[str, str]] | None = None):
        self.path = Path(path)
        # central.store reuses this class with its own schema; the kiosk's is the default.
        self.migrations = MIGRATIONS if migrations is None else migrations
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.migrate()

    # -- connections -------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _set_wal(conn)
        # FULL: the WAL is fsynced at every commit, so a check-in acknowledged to a citizen survives a power cut.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        with self._lock:
            self._all.append(conn)
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, wrapped by sqlite-utils."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite_utils.Database(self._connect())
            self._local.db = db
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: all or nothing, durable when the block returns."""
        db = self.db
        if db.conn.in_transaction:
            raise StoreError("nested transaction: the outer block already owns the write lock")
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        return [dict(r) for r in self.db.conn.execute(sql, params).fetchall()]

    def query_one(self, sql: str, params: tuple | dict = ()) -> dict | None:
        row = self.db.conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    # -- schema ------------------------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations this file has not seen yet; returns their names."""
        conn = self.db.conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_wall TEXT)")
        done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        unknown = done - {name for name, _ in self.migrations}
        if unknown:
            raise StoreError(
                f"{self.path}: written by a newer vaxkiosk (migrations {sorted(unknown)}); refusing to downgrade"
            )
        applied = []
        # Foreign keys off while migrating, so that a migration may rebuild a table others refer to (SQLite's
        # "making other kinds of table schema changes" procedure); they are checked before each commit.
        conn.execute("PRAGMA foreign_keys=OFF")
        try:
            for name, sql in self.migrations:
                if name in done:
                    continue
                with self.transaction():
                    # Another process opening the same file (two aggregators, the CLI beside the kiosk) may have
                    # applied it between our read and our write lock.
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                        continue
                    for statement in _statements(sql):
                        conn.execute(statement)
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"{self.path}: migration {name} breaks foreign keys: {broken[:5]}")
                    conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (name,))
                applied.append(name)
        finally:
            conn.execute("PRAGMA foreign_keys=ON")
        return applied

    @property
    def schema_version(self) -> int:
        return self.db.conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]

    def integrity_check(self) -> str:
        return self.db.conn.execute("PRAGMA integrity_check").fetchone()[0]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript() would COMMIT the open transaction first)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf)
            buf = ""
    if buf.strip():
        statements.append(buf)
    return statements
