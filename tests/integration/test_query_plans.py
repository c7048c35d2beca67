"""The reads every command makes on start are index searches, never scans of growing tables.

`status`, `list-runs`, TAB completion, `show-run`'s lookups and each write's chain tip must cost
the same with 100 runs or 10,000 and with a thousand events or a million (`make bench` shows
the timings); here SQLite's own query plans prove it, table by table, without timing anything.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from dispatcher.cli.completion import REQUEST_ID_SQL, RUN_ID_SQL
from dispatcher.db.queries import ReadQueries
from dispatcher.db.repositories import AuditLog, KillSwitchLog, RunRepository, UserRepository
from dispatcher.db.sql import SqliteSql

GROWING = {
    "runs",
    "plan_versions",
    "approvals",
    "repair_requests",
    "audit_events",
    "assignments",
    "tour_instances",
    "audit_results",
    "evidence_records",
    "users",
}


ALIAS = re.compile(r"(?:FROM|JOIN)\s+(\w+)\s+(?!WHERE|ON|JOIN|ORDER|LEFT|AND)(\w+)", re.I)


class PlanRecorder(SqliteSql):
    """Runs every statement, after noting the tables SQLite's plan would scan for it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self.connection = connection
        self.scans: list[tuple[str, str]] = []
        self.statements = 0

    def rows(self, sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        self.statements += 1
        plan = self.connection.execute(f"EXPLAIN QUERY PLAN {sql}", dict(params))
        self.scans += [(table, sql) for table in scanned(sql, [row[-1] for row in plan])]
        return super().rows(sql, params)


def scanned(sql: str, plan: list[str]) -> list[str]:
    """Tables the plan reads whole: `SCAN t`, or `SEARCH t` without an index."""
    aliases = {alias: table for table, alias in ALIAS.findall(sql)}
    tables = []
    for step in plan:
        words = step.split()
        if words[0] == "SCAN" or (words[0] == "SEARCH" and "USING" not in words):
            tables.append(aliases.get(words[1], words[1]))
    return tables


@pytest.fixture
def recorder(db_path: Path) -> PlanRecorder:
    return PlanRecorder(sqlite3.connect(db_path))


def test_status_list_runs_and_lookups_search_indexes(recorder: PlanRecorder) -> None:
    scope = ("LTS", "WIEN")
    queries = ReadQueries(recorder.rows, scope)
    queries.list_runs()
    queries.list_runs(week="2026-W03", status="PASS")
    queries.kill_switch()
    queries.site_flags()
    queries.open_repairs()
    queries.open_repairs(week="2026-W03")
    queries.events()
    queries.events(run_id="RUN-20260112-001", action="publish")
    runs = RunRepository(recorder, scope)
    runs.get("RUN-20260112-001")
    runs.latest_locked(before_week="2026-W03")
    runs.latest_locked(week="2026-W02")
    runs.next_run_id("20260112")
    UserRepository(recorder, scope).get("disp001")
    KillSwitchLog(recorder, scope).is_active("site")
    AuditLog(recorder, scope).tip()
    assert recorder.statements >= 15
    growing = [(table, sql) for table, sql in recorder.scans if table in GROWING]
    assert growing == []


@pytest.mark.parametrize("sql", [RUN_ID_SQL, REQUEST_ID_SQL], ids=["runs", "repairs"])
def test_completion_searches_indexes(db_path: Path, sql: str) -> None:
    with closing(sqlite3.connect(db_path)) as con:
        plan = [row[-1] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", ("LTS", "WIEN", "R%"))]
    assert plan and scanned(sql, plan) == [], plan
