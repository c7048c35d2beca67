"""`dispatcher kill-switch`: block every publish, lock and export in an emergency."""

from __future__ import annotations

from typing import Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import AdminReasonOpt, ByOpt, JsonFlag, LimitOpt

kill_switch_app = typer.Typer(
    help="Emergency stop: while active, publish, lock and export are refused.",
    no_args_is_help=True,
)
ScopeOpt = Annotated[
    str, typer.Option("--scope", help="global (every site) or site (this site only).")
]


def _operate(ctx: typer.Context, activate: bool, by: str, reason: str, scope: str) -> None:
    from dispatcher.cli import wiring
    from dispatcher.services.kill_switch import operate_kill_switch

    result = operate_kill_switch(
        wiring.unit_of_work(
            settings_of(ctx),
            write=True,
            platform=scope.strip().lower() == "global",
            create=True,
        ),
        activate=activate,
        by=by,
        reason=reason,
        scope=scope,
    )
    state = "ACTIVATED: publish, lock and export are refused" if activate else "deactivated"
    typer.echo(f"Kill switch ({result.scope}) {state}. Audit event #{result.event_seq}.")


@kill_switch_app.command("activate")
def activate(
    ctx: typer.Context, by: ByOpt, reason: AdminReasonOpt, scope: ScopeOpt = "global"
) -> None:
    """Activate the kill switch (registered platform_admin only).

    Example: dispatcher kill-switch activate --by admin01 --reason "Security incident: cross-tenant data exposure suspected"
    """
    _operate(ctx, True, by, reason, scope)


@kill_switch_app.command("deactivate")
def deactivate(
    ctx: typer.Context, by: ByOpt, reason: AdminReasonOpt, scope: ScopeOpt = "global"
) -> None:
    """Deactivate the kill switch (registered platform_admin only).

    Example: dispatcher kill-switch deactivate --by admin01 --reason "Incident resolved, RLS verified"
    """
    _operate(ctx, False, by, reason, scope)


@kill_switch_app.command("status")
def status(ctx: typer.Context, limit: LimitOpt = 20, as_json: JsonFlag = False) -> None:
    """Show whether the kill switch blocks this site, and its history.

    Example: dispatcher kill-switch status
    """
    from dispatcher.cli import wiring
    from dispatcher.services.kill_switch import kill_switch_report

    report = kill_switch_report(wiring.unit_of_work(settings_of(ctx)), limit)
    if as_json:
        from dataclasses import asdict

        from dispatcher.cli.output import emit_json

        emit_json(asdict(report))
        return
    from dispatcher.cli.views import admin as admin_view

    admin_view.kill_switch(report, settings_of(ctx))
