"""How request-repair picks its id (domain.md §9), against a stand-in for the repository: the
rule for committed ids, and its bound when a depot filed thousands under one second."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from dispatcher.services import repairs

NOW = datetime(2026, 1, 13, 5, 30, tzinfo=UTC)  # 06:30 in Vienna
BASE = "REP-20260113063000"


class Register:
    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.asked = 0

    def id_taken(self, request_id: str) -> bool:
        self.asked += 1
        return request_id in self.taken


def _uow(taken: set[str]) -> Any:
    return SimpleNamespace(now=lambda: NOW, repairs=Register(taken))


def test_the_first_free_id_of_the_second_in_vienna_time() -> None:
    assert next(repairs._request_ids(_uow(set()))) == BASE
    assert next(repairs._request_ids(_uow({BASE, f"{BASE}-2"}))) == f"{BASE}-3"


def test_held_ids_are_followed_by_the_next_numbers_then_random_ones() -> None:
    tried = list(repairs._request_ids(_uow({f"{BASE}-2"})))
    assert tried[:2] == [BASE, f"{BASE}-3"]
    assert len(tried) == repairs.ID_ATTEMPTS
    assert all(re.fullmatch(rf"{BASE}-\d{{3,6}}", t) for t in tried[2:])


def test_thousands_of_committed_ids_are_not_counted_one_by_one() -> None:
    taken = {BASE, *(f"{BASE}-{n}" for n in range(2, 5000))}
    uow = _uow(taken)
    chosen = next(repairs._request_ids(uow))
    assert chosen not in taken and chosen.startswith(BASE + "-")
    assert uow.repairs.asked <= repairs.ID_PROBES + 5
