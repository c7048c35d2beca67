"""Publish, lock, check, export, kill switch, users and site settings through the CLI.

The small sample site relaxes the FTE/PT thresholds (its drivers work few hours), so its runs are
WARN (no baseline) until a week is locked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FIXED_NOW, Cli, CliResult
from tests.helpers import sqlite_refuses, sqlite_tamper
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN, VALID_ASSIGNMENTS, run_doc, write_run
from tests.versions import add_version


def _blocked(result: CliResult, message: str) -> None:
    assert result.exit_code == 2, result.stdout
    assert result.stderr == f"Blocked: {message}\n"


# --- the procedure's error table -----------------------------------------------------------------


def test_kill_switch_is_active(site: Cli) -> None:
    assert (
        site(
            "kill-switch", "activate", "--by", "admin01", "--reason", "Security incident suspected"
        ).exit_code
        == 0
    )
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Kill switch is active")


def test_approval_required_but_not_provided(site: Cli) -> None:
    _blocked(site("publish", RUN), "Approval required but not provided")
    _blocked(
        site("publish", RUN, "--approver", "disp001", "--role", "dispatcher"),
        "Approval required but not provided",
    )


def test_approver_role_not_in_allowed_roles(site: Cli) -> None:
    _blocked(
        site(
            "lock",
            RUN,
            "--approver",
            "disp001",
            "--role",
            "dispatcher",
            "--reason",
            "Ready for export now",
        ),
        "Approver role not in allowed roles",
    )


def test_reason_must_be_at_least_10_characters(site: Cli) -> None:
    _blocked(
        site(
            "publish", RUN, "--approver", "disp001", "--role", "dispatcher", "--reason", " ok fine "
        ),
        "Reason must be at least 10 characters",
    )


def test_site_is_in_shadow_only_mode(site: Cli) -> None:
    assert (
        site(
            "site", "set", "shadow_only=true", "--by", "admin01", "--reason", "Back to shadow"
        ).exit_code
        == 0
    )
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Site is in shadow-only mode")


# --- the rest of the gate table -------------------------------------------------------------------


def test_publish_not_enabled(site: Cli) -> None:
    site("site", "set", "publish_enabled=no", "--by", "admin01", "--reason", "Freeze publishing")
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Publish is not enabled for this site")


def test_unregistered_disabled_and_wrong_role_approvers(site: Cli) -> None:
    _blocked(
        site(
            "publish",
            RUN,
            "--approver",
            "ghost",
            "--role",
            "dispatcher",
            "--reason",
            "Looks fine to me",
        ),
        "Approver ghost is not a registered active user",
    )
    _blocked(
        site(
            "publish",
            RUN,
            "--approver",
            "ops001",
            "--role",
            "dispatcher",
            "--reason",
            "Looks fine to me",
        ),
        "Approver ops001 does not hold role dispatcher",
    )
    assert (
        site(
            "users", "disable", "disp002", "--by", "admin01", "--reason", "Left the team"
        ).exit_code
        == 0
    )
    _blocked(
        site(
            "publish",
            RUN,
            "--approver",
            "disp002",
            "--role",
            "dispatcher",
            "--reason",
            "Looks fine to me",
        ),
        "Approver disp002 is not a registered active user",
    )


def test_warn_run_requires_override_then_publishes_and_locks(site: Cli, tmp_path: Path) -> None:
    _blocked(site("publish", RUN, *PUBLISH_OK), "WARN run requires an override reason")
    published = site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    assert published.exit_code == 0, published.output
    assert published.stdout.startswith(
        f"Published {RUN} v1 by disp001 (dispatcher) at 2026-01-13T08:00:00Z"
    )
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        f"Plan version 1 of {RUN} is already published",
    )
    _blocked(site("lock", RUN, *LOCK_OK), "WARN run requires an override reason")
    locked = site("lock", RUN, *LOCK_OK, *OVERRIDE)
    assert locked.exit_code == 0, locked.output
    assert "Plan is immutable, evidence sealed, ready for export." in locked.stdout
    _blocked(site("lock", RUN, *LOCK_OK, *OVERRIDE), f"Run {RUN} is already locked")
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), f"Run {RUN} is already locked")
    data = json.loads(site("show-run", RUN, "--json").stdout)
    assert (data["published"], data["published_by"], data["locked"], data["locked_by"]) == (
        True,
        "disp001",
        True,
        "ops001",
    )
    assert data["published_at"] == data["locked_at"] == "2026-01-13T08:00:00Z"


def test_lock_before_publish_and_by_the_publisher_are_refused(site: Cli) -> None:
    _blocked(
        site("lock", RUN, *LOCK_OK, *OVERRIDE), f"Plan version 1 of {RUN} has not been published"
    )
    site(
        "users",
        "add",
        "lead01",
        "--name",
        "Lead",
        "--role",
        "dispatcher",
        "--role",
        "ops_lead",
        "--by",
        "admin01",
        "--reason",
        "Dispatcher and ops lead",
    )
    as_lead = ("--approver", "lead01", "--reason", "My own plan, reviewed")
    assert site("publish", RUN, *as_lead, "--role", "dispatcher", *OVERRIDE).exit_code == 0
    _blocked(
        site("lock", RUN, *as_lead, "--role", "ops_lead", *OVERRIDE),
        "Lock requires a different person than the publisher",
    )


def test_lock_after_a_new_plan_version_is_refused(site: Cli, db_path: Path) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    add_version(db_path, RUN, {"T202#3": "D006", "T202#2": "D005"}, at=FIXED_NOW)
    _blocked(
        site("lock", RUN, *LOCK_OK, *OVERRIDE), f"Plan version 2 of {RUN} has not been published"
    )


def test_tampered_evidence_blocks_publish(site: Cli, db_path: Path) -> None:
    change = "UPDATE assignments SET driver_id = 'D005' WHERE instance_id = 'T101#2'"
    assert "immutable" in sqlite_refuses(db_path, change)
    sqlite_tamper(db_path, change)
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Evidence does not match its sealed hash"
    )


def test_failing_run_cannot_be_published(site: Cli, tmp_path: Path) -> None:
    pairs = [p for p in VALID_ASSIGNMENTS if p[0] != "T301#1"]
    site("import-run", str(write_run(tmp_path / "open.json", run_doc(assignments=pairs))))
    _blocked(
        site("publish", "RUN-20260113-002", *PUBLISH_OK, *OVERRIDE),
        "Run status is FAIL; only PASS or WARN can proceed",
    )


SICK_WEDNESDAY = (
    "request-repair",
    "--week",
    "2026-W03",
    "--driver",
    "D004",
    "--type",
    "sick",
    "--days",
    "Wed",
    "--requester",
    "disp001",
)


def test_pending_repairs_block_publish(site: Cli) -> None:
    assert site(*SICK_WEDNESDAY).exit_code == 0
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        "Week 2026-W03 has pending repairs: REP-20260113090000",
    )


def test_a_request_written_by_hand_never_reaches_the_gates(site: Cli, db_path: Path) -> None:
    planted = (
        "INSERT INTO repair_requests (tenant_id, site_id, request_id, run_pk, base_version, week,"
        " driver_id, absence_type, scope, requester, urgency, status, created_at, event_seq)"
        " VALUES ('LTS', 'WIEN', 'REP-20260113063000', 1, 1, '2026-W03', 'D001', 'sick', '{}',"
        " 'disp001', 'high', 'PENDING', '2026-01-13 05:30:00', 3)"
    )
    assert "repair.request event" in sqlite_refuses(db_path, planted)
    sqlite_tamper(db_path, planted)
    _blocked(
        site("publish", RUN, *PUBLISH_OK, *OVERRIDE),
        "Repair request REP-20260113063000 does not match the audit trail (event #3)",
    )


def test_a_pending_request_closed_by_hand_still_blocks(site: Cli, db_path: Path) -> None:
    assert site(*SICK_WEDNESDAY).exit_code == 0
    closing_it = "UPDATE repair_requests SET status = 'REJECTED'"
    assert "newer repair event" in sqlite_refuses(db_path, closing_it)
    sqlite_tamper(db_path, closing_it)
    result = site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    assert result.exit_code == 2
    assert result.stderr.startswith("Blocked: Repair request REP-20260113090000 does not match")
    assert site("audit", "verify", "--state").exit_code == 1


# --- check ---------------------------------------------------------------------------------------


def test_check_lists_every_gate_and_records_nothing(site: Cli) -> None:
    before = json.loads(site("audit", "log", "--json", "-n", "1000").stdout)
    result = site("check", RUN, "--action", "publish", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    failed = [r["name"] for r in report["results"] if not r["passed"]]
    assert failed == [
        "approval_given",
        "role_allowed",
        "approver_registered",
        "approver_holds_role",
        "reason_long_enough",
        "warn_has_override",
    ]
    assert len(report["results"]) == 18 and report["allowed"] is False
    ok = site("check", RUN, *PUBLISH_OK, *OVERRIDE)
    assert ok.exit_code == 0 and "publish would be allowed." in ok.stdout
    assert json.loads(site("audit", "log", "--json", "-n", "1000").stdout) == before
    assert (
        site("check", RUN, "--action", "delete").stderr
        == "Error: Unknown action 'delete': use publish or lock\n"
    )


def test_unknown_run_is_an_error_before_any_gate(site: Cli) -> None:
    before = site("audit", "log", "--json").stdout
    result = site("publish", "RUN-20260113-999", *PUBLISH_OK)
    assert (result.exit_code, result.stderr) == (1, "Error: Run RUN-20260113-999 not found\n")
    assert site("audit", "log", "--json").stdout == before


# --- audit trail ---------------------------------------------------------------------------------


def test_every_decision_is_an_audit_event_and_the_chain_holds(site: Cli, tmp_path: Path) -> None:
    site("publish", RUN)
    site("publish", RUN, *PUBLISH_OK)
    site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    site("lock", RUN, *LOCK_OK, *OVERRIDE)
    site("export", RUN, "--out", str(tmp_path / "w03.csv"), "--by", "ops001")
    events = json.loads(site("audit", "log", "--json", "-n", "1000").stdout)
    decisions = [
        (e["action"], e["outcome"], e["detail"].get("check"))
        for e in events
        if e["action"] in ("publish", "lock", "export")
    ]
    assert decisions == [
        ("publish", "blocked", "approval_given"),
        ("publish", "blocked", "warn_has_override"),
        ("publish", "allowed", None),
        ("lock", "allowed", None),
        ("export", "allowed", None),
    ]
    publish = next(e for e in events if e["action"] == "publish" and e["outcome"] == "allowed")
    assert (publish["actor_id"], publish["actor_role"], publish["plan_version"]) == (
        "disp001",
        "dispatcher",
        1,
    )
    assert publish["evidence_hash"].startswith("sha256:")
    assert publish["detail"]["override_reason"] == "No locked earlier week to compare with"
    verify = json.loads(site("audit", "verify", "--json").stdout)
    assert verify["ok"] is True and verify["count"] == len(events)


# --- supersede -----------------------------------------------------------------------------------


def test_publishing_a_newer_run_of_the_week_supersedes_the_earlier(
    site: Cli, tmp_path: Path
) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    site("import-run", str(write_run(tmp_path / "again.json")))
    second = site("publish", "RUN-20260113-002", *PUBLISH_OK, *OVERRIDE)
    assert f"Supersedes the earlier published plan: {RUN} v1" in second.stdout
    runs = {r["run_id"]: r for r in json.loads(site("list-runs", "--json").stdout)}
    assert runs[RUN]["superseded"] is True and runs["RUN-20260113-002"]["superseded"] is False
    assert json.loads(site("show-run", RUN, "--json").stdout)["superseded_by"] == "RUN-20260113-002"


def test_a_locked_plan_gives_way_only_to_another_lock(site: Cli, tmp_path: Path) -> None:
    """domain.md §7: a locked week changes through a new run, published and locked in turn. The
    publish does not put an unlocked plan in force; the new run's lock does."""
    second = "RUN-20260113-002"
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    site("import-run", str(write_run(tmp_path / "again.json")))
    published = site("publish", second, *PUBLISH_OK, *OVERRIDE)
    assert published.exit_code == 0, published.output
    assert f"{RUN} v1 (locked) stays in force until {second} v1 is locked." in published.stdout
    assert "Supersedes" not in published.stdout
    week = json.loads(site("status", "--json").stdout)["weeks"][0]
    assert week["in_force"] == {"run_id": RUN, "version": 1, "locked": True}
    assert week["successor"] == {"run_id": second, "version": 1}
    assert week["working"]["run_id"] == second
    runs = {r["run_id"]: r for r in json.loads(site("list-runs", "--json").stdout)}
    assert not runs[RUN]["superseded"] and runs[RUN]["week_role"] == "in force"
    assert runs[second]["week_role"] == "working"
    assert f"Pending:  {second} v1 (WARN) pending lock" in site("status").stdout
    assert "published to replace" in site("show-run", second).stdout
    # A sick call without --run goes to the run that will replace the locked plan.
    sick = site(
        "request-repair", "--week", "2026-W03", "--driver", "D004", "--type", "sick",
        "--days", "Wed", "--requester", "disp001",
    )  # fmt: skip
    assert sick.exit_code == 0, sick.output
    assert f"on {second} v1 (published to replace the week's locked plan)" in sick.stderr
    request = sick.stdout.strip()
    assert site(
        "reject-repair", request, "--by", "ops001", "--reason", "Handled by phone",
        "--driver-available",
    ).exit_code == 0  # fmt: skip
    locked = site("lock", second, *LOCK_OK, *OVERRIDE)
    assert locked.exit_code == 0, locked.output
    assert f"Supersedes the earlier locked plan: {RUN} v1" in locked.stdout
    runs = {r["run_id"]: r for r in json.loads(site("list-runs", "--json").stdout)}
    assert runs[RUN]["superseded"] and runs[second]["week_role"] == "in force"
    lock_event = json.loads(site("audit", "log", "--json", "--action", "lock").stdout)[-1]
    assert lock_event["detail"]["supersedes"] == [f"{RUN} v1"]


# --- kill switch ---------------------------------------------------------------------------------


def test_kill_switch_needs_a_platform_admin_and_a_reason(site: Cli) -> None:
    _blocked(
        site("kill-switch", "activate", "--by", "disp001", "--reason", "I think it is broken"),
        "Only a registered platform_admin may operate the kill switch",
    )
    _blocked(
        site("kill-switch", "activate", "--by", "admin01", "--reason", "now"),
        "Reason must be at least 10 characters",
    )
    assert json.loads(site("status", "--json").stdout)["kill_switch"]["active"] is False


def test_kill_switch_twice_is_an_error_and_history_is_kept(site: Cli) -> None:
    args = ("--by", "admin01", "--reason", "Security incident: data exposure")
    assert site("kill-switch", "activate", *args).exit_code == 0
    again = site("kill-switch", "activate", *args)
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: Kill switch (global) is already active; nothing changed\n",
    )
    status = site("status").stdout
    assert "ACTIVE" in status and "admin01" in status
    assert (
        site(
            "kill-switch",
            "deactivate",
            "--by",
            "admin01",
            "--reason",
            "Incident resolved, RLS verified",
        ).exit_code
        == 0
    )
    off = site(
        "kill-switch",
        "deactivate",
        "--by",
        "admin01",
        "--reason",
        "Incident resolved, RLS verified",
    )
    assert off.exit_code == 1
    report = json.loads(site("kill-switch", "status", "--json").stdout)
    assert report["effective"]["active"] is False
    assert [(h["active"], h["actor_id"]) for h in report["history"]] == [
        (False, "admin01"),
        (True, "admin01"),
    ]


def test_site_scoped_kill_switch_blocks_only_that_site(site: Cli) -> None:
    site(
        "kill-switch",
        "activate",
        "--scope",
        "site",
        "--by",
        "admin01",
        "--reason",
        "Wien depot incident",
    )
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Kill switch is active")
    graz = json.loads(site("--site", "GRAZ", "kill-switch", "status", "--json").stdout)
    assert graz["effective"]["active"] is False
    bad = site(
        "kill-switch",
        "activate",
        "--scope",
        "planet",
        "--by",
        "admin01",
        "--reason",
        "whatever reason",
    )
    assert (bad.exit_code, bad.stderr) == (1, "Error: Unknown scope 'planet': use global or site\n")


# --- users and site settings ---------------------------------------------------------------------


def test_user_registry_rules(cli: Cli) -> None:
    first = cli("users", "add", "disp001", "--name", "Maria", "--role", "dispatcher")
    assert (first.exit_code, first.stderr) == (
        1,
        "Error: The first user of a tenant must hold the platform_admin role\n",
    )
    assert (
        cli("users", "add", "admin01", "--name", "Admin", "--role", "platform_admin").exit_code == 0
    )
    _blocked(
        cli("users", "add", "disp001", "--name", "Maria", "--role", "dispatcher"),
        "Only a registered platform_admin may change the user registry",
    )
    bad_role = cli(
        "users",
        "add",
        "x1",
        "--name",
        "X",
        "--role",
        "driver",
        "--by",
        "admin01",
        "--reason",
        "New one here",
    )
    assert (
        bad_role.stderr
        == "Error: Unknown role 'driver': use dispatcher, ops_lead, platform_admin\n"
    )
    dup = cli(
        "users",
        "add",
        "admin01",
        "--name",
        "Again",
        "--role",
        "dispatcher",
        "--by",
        "admin01",
        "--reason",
        "Duplicate attempt",
    )
    assert (dup.exit_code, dup.stderr) == (1, "Error: User admin01 already exists\n")
    twin = cli(
        "users",
        "add",
        "ADMIN01",
        "--name",
        "Twin",
        "--role",
        "platform_admin",
        "--by",
        "admin01",
        "--reason",
        "Second account, same person",
    )
    assert (twin.exit_code, twin.stderr) == (
        1,
        "Error: User ADMIN01 already exists as admin01 (user ids are unique ignoring case)\n",
    )
    users = json.loads(cli("users", "list", "--json").stdout)
    assert users == [
        {
            "user_id": "admin01",
            "name": "Admin",
            "roles": ["platform_admin"],
            "active": True,
            "login": None,
        }
    ]
    missing = cli("users", "disable", "nobody", "--by", "admin01", "--reason", "Does not exist")
    assert (missing.exit_code, missing.stderr) == (1, "Error: User nobody not found\n")


def test_site_show_set_and_init(site: Cli) -> None:
    shown = json.loads(site("site", "show", "--json").stdout)
    assert shown["settings"]["lock_roles"] == ["ops_lead", "platform_admin"]
    assert shown["settings"]["fte_warn_bp"] == 0
    unknown = site("site", "set", "colour=blue", "--by", "admin01", "--reason", "Nicer colours")
    assert (unknown.exit_code, unknown.stderr) == (
        1,
        "Error: Unknown setting 'colour'; see `dispatcher site show`\n",
    )
    _blocked(
        site(
            "site", "set", "min_reason_length=20", "--by", "disp001", "--reason", "Longer reasons"
        ),
        "Only a registered platform_admin may change site settings",
    )
    changed = site(
        "site",
        "set",
        "min_reason_length=30",
        "lock_roles=platform_admin",
        "--by",
        "admin01",
        "--reason",
        "Stricter approvals",
    )
    assert "min_reason_length: 10 -> 30" in changed.stdout
    _blocked(site("publish", RUN, *PUBLISH_OK, *OVERRIDE), "Reason must be at least 30 characters")
    assert (
        site("--site", "graz", "site", "init").stdout
        == "Site LTS/GRAZ created with its defaults.\n"
    )
    graz = json.loads(site("--site", "graz", "site", "show", "--json").stdout)["settings"]
    assert (graz["publish_enabled"], graz["shadow_only"]) == (False, True)


# --- export --------------------------------------------------------------------------------------


def test_export_needs_a_lock_and_writes_csv_json_and_manifests(site: Cli, tmp_path: Path) -> None:
    _blocked(site("export", RUN, "--out", str(tmp_path / "x.csv")), f"Run {RUN} is not locked")
    site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    site("lock", RUN, *LOCK_OK, *OVERRIDE)
    out = tmp_path / "w03.csv"
    result = site("export", RUN, "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 9
    assert rows[0] == {
        "week": "2026-W03",
        "date": "2026-01-12",
        "weekday": "Mon",
        "driver_id": "D001",
        "driver_name": "Maria Berger",
        "block_type": "3er",
        "instance_id": "T101#1",
        "tour_id": "T101",
        "start": "05:00",
        "end": "09:30",
        "crosses_midnight": "false",
        "depot": "NORD",
        "skill": "",
    }
    night = next(r for r in rows if r["instance_id"] == "T201#1")
    assert (night["crosses_midnight"], night["end"]) == ("true", "03:00")
    manifest = json.loads((tmp_path / "w03.csv.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (manifest["rows"], manifest["locked_by"], manifest["version"]) == (9, "ops001", 1)
    again = site("export", RUN, "--out", str(out))
    assert (again.exit_code, again.stderr) == (
        1,
        f"Error: {out} already exists; choose another --out\n",
    )
    as_json = tmp_path / "w03.json"
    assert site("export", RUN, "--format", "json", "--out", str(as_json)).exit_code == 0
    doc = json.loads(as_json.read_text())
    assert (
        doc["run_id"] == RUN and doc["drivers"][0]["days"][0]["tours"][0]["instance_id"] == "T101#1"
    )


def test_export_is_refused_while_the_kill_switch_is_active(site: Cli, tmp_path: Path) -> None:
    site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    site("lock", RUN, *LOCK_OK, *OVERRIDE)
    site("kill-switch", "activate", "--by", "admin01", "--reason", "Security incident suspected")
    _blocked(site("export", RUN, "--out", str(tmp_path / "w.csv")), "Kill switch is active")
    assert not (tmp_path / "w.csv").exists()


def test_locked_plan_is_immutable_and_tampering_stops_export(
    site: Cli, tmp_path: Path, db_path: Path
) -> None:
    site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    site("lock", RUN, *LOCK_OK, *OVERRIDE)
    change = "UPDATE assignments SET driver_id = 'D005' WHERE instance_id = 'T101#2'"
    assert "immutable" in sqlite_refuses(db_path, change)
    sqlite_tamper(db_path, change)
    result = site("export", RUN, "--out", str(tmp_path / "w.csv"))
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Evidence does not match its sealed hash; nothing exported\n",
    )
    assert list(tmp_path.glob("w.csv*")) == [] and list(tmp_path.glob(".w.csv*")) == []


def test_csv_export_neutralises_formulas_in_names(site: Cli, tmp_path: Path) -> None:
    doc = run_doc()
    doc["drivers"][0]["name"] = '=HYPERLINK("http://x")'
    site("import-run", str(write_run(tmp_path / "evil.json", doc)))
    evil = "RUN-20260113-002"
    site("publish", evil, *PUBLISH_OK, *OVERRIDE)
    site("lock", evil, *LOCK_OK, *OVERRIDE)
    out = tmp_path / "evil.csv"
    assert site("export", evil, "--out", str(out)).exit_code == 0
    names = {r["driver_name"] for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert '\'=HYPERLINK("http://x")' in names


@pytest.mark.sqlite_only  # PostgreSQL also needs a platform login: test_postgres_isolation.py
def test_status_all_sites_shows_every_site_and_is_audited(
    site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graz = write_run(tmp_path / "graz.json", run_doc(site="GRAZ"))
    monkeypatch.setenv("DISPATCHER_SITE", "GRAZ")
    assert site("import-run", str(graz)).exit_code == 0
    monkeypatch.delenv("DISPATCHER_SITE")
    usage = site("status", "--by", "admin01")
    assert (usage.exit_code, usage.stderr) == (
        1,
        "Error: --by and --reason belong to --all-sites\n",
    )
    half = site("status", "--all-sites", "--by", "admin01")
    assert half.stderr == "Error: --all-sites needs --by (a platform_admin) and --reason\n"
    refused = site("status", "--all-sites", "--by", "disp001", "--reason", "Curious about Graz")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Blocked: Only a registered platform_admin may view all sites\n",
    )
    shown = site("status", "--all-sites", "--by", "admin01", "--reason", "Monday check", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert [(s["site"], s["latest_run"]["run_id"]) for s in data["sites"]] == [
        ("GRAZ", "RUN-20260113-001"),
        ("WIEN", RUN),
    ]
    table = site("status", "--all-sites", "--by", "admin01", "--reason", "Monday check").stdout
    assert "LTS/GRAZ" in table and "LTS/WIEN" in table and "Recorded as audit event #" in table
    events = json.loads(site("audit", "log", "--json", "--action", "sites.view").stdout)
    assert [(e["outcome"], e["actor_id"]) for e in events] == [
        ("blocked", "disp001"),
        ("allowed", "admin01"),
        ("allowed", "admin01"),
    ]
    assert events[1]["detail"]["sites"] == ["LTS/GRAZ", "LTS/WIEN"]


def test_a_case_twin_cannot_lock_what_its_original_published(site: Cli, db_path: Path) -> None:
    """ops001 publishes; OPS001 (the same id in capitals) is not a second pair of eyes: the
    registry refuses the twin, the database refuses it with the guards dropped, and the
    four-eyes check compares ids ignoring case."""
    as_ops = ("--approver", "ops001", "--role", "ops_lead", "--reason", "Reviewed by ops")
    assert site("publish", RUN, *as_ops, *OVERRIDE).exit_code == 0
    grant = site(
        "users",
        "add",
        "OPS001",
        "--name",
        "Olga again",
        "--role",
        "ops_lead",
        "--by",
        "admin01",
        "--reason",
        "Second account for Olga",
    )
    assert grant.exit_code == 1 and "unique ignoring case" in grant.stderr
    twin_row = (
        "INSERT INTO users (tenant_id, user_id, name, roles, active, created_at, user_key,"
        " event_seq) VALUES ('LTS', 'OPS001', 'Twin', 'ops_lead', 1, '2026-01-13', 'ops001', 1)"
    )
    assert "user.add event" in sqlite_refuses(db_path, twin_row)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        sqlite_tamper(db_path, twin_row)
    as_capitals = ("--approver", "OPS001", "--role", "ops_lead", "--reason", "Same person")
    _blocked(
        site("lock", RUN, *as_capitals, *OVERRIDE),
        "Lock requires a different person than the publisher",
    )
