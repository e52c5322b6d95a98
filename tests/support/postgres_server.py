"""A throw-away PostgreSQL cluster (Debian's postgresql-15) on a free loopback port: for the tests
(tests/support/postgres.py wraps it in fixtures) and for the benches (bench/fleet.py --store postgresql).

initdb and postgres refuse to run as root, and CI runs as root: as root the cluster belongs to the `postgres` user
the Debian package creates (the commands run through subprocess's user/group switch: no `su`, no password),
otherwise to whoever runs the tests. Its data directory, socket and log live in one temporary folder in /tmp that
user owns, removed by stop().

The postmaster is this process's own child, not started through pg_ctl: pg_ctl daemonises it (its parent becomes
PID 1), and after a kill -9 its zombie keeps the pid in postmaster.pid alive until PID 1 gets round to reaping it
(1.6 s on this machine; never under some container inits), so the next start refuses with "lock file already
exists". A child of ours is reaped at once, and restart() after kill9() is immediate.

Settings: PostgreSQL's defaults for everything durability depends on (fsync, synchronous_commit, full_page_writes,
wal_sync_method stay as shipped), so a test that claims "committed survives kill -9" tests what production runs.
Changed, and why: listen_addresses = 127.0.0.1 and a port of our own (tests use loopback only, several clusters side
by side), unix_socket_directories = the temporary folder (not /var/run/postgresql, which belongs to the system's
cluster), max_connections = 200 (several aggregators beside the tests). Logins need the cluster's random password
(scram-sha-256): the port is reachable by every local user of a shared machine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.net import free_port, wait_port

PG_BIN = "/usr/lib/postgresql/15/bin"  # Debian 12's postgresql-15; VAXKIOSK_PG_BIN names another
SUPERUSER = "vaxkiosk"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
}


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing (not a skip: the project's Makefile installs them)."""


def _binaries() -> tuple[Path, Path]:
    bin_dir = Path(os.environ.get("VAXKIOSK_PG_BIN", PG_BIN))
    initdb, postgres = bin_dir / "initdb", bin_dir / "postgres"
    missing = [str(p) for p in (initdb, postgres) if not os.access(p, os.X_OK)]
    if missing:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found: {', '.join(missing)}. Install Debian's `postgresql` package "
            f"(`make system-deps` does), or point VAXKIOSK_PG_BIN at the directory holding initdb and postgres.")
    return initdb, postgres


def _owner() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root, and there is no `postgres` user to own the cluster (Debian's "
                                  "postgresql package creates it)") from None


class PostgresServer:
    def __init__(self, port: int | None = None):
        self.initdb, self.postgres = _binaries()
        self.owner = _owner()
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(18)
        # In /tmp itself, not under a root-only temporary folder: the owner must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="vaxkiosk-pg-", dir="/tmp"))
        os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._initialised = False
        self.proc: subprocess.Popen | None = None

    # -- running commands as the cluster's owner --------------------------------------------------------------
    def _as_owner(self) -> dict:
        """subprocess arguments that run a command as the cluster's owner, in its folder, with a plain
        environment."""
        owner = {}
        if os.geteuid() == 0:
            owner = {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LC_ALL": "C.UTF-8",
               "TZ": "UTC"}
        return {**owner, "env": env, "cwd": self.root}

    def _run(self, *args: str | os.PathLike, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                              **self._as_owner())
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(str(args[0])).name} failed ({proc.returncode}): {proc.stderr.strip()}\n"
                               f"{proc.stdout.strip()}")
        return proc

    def _init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.owner.pw_uid, self.owner.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run(self.initdb, "-D", self.data, "-U", SUPERUSER, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
        finally:
            pwfile.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# vaxkiosk test cluster (tests/support/postgres_server.py)\n")
            for key, value in {**SETTINGS, "port": str(self.port),
                               "unix_socket_directories": f"'{self.root}'"}.items():
                conf.write(f"{key} = {value}\n")
        self._initialised = True

    # -- life cycle --------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "PostgresServer":
        if not self._initialised:
            self._init()
        if self.running:
            raise RuntimeError("the server is already running")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(self.postgres), "-D", str(self.data)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, **self._as_owner())
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.proc.returncode}) while starting:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready after {timeout} s:\n{self._log_tail()}")
            time.sleep(0.02)
        wait_port(self.port, timeout=10)
        return self

    def _ready(self) -> bool:
        # postmaster.pid line 8 is the postmaster's status: "ready" once it accepts connections (what pg_ctl -w
        # waits for).
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.proc.pid) and lines[7].strip() == "ready"

    def stop(self, remove: bool = True) -> None:
        """Fast shutdown (SIGINT: sessions are ended, a shutdown checkpoint written); `remove` deletes the cluster."""
        if self.running:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        """A clean restart (fast shutdown, start): what a maintenance window or a failover drill does."""
        self.stop(remove=False)
        self.start()

    def kill9(self, timeout: float = 20) -> None:
        """SIGKILL the postmaster, as a power cut or the OOM killer would, and wait until every one of its
        processes is gone (a backend still attached to the shared memory would stop the next start). The cluster is
        left down: start() brings it back through crash recovery."""
        if not self.running:
            raise RuntimeError("the server is not running")
        children = _children(self.proc.pid)
        self.proc.kill()
        self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        # Backends notice the postmaster's death and exit by themselves; make sure before the next start.
        while time.monotonic() < deadline and any(_alive(p) for p in children):
            time.sleep(0.05)
        stragglers = [p for p in children if _alive(p)]
        if stragglers:
            raise RuntimeError(f"PostgreSQL processes {stragglers} outlived their postmaster by {timeout} s")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        return self.proc.pid if self.running else None

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    # -- databases ---------------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(self.url(database), **kwargs)

    def create_database(self, name: str | None = None, template: str = "template1") -> str:
        """A new empty database (a copy of `template`, which is fast); returns its name."""
        from psycopg import sql

        name = name or f"t_{secrets.token_hex(6)}"
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                          sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
    return out
