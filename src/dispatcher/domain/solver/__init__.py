"""Solvers: the weekly roster solver, and for repairs CP-SAT (exact, lexicographic) with a greedy
fallback (also the oracle)."""

from collections.abc import Callable

Progress = Callable[[str], None]  # receives one line of progress text for a status display
