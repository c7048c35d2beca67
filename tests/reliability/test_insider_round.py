"""The insider round (issue 17): random direct writes to every state table are refused while
the guards stand and caught by `audit verify --state` when they are dropped. `make test` tries
40 writes, `make stress` 1,500; `unnoticed` must be 0."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.reliability.harness import copy_database, must, record, size
from tests.reliability.insider import (
    Tally,
    apply_without_guards,
    noticed,
    random_attempt,
    refused_with_guards,
)
from tests.samples import run_doc, write_run

REASON = ["--reason", "Reviewed for the insider round."]


def _scopes(db: Path) -> list[tuple[str, str]]:
    """Every scope the file holds anything of: sites, chains, tenants of the registry."""
    with closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT tenant_id, site_id FROM sites UNION SELECT tenant_id, site_id FROM "
            "audit_events WHERE site_id <> '*' UNION SELECT tenant_id, '*' FROM users "
            "UNION SELECT tenant_id, '*' FROM audit_events WHERE site_id = '*' AND "
            "tenant_id <> '*' ORDER BY 1, 2"
        ).fetchall()
    return [(str(t), str(s)) for t, s in rows] or [("LTS", "WIEN")]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small site with something in every state table: users (one disabled), settings, a
    locked run, a repaired run, a week with a pending and a proposed request, both kill
    switches changed."""
    folder = tmp_path_factory.mktemp("insider")
    db = folder / "site.db"
    must(db, ["db", "init", "--simulated-clock"])
    by = ["--by", "admin01", *REASON]
    must(db, ["users", "add", "admin01", "--name", "Admin", "--role", "platform_admin"])
    for user, role in (
        ("disp001", "dispatcher"),
        ("ops001", "ops_lead"),
        ("disp002", "dispatcher"),
    ):
        must(db, ["users", "add", user, "--name", user.title(), "--role", role, *by])
    must(db, ["users", "disable", "disp002", *by])
    must(db, ["site", "set", "fte_warn_bp=0", "fte_block_bp=0", "pt_warn_bp=10000",
              "pt_block_bp=10000", *by])  # fmt: skip
    w03 = write_run(folder / "w03.json")
    w04 = write_run(folder / "w04.json", run_doc(week="2026-W04", availability=[]))
    must(db, ["import-run", str(w03)])
    must(db, ["import-run", str(w03)])
    override = ["--override-reason", "No locked earlier week to compare with"]
    must(db, ["publish", "RUN-20260113-001", "--approver", "disp001", "--role", "dispatcher",
              *REASON, *override])  # fmt: skip
    must(db, ["lock", "RUN-20260113-001", "--approver", "ops001", "--role", "ops_lead",
              *REASON, *override])  # fmt: skip
    must(db, ["import-run", str(w04)])
    sick = ["--type", "sick", "--requester", "disp001", "--week", "2026-W04"]
    first = must(db, ["request-repair", *sick, "--driver", "D004", "--days", "Wed"]).strip()
    second = must(db, ["request-repair", *sick, "--driver", "D005", "--days", "Tue"]).strip()
    must(db, ["run-repair", "--request", second])
    assert first and second
    for scope in ("site", "global"):
        must(db, ["kill-switch", "activate", "--scope", scope, *by])
        must(db, ["kill-switch", "deactivate", "--scope", scope, *by])
    assert noticed(db, _scopes(db)) == []
    return db


def test_random_writes_are_refused_or_caught(template: Path, tmp_path: Path) -> None:
    rng = random.Random(1717)
    tally, findings = Tally(), []
    attempts = size(40, 1500)
    while tally.attempts < attempts:
        attempt = random_attempt(template, rng)
        if attempt is None:
            continue
        guarded, bare = tmp_path / "guarded.db", tmp_path / "bare.db"
        copy_database(template, guarded)
        copy_database(template, bare)
        prevented = refused_with_guards(guarded, attempt)
        changed = apply_without_guards(bare, attempt)
        if changed == 0:
            tally.no_change += 1
            continue
        tally.attempts += 1
        tally.prevented += prevented
        if noticed(bare, _scopes(bare)):
            tally.detected += 1
        else:
            tally.unnoticed += 1
            findings.append(
                f"{attempt.table} {attempt.kind}: {attempt.statement} {attempt.parameters}"
            )
        if not prevented:
            findings.append(f"not prevented: {attempt.table} {attempt.kind}")
    record("insider", attempts=tally.attempts, prevented=tally.prevented,
           detected=tally.detected, unnoticed=tally.unnoticed, skipped_no_change=tally.no_change)  # fmt: skip
    assert findings == [], "\n".join(findings)
    assert tally.prevented == tally.attempts == tally.detected


def test_reordering_the_kill_switch_history_is_caught(template: Path, tmp_path: Path) -> None:
    """The history's ids are a surrogate, their order per scope is not: swapping the site's
    activation and deactivation makes the switch read as on."""
    db = tmp_path / "reordered.db"
    copy_database(template, db)
    with closing(sqlite3.connect(db)) as con:
        ids = [i for (i,) in con.execute(
            "SELECT id FROM kill_switch_history WHERE scope = 'site' ORDER BY id"
        )]  # fmt: skip
    swap = (
        f"UPDATE kill_switch_history SET id = -1 WHERE id = {ids[0]}; "
        f"UPDATE kill_switch_history SET id = {ids[0]} WHERE id = {ids[1]}; "
        f"UPDATE kill_switch_history SET id = {ids[1]} WHERE id = -1;"
    )
    from tests.conftest import Insider

    insider = Insider("sqlite", str(db))
    assert "append-only" in insider.refused(swap)
    insider.tamper(swap)
    assert any("kill_switch_history" in line for line in noticed(db, _scopes(db)))
