"""Rich rendering of service results. Only the CLI imports this module, inside commands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from dispatcher.cli.output import error_line, esc, level_text, percent, status_text, stdout
from dispatcher.domain.vocabulary import AUDIT_NAMES, DAY_NAMES, format_hours

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from collections.abc import Mapping

    from dispatcher.config import Settings
    from dispatcher.domain.events import ChainReport
    from dispatcher.domain.model import User
    from dispatcher.domain.proposal import RepairProposal
    from dispatcher.domain.records import RepairRecord
    from dispatcher.domain.views import EventRow, RunSummary, StatusOverview
    from dispatcher.domain.weeks import WeekPlans
    from dispatcher.services.decisions import CheckReport, DecisionResult
    from dispatcher.services.kill_switch import KillSwitchReport
    from dispatcher.services.platform import AllSitesOverview
    from dispatcher.services.repairs import RepairDetail
    from dispatcher.services.results import ImportResult, RunDetail
    from dispatcher.services.roster import Cell as RosterCell
    from dispatcher.services.roster import RosterView
    from dispatcher.services.roster import Tour as RosterTour
    from dispatcher.services.solving import SolveResult
    from dispatcher.services.state import StateReport


def _short(digest: str | None) -> str:
    return "" if digest is None else digest[:19] + "…"


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
            plural = "" if report.count == 1 else "s"
            console.print(
                f"[green]Audit chain intact[/green] for {esc(name)}: "
                f"{report.count} event{plural}, tip {report.tip_hash}"
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
    count = len(report.problems)
    error_line(
        f"Error: {count} state row{'s do' if count != 1 else ' does'} not match the audit trail"
    )


def checkpoint_result(name: str, problem: str | None) -> None:
    if problem is None:
        stdout().print(f"[green]Checkpoint {name} verified[/green]: the chain still extends it")
        return

    error_line(f"Error: checkpoint {name}: {problem}")


# --- runs ---------------------------------------------------------------------------------------


def _ts(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _yes(flag: bool, good: bool = True) -> str:
    ok = flag == good
    return f"{'✅' if ok else '❌'} {'Yes' if flag else 'No'}"


LEGEND = "Status: ✅ PASS | ⚠️  WARN | ❌ FAIL | 🚫 BLOCKED | ⏳ PENDING"


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
    console.print(f"Evidence: {result.evidence_hash}")
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


ROLE_MARKS = {"in force": "▶", "working": "✎"}
PLAN_LEGEND = "Pub/Lock: vN published, 🔒 locked, ▶ in force, ✎ working run (publish next)"


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


def _listing(title: str, *, gap: int) -> Table:
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
    table = _listing(f"LATEST RUNS - {settings.tenant}/{settings.site}", gap=0)
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


def status(overview: StatusOverview) -> None:
    console = stdout()
    ks, flags = overview.kill_switch, overview.site_flags
    console.rule(f"[bold]SYSTEM STATUS - {overview.tenant}/{overview.site}[/bold]", align="left")
    if ks.active:
        kill = f"🚫 [red]ACTIVE[/red] ({ks.scope}, by {esc(ks.actor_id)}: {esc(ks.reason)})"
    else:
        kill = "✅ Inactive"
    console.print(f"Kill Switch:     {kill}")
    console.print(f"Publish Enabled: {_yes(flags.publish_enabled)}")
    console.print(f"Lock Enabled:    {_yes(flags.lock_enabled)}")
    shadow = "⚠️  Enabled (publish and lock refused)" if flags.shadow_only else "✅ Disabled"
    console.print(f"Shadow Mode:     {shadow}")
    if overview.clock == "simulated":
        console.print(
            "Clock:           ⏱  Simulated (a demo or test database: DISPATCHER_NOW sets it)"
        )
    if overview.trail_problem is not None:
        console.print(
            f"Audit Trail:     ❌ [red]{esc(overview.trail_problem)}[/red] "
            "(check with: dispatcher audit verify --state)"
        )
    if overview.guard_problems:
        count = len(overview.guard_problems)
        console.print(
            f"Guards:          ❌ [red]{count} differ from the migrations: "
            f"{esc(overview.guard_problems[0])}[/red] (all: dispatcher audit verify --state)"
        )
    if not flags.exists:
        console.print(
            "[dim](site not initialised yet: defaults shown; created on first import)[/dim]"
        )
    console.print()
    console.rule("Latest Run", align="left")
    run = overview.latest_run
    if run is None:
        console.print("No runs yet. Import one with: dispatcher import-run FILE")
    else:
        console.print(f"Run ID:    {run.run_id}" + (f" v{run.version}" if run.version > 1 else ""))
        console.print(f"Week:      {run.week}")
        console.print(f"Status:    {status_text(run.status)}")
        console.print(f"Timestamp: {_ts(run.created_at)}")
    if overview.weeks:
        console.print()
        console.rule("Weeks", align="left")
    for plans in overview.weeks:
        for n, (label, text) in enumerate(week_lines(plans)):
            console.print(esc(f"{plans.week if n == 0 else '':8}  {label + ':':9} {text}"))
    console.print()
    console.rule("Pending Repairs", align="left")
    if not overview.pending_repairs:
        console.print("No pending repairs")
    for repair in overview.pending_repairs:
        console.print(
            esc(
                f"{repair.request_id}  {repair.week}  {repair.driver_id}  {repair.absence_type}  "
                f"{repair.urgency}  {repair.status}"
            )
        )


def all_sites(result: AllSitesOverview) -> None:
    """One line per site: switches, latest run, pending repairs."""
    console = stdout()
    if not result.sites:
        console.print("No sites yet: a site is created by its first import-run.")
    else:
        table = _listing("ALL SITES", gap=1)
        for name in ("Site", "Kill", "Publish", "Lock", "Latest run", "Week", "Status"):
            table.add_column(name, no_wrap=True)
        table.add_column("Repairs", justify="right", no_wrap=True)
        for site in result.sites:
            run, flags = site.latest_run, site.site_flags
            table.add_row(
                f"{site.tenant}/{site.site}",
                "🚫 ACTIVE" if site.kill_switch.active else "off",
                _yes_no(flags.publish_enabled and not flags.shadow_only),
                _yes_no(flags.lock_enabled and not flags.shadow_only),
                "-" if run is None else run.run_id,
                "-" if run is None else run.week,
                "-" if run is None else status_text(run.status),
                str(len(site.pending_repairs)),
            )
        console.print(table)
    console.print(f"[dim]Recorded as audit event #{result.event_seq} ({esc(result.by)}).[/dim]")


def _yes_no(value: bool) -> str:
    return "yes" if value else "[yellow]no[/yellow]"


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
    console.print(f"Created:   {_ts(run.created_at)} by {run.origin} ({esc(solver)})")
    console.print(
        f"Coverage:  {kpis.instances_covered}/{kpis.instances_total} instances "
        f"({percent(kpis.coverage_bp)})"
    )
    audits = Table(title="Audits", title_justify="left")
    audits.add_column("Audit")
    audits.add_column("Result")
    audits.add_column("Detail")
    for name, passed, text in _audit_rows(detail):
        audits.add_row(name, "[green]PASS[/green]" if passed else "[red]FAIL[/red]", text)
    console.print(audits)
    console.print(f"Audits passed: {sum(a.passed for a in detail.audits)}/7")
    failing = [v for a in detail.audits for v in a.violations]
    if failing:
        shown = failing if details else failing[:10]
        violations = Table(title="Violations", title_justify="left")
        for column in ("Audit", "Kind", "Driver", "Date"):
            violations.add_column(column, no_wrap=True)
        violations.add_column("Instances", overflow="fold", max_width=18)
        violations.add_column("Message", overflow="fold", ratio=1, min_width=20)
        for v in shown:
            violations.add_row(
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
        console.print(violations)
        if len(shown) < len(failing):
            console.print(f"... {len(failing) - len(shown)} more: use --details to list all")
    kpi_table = Table(title="KPIs", title_justify="left")
    kpi_table.add_column("KPI")
    kpi_table.add_column("Value", justify="right")
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
        kpi_table.add_row(name, value)
    if kpis.churn is not None:
        kpi_table.add_row(
            "Churn vs parent",
            f"{kpis.churn.tours_moved} tours moved, {kpis.churn.drivers_changed} drivers changed "
            f"({percent(kpis.churn.churn_bp)})",
        )
    console.print(kpi_table)
    drift = Table(title=f"KPI drift: {level_text(detail.drift.level)}", title_justify="left")
    for column in ("Metric", "Value", "Baseline", "WARN when", "BLOCK when", "Level"):
        drift.add_column(column, no_wrap=column in ("Metric", "Value", "Level"))
    for m in detail.drift.metrics:
        drift.add_row(
            m.metric,
            _threshold_value(m.unit, m.value),
            _threshold_value(m.unit, m.baseline),
            m.warn,
            m.block,
            level_text(m.level),
        )
    console.print(drift)
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
    console.print(f"Evidence:  {version.evidence_hash} ({verified})")
    for problem in detail.evidence_problems:
        console.print(f"           [red]{esc(problem)}[/red]")
    console.print(
        f"Published: {'yes' if version.published else 'no'}"
        + (
            f"  at {_ts(version.published_at)} by {esc(version.published_by)}"
            if version.published
            else ""
        )
    )
    locked = "no"
    if run.locked:
        locked = f"v{run.locked_version} at {_ts(run.locked_at)} by {esc(run.locked_by)}"
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
    checklist = Table(title=esc(detail.checklist_title), title_justify="left")
    checklist.add_column("")
    checklist.add_column("Check")
    checklist.add_column("Detail", overflow="fold")
    for item in detail.checklist:
        checklist.add_row("✅" if item.ok else "❌", item.label, esc(item.detail))
    console.print(checklist)
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


# --- decisions and administration ---------------------------------------------------------------


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
    console.print(f"Evidence:    {result.evidence_hash}")
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
            _ts(entry.changed_at), esc(entry.target), change, esc(entry.actor_id), esc(entry.reason)
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


# --- repairs ------------------------------------------------------------------------------------


def _hm(minutes: int) -> str:
    return f"{format_hours(minutes)} h"


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
        f"{objective.drivers_changed} drivers changed, {objective.moved} tours moved, "
        f"highest weekly work among them {_hm(objective.max_weekly_minutes)}"
    )
    proven = "optimal (proven)" if solver.proven_optimal else "best found, optimality not proven"
    console.print(f"Solver: {solver.name}, {solver.runtime_ms} ms, {proven}")
    console.print(
        f"(greedy for comparison: {proposal.greedy_covered} covered, "
        f"{proposal.greedy_drivers_changed} drivers changed)"
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
    table = Table(
        title=f"Repair requests - {settings.tenant}/{settings.site}", title_justify="left"
    )
    for column in ("Request", "Week", "Driver", "Type", "Scope", "Urgency", "Status", "Run"):
        table.add_column(column, overflow="fold")
    for r in records:
        scope = r.scope.get("kind", "")
        if scope == "days":
            scope = ",".join(DAY_NAMES[d - 1] for d in r.scope["days"])
        elif scope == "tours":
            scope = ",".join(r.scope["instances"])
        table.add_row(
            *map(
                esc,
                (
                    r.request_id,
                    r.week,
                    r.driver_id,
                    r.absence_type,
                    scope,
                    r.urgency,
                    r.status,
                    f"{r.run_id} v{r.base_version}",
                ),
            )
        )
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
            f"Requested: {_ts(r.created_at)} by {r.requester}"
            + (f" - {r.notes}" if r.notes else "")
        )
    )
    if r.resolved_at:
        console.print(
            esc(f"Resolved:  {_ts(r.resolved_at)} by {r.resolved_by}: {r.resolution_reason}")
        )
    proposal = r.proposal
    if proposal is None:
        console.print("No proposal yet: dispatcher run-repair --request " + r.request_id)
        return
    proposal_summary(proposal, review_hint=False)
    if detail.stale:
        console.print(f"[red]{esc(detail.stale)}[/red]")
    for driver in detail.diff:
        table = Table(
            title=f"{esc(driver.driver_id)} {esc(driver.name)}: "
            f"{_hm(driver.hours_before)} -> {_hm(driver.hours_after)}",
            title_justify="left",
        )
        table.add_column("Day")
        table.add_column("Before")
        table.add_column("After")
        for day, before, after in driver.days:
            table.add_row(day, esc(before), esc(after))
        console.print(table)
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
    return _hm(value) if name.endswith("minutes") else str(value)


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
    console.print(f"Evidence: {result.evidence_hash}")
    console.print(f"Next:     dispatcher show-run {result.run_id}")


# --- roster -------------------------------------------------------------------------------------

BLOCK_STYLE = {
    "1er": "cyan",
    "2er-reg": "green",
    "2er-split": "blue",
    "3er": "magenta",
    "invalid": "red",
}
AXIS_HOURS = 30  # 00:00 to 06:00 next day, so tours crossing midnight stay visible
SLOT = 30  # minutes per character


def _cell(cell: RosterCell | None) -> str:
    if cell is None:
        return "[dim]-[/dim]"
    colour = BLOCK_STYLE.get(cell.block_type, "white")
    text = f"[{colour}]{cell.start}-{cell.end} {cell.block_type}[/{colour}]"
    if cell.violations:
        text += "\n[red]! " + ", ".join(cell.violations) + "[/red]"
    return text


def _pages(view: RosterView) -> str:
    if view.pages == 1:
        return f"{view.total_rows} drivers"
    return f"{view.total_rows} drivers, page {view.page} of {view.pages} (--page N)"


def roster_matrix(view: RosterView) -> None:
    console = stdout()
    table = Table(
        title=f"{view.run_id} v{view.version} - {view.week} - {_pages(view)}",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("Driver", no_wrap=True)
    days = [d for d in range(1, 8) if any(d in r.cells for r in view.rows)] or list(range(1, 7))
    for day in days:
        table.add_column(f"{DAY_NAMES[day - 1]} {view.dates[day][5:]}")
    table.add_column("Hours", justify="right")
    for row in view.rows:
        hours = _hm(row.minutes)
        if row.violations:
            hours += "\n[red]! " + ", ".join(row.violations) + "[/red]"
        table.add_row(
            esc(f"{row.driver_id}\n{row.name}"), *[_cell(row.cells.get(d)) for d in days], hours
        )
    console.print(table)
    _uncovered(view)


def _uncovered(view: RosterView) -> None:
    console = stdout()
    if not view.uncovered:
        console.print("Every tour has a driver.")
        return
    console.print(f"[red]Not covered ({len(view.uncovered)}):[/red]")
    for day, tour in view.uncovered:
        console.print(f"  {DAY_NAMES[day - 1]} {tour.instance_id} {tour.start}-{tour.end}")


def timeline_bar(tours: list[RosterTour]) -> str:
    """One character per 30 minutes from 00:00 to 06:00 next day: '#' driving, '.' between."""
    width = AXIS_HOURS * 60 // SLOT
    line = [" "] * width
    if tours:
        first = max(0, min(t.start_minute for t in tours) // SLOT)
        last = min(width, -(-max(t.end_minute for t in tours) // SLOT))
        for position in range(first, last):
            line[position] = "."
    for tour in tours:
        for position in range(
            max(0, tour.start_minute // SLOT), min(width, -(-tour.end_minute // SLOT))
        ):
            line[position] = "#"
    return "".join(line)


def roster_timeline(view: RosterView, day_text: str) -> None:
    from dispatcher.services.roster import parse_day

    console = stdout()
    day = parse_day(day_text) or 1
    console.print(
        f"{view.run_id} v{view.version} - {DAY_NAMES[day - 1]} {view.dates[day]} - {_pages(view)}"
    )
    axis = "".join(f"{h:02d}".ljust(6) for h in range(0, AXIS_HOURS, 3))
    console.print(f"{'':<9}|{axis}", highlight=False)
    for row in view.rows:
        cell = row.cells.get(day)
        tours = cell.tours if cell else []
        bar = timeline_bar(tours)
        note = f" {cell.block_type}" if cell else ""
        if cell and cell.violations:
            note += " [red]! " + ", ".join(cell.violations) + "[/red]"
        console.print(f"{row.driver_id:<9}|{bar}|{note}", highlight=False)
    _uncovered(view)


def repair_roster(detail: RepairDetail) -> None:
    """Changed drivers before and after, day by day; changed days marked."""
    console = stdout()
    r = detail.record
    if r.proposal is None:
        console.print(f"No proposal yet: dispatcher run-repair --request {r.request_id}")
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
            esc(f"{driver.driver_id}\n{driver.name}"), "before", *before, _hm(driver.hours_before)
        )
        table.add_row("", "after", *after, _hm(driver.hours_after))
    console.print(table)
    console.print("* changed by the proposal")
