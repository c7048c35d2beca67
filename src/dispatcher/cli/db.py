"""`dispatcher db`: schema upgrade and revision."""

from __future__ import annotations

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import JsonFlag

db_app = typer.Typer(
    help="Database maintenance: create or upgrade the schema.", no_args_is_help=True
)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the database or upgrade its schema to the newest revision (safe to repeat).

    Example: dispatcher --db /srv/dispatcher/wien.db db upgrade
    """
    from dispatcher.cli import wiring
    from dispatcher.services.database import upgrade_database

    settings = settings_of(ctx)
    before, after = upgrade_database(wiring.engine(settings, migrate=False))
    if before.current == after.current:
        typer.echo(f"Database {settings.db} is at the newest revision {after.current}.")
    else:
        typer.echo(
            f"Database {settings.db} upgraded: {before.current or 'empty'} -> {after.current}"
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
