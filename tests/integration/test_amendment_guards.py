"""An amendment is the only new version a locked run takes, and a lock only moves forward: tried
with hand-written SQL (guards in place, and dropped) and with a patched copy of the tool, on
SQLite and PostgreSQL (issue 19, domain.md §9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dispatcher.db import tables
from tests.conftest import Cli, Insider
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

RUN_PK = f"(SELECT id FROM runs WHERE run_id = '{RUN}')"


def _copy_version(changes: dict[str, str]) -> str:
    """INSERT … SELECT of the run's v1 row with some columns changed (a version an insider
    makes by hand: every other column as the tool wrote it)."""
    columns = [c.name for c in tables.plan_versions.columns if c.name != "id"]
    values = [changes.get(c, c) for c in columns]
    return (
        f"INSERT INTO plan_versions ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM plan_versions WHERE run_pk = {RUN_PK} AND version = 1"
    )


def _copy_lock() -> str:
    columns = [c.name for c in tables.approvals.columns if c.name != "id"]
    return (
        f"INSERT INTO approvals ({', '.join(columns)}) SELECT {', '.join(columns)} "
        f"FROM approvals WHERE run_pk = {RUN_PK} AND action = 'lock'"
    )


@pytest.fixture
def locked_site(site: Cli) -> Cli:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    return site


@pytest.mark.parametrize(
    "changes",
    [
        {"version": "2", "parent_version": "1", "origin": "'repair'"},  # a plain repair
        {"version": "3", "parent_version": "2", "origin": "'amendment'"},  # not the newest
        {"version": "2", "parent_version": "NULL", "origin": "'amendment'"},  # no parent
        {"version": "5", "parent_version": "1", "origin": "'amendment'"},  # skips versions
    ],
)
def test_a_locked_run_refuses_every_version_but_an_amendment_of_its_newest(
    locked_site: Cli, insider: Insider, backend: str, changes: dict[str, str]
) -> None:
    refusal = insider.refused(_copy_version(changes))
    locked = "run is locked: no new plan versions but an amendment of its newest version"
    # PostgreSQL fires its triggers by name: the version's missing event is named first.
    bound = "plan_versions: a version needs the event that created it"
    assert locked in refusal if backend == "sqlite" else bound in refusal


def test_a_version_bound_to_a_real_event_is_still_refused_on_a_locked_run(
    locked_site: Cli, insider: Insider
) -> None:
    """v1's row again, event and all: the event guard passes, the lock guard refuses."""
    refusal = insider.refused(_copy_version({}))
    assert "run is locked: no new plan versions but an amendment of its newest version" in refusal


def test_a_version_is_locked_once(locked_site: Cli, insider: Insider) -> None:
    refusal = insider.refused(_copy_lock())
    assert "a version is locked once, and locks only move forward" in refusal


def test_a_hand_made_version_on_a_locked_run_with_the_guards_dropped_is_found(
    locked_site: Cli, insider: Insider
) -> None:
    insider.tamper(
        _copy_version({"version": "2", "parent_version": "1", "origin": "'amendment'"}),
        restore=True,
    )
    checked = locked_site("audit", "verify", "--state", "--json")
    assert checked.exit_code == 1
    problems = json.loads(checked.stdout)["state"]["problems"]
    assert any(p["table"] == "plan_versions" for p in problems), problems
    refused = locked_site("export", RUN, "--out", "x.csv")
    assert refused.exit_code == 2 and "does not match the audit trail" in refused.stderr


def test_a_patched_tool_that_repairs_a_locked_run_without_amend_is_named(
    locked_site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insider's copy lets a sick call on the locked run through without --amend and
    applies it as an amendment: every row is bound to its event, the replay names both."""
    import dispatcher.services.repairs as repairs

    monkeypatch.setattr(repairs, "locked_refusal", lambda run, amend: None)
    monkeypatch.setattr(repairs, "is_amendment", lambda record: True)
    request = locked_site(
        "request-repair", "--week", "2026-W03", "--driver", "D004", "--type", "sick",
        "--days", "Wed", "--requester", "disp001",
    )  # fmt: skip
    assert request.exit_code == 0, request.output
    rep = request.stdout.strip()
    assert locked_site("run-repair", "--request", rep).exit_code == 0
    applied = locked_site(
        "apply-repair", rep, "--approver", "disp001", "--role", "dispatcher",
        "--reason", "Sick call covered by hand",
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert locked_site("audit", "verify").exit_code == 0
    checked = locked_site("audit", "verify", "--state", "--json")
    assert checked.exit_code == 1
    problems: list[dict[str, Any]] = json.loads(checked.stdout)["state"]["problems"]
    named = [p for p in problems if p["table"] == "decisions"]
    assert len(named) == 2, problems
    assert all("is locked; repairs are disabled" in p["problem"] for p in named), named
