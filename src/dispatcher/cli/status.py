"""`dispatcher status`: the system at a glance."""

from __future__ import annotations

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import JsonFlag

status_app = typer.Typer()


@status_app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Kill switch, publish/lock switches, shadow mode, the latest run and pending repairs.

    Example: dispatcher status
    """
    from dispatcher.cli import wiring
    from dispatcher.services.reads import overview as read_overview

    settings = settings_of(ctx)
    with wiring.read_queries(settings) as queries:
        if queries is not None:
            overview = read_overview(queries, settings.tenant, settings.site)
        else:
            from dispatcher.services.runs import status_overview

            overview = status_overview(wiring.unit_of_work(settings))
    if as_json:
        from dispatcher.cli import data
        from dispatcher.cli.output import emit_json

        emit_json(data.status(overview))
        return
    from dispatcher.cli import render

    render.status(overview)
