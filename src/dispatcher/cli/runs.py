"""Reading runs: `import-run`, `list-runs`, `show-run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import JsonFlag, LimitOpt, RunIdArg, SeedOpt, VersionOpt

runs_app = typer.Typer()

WeekOpt = Annotated[str | None, typer.Option("--week", help="ISO week such as 2026-W03.")]


MAX_INPUT_MB = 64  # a week of a large depot is well under 1 MB; this bounds memory and time


def read_input_file(path: Path) -> bytes:
    from dispatcher.services.files import read_bounded

    return read_bounded(path, "File", MAX_INPUT_MB)


@runs_app.command("import-run")
def import_run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Run file (dispatcher.run/1 JSON).")],
    week: WeekOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a week's roster: validate it, compute the 7 audits, KPIs, drift, status and evidence.

    The whole import is one transaction: any error stores nothing. Example:
    dispatcher import-run roster-2026-W03.json --week 2026-W03
    """
    from dispatcher.cli import wiring
    from dispatcher.cli.views import runs as runs_view
    from dispatcher.services.runs import import_run as run_import

    settings = settings_of(ctx)
    data = read_input_file(file)
    result = run_import(
        wiring.unit_of_work(settings, write=True, create=True), data, file.name, week
    )
    if as_json:
        from dataclasses import asdict

        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    runs_view.import_result(result)


@runs_app.command("list-runs")
def list_runs(
    ctx: typer.Context,
    week: WeekOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="PASS, WARN, FAIL, BLOCKED or PENDING.")
    ] = None,
    limit: LimitOpt = 20,
    as_json: JsonFlag = False,
) -> None:
    """List the newest runs of this site with status, coverage, audits and drift, marking each
    week's run in force (▶) and working run (✎, the one repaired and published next).

    Example: dispatcher list-runs --week 2026-W03
    """
    from dispatcher.cli import wiring
    from dispatcher.services.runs import list_runs_with_plans as query

    settings = settings_of(ctx)
    runs, plans = query(wiring.unit_of_work(settings), week=week, status=status, limit=limit)
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import runs as runs_view

        emit_json([runs_view.run_summary_json(r, plans.get(r.week)) for r in runs])
        return
    from dispatcher.cli.views import runs as runs_view

    runs_view.run_list(runs, settings, plans)


@runs_app.command("show-run")
def show_run(
    ctx: typer.Context,
    run_id: RunIdArg,
    version: VersionOpt = None,
    details: Annotated[
        bool, typer.Option("--details", help="List every violation, not only counts.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Everything needed before publishing: status and why, audits, KPIs, drift, evidence.

    The evidence is re-verified from stored rows first. Example:
    dispatcher show-run RUN-20260113-001 --details
    """
    from dispatcher.cli import wiring
    from dispatcher.services.review import show_run as gather

    settings = settings_of(ctx)
    detail = gather(wiring.unit_of_work(settings, write=True), run_id, version)
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import runs as runs_view

        emit_json(runs_view.run_detail_json(detail))
        return
    from dispatcher.cli.views import runs as runs_view

    runs_view.run_detail(detail, details=details)


@runs_app.command("solve")
def solve(
    ctx: typer.Context,
    week: Annotated[str, typer.Option("--week", help="ISO week such as 2026-W03.")],
    tours: Annotated[Path, typer.Option("--tours", help="Tour forecast, CSV or JSON.")],
    drivers: Annotated[Path, typer.Option("--drivers", help="Driver list CSV.")],
    availability: Annotated[
        Path | None, typer.Option("--availability", help="Availability CSV (absences).")
    ] = None,
    seed: SeedOpt = 0,
    time_limit: Annotated[
        float,
        typer.Option("--time-limit", help="Solver budget (deterministic seconds, at most 3600)."),
    ] = 120.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Searches run in parallel with seeds seed, seed+1, ...; the best roster wins "
            "(same inputs and workers: same roster).",
        ),
    ] = 1,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the run file here.")] = None,
    no_recheck: Annotated[
        bool,
        typer.Option("--no-recheck", help="Skip the second solve that checks the result repeats."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Build the week's roster from a tour forecast and a driver list, and store it as a run.

    Every tour is covered if the drivers allow, every rule holds, and as few drivers as possible
    are used; the result is audited, measured and sealed exactly like an imported run. Example:
    dispatcher solve --week 2026-W03 --tours tours.csv --drivers drivers.csv --out run-w03.json
    """
    from dispatcher.cli import output, wiring
    from dispatcher.services.solving import InputFile, read_week_input, solve_run

    settings = settings_of(ctx)
    files = {
        name: read_input_file(path)
        for name, path in (("tours", tours), ("drivers", drivers), ("availability", availability))
        if path
    }
    week_input = read_week_input(
        week,
        InputFile(tours.name, files["tours"]),
        InputFile(drivers.name, files["drivers"]),
        InputFile(availability.name, files["availability"]) if availability else None,
        settings.tenant,
        settings.site,
    )
    with output.progress("Solving...", quiet=as_json) as report:
        result = solve_run(
            wiring.unit_of_work(settings, write=True, create=True),
            week_input,
            seed=seed,
            time_limit=time_limit,
            workers=workers,
            recheck=not no_recheck,
            out=out,
            progress=report,
        )
    if as_json:
        from dataclasses import asdict

        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    from dispatcher.cli.views import runs as runs_view

    runs_view.solve_result(result)
