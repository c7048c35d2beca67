"""Creating a new plan version through the service layer (what an applied repair does)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dispatcher.db.engine import make_engine
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.evidence import output_hash
from dispatcher.domain.model import Week
from dispatcher.services.evidence import create_version, creation_context
from dispatcher.services.site import ensure_site


def add_version(db_path: Path, run_id: str, changes: dict[str, str]) -> None:
    engine = make_engine(f"sqlite:///{db_path}")
    at = datetime(2026, 1, 13, 9, tzinfo=UTC)
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
        create_version(
            uow,
            run,
            week_input=week_input,
            plan=plan,
            version=current.version + 1,
            origin="repair",
            solver=solver,
            context=context,
            parent=(current.version, parent_plan),
        )
        uow.commit()
    engine.dispose()
