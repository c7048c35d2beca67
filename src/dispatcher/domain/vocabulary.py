"""The domain's words (domain.md): day names, the seven audits, run statuses and drift levels,
and the hours format. Plain strings, no classes, so that rendering a list of runs does not pay
for building the domain's dataclasses; every other module takes these words from here."""

from __future__ import annotations

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# The audits, in the order every report lists them (domain.md §3).
COVERAGE, OVERLAP, REST = "Coverage", "Overlap", "Rest"
SPAN_REGULAR, SPAN_SPLIT, FATIGUE, REPRODUCIBILITY = (
    "Span regular",
    "Span split/3er",
    "Fatigue",
    "Reproducibility",
)
AUDIT_NAMES = (COVERAGE, OVERLAP, REST, SPAN_REGULAR, SPAN_SPLIT, FATIGUE, REPRODUCIBILITY)
AUDIT_COUNT = len(AUDIT_NAMES)

# A run's status (domain.md §5).
PASS, STATUS_WARN, FAIL, BLOCKED, PENDING = "PASS", "WARN", "FAIL", "BLOCKED", "PENDING"
STATUSES = (PASS, STATUS_WARN, FAIL, BLOCKED, PENDING)

# A drift metric's level (domain.md §4).
OK, WARN, BLOCK, UNKNOWN = "OK", "WARN", "BLOCK", "UNKNOWN"


def format_hours(minutes: int) -> str:
    """Hours with one decimal, rounded half up, without floats."""
    tenths = (abs(minutes) * 10 + 30) // 60
    return f"{'-' if minutes < 0 else ''}{tenths // 10}.{tenths % 10}"
