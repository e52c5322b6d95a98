"""A SQLite file as vaxkiosk keeps one: WAL, committed durably, schema changes as named forward migrations.

The kiosk's kiosk.db, central's central.db and ops.db are each one of these with their own migrations. Each thread
gets its own connection; writes are serialised by SQLite (BEGIN IMMEDIATE + busy timeout), so a transaction never
interleaves with another writer. Migrations are applied in list order, one transaction each, and only ever appended:
a database records the names it has run and refuses a file written by a newer version.
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
MAX_PARAMETERS = 32_766  # per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32)


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


class Connections:
    """What the stores of both engines share (this Store, base.pgstore.PgStore): a connection per thread behind
    `db`, all closed together, and reads returned as dicts."""

    close_errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        return [dict(r) for r in self.db.conn.execute(sql, params).fetchall()]

    def query_one(self, sql: str, params: tuple | dict = ()) -> dict | None:
        row = self.db.conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(*self.close_errors):
                conn.close()
        self._local = threading.local()


class Store(Connections):
    retryable: tuple[type[BaseException], ...] = ()  # SQLite's one writer waits (busy timeout); nothing to retry
    partitioned = False  # plain tables, old rows DELETEd (base.pgstore.PgStore partitions by day)

    def __init__(self, path: str | Path, migrations: list[tuple[str, str]]):
        self.path = Path(path)
        self.migrations = migrations
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
    def transaction(self, concurrent: bool = False) -> Iterator[sqlite_utils.Database]:
        """One write transaction: all or nothing, durable when the block returns. SQLite has one writer at a time
        whatever `concurrent` says (base.pgstore.PgStore lets such writers run side by side)."""
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

    def lock(self, db, names) -> None:
        """Nothing to do: SQLite has one writer at a time (base.pgstore.PgStore.lock serialises by name)."""

    def insert_many(self, db, into: str, rows: list[tuple], conflict: str) -> list:
        """INSERT INTO `into` ("table (columns)") one row per tuple, then `conflict` (its ON CONFLICT … [RETURNING
        …] clause), in as few statements as SQLite's parameter limit allows; returns what RETURNING gave.
        base.pgstore.PgStore does the same in one statement of typed arrays."""
        out: list = []
        if not rows:
            return out
        one = "(" + ", ".join("?" * len(rows[0])) + ")"
        step = max(1, MAX_PARAMETERS // len(rows[0]))
        for i in range(0, len(rows), step):
            chunk = rows[i:i + step]
            cur = db.conn.execute(f"INSERT INTO {into} VALUES {', '.join([one] * len(chunk))} {conflict}",
                                  tuple(v for row in chunk for v in row))
            out.extend(cur.fetchall())
        return out

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

    def data_version(self) -> int:
        """Moves when another connection (another thread or process) committed to the file."""
        conn = getattr(self._local, "watch", None)
        if conn is None:
            conn = self._local.watch = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                                       check_same_thread=False)
            with self._lock:
                self._all.append(conn)
        return conn.execute("PRAGMA data_version").fetchone()[0]


def open_store(location: str | Path, migrations: list[tuple[str, str | dict]], scope: str):
    """A Store on a SQLite file, or a base.pgstore.PgStore when `location` is a postgresql:// URL; `scope` names
    the migration list within a PostgreSQL database that several lists share. A migration is SQL written for
    SQLite, or {"sqlite": ..., "postgresql": ...} where the engines need different statements."""
    from base.pgstore import PgStore, is_postgres_url

    if is_postgres_url(location):
        return PgStore(str(location), migrations, scope)
    return Store(location, [(name, sql["sqlite"] if isinstance(sql, dict) else sql) for name, sql in migrations])


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
