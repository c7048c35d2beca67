"""An evidence pack's approvals are read by run and action, never from a window of recent
events: a flood of refused attempts cannot push the publish and lock out of it."""

from __future__ import annotations

import json
from pathlib import Path

from dispatcher.domain.events import Action, EventDraft, Outcome
from dispatcher.services.audit import record_event
from tests.conftest import Cli, UowFactory
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

FLOOD = 5000


def test_five_thousand_refused_attempts_leave_the_approvals_in_the_pack(
    site: Cli, uow_factory: UowFactory, tmp_path: Path
) -> None:
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    with uow_factory(write=True) as uow:
        for n in range(FLOOD):  # what an unregistered user trying again and again leaves
            record_event(
                uow,
                EventDraft(
                    Action.PUBLISH,
                    Outcome.BLOCKED,
                    actor_id=f"mallory{n % 7}",
                    actor_role="dispatcher",
                    reason="Let me in please",
                    run_id=RUN,
                    plan_version=1,
                    detail={"check": "approver_registered", "message": "not registered"},
                ),
            )
        uow.commit()
    out = tmp_path / "pack"
    exported = site("evidence", "export", RUN, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    approvals = json.loads((out / "approvals.json").read_text())
    assert [(a["action"], a["actor_id"], a["outcome"]) for a in approvals] == [
        ("publish", "disp001", "allowed"),
        ("lock", "ops001", "allowed"),
    ]
    report = site("report", RUN, "--out", str(tmp_path / "report.html"))
    assert report.exit_code == 0, report.output
    html = (tmp_path / "report.html").read_text()
    assert "disp001" in html and "ops001" in html
