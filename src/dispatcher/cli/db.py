"""`dispatcher db`: schema upgrade and revision, backup and restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import MAX_COUNT, JsonFlag

if TYPE_CHECKING:
    from dispatcher.config import Settings
    from dispatcher.services.backup import CopyCheck

db_app = typer.Typer(
    help="Database maintenance: creation, schema upgrade, backup and restore.",
    no_args_is_help=True,
)


@db_app.command("init")
def init(
    ctx: typer.Context,
    simulated_clock: Annotated[
        bool,
        typer.Option(
            "--simulated-clock",
            help="Create a demo or test database, on which DISPATCHER_NOW sets the time. Set "
            "only here, at creation; a database with the real clock never honours it.",
        ),
    ] = False,
    multi_tenant: Annotated[
        bool,
        typer.Option(
            "--multi-tenant",
            help="Let other tenants share this SQLite file (without it a second tenant is "
            "refused). PostgreSQL always serves many tenants.",
        ),
    ] = False,
) -> None:
    """Create the database (schema at the newest revision) and record its creation as the
    first event of the platform's audit chain: its clock, and its operator, the tenant it is
    created for (--tenant), whose platform admins alone act platform-wide (the global kill
    switch, status --all-sites).

    Example: dispatcher --db training.db db init --simulated-clock
    """
    from dispatcher.cli import wiring
    from dispatcher.services.database import create_database

    settings = settings_of(ctx)
    clock = wiring.pinned_clock() if simulated_clock else None
    unit = wiring.unit_of_work(
        settings,
        write=True,
        clock=clock,
        simulated=simulated_clock,
        platform=True,
        create=True,
        note=False,  # it says so itself
    )
    created = create_database(unit, simulated=simulated_clock, multi_tenant=multi_tenant)
    what = "simulated (DISPATCHER_NOW sets it)" if simulated_clock else "real"
    typer.echo(
        f"Database {settings.shown} created for {settings.tenant}; clock: {what} "
        f"(event #{created.event_seq})."
    )


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Upgrade the database's schema to the newest revision (safe to repeat). On PostgreSQL it
    also creates the schema in an empty database; a SQLite file must exist (`db init`).

    Example: dispatcher --db /srv/dispatcher/wien.db db upgrade
    """
    from dispatcher.cli import wiring
    from dispatcher.services.database import upgrade_database

    settings = settings_of(ctx)
    before, after = upgrade_database(wiring.engine(settings, migrate=False))
    if before.current == after.current:
        typer.echo(f"Database {settings.shown} is at the newest revision {after.current}.")
    else:
        typer.echo(
            f"Database {settings.shown} upgraded: {before.current or 'empty'} -> {after.current}"
        )


@db_app.command("current")
def current(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the database's schema revision and the newest one this dispatcher knows.

    Example: dispatcher db current
    """
    from dispatcher.cli import wiring
    from dispatcher.services.database import schema_state

    settings = settings_of(ctx)
    state = schema_state(wiring.engine(settings, migrate=False))
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json({"current": state.current, "head": state.head, "up_to_date": state.up_to_date})
        return
    note = "up to date" if state.up_to_date else "upgrade with: dispatcher db upgrade"
    typer.echo(f"Current revision: {state.current or 'none (empty database)'}")
    typer.echo(f"Newest revision:  {state.head} ({note})")


EvidenceRunsOpt = Annotated[
    int,
    typer.Option(
        "--evidence-runs",
        min=0,
        max=MAX_COUNT,
        help="Re-verify the evidence of this many newest runs per site (0: none).",
    ),
]


def _sqlite_file(settings: Settings) -> Path:
    from dispatcher.domain.errors import InvalidInput

    path = settings.sqlite_path
    if path is None:
        raise InvalidInput(
            "db backup and db restore work on SQLite files; for PostgreSQL use pg_dump "
            "(docs/deployment.md)"
        )
    return path


def _report(check: CopyCheck, as_json: bool, done: str) -> None:
    from dataclasses import asdict

    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json({**asdict(check), "ok": check.ok, "problems": check.problems})
    else:
        events = sum(c.events for c in check.chains)
        typer.echo(
            f"{done}: {check.runs} runs, {events} audit events in {len(check.chains)} "
            f"chain(s), evidence of {check.evidence_checked} run(s) re-verified, "
            f"integrity {check.integrity}"
        )
        for chain in check.chains:
            state = chain.problem or f"intact, tip {chain.tip}"
            typer.echo(f"  {chain.tenant}/{chain.site}: {chain.events} events, {state}")
    if not check.ok:
        import sys

        sys.stderr.write(f"Error: {check.path} fails its checks: {check.problems[0]}\n")
        raise typer.Exit(1)


@db_app.command("backup")
def backup(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(metavar="FILE", help="New backup file.")],
    evidence_runs: EvidenceRunsOpt = 5,
    as_json: JsonFlag = False,
) -> None:
    """Copy the database while it is in use (SQLite backup API), then check the copy:
    integrity, schema revision, every site's audit chain and the newest runs' evidence.

    Example: dispatcher db backup /backups/wien-2026-01-13.db
    """
    from dispatcher.cli import wiring
    from dispatcher.services.backup import backup as copy_out

    settings = settings_of(ctx)
    check = copy_out(_sqlite_file(settings), target, wiring.file_units, evidence_runs)
    _report(check, as_json, f"Backup written to {target}")


@db_app.command("restore")
def restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(metavar="FILE", help="Backup file to restore.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing database with the backup.")
    ] = False,
    discard_newer: Annotated[
        bool,
        typer.Option(
            "--discard-newer-events",
            help="Restore even though the database holds audit events the backup lacks "
            "(they are lost; without this the restore is refused and names them).",
        ),
    ] = False,
    evidence_runs: EvidenceRunsOpt = 5,
    as_json: JsonFlag = False,
) -> None:
    """Check a backup the same way, then copy it into the database (--db). Nothing changes
    unless the backup passes, and a backup older than the database's trail is refused unless
    you accept losing the newer events; stop other dispatcher commands on this database first.

    Example: dispatcher --db /srv/dispatcher/wien.db db restore /backups/wien.db --force
    """
    from dispatcher.cli import wiring
    from dispatcher.services.backup import restore as copy_in

    settings = settings_of(ctx)
    target = _sqlite_file(settings)
    wiring.reset()
    check = copy_in(
        source,
        target,
        wiring.file_units,
        force=force,
        discard_newer=discard_newer,
        evidence_runs=evidence_runs,
    )
    _report(check, as_json, f"Restored {target} from {source}")
