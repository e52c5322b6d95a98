"""The PostgreSQL the tests and benches start (tests/support/postgres_server.py) is a real, durable server: it runs
as an unprivileged user, answers only on loopback with a password, gives each test its own database, and what was
committed before a kill -9 of the postmaster is there after the restart, while what was not committed is not.

A kill -9 leaves the kernel's page cache intact: these tests prove crash recovery (WAL replay), not survival of a
power cut. fsync stays on all the same, as the fault tests of central must run against production settings."""

from __future__ import annotations

import os
import pwd
import subprocess

import psycopg
import pytest

from tests.support.postgres_server import PostgresServer, PostgresUnavailable


def test_a_database_per_test_on_loopback_with_a_password(postgres, postgres_url):
    with psycopg.connect(postgres_url) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', "
            "'full_page_writes', 'listen_addresses', 'port')").fetchall())
        conn.execute("CREATE TABLE t (id text PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('a')")
        conn.commit()
        assert conn.execute("SELECT current_database()").fetchone()[0] == postgres_url.rsplit("/", 1)[1]
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                        "listen_addresses": "127.0.0.1", "port": str(postgres.port)}
    # Not root, and not reachable without the cluster's password.
    owner = pwd.getpwuid(os.stat(postgres.data).st_uid).pw_name
    assert owner != "root" and os.stat(f"/proc/{postgres.pid}").st_uid != 0
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_url.replace(postgres.password, "wrong"))


def test_each_test_gets_an_empty_database(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0  # the table of the test above is in another database


def test_committed_rows_survive_kill9_and_uncommitted_do_not(postgres_private):
    server = postgres_private
    url = server.url(server.create_database())
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE records (record_id text PRIMARY KEY)")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(300):  # one commit each: the last returns just before the kill
            conn.execute("INSERT INTO records VALUES (%s)", (f"r{i}",))
    open_tx = psycopg.connect(url)
    open_tx.execute("INSERT INTO records VALUES ('never-committed')")
    old_pid = server.pid

    server.kill9()
    with pytest.raises(psycopg.OperationalError):
        open_tx.execute("SELECT 1")
    server.start()  # crash recovery

    assert server.pid != old_pid
    with psycopg.connect(url) as conn:
        ids = {r[0] for r in conn.execute("SELECT record_id FROM records")}
    assert ids == {f"r{i}" for i in range(300)}
    assert "database system was not properly shut down; automatic recovery in progress" in server.log.read_text()


def test_clean_restart_keeps_data_and_ends_sessions(postgres_private):
    server = postgres_private
    url = server.url(server.create_database())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    idle = psycopg.connect(url)
    server.restart()
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_stop_removes_the_cluster():
    server = PostgresServer().start()
    root, pid = server.root, server.pid
    server.stop()
    assert not root.exists() and not os.path.exists(f"/proc/{pid}")  # stopped and reaped


def test_missing_binaries_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("VAXKIOSK_PG_BIN", str(tmp_path))
    with pytest.raises(PostgresUnavailable, match="Install Debian's `postgresql` package"):
        PostgresServer()


def test_another_local_user_reaches_the_port_but_not_the_data(postgres):
    """A stranger on the machine (as root, as CI runs: the `nobody` account) connects without the password."""
    as_stranger = {"user": "nobody"} if os.geteuid() == 0 else {}
    proc = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "vaxkiosk", "-w",
                           "-c", "SELECT 1", "postgres"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, timeout=30, **as_stranger)
    assert proc.returncode != 0 and "password" in proc.stderr
