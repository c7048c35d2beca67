"""The audit trail: `audit log`, `audit verify` (chains and state), checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from dispatcher.cli.output import count, error_line, esc, stdout

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from dispatcher.config import Settings
    from dispatcher.domain.events import ChainReport
    from dispatcher.domain.views import EventRow
    from dispatcher.services.state import StateReport


def audit_log(events: list[EventRow], settings: Settings) -> None:
    """One row per event, newest last: what happened and its outcome above the message or reason,
    the actor above the role, so that it reads in 80 columns. A log of one run names the run in
    its title and keeps only the plan version in the rows."""
    console = stdout()
    if not events:
        console.print(f"No audit events for {settings.tenant}/{settings.site} match.")
        return
    runs = {event.run_id for event in events}
    one_run = next(iter(runs)) if len(runs) == 1 and None not in runs else None
    title = f"Audit log - {settings.tenant}/{settings.site}"
    if one_run:
        title += f" - {one_run}"
    table = Table(
        title=esc(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("Seq", justify="right", no_wrap=True)
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("Event", ratio=1, min_width=20, overflow="fold")
    table.add_column("Actor", max_width=14, overflow="fold")
    table.add_column("Version" if one_run else "Run", max_width=16, overflow="fold")
    for event in events:
        colour = "green" if event.outcome == "allowed" else "red"
        what = f"{esc(event.action)} [{colour}]{event.outcome}[/{colour}]"
        detail = event.detail.get("message") or event.reason or ""
        if detail:
            what += f"\n[dim]{esc(detail)}[/dim]"
        actor = esc(event.actor_id or "-")
        if event.actor_role:
            actor += f"\n({esc(event.actor_role)})"
        run = "" if one_run else esc(event.run_id or "")
        if event.plan_version is not None:
            run += f" v{event.plan_version}" if run else f"v{event.plan_version}"
        table.add_row(str(event.seq), event.occurred_at[:16].replace("T", " "), what, actor, run)
    console.print(table)


def chain_name(chain: tuple[str, str]) -> str:
    """How a chain is named to people: LTS/WIEN, LTS user registry, platform."""
    tenant, site = chain
    if tenant == "*":
        return "the platform"
    return f"the {tenant} user registry" if site == "*" else f"{tenant}/{site}"


def chain_reports(chains: list[tuple[tuple[str, str], ChainReport]], settings: Settings) -> None:
    """One line per chain; the site's first. A broken chain's line goes to stderr."""

    console = stdout()
    for index, (chain, report) in enumerate(chains):
        name = chain_name(chain)
        if report.ok:
            # The tip on a line of its own: beside the name it wrapped at 80 columns.
            console.print(
                f"[green]Audit chain intact[/green] for {esc(name)}: "
                f"{count(report.count, 'event')}\n  tip {report.tip_hash}"
            )
            continue
        where = "" if index == 0 else f" ({name})"
        error_line(f"Error: audit chain{where} broken at seq {report.broken_seq}: {report.problem}")


def state_report(report: StateReport) -> None:

    console = stdout()
    counted = ", ".join(f"{n} {table}" for table, n in sorted(report.checked.items()))
    if report.ok:
        console.print(f"[green]State matches the audit trail[/green]: {counted}")
        return
    for problem in report.problems:
        console.print(f"[red]Mismatch[/red] {esc(problem.line)}")
    problems = len(report.problems)
    error_line(
        f"Error: {problems} state row{'s do' if problems != 1 else ' does'} not match the "
        "audit trail"
    )


def checkpoint_result(name: str, problem: str | None) -> None:
    if problem is None:
        stdout().print(f"[green]Checkpoint {name} verified[/green]: the chain still extends it")
        return

    error_line(f"Error: checkpoint {name}: {problem}")
