"""Creating a new plan version through the service layer (what an applied repair does), with the
repair.apply event that authorizes it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import Action, AuditEvent, EventDraft
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import Week
from dispatcher.domain.records import NewVersion
from dispatcher.services.audit import record_event
from dispatcher.services.evidence import create_version, creation_context
from dispatcher.services.site import ensure_site


def add_version(
    db_path: Path,
    run_id: str,
    changes: dict[str, str],
    at: datetime = datetime(2026, 1, 13, 9, tzinfo=UTC),
) -> None:
    engine = make_engine(sqlite_url(db_path))
    with UnitOfWork(engine, "LTS", "WIEN", lambda: at, write=True) as uow:
        run = uow.runs.get(run_id)
        assert run is not None
        current = uow.runs.version(run, run.current_version)
        assert current is not None
        parent_plan = uow.runs.plan(current.pk)
        plan = {**parent_plan, **changes}
        week_input = uow.runs.week_input(run, current.version)
        solver = {**current.solver, "recorded_output_hash": output_hash(plan)}
        context = creation_context(uow, Week.parse(run.week), ensure_site(uow))
        version = current.version + 1

        def record(new: NewVersion) -> tuple[AuditEvent, int]:
            draft = EventDraft(
                Action.REPAIR_APPLY,
                actor_id="ops001",
                actor_role="ops_lead",
                reason="Test version",
                run_id=run.run_id,
                plan_version=version,
                evidence_hash=new.evidence_hash,
                detail={"request_ids": [], "parent": current.version},
            )
            return record_event(uow, draft), run.pk

        created = create_version(
            uow,
            week=run.week,
            solver_error=run.solver_error,
            week_input=week_input,
            plan=plan,
            version=version,
            origin="repair",
            solver=solver,
            context=context,
            record=record,
            parent=(current.version, parent_plan),
        )
        uow.decisions.add_approval(
            run_pk=run.pk,
            version=version,
            action="repair.apply",
            approver_id="ops001",
            role="ops_lead",
            reason="Test version",
            override_reason=None,
            evidence_hash=created.new.evidence_hash,
            event_seq=created.event.seq,
            at=at,
        )
        uow.commit()
    engine.dispose()
