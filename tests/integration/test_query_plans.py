"""The reads every command makes on start are index searches, never scans of growing tables.

`status`, `list-runs`, TAB completion, `show-run`'s lookups and each write's chain tip must cost
the same with 100 runs or 10,000 and with a thousand events or a million (`make bench` shows
the timings); here SQLite's own query plans prove it, table by table, without timing anything.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from dispatcher.cli.completion import REQUEST_ID_SQL, RUN_ID_SQL
from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from tests.conftest import FIXED_NOW

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
ALIAS = re.compile(r"(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?(?!WHERE|ON|JOIN|ORDER|LEFT|AND)(\w+)", re.I)


def scanned(sql: str, plan: list[str]) -> list[str]:
    """Tables the plan reads whole: `SCAN t`, or `SEARCH t` without an index."""
    aliases = {alias: table for table, alias in ALIAS.findall(sql)}
    tables = []
    for step in plan:
        words = step.split()
        if words[0] == "SCAN" or (words[0] == "SEARCH" and "USING" not in words):
            tables.append(aliases.get(words[1], words[1]))
    return tables


class PlanRecorder:
    """Notes, for every statement the repositories send, the tables SQLite's plan scans."""

    def __init__(self) -> None:
        self.scans: list[tuple[str, str]] = []
        self.plans: list[tuple[str, list[str]]] = []
        self.statements = 0

    def before(
        self, conn: Any, cursor: sqlite3.Cursor, sql: str, params: Any, _c: Any, many: bool
    ) -> None:
        if many or not sql.lstrip().upper().startswith("SELECT"):
            return
        self.statements += 1
        plan = conn.connection.dbapi_connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        steps = [row[-1] for row in plan]
        self.plans.append((sql, steps))
        self.scans += [(table, sql) for table in scanned(sql, steps)]


@pytest.fixture
def unit(db_path: Path) -> Iterator[tuple[UnitOfWork, PlanRecorder]]:
    engine = make_engine(sqlite_url(db_path))
    recorder = PlanRecorder()
    event.listen(engine, "before_cursor_execute", recorder.before)
    with UnitOfWork(engine, "LTS", "WIEN", lambda: FIXED_NOW, write=False) as uow:
        yield uow, recorder
    engine.dispose()


def test_status_list_runs_and_lookups_search_indexes(
    unit: tuple[UnitOfWork, PlanRecorder],
) -> None:
    uow, recorder = unit
    uow.queries.list_runs()
    uow.queries.list_runs(week="2026-W03", status="PASS")
    uow.queries.kill_switch()
    uow.queries.site_flags()
    uow.queries.open_repairs()
    uow.queries.open_repairs(week="2026-W03")
    uow.queries.events()
    uow.queries.events(run_id="RUN-20260112-001", action="publish")
    uow.runs.get("RUN-20260112-001")
    uow.runs.latest_locked(before_week="2026-W03")
    uow.runs.latest_locked(week="2026-W02")
    uow.runs.next_run_id("20260112")
    uow.users.get("disp001")
    uow.kill_switch.is_active("site")
    uow.audit_log.tip()
    assert recorder.statements >= 15
    growing = [(table, sql) for table, sql in recorder.scans if table in GROWING]
    assert growing == []


def test_the_gates_reads_of_a_chain_search_its_actions_not_walk_the_chain(
    unit: tuple[UnitOfWork, PlanRecorder],
) -> None:
    """Every decision proves its facts with these reads (services/trail.py). Searched by the
    chain alone (its primary key's prefix, in seq order), each walked every event of the chain:
    230 ms per read at 300,000 events, five seconds for a publish at a million."""
    from dispatcher.domain.trail import (
        DECISION_ACTIONS,
        KILL_SWITCH_ACTIONS,
        SETTINGS_ACTIONS,
        USER_ACTIONS,
    )

    uow, recorder = unit
    uow.audit_log.latest(SETTINGS_ACTIONS)
    uow.audit_log.allowed(KILL_SWITCH_ACTIONS)
    uow.audit_log.allowed(DECISION_ACTIONS, run_id="RUN-20260112-001")
    uow.tenant_log.allowed(USER_ACTIONS, after=1)
    uow.platform_log.allowed(KILL_SWITCH_ACTIONS)
    searches = [step for sql, steps in recorder.plans for step in steps if "audit_events" in step]
    assert len(searches) == 5
    walked = [step for step in searches if step.endswith("(tenant_id=? AND site_id=?)")]
    assert walked == [], walked


@pytest.mark.parametrize("sql", [RUN_ID_SQL, REQUEST_ID_SQL], ids=["runs", "repairs"])
def test_completion_searches_indexes(db_path: Path, sql: str) -> None:
    with closing(sqlite3.connect(db_path)) as con:
        plan = [row[-1] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", ("LTS", "WIEN", "R%"))]
    assert plan and scanned(sql, plan) == [], plan
