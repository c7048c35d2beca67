"""Shared pieces of the reliability suites: sizes, the installed script, database templates and
the consistency check every run of a suite must pass."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.services.audit import verify_chains
from dispatcher.services.state import verify_state

SCRIPT = Path(sys.executable).parent / "dispatcher"
FULL = os.environ.get("DISPATCHER_STRESS") == "full"
NOW = "2026-01-13T05:30:00Z"  # Tuesday 06:30 in Vienna, the demo week


def size(reduced: int, full: int) -> int:
    """`make test` runs the reduced size, `make stress` (DISPATCHER_STRESS=full) the full one."""
    return full if FULL else reduced


def env(db: Path) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))
    }
    clean.update(
        DISPATCHER_DB=str(db),
        DISPATCHER_NOW=NOW,
        NO_COLOR="1",
        COLUMNS="120",
        XDG_CACHE_HOME=str(db.parent / "cache"),
    )
    return clean


def run(db: Path, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=env(db), capture_output=True, text=True, timeout=300
    )


def must(db: Path, args: Sequence[str]) -> str:
    done = run(db, args)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy (WAL included) through SQLite's backup API."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def record(name: str, **figures: object) -> None:
    """Append a line of figures for docs/reliability.md when DISPATCHER_STRESS_REPORT is set."""
    report = os.environ.get("DISPATCHER_STRESS_REPORT")
    if report:
        fields = " ".join(f"{key}={value}" for key, value in figures.items())
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"{name}\t{fields}\n")


def _pairs(con: sqlite3.Connection, sql: str) -> set[tuple[str, int]]:
    return {(str(a), int(b)) for a, b in con.execute(sql)}


def consistency_problems(db: Path) -> list[str]:
    """Everything that would show a half-done command: integrity, the chain, and every stored
    state change matched one to one by its allowed audit event (and approval)."""
    problems = []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            return [f"integrity: {integrity}"]
        events = "FROM audit_events WHERE outcome = 'allowed' AND action = '{}'"
        checks = {
            "imports": (
                "SELECT run_id, 1 FROM runs",
                "SELECT run_id, 1 "
                + events.format("run.import")
                + " UNION SELECT run_id, 1 "
                + events.format("run.solve"),
            ),
            "publish approvals": (
                "SELECT r.run_id, a.version FROM approvals a JOIN runs r ON r.id = a.run_pk "
                "WHERE a.action = 'publish'",
                "SELECT run_id, plan_version " + events.format("publish"),
            ),
            "locks": (
                "SELECT r.run_id, a.version FROM approvals a JOIN runs r ON r.id = a.run_pk "
                "WHERE a.action = 'lock'",
                "SELECT run_id, plan_version " + events.format("lock"),
            ),
            "repairs applied": (
                "SELECT r.run_id, p.version FROM plan_versions p JOIN runs r ON r.id = p.run_pk "
                "WHERE p.origin = 'repair'",
                "SELECT run_id, plan_version " + events.format("repair.apply"),
            ),
            "requests applied": (
                "SELECT r.run_id, q.applied_version FROM repair_requests q "
                "JOIN runs r ON r.id = q.run_pk WHERE q.status = 'APPLIED'",
                "SELECT run_id, plan_version " + events.format("repair.apply"),
            ),
        }
        for name, (state_sql, event_sql) in checks.items():
            state, logged = _pairs(con, state_sql), _pairs(con, event_sql)
            if state != logged:
                problems.append(f"{name}: stored {sorted(state)} vs logged {sorted(logged)}")
        gaps = con.execute(
            "SELECT run_pk FROM plan_versions GROUP BY run_pk "
            "HAVING MIN(version) <> 1 OR MAX(version) <> COUNT(*)"
        ).fetchall()
        if gaps:
            problems.append(f"plan versions not 1..n for runs {gaps}")
        scopes = con.execute("SELECT tenant_id, site_id FROM sites").fetchall()
    for tenant, site in scopes:
        engine = make_engine(sqlite_url(db))
        for (chain_tenant, chain_site), report in verify_chains(
            UnitOfWork(engine, tenant, site, write=False)
        ):
            if not report.ok:
                problems.append(
                    f"chain {chain_tenant}/{chain_site}: seq {report.broken_seq} {report.problem}"
                )
        folded = verify_state(UnitOfWork(engine, tenant, site, write=False))
        problems += [f"state {tenant}/{site}: {p.line}" for p in folded.problems]
        engine.dispose()
    return problems
