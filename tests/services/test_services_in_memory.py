"""The run, decision and repair services on in-memory repositories (tests/fakes.py): their rules
in milliseconds, no database. The same rules through the CLI on SQLite and PostgreSQL are in
tests/cli; what only a database can enforce (triggers, row-level security) in tests/integration.

Expected values are worked out by hand from the sample week (tests/samples.py) and domain.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.domain.errors import Conflict, GateBlocked, InvalidInput
from dispatcher.domain.gates import ApprovalInput
from dispatcher.services.database import create_database
from dispatcher.services.decisions import check_action, decide
from dispatcher.services.kill_switch import operate_kill_switch
from dispatcher.services.repairs import apply_repair, reject_repair, request_repair, run_repair
from dispatcher.services.runs import import_run, list_runs
from dispatcher.services.site import set_site
from dispatcher.services.users import add_user, disable_user
from tests.fakes import FakeUnitOfWork, Memory
from tests.samples import run_doc

TUESDAY = datetime(2026, 1, 13, 8, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)  # before the week: every tour can move
RUN = "RUN-20260113-001"
SUNDAY_RUN = "RUN-20260111-001"
PUBLISH = ApprovalInput(
    "disp001", "dispatcher", "Week 2026-W03 reviewed", "No locked earlier week to compare with"
)
LOCK = ApprovalInput(
    "ops001", "ops_lead", "Approved for export to dispatch", "No earlier week to compare"
)
APPLY = ApprovalInput("disp001", "dispatcher", "Sick call covered, diff reviewed")

Units = Callable[..., FakeUnitOfWork]


def _site(memory: Memory, at: datetime) -> Units:
    """The `site` of the CLI tests in memory: a simulated clock, the pilot team, relaxed
    thresholds for a tiny week, and the sample run imported."""

    def unit(**kwargs: Any) -> FakeUnitOfWork:
        return FakeUnitOfWork(memory, clock=lambda: at, **kwargs)

    create_database(unit(platform=True), simulated=True)
    add_user(unit(registry=True), "admin01", "Platform Admin", ["platform_admin"], None, "First")
    for user_id, role in (("disp001", "dispatcher"), ("ops001", "ops_lead")):
        add_user(unit(registry=True), user_id, user_id, [role], "admin01", "Pilot team for Wien")
    relaxed = {"fte_warn_bp": "0", "fte_block_bp": "0", "pt_warn_bp": "10000"}
    set_site(unit(), {**relaxed, "pt_block_bp": "10000"}, "admin01", "Small test site")
    import_run(unit(), json.dumps(run_doc()).encode(), "run.json")
    return unit


@pytest.fixture
def memory() -> Memory:
    return Memory()


@pytest.fixture
def unit(memory: Memory) -> Units:
    return _site(memory, TUESDAY)


def _site_events(memory: Memory) -> list[tuple[str, str, str | None]]:
    return [(e.action, e.outcome, e.detail.get("check")) for e in memory.events[("LTS", "WIEN")]]


def _blocked(call: Callable[[], object], check: str) -> str:
    with pytest.raises(GateBlocked) as refused:
        call()
    assert refused.value.check == check
    return str(refused.value)


# --- the fakes themselves ----------------------------------------------------------------


def test_what_a_unit_does_not_commit_is_undone(memory: Memory, unit: Units) -> None:
    before = len(memory.events[("LTS", "WIEN")])
    with unit() as uow:
        uow.runs.record_verification(1, "FAIL", "scribbled", TUESDAY)
        uow.memory.events[("LTS", "WIEN")].pop()
    assert len(memory.events[("LTS", "WIEN")]) == before and memory.checks == {}


# --- runs ----------------------------------------------------------------------------------


def test_an_import_stores_version_1_and_the_event_that_vouches_for_it(
    memory: Memory, unit: Units
) -> None:
    # site.create, site.settings, run.import: the site's chain opens with the site
    assert [a for a, _, _ in _site_events(memory)] == ["site.create", "site.update", "run.import"]
    (summary,) = list_runs(unit())
    # 9 instances, all covered; D001, D002, D004, D005, D006 drive; no locked week before: WARN
    assert (summary.run_id, summary.version, summary.status) == (RUN, 1, "WARN")
    assert (summary.coverage_bp, summary.drivers_used, summary.audits_passed) == (10000, 5, 7)
    second = import_run(unit(), json.dumps(run_doc()).encode(), "again.json")
    assert second.run_id == "RUN-20260113-002"


def test_a_file_that_does_not_validate_stores_nothing(memory: Memory, unit: Units) -> None:
    before = copy.deepcopy(memory)
    broken = run_doc(assignments=[("T101#1", "D001"), ("T999#1", "D002")])
    with pytest.raises(InvalidInput, match="T999#1"):
        import_run(unit(), json.dumps(broken).encode(), "broken.json")
    with pytest.raises(InvalidInput):
        import_run(unit(), b"\xff\xfe{", "odd.json")
    assert memory == before


# --- decisions -----------------------------------------------------------------------------


def test_a_warn_run_needs_an_override_and_the_refusal_is_on_the_trail(
    memory: Memory, unit: Units
) -> None:
    without = ApprovalInput("disp001", "dispatcher", "Week 2026-W03 reviewed")
    message = _blocked(lambda: decide(unit(), RUN, "publish", without), "warn_has_override")
    assert message == "WARN run requires an override reason"
    assert _site_events(memory)[-1] == ("publish", "blocked", "warn_has_override")
    assert memory.approvals == []
    published = decide(unit(), RUN, "publish", PUBLISH)
    assert (published.version, published.status, published.approver_id) == (1, "WARN", "disp001")
    assert _site_events(memory)[-1] == ("publish", "allowed", None)


def test_publish_then_lock_by_another_person_and_nothing_after(memory: Memory, unit: Units) -> None:
    decide(unit(), RUN, "publish", PUBLISH)
    own = ApprovalInput("disp001", "dispatcher", "Locking it myself today", "No earlier week")
    _blocked(lambda: decide(unit(), RUN, "lock", own), "role_allowed")
    locked = decide(unit(), RUN, "lock", LOCK)
    assert (locked.action, locked.approver_id) == ("lock", "ops001")
    with unit() as uow:
        run = uow.runs.get(RUN)
        assert run is not None and (run.locked_by, run.locked_version) == ("ops001", 1)
    _blocked(lambda: decide(unit(), RUN, "publish", PUBLISH), "run_not_locked")
    assert [a.action for a in memory.approvals] == ["publish", "lock"]


def test_the_kill_switch_blocks_every_decision_until_released(unit: Units) -> None:
    operate_kill_switch(
        unit(platform=True), activate=True, by="admin01", reason="Export glitch at the hub"
    )
    _blocked(lambda: decide(unit(), RUN, "publish", PUBLISH), "kill_switch_inactive")
    operate_kill_switch(
        unit(platform=True), activate=False, by="admin01", reason="Hub export fixed again"
    )
    assert decide(unit(), RUN, "publish", PUBLISH).action == "publish"


@pytest.mark.parametrize(
    ("reason", "check"),
    [
        ("\u200b" * 30, "reason_long_enough"),
        ("........................", "reason_long_enough"),
        ("x", "reason_long_enough"),
        ("   \t  ", "approval_given"),
    ],
    ids=["zero-width", "dots", "short", "blank"],
)
def test_a_reason_that_only_looks_given_is_refused(unit: Units, reason: str, check: str) -> None:
    approval = ApprovalInput("disp001", "dispatcher", reason, "No locked earlier week to compare")
    _blocked(lambda: decide(unit(), RUN, "publish", approval), check)


def test_an_approver_disabled_or_never_registered_decides_nothing(unit: Units) -> None:
    stranger = ApprovalInput("eve999", "dispatcher", "Week 2026-W03 reviewed", "No baseline yet")
    _blocked(lambda: decide(unit(), RUN, "publish", stranger), "approver_registered")
    disable_user(unit(registry=True), "disp001", "admin01", "Left the depot in December")
    message = _blocked(lambda: decide(unit(), RUN, "publish", PUBLISH), "approver_registered")
    assert message == "Approver disp001 is not a registered active user"


def test_a_registry_row_changed_behind_the_trail_is_refused(memory: Memory, unit: Units) -> None:
    decide(unit(), RUN, "publish", PUBLISH)
    # A dispatcher with the file gives herself the role a lock needs in the row, not through
    # the registry (no user.* event says so).
    memory.users[("LTS", "disp001")]["roles"] = "dispatcher,ops_lead"
    own = ApprovalInput("disp001", "ops_lead", "Locking it myself today", "No earlier week")
    message = _blocked(lambda: decide(unit(), RUN, "lock", own), "state_matches_trail")
    assert message.startswith("User disp001 does not match the audit trail (event #")
    report = check_action(unit(), RUN, "lock", own)
    assert next(r.name for r in report.results if not r.passed) == "state_matches_trail"


def test_an_approval_row_nobody_recorded_is_refused(memory: Memory, unit: Units) -> None:
    decide(unit(), RUN, "publish", PUBLISH)
    forged = dict(memory.approvals[0], action="lock", approver_id="ops001", role="ops_lead")
    memory.approvals.append(type(memory.approvals[0])(forged, id=memory.new_id()))
    _blocked(lambda: decide(unit(), RUN, "lock", LOCK), "state_matches_trail")


# --- repairs -------------------------------------------------------------------------------


@pytest.fixture
def sunday(memory: Memory) -> Units:
    unit = _site(memory, SUNDAY)
    churn = {"churn_warn_bp": "5000", "churn_block_bp": "9000"}
    set_site(unit(), churn, "admin01", "Tiny test week: churn is naturally high")
    return unit


def _sick_monday(unit: Units, driver: str = "D001") -> str:
    return request_repair(
        unit(),
        week="2026-W03",
        driver_id=driver,
        name=None,
        absence_type="sick",
        tours=None,
        days="Mon",
        requester="disp001",
        urgency="high",
    ).request_id


def test_a_sick_call_is_repaired_into_version_2(memory: Memory, sunday: Units) -> None:
    request = _sick_monday(sunday)
    assert request == "REP-20260111130000"  # Vienna time of the Sunday clock
    _blocked(lambda: decide(sunday(), SUNDAY_RUN, "publish", PUBLISH), "no_open_repairs")
    alone = run_repair(sunday(write=False), sunday(), request, time_limit=5)
    # D001 drives T101#1, T102#1, T103#1 on Monday; T103 needs KUEHL, which only D001 holds
    assert [u.instance_id for u in alone.proposal.uncovered] == ["T103#1"]
    message = _blocked(lambda: apply_repair(sunday(), request, APPLY), "proposal_complete")
    assert message == "Repair proposal leaves 1 tours uncovered"
    standby = b"driver_id,name,skills,max_weekly_hours\nS001,Stefan Bereit,KUEHL,40\n"
    helped = run_repair(sunday(write=False), sunday(), request, standby=standby, time_limit=5)
    # The standby driver takes the whole Monday as a 3er: one changed driver beats two.
    moved = {instance: after for instance, _, after in helped.proposal.changes}
    assert moved == {"T101#1": "S001", "T102#1": "S001", "T103#1": "S001"}
    applied = apply_repair(sunday(), request, APPLY)
    assert (applied.run_id, applied.version) == (SUNDAY_RUN, 2)
    with sunday() as uow:
        (record,) = uow.repairs.list(week="2026-W03")
        assert (record.status, record.applied_version) == ("APPLIED", 2)
        run = uow.runs.get(SUNDAY_RUN)
        assert run is not None and run.current_version == 2
        version = uow.runs.version(run, 2)
        assert version is not None and (version.audits_passed, version.kpis.coverage_bp) == (
            7,
            10000,
        )
        assert "S001" in {d.driver_id for d in uow.runs.week_input(run, 2).drivers}
        assert "S001" not in {d.driver_id for d in uow.runs.week_input(run, 1).drivers}
    _blocked(lambda: apply_repair(sunday(), request, APPLY), "request_open")
    assert decide(sunday(), SUNDAY_RUN, "publish", PUBLISH).version == 2


def test_an_overlapping_request_is_refused_and_a_reject_needs_a_reason(
    memory: Memory, sunday: Units
) -> None:
    request = _sick_monday(sunday)
    with pytest.raises(Conflict, match=request):
        _sick_monday(sunday)
    short = "no"
    _blocked(lambda: reject_repair(sunday(), request, "disp001", short), "reason_long_enough")
    reject_repair(sunday(), request, "disp001", "Driver called back, she is fine")
    with sunday() as uow:
        (record,) = uow.repairs.list()
        assert (record.status, record.resolved_by) == ("REJECTED", "disp001")
    assert _site_events(memory)[-1] == ("repair.reject", "allowed", None)


@pytest.mark.parametrize(("typed", "example"), [("dispatcher", "disp001"), ("OPS_LEAD", "ops001")])
def test_a_role_given_as_the_approver_is_named_as_a_role(
    memory: Memory, unit: Units, typed: str, example: str
) -> None:
    approval = ApprovalInput(typed, "dispatcher", "Week 2026-W03 reviewed", "No baseline yet")
    message = _blocked(lambda: decide(unit(), RUN, "publish", approval), "approver_registered")
    role = typed.lower()
    assert message == (
        f"Approver {typed} is not a registered active user: {role} is a role; give your user "
        f"id (for example {example}), not the role"
    )
    assert _site_events(memory)[-1] == ("publish", "blocked", "approver_registered")


def test_a_role_given_to_the_kill_switch_is_named_as_a_role(unit: Units) -> None:
    refused = lambda: operate_kill_switch(  # noqa: E731
        unit(platform=True), activate=True, by="platform_admin", reason="Security incident"
    )
    message = _blocked(refused, "platform_admin_required")
    assert message == (
        "Only a registered platform_admin may operate the kill switch: platform_admin is a "
        "role; give your user id (for example admin01), not the role"
    )
    stranger = lambda: operate_kill_switch(  # noqa: E731
        unit(platform=True), activate=True, by="nobody7", reason="Security incident"
    )
    assert _blocked(stranger, "platform_admin_required").endswith("the kill switch")
