"""Upgrading a database written by the dispatcher before bound state (revision c4e8d2a6f003).

`tests/data/legacy-c4e8d2a6f003.db` was made by that release through its own CLI: four users
(one disabled), changed settings, a run published and locked, a run repaired (v2), a week with a
pending and a proposed sick call, the site's kill switch on, the global one on and off again,
and a refused publish. After the upgrade every chain verifies, every state row is bound to the
trail, and the gates work on the adopted state.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.migrate import UpgradeRefused, upgrade_to_head
from dispatcher.db.schema import SCHEMA_HEAD, stored_revision
from tests.conftest import Cli

LEGACY = Path(__file__).parent.parent / "data" / "legacy-c4e8d2a6f003.db"
LOCKED, REPAIRED, OPEN_WEEK = "RUN-20260111-001", "RUN-20260111-002", "RUN-20260111-003"
PENDING, PROPOSED = "REP-20260111140000", "REP-20260111140000-2"

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> Path:
    path = tmp_path / "pilot.db"
    shutil.copyfile(LEGACY, path)
    monkeypatch.delenv("DISPATCHER_NOW")  # a production database: the real clock
    monkeypatch.setenv("DISPATCHER_DB", str(path))
    return path


def _revision(path: Path) -> str:
    with closing(sqlite3.connect(path)) as con:
        return str(con.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_the_fixture_is_the_old_schema() -> None:
    assert _revision(LEGACY) == "c4e8d2a6f003"


def test_after_the_upgrade_every_chain_and_every_row_is_bound(cli: Cli, legacy: Path) -> None:
    checked = cli("audit", "verify", "--state", "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert _revision(legacy) == SCHEMA_HEAD
    assert report["state"]["ok"] is True
    assert report["state"]["checked"] == {
        "approvals": 3,  # publish, lock, repair.apply
        "database_flags": 1,
        "decisions": 0,  # the older release's decisions are not judged (nothing bound them)
        "evidence_records": 4,
        "guards": 62,
        "kill_switch_history": 2,  # the newest of each scope: global and this site's
        "plan_versions": 4,
        "repair_requests": 3,
        "runs": 3,
        "site_settings": 1,
        "sites": 1,
        "users": 4,
    }
    adopted = [
        e for e in json.loads(cli("audit", "log", "--json", "-n", "100").stdout)
        if e["action"] == "state.adopt"
    ]  # fmt: skip
    assert {(e["detail"]["table"], e["actor_id"]) for e in adopted} == {
        ("site_settings", "system"),
        ("kill_switch_history", "system"),
        ("repair_requests", "system"),
    }
    users = json.loads(cli("audit", "log", "--chain", "tenant", "--json").stdout)
    assert [e["detail"]["key"] for e in users] == ["admin01", "disp001", "disp002", "ops001"]
    platform = json.loads(cli("audit", "log", "--chain", "platform", "--json").stdout)
    assert [e["detail"]["values"]["active"] for e in platform] == [False]


def test_the_adopted_state_is_what_the_old_release_showed(cli: Cli, legacy: Path) -> None:
    status = json.loads(cli("status", "--json").stdout)
    assert (status["kill_switch"]["active"], status["kill_switch"]["scope"]) == (True, "site")
    assert status["clock"] == "real" and status["trail_problem"] is None
    runs = {r["run_id"]: r for r in json.loads(cli("list-runs", "--json").stdout)}
    assert runs[LOCKED]["locked"] is True and runs[LOCKED]["published_version"] == 1
    assert runs[REPAIRED]["version"] == 2
    repairs = {
        r["request_id"]: r["status"] for r in json.loads(cli("repairs", "list", "--json").stdout)
    }
    assert repairs == {PENDING: "PENDING", PROPOSED: "PROPOSED", "REP-20260111130000": "APPLIED"}
    users = {u["user_id"]: u["active"] for u in json.loads(cli("users", "list", "--json").stdout)}
    assert users == {"admin01": True, "disp001": True, "disp002": False, "ops001": True}
    assert cli("evidence", "verify", LOCKED).exit_code == 0


def test_the_gates_work_on_the_adopted_state(cli: Cli, legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "w03.csv"
    refused = cli("export", LOCKED, "--out", str(out))
    assert (refused.exit_code, refused.stderr) == (2, "Blocked: Kill switch is active\n")
    lifted = cli("kill-switch", "deactivate", "--scope", "site", "--by", "admin01",
                 "--reason", "The drill is over")  # fmt: skip
    assert lifted.exit_code == 0, lifted.output
    exported = cli("export", LOCKED, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    blocked = cli("publish", OPEN_WEEK, "--approver", "disp001", "--role", "dispatcher",
                  "--reason", "Week 2026-W04 reviewed")  # fmt: skip
    assert blocked.stderr == f"Blocked: Week 2026-W04 has pending repairs: {PENDING}, {PROPOSED}\n"
    twin = cli("users", "add", "OPS001", "--name", "Olga", "--role", "ops_lead", "--by",
               "admin01", "--reason", "A second account")  # fmt: skip
    assert twin.exit_code == 1 and "already exists as ops001" in twin.stderr
    checked = cli("audit", "verify", "--state", "--json")
    assert checked.exit_code == 0, checked.stdout
    # the deactivation and the export are judged on the adopted registry, settings and switch
    assert json.loads(checked.stdout)["state"]["checked"]["decisions"] == 2


def test_the_upgrade_refuses_case_twins_and_names_them(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "twins.db"
    shutil.copyfile(LEGACY, path)
    with closing(sqlite3.connect(path)) as con:
        con.execute(
            "INSERT INTO users (tenant_id, user_id, name, roles, active, created_at) "
            "VALUES ('LTS', 'DISP001', 'Maria again', 'ops_lead', 1, '2026-01-11 12:00:00')"
        )
        con.commit()
    engine = make_engine(sqlite_url(path))
    with pytest.raises(UpgradeRefused, match=r"LTS: DISP001 / disp001\. Disable and rename"):
        upgrade_to_head(engine)
    assert stored_revision(engine) == "c4e8d2a6f003"  # nothing changed
    engine.dispose()
    shown = cli("--db", str(path), "status")
    assert shown.exit_code == 1 and shown.stderr.count("\n") == 1
    assert shown.stderr.startswith(f"Error: Database upgrade to {SCHEMA_HEAD} refused: User ids")


def _downgrade_edit_upgrade(path: Path, sql: str) -> None:
    """What an insider with the file and this project's own migrations can do: go back to the
    schema before bound state, change rows there, and let the next command upgrade again."""
    from dispatcher.db.migrate import downgrade_to

    engine = make_engine(sqlite_url(path))
    downgrade_to(engine, "c4e8d2a6f003")
    engine.dispose()
    with closing(sqlite3.connect(path)) as con:
        con.executescript(sql)
        con.commit()


def test_a_downgrade_and_upgrade_does_not_launder_edited_rows(
    cli: Cli, site: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second upgrade adopts again, in chains that already ran under bound state: the gates
    do not take those adoptions as authority, and verify --state names them."""
    from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    _downgrade_edit_upgrade(
        db_path,
        "UPDATE site_settings SET lock_requires_other_person = 0, "
        "lock_roles = 'ops_lead,dispatcher';"
        "UPDATE users SET roles = 'dispatcher,ops_lead' WHERE user_id = 'disp001';",
    )
    monkeypatch.delenv("DISPATCHER_NOW")  # the old schema had no clock flag: real time now
    self_lock = ("--approver", "disp001", "--role", "dispatcher", "--reason", "Locked by me too")
    locked = site("lock", RUN, *self_lock, *OVERRIDE)
    assert locked.exit_code == 2, locked.output
    assert locked.stderr.startswith("Blocked: Site settings do not match the audit trail")
    assert _revision(db_path) == SCHEMA_HEAD
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 1
    assert "state adopted in a chain that already ran under bound state" in checked.stdout
    # The real ops lead is refused too: the adopted settings are not the trail's.
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 2


def test_a_legacy_database_adopts_once(cli: Cli, legacy: Path) -> None:
    """Upgraded, downgraded and upgraded again, used in between or not: the second adoption
    is named (a second block, or the same rows adopted twice in one)."""
    assert cli("audit", "verify", "--state").exit_code == 0
    _downgrade_edit_upgrade(legacy, "UPDATE users SET active = 1;")
    checked = cli("audit", "verify", "--state")
    assert checked.exit_code == 1
    assert "state adopted a second time" in checked.stdout
    refused = cli(
        "publish", LOCKED, "--approver", "nobody", "--role", "dispatcher", "--reason", "x"
    )
    assert refused.exit_code == 2  # an event between the upgrades
    _downgrade_edit_upgrade(legacy, "UPDATE users SET active = 1;")
    checked = cli("audit", "verify", "--state")
    assert checked.exit_code == 1
    assert "state adopted a second time" in checked.stdout
