"""show-run's standard-library path (LiteUnitOfWork) against the SQLAlchemy unit of work."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.cli import data
from dispatcher.config import Settings
from dispatcher.db.engine import make_engine
from dispatcher.db.lite import LiteUnitOfWork
from dispatcher.db.ports import RunReadingUnit
from dispatcher.db.unit_of_work import SqlUnitOfWork
from dispatcher.domain.errors import DatabaseBusy, NotFound
from dispatcher.services.review import show_run
from tests.conftest import FIXED_NOW, Cli

LATER = datetime(2026, 1, 14, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def demo_db(cli: Cli, db_path: Path, tmp_path: Path) -> Path:
    assert cli("demo", "--files", str(tmp_path / "files")).exit_code == 0
    return db_path


def _units(db: Path) -> tuple[SqlUnitOfWork, LiteUnitOfWork]:
    engine = make_engine(Settings(db=str(db)).url)
    orm = SqlUnitOfWork(engine, "LTS", "WIEN", lambda: FIXED_NOW, write=True)
    return orm, LiteUnitOfWork(db, "LTS", "WIEN", lambda: FIXED_NOW, write=True)


@pytest.mark.parametrize(
    ("run_id", "version"),
    [("RUN-20260105-001", None), ("RUN-20260112-001", None), ("RUN-20260112-002", 1)],
)
def test_both_paths_show_the_same_run(demo_db: Path, run_id: str, version: int | None) -> None:
    orm, lite = _units(demo_db)
    by_orm = data.run_detail(show_run(orm, run_id, version))
    by_lite = data.run_detail(show_run(lite, run_id, version))
    assert by_lite == by_orm
    assert by_lite["run_id"] == run_id and len(by_lite["audits"]) == 7


def test_both_paths_see_a_tampered_assignment(demo_db: Path) -> None:
    with closing(sqlite3.connect(demo_db)) as con:
        con.execute(
            "UPDATE assignments SET driver_id = 'D001' WHERE rowid = "
            "(SELECT a.rowid FROM assignments a JOIN plan_versions p ON p.id = a.version_pk "
            " JOIN runs r ON r.id = p.run_pk WHERE r.run_id = 'RUN-20260112-002' "
            " AND a.driver_id <> 'D001' LIMIT 1)"
        )
        con.commit()
    for unit in _units(demo_db):
        detail = show_run(unit, "RUN-20260112-002")
        assert detail.status == "FAIL" and not detail.evidence_ok


def test_the_verification_stamp_reads_back_through_the_orm(demo_db: Path) -> None:
    orm, _ = _units(demo_db)
    lite = LiteUnitOfWork(demo_db, "LTS", "WIEN", lambda: LATER, write=True)
    show_run(lite, "RUN-20260112-002")
    with orm:
        run = orm.runs.get("RUN-20260112-002")
        assert run is not None
        version = orm.runs.version(run, 1)
    assert version is not None and version.verified_at == LATER


def test_unknown_run_and_other_site(demo_db: Path) -> None:
    unit: RunReadingUnit = LiteUnitOfWork(demo_db, "LTS", "WIEN", lambda: FIXED_NOW, write=True)
    with pytest.raises(NotFound, match="Run RUN-20990101-001 not found"):
        show_run(unit, "RUN-20990101-001")
    elsewhere = LiteUnitOfWork(demo_db, "LTS", "GRAZ", lambda: FIXED_NOW, write=True)
    with pytest.raises(NotFound):
        show_run(elsewhere, "RUN-20260112-002")


def test_a_busy_database_is_a_one_line_error(demo_db: Path) -> None:
    with closing(sqlite3.connect(demo_db, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        unit = LiteUnitOfWork(
            demo_db, "LTS", "WIEN", lambda: FIXED_NOW, write=True, busy_timeout_ms=50
        )
        with pytest.raises(DatabaseBusy, match="Database is busy"):
            show_run(unit, "RUN-20260112-002")
        writer.execute("ROLLBACK")
    assert show_run(unit, "RUN-20260112-002").status == "PASS"
