"""Names and formats shared by the domain and the terminal: no classes, so rendering a list
of runs does not pay for building the domain's dataclasses."""

from __future__ import annotations

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

COVERAGE, OVERLAP, REST = "Coverage", "Overlap", "Rest"
SPAN_REGULAR, SPAN_SPLIT, FATIGUE, REPRODUCIBILITY = (
    "Span regular",
    "Span split/3er",
    "Fatigue",
    "Reproducibility",
)
AUDIT_NAMES = (COVERAGE, OVERLAP, REST, SPAN_REGULAR, SPAN_SPLIT, FATIGUE, REPRODUCIBILITY)


def format_hours(minutes: int) -> str:
    """Hours with one decimal, rounded half up, without floats."""
    tenths = (abs(minutes) * 10 + 30) // 60
    return f"{'-' if minutes < 0 else ''}{tenths // 10}.{tenths % 10}"
