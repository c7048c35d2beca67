"""The root `dispatcher` command, built from the command table with as few modules as needed.

`build_app()` gives the whole app (`dispatcher.cli.app.app`: help, docs, tests); the entry point
builds it with only the sub-app that holds the command being run, so `dispatcher status` imports
and converts one command module instead of all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Annotated

import typer

from dispatcher import __version__
from dispatcher.cli.arguments import PATH_TEXT
from dispatcher.cli.command_table import COMMANDS, SOURCES
from dispatcher.cli.deferred import defer as _defer_rich_modules
from dispatcher.cli.errors import RootGroup
from dispatcher.config import Settings, default_db_path
from dispatcher.defaults import DEFAULT_SITE, DEFAULT_TENANT

_defer_rich_modules()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dispatcher {__version__}")
        raise typer.Exit()


def _root_app() -> typer.Typer:
    return typer.Typer(
        cls=RootGroup,
        name="dispatcher",
        help=(
            "Weekly driver-roster workflow for dispatchers: review runs, repair sick calls, "
            "publish, lock and export, with every decision in a hash-chained audit log.\n\n"
            "Exit codes: 0 success, 1 operation failed, 2 blocked by a gate."
        ),
        rich_markup_mode="rich",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )


def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="DISPATCHER_DB",
            click_type=PATH_TEXT,
            help="Database file or SQLAlchemy URL. "
            "[default: ~/.local/share/dispatcher/dispatcher.db]",
            show_default=False,
        ),
    ] = None,
    tenant: Annotated[
        str, typer.Option("--tenant", envvar="DISPATCHER_TENANT", help="Tenant (company).")
    ] = DEFAULT_TENANT,
    site: Annotated[
        str, typer.Option("--site", envvar="DISPATCHER_SITE", help="Site (depot area).")
    ] = DEFAULT_SITE,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Resolve --db, --tenant and --site (flag, then environment, then default) once."""
    from dispatcher.domain.ids import normalize_scope

    ctx.obj = Settings(
        db=db or str(default_db_path()),
        tenant=normalize_scope(tenant, "tenant"),
        site=normalize_scope(site, "site"),
    )


def build_app(commands: Iterable[str] | None = None) -> typer.Typer:
    """The root app with the sub-apps holding `commands` (default: every command, in order)."""
    app = _root_app()
    app.callback()(root)
    added: set[tuple[str, str]] = set()
    for name in COMMANDS if commands is None else commands:
        source = SOURCES[name]
        if source in added:
            continue
        added.add(source)
        module, attribute = source
        sub_app = getattr(importlib.import_module(f"dispatcher.cli.{module}"), attribute)
        if COMMANDS[name]:
            app.add_typer(sub_app, name=name)
        else:
            app.add_typer(sub_app)
    return app
