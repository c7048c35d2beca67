"""`dispatcher report`: one self-contained HTML file (inline CSS and SVG, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dispatcher.cli.context import settings_of
from dispatcher.cli.options import RunIdArg, VersionOpt
from dispatcher.cli.output import percent

if TYPE_CHECKING:
    from dispatcher.services.report import DayCoverage, ReportData, WeekPoint

report_app = typer.Typer()
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@report_app.command("report")
def report(
    ctx: typer.Context,
    run_id: RunIdArg,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write (must not exist yet).")],
    version: VersionOpt = None,
) -> None:
    """Write a shareable HTML report: status and why, the 7 audits, KPIs and drift with the last
    weeks' headcount and coverage, coverage by hour per day, the week matrix, approvals and the
    evidence hash. No network needed to view it. Example:
    dispatcher report RUN-20260112-002 --out report-w03.html
    """
    from dispatcher.cli import wiring
    from dispatcher.services.files import check_new_file, write_new_files
    from dispatcher.services.report import report_data

    check_new_file(out)
    settings = settings_of(ctx)
    data = report_data(
        wiring.unit_of_work(settings, write=True), wiring.unit_of_work(settings), run_id, version
    )
    html = render_report(data, settings.tenant, settings.site)
    write_new_files([(out, html.encode("utf-8"), 0o644)])
    typer.echo(f"Wrote {out} ({data.detail.run.run_id} v{data.detail.version.version})")


def render_report(data: ReportData, tenant: str, site: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("dispatcher.cli", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    detail = data.detail
    days = [d for d in range(1, 8) if any(d in r.cells for r in data.roster.rows)] or list(
        range(1, 7)
    )
    return env.get_template("report.html.j2").render(
        tenant=tenant,
        site=site,
        detail=detail,
        run=detail.run,
        version=detail.version,
        kpis=detail.kpis,
        passed=sum(a.passed for a in detail.audits),
        roster=data.roster,
        days=days,
        day_names=DAY_NAMES,
        approvals=data.approvals,
        created=detail.run.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        pct=percent,
        hours=_hours,
        metric=_metric,
        history_svg=history_svg(data.history),
        coverage_svgs=[coverage_svg(c) for c in data.coverage],
    )


def _hours(minutes: int) -> str:
    from dispatcher.domain.vocabulary import format_hours

    return f"{format_hours(minutes)} h"


def _metric(unit: str, value: int | None) -> str:
    if value is None:
        return "-"
    return percent(value) if unit == "bp" else _hours(value) if unit == "minutes" else str(value)


def history_svg(points: list[WeekPoint]) -> str:
    """Headcount bars with coverage on top, the last weeks of the site."""
    width, height, bar = max(260, 40 + 100 * len(points)), 170, 40
    top = max((p.drivers for p in points), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Headcount per week">'
    ]
    parts.append('<text x="4" y="14" font-size="12">Drivers per week (coverage)</text>')
    for n, p in enumerate(points):
        h = int(110 * p.drivers / top)
        x = 30 + 100 * n
        parts.append(
            f'<rect x="{x}" y="{140 - h}" width="{bar}" height="{h}" fill="#5c7cfa">'
            f"<title>{p.run_id}: {p.drivers} drivers</title></rect>"
        )
        parts.append(
            f'<text x="{x}" y="{136 - h}" font-size="10">{p.drivers} ({percent(p.coverage_bp)})</text>'
        )
        parts.append(f'<text x="{x}" y="156" font-size="10">{p.week[5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def coverage_svg(day: DayCoverage) -> str:
    """Tours needed (grey) against tours covered (green), hour by hour."""
    hours, step = len(day.needed), 9
    top = max(day.needed) or 1
    width, height = 30 + hours * step, 130
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Coverage {DAY_NAMES[day.day - 1]}">'
    ]
    parts.append(
        f'<text x="4" y="12" font-size="12">{DAY_NAMES[day.day - 1]}: needed / covered</text>'
    )
    for hour in range(hours):
        x = 25 + hour * step
        need = int(90 * day.needed[hour] / top)
        have = int(90 * day.covered[hour] / top)
        parts.append(
            f'<rect x="{x}" y="{110 - need}" width="{step - 1}" height="{need}" fill="#c9ced6"/>'
        )
        parts.append(
            f'<rect x="{x}" y="{110 - have}" width="{step - 1}" height="{have}" fill="#2f9e44">'
            f"<title>{hour % 24:02d}:00 {day.covered[hour]}/{day.needed[hour]}</title></rect>"
        )
        if hour % 6 == 0:
            parts.append(f'<text x="{x}" y="124" font-size="9">{hour % 24:02d}</text>')
    parts.append("</svg>")
    return "".join(parts)
