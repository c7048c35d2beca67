"""The root `dispatcher` command: a Click group whose commands load when they are asked for.

The group's command mapping is the command table (cli/command_table.py): listing it, suggesting
a close name or completing one imports nothing; looking a command up imports the module that
defines it and converts that module's Typer app the way `add_typer` would. So `dispatcher
status` loads one command module, `dispatcher --help` and the docs load them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer
from typer import _click as click

from dispatcher import __version__
from dispatcher.cli.arguments import PATH_TEXT
from dispatcher.cli.command_table import COMMANDS, subcommands
from dispatcher.cli.errors import RootGroup
from dispatcher.config import Settings, default_db_path
from dispatcher.defaults import DEFAULT_SITE, DEFAULT_TENANT


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dispatcher {__version__}")
        raise typer.Exit()


def _root_app(cls: type[typer.core.TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(
        cls=cls or LazyRootGroup,
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


class LazyCommands(MutableMapping[str, click.Command]):
    """The root group's commands: the table's names, each loaded on first lookup."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded.update(_load(name))
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("the command table is fixed")

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


def _load(name: str) -> dict[str, click.Command]:
    """The Click commands of the module that defines `name`, converted as `add_typer` converts
    them under the root (same markup mode and exception settings): every top-level command of
    that module, so the module is converted once."""
    module, attribute, _ = COMMANDS[name]
    sub_app = getattr(importlib.import_module(f"dispatcher.cli.{module}"), attribute)
    holder = _root_app(typer.core.TyperGroup)
    if subcommands(name):
        holder.add_typer(sub_app, name=name)
    else:
        holder.add_typer(sub_app)
    group = typer.main.get_group(holder)
    loaded = {
        command_name: command
        for command_name, command in group.commands.items()
        if COMMANDS.get(command_name, ("",))[0] == module
    }
    for command in loaded.values():
        _reflow(command)
    return loaded


def _reflow(command: click.Command) -> None:
    """Paragraphs that wrap at any width and examples that paste whole (cli/help_text.py), for
    a command and every subcommand of a group."""
    from dispatcher.cli.help_text import reflow

    command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow(sub)


def build_app() -> typer.Typer:
    """The root app; its group loads commands from the table when they are used."""
    app = _root_app()
    app.callback()(root)
    return app


class LazyRootGroup(RootGroup):
    """The root group over the command table."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands()
