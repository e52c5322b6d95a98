"""pytest fixtures for a real PostgreSQL (the server itself: tests/support/postgres_server.py).

- `postgres`: one cluster for the whole session (initdb + start cost about a second, paid once).
- `postgres_url`: a fresh, empty database in it for one test (CREATE DATABASE from template1: a fraction of a
  second), dropped afterwards; the URL carries the password, as central.toml `[store] url` would.
- `postgres_private`: a cluster of the test's own, for fault tests (kill9(), restart()) that must not take the
  session's server down under the other tests.

Missing binaries fail the test with PostgresUnavailable (what to install), never a skip.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    if not postgres.running:
        raise RuntimeError("the session's PostgreSQL is down: an earlier test stopped it (fault tests use "
                           "postgres_private)")
    name = postgres.create_database()
    yield postgres.url(name)
    if postgres.running:
        postgres.drop_database(name)


@pytest.fixture
def postgres_private() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()
