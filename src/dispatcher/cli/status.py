"""`dispatcher status`: the system at a glance."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher.cli.arguments import AUDIT_TEXT
from dispatcher.cli.context import settings_of
from dispatcher.cli.options import JsonFlag

status_app = typer.Typer()

AllSitesFlag = Annotated[
    bool,
    typer.Option(
        "--all-sites",
        help="Every site of every tenant, one line each (platform_admin: needs --by and "
        "--reason; recorded in the audit log).",
    ),
]
ViewerOpt = Annotated[
    str | None,
    typer.Option(
        "--by", click_type=AUDIT_TEXT, help="With --all-sites: your user id (platform_admin)."
    ),
]
ViewReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", click_type=AUDIT_TEXT, help="With --all-sites: why (recorded)."),
]


@status_app.command("status")
def status(
    ctx: typer.Context,
    all_sites: AllSitesFlag = False,
    by: ViewerOpt = None,
    reason: ViewReasonOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Kill switch, publish/lock switches, shadow mode, the latest run and pending repairs.

    Example: dispatcher status --all-sites --by admin01 --reason "Monday check of every depot"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.runs import status_overview

    if all_sites or by is not None or reason is not None:
        _all_sites(ctx, all_sites, by, reason, as_json)
        return
    overview = status_overview(wiring.unit_of_work(settings_of(ctx)))
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import status as status_view

        emit_json(status_view.status_json(overview))
        return
    from dispatcher.cli.views import status as status_view

    status_view.status(overview)


def _all_sites(
    ctx: typer.Context, all_sites: bool, by: str | None, reason: str | None, as_json: bool
) -> None:
    from dispatcher.cli import wiring
    from dispatcher.domain.errors import InvalidInput
    from dispatcher.services.platform import all_sites_overview

    if not all_sites:
        raise InvalidInput("--by and --reason belong to --all-sites")
    if by is None or reason is None:
        raise InvalidInput("--all-sites needs --by (a platform_admin) and --reason")
    uow = wiring.unit_of_work(settings_of(ctx), write=True)
    result = all_sites_overview(uow, by=by, reason=reason)
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import status as status_view

        emit_json(status_view.all_sites_json(result))
        return
    from dispatcher.cli.views import status as status_view

    status_view.all_sites(result)
