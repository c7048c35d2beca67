"""`dispatcher demo`: build a realistic demo site to try every command on."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import SeedOpt

if TYPE_CHECKING:
    from dispatcher.db.unit_of_work import UnitOfWork

demo_app = typer.Typer()


@demo_app.command("demo")
def demo(
    ctx: typer.Context,
    seed: SeedOpt = 2026,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the database file first (SQLite only).")
    ] = False,
    files: Annotated[
        Path | None,
        typer.Option(
            "--files", help="Where to write the demo's input files [default: beside the db]."
        ),
    ] = None,
    solve: Annotated[
        bool,
        typer.Option(
            "--solve", help="Also solve 2026-W03 from its tours and drivers (about 30 s)."
        ),
    ] = False,
) -> None:
    """Build a demo pilot site: ~145 drivers, ~1,450 tour instances Mon-Sat, two weeks of runs.

    Registers users (admin01, disp001, disp002, ops001); imports 2026-W02 (first pilot week:
    WARN, no baseline), publishes it with an override and locks it; imports 2026-W03 (PASS
    against the locked week) and a hand-edited 2026-W03 run with planted faults (FAIL); with
    --solve, also solves 2026-W03 with the site's own solver and compares the headcounts; writes
    the CSV/JSON input files so you can import them yourself. Example:
    dispatcher --db demo.db demo --fresh --solve
    """
    from dispatcher.cli import output, wiring
    from dispatcher.domain.errors import InvalidInput
    from dispatcher.services.demo import build_demo

    settings = settings_of(ctx)
    path = settings.sqlite_path
    if fresh:
        if path is None:
            raise InvalidInput("--fresh only works with a SQLite database file")
        wiring.reset()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    target = files or ((path.parent if path else Path.cwd()) / "demo-files")

    def uow_at(moment: datetime) -> UnitOfWork:
        return wiring.unit_of_work(settings, write=True, clock=lambda: moment, registry=True)

    # The demo replays its own weeks at their own times: a database with a simulated clock,
    # created so now (a database already in use keeps its clock; the demo then needs --fresh).
    from dispatcher.domain.errors import Conflict
    from dispatcher.services.database import create_database
    from dispatcher.services.demo import DEMO_START

    with suppress(Conflict):
        create_database(
            wiring.unit_of_work(
                settings,
                write=True,
                clock=lambda: DEMO_START,
                simulated=True,
                platform=True,
                create=True,
                note=False,  # it says where it built the site
            ),
            simulated=True,
        )

    with output.progress("Building the demo site...", quiet=not solve) as report:
        result = build_demo(uow_at, seed, target, solve=solve, progress=report)
    typer.echo(
        f"Demo site {settings.tenant}/{settings.site} built in {settings.shown} (seed {seed})."
    )
    for run in result.runs:
        typer.echo(
            f"  {run.run_id}  {run.week}  {run.status:<5} {run.instances} instances, "
            f"{run.drivers_used} drivers  ({run.status_reason})"
        )
    if result.solved is not None:
        solved = result.solved
        typer.echo(
            f"  {solved.run_id}  {solved.week}  {solved.status:<5} solved: "
            f"{solved.drivers_used} drivers (lower bound {solved.lower_bound['value']}, "
            f"gap {solved.gap_bp / 100:.1f} %) against {result.planted_drivers} in the "
            f"generator's roster"
        )
    typer.echo("Planted in the hand-edited run: " + "; ".join(result.planted))
    typer.echo(f"Input files: {target}")
