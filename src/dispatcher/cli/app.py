"""The root `dispatcher` command: global options resolved once into Settings."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher import __version__
from dispatcher.cli.audit import audit_app
from dispatcher.cli.db import db_app
from dispatcher.cli.decisions import decisions_app
from dispatcher.cli.deferred import defer as _defer_rich_modules
from dispatcher.cli.demo import demo_app
from dispatcher.cli.errors import RootGroup
from dispatcher.cli.evidence import evidence_app
from dispatcher.cli.kill_switch import kill_switch_app
from dispatcher.cli.repairs import repair_app, repairs_app
from dispatcher.cli.report import report_app
from dispatcher.cli.roster import roster_app
from dispatcher.cli.runs import runs_app
from dispatcher.cli.site import site_app
from dispatcher.cli.status import status_app
from dispatcher.cli.users import users_app
from dispatcher.config import Settings, default_db_path
from dispatcher.defaults import DEFAULT_SITE, DEFAULT_TENANT

_defer_rich_modules()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dispatcher {__version__}")
        raise typer.Exit()


app = typer.Typer(
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


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="DISPATCHER_DB",
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
    from dispatcher.domain.model import normalize_scope

    ctx.obj = Settings(
        db=db or str(default_db_path()),
        tenant=normalize_scope(tenant, "tenant"),
        site=normalize_scope(site, "site"),
    )


app.add_typer(status_app)
app.add_typer(runs_app)
app.add_typer(roster_app)
app.add_typer(report_app)
app.add_typer(repair_app)
app.add_typer(decisions_app)
app.add_typer(demo_app)
app.add_typer(kill_switch_app, name="kill-switch")
app.add_typer(repairs_app, name="repairs")
app.add_typer(users_app, name="users")
app.add_typer(site_app, name="site")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
