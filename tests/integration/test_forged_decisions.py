"""Decisions the gates would have refused, written by an insider who runs a patched copy of the
tool (anyone can read its code): the event is correctly hashed and linked, every state row is
bound to it, so the chains and the state verify. `audit verify --state` replays the trail with the
gates' own checks and names the decision, by chain and seq, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dispatcher.domain.events import Action, EventDraft, Outcome
from tests.conftest import Cli, Insider
from tests.forge import forge
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN


def _patched_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The insider's copy: publish and lock never find a failing check; anyone registered is
    an admin for the registry and the kill switch."""
    import dispatcher.services.decisions as decisions
    import dispatcher.services.kill_switch as kill_switch
    import dispatcher.services.users as users

    def anyone(uow: Any, action: Any, by: str, *args: Any, **kwargs: Any) -> Any:
        return uow.users.get(by.strip())

    monkeypatch.setattr(decisions, "first_failure", lambda results: None)
    monkeypatch.setattr(users, "require_admin", anyone)
    monkeypatch.setattr(kill_switch, "require_admin", anyone)


def _state(site: Cli) -> tuple[int, dict[str, Any]]:
    checked = site("audit", "verify", "--state", "--json")
    return checked.exit_code, json.loads(checked.stdout)


def _only_decision_named(site: Cli, key: str, fragment: str) -> None:
    """The chains intact, every state row bound, and one decision named: `key` (chain #seq)."""
    assert site("audit", "verify").exit_code == 0
    code, report = _state(site)
    assert code == 1
    problems = report["state"]["problems"]
    assert [(p["table"], p["key"]) for p in problems] == [("decisions", key)], problems
    assert fragment in problems[0]["problem"], problems[0]["problem"]
    shown = site("audit", "verify", "--state")
    assert shown.exit_code == 1 and key in shown.stdout, shown.stdout


def _tip(site: Cli, chain: str = "site") -> int:
    rows = json.loads(site("audit", "log", "--chain", chain, "--json", "-n", "1").stdout)
    return int(rows[0]["seq"])


def test_the_tool_s_own_decisions_replay_clean(site: Cli, tmp_path: Any) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    assert site("export", RUN, "--out", str(tmp_path / "w03.csv")).exit_code == 0
    refused = site("publish", RUN, "--approver", "disp001", "--role", "dispatcher", "--reason", "x")
    assert refused.exit_code == 2  # a refusal is replayed too (its tips), never judged allowed
    code, report = _state(site)
    assert code == 0, report["state"]["problems"]
    assert report["state"]["checked"]["decisions"] == 3  # publish, lock, export


@pytest.mark.parametrize(
    ("publisher", "lock", "fragment"),
    [
        pytest.param(
            PUBLISH_OK,
            ("--approver", "disp002", "--role", "dispatcher", "--reason", "Looks fine to me"),
            "Approver role not in allowed roles",
            id="role-not-allowed",
        ),
        pytest.param(
            PUBLISH_OK,
            ("--approver", "ops001", "--role", "platform_admin", "--reason", "Looks fine to me"),
            "Approver ops001 does not hold role platform_admin",
            id="role-not-held",
        ),
        pytest.param(
            PUBLISH_OK,
            ("--approver", "ops001", "--role", "ops_lead", "--reason", "ok"),
            "Reason must be at least",
            id="short-reason",
        ),
        pytest.param(
            PUBLISH_OK,
            ("--approver", "ops001", "--role", "ops_lead", "--reason", "\u200b" * 12),
            "Reason must be at least",
            id="invisible-reason",
        ),
        pytest.param(
            ("--approver", "ops001", "--role", "ops_lead", "--reason", "Week 2026-W03 reviewed"),
            LOCK_OK,
            "Lock requires a different person than the publisher",
            id="four-eyes",
        ),
    ],
)
def test_a_lock_the_gates_refuse_is_named(
    site: Cli,
    monkeypatch: pytest.MonkeyPatch,
    publisher: tuple[str, ...],
    lock: tuple[str, ...],
    fragment: str,
) -> None:
    assert site("publish", RUN, *publisher, *OVERRIDE).exit_code == 0
    _patched_gates(monkeypatch)
    forged = site("lock", RUN, *lock, *OVERRIDE)
    assert forged.exit_code == 0, forged.output
    _only_decision_named(site, f"site #{_tip(site)}", f"lock allowed although {fragment}")


def test_a_publish_under_the_kill_switch_is_named(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--by", "admin01", "--reason", "Dispatch system outage")
    assert site("kill-switch", "activate", *args).exit_code == 0
    _patched_gates(monkeypatch)
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    _only_decision_named(site, f"site #{_tip(site)}", "Kill switch")


def test_a_lock_of_a_version_never_published_is_named(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patched_gates(monkeypatch)
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    _only_decision_named(site, f"site #{_tip(site)}", "published")


def test_a_user_added_by_a_dispatcher_is_named(site: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _patched_gates(monkeypatch)
    added = site(
        "users", "add", "mallory", "--name", "Mallory", "--role", "platform_admin",
        "--by", "disp001", "--reason", "Needs access urgently",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    _only_decision_named(
        site, f"registry #{_tip(site, 'tenant')}", "disp001 was not a registered active"
    )


def test_the_global_kill_switch_lifted_by_a_dispatcher_is_named(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--reason", "Dispatch system outage")
    assert site("kill-switch", "activate", "--by", "admin01", *args).exit_code == 0
    _patched_gates(monkeypatch)
    lifted = site("kill-switch", "deactivate", "--by", "disp001", "--reason", "Back to work now")
    assert lifted.exit_code == 0, lifted.output
    _only_decision_named(site, f"platform #{_tip(site, 'platform')}", "disp001 was not")


def test_a_disable_slipped_in_before_a_lock_is_named(
    site: Cli, insider: Insider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ops lead locks an hour later; an insider then appends, at the registry's tip, a
    disable of the ops lead dated before the lock (and binds the user row to it), as if the lock
    had been made by someone already disabled. The lock recorded the registry tip it was judged
    on: the earlier-dated event it did not see is named."""
    from datetime import timedelta

    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    monkeypatch.setenv("DISPATCHER_NOW", "2026-01-13T09:00:00Z")
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    lock_seq = _tip(site)
    user = {"user": "ops001", "name": "Olga Betrieb", "roles": ["ops_lead"], "active": False}
    statement, event = forge(
        site,
        "tenant",
        EventDraft(Action.USER_DISABLE, actor_id="admin01", actor_role="platform_admin",
                   reason="Left the company", detail=user),
        after=timedelta(minutes=1),
    )  # fmt: skip
    bind = f"UPDATE users SET active = false, event_seq = {event.seq} WHERE user_id = 'ops001'"
    insider.tamper(f"{statement};\n{bind}", restore=True)
    _only_decision_named(site, f"site #{lock_seq}", f"ignores registry event #{event.seq}")


# --- what an attack on the replay itself found (issue 17's insider, second round) ---------------


def _global_switch_row(event_seq: int, actor: str, active: bool) -> str:
    flag = "true" if active else "false"
    return (
        "INSERT INTO kill_switch_history (scope, active, actor_id, reason, changed_at, "
        f"event_tenant, event_site, event_seq) VALUES ('global', {flag}, '{actor}', "
        f"'Back to work now', '2026-01-13 08:00:00', '*', '*', {event_seq})"
    )


def test_a_platform_event_made_from_a_tenant_without_registry_is_named(
    site: Cli, insider: Insider
) -> None:
    args = ("--by", "admin01", "--reason", "Dispatch system outage")
    assert site("kill-switch", "activate", *args).exit_code == 0
    statement, event = forge(
        site,
        "platform",
        EventDraft(Action.KILL_SWITCH_DEACTIVATE, actor_id="disp001", actor_role="dispatcher",
                   reason="Back to work now",
                   detail={"scope": "global", "target": "global",
                           "seen": {"registry": 4, "site": ["ZZZ", "NOWHERE", 0]}}),
    )  # fmt: skip
    insider.tamper(f"{statement};\n{_global_switch_row(event.seq, 'disp001', False)}", restore=True)
    # the operator's rule comes first (a database made on first use names none: then "tenant
    # ZZZ, which has no user registry")
    _only_decision_named(site, f"platform #{event.seq}", "only the platform's operator (LTS)")


def test_a_platform_event_cannot_choose_an_older_registry(
    site: Cli, insider: Insider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """admin01 is disabled at 10:00; a lift of the global switch by admin01 at 11:00 that
    records the registry as it stood before the disable."""
    from datetime import timedelta

    assert site("kill-switch", "activate", "--by", "admin01",
                "--reason", "Dispatch system outage").exit_code == 0  # fmt: skip
    before = _tip(site, "tenant")
    monkeypatch.setenv("DISPATCHER_NOW", "2026-01-13T10:00:00Z")
    assert site("users", "add", "admin02", "--name", "Second Admin", "--role", "platform_admin",
                "--by", "admin01", "--reason", "A second admin").exit_code == 0  # fmt: skip
    assert site("users", "disable", "admin01", "--by", "admin02",
                "--reason", "Left the company").exit_code == 0  # fmt: skip
    statement, event = forge(
        site,
        "platform",
        EventDraft(Action.KILL_SWITCH_DEACTIVATE, actor_id="admin01", actor_role="platform_admin",
                   reason="Back to work now",
                   detail={"scope": "global", "target": "global",
                           "seen": {"registry": before, "site": ["LTS", "WIEN", 5]}}),
        after=timedelta(hours=3),
    )  # fmt: skip
    insider.tamper(f"{statement};\n{_global_switch_row(event.seq, 'admin01', False)}", restore=True)
    _only_decision_named(
        site, f"platform #{event.seq}", f"it ignores LTS registry event #{before + 1}"
    )


def test_a_site_switch_event_of_another_scope_is_named(site: Cli, insider: Insider) -> None:
    """A deactivation whose scope the state fold does not count ("site " with a space): the
    switch stays on for the gates, and the replay does not take it as lifted either."""
    args = ("--scope", "site", "--by", "admin01", "--reason", "Dispatch system outage")
    assert site("kill-switch", "activate", *args).exit_code == 0
    statement, event = forge(
        site,
        "site",
        EventDraft(Action.KILL_SWITCH_DEACTIVATE, actor_id="admin01", actor_role="platform_admin",
                   reason="Back to work now",
                   detail={"scope": "site ", "target": "LTS/WIEN",
                           "seen": {"registry": _tip(site, "tenant"),
                                    "platform": _tip(site, "platform")}}),
    )  # fmt: skip
    insider.tamper(statement, restore=True)
    _only_decision_named(site, f"site #{event.seq}", "is for the site's switch")


def test_a_version_whose_event_claims_another_status_is_named(
    cli: Cli, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patched tool records a WARN run's import as PASS: the version's own audits say WARN."""
    import dispatcher.services.audit as audit
    from tests.conftest import populate_site

    real = audit.seal_event  # type: ignore[attr-defined]

    def lying(draft: EventDraft, **where: Any) -> Any:
        if draft.action == Action.RUN_IMPORT:
            draft = EventDraft(**{**draft.__dict__, "detail": {**draft.detail, "status": "PASS"}})
        return real(draft, **where)

    monkeypatch.setattr(audit, "seal_event", lying)
    populate_site(cli, tmp_path)
    monkeypatch.setattr(audit, "seal_event", real)
    code, report = _state(cli)
    assert code == 1
    assert [p["problem"] for p in report["state"]["problems"]] == [
        f"is WARN by its own audits, event #{_import_seq(cli)} says PASS"
    ]


def _import_seq(site: Cli) -> int:
    rows = json.loads(site("audit", "log", "--json", "--action", "run.import").stdout)
    return int(rows[0]["seq"])


def test_an_exporter_must_be_registered(site: Cli, tmp_path: Any) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    out = tmp_path / "w03.csv"
    refused = site("export", RUN, "--out", str(out), "--by", "mallory")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Blocked: Exporter mallory is not a registered active user\n",
    )
    assert not out.exists()
    assert site("export", RUN, "--out", str(out), "--by", "OPS001").exit_code == 0
    exported = json.loads(site("audit", "log", "--json", "-n", "1").stdout)[0]
    assert (exported["action"], exported["actor_id"]) == ("export", "ops001")


def test_an_event_written_another_way_is_refused_and_named(site: Cli, insider: Insider) -> None:
    """A time that sorts after the tip as text but names an earlier day, and JSON nested deeper
    than any reader goes: the database refuses both; with its guards dropped, `audit verify`
    names the first and no command fails on either."""
    from tests.forge import resealed_sql

    _, event = forge(
        site, "site", EventDraft(Action.KILL_SWITCH_ACTIVATE, outcome=Outcome.BLOCKED,
                                 actor_id="nobody", detail={"check": "x", "message": "y"})
    )  # fmt: skip
    odd_time = resealed_sql(event, occurred_at="2026-1-06T07:00:00.000000Z")
    deep = resealed_sql(event, raw_detail="[" * 100_000 + "]" * 100_000)
    for statement in (odd_time, deep):
        assert "occurred_at is YYYY" in insider.refused(statement) or "permission" in (
            insider.refused(statement)
        )
    insider.tamper(deep, restore=True)
    for args in (("audit", "verify", "--state"), ("audit", "log"), ("status",)):
        assert site(*args).exit_code in (0, 1), args  # never a traceback (catch_exceptions off)
    code, report = _state(site)
    assert code == 1
    assert {"table": "audit_events", "key": f"site #{event.seq}",
            "problem": "its body is not a JSON object this tool reads (malformed, or nested too "
            "deep)"} in report["state"]["problems"]  # fmt: skip


def test_odd_values_in_forged_events_are_named_never_a_crash(site: Cli, insider: Insider) -> None:
    ids = {"registry": _tip(site, "tenant"), "platform": _tip(site, "platform")}
    statement, _ = forge(
        site, "site",
        EventDraft(Action.SITE_UPDATE, actor_id="admin01", actor_role="platform_admin",
                   reason="Looks harmless", detail={"settings": {"min_reason_length": "ten"},
                                                    "seen": {**ids, "site": ["LTS", "WIEN", "x"]}}),
    )  # fmt: skip
    insider.tamper(statement, restore=True)
    code, report = _state(site)
    assert code == 1 and report["state"]["problems"], report


def _sick_call(site: Cli) -> str:
    request = site(
        "request-repair", "--week", "2026-W03", "--driver", "D004", "--type", "sick",
        "--days", "Wed", "--requester", "disp001",
    )  # fmt: skip
    assert request.exit_code == 0, request.output
    return request.stdout.strip()


def test_a_forged_repair_apply_is_judged_by_apply_s_own_checks(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insider's copy applies with a role the approver does not hold."""
    import dispatcher.services.repairs as repairs

    rep = _sick_call(site)
    assert site("run-repair", "--request", rep).exit_code == 0
    monkeypatch.setattr(repairs, "first_failure", lambda results: None)
    applied = site(
        "apply-repair", rep, "--approver", "disp001", "--role", "ops_lead",
        "--reason", "Sick call covered by hand",
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    _only_decision_named(
        site, f"site #{_tip(site)}", "Approver disp001 does not hold role ops_lead"
    )


def test_a_forged_reject_by_someone_without_a_repair_role_is_named(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dispatcher.services.repairs as repairs

    rep = _sick_call(site)
    monkeypatch.setattr(repairs, "first_failure", lambda results: None)
    rejected = site("reject-repair", rep, "--by", "admin01", "--reason", "Not needed after all")
    assert rejected.exit_code == 0, rejected.output
    _only_decision_named(
        site, f"site #{_tip(site)}", "Only a registered user holding a repair role"
    )
