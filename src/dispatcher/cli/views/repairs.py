"""Repairs: a proposal, `repairs list`, `repairs show` (also `--roster`); tables and JSON views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from dispatcher.cli.output import count, esc, percent, stdout
from dispatcher.cli.views.common import hm, iso, ts
from dispatcher.domain.vocabulary import AUDIT_NAMES, DAY_NAMES

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from dispatcher.config import Settings
    from dispatcher.domain.proposal import RepairProposal
    from dispatcher.domain.records import RepairRecord
    from dispatcher.services.repairs import DriverDiff, RepairDetail


LIST_WIDE = 100  # `repairs list` shows the week and urgency from this width
ROSTER_WIDE = 120  # `repairs show --roster` as one before/after matrix from this width


def proposal_summary(proposal: RepairProposal, *, review_hint: bool = True) -> None:
    console = stdout()
    objective, solver = proposal.objective, proposal.solver
    state = "[green]complete[/green]" if proposal.complete else "[red]partial[/red]"
    if not proposal.affected:
        state = "[yellow]nothing to reassign[/yellow]"
    console.print(
        f"Proposal for {proposal.request_id} on {proposal.run_id} v{proposal.base_version} "
        f"(as of {proposal.as_of}): {state}"
    )
    if len(proposal.requests) > 1:
        console.print(f"Covers {len(proposal.requests)} open requests of the run:")
        for item in proposal.requests:
            console.print(
                esc(f"  {item.request_id}  {item.driver_id} {item.absence_type}, {item.scope}")
            )
    for left in proposal.left_open:
        console.print(
            f"[yellow]Left open (--only):[/yellow] {esc(left)}; its absence counts in the "
            "proposal's audits"
        )
    console.print(
        f"Covered {objective.covered}/{objective.affected} affected tours; "
        f"{count(objective.drivers_changed, 'driver')} changed, "
        f"{count(objective.moved, 'tour')} moved, "
        f"highest weekly work among them {hm(objective.max_weekly_minutes)}"
    )
    proven = "optimal (proven)" if solver.proven_optimal else "best found, optimality not proven"
    console.print(f"Solver: {solver.name}, {solver.runtime_ms} ms, {proven}")
    console.print(
        f"(greedy for comparison: {proposal.greedy_covered} covered, "
        f"{count(proposal.greedy_drivers_changed, 'driver')} changed)"
    )
    if not proposal.affected:
        console.print(
            "Nothing to reassign: no tour of the absent driver in this scope starts after now."
        )
    if proposal.frozen:
        console.print(f"Frozen (start within the freeze window): {len(proposal.frozen)} tours")
    for tour in proposal.uncovered:
        console.print(f"[red]Uncovered[/red] {esc(tour.instance_id)}: {esc(tour.reason)}")
    if not proposal.complete:
        console.print(f"Extra drivers needed to cover the rest: {proposal.extra_drivers_needed}")
    if review_hint:
        console.print(f"Review: dispatcher repairs show {proposal.request_id}")


def repair_list(records: list[RepairRecord], settings: Settings) -> None:
    console = stdout()
    if not records:
        console.print(f"No repair requests for {settings.tenant}/{settings.site} match.")
        return
    wide = console.width >= LIST_WIDE
    table = Table(
        title=f"Repair requests - {settings.tenant}/{settings.site}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    # Ids, runs and statuses stand whole; the scope wraps between its days or tours. Below
    # LIST_WIDE columns the week (the run's) and the urgency are left to `repairs show`.
    columns = ["Request", "Driver", "Type", "Scope", "Status", "Run"]
    if wide:
        columns[1:1] = ["Week"]
        columns[-2:-2] = ["Urgency"]
    for column in columns:
        table.add_column(column, no_wrap=column != "Scope", overflow="fold")
    for r in records:
        scope = r.scope.get("kind", "")
        if scope == "days":
            scope = ", ".join(DAY_NAMES[d - 1] for d in r.scope["days"])
        elif scope == "tours":
            scope = ", ".join(r.scope["instances"])
        values = {
            "Request": r.request_id,
            "Week": r.week,
            "Driver": r.driver_id,
            "Type": r.absence_type,
            "Scope": scope,
            "Urgency": r.urgency,
            "Status": r.status,
            "Run": f"{r.run_id} v{r.base_version}",
        }
        table.add_row(*(esc(values[column]) for column in columns))
    console.print(table)


def repair_detail(detail: RepairDetail) -> None:
    console = stdout()
    r = detail.record
    console.rule(f"[bold]{r.request_id}[/bold] {r.status}", align="left")
    console.print(
        esc(f"Driver:    {r.driver_id} ({r.driver_name}), {r.absence_type}, urgency {r.urgency}")
    )
    console.print(f"Run:       {r.run_id} v{r.base_version}, week {r.week}")
    console.print(
        esc(
            f"Requested: {ts(r.created_at)} by {r.requester}" + (f" - {r.notes}" if r.notes else "")
        )
    )
    if r.resolved_at:
        console.print(
            esc(f"Resolved:  {ts(r.resolved_at)} by {r.resolved_by}: {r.resolution_reason}")
        )
    proposal = r.proposal
    if proposal is None:
        console.print("No proposal yet: dispatcher run-repair --request " + r.request_id)
        return
    proposal_summary(proposal, review_hint=False)
    if detail.stale:
        console.print(f"[red]{esc(detail.stale)}[/red]")
    for driver in detail.diff:
        console.print(_driver_days(driver, driver.days))
    compare = Table(title="Current plan vs proposal", title_justify="left")
    compare.add_column("")
    compare.add_column("Current", justify="right")
    compare.add_column("Proposal", justify="right")
    current, proposed = proposal.current, proposal.proposed
    for audit in AUDIT_NAMES:
        if audit in current.audits:
            found, left = current.audits[audit], proposed.audits[audit]
            compare.add_row(f"{audit} violations", str(found), str(left))
    for kpi in ("coverage_bp", "drivers_used", "max_minutes", "fte_ratio_bp"):
        compare.add_row(kpi, _kpi(kpi, current.kpis[kpi]), _kpi(kpi, proposed.kpis[kpi]))
    churn = proposed.kpis.get("churn")
    if churn:
        compare.add_row(
            "churn",
            "-",
            f"{churn['tours_moved']} moved, {churn['drivers_changed']} drivers, "
            f"{percent(churn['churn_bp'])}",
        )
    console.print(compare)


def _kpi(name: str, value: int) -> str:
    if name.endswith("_bp"):
        return percent(value)
    return hm(value) if name.endswith("minutes") else str(value)


def repair_roster(detail: RepairDetail) -> None:
    """Changed drivers before and after, day by day; changed days marked."""
    console = stdout()
    r = detail.record
    if r.proposal is None:
        console.print(f"No proposal yet: dispatcher run-repair --request {r.request_id}")
        return
    if console.width < ROSTER_WIDE:
        _roster_by_driver(detail)
        return
    table = Table(
        title=f"{r.request_id}: changed drivers, before and after",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("Driver", no_wrap=True)
    table.add_column("")
    for day in DAY_NAMES:
        table.add_column(day)
    table.add_column("Hours", justify="right")
    for driver in detail.diff:
        before = [esc(b) for _, b, _ in driver.week]
        after = [esc(a) if a == b else f"[yellow]* {esc(a)}[/yellow]" for _, b, a in driver.week]
        table.add_row(
            f"{esc(driver.driver_id)}\n{esc(driver.name)}",
            "before",
            *before,
            hm(driver.hours_before),
        )
        table.add_row("", "after", *after, hm(driver.hours_after))
    console.print(table)
    console.print("* changed by the proposal")


def _roster_by_driver(detail: RepairDetail) -> None:
    """Below ROSTER_WIDE columns: a day x (before, after) table per changed driver."""
    console = stdout()
    console.print(f"{detail.record.request_id}: changed drivers, before and after")
    for driver in detail.diff:
        console.print(_driver_days(driver, driver.week, mark=True))
    console.print("* changed by the proposal")


def _driver_days(
    driver: DriverDiff, days: list[tuple[str, str, str]], *, mark: bool = False
) -> Table:
    """One changed driver's days, before and after (`mark`: a changed day gets a `*`)."""
    table = Table(
        title=f"{esc(driver.driver_id)} {esc(driver.name)}: "
        f"{hm(driver.hours_before)} -> {hm(driver.hours_after)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Day", no_wrap=True)
    table.add_column("Before")
    table.add_column("After")
    for day, before, after in days:
        changed = mark and after != before
        table.add_row(
            day, esc(before), f"[yellow]* {esc(after)}[/yellow]" if changed else esc(after)
        )
    return table


def repair_json(record: RepairRecord) -> dict[str, Any]:
    return {
        "request_id": record.request_id,
        "run_id": record.run_id,
        "base_version": record.base_version,
        "week": record.week,
        "driver_id": record.driver_id,
        "driver_name": record.driver_name,
        "type": record.absence_type,
        "scope": dict(record.scope),
        "requester": record.requester,
        "urgency": record.urgency,
        "notes": record.notes,
        "status": record.status,
        "created_at": iso(record.created_at),
        "proposed_at": iso(record.proposed_at),
        "proposal": None if record.proposal_document is None else dict(record.proposal_document),
        "resolved_at": iso(record.resolved_at),
        "resolved_by": record.resolved_by,
        "resolution_reason": record.resolution_reason,
        "applied_version": record.applied_version,
    }
