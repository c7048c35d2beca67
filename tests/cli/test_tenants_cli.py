"""Tenants sharing a database (issue 18): a SQLite file holds one tenant unless it was created
for several; the platform's operator (the tenant the database was created for) alone acts
platform-wide; another tenant's first user administers that tenant only. Refusals are recorded
in the platform's chain, which every tenant's checkpoint signs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

ADMIN = ("--name", "Admin", "--role", "platform_admin")
REASON = ("--reason", "Dispatch system outage")


def _platform(cli: Cli, *db: str) -> list[dict[str, Any]]:
    events = json.loads(cli(*db, "audit", "log", "--chain", "platform", "--json").stdout)
    return list(events)


@pytest.mark.sqlite_only
def test_a_second_tenant_is_refused_on_a_file_made_for_one(site: Cli) -> None:
    refusal = (
        "Blocked: This database holds tenant LTS; tenant EVIL needs its own database, or one "
        "created with `dispatcher db init --multi-tenant`\n"
    )
    before = _platform(site)
    for args in (
        ("users", "add", "evil01", *ADMIN),
        ("site", "init"),
        ("kill-switch", "activate", "--scope", "site", "--by", "evil01", *REASON),
    ):
        result = site("--tenant", "EVIL", *args)
        assert (result.exit_code, result.stderr) == (2, refusal), args
    after = _platform(site)
    assert len(after) == len(before) + 3
    assert {(e["action"], e["outcome"], e["detail"]["check"]) for e in after[len(before) :]} == {
        ("user.add", "blocked", "single_tenant"),
        ("site.create", "blocked", "single_tenant"),
        ("kill_switch.activate", "blocked", "single_tenant"),
    }
    assert (
        site("--tenant", "EVIL", "audit", "log", "--chain", "tenant", "--json").stdout.strip()
        == "[]"
    )
    assert site("audit", "verify", "--state").exit_code == 0


@pytest.fixture
def shared(cli: Cli, backend: str, tmp_path: Path) -> tuple[str, ...]:
    """A database two tenants share: LTS runs the platform, EVIL is a customer."""
    db: tuple[str, ...] = ()
    if backend == "sqlite":
        db = ("--db", str(tmp_path / "shared.db"))
        made = cli(*db, "db", "init", "--multi-tenant", "--simulated-clock")
        assert made.exit_code == 0, made.output
        assert "created for LTS" in made.stdout
    assert cli(*db, "users", "add", "admin01", *ADMIN).exit_code == 0
    added = cli(*db, "--tenant", "EVIL", "users", "add", "evil01", *ADMIN)
    assert added.exit_code == 0, added.output
    return db


def test_another_tenant_s_admin_does_not_act_platform_wide(
    cli: Cli, shared: tuple[str, ...]
) -> None:
    evil = (*shared, "--tenant", "EVIL")
    refused = cli(*evil, "kill-switch", "activate", "--by", "evil01", *REASON)
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Blocked: Only a platform_admin of the platform's operator (LTS) may operate the global "
        "kill switch; evil01 administers EVIL only\n",
    )
    last = _platform(cli, *shared)[-1]
    assert (last["action"], last["outcome"], last["actor_id"]) == (
        "kill_switch.activate", "blocked", "evil01"
    )  # fmt: skip
    viewed = cli(*evil, "status", "--all-sites", "--by", "evil01", "--reason", "Curious about LTS")
    assert viewed.exit_code == 2 and "platform's operator (LTS)" in viewed.stderr
    own = cli(*evil, "kill-switch", "activate", "--scope", "site", "--by", "evil01", *REASON)
    assert own.exit_code == 0, own.output  # its own site: yes
    platform = cli(*shared, "kill-switch", "activate", "--by", "admin01", *REASON)
    assert platform.exit_code == 0, platform.output
    for tenant in ("LTS", "EVIL"):
        checked = cli(*shared, "--tenant", tenant, "audit", "verify", "--state")
        assert checked.exit_code == 0, (tenant, checked.stdout)


def test_a_forged_platform_act_of_another_tenant_is_named(
    cli: Cli, shared: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dispatcher.services.kill_switch as kill_switch

    monkeypatch.setattr(kill_switch, "require_operator", lambda *args, **kwargs: None)
    evil = (*shared, "--tenant", "EVIL")
    assert cli(*evil, "kill-switch", "activate", "--by", "evil01", *REASON).exit_code == 0
    seq = _platform(cli, *shared)[-1]["seq"]
    checked = cli(*shared, "audit", "verify", "--state", "--json")
    assert checked.exit_code == 1
    problems = json.loads(checked.stdout)["state"]["problems"]
    assert [(p["key"], p["problem"]) for p in problems] == [
        (
            f"platform #{seq}",
            "kill_switch.activate allowed although only the platform's operator (LTS) acts "
            "platform-wide",
        )
    ]
