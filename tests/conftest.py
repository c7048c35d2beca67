"""Shared fixtures: an isolated environment, a migrated template database, a CLI runner.

Tests that take `cli`, `settings` or `uow_factory` run twice, on SQLite and on a real
PostgreSQL server (as the non-owner application login, under row-level security). A test that
also takes `db_path`, or is marked `sqlite_only` (backup files, the stdlib fast path), handles
the SQLite file itself and runs on SQLite only; a test marked `postgres` runs on PostgreSQL only.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.config import Settings
from dispatcher.db.engine import make_engine
from dispatcher.db.migrate import upgrade_to_head
from dispatcher.db.unit_of_work import UnitOfWork
from tests.pgserver import APP_LOGIN, OWNER, PLATFORM_LOGIN, SCOPE, SUPERUSER, PgServer
from tests.samples import write_run

FIXED_NOW = datetime(2026, 1, 13, 8, 0, tzinfo=UTC)
FIXED_NOW_TEXT = "2026-01-13T08:00:00Z"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)  # test databases are created (simulated clock) then


def mark_simulated(url: str) -> None:
    """Record a fresh database's creation as a test database (DISPATCHER_NOW is honoured)."""
    from dispatcher.services.database import create_database

    engine = make_engine(url)
    create_database(
        UnitOfWork(
            engine, "LTS", "WIEN", lambda: CREATED, write=True, simulated=True, platform=True
        ),
        simulated=True,
    )
    engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database upgraded to head by Alembic; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    mark_simulated(f"sqlite:///{path}")
    with closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


PG_TEMPLATE = "dispatcher_template"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        sqlite_only = "db_path" in metafunc.fixturenames or any(
            metafunc.definition.iter_markers("sqlite_only")
        )
        postgres_only = any(metafunc.definition.iter_markers("postgres"))
        backends = [] if postgres_only else [pytest.param("sqlite")]
        if not sqlite_only:
            backends.append(pytest.param("postgres", marks=pytest.mark.postgres))
        metafunc.parametrize("backend", backends)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the session, with the roles of docs/deployment.md and a
    template database migrated to head by its owner; tests get copies."""
    server = PgServer()
    try:
        server.start()
        server.admin_sql(f"CREATE DATABASE {PG_TEMPLATE} OWNER {OWNER}")
        engine = make_engine(server.url(OWNER, PG_TEMPLATE))
        upgrade_to_head(engine)
        engine.dispose()
        mark_simulated(server.url(PLATFORM_LOGIN, PG_TEMPLATE))
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh database copied from the migrated template; its name."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE} OWNER {OWNER}")
    yield name
    wiring.reset()
    pg_server.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def db(backend: str, tmp_path: Path, template_db: Path, request: pytest.FixtureRequest) -> str:
    """The test's database as --db takes it: a SQLite file, or on PostgreSQL the platform
    admins' login (every command works there, as on a SQLite file; what a depot's own login
    may and may not do is tested with it in tests/integration/test_depot_login.py)."""
    if backend == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        return server.url(PLATFORM_LOGIN, request.getfixturevalue("pg_database"))
    path = tmp_path / "dispatcher.db"
    shutil.copyfile(template_db, path)
    return str(path)


@pytest.fixture
def db_path(db: str, backend: str) -> Path:
    assert backend == "sqlite"
    return Path(db)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's database, colours or terminal width."""
    monkeypatch.setenv("DISPATCHER_DB", str(tmp_path / "default-unused.db"))
    for name in ("DISPATCHER_TENANT", "DISPATCHER_SITE", "FORCE_COLOR", "DISPATCHER_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield
    wiring.reset()


@pytest.fixture
def settings(db: str) -> Settings:
    return Settings(db=db)


UowFactory = Callable[..., UnitOfWork]


@pytest.fixture
def uow_factory(settings: Settings) -> Iterator[UowFactory]:
    engine = make_engine(settings.url)

    def build(*, write: bool = False, tenant: str = "LTS", site: str = "WIEN") -> UnitOfWork:
        return UnitOfWork(engine, tenant, site, lambda: FIXED_NOW, write=write)

    yield build
    engine.dispose()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(db: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run `dispatcher ARGS...` in-process against the test database at a fixed clock."""
    from dispatcher.cli.app import app

    monkeypatch.setenv("DISPATCHER_DB", db)
    monkeypatch.setenv("DISPATCHER_NOW", FIXED_NOW_TEXT)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> CliResult:
        result = runner.invoke(
            app, list(args), input=input, catch_exceptions=False, prog_name="dispatcher"
        )
        wiring.reset()
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def site(cli: Cli, tmp_path: Path) -> Cli:
    """Users registered, thresholds relaxed, one WARN run imported."""
    populate_site(cli, tmp_path)
    return cli


def populate_site(cli: Cli, tmp_path: Path) -> None:
    """What `site` holds, built at the clock the environment sets (time never goes back in
    the trail: a test that needs an earlier day builds its site on that day)."""
    assert (
        cli(
            "users", "add", "admin01", "--name", "Platform Admin", "--role", "platform_admin"
        ).exit_code
        == 0
    )
    for user_id, name, role in (
        ("disp001", "Maria Dispo", "dispatcher"),
        ("disp002", "Jonas Planer", "dispatcher"),
        ("ops001", "Olga Betrieb", "ops_lead"),
    ):
        result = cli(
            "users",
            "add",
            user_id,
            "--name",
            name,
            "--role",
            role,
            "--by",
            "admin01",
            "--reason",
            "Pilot team for Wien",
        )
        assert result.exit_code == 0, result.output
    relaxed = cli(
        "site",
        "set",
        "fte_warn_bp=0",
        "fte_block_bp=0",
        "pt_warn_bp=10000",
        "pt_block_bp=10000",
        "--by",
        "admin01",
        "--reason",
        "Small test site, part-timers",
    )
    assert relaxed.exit_code == 0, relaxed.output
    assert cli("import-run", str(write_run(tmp_path / "run.json"))).exit_code == 0


@dataclass
class Insider:
    """Hand-written SQL against the test's database, as an insider would write it.

    `refused(sql)`: with the guards in place (SQLite: any connection to the file; PostgreSQL:
    the application login, scoped to LTS/WIEN) the database must refuse; the refusal's text is
    returned. `tamper(sql)`: the same with the guards off (SQLite: every trigger dropped;
    PostgreSQL: the superuser with session_replication_role = replica); it goes through.
    """

    backend: str
    db: str
    server: PgServer | None = None
    database: str | None = None

    def refused(self, sql: str) -> str:
        if self.backend == "sqlite":
            with closing(sqlite3.connect(self.db)) as con:
                try:
                    con.executescript(sql)
                except sqlite3.DatabaseError as exc:
                    return str(exc)
            raise AssertionError(f"SQLite accepted: {sql}")
        import psycopg

        assert self.server is not None
        with self._connect(APP_LOGIN) as con:
            try:
                with con.transaction():
                    con.execute(SCOPE)
                    con.execute(sql.encode())
            except psycopg.Error as exc:
                return str(exc)
        raise AssertionError(f"PostgreSQL accepted: {sql}")

    def tamper(self, sql: str, *, restore: bool = False) -> None:
        """`restore`: a careful insider puts the SQLite triggers back afterwards, so the guard
        check has nothing to say and the other checks must (PostgreSQL's stay in place)."""
        if self.backend == "sqlite":
            with closing(sqlite3.connect(self.db)) as con:
                triggers = con.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type='trigger'"
                ).fetchall()
                for name, _ in triggers:
                    con.execute(f"DROP TRIGGER {name}")
                con.executescript(sql)
                for _, definition in triggers if restore else ():
                    con.execute(definition)
                con.commit()
            return
        with self._connect(SUPERUSER) as con:
            con.execute("SET session_replication_role = replica")
            con.execute(sql.encode())

    def _connect(self, user: str) -> Any:
        import psycopg

        assert self.server is not None
        return psycopg.connect(
            f"host=127.0.0.1 port={self.server.port} user={user} dbname={self.database}"
        )


@pytest.fixture
def insider(backend: str, db: str, request: pytest.FixtureRequest) -> Insider:
    if backend == "sqlite":
        return Insider(backend, db)
    return Insider(
        backend,
        db,
        request.getfixturevalue("pg_server"),
        request.getfixturevalue("pg_database"),
    )


# --- the demo site, built once per test session and backend --------------------------------

DEMO_TUESDAY = "2026-01-13T05:30:00Z"  # the demo week's Tuesday, 06:30 in Vienna
PG_DEMO_TEMPLATE = "dispatcher_demo_template"


def _build_demo(db: str, files: Path) -> None:
    """`dispatcher demo --files FILES` on `db` at the demo Tuesday, in-process."""
    from dispatcher.cli.app import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISPATCHER_DB", db)
        patch.setenv("DISPATCHER_NOW", DEMO_TUESDAY)
        result = CliRunner().invoke(
            app, ["demo", "--files", str(files)], catch_exceptions=False, prog_name="dispatcher"
        )
        wiring.reset()  # no connection stays open to the database copied from
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> Path:
    """A folder with `dispatcher.db` (the demo site built at the demo Tuesday) and `files`."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copyfile(template_db, folder / "dispatcher.db")
    _build_demo(str(folder / "dispatcher.db"), folder / "files")
    with closing(sqlite3.connect(folder / "dispatcher.db")) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder


@pytest.fixture(scope="session")
def demo_postgres(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer) -> Path:
    """The demo site as a PostgreSQL template database; the folder of its `files`."""
    folder = tmp_path_factory.mktemp("demo-pg")
    pg_server.admin_sql(f"CREATE DATABASE {PG_DEMO_TEMPLATE} TEMPLATE {PG_TEMPLATE} OWNER {OWNER}")
    _build_demo(pg_server.url(PLATFORM_LOGIN, PG_DEMO_TEMPLATE), folder / "files")
    return folder


@pytest.fixture
def demo_site(
    cli: Cli, backend: str, db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Cli:
    """The test's database holds the demo site as `dispatcher demo --files TMP/files` builds it
    at the demo Tuesday (a copy of one built for the session: the demo is the same every time),
    and TMP/files its files. The clock is the demo Tuesday."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("DISPATCHER_NOW", DEMO_TUESDAY)
    wiring.reset()
    if backend == "sqlite":
        built: Path = request.getfixturevalue("demo_sqlite")
        shutil.copyfile(built / "dispatcher.db", db)
    else:
        built = request.getfixturevalue("demo_postgres")
        server: PgServer = request.getfixturevalue("pg_server")
        name = request.getfixturevalue("pg_database")
        server.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")
        server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {PG_DEMO_TEMPLATE} OWNER {OWNER}")
    shutil.copytree(built / "files", tmp_path / "files")
    return cli
