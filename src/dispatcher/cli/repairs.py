"""Sick calls: `request-repair`, `run-repair`, `apply-repair`, `reject-repair`, `repairs ...`."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from dispatcher.cli.arguments import AUDIT_TEXT
from dispatcher.cli.completion import complete_request_id, complete_run_id
from dispatcher.cli.context import settings_of
from dispatcher.cli.help_text import example_lines
from dispatcher.cli.options import (
    AdminReasonOpt,
    ApproverOpt,
    JsonFlag,
    ReasonOpt,
    RoleOpt,
)
from dispatcher.cli.views.common import hash_line

repair_app = typer.Typer()
repairs_app = typer.Typer(help="Repair requests: list and review proposals.", no_args_is_help=True)

RequestArg = Annotated[
    str,
    typer.Argument(
        metavar="REP",
        help="Request id such as REP-20260113063000.",
        autocompletion=complete_request_id,
    ),
]


@repair_app.command("request-repair")
def request_repair(
    ctx: typer.Context,
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W03.")],
    driver: Annotated[str, typer.Option("--driver", help="The absent driver's id.")],
    absence_type: Annotated[str, typer.Option("--type", help="sick, vacation or other.")],
    requester: Annotated[
        str, typer.Option("--requester", click_type=AUDIT_TEXT, help="Your user id.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Driver's name, checked against the id.")
    ] = None,
    tours: Annotated[
        str | None, typer.Option("--tours", help="Tours or instances, e.g. T101,T102#2.")
    ] = None,
    days: Annotated[
        str | None, typer.Option("--days", help="Days, e.g. Mon,Tue or 2026-01-13.")
    ] = None,
    urgency: Annotated[
        str, typer.Option("--urgency", help="low, normal, high or critical.")
    ] = "normal",
    notes: Annotated[
        str | None,
        typer.Option("--notes", click_type=AUDIT_TEXT, help="Free text, e.g. when they called."),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="The run to repair (default: the week's run in force, else the run being "
            "repaired, else its only publishable one).",
            autocompletion=complete_run_id,
        ),
    ] = None,
    amend: Annotated[
        bool,
        typer.Option(
            "--amend",
            help="The run is locked (a sick call in the week being driven): the repair makes "
            "an amendment, a new version with its own publish and lock.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Record an absence and ask for the driver's tours to be reassigned (prints the REP id).

    Without --tours or --days the whole week is covered. The absence stays a fact of the week:
    no later repair, solve or audit gives the driver a tour on those days. Open requests block
    publish and lock of their week. The run repaired is --run, else the week's run in force,
    else the run being repaired, else its only run that can still be published; with several
    candidates the command lists them and asks for --run. Example:
    dispatcher request-repair --week 2026-W03 --driver D042 --name "Hans Schmidt" --type sick --tours T101,T102 --requester disp001 --urgency high --notes "Called in at 06:30"
    """
    from dispatcher.cli import wiring
    from dispatcher.services.repairs import request_repair as record

    result = record(
        wiring.unit_of_work(settings_of(ctx), write=True),
        week=week,
        driver_id=driver,
        name=name,
        absence_type=absence_type,
        tours=tours,
        days=days,
        requester=requester,
        urgency=urgency,
        notes=notes,
        run_id=run,
        amend=amend,
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    typer.echo(result.request_id)
    if not result.affected_instances:
        typer.echo(
            f"Warning: {result.driver_id} drives no tour in this scope on {result.run_id}; "
            "the absence is recorded anyway.",
            err=True,
        )
    why = {
        "--run": "",
        "in force": " (the week's run in force)",
        "successor": " (published to replace the week's locked plan)",
        "only": " (the week's only run that can be published)",
        "repairing": " (the run being repaired: it has open sick calls)",
    }[result.chosen_by]
    from dispatcher.cli.output import count

    to_repair = count(len(result.affected_instances) - result.started, "tour instance")
    stay = f" ({result.started} started, they stay with the driver)" if result.started else ""
    typer.echo(
        f"Recorded for {result.driver_id} ({result.scope}) on {result.run_id} "
        f"v{result.version}{why}: {to_repair} to repair{stay}.\n"
        f"Next: dispatcher run-repair --request {result.request_id}",
        err=True,
    )


@repair_app.command("run-repair")
def run_repair(
    ctx: typer.Context,
    request: Annotated[
        str,
        typer.Option(
            "--request", help="The request id (REP-...).", autocompletion=complete_request_id
        ),
    ],
    standby: Annotated[
        Path | None, typer.Option("--standby", help="Drivers CSV of extra candidates.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Solver budget in seconds (at most 3600).")
    ] = 10.0,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Your user id (a registered active user) for the audit log; else system."
        ),
    ] = None,
    only: Annotated[
        bool,
        typer.Option(
            "--only", help="Repair this request alone; the run's other open requests stay open."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Compute a repair proposal with the CP-SAT solver: cover the absent drivers' tours under
    every rule, changing as few other drivers and tours as possible. One proposal covers every
    open request of the run (each is listed) unless --only is given. Review it with
    `repairs show`, then `apply-repair`. Example:
    dispatcher run-repair --request REP-20260113063000
    """
    from dispatcher.cli import wiring
    from dispatcher.cli.runs import read_input_file
    from dispatcher.services.repairs import run_repair as solve

    settings = settings_of(ctx)
    data = read_input_file(standby) if standby else None
    quiet = as_json or not sys.stderr.isatty()

    def progress(message: str) -> None:
        if not quiet:
            typer.echo(f"  {message}", err=True)

    result = solve(
        wiring.unit_of_work(settings),
        wiring.unit_of_work(settings, write=True),
        request,
        standby=data,
        standby_name=standby.name if standby else "standby.csv",
        time_limit=time_limit,
        actor=by,
        progress=progress,
        only=only,
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(dict(result.proposal.document))
        return
    from dispatcher.cli.views import repairs as repairs_view

    repairs_view.proposal_summary(result.proposal)


@repair_app.command("apply-repair")
def apply_repair(
    ctx: typer.Context,
    request: RequestArg,
    approver: ApproverOpt = None,
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply a complete, current proposal: creates the next plan version (exit 2 if refused).

    Example: dispatcher apply-repair REP-20260113063000 --approver disp001 --role dispatcher --reason "Sick call covered, reviewed diff"
    """
    from dispatcher.cli import wiring
    from dispatcher.domain.gates import ApprovalInput
    from dispatcher.services.repairs import apply_repair as apply

    result = apply(
        wiring.unit_of_work(settings_of(ctx), write=True),
        request,
        ApprovalInput(approver, role, reason),
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    from dispatcher.cli.output import esc, status_text, stdout, visible

    console = stdout()
    console.print(f"Applied {result.request_id}: {result.run_id} v{result.version} created.")
    if len(result.covered) > 1:
        console.print(f"Closed:      {', '.join(result.covered)} (one proposal covered them)")
    console.print(f"Status:      {status_text(result.status)}  ({esc(result.status_reason)})")
    console.print(hash_line("Evidence", result.evidence_hash))
    console.print(f"Audit event: #{result.event_seq}")
    for note in result.left_open:
        console.print(f"[yellow]Open:[/yellow]        {esc(note)}")
    if result.in_force is None:
        return
    if result.status == "FAIL":
        console.print(
            esc(
                f"In force:    {result.in_force}; v{result.version} is FAIL and cannot be published"
            )
        )
        return
    amended = result.in_force.endswith("(locked)")
    until = f"amendment v{result.version} is published and locked" if amended else ""
    if result.successor:
        until = f"{result.run_id} v{result.version} is published and locked"
    until = until or f"v{result.version} is published"
    console.print(esc(f"In force:    {result.in_force} until {until}:"))
    command = f"dispatcher publish {result.run_id} --approver ID --role dispatcher --reason TEXT"
    command += " --override-reason TEXT" if result.status == "WARN" else ""
    for line in example_lines(command):  # pasteable at 80 columns (cli/help_text.py)
        console.print(visible(f"  {line}"), markup=False, soft_wrap=True)


@repair_app.command("reject-repair")
def reject_repair(
    ctx: typer.Context,
    request: RequestArg,
    by: Annotated[
        str,
        typer.Option("--by", click_type=AUDIT_TEXT, help="Your user id (a repair role holder)."),
    ],
    reason: AdminReasonOpt,
    driver_available: Annotated[
        bool,
        typer.Option(
            "--driver-available",
            help="The driver is available after all: withdraw the recorded absence too.",
        ),
    ] = False,
) -> None:
    """Close a request without changing the plan. The absence it recorded stays a fact of the
    week (no repair or solve gives the driver a tour on those days) unless --driver-available.

    Example: dispatcher reject-repair REP-20260113063000 --by disp001 --reason "Driver is back, no change needed" --driver-available
    """
    from dispatcher.cli import wiring
    from dispatcher.services.repairs import reject_repair as reject

    record = reject(
        wiring.unit_of_work(settings_of(ctx), write=True),
        request,
        by,
        reason,
        driver_available=driver_available,
    )
    if driver_available:
        typer.echo(f"Rejected {record.request_id}; {record.driver_id}'s absence is withdrawn.")
    else:
        typer.echo(
            f"Rejected {record.request_id}; {record.driver_id}'s absence stays recorded "
            "(--driver-available withdraws it)."
        )


@repairs_app.command("list")
def list_(
    ctx: typer.Context,
    week: Annotated[str | None, typer.Option("--week", help="ISO week.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="PENDING, PROPOSED, APPLIED or REJECTED.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List repair requests, open ones first by urgency.

    Example: dispatcher repairs list --week 2026-W03
    """
    from dispatcher.cli import wiring
    from dispatcher.services.repairs import list_repairs

    records = list_repairs(wiring.unit_of_work(settings_of(ctx)), week=week, status=status)
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import repairs as repairs_view

        emit_json([repairs_view.repair_json(r) for r in records])
        return
    from dispatcher.cli.views import repairs as repairs_view

    repairs_view.repair_list(records, settings_of(ctx))


@repairs_app.command("show")
def show(
    ctx: typer.Context,
    request: RequestArg,
    roster: Annotated[
        bool, typer.Option("--roster", help="Changed drivers as a week matrix, before and after.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Review a request and its proposal: diff per driver and day, churn, frozen and uncovered
    tours, audits and KPIs of the proposal next to the current plan.

    Example: dispatcher repairs show REP-20260113063000
    """
    from dispatcher.cli import wiring
    from dispatcher.services.repairs import show_repair

    detail = show_repair(wiring.unit_of_work(settings_of(ctx)), request)
    if as_json:
        from dispatcher.cli.output import emit_json
        from dispatcher.cli.views import repairs as repairs_view

        emit_json(
            {
                **repairs_view.repair_json(detail.record),
                "stale": detail.stale,
                "diff": [asdict(d) for d in detail.diff],
            }
        )
        return
    from dispatcher.cli.views import repairs as repairs_view

    if roster:
        repairs_view.repair_roster(detail)
    else:
        repairs_view.repair_detail(detail)
