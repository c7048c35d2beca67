"""Human decisions: `check`, `publish`, `lock`, `export`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.errors import EXIT_BLOCKED
from dispatcher.cli.options import (
    ApproverOpt,
    JsonFlag,
    OverrideOpt,
    ReasonOpt,
    RoleOpt,
    RunIdArg,
)
from dispatcher.cli.views.common import hash_line

if TYPE_CHECKING:
    from dispatcher.domain.gates import ApprovalInput

decisions_app = typer.Typer()


def _approval(
    approver: str | None, role: str | None, reason: str | None, override: str | None
) -> ApprovalInput:
    from dispatcher.domain.gates import ApprovalInput

    return ApprovalInput(approver, role, reason, override)


def _decide(
    ctx: typer.Context, action: str, run_id: str, approval: ApprovalInput, as_json: bool
) -> None:
    from dispatcher.cli import wiring
    from dispatcher.services.decisions import decide

    result = decide(wiring.unit_of_work(settings_of(ctx), write=True), run_id, action, approval)
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json(asdict(result))
        return
    from dispatcher.cli.views import admin as admin_view

    admin_view.decision(result)


@decisions_app.command("publish")
def publish(
    ctx: typer.Context,
    run_id: RunIdArg,
    approver: ApproverOpt = None,
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    override_reason: OverrideOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish the run's current plan version, with your approval. Exit 2 when a gate refuses.

    Gates, in order: kill switch, shadow mode, publish enabled, approval given, role allowed,
    approver registered and holding the role, reason length, not locked, not yet published,
    evidence intact, status PASS (or WARN with --override-reason), no pending repairs, drift
    not BLOCK. Example:
    dispatcher publish RUN-20260113-001 --approver disp001 --role dispatcher --reason "Week 2026-W03 reviewed, all audits pass"
    """
    _decide(ctx, "publish", run_id, _approval(approver, role, reason, override_reason), as_json)


@decisions_app.command("lock")
def lock(
    ctx: typer.Context,
    run_id: RunIdArg,
    approver: ApproverOpt = None,
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    override_reason: OverrideOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Lock the published plan for export: immutable, evidence sealed. Exit 2 when refused.

    Needs the current version published with the same evidence, and by default another person
    than the publisher. Example:
    dispatcher lock RUN-20260113-001 --approver ops001 --role ops_lead --reason "Approved for export to dispatch system"
    """
    _decide(ctx, "lock", run_id, _approval(approver, role, reason, override_reason), as_json)


@decisions_app.command("check")
def check(
    ctx: typer.Context,
    run_id: RunIdArg,
    action: Annotated[
        str, typer.Option("--action", help="publish or lock.", case_sensitive=False)
    ] = "publish",
    approver: ApproverOpt = None,
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    override_reason: OverrideOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Show every gate of publish or lock for this run, passed or not. Changes nothing.

    Exit 0 if the action would be allowed, 2 if not. Example:
    dispatcher check RUN-20260113-001 --action lock --approver ops001 --role ops_lead --reason "Ready for export"
    """
    from dispatcher.cli import wiring
    from dispatcher.domain.errors import InvalidInput
    from dispatcher.services.decisions import check_action

    action = action.lower()
    if action not in ("publish", "lock"):
        raise InvalidInput(f"Unknown action {action!r}: use publish or lock")
    approval = _approval(approver, role, reason, override_reason)
    report = check_action(wiring.unit_of_work(settings_of(ctx)), run_id, action, approval)
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json({**asdict(report), "allowed": report.allowed})
    else:
        from dispatcher.cli.views import admin as admin_view

        admin_view.check_report(report)
    if not report.allowed:
        raise typer.Exit(EXIT_BLOCKED)


@decisions_app.command("export")
def export(
    ctx: typer.Context,
    run_id: RunIdArg,
    out: Annotated[Path, typer.Option("--out", help="File to write (must not exist yet).")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    by: Annotated[
        str | None,
        typer.Option("--by", help="Your user id (a registered user), for the audit log."),
    ] = None,
    delta: Annotated[
        bool,
        typer.Option(
            "--delta",
            help="Only the rows added, removed or changed since the version exported last "
            "(after an amendment's lock); the manifest names the base export.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Export a locked plan for the dispatch system, with a manifest (OUT.manifest.json).

    Re-verifies the evidence first and writes nothing on a mismatch; refused while the kill
    switch is active. Example: dispatcher export RUN-20260113-001 --format csv --out w03.csv
    """
    from dispatcher.cli import wiring
    from dispatcher.services.decisions import export_run

    result = export_run(
        wiring.unit_of_work(settings_of(ctx), write=True),
        run_id,
        fmt.lower(),
        out,
        by,
        delta=delta,
    )
    if as_json:
        from dispatcher.cli.output import emit_json

        emit_json({**asdict(result), "path": str(result.path), "manifest": str(result.manifest)})
        return
    what = "changed rows" if delta else "rows"
    typer.echo(f"Exported {result.run_id} v{result.version}: {result.rows} {what} to {result.path}")
    typer.echo(f"Manifest: {result.manifest} (sha256:{result.sha256})")
    typer.echo(hash_line("Evidence", result.evidence_hash))
