"""Publishers, lockers and the kill switch racing as separate processes, on SQLite and on
PostgreSQL (where writers of one site queue on the site's advisory lock): at most one publish
and one lock get through, each decision is in the chain exactly once, the chain verifies, and
what the run shows agrees with the events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dispatcher.config import Settings
from dispatcher.domain.events import Action, EventDraft
from dispatcher.services.audit import record_event, verify_audit_chain
from tests.conftest import Cli, UowFactory
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

SCRIPT = Path(sys.executable).parent / "dispatcher"
PUBLISH = ["publish", RUN, *PUBLISH_OK, *OVERRIDE]
LOCK = ["lock", RUN, *LOCK_OK]
KILL = ["kill-switch", "activate", "--by", "admin01", "--reason", "Race test: emergency stop"]
OVERTAKEN = "changed while this command ran"


def test_racing_publishers_lockers_and_kill_switch_leave_one_story(site: Cli, db: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPATCHER_NOW"}
    env["DISPATCHER_DB"] = db
    commands = [PUBLISH, PUBLISH, PUBLISH, LOCK, LOCK, KILL]
    procs = [
        subprocess.Popen(
            [str(SCRIPT), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    outcomes = [(p.returncode, err) for p, err in zip(procs, errors, strict=True)]
    for (code, err), args in zip(outcomes, commands, strict=True):
        assert code in (0, 1, 2), (args, err)
        assert "Traceback" not in err and "database is" not in err.lower(), (args, err)
    # On PostgreSQL a decision overtaken by the kill switch between its start and its commit
    # writes nothing and says so (the database's check at commit); nothing of it is on record.
    overtaken = [i for i, (code, err) in enumerate(outcomes) if code == 1 and OVERTAKEN in err]
    assert not overtaken or db.startswith("postgresql")
    assert outcomes[-1][0] == 0  # the kill switch always goes through
    verify = site("audit", "verify")
    assert verify.exit_code == 0, verify.output
    # The global switch is in the platform's chain, the decisions in the site's: writers hold
    # the platform lock shared, the switch exclusively, so time orders them across the chains.
    events = sorted(
        json.loads(site("audit", "log", "--json", "--limit", "200").stdout)
        + json.loads(site("audit", "log", "--chain", "platform", "--json").stdout),
        key=lambda e: e["occurred_at"],
    )
    decisions = [
        (e["action"], e["outcome"])
        for e in events
        if e["action"] in ("publish", "lock", "kill_switch.activate")
    ]
    assert len(decisions) == len(commands) - len(overtaken)  # every attempt is on record, once
    allowed = [action for action, outcome in decisions if outcome == "allowed"]
    assert allowed.count("publish") <= 1 and allowed.count("lock") <= 1
    assert allowed.count("kill_switch.activate") == 1
    after_kill = decisions[decisions.index(("kill_switch.activate", "allowed")) + 1 :]
    assert all(outcome == "blocked" for _, outcome in after_kill), decisions
    if "lock" in allowed:
        assert allowed.index("publish") < allowed.index("lock")
    shown = json.loads(site("show-run", RUN, "--json").stdout)
    assert shown["published"] == ("publish" in allowed)
    assert shown["locked"] == ("lock" in allowed)
    said = sorted(
        {0: "allowed", 2: "blocked"}.get(code, "failed")
        for i, (code, _) in enumerate(outcomes[:-1])
        if i not in overtaken
    )
    recorded = sorted(o for a, o in decisions if a != "kill_switch.activate")
    assert said == recorded  # what each process told its user is what the chain says


def _append_slowly(uow_factory: UowFactory, site: str, hold_s: float) -> None:
    with uow_factory(write=True, site=site) as uow:
        uow.audit_log.tip()
        time.sleep(hold_s)  # keep the transaction open: other writers of the site must queue
        record_event(uow, EventDraft(Action.USER_ADD, detail={"thread": threading.get_ident()}))
        uow.commit()


def test_writers_of_one_site_queue_for_its_chain(uow_factory: UowFactory) -> None:
    """Six writers start together and each holds its transaction for a moment between reading
    the tip and appending: without the write lock (BEGIN IMMEDIATE on SQLite, the site's
    advisory lock on PostgreSQL) they would all append at the same seq."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer() -> None:
        barrier.wait()
        try:
            _append_slowly(uow_factory, "WIEN", 0.05)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    report = verify_audit_chain(uow_factory())
    assert (report.ok, report.count) == (True, 7)  # and the site.create the first made


@pytest.mark.postgres
def test_on_postgres_another_site_does_not_wait(uow_factory: UowFactory) -> None:
    """The lock is per chain: while a WIEN writer holds its open transaction, GRAZ appends and
    commits (on SQLite one file has one write lock, so this is PostgreSQL's alone)."""
    from dispatcher.services.site import ensure_site

    for site in ("WIEN", "GRAZ"):  # both set up (a new tenant's first sites share its row)
        with uow_factory(write=True, site=site) as uow:
            ensure_site(uow)
            uow.commit()
    holding, release = threading.Event(), threading.Event()
    committed: list[str] = []

    def wien() -> None:
        with uow_factory(write=True, site="WIEN") as uow:
            record_event(uow, EventDraft(Action.USER_ADD))
            holding.set()
            release.wait(timeout=60)
            uow.commit()
            committed.append("WIEN")

    thread = threading.Thread(target=wien)
    thread.start()
    assert holding.wait(timeout=60)
    _append_slowly(uow_factory, "GRAZ", 0.0)
    committed.append("GRAZ")
    release.set()
    thread.join(timeout=60)
    assert committed == ["GRAZ", "WIEN"]
    assert verify_audit_chain(uow_factory(site="GRAZ")).count == 2  # with its site.create


@pytest.mark.postgres
def test_on_postgres_a_writer_kept_waiting_gets_the_busy_line(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dispatcher.db.unit_of_work as unit_of_work
    from dispatcher.domain.errors import DatabaseBusy

    monkeypatch.setattr(unit_of_work, "LOCK_TIMEOUT", "50ms")
    with uow_factory(write=True) as holder:
        record_event(holder, EventDraft(Action.USER_ADD))
        with pytest.raises(DatabaseBusy, match="another dispatcher command is writing"):
            _append_slowly(uow_factory, "WIEN", 0.0)
        holder.commit()
    assert verify_audit_chain(uow_factory()).count == 2  # with its site.create


def test_a_registry_change_never_slips_under_a_decision(
    site: Cli, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish has read its approver (active) and not yet committed when the approver is
    disabled. It must not commit on a registry that changed under it, with an event recording
    a registry tip it was not judged on. SQLite: one writer, the disable waits. PostgreSQL: the
    disable does not wait (a depot holding a transaction open must not hold off a registry
    change), and the publish is undone ("try again")."""
    import dispatcher.services.decisions as decisions
    from dispatcher.db.engine import make_engine
    from dispatcher.db.unit_of_work import UnitOfWork
    from dispatcher.domain.errors import DatabaseBusy
    from dispatcher.domain.gates import ApprovalInput
    from dispatcher.services.users import disable_user
    from tests.conftest import FIXED_NOW

    engine = make_engine(Settings(db=db).url)
    read, release = threading.Event(), threading.Event()
    real_gather = decisions._gather

    def pausing(*args: object, **kwargs: object) -> object:
        gathered = real_gather(*args, **kwargs)  # type: ignore[arg-type]
        read.set()
        release.wait(timeout=60)
        return gathered

    monkeypatch.setattr(decisions, "_gather", pausing)
    finished: list[str] = []

    failed: list[Exception] = []

    def publisher() -> None:
        uow = UnitOfWork(engine, "LTS", "WIEN", lambda: FIXED_NOW, write=True)
        approval = ApprovalInput("disp001", "dispatcher", "Week 2026-W03 reviewed",
                                 "No locked earlier week to compare with")  # fmt: skip
        try:
            decisions.decide(uow, RUN, "publish", approval)
        except DatabaseBusy as exc:
            failed.append(exc)
            return
        finished.append("publish")

    def disabler() -> None:  # from another site of the tenant: its own chain is free
        uow = UnitOfWork(engine, "LTS", "GRAZ", lambda: FIXED_NOW, write=True, registry=True)
        disable_user(uow, "disp001", "admin01", "Left the company")
        finished.append("disable")

    first = threading.Thread(target=publisher)
    first.start()
    assert read.wait(timeout=60)
    second = threading.Thread(target=disabler)
    second.start()
    if db.startswith("postgresql"):
        # Nobody holds the registry for a transaction's length: the disable goes first, and
        # the publish, which read the registry before it, writes nothing and says why.
        second.join(timeout=30)
        assert not second.is_alive() and finished == ["disable"]
        release.set()
        first.join(timeout=60)
        engine.dispose()
        assert finished == ["disable"] and len(failed) == 1
        assert isinstance(failed[0], DatabaseBusy) and "registry changed" in str(failed[0])
        logged = json.loads(site("audit", "log", "--json").stdout)
        assert not [e for e in logged if e["action"] == "publish"]
    else:
        second.join(timeout=1.5)
        assert second.is_alive() and finished == []  # the disable waits for the publish
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
        engine.dispose()
        assert finished == ["publish", "disable"]
    monkeypatch.setattr(decisions, "_gather", real_gather)  # (not undo(): the test's env stays)
    checked = site("audit", "verify", "--state")
    assert checked.exit_code == 0, checked.stdout
