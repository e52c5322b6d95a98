"""Each table of kiosk.db, central.db and ops.db has one owner module, and only the owner writes SQL that names it
(INSERT INTO, UPDATE, DELETE FROM, FROM, JOIN, or sqlite-utils' db["table"]): a module that needs another table's
rows calls its owner's function. The list is docs/architecture.md's ("Who owns each table"), read from there and held
to the migrations and to every module's SQL here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

DATABASES = ("kiosk.db", "central.db", "ops.db")


def owners_in_the_doc() -> dict[str, dict[str, tuple[str, ...]]]:
    """docs/architecture.md's "Who owns each table": database → {table: its owner modules}. The doc is the one list."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## Who owns each table", 1)[1].split("\n## ", 1)[0]
    owners: dict[str, dict[str, tuple[str, ...]]] = {database: {} for database in DATABASES}
    for table, listed, databases in re.findall(r"^\| `(\w+)` \| ((?:`[\w/.]+`(?:, )?)+) \| ([^|]+) \|", section, re.M):
        owner = tuple(re.findall(r"`([\w/.]+)`", listed))
        named = DATABASES if databases.strip() == "every database" else [d.strip() for d in databases.split(",")]
        for database in named:
            owners[database][table] = owner
    return owners


OWNERS = owners_in_the_doc()
PACKAGES = ("base", "drivers", "kiosk", "central", "provisioning", "devtools")
# SQL is written with upper-case keywords here (prose that says "from kiosks" is not a query).
SQL_NAMING = re.compile(r"\b(?:INSERT\s+(?:OR\s+[A-Z]+\s+)?INTO|UPDATE|DELETE\s+FROM|FROM|JOIN)\s+([a-z_]\w*)")
# Migrations (schema text) are the store modules' business; they are not reads or writes of a table.
SCHEMA_TEXT = re.compile(r"\b(?:CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)|ALTER\s+TABLE|DROP\s+TABLE)\b", re.I)


def migrations() -> dict[str, list[tuple[str, str]]]:
    from central.ops_store import OPS_MIGRATIONS
    from central.store import MIGRATIONS as CENTRAL
    from kiosk.store import MIGRATIONS as KIOSK

    return {"kiosk.db": KIOSK, "central.db": CENTRAL, "ops.db": OPS_MIGRATIONS}


def tables_after(steps: list[tuple[str, str]]) -> set[str]:
    """The tables a database has once these migrations ran (created, renamed, dropped in order)."""
    tables = {"schema_migrations"}
    statement = re.compile(r"CREATE\s+TABLE\s+(\w+)|DROP\s+TABLE\s+(\w+)|ALTER\s+TABLE\s+(\w+)\s+RENAME\s+TO\s+(\w+)",
                           re.I)
    for _name, sql in steps:
        sql = sql["sqlite"] if isinstance(sql, dict) else sql  # a migration given per engine: SQLite's names it
        for created, dropped, old, new in statement.findall(sql):
            if created:
                tables.add(created)
            elif dropped:
                tables.discard(dropped)
            else:
                tables.discard(old)
                tables.add(new)
    return tables


def strings_in(tree: ast.AST):
    """(line, text) of every string literal, f-strings' literal parts included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def tables_named(path: Path, tables: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    named = []
    for line, text in strings_in(tree):
        if SCHEMA_TEXT.search(text):
            continue
        named += [(line, t) for t in SQL_NAMING.findall(text) if t in tables]
    for node in ast.walk(tree):  # sqlite-utils: db["print_jobs"].insert(...)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in tables:
            target = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
            if target == "db":
                named.append((node.lineno, node.slice.value))
    return named


def owner_of(table: str) -> set[str]:
    return {owner for owners in OWNERS.values() if table in owners for owner in owners[table]}


def sql_outside_owners(root: Path = ROOT) -> list[str]:
    tables = set().union(*OWNERS.values())
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = str(path.relative_to(root))
            for line, table in sorted(tables_named(path, tables)):
                if module not in owner_of(table):
                    found.append(f"{module}:{line} names {table} (owner: {', '.join(sorted(owner_of(table)))})")
    return found


@pytest.mark.parametrize("database", sorted(OWNERS))
def test_every_table_has_exactly_the_owners_listed(database):
    assert tables_after(migrations()[database]) == set(OWNERS[database])


def test_only_a_tables_owner_writes_sql_naming_it():
    assert sql_outside_owners() == []


def test_the_rule_sees_sql_in_fstrings_and_sqlite_utils(tmp_path):
    (tmp_path / "kiosk").mkdir()
    (tmp_path / "kiosk" / "probe.py").write_text(
        'def f(db, where):\n'
        '    db.conn.execute(f"SELECT n FROM tickets WHERE {where}")\n'
        '    db["print_jobs"].insert({})\n'
        '    db.conn.execute("UPDATE outbox SET attempts = 0")\n'
        '    db.conn.execute("CREATE TABLE checkins (id TEXT)")\n', encoding="utf-8")
    assert sql_outside_owners(tmp_path) == [
        "kiosk/probe.py:2 names tickets (owner: kiosk/checkin.py)",
        "kiosk/probe.py:3 names print_jobs (owner: kiosk/printing/jobs.py)",
        "kiosk/probe.py:4 names outbox (owner: kiosk/outbox.py)",
    ]
