"""`dispatcher roster`: the week at a glance, or one day as a timeline."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import MAX_COUNT, JsonFlag, RunIdArg, VersionOpt

roster_app = typer.Typer()


@roster_app.command("roster")
def roster(
    ctx: typer.Context,
    run_id: RunIdArg,
    version: VersionOpt = None,
    driver: Annotated[str | None, typer.Option("--driver", help="Only this driver.")] = None,
    day: Annotated[
        str | None, typer.Option("--day", help="Only drivers working this day (Mon-Sun).")
    ] = None,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="With --day: one bar line per driver on a 24 h axis.")
    ] = False,
    page: Annotated[
        int, typer.Option("--page", min=1, max=MAX_COUNT, help="Page of --page-size drivers.")
    ] = 1,
    page_size: Annotated[
        int,
        typer.Option("--page-size", min=0, max=MAX_COUNT, help="Drivers per page (0: all)."),
    ] = 40,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="The driver x day matrix even below 120 columns (for a wide pager)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Who drives when: each duty day as `05:00-14:30 2er-reg`, weekly hours, and the
    violations of the stored audits where they occur. Tours nobody drives are listed beneath.

    At 120 columns or more (or with --wide) a driver x day matrix; narrower, one block per
    driver with the days side by side. Example: dispatcher roster RUN-20260112-002 --day Tue
    --timeline
    """
    from dispatcher.cli import wiring
    from dispatcher.domain.errors import InvalidInput
    from dispatcher.services.roster import roster_view

    if timeline and day is None:
        raise InvalidInput("--timeline needs --day")
    view = roster_view(
        wiring.unit_of_work(settings_of(ctx)),
        run_id,
        version=version,
        driver=driver,
        day=day,
        page=page,
        page_size=page_size,
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(view))
        return
    from dispatcher.cli.views import roster as screen

    if timeline:
        screen.roster_timeline(view, day or "")
    else:
        screen.roster_screen(view, wide=wide)
