"""The insider round: random direct writes to every state table, first with the database's
guards in place (each must be refused), then with them dropped (each must be caught by `audit
verify`, chains and `--state`, which every gate's proof is a part of).

A mutation changes one value of one row (by the column's declared type, so that the change is
real: a flag flips, a number moves, a text or JSON document changes), deletes a row, or inserts a
copy of a row under a new key. Columns that only say when something was stored (`created_at`
and the like), and the cache of last verifications, are not bound to the trail by design
(docs/security.md) and are left out.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Boolean, Integer

from dispatcher.db import tables
from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.services.audit import verify_chains
from dispatcher.services.state import verify_state

# Columns that say when or how long (informational; the event's own time is the trail's), and
# surrogate keys nothing refers to: not bound to the trail, by design.
UNBOUND = {"created_at", "changed_at", "updated_at", "set_at", "runtime_ms", "solver_meta"}
FACTLESS = {("repair_requests", "id"), ("approvals", "id"), ("kill_switch_history", "id")}
TABLES = [
    "tenants", "sites", "site_settings", "users", "runs", "tour_instances", "drivers",
    "availability", "plan_versions", "assignments", "audit_results", "evidence_records",
    "repair_request_ids", "repair_requests", "approvals", "kill_switch_history", "audit_events",
    "database_flags",
]  # fmt: skip
NOT_WRITABLE = {"site_logins", "version_checks"}  # the DBA's bindings; a cache no gate trusts


@dataclass(frozen=True)
class Attempt:
    table: str
    kind: str  # update <column> | delete | insert
    statement: str
    parameters: tuple[object, ...]


def _quote(name: str) -> str:
    return f'"{name}"'


def _changed(value: object, column: str, rng: random.Random, is_bool: bool) -> object:
    if is_bool:
        return 0 if value else 1
    if isinstance(value, int):
        return value + rng.choice((1, -1, 7, 60))
    if value is None:
        return rng.choice(("X", 1))
    text = str(value)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict | list) and text.strip():
        return json.dumps(_tweaked(document, rng), sort_keys=True, separators=(",", ":"))
    if column in ("roles", "publish_roles", "lock_roles", "repair_roles"):
        return "platform_admin" if text != "platform_admin" else "dispatcher"
    return text + rng.choice(("X", "1", "-"))


def _tweaked(document: object, rng: random.Random) -> object:
    """The JSON document with one leaf changed (or an entry added where there is none)."""
    if isinstance(document, dict):
        if not document:
            return {"planted": 1}
        key = rng.choice(sorted(document))
        return {**document, key: _tweaked(document[key], rng)}
    if isinstance(document, list):
        if not document:
            return ["planted"]
        index = rng.randrange(len(document))
        return [*document[:index], _tweaked(document[index], rng), *document[index + 1 :]]
    if isinstance(document, bool):
        return not document
    if isinstance(document, int):
        return document + 1
    if document is None:
        return "planted"
    return f"{document}X"


def random_attempt(db: Path, rng: random.Random) -> Attempt | None:
    """One change to a random row of a random state table (None if it has no rows)."""
    table_name = rng.choice(TABLES)
    table = tables.metadata.tables[table_name]
    with closing(sqlite3.connect(db)) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute(f"SELECT rowid AS _rowid, * FROM {table_name}").fetchall()
    if not rows:
        return None
    row = rng.choice(rows)
    kind = rng.choices(("update", "delete", "insert"), weights=(6, 2, 2))[0]
    if kind == "delete":
        return Attempt(table_name, "delete", f"DELETE FROM {table_name} WHERE rowid = ?",
                       (row["_rowid"],))  # fmt: skip
    columns = [
        c for c in table.columns if c.name not in UNBOUND and (table_name, c.name) not in FACTLESS
    ]
    if kind == "insert":
        values = {c.name: row[c.name] for c in table.columns}
        keys = [c for c in table.primary_key.columns if c.autoincrement is not True]
        key = rng.choice(keys or columns)
        values[key.name] = _changed(values[key.name], key.name, rng, isinstance(key.type, Boolean))
        for c in table.primary_key.columns:
            if c.autoincrement is True and isinstance(c.type, Integer):
                values.pop(c.name, None)  # a new id
        names = ", ".join(_quote(n) for n in values)
        marks = ", ".join("?" for _ in values)
        return Attempt(table_name, f"insert {key.name}",
                       f"INSERT INTO {table_name} ({names}) VALUES ({marks})",
                       tuple(values.values()))  # fmt: skip
    column = rng.choice(columns)
    new = _changed(row[column.name], column.name, rng, isinstance(column.type, Boolean))
    return Attempt(table_name, f"update {column.name}",
                   f"UPDATE {table_name} SET {_quote(column.name)} = ? WHERE rowid = ?",
                   (new, row["_rowid"]))  # fmt: skip


def refused_with_guards(db: Path, attempt: Attempt) -> bool:
    with closing(sqlite3.connect(db)) as con:
        try:
            con.execute(attempt.statement, attempt.parameters)
        except sqlite3.DatabaseError:
            return True
        con.rollback()
    return False


def apply_without_guards(db: Path, attempt: Attempt) -> int:
    """The write with every trigger dropped; how many rows it changed (0: not a change)."""
    with closing(sqlite3.connect(db)) as con:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            con.execute(f"DROP TRIGGER {name}")
        try:
            cursor = con.execute(attempt.statement, attempt.parameters)
        except sqlite3.DatabaseError:
            return 0  # refused by a constraint of the schema itself (a key, a foreign key)
        con.commit()
        return cursor.rowcount


def noticed(db: Path, sites: list[tuple[str, str]]) -> list[str]:
    """What `audit verify --state` reports for every site (chains and state)."""
    engine = make_engine(sqlite_url(db))
    found: list[str] = []
    try:
        for tenant, site in sites:
            for chain, report in verify_chains(UnitOfWork(engine, tenant, site, write=False)):
                if not report.ok:
                    found.append(f"chain {chain}: seq {report.broken_seq} {report.problem}")
            state = verify_state(UnitOfWork(engine, tenant, site, write=False))
            found += [p.line for p in state.problems]
    except Exception as exc:  # a state so broken that reading it fails is noticed too
        found.append(f"reading the database failed: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
    return found


Copy = Callable[[Path, Path], None]


@dataclass
class Tally:
    attempts: int = 0
    prevented: int = 0
    detected: int = 0
    unnoticed: int = 0
    no_change: int = 0
