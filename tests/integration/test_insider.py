"""The attacks of issue 17, each tried as an insider would, on SQLite and PostgreSQL: first with
the database's guards in place (refused), then with them off (the write goes through, and the
gate that reads the fact, `audit verify --state` and evidence verification catch it)."""

from __future__ import annotations

import json

import pytest

from dispatcher.config import Settings
from tests.conftest import Cli, Insider
from tests.reseal import reseal_statements
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

REFUSED = ("append-only", "immutable", "permission denied")  # a guard trigger, or a grant


def _refused(refusal: str, *also: str) -> None:
    assert any(word in refusal for word in (*REFUSED, *also)), refusal


def _blocked(result: object, fragment: str) -> None:
    code, stderr = result.exit_code, result.stderr  # type: ignore[attr-defined]
    assert code == 2 and stderr.startswith("Blocked: ") and fragment in stderr, (code, stderr)
    assert stderr.count("\n") == 1


def _state_mismatch(site: Cli, table: str) -> None:
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 1, checked.output
    assert f"Mismatch {table}" in checked.stdout, checked.stdout
    assert "does not match the audit trail" in checked.stderr or "do not match" in checked.stderr


def _last_refusal(site: Cli, chain: str = "site") -> dict[str, object]:
    events = json.loads(site("audit", "log", "--chain", chain, "--json").stdout)
    assert events[-1]["outcome"] == "blocked"
    detail: dict[str, object] = events[-1]["detail"]
    return detail


def test_a_version_marked_published_by_hand_does_not_lock(site: Cli, insider: Insider) -> None:
    fake_publish = (
        "INSERT INTO approvals (tenant_id, site_id, run_pk, version, action, approver_id, role,"
        " reason, override_reason, evidence_hash, event_seq, created_at) SELECT tenant_id,"
        " site_id, run_pk, version, 'publish', 'disp001', 'dispatcher', 'published by hand',"
        " NULL, NULL, event_seq, created_at FROM plan_versions"
    )
    assert "approval" in insider.refused(fake_publish)
    _refused(insider.refused("UPDATE plan_versions SET status = 'PASS'"))
    insider.tamper(fake_publish)
    _blocked(site("lock", RUN, *LOCK_OK, *OVERRIDE), "does not match the audit trail")
    assert _last_refusal(site)["check"] == "state_matches_trail"
    _state_mismatch(site, "approvals")


def test_weakened_settings_do_not_let_a_short_reason_through(site: Cli, insider: Insider) -> None:
    weaken = "UPDATE site_settings SET min_reason_length = 1, lock_requires_other_person = false"
    _refused(insider.refused(weaken), "site.update event")  # PostgreSQL: no grant at all
    insider.tamper(weaken)
    short = ("--approver", "disp001", "--role", "dispatcher", "--reason", "x")
    _blocked(site("publish", RUN, *short, *OVERRIDE), "Site settings do not match the audit trail")
    _state_mismatch(site, "site_settings")


def test_a_platform_admin_inserted_by_hand_cannot_stop_anything(
    site: Cli, insider: Insider
) -> None:
    mallory = (
        "INSERT INTO users (tenant_id, user_id, name, roles, active, created_at, user_key,"
        " event_seq) VALUES ('LTS', 'mallory', 'Mallory', 'platform_admin', true,"
        " '2026-01-13 06:00:00', 'mallory', 1)"
    )
    _refused(insider.refused(mallory), "user.add event")
    insider.tamper(mallory)
    stop = ("kill-switch", "activate", "--by", "mallory", "--reason", "Stop every depot now")
    _blocked(site(*stop), "User mallory does not match the audit trail")
    assert _last_refusal(site, "platform")["check"] == "state_matches_trail"
    status = json.loads(site("kill-switch", "status", "--json").stdout)
    assert status["effective"]["active"] is False
    _state_mismatch(site, "users")


def test_deleting_the_kill_switch_history_does_not_lift_the_switch(
    site: Cli, insider: Insider
) -> None:
    stop = ("kill-switch", "activate", "--by", "admin01", "--reason", "Security incident now")
    assert site(*stop).exit_code == 0
    _refused(insider.refused("DELETE FROM kill_switch_history"))
    insider.tamper("DELETE FROM kill_switch_history")
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        "Kill switch (global) does not match the audit trail",
    )
    _state_mismatch(site, "kill_switch_history")


def test_a_pending_repair_closed_by_hand_still_blocks_publish(site: Cli, insider: Insider) -> None:
    sick = ("request-repair", "--week", "2026-W03", "--driver", "D004", "--type", "sick",
            "--days", "Wed", "--requester", "disp001")  # fmt: skip
    assert site(*sick).exit_code == 0
    close = "UPDATE repair_requests SET status = 'APPLIED'"
    _refused(insider.refused(close), "newer repair event")  # PostgreSQL: no UPDATE at all
    insider.tamper(close)
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "does not match the audit trail")
    _state_mismatch(site, "repair_requests")


def test_a_closed_request_edited_by_hand_does_not_free_the_sick_driver(
    site: Cli, insider: Insider
) -> None:
    """The reject's event vouches for the status, the request's own event for whom it made
    absent when: an applied or rejected request whose days are rewritten by hand stops the
    gates instead of giving the driver back her Wednesday."""
    sick = ("request-repair", "--week", "2026-W03", "--driver", "D004", "--type", "sick",
            "--days", "Wed", "--requester", "disp001")  # fmt: skip
    request = site(*sick).stdout.strip()
    kept = ("reject-repair", request, "--by", "ops001", "--reason", "We repair it by hand")
    assert site(*kept).exit_code == 0
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "gives an absent driver a tour: D004")
    moved = (
        "UPDATE repair_requests SET scope = replace(scope, '\"absence_days\":[3]',"
        " '\"absence_days\":[7]')"
    )
    _refused(insider.refused(moved), "newer repair event")
    insider.tamper(moved, restore=True)
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        f"Repair request {request} does not match the audit trail",
    )
    assert _last_refusal(site)["check"] == "state_matches_trail"
    _state_mismatch(site, "repair_requests")


def test_deleting_every_approval_is_noticed(site: Cli, insider: Insider, tmp_path: object) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    _refused(insider.refused("DELETE FROM approvals"))
    insider.tamper("DELETE FROM approvals")
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        f"The approvals of {RUN} do not match the audit trail",
    )
    _state_mismatch(site, "approvals")


def test_a_plan_resealed_after_publish_is_caught_by_lock(
    site: Cli, insider: Insider, db: str
) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    reseal = reseal_statements(Settings(db=db).url, RUN, "D005", "D006")
    _refused(insider.refused(reseal))
    insider.tamper(reseal)
    # The version's sealed hash is not the one its creating event holds: the lock is refused.
    _blocked(
        site("lock", RUN, *LOCK_OK, *OVERRIDE),
        f"Plan version 1 of {RUN} does not match the audit trail",
    )
    verify = site("evidence", "verify", RUN)
    assert verify.exit_code == 1 and "does not match the audit trail" in verify.stderr
    _state_mismatch(site, "evidence_records")


def test_a_locked_plan_resealed_does_not_export(
    site: Cli, insider: Insider, db: str, tmp_path: object
) -> None:
    from pathlib import Path

    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    insider.tamper(reseal_statements(Settings(db=db).url, RUN, "D005", "D006"))
    out = Path(str(tmp_path)) / "w03.csv"
    _blocked(
        site("export", RUN, "--out", str(out)),
        f"Plan version 1 of {RUN} does not match the audit trail",
    )
    assert not out.exists()
    shown = json.loads(site("show-run", RUN, "--json").stdout)
    evidence = shown["evidence"]
    assert evidence["verified"] is False
    assert any("its lock" in p for p in evidence["problems"]), evidence["problems"]
    _state_mismatch(site, "evidence_records")


def test_a_lock_time_moved_by_hand_does_not_reach_the_manifest(
    site: Cli, insider: Insider, tmp_path: object
) -> None:
    from pathlib import Path

    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    backdate = "UPDATE approvals SET created_at = '2025-06-01 00:00:00' WHERE action = 'lock'"
    _refused(insider.refused(backdate))
    insider.tamper(backdate)
    out = Path(str(tmp_path)) / "w03.csv"
    _blocked(site("export", RUN, "--out", str(out)), f"The lock of {RUN} v1 does not match")
    assert not out.exists()
    _state_mismatch(site, "approvals")


@pytest.mark.parametrize("table", ["runs", "plan_versions", "assignments", "tour_instances"])
def test_stored_plans_take_no_update_or_delete_even_unlocked(
    site: Cli, insider: Insider, table: str
) -> None:
    _refused(insider.refused(f"DELETE FROM {table}"))


def test_a_site_chain_opens_with_its_site_create(cli: Cli, insider: Insider) -> None:
    """A refusal is the first thing a new site records (a kill switch asked for by someone who
    is not registered): the site is created first, so its chain still opens with site.create.
    An event planted as a new site's first is refused by the database."""
    refused = cli("kill-switch", "activate", "--scope", "site", "--by", "nobody",
                  "--reason", "Trying it out today")  # fmt: skip
    assert refused.exit_code == 2, refused.output
    events = json.loads(cli("audit", "log", "--json").stdout)
    assert [(e["seq"], e["action"], e["outcome"]) for e in events] == [
        (1, "site.create", "allowed"),
        (2, "kill_switch.activate", "blocked"),
    ]
    planted = (
        "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, "
        "detail, prev_hash, hash, body) VALUES ('LTS', 'LINZ', 1, '2026-01-13T08:00:00.000000Z', "
        "'state.adopt', 'allowed', '{}', 'sha256:" + "0" * 64 + "', 'sha256:x', '{}')"
    )
    refusal = insider.refused(planted)  # PostgreSQL: no INSERT at all (the database appends)
    assert "opens with its site.create" in refusal or "permission denied" in refusal


def test_a_cache_row_names_only_its_own_site_s_version(site: Cli, insider: Insider) -> None:
    squat = (
        "INSERT INTO version_checks (tenant_id, site_id, version_pk, status, status_reason, "
        "checked_at) SELECT 'LTS', 'GRAZ', id, 'PASS', 'squatted', '2026-01-13 08:00:00' "
        "FROM plan_versions"
    )
    refusal = insider.refused(squat)
    _refused(refusal, "a plan version of its own site", "row-level security")


@pytest.mark.sqlite_only
def test_an_event_of_more_than_a_megabyte_is_refused(site: Cli, insider: Insider) -> None:
    from dispatcher.domain.events import Action, EventDraft, Outcome
    from tests.forge import forge, resealed_sql

    _, event = forge(
        site, "site", EventDraft(Action.KILL_SWITCH_ACTIVATE, outcome=Outcome.BLOCKED,
                                 actor_id="nobody", detail={"check": "x", "message": "y"})
    )  # fmt: skip
    assert "at most 1 MB" in insider.refused(resealed_sql(event, reason="x" * 1_100_000))


def test_a_cache_row_made_better_by_hand_is_not_shown(site: Cli, insider: Insider) -> None:
    """The last re-verification is a cache the site's own login can write: set to PASS for a
    WARN version it changes nothing shown; a worse one (FAIL) is shown, as a re-verification
    that found a fault would be."""
    assert site("show-run", RUN).exit_code == 0  # writes the cache row
    insider.tamper("UPDATE version_checks SET status = 'PASS', status_reason = 'All fine'")
    listed = json.loads(site("list-runs", "--json").stdout)
    assert [r["status"] for r in listed] == ["WARN"]
    insider.tamper("UPDATE version_checks SET status = 'FAIL', status_reason = 'Evidence'")
    listed = json.loads(site("list-runs", "--json").stdout)
    assert [r["status"] for r in listed] == ["FAIL"]
