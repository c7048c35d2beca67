"""The site's overview (`status`) and the platform's (`status --all-sites`): tables and JSON
views."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from dispatcher.cli.output import esc, status_text, stdout
from dispatcher.cli.views.common import iso, ts, yes, yes_no
from dispatcher.cli.views.runs import listing, run_summary_json, week_json, week_lines

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from dispatcher.domain.views import StatusOverview
    from dispatcher.services.platform import AllSitesOverview


def status(overview: StatusOverview) -> None:
    console = stdout()
    ks, flags = overview.kill_switch, overview.site_flags
    console.rule(f"[bold]SYSTEM STATUS - {overview.tenant}/{overview.site}[/bold]", align="left")
    if ks.active:
        kill = f"🚫 [red]ACTIVE[/red] ({ks.scope}, by {esc(ks.actor_id)}: {esc(ks.reason)})"
    else:
        kill = "✅ Inactive"
    console.print(f"Kill Switch:     {kill}")
    console.print(f"Publish Enabled: {yes(flags.publish_enabled)}")
    console.print(f"Lock Enabled:    {yes(flags.lock_enabled)}")
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
        console.print(f"Timestamp: {ts(run.created_at)}")
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
        table = listing("ALL SITES", gap=1)
        for name in ("Site", "Kill", "Publish", "Lock", "Latest run", "Week", "Status"):
            table.add_column(name, no_wrap=True)
        table.add_column("Repairs", justify="right", no_wrap=True)
        for site in result.sites:
            run, flags = site.latest_run, site.site_flags
            table.add_row(
                f"{site.tenant}/{site.site}",
                "🚫 ACTIVE" if site.kill_switch.active else "off",
                yes_no(flags.publish_enabled and not flags.shadow_only),
                yes_no(flags.lock_enabled and not flags.shadow_only),
                "-" if run is None else run.run_id,
                "-" if run is None else run.week,
                "-" if run is None else status_text(run.status),
                str(len(site.pending_repairs)),
            )
        console.print(table)
    console.print(f"[dim]Recorded as audit event #{result.event_seq} ({esc(result.by)}).[/dim]")


def status_json(overview: StatusOverview) -> dict[str, Any]:
    ks, flags = overview.kill_switch, overview.site_flags
    return {
        "tenant": overview.tenant,
        "site": overview.site,
        "site_initialised": flags.exists,
        "kill_switch": {
            "active": ks.active,
            "scope": ks.scope,
            "by": ks.actor_id,
            "reason": ks.reason,
            "since": iso(ks.changed_at),
        },
        "publish_enabled": flags.publish_enabled,
        "lock_enabled": flags.lock_enabled,
        "shadow_only": flags.shadow_only,
        "clock": overview.clock,
        "trail_problem": overview.trail_problem,
        "guard_problems": list(overview.guard_problems),
        "latest_run": None
        if overview.latest_run is None
        else run_summary_json(overview.latest_run),
        "pending_repairs": [
            {**asdict(r), "created_at": iso(r.created_at)} for r in overview.pending_repairs
        ],
        "weeks": [week_json(w) for w in overview.weeks],
    }


def all_sites_json(result: AllSitesOverview) -> dict[str, Any]:
    return {
        "sites": [status_json(overview) for overview in result.sites],
        "by": result.by,
        "event_seq": result.event_seq,
    }
