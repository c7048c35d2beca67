"""The unit of work on a real SQLite file: scope, the verification stamp, a busy database."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import DatabaseBusy, NotFound
from dispatcher.services.review import show_run
from tests.conftest import FIXED_NOW, Cli

LATER = datetime(2026, 1, 14, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def demo_db(cli: Cli, db_path: Path, tmp_path: Path) -> Path:
    assert cli("demo", "--files", str(tmp_path / "files")).exit_code == 0
    return db_path


def _unit(
    db: Path, *, site: str = "WIEN", at: datetime = FIXED_NOW, busy_ms: int = 5000
) -> UnitOfWork:
    engine = make_engine(sqlite_url(db), busy_timeout_ms=busy_ms)
    return UnitOfWork(engine, "LTS", site, lambda: at, write=True)


def test_the_verification_stamp_reads_back(demo_db: Path) -> None:
    show_run(_unit(demo_db, at=LATER), "RUN-20260112-002")
    with _unit(demo_db) as uow:
        run = uow.runs.get("RUN-20260112-002")
        assert run is not None
        version = uow.runs.version(run, 1)
    assert version is not None and version.verified_at == LATER


def test_unknown_run_and_other_site(demo_db: Path) -> None:
    with pytest.raises(NotFound, match="Run RUN-20990101-001 not found"):
        show_run(_unit(demo_db), "RUN-20990101-001")
    with pytest.raises(NotFound):
        show_run(_unit(demo_db, site="GRAZ"), "RUN-20260112-002")


def test_a_busy_database_is_a_one_line_error(demo_db: Path) -> None:
    with closing(sqlite3.connect(demo_db, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        unit = _unit(demo_db, busy_ms=50)
        with pytest.raises(DatabaseBusy, match="Database is busy"):
            show_run(unit, "RUN-20260112-002")
        writer.execute("ROLLBACK")
    assert show_run(unit, "RUN-20260112-002").status == "PASS"


def test_a_file_name_with_uri_characters_is_that_file(tmp_path: Path) -> None:
    odd = tmp_path / "wien?mode=ro#1%20.db"
    engine = make_engine(sqlite_url(odd))
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
        connection.commit()
    engine.dispose()
    assert odd.is_file() and sorted(p.name for p in tmp_path.iterdir())[0].startswith("wien?")
