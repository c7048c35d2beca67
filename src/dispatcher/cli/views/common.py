"""Formatting helpers the views share (times, hours, yes/no marks)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dispatcher.domain.vocabulary import format_hours

if TYPE_CHECKING:  # annotations only: importing services here would load the ORM
    pass


def ts(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hm(minutes: int) -> str:
    return f"{format_hours(minutes)} h"


def yes(flag: bool, good: bool = True) -> str:
    ok = flag == good
    return f"{'✅' if ok else '❌'} {'Yes' if flag else 'No'}"


def yes_no(value: bool) -> str:
    return "yes" if value else "[yellow]no[/yellow]"


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
