"""Per-person logins (issue 18.3): a registered user linked to the login that is this person
(`users link`), and the site setting approvals_require_login that accepts a decision only from
the decider's own login. On PostgreSQL the login is the database's `session_user`; on SQLite
the operating-system account (the weaker guarantee: docs/security.md). Every event records the
login that ran the command (and on SQLite the host)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from dispatcher.db.unit_of_work import os_account
from dispatcher.domain.events import Action, EventDraft
from tests.conftest import Cli, Insider
from tests.forge import forge
from tests.pgserver import PLATFORM_LOGIN
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

ADMIN = ("--by", "admin01", "--reason", "Per-person logins for Wien")


def _me(backend: str) -> str:
    """The login the tests' commands run as: the platform login on PostgreSQL (see the `db`
    fixture), this process's account on SQLite."""
    return PLATFORM_LOGIN if backend == "postgres" else os_account()


def _events(cli: Cli, chain: str = "site") -> list[dict[str, Any]]:
    rows = json.loads(cli("audit", "log", "--chain", chain, "--json", "-n", "1000").stdout)
    return sorted(rows, key=lambda row: row["seq"])


def _require(site: Cli) -> None:
    result = site("site", "set", "approvals_require_login=true", *ADMIN)
    assert result.exit_code == 0, result.output


def test_a_new_site_requires_no_login_on_sqlite_or_a_test_database(site: Cli) -> None:
    shown = json.loads(site("site", "show", "--json").stdout)
    assert shown["settings"]["approvals_require_login"] is False


def test_every_event_records_the_login_that_ran_the_command(site: Cli, backend: str) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    for chain in ("site", "tenant"):
        for event in _events(site, chain):
            if event["action"] == "state.adopt":
                continue
            assert event["detail"]["session_login"] == _me(backend), event
            if backend == "sqlite":
                assert event["detail"]["session_host"] == socket.gethostname()
            else:
                assert "session_host" not in event["detail"]


def test_link_shows_in_the_registry_and_is_an_event(site: Cli, backend: str) -> None:
    linked = site("users", "link", "disp001", "--login", _me(backend), *ADMIN)
    assert linked.exit_code == 0, linked.output
    assert linked.stdout.startswith(f"Linked disp001 to login {_me(backend)}. Audit event #")
    users = {u["user_id"]: u for u in json.loads(site("users", "list", "--json").stdout)}
    assert users["disp001"]["login"] == _me(backend)
    assert users["ops001"]["login"] is None
    table = site("users", "list").stdout
    assert "Login" in table and _me(backend) in table
    event = _events(site, "tenant")[-1]
    assert (event["action"], event["actor_id"], event["outcome"]) == (
        "user.update",
        "admin01",
        "allowed",
    )
    assert event["detail"]["login"] == _me(backend)
    assert event["detail"]["changed"] == {"login": [None, _me(backend)]}
    assert site("audit", "verify", "--state").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ops001", "--login", "two words"), "Error: Invalid --login 'two words'"),
        (("ops001", "--login", "9lives"), "Error: Invalid --login '9lives'"),
        (("ops001", "--login", "x" * 64), "Error: Invalid --login"),
        (("ops001", "--login", "o'brien"), "Error: Invalid --login"),
        (("nobody", "--login", "maria"), "Error: User nobody not found"),
        (("disp002", "--login", "maria"), "Error: Login maria is already linked to disp001"),
        (("disp001", "--login", "maria"), "Error: User disp001 is already linked to login maria"),
    ],
)
def test_bad_links_are_one_line_and_change_nothing(
    site: Cli, args: tuple[str, ...], message: str
) -> None:
    assert site("users", "link", "disp001", "--login", "maria", *ADMIN).exit_code == 0
    before = _events(site, "tenant")
    result = site("users", "link", *args, *ADMIN)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert _events(site, "tenant") == before


def test_link_needs_a_platform_admin(site: Cli) -> None:
    result = site("users", "link", "disp001", "--login", "maria", "--by", "ops001",
                  "--reason", "I am Maria, trust me")  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        2,
        "Blocked: Only a registered platform_admin may change the user registry\n",
    )
    event = _events(site, "tenant")[-1]
    assert (event["action"], event["outcome"], event["actor_id"]) == (
        "user.update",
        "blocked",
        "ops001",
    )


def test_unlink_removes_the_link(site: Cli, backend: str) -> None:
    assert site("users", "link", "disp001", "--login", _me(backend), *ADMIN).exit_code == 0
    result = site("users", "unlink", "disp001", *ADMIN)
    assert result.exit_code == 0 and result.stdout.startswith("Unlinked disp001 from its login.")
    again = site("users", "unlink", "disp001", *ADMIN)
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: User disp001 is already not linked to a login\n",
    )


def test_with_the_setting_on_only_the_linked_login_decides(site: Cli, backend: str) -> None:
    me = _me(backend)
    assert site("users", "link", "disp001", "--login", me, *ADMIN).exit_code == 0
    assert site("users", "link", "admin01", "--login", "someone_else", *ADMIN).exit_code == 0
    # admin01 is not this login: the setting change itself is refused once it is on, so turn
    # it on while admin01 still may (the switch being off) and check the refusal afterwards.
    _require(site)
    published = site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    assert published.exit_code == 0, published.output
    assert _events(site)[-1]["detail"]["session_login"] == me

    # ops001 is linked to nobody: its lock from this login is refused and recorded.
    refused = site("lock", RUN, *LOCK_OK, *OVERRIDE)
    message = f"Approver ops001 is not the logged-in user ({me})"
    assert (refused.exit_code, refused.stderr) == (2, f"Blocked: {message}\n")
    event = _events(site)[-1]
    assert (event["action"], event["outcome"], event["detail"]["check"]) == (
        "lock",
        "blocked",
        "approver_is_logged_in",
    )
    assert event["detail"]["message"] == message

    # `check` names it too, and records nothing.
    checked = json.loads(site("check", RUN, "--action", "lock", *LOCK_OK, "--json").stdout)
    named = {r["name"]: r for r in checked["results"]}
    assert named["approver_is_logged_in"]["passed"] is False
    assert named["approver_is_logged_in"]["message"] == message

    # The settings cannot be switched back by an admin who is not this login.
    off = site("site", "set", "approvals_require_login=false", *ADMIN)
    assert (off.exit_code, off.stderr) == (
        2,
        f"Blocked: User admin01 is not the logged-in user ({me})\n",
    )
    assert _events(site)[-1]["outcome"] == "blocked"

    # Once this login is ops001's (and no longer disp001's), ops001's lock goes through; the
    # four-eyes rule still compares the people.
    assert site("users", "unlink", "disp001", *ADMIN).exit_code == 0
    assert site("users", "link", "ops001", "--login", me, *ADMIN).exit_code == 0
    locked = site("lock", RUN, *LOCK_OK, *OVERRIDE)
    assert locked.exit_code == 0, locked.output
    assert site("audit", "verify", "--state").exit_code == 0


def test_every_decision_of_an_unlinked_user_is_refused_and_recorded(
    site: Cli, backend: str, tmp_path: Path
) -> None:
    """Not only publish and lock: a sick call, a proposal by --by, an apply, a reject and an
    export are decisions of a person too. Each is refused, recorded, and changes nothing."""
    me = _me(backend)
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    _require_by_linked_admin(site, me)
    sick = ("request-repair", "--week", "2026-W03", "--run", RUN, "--driver", "D004", "--type", "sick", "--amend",
            "--requester", "disp001")  # fmt: skip
    attempts: list[tuple[tuple[str, ...], str, str]] = [
        (sick, "repair.request", "Requester disp001"),
        (("export", RUN, "--out", str(tmp_path / "w03.csv"), "--by", "disp001"), "export",
         "User disp001"),
    ]  # fmt: skip
    for args, action, who in attempts:
        before = len(_events(site))
        result = site(*args)
        assert (result.exit_code, result.stderr) == (
            2,
            f"Blocked: {who} is not the logged-in user ({me})\n",
        ), args
        events = _events(site)
        assert len(events) == before + 1
        assert (events[-1]["action"], events[-1]["outcome"]) == (action, "blocked")
    assert not (tmp_path / "w03.csv").exists()
    assert json.loads(site("status", "--json").stdout)["pending_repairs"] == []

    # Linked, the same sick call goes in; a proposal --by an unlinked user, an apply and a
    # reject by one are refused. (The registry's changes need no link: the platform login.)
    assert site("users", "unlink", "admin01", *ADMIN).exit_code == 0
    assert site("users", "link", "disp002", "--login", me, *ADMIN).exit_code == 0
    made = site(*sick[:-1], "disp002")
    assert made.exit_code == 0, made.output
    request = json.loads(site("status", "--json").stdout)["pending_repairs"][0]["request_id"]
    proposed = site("run-repair", "--request", request, "--by", "disp001")
    assert proposed.stderr == f"Blocked: User disp001 is not the logged-in user ({me})\n"
    assert site("run-repair", "--request", request).exit_code == 0
    apply = ("--approver", "disp001", "--role", "dispatcher", "--reason", "Sick call covered")
    applied = site("apply-repair", request, *apply)
    assert applied.stderr == f"Blocked: Approver disp001 is not the logged-in user ({me})\n"
    rejected = site("reject-repair", request, "--by", "disp001", "--reason", "Not needed after all")
    assert rejected.stderr == f"Blocked: User disp001 is not the logged-in user ({me})\n"
    assert json.loads(site("status", "--json").stdout)["pending_repairs"][0]["status"] == (
        "PROPOSED"
    )
    # A settings change that changes nothing is still only the linked admin's to make.
    unchanged = site("site", "set", "min_reason_length=10", *ADMIN)
    assert (unchanged.exit_code, unchanged.stderr) == (
        2,
        f"Blocked: User admin01 is not the logged-in user ({me})\n",
    )
    assert site("audit", "verify", "--state").exit_code == 0


def test_a_login_set_by_hand_does_not_pass(site: Cli, insider: Insider, backend: str) -> None:
    """The link is bound to its event: written with SQL (the guards refuse it; with them off it
    goes in) it makes the user's decisions stop, never pass."""
    me = _me(backend)
    _require_by_linked_admin(site, me)
    sql = (
        "UPDATE users SET login = NULL WHERE user_id = 'admin01';\n"
        f"UPDATE users SET login = '{me}' WHERE user_id = 'disp001'"
    )
    assert "users" in insider.refused(sql)
    insider.tamper(sql, restore=True)
    result = site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    assert result.exit_code == 2
    assert result.stderr == "Blocked: User disp001 does not match the audit trail (event #2)\n"


def test_the_setting_switched_off_by_hand_does_not_pass(
    site: Cli, insider: Insider, backend: str
) -> None:
    me = _me(backend)
    _require_by_linked_admin(site, me)
    sql = "UPDATE site_settings SET approvals_require_login = false"
    insider.refused(sql)
    insider.tamper(sql, restore=True)
    result = site("publish", RUN, *PUBLISH_OK, *OVERRIDE)
    assert result.exit_code == 2
    assert "Site settings do not match the audit trail" in result.stderr


def test_a_forged_decision_from_another_login_is_named_by_the_replay(
    site: Cli, insider: Insider, backend: str
) -> None:
    """An insider appends a correctly hashed publish at the tip that names ops001's own login
    while ops001 is linked to another: `audit verify --state` names it. (On PostgreSQL the
    database refuses the append itself: tests/integration/test_personal_logins.py.)"""
    from dispatcher.domain.events import Action, EventDraft

    me = _me(backend)
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    _require_by_linked_admin(site, me)
    assert site("users", "link", "ops001", "--login", "otto", *ADMIN).exit_code == 0
    tips = _events(site)[-1]["detail"]["seen"]
    sql, _ = forge(
        site,
        "site",
        EventDraft(
            Action.LOCK,
            actor_id="ops001",
            actor_role="ops_lead",
            reason="Approved for export",
            run_id=RUN,
            plan_version=1,
            detail={"override_reason": OVERRIDE[1], "seen": tips, "session_login": me},
        ),
    )
    insider.tamper(sql, restore=True)
    report = json.loads(site("audit", "verify", "--state", "--json").stdout)
    problems = [p["problem"] for p in report["state"]["problems"]]
    assert any(f"Approver ops001 is not the logged-in user ({me})" in p for p in problems), problems


def _require_by_linked_admin(site: Cli, me: str) -> None:
    """admin01 and disp001 linked: admin01 to this login (so settings can change), then the
    setting on."""
    assert site("users", "link", "admin01", "--login", me, *ADMIN).exit_code == 0
    _require(site)


@pytest.mark.sqlite_only
def test_the_environment_does_not_choose_the_recorded_account_on_sqlite(
    site: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOGNAME and USER are whatever the person starting the process typed: the account the
    event records is the process's own (its effective user id)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "otto")
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    last = _events(site)[-1]
    assert last["action"] == "publish"
    assert last["detail"]["session_login"] == os_account() != "otto"


def test_the_tool_s_own_id_cannot_be_registered(site: Cli) -> None:
    """`system` is the actor of the tool's own events, which no login check binds: a person
    registered as `system` would decide unbound (and look like the tool in the trail)."""
    for spelling in ("system", "SYSTEM", "System"):
        added = site("users", "add", spelling, "--name", "Night Shift Lead", "--role", "ops_lead",
                     *ADMIN)  # fmt: skip
        assert (added.exit_code, added.stderr) == (
            1,
            f"Error: User id {spelling} is reserved: the trail names the tool itself so\n",
        )
    users = json.loads(site("users", "list", "--json").stdout)
    assert "system" not in {u["user_id"].lower() for u in users}


def test_a_user_system_planted_in_the_registry_is_named_by_the_replay(
    site: Cli, insider: Insider
) -> None:
    """Written by hand with a well-formed user.add event: `audit verify --state` names it."""
    assert site("audit", "verify", "--state").exit_code == 0
    planted = {"user": "system", "name": "Night Shift Lead", "roles": ["ops_lead"], "active": True}
    sql, _ = forge(
        site,
        "tenant",
        EventDraft(Action.USER_ADD, actor_id="admin01", reason="Night shift cover", detail=planted),
    )
    insider.tamper(sql, restore=True)
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 1, checked.output
    assert (
        "registry #5: user.add allowed although user id system is reserved for the tool's own "
        "events" in checked.stdout
    )


@pytest.mark.postgres
def test_a_login_the_server_does_not_have_is_refused_on_postgres(site: Cli) -> None:
    """PostgreSQL keeps a login's case (`CREATE ROLE Maria` makes `maria`): a link to `MARIA`
    would never match anyone, so it is refused, naming why."""
    for login in ("MARIA", "nobody_here"):
        refused = site("users", "link", "disp001", "--login", login, *ADMIN)
        assert (refused.exit_code, refused.stderr) == (
            1,
            f"Error: Login {login} is not a login of this database server: the DBA creates it "
            "first (docs/deployment.md); PostgreSQL keeps a login's case\n",
        )
    assert site("users", "link", "disp001", "--login", "maria", *ADMIN).exit_code == 0


def test_a_uid_without_a_passwd_entry_is_recorded_as_the_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container started with `--user 4242` has no name for its uid: the account is the uid,
    never the LOGNAME or USER that whoever started it chose."""
    import os
    import pwd

    def no_entry(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "maria")
    assert os_account() == f"uid {os.geteuid()}"
