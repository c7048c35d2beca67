"""What a careful insider does to a stored plan: change it, then re-seal it consistently.

Two drivers' weeks are swapped in a version's assignments, and the audits, KPIs, drift, the
recorded output hash and the sealed evidence hash are recomputed from the changed rows and
written back, so that the rows agree with each other and the evidence rebuilds to its seal.
Only the audit trail (the events that hold the evidence hash) can still tell.
"""

from __future__ import annotations

from collections.abc import Callable

from dispatcher.db.engine import make_engine
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.evidence import EvidenceFacts, assess, evidence_hash, output_hash
from dispatcher.domain.hashing import canonical_json
from dispatcher.domain.model import DriftThresholds
from dispatcher.services.evidence import repro_check


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def reseal_statements(url: str, run_id: str, a: str, b: str, version: int | None = None) -> str:
    """SQL that swaps drivers `a` and `b` in the run's (current) version and re-seals it."""
    engine = make_engine(url)
    with UnitOfWork(engine, "LTS", "WIEN", write=False) as uow:
        run = uow.runs.get(run_id)
        assert run is not None
        record = uow.runs.version(run, version or run.current_version)
        assert record is not None
        week_input = uow.runs.week_input(run, record.version)
        plan = uow.runs.plan(record.pk)
    engine.dispose()
    swapped = {i: {a: b, b: a}.get(d, d) for i, d in plan.items()}
    assert swapped != plan, "the two drivers hold nothing to swap"
    solver = {
        **record.solver,
        "recorded_output_hash": output_hash(swapped),
        "declared_output_hash": output_hash(swapped),
    }
    assessment = assess(
        week_input,
        swapped,
        repro=repro_check(solver, swapped),
        thresholds=DriftThresholds.from_document(record.config["drift_thresholds"]),
        baseline=record.drift.baseline,
        boundary=record.boundary,
        absences=record.absences,
    )
    sealed = evidence_hash(
        EvidenceFacts(
            tenant="LTS",
            site="WIEN",
            week=run.week,
            version=record.version,
            parent=record.parent_version,
            week_input=week_input,
            absences=record.absences,
            boundary=record.boundary,
            config=record.config,
            solver=solver,
            plan=swapped,
            audits=assessment.report.results,
            kpis=assessment.kpis,
            drift=assessment.drift,
            repair=record.repair,
        )
    )
    pk = record.pk
    statements = [
        f"UPDATE assignments SET driver_id = {_text(d)} WHERE version_pk = {pk} "
        f"AND instance_id = {_text(i)}"
        for i, d in swapped.items()
        if plan[i] != d
    ]
    for result in assessment.report.results:
        violations = canonical_json([v.as_document() for v in result.violations])
        statements.append(
            f"UPDATE audit_results SET violations = {_text(violations)}, violation_count = "
            f"{len(result.violations)} WHERE version_pk = {pk} AND audit = {_text(result.name)}"
        )
    statements.append(
        f"UPDATE plan_versions SET solver_json = {_text(canonical_json(solver))}, "
        f"kpis_json = {_text(canonical_json(assessment.kpis.as_document()))}, "
        f"drift_json = {_text(canonical_json(assessment.drift.as_document()))} WHERE id = {pk}"
    )
    statements.append(
        f"UPDATE evidence_records SET evidence_hash = {_text(sealed)} WHERE version_pk = {pk}"
    )
    return ";\n".join(statements) + ";"


Tamper = Callable[[str], None]
