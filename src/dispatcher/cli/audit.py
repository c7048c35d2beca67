"""`dispatcher audit`: read and verify the hash-chained audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.errors import EXIT_FAILED
from dispatcher.cli.options import JsonFlag, LimitOpt

audit_app = typer.Typer(
    help="The audit trail: every gate decision and change, append-only and hash-chained.",
    no_args_is_help=True,
)


@audit_app.command("log")
def log(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option("--run", help="Only events about this run.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. publish or lock.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only events by this user.")] = None,
    limit: LimitOpt = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the newest audit events of this site (oldest first).

    Example: dispatcher audit log --action publish --limit 10
    """
    from dispatcher.cli import render, wiring
    from dispatcher.services.audit import list_events

    settings = settings_of(ctx)
    events = list_events(
        wiring.unit_of_work(settings), run_id=run, action=action, actor_id=actor, limit=limit
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json([asdict(event) for event in events])
        return
    render.audit_log(events, settings)


@audit_app.command("verify")
def verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Recompute the whole hash chain of this site; exit 1 at the first broken event.

    Example: dispatcher audit verify
    """
    from dispatcher.cli import render, wiring
    from dispatcher.services.audit import verify_audit_chain

    settings = settings_of(ctx)
    report = verify_audit_chain(wiring.unit_of_work(settings))
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(report))
    else:
        render.chain_report(report, settings)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
