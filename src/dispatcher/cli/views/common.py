"""Formatting helpers the views share (times, hours, yes/no marks)."""

from __future__ import annotations

from datetime import datetime

from dispatcher.domain.vocabulary import format_hours


def iso(value: datetime | None) -> str | None:
    """A stored UTC moment as JSON shows it (None stays None)."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(moment: datetime | None) -> str:
    """The same moment in a table: `-` where there is none."""
    return iso(moment) or "-"


def hm(minutes: int) -> str:
    return f"{format_hours(minutes)} h"


def yes(flag: bool, good: bool = True) -> str:
    ok = flag == good
    return f"{'✅' if ok else '❌'} {'Yes' if flag else 'No'}"


def yes_no(value: bool) -> str:
    return "yes" if value else "[yellow]no[/yellow]"


def hash_line(label: str, digest: str) -> str:
    """`label:` and the hash indented on the next line: `sha256:` and 64 digits are 71 columns,
    so beside a label they wrap in an 80-column terminal and no longer copy in one piece."""
    return f"{label}:\n  {digest}"
