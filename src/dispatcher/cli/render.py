"""Rich rendering of service results. Only the CLI imports this module, inside commands."""

from __future__ import annotations

from rich.table import Table

from dispatcher.cli.output import stdout
from dispatcher.config import Settings
from dispatcher.db.queries import EventRow
from dispatcher.domain.events import ChainReport


def _short(digest: str | None) -> str:
    return "" if digest is None else digest[:19] + "…"


def audit_log(events: list[EventRow], settings: Settings) -> None:
    console = stdout()
    if not events:
        console.print(f"No audit events for {settings.tenant}/{settings.site} match.")
        return
    table = Table(title=f"Audit log - {settings.tenant}/{settings.site}", title_justify="left")
    for column in ("Seq", "Time (UTC)", "Action", "Outcome", "Actor", "Run", "Detail"):
        table.add_column(column, overflow="fold")
    for event in events:
        outcome = "[green]allowed[/green]" if event.outcome == "allowed" else "[red]blocked[/red]"
        actor = event.actor_id or "system"
        if event.actor_role:
            actor += f" ({event.actor_role})"
        run = event.run_id or ""
        if event.plan_version is not None:
            run += f" v{event.plan_version}"
        detail = event.detail.get("message") or event.reason or ""
        table.add_row(
            str(event.seq), event.occurred_at[:19], event.action, outcome, actor, run, str(detail)
        )
    console.print(table)


def chain_report(report: ChainReport, settings: Settings) -> None:
    console = stdout()
    if report.ok:
        console.print(
            f"[green]Audit chain intact[/green] for {settings.tenant}/{settings.site}: "
            f"{report.count} events, tip {report.tip_hash}"
        )
        return
    import sys

    sys.stderr.write(f"Error: audit chain broken at seq {report.broken_seq}: {report.problem}\n")
