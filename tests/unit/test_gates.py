"""Gate checks: the spec's order, names and exact messages (domain.md §6)."""

from __future__ import annotations

from dataclasses import replace

from dispatcher.domain.gates import (
    LOCK_CHECKS,
    PUBLISH_CHECKS,
    ApprovalInput,
    DecisionFacts,
    evaluate,
    first_failure,
)
from dispatcher.domain.model import User

GOOD = DecisionFacts(
    action="publish",
    approval=ApprovalInput("disp001", "dispatcher", "Week reviewed, all fine", None),
    approver=User("disp001", "Maria", ("dispatcher",)),
    trail_problem=None,
    kill_switch_active=False,
    shadow_only=False,
    action_enabled=True,
    allowed_roles=("dispatcher", "ops_lead", "platform_admin"),
    min_reason_length=10,
    lock_requires_other_person=True,
    run_id="RUN-20260113-001",
    week="2026-W03",
    run_locked=False,
    version=1,
    version_published=False,
    publisher_id=None,
    evidence_ok=True,
    sealed_hash="sha256:a",
    rebuilt_hash="sha256:a",
    published_evidence_hash=None,
    status="PASS",
    drift_level="OK",
    open_repairs=(),
)
LOCK_GOOD = replace(
    GOOD,
    action="lock",
    approval=ApprovalInput("ops001", "ops_lead", "Ready for export now", None),
    approver=User("ops001", "Olga", ("ops_lead",)),
    allowed_roles=("ops_lead", "platform_admin"),
    version_published=True,
    publisher_id="disp001",
    published_evidence_hash="sha256:a",
)


def _message(facts: DecisionFacts, checks: tuple = PUBLISH_CHECKS) -> str | None:  # type: ignore[type-arg]
    failure = first_failure(evaluate(checks, facts))
    return None if failure is None else failure.message


def test_check_order_follows_the_spec() -> None:
    assert [c(GOOD).name for c in PUBLISH_CHECKS] == [
        "state_matches_trail",
        "kill_switch_inactive",
        "site_not_shadow_only",
        "action_enabled",
        "approval_given",
        "role_allowed",
        "approver_registered",
        "approver_holds_role",
        "approver_is_logged_in",
        "reason_long_enough",
        "run_not_locked",
        "version_not_published",
        "evidence_matches_seal",
        "status_allows",
        "warn_has_override",
        "no_open_repairs",
        "no_absent_driver_assigned",
        "drift_not_block",
    ]
    assert [c(LOCK_GOOD).name for c in LOCK_CHECKS] == [
        "state_matches_trail",
        "kill_switch_inactive",
        "site_not_shadow_only",
        "action_enabled",
        "approval_given",
        "role_allowed",
        "approver_registered",
        "approver_holds_role",
        "approver_is_logged_in",
        "reason_long_enough",
        "run_not_locked",
        "version_is_published",
        "locker_differs_from_publisher",
        "evidence_matches_seal",
        "evidence_unchanged_since_publish",
        "status_allows",
        "warn_has_override",
        "no_open_repairs",
        "no_absent_driver_assigned",
        "drift_not_block",
    ]


def test_a_fact_off_the_trail_blocks_first() -> None:
    problem = "Site settings do not match the audit trail (event #7)"
    assert _message(replace(GOOD, trail_problem=problem, kill_switch_active=True)) == problem


def test_four_eyes_ignore_the_case_of_user_ids() -> None:
    same_person = replace(
        LOCK_GOOD, approval=replace(LOCK_GOOD.approval, approver_id="DISP001"),
        publisher_id="disp001",
    )  # fmt: skip
    assert _message(same_person, LOCK_CHECKS) == (
        "Lock requires a different person than the publisher"
    )


def test_everything_in_order_passes() -> None:
    assert _message(GOOD) is None
    assert _message(LOCK_GOOD, LOCK_CHECKS) is None


def test_first_failure_wins_when_several_fail() -> None:
    worst = replace(
        GOOD, kill_switch_active=True, shadow_only=True, status="FAIL", approval=ApprovalInput()
    )
    assert _message(worst) == "Kill switch is active"
    assert _message(replace(worst, kill_switch_active=False)) == "Site is in shadow-only mode"
    results = evaluate(PUBLISH_CHECKS, worst)
    assert [r.name for r in results if not r.passed][:3] == [
        "kill_switch_inactive",
        "site_not_shadow_only",
        "approval_given",
    ]


def test_messages_are_the_specs() -> None:
    cases = [
        (replace(GOOD, action_enabled=False), "Publish is not enabled for this site"),
        (
            replace(GOOD, approval=ApprovalInput("disp001", "dispatcher", "   ")),
            "Approval required but not provided",
        ),
        (
            replace(GOOD, approval=ApprovalInput("disp001", "driver", "Week reviewed, all fine")),
            "Approver role not in allowed roles",
        ),
        (replace(GOOD, approver=None), "Approver disp001 is not a registered active user"),
        (
            replace(GOOD, approver=User("disp001", "M", ("dispatcher",), active=False)),
            "Approver disp001 is not a registered active user",
        ),
        (
            replace(GOOD, approver=User("disp001", "M", ("ops_lead",))),
            "Approver disp001 does not hold role dispatcher",
        ),
        (
            replace(GOOD, approval=ApprovalInput("disp001", "dispatcher", "  too short  ")),
            "Reason must be at least 10 characters",
        ),
        (replace(GOOD, min_reason_length=30), "Reason must be at least 30 characters"),
        (replace(GOOD, run_locked=True), "Run RUN-20260113-001 is already locked"),
        (
            replace(GOOD, version_published=True),
            "Plan version 1 of RUN-20260113-001 is already published",
        ),
        (replace(GOOD, evidence_ok=False), "Evidence does not match its sealed hash"),
        (replace(GOOD, status="BLOCKED"), "Run status is BLOCKED; only PASS or WARN can proceed"),
        (replace(GOOD, status="WARN"), "WARN run requires an override reason"),
        (
            replace(GOOD, open_repairs=("REP-20260113063000", "REP-20260113064500")),
            "Week 2026-W03 has pending repairs: REP-20260113063000, REP-20260113064500",
        ),
        (
            replace(GOOD, absent_assignments=("D005 on 2026-01-13 (REP-20260113063000)",)),
            "v1 gives an absent driver a tour: D005 on 2026-01-13 (REP-20260113063000); "
            "request a repair for the driver",
        ),
        (
            replace(GOOD, absent_assignments=("a", "b", "c")),
            "v1 gives an absent driver a tour: a (and 2 more); request a repair for the driver",
        ),
        (replace(GOOD, drift_level="BLOCK"), "KPI drift is BLOCK"),
    ]
    for facts, message in cases:
        assert _message(facts) == message


def test_reason_of_exactly_the_minimum_after_trimming_passes() -> None:
    assert (
        _message(replace(GOOD, approval=ApprovalInput("disp001", "dispatcher", "  0123456789  ")))
        is None
    )


def test_warn_with_a_long_enough_override_passes() -> None:
    warn = replace(
        GOOD, status="WARN", approval=replace(GOOD.approval, override_reason="No baseline yet")
    )
    assert _message(warn) is None


def test_lock_specific_checks() -> None:
    assert (
        _message(replace(LOCK_GOOD, action_enabled=False), LOCK_CHECKS)
        == "Lock is not enabled for this site"
    )
    assert _message(replace(LOCK_GOOD, version_published=False), LOCK_CHECKS) == (
        "Plan version 1 of RUN-20260113-001 has not been published"
    )
    same = replace(LOCK_GOOD, publisher_id="ops001")
    assert _message(same, LOCK_CHECKS) == "Lock requires a different person than the publisher"
    assert _message(replace(same, lock_requires_other_person=False), LOCK_CHECKS) is None
    changed = replace(LOCK_GOOD, sealed_hash="sha256:b", rebuilt_hash="sha256:b")
    assert _message(changed, LOCK_CHECKS) == "Evidence changed since publish"


def _with(facts: DecisionFacts, **fields: str | None) -> DecisionFacts:
    return replace(facts, approval=replace(facts.approval, **fields))


def test_reasons_are_counted_without_invisible_characters() -> None:
    zero_width = "\u200b" * 10
    assert _message(_with(GOOD, reason=zero_width)) == "Reason must be at least 10 characters"
    assert _message(_with(GOOD, reason="abcdefghi" + "\u200b" * 4)) == (
        "Reason must be at least 10 characters"
    )
    assert _message(_with(GOOD, reason="!" * 12)) == "Reason must contain letters or digits"
    assert _message(_with(LOCK_GOOD, reason="ok" + "\u3000" * 10 + "ok"), LOCK_CHECKS) == (
        "Reason must be at least 10 characters"
    )
    warn = replace(GOOD, status="WARN")
    for override in (zero_width, "\U0001f69a" * 10, "abc\u00a0def\u00a0ghi"):
        assert _message(_with(warn, override_reason=override)) == (
            "WARN run requires an override reason"
        )
    assert _message(_with(warn, override_reason="Ｎｏ ｂａｓｅｌｉｎｅ")) is None


def test_approval_text_that_was_not_utf8_is_refused_at_check_4() -> None:
    cases = [
        ({"reason": "\udcff\udcfe bad reason"}, "Reason", "0xff"),
        ({"approver_id": "disp\udce4"}, "Approver", "0xe4"),
        ({"role": "dispatcher\udcff"}, "Role", "0xff"),
        ({"override_reason": "No baseline \udcfcberhaupt"}, "Override reason", "0xfc"),
    ]
    for fields, label, byte in cases:
        result = first_failure(evaluate(PUBLISH_CHECKS, _with(GOOD, **fields)))
        assert result is not None
        assert (result.name, result.message) == (
            "approval_given",
            f"{label} is not valid UTF-8 text (byte {byte}); check the terminal's encoding",
        )


def test_gate_messages_write_out_bytes_that_were_not_utf8() -> None:
    facts = replace(GOOD, approver=None)
    results = evaluate(PUBLISH_CHECKS, _with(facts, approver_id="gh\udcffst"))
    messages = {r.name: r.message for r in results}
    assert messages["approver_registered"] == "Approver gh\\xffst is not a registered active user"
    for result in results:
        result.message.encode("utf-8")
    assert ApprovalInput("gh\udcffst").approver_key is None
    assert ApprovalInput(" disp001 ").approver_key == "disp001"
