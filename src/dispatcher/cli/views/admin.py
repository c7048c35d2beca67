"""Decisions and administration: publish and lock results, `check`, the kill switch, users,
site settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from dispatcher.cli.output import esc, status_text, stdout
from dispatcher.cli.views.common import hash_line, ts

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from dispatcher.config import Settings
    from dispatcher.domain.model import User
    from dispatcher.services.decisions import CheckReport, DecisionResult
    from dispatcher.services.kill_switch import KillSwitchReport


def decision(result: DecisionResult) -> None:
    console = stdout()
    verb = "Published" if result.action == "publish" else "Locked"
    console.print(
        f"[green]{verb}[/green] {result.run_id} v{result.version} by {esc(result.approver_id)} "
        f"({esc(result.role)}) at {result.at[:19]}Z"
    )
    if result.action == "lock":
        console.print("Plan is immutable, evidence sealed, ready for export.")
    if result.superseded:
        kind = "locked" if result.action == "lock" else "published"
        console.print(f"Supersedes the earlier {kind} plan: {', '.join(result.superseded)}")
    if result.stays_in_force:
        console.print(
            f"{result.stays_in_force} (locked) stays in force until "
            f"{result.run_id} v{result.version} is locked."
        )
    console.print(f"Status:      {status_text(result.status)}")
    console.print(hash_line("Evidence", result.evidence_hash))
    console.print(f"Audit event: #{result.event_seq}")


def check_report(report: CheckReport) -> None:
    console = stdout()
    table = Table(
        title=f"{report.action} {report.run_id} v{report.version}: gate checks in order",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("")
    table.add_column("Check")
    table.add_column("Message when refused")
    for number, result in enumerate(report.results, start=1):
        mark = "[green]✓[/green]" if result.passed else "[red]✗[/red]"
        table.add_row(str(number), mark, result.name, "" if result.passed else esc(result.message))
    console.print(table)
    failures = [r for r in report.results if not r.passed]
    if not failures:
        console.print(f"[green]{report.action} would be allowed.[/green]")
    else:
        console.print(
            f"[red]{report.action} would be blocked[/red] ({len(failures)} failing): "
            f"{esc(failures[0].message)}"
        )


def kill_switch(report: KillSwitchReport, settings: Settings) -> None:
    console = stdout()
    state = report.effective
    if state.active:
        console.print(
            f"Kill switch: 🚫 [red]ACTIVE[/red] for {settings.tenant}/{settings.site} "
            f"({state.scope}, by {esc(state.actor_id)}: {esc(state.reason)})"
        )
    else:
        console.print(f"Kill switch: ✅ inactive for {settings.tenant}/{settings.site}")
    console.print(
        f"Global: {'active' if report.global_active else 'inactive'}   "
        f"Site: {'active' if report.site_active else 'inactive'}"
    )
    if not report.history:
        console.print("No kill-switch changes yet.")
        return
    table = Table(title="History (newest first)", title_justify="left")
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("Scope", no_wrap=True)
    table.add_column("Change", no_wrap=True)
    table.add_column("By", overflow="fold")
    table.add_column("Reason", ratio=1, overflow="fold")
    for entry in report.history:
        change = "[red]activated[/red]" if entry.active else "[green]deactivated[/green]"
        table.add_row(
            ts(entry.changed_at), esc(entry.target), change, esc(entry.actor_id), esc(entry.reason)
        )
    console.print(table)


def user_list(users: list[User], settings: Settings) -> None:
    console = stdout()
    if not users:
        console.print(
            f"No users for tenant {settings.tenant} yet. Start with a platform admin: "
            'dispatcher users add admin01 --name "..." --role platform_admin'
        )
        return
    table = Table(title=f"Users - {settings.tenant}", title_justify="left")
    linked = any(user.login for user in users)
    for column in ("ID", "Name", "Roles", "Active", *(("Login",) if linked else ())):
        table.add_column(column)
    for user in users:
        active = "[green]yes[/green]" if user.active else "[red]no[/red]"
        row = [esc(user.user_id), esc(user.name), esc(", ".join(user.roles)), active]
        if linked:
            row.append(esc(user.login) if user.login else "[dim]-[/dim]")
        table.add_row(*row)
    console.print(table)


def site_settings(values: dict[str, object], settings: Settings, initialised: bool) -> None:
    console = stdout()
    note = "" if initialised else " (not initialised yet: defaults shown)"
    table = Table(
        title=f"Site settings - {settings.tenant}/{settings.site}{note}", title_justify="left"
    )
    table.add_column("Setting")
    table.add_column("Value")
    for name, value in values.items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        table.add_row(name, esc(shown))
    console.print(table)
