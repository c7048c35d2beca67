"""The roster: the matrix and the one-day timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from dispatcher.cli.output import count, esc, stdout
from dispatcher.cli.views.common import hm
from dispatcher.domain.vocabulary import DAY_NAMES

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    from dispatcher.services.roster import Cell as RosterCell
    from dispatcher.services.roster import RosterView
    from dispatcher.services.roster import Tour as RosterTour


BLOCK_STYLE = {
    "1er": "cyan",
    "2er-reg": "green",
    "2er-split": "blue",
    "3er": "magenta",
    "invalid": "red",
}


AXIS_HOURS = 30  # 00:00 to 06:00 next day, so tours crossing midnight stay visible


SLOT = 30  # minutes per character
ID = 6  # the timeline's driver column: 6 + 62 + ` 2er-split` is 78 columns


def _cell(cell: RosterCell | None) -> str:
    if cell is None:
        return "[dim]-[/dim]"
    text = _duty(cell)
    if cell.violations:
        text += "\n[red]! " + esc(", ".join(cell.violations)) + "[/red]"
    return text


def _duty(cell: RosterCell) -> str:
    """`05:00-14:30 2er-reg` in its block type's colour (matrix cells and blocks alike)."""
    colour = BLOCK_STYLE.get(cell.block_type, "white")
    return f"[{colour}]{cell.start}-{cell.end} {esc(cell.block_type)}[/{colour}]"


def _pages(view: RosterView) -> str:
    drivers = count(view.total_rows, "driver")
    if view.pages == 1:
        return drivers
    return f"{drivers}, page {view.page} of {view.pages} (--page N)"


WIDE = 120  # the driver x day matrix needs this many columns; narrower: one block per driver
ENTRY = 25  # `Mon 08:30-18:15 2er-split`


def roster_screen(view: RosterView, *, wide: bool = False) -> None:
    """The matrix on a terminal of WIDE columns or more (or with --wide), else the blocks."""
    if wide or stdout().width >= WIDE:
        roster_matrix(view)
    else:
        roster_blocks(view)


def _entry(day: int, cell: RosterCell | None) -> tuple[str, int]:
    """A day of a driver's block as markup, and its width in cells."""
    name = DAY_NAMES[day - 1]
    if cell is None:
        return f"[dim]{name} -[/dim]", len(name) + 2
    plain = f"{name} {cell.start}-{cell.end} {cell.block_type}"
    mark = "[red]![/red]" if cell.violations else ""
    return f"{name} {_duty(cell)}{mark}", len(plain) + (1 if mark else 0)


def roster_blocks(view: RosterView) -> None:
    """One block per driver: a line with id, name and weekly hours, then the days side by side
    as many as fit (ids and times never wrap), then each violation on a line of its own."""
    console = stdout()
    console.print(f"{view.run_id} v{view.version} - {view.week} - {_pages(view)}")
    days = [d for d in range(1, 8) if any(d in r.cells for r in view.rows)] or list(range(1, 7))
    per_line = max(1, (console.width - 2 + 2) // (ENTRY + 1 + 2))
    for row in view.rows:
        console.print()
        console.print(f"[bold]{esc(row.driver_id)}[/bold] {esc(row.name)}  {hm(row.minutes)}")
        entries = [_entry(day, row.cells.get(day)) for day in days]
        for start in range(0, len(entries), per_line):
            chunk = entries[start : start + per_line]
            console.print(
                "  " + "  ".join(t + " " * (ENTRY + 1 - n) for t, n in chunk).rstrip(),
                overflow="fold",
            )
        for day in days:
            cell = row.cells.get(day)
            for violation in cell.violations if cell else []:
                console.print(f"  [red]! {DAY_NAMES[day - 1]}: {esc(violation)}[/red]")
        for violation in row.violations:
            console.print(f"  [red]! Week: {esc(violation)}[/red]")
    console.print()
    _uncovered(view)


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
        hours = hm(row.minutes)
        if row.violations:
            hours += "\n[red]! " + esc(", ".join(row.violations)) + "[/red]"
        table.add_row(
            f"{esc(row.driver_id)}\n{esc(row.name)}",
            *[_cell(row.cells.get(d)) for d in days],
            hours,
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
    console.print(f"{'':<{ID}}|{axis}", highlight=False)
    for row in view.rows:
        cell = row.cells.get(day)
        tours = cell.tours if cell else []
        bar = timeline_bar(tours)
        note = f" {cell.block_type}" if cell else ""
        if cell and cell.violations:
            note += " [red]! " + ", ".join(cell.violations) + "[/red]"
        console.print(f"{esc(row.driver_id):<{ID}}|{bar}|{note}", highlight=False)
    _uncovered(view)
