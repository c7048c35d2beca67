"""Runs: `import-run`, `list-runs`, `show-run` (each section its own renderable), `solve`: their
tables and JSON views together."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from dispatcher.cli.output import esc, level_text, percent, status_text, stdout
from dispatcher.cli.views.common import hash_line, iso, ts
from dispatcher.domain.vocabulary import AUDIT_COUNT, format_hours

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from collections.abc import Mapping, Sequence

    from dispatcher.config import Settings
    from dispatcher.domain.audits import AuditResult, Violation
    from dispatcher.domain.kpis import Kpis
    from dispatcher.domain.views import RunSummary
    from dispatcher.domain.weeks import WeekPlans
    from dispatcher.services.results import ImportResult, RunDetail
    from dispatcher.services.solving import SolveResult


LEGEND = "Status: ✅ PASS | ⚠️  WARN | ❌ FAIL | 🚫 BLOCKED | ⏳ PENDING"


ROLE_MARKS = {"in force": "▶", "working": "✎"}


PLAN_LEGEND = "Pub/Lock: vN published, 🔒 locked, ▶ in force, ✎ working run (publish next)"


def import_result(result: ImportResult) -> None:
    console = stdout()
    console.print(
        f"Imported [bold]{result.run_id}[/bold] v{result.version} for {result.week}: "
        f"{result.instances} tour instances, {result.drivers_used} drivers"
    )
    console.print(f"Status:   {status_text(result.status)}  ({esc(result.status_reason)})")
    console.print(
        f"Audits:   {result.audits_passed}/7   Coverage: {percent(result.coverage_bp)}   "
        f"Drift: {level_text(result.drift_level)}"
    )
    console.print(hash_line("Evidence", result.evidence_hash))
    console.print(f"Next:     dispatcher show-run {result.run_id}")


def _markers(run: RunSummary, plans: WeekPlans | None = None) -> str:
    marks = []
    if run.published_version is not None:
        marks.append(f"v{run.published_version}")
    if run.locked:  # an amendment published since the lock: the lock names its own version
        same = run.locked_version == run.published_version
        marks.append("🔒" if same else f"🔒v{run.locked_version}")
    if run.superseded:
        marks.append("superseded")
    role = None if plans is None else plans.role_of(run.run_id)
    if role is not None:
        marks.append(ROLE_MARKS[role])
    return " ".join(marks)


def week_role(plans: WeekPlans, run_id: str) -> str:
    """What one run is for its week, in a line (show-run)."""
    role = plans.role_of(run_id)
    pending = plans.pending_text()
    if role == "in force":
        return f"in force: {plans.in_force_text()}" + (f"; {pending}" if pending else "")
    if role == "working" and plans.in_force is not None and plans.successor is not None:
        published = plans.successor.published_version
        step = "locked" if plans.successor.version == published else "published and locked"
        return (
            f"v{published} published to replace {plans.in_force_text()}; "
            f"v{plans.successor.version} in force once {step}"
        )
    if role == "working":
        return f"the working run of {plans.week} (nothing in force yet)"
    if plans.in_force is not None:
        return f"not in force (in force: {plans.in_force_text()})"
    if any(c.run_id == run_id for c in plans.candidates):
        count = len(plans.candidates)
        return f"one of {count} runs that could be published (nothing in force yet)"
    return f"not in force (nothing of {plans.week} is in force yet)"


def week_lines(plans: WeekPlans) -> list[tuple[str, str]]:
    """(label, text) lines saying which version of the week is in force and which run is
    worked on (status, show-run)."""
    lines = [("In force", plans.in_force_text())]
    pending = plans.pending_text()
    if pending is not None:
        lines.append(("Pending", pending))
    working = plans.working
    if working is None:
        count = len(plans.candidates)
        text = (
            f"not chosen: {count} runs could be published (repairs need --run)"
            if count
            else "none (every run is FAIL)"
        )
        lines.append(("Working", text))
    elif plans.in_force is None:
        lines.append(("Working", f"{working.run_id} v{working.version} ({working.status})"))
    elif plans.locked and pending is None:
        lines.append(("Working", "the plan in force is locked (sick calls: --amend)"))
    return lines


def listing(title: str, *, gap: int) -> Table:
    """A compact list of runs or sites: horizontal rules only, the status legend below, `gap`
    spaces between columns (0 keeps list-runs inside 80 columns)."""
    return Table(
        title=title,
        caption=LEGEND,
        title_justify="left",
        caption_justify="left",
        box=box.HORIZONTALS,
        show_edge=False,
        pad_edge=False,
        padding=(0, gap, 0, 0),
    )


def run_list(
    runs: list[RunSummary], settings: Settings, plans: Mapping[str, WeekPlans] | None = None
) -> None:
    console = stdout()
    if not runs:
        console.print(
            f"No runs for {settings.tenant}/{settings.site} match. "
            "Import one with: dispatcher import-run FILE"
        )
        return
    table = listing(f"LATEST RUNS - {settings.tenant}/{settings.site}", gap=0)
    for name in ("Run ID", "Week", "Status"):
        table.add_column(name, no_wrap=True)
    for name in ("Drivers", "Coverage", "Audits"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Drift", no_wrap=True)
    table.add_column("Pub/Lock", overflow="fold")
    for run in runs:
        version = f" v{run.version}" if run.version > 1 else ""
        table.add_row(
            run.run_id + version,
            run.week,
            status_text(run.status),
            str(run.drivers_used),
            percent(run.coverage_bp),
            f"{run.audits_passed}/7",
            level_text(run.drift_level),
            _markers(run, (plans or {}).get(run.week)),
        )
    if plans:
        table.caption = f"{LEGEND}\n{PLAN_LEGEND}"
    console.print(table)


def _audit_rows(detail: RunDetail) -> list[tuple[str, bool, str]]:
    """Audit lines by name; Fatigue shows its two sub-rules so the weekly cap is never hidden."""
    rows = []
    for audit in detail.audits:
        count = len(audit.violations)
        note = f" ({esc(audit.note)})" if audit.note else ""
        if audit.name == "Fatigue":
            triples = len(audit.kinds("CONSECUTIVE_3ER"))
            hours = len(audit.kinds("WEEKLY_HOURS"))
            rows.append((audit.name, audit.passed, f"{count} violation(s){note}"))
            rows.append(("  └ consecutive 3er days", triples == 0, f"{triples} violation(s)"))
            rows.append(("  └ weekly hours cap", hours == 0, f"{hours} violation(s)"))
        else:
            rows.append((audit.name, audit.passed, f"{count} violation(s){note}"))
    return rows


def _threshold_value(unit: str, value: int | None) -> str:
    if value is None:
        return "-"
    if unit == "bp":
        return percent(value)
    if unit == "minutes":
        return f"{format_hours(value)} h"
    return str(value)


def audits_table(detail: RunDetail) -> Table:
    """The seven audits by name, Fatigue with its two sub-rules."""
    table = Table(title="Audits", title_justify="left")
    table.add_column("Audit")
    table.add_column("Result")
    table.add_column("Detail")
    for name, passed, text in _audit_rows(detail):
        table.add_row(name, "[green]PASS[/green]" if passed else "[red]FAIL[/red]", text)
    return table


def violations_table(shown: Sequence[Violation]) -> Table:
    # 80 columns: the names and the driver stand whole, dates and instances wrap between
    # their items, the message takes the rest.
    table = Table(
        title="Violations",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in ("Audit", "Kind", "Driver"):
        table.add_column(column, no_wrap=True)
    table.add_column("Date", min_width=10)
    table.add_column("Instances", min_width=8, max_width=18)
    table.add_column("Message", overflow="fold", ratio=1, min_width=20)
    for v in shown:
        table.add_row(
            *map(
                esc,
                (
                    v.audit,
                    v.kind,
                    v.driver_id or "-",
                    ", ".join(v.dates),
                    ", ".join(v.instances),
                    v.message,
                ),
            )
        )
    return table


def kpi_table(kpis: Kpis) -> Table:
    table = Table(title="KPIs", title_justify="left")
    table.add_column("KPI")
    table.add_column("Value", justify="right")
    mix = ", ".join(f"{k} {v}" for k, v in kpis.block_mix.items() if v)
    for name, value in (
        ("Drivers (used / pool)", f"{kpis.drivers_used} / {kpis.pool_size}"),
        ("FTE / PT drivers", f"{kpis.fte_drivers} / {kpis.pt_drivers}"),
        ("FTE ratio / PT ratio", f"{percent(kpis.fte_ratio_bp)} / {percent(kpis.pt_ratio_bp)}"),
        ("Hours total", f"{format_hours(kpis.total_minutes)} h"),
        (
            "Hours max / min / avg",
            f"{format_hours(kpis.max_minutes)} / "
            f"{format_hours(kpis.min_minutes)} / {format_hours(kpis.avg_minutes)} h",
        ),
        ("Block mix (duty days)", mix or "-"),
    ):
        table.add_row(name, value)
    if kpis.churn is not None:
        table.add_row(
            "Churn vs parent",
            f"{kpis.churn.tours_moved} tours moved, {kpis.churn.drivers_changed} drivers changed "
            f"({percent(kpis.churn.churn_bp)})",
        )
    return table


def drift_table(detail: RunDetail) -> Table:
    table = Table(title=f"KPI drift: {level_text(detail.drift.level)}", title_justify="left")
    for column in ("Metric", "Value", "Baseline", "WARN when", "BLOCK when", "Level"):
        table.add_column(column, no_wrap=column in ("Metric", "Value", "Level"))
    for m in detail.drift.metrics:
        table.add_row(
            m.metric,
            _threshold_value(m.unit, m.value),
            _threshold_value(m.unit, m.baseline),
            m.warn,
            m.block,
            level_text(m.level),
        )
    return table


def checklist_table(detail: RunDetail) -> Table:
    """What the next step (publish, lock, export) still needs, a line per check."""
    table = Table(title=esc(detail.checklist_title), title_justify="left")
    table.add_column("")
    table.add_column("Check")
    table.add_column("Detail", overflow="fold")
    for item in detail.checklist:
        table.add_row("✅" if item.ok else "❌", item.label, esc(item.detail))
    return table


def run_detail(detail: RunDetail, *, details: bool) -> None:
    console = stdout()
    run, version, kpis = detail.run, detail.version, detail.kpis
    current = " (current)" if version.version == run.current_version else " (not current)"
    console.rule(
        f"[bold]{run.run_id} v{version.version}{current} - {run.week}[/bold]", align="left"
    )
    console.print(f"Status:    {status_text(detail.status)}  {esc(detail.status_reason)}")
    if detail.week_plans is not None:
        console.print(esc(f"Week plan: {week_role(detail.week_plans, run.run_id)}"))
    solver = run.solver_name + (f" {run.solver_version}" if run.solver_version else "")
    console.print(f"Created:   {ts(run.created_at)} by {run.origin} ({esc(solver)})")
    console.print(
        f"Coverage:  {kpis.instances_covered}/{kpis.instances_total} instances "
        f"({percent(kpis.coverage_bp)})"
    )
    console.print(audits_table(detail))
    console.print(f"Audits passed: {sum(a.passed for a in detail.audits)}/{AUDIT_COUNT}")
    failing = [v for a in detail.audits for v in a.violations]
    if failing:
        shown = failing if details else failing[:10]
        console.print(violations_table(shown))
        if len(shown) < len(failing):
            console.print(f"... {len(failing) - len(shown)} more: use --details to list all")
    console.print(kpi_table(kpis))
    console.print(drift_table(detail))
    base = detail.drift.baseline
    console.print(
        "Baseline:  "
        + (
            "none (no locked earlier week): headcount drift UNKNOWN"
            if base is None
            else f"{base.run_id} v{base.version} ({base.week})"
        )
    )
    verified = "[green]verified[/green]" if detail.evidence_ok else "[red]MISMATCH[/red]"
    # the hash on a line of its own: 71 characters, never split, within 80 columns
    console.print(f"Evidence:  {verified}\n  {version.evidence_hash}")
    for problem in detail.evidence_problems:
        console.print(f"           [red]{esc(problem)}[/red]")
    console.print(
        f"Published: {'yes' if version.published else 'no'}"
        + (
            f"  at {ts(version.published_at)} by {esc(version.published_by)}"
            if version.published
            else ""
        )
    )
    locked = "no"
    if run.locked:
        locked = f"v{run.locked_version} at {ts(run.locked_at)} by {esc(run.locked_by)}"
        if run.locked_version != version.version:  # an amendment: its own lock is to come
            locked += f"; v{version.version} not yet"
    console.print(f"Locked:    {locked}")
    if detail.superseded_by:
        console.print(f"Superseded by {detail.superseded_by}")
    console.print(
        "Versions:  " + ", ".join(f"v{v.version} ({v.origin}, {v.status})" for v in detail.versions)
    )
    console.print(
        "Repairs:   "
        + (", ".join(f"{r.request_id} ({r.status})" for r in detail.open_repairs) or "none pending")
    )
    if not detail.checklist:
        console.print(esc(detail.checklist_title))
        return
    console.print(checklist_table(detail))
    action = detail.next_action
    if action is None:
        verdict = (
            "[green]Locked and exported[/green]"
            if detail.ready
            else "[yellow]Locked, not exported yet[/yellow]"
        )
    else:
        verdict = (
            f"[green]Ready to {action}[/green]"
            if detail.ready
            else f"[red]Not ready to {action}[/red]"
        )
    console.print(verdict)


def solve_result(result: SolveResult) -> None:
    console = stdout()
    bound = result.lower_bound
    console.print(
        f"Solved {result.week} as [bold]{result.run_id}[/bold]: "
        f"{result.covered}/{result.instances} "
        f"tour instances covered by {result.drivers_used} of {result.pool_size} drivers"
    )
    console.print(
        f"Lower bound: {bound['value']} drivers (peak concurrent tours {bound['peak']}, "
        f"hours / 55 h {bound['hours']}, duty days on the busiest day {bound['duty_days']}); "
        f"gap {percent(result.gap_bp)}"
    )
    repeat = {None: "not checked", True: "yes", False: "NO"}[result.reproduced]
    console.print(f"Status:   {status_text(result.status)}  ({result.status_reason})")
    console.print(
        f"Solve:    {result.runtime_ms / 1000:.1f} s; repeats with the same seed: {repeat}"
    )
    console.print(hash_line("Evidence", result.evidence_hash))
    console.print(f"Next:     dispatcher show-run {result.run_id}")


def run_summary_json(run: RunSummary, plans: WeekPlans | None = None) -> dict[str, Any]:
    found = {
        "run_id": run.run_id,
        "week": run.week,
        "created_at": iso(run.created_at),
        "origin": run.origin,
        "version": run.version,
        "status": run.status,
        "status_reason": run.status_reason,
        "drivers": run.drivers_used,
        "coverage_bp": run.coverage_bp,
        "audits_passed": run.audits_passed,
        "audits_total": 7,
        "drift": run.drift_level,
        "published_version": run.published_version,
        "locked": run.locked,
        "locked_version": run.locked_version,
        "superseded": run.superseded,
    }
    if plans is not None:
        found["week_role"] = plans.role_of(run.run_id)  # "in force", "working" or None
    return found


def week_json(plans: WeekPlans) -> dict[str, Any]:
    """A week's plans: the version in force, a newer one pending, the working run."""
    force, working = plans.in_force, plans.working
    return {
        "week": plans.week,
        "in_force": None
        if force is None
        else {
            "run_id": force.run_id,
            "version": plans.in_force_version,
            "locked": plans.locked,
        },
        "pending_version": plans.pending_version,
        "successor": None  # published since the plan in force was locked, waiting for its lock
        if plans.successor is None
        else {"run_id": plans.successor.run_id, "version": plans.successor.published_version},
        "working": None
        if working is None
        else {"run_id": working.run_id, "version": working.version, "status": working.status},
        "candidates": [c.run_id for c in plans.candidates] if working is None else [],
    }


def audit_result_json(result: AuditResult) -> dict[str, Any]:
    return result.as_document()


def run_detail_json(detail: RunDetail) -> dict[str, Any]:
    run, version = detail.run, detail.version
    return {
        "run_id": run.run_id,
        "week": run.week,
        "created_at": iso(run.created_at),
        "origin": run.origin,
        "solver": {"name": run.solver_name, "version": run.solver_version, "seed": run.solver_seed},
        "version": version.version,
        "current_version": run.current_version,
        "status": detail.status,
        "status_reason": detail.status_reason,
        "audits_passed": sum(a.passed for a in detail.audits),
        "audits": [audit_result_json(a) for a in detail.audits],
        "kpis": detail.kpis.as_document(),
        "drift": detail.drift.as_document(),
        "evidence": {
            "sealed_hash": version.evidence_hash,
            "rebuilt_hash": detail.rebuilt_hash,
            "verified": detail.evidence_ok,
            "problems": list(detail.evidence_problems),
        },
        "published": version.published,
        "published_at": iso(version.published_at),
        "published_by": version.published_by,
        "locked": run.locked,
        "locked_version": run.locked_version,  # an amendment above it waits for its own lock
        "locked_at": iso(run.locked_at),
        "locked_by": run.locked_by,
        "week_plan": None if detail.week_plans is None else week_json(detail.week_plans),
        "superseded_by": detail.superseded_by,
        "versions": [
            {
                "version": v.version,
                "parent": v.parent_version,
                "origin": v.origin,
                "created_at": iso(v.created_at),
                "status": v.status,
                "evidence_hash": v.evidence_hash,
                "published": v.published,
            }
            for v in detail.versions
        ],
        "pending_repairs": [r.request_id for r in detail.open_repairs],
        "next_action": detail.next_action,  # "publish", "lock" or None (locked)
        "ready": detail.ready,
        "ready_to_publish": detail.ready and detail.next_action == "publish",
        "checklist_title": detail.checklist_title,
        "checklist": [asdict(item) for item in detail.checklist],
    }
