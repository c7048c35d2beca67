"""Creating plan versions with sealed evidence, and re-verifying them from stored rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.audits import (
    Boundary,
    DutyDay,
    ReproCheck,
    Roster,
)
from dispatcher.domain.drift import Baseline
from dispatcher.domain.errors import IntegrityDamage
from dispatcher.domain.events import AuditEvent
from dispatcher.domain.evidence import (
    Assessment,
    EvidenceFacts,
    assess,
    config_document,
    evidence_document,
    evidence_hash,
    output_hash,
)
from dispatcher.domain.hashing import canonical_json, digest, digest_text
from dispatcher.domain.model import (
    Absence,
    DriftThresholds,
    Plan,
    SiteConfig,
    Week,
    WeekInput,
    format_clock,
    instance_sort_key,
)
from dispatcher.domain.records import NewVersion, RunRecord, VersionRecord
from dispatcher.domain.status import StatusDecision, derive_status
from dispatcher.domain.vocabulary import DAY_NAMES, format_hours
from dispatcher.services.files import check_new_folder, write_new_folder
from dispatcher.services.results import EvidenceCheck, EvidenceExport


@dataclass(frozen=True)
class CreationContext:
    """What a new version is judged against: boundary, baseline, open absences, config."""

    boundary: Boundary | None
    baseline: Baseline | None
    absences: tuple[Absence, ...]
    config: Mapping[str, Any]


def creation_context(
    uow: UnitOfWork,
    week: Week,
    config: SiteConfig,
    as_of: Mapping[str, datetime] | None = None,
    *,
    absences: tuple[Absence, ...] | None = None,
) -> CreationContext:
    """Boundary, baseline, config, and the absences the week's repair requests recorded
    (`as_of`: requests being repaired now, with the moment the repair takes over; or the
    `absences` already read for it)."""
    return CreationContext(
        boundary=week_boundary(uow, week),
        baseline=_baseline(uow, week, config.drift_baseline),
        absences=week_absences(uow, str(week), as_of=as_of) if absences is None else absences,
        config=config_document(
            config.thresholds, config.freeze_window_hours, config.drift_baseline
        ),
    )


def week_absences(
    uow: UnitOfWork, week: str, *, as_of: Mapping[str, datetime] | None = None
) -> tuple[Absence, ...]:
    """Every absence the week's repair requests recorded (domain.md §9): a request's days are a
    fact about its driver, whatever became of the request, unless a reject withdrew them
    (`--driver-available`). Each binds the tours that start after it took effect: when it was
    requested, or when the repair that covered it took over (`as_of`, or its proposal's time).
    Each request is proven by its event first: an absence deleted or edited by hand raises
    StateMismatch rather than letting a plan give the driver tours."""
    from dispatcher.domain.repair import request_absences  # the repair domain only when needed
    from dispatcher.services.trail import bound_requests

    parsed = Week.parse(week)
    found: list[Absence] = []
    for record in bound_requests(uow, week):  # a request edited or removed by hand is refused
        if record.status == "REJECTED":
            event = uow.audit_log.event(record.event_seq)
            if event is None or event.detail.get("driver_available") is True:
                continue
        found.extend(request_absences(record, parsed, (as_of or {}).get(record.request_id)))
    return tuple(sorted(found, key=lambda a: (a.driver_id, a.date, a.note or "")))


def absences_digest(absences: tuple[Absence, ...]) -> str:
    """One hash of a set of absences (a proposal records the ones it was computed against)."""
    return digest([a.as_document() for a in absences])


def week_boundary(uow: UnitOfWork, week: Week) -> Boundary | None:
    """The last duty day of every driver in the previous week's locked plan (None: not locked)."""
    previous = uow.runs.latest_locked(week=str(week.previous()))
    if previous is None:
        return None
    version = uow.runs.version(previous, previous.current_version)
    assert version is not None
    week_input = uow.runs.week_input(previous, version.version)
    roster = Roster.build(week_input.instances(), uow.runs.plan(version.pk))
    return Boundary.from_roster(previous.run_id, version.version, version.evidence_hash, roster)


def _baseline(uow: UnitOfWork, week: Week, setting: str) -> Baseline | None:
    if setting == "auto":
        run = uow.runs.latest_locked(before_week=str(week))
    else:
        run = uow.runs.get(setting)
    if run is None:
        return None
    version = uow.runs.version(run, run.current_version)
    if version is None:
        return None
    return Baseline(run.run_id, version.version, run.week, version.kpis.drivers_used)


def repro_check(solver: Mapping[str, Any], plan: Plan) -> ReproCheck:
    """Reproducibility: the recorded hash, the plan's own hash, the producer's claim."""
    return ReproCheck(
        recorded=solver["recorded_output_hash"],
        recomputed=output_hash(plan),
        declared=solver.get("declared_output_hash"),
    )


@dataclass(frozen=True)
class CreatedVersion:
    version_pk: int
    new: NewVersion
    assessment: Assessment
    event: AuditEvent


# Records the event that creates the version and returns it with the run's primary key (a new
# run is stored right after its event, before its first version).
Recorder = Callable[[NewVersion], tuple[AuditEvent, int]]


def create_version(
    uow: UnitOfWork,
    *,
    week: str,
    solver_error: str | None,
    week_input: WeekInput,
    plan: Plan,
    version: int,
    origin: str,
    solver: Mapping[str, Any],
    context: CreationContext,
    record: Recorder,
    parent: tuple[int, Plan] | None = None,
    repair: Mapping[str, Any] | None = None,
    repair_request_id: str | None = None,
) -> CreatedVersion:
    """Audit, measure and seal one plan version, record the event that creates it (holding
    its evidence hash), then store it bound to that event (inside the caller's transaction)."""
    thresholds = DriftThresholds.from_document(context.config["drift_thresholds"])
    repro = repro_check(solver, plan)
    assessment = assess(
        week_input,
        plan,
        repro=repro,
        thresholds=thresholds,
        baseline=context.baseline,
        boundary=context.boundary,
        absences=context.absences,
        parent_plan=None if parent is None else parent[1],
    )
    audits = assessment.report.results
    facts = EvidenceFacts(
        tenant=uow.tenant,
        site=uow.site,
        week=week,
        version=version,
        parent=None if parent is None else parent[0],
        week_input=week_input,
        absences=context.absences,
        boundary=context.boundary,
        config=context.config,
        solver=solver,
        plan=plan,
        audits=audits,
        kpis=assessment.kpis,
        drift=assessment.drift,
        repair=repair,
    )
    sealed = evidence_hash(facts)
    decision = derive_status(
        audits=audits,
        drift_level=assessment.drift.level,
        evidence_ok=True,
        solver_error=solver_error,
    )
    new = NewVersion(
        version=version,
        parent_version=facts.parent,
        origin=origin,
        repair_request_id=repair_request_id,
        config=context.config,
        solver=solver,
        boundary=context.boundary,
        absences=context.absences,
        kpis=assessment.kpis,
        drift=assessment.drift,
        repair=repair,
        status=decision.status,
        status_reason=decision.reason,
        audits_passed=assessment.report.passed_count,
        evidence_hash=sealed,
    )
    event, run_pk = record(new)
    version_pk = uow.runs.add_version(run_pk, new, plan, audits, uow.now(), event.seq)
    return CreatedVersion(version_pk, new, assessment, event)


@dataclass(frozen=True)
class Verification:
    """The result of rebuilding a version's evidence from stored rows and recomputing it."""

    run_id: str
    version: int
    sealed_hash: str
    rebuilt_hash: str
    problems: tuple[str, ...]
    assessment: Assessment
    decision: StatusDecision
    document: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def text(self) -> str:
        return canonical_json(self.document)


@dataclass(frozen=True)
class Rebuilt:
    """A version's evidence document rebuilt from the stored rows, and what went into it."""

    document: Mapping[str, Any]
    hash: str
    week_input: WeekInput
    plan: Plan
    audits: tuple[Any, ...]
    parent_plan: Plan | None


def rebuild_evidence(uow: UnitOfWork, run: RunRecord, version: VersionRecord) -> Rebuilt:
    """The evidence document of a version, from its stored rows alone, and its hash."""
    week_input = uow.runs.week_input(run, version.version)
    plan = uow.runs.plan(version.pk)
    stored_audits = uow.runs.audit_results(version.pk)
    parent_plan = None
    if version.parent_version is not None:
        parent = uow.runs.version(run, version.parent_version)
        parent_plan = None if parent is None else uow.runs.plan(parent.pk)
    facts = EvidenceFacts(
        tenant=uow.tenant,
        site=uow.site,
        week=run.week,
        version=version.version,
        parent=version.parent_version,
        week_input=week_input,
        absences=version.absences,
        boundary=version.boundary,
        config=version.config,
        solver=version.solver,
        plan=plan,
        audits=stored_audits,
        kpis=version.kpis,
        drift=version.drift,
        repair=version.repair,
    )
    document = evidence_document(facts)
    return Rebuilt(
        document,
        digest_text(canonical_json(document)),
        week_input,
        plan,
        stored_audits,
        parent_plan,
    )


def verify_version(uow: UnitOfWork, run: RunRecord, version: VersionRecord) -> Verification:
    """Rebuild the evidence from stored rows, hash it, recompute audits/KPIs/drift, compare
    with the sealed hash and with the events that hold it."""
    built = rebuild_evidence(uow, run, version)
    week_input, plan, stored_audits = built.week_input, built.plan, built.audits
    parent_plan, document, rebuilt = built.parent_plan, built.document, built.hash
    problems: list[str] = []
    if rebuilt != version.evidence_hash:
        problems.append("evidence does not match its sealed hash")
    assessment = assess(
        week_input,
        plan,
        repro=repro_check(version.solver, plan),
        thresholds=DriftThresholds.from_document(version.config["drift_thresholds"]),
        baseline=version.drift.baseline,
        boundary=version.boundary,
        absences=version.absences,
        parent_plan=parent_plan,
    )
    recomputed = {a.name: a.as_document() for a in assessment.report.results}
    differing = [a.name for a in stored_audits if recomputed.get(a.name) != a.as_document()]
    if differing or len(stored_audits) != len(recomputed):
        problems.append(f"stored audit results differ from a recomputation: {', '.join(differing)}")
    if assessment.kpis.as_document() != version.kpis.as_document():
        problems.append("stored KPIs differ from a recomputation")
    if assessment.drift.as_document() != version.drift.as_document():
        problems.append("stored drift differs from a recomputation")
    problems.extend(_trail_problems(uow, run, version))
    decision = derive_status(
        audits=assessment.report.results,
        drift_level=assessment.drift.level,
        evidence_ok=not problems,
        solver_error=run.solver_error,
    )
    if problems and decision.status == "FAIL":
        decision = StatusDecision(decision.status, f"{decision.reason}; {problems[0]}")
    return Verification(
        run.run_id,
        version.version,
        version.evidence_hash,
        rebuilt,
        tuple(problems),
        assessment,
        decision,
        document,
    )


def _trail_problems(uow: UnitOfWork, run: RunRecord, version: VersionRecord) -> list[str]:
    """The sealed hash against the events that hold it: the one that created the version, its
    publish and its lock. A plan re-sealed after any of them is caught here."""
    from dispatcher.domain.trail import approval_said, version_said

    problems = []
    created = version_said(uow.audit_log.event(version.event_seq))
    if created is None or created.get("evidence_hash") != version.evidence_hash:
        problems.append(
            f"evidence does not match the audit trail (event #{version.event_seq}, "
            "which created the version)"
        )
    decisions = [version.publish]
    if run.lock is not None and run.lock.version == version.version:
        decisions.append(run.lock)
    for decision in decisions:
        if decision is None:
            continue
        said = approval_said(uow.audit_log.event(decision.event_seq))
        if said is None or said.get("evidence_hash") != version.evidence_hash:
            problems.append(
                f"evidence does not match the audit trail (event #{decision.event_seq}, "
                f"its {decision.action})"
            )
    return problems


def check_evidence(uow: UnitOfWork, run_id: str, version: int | None = None) -> EvidenceCheck:
    """`evidence verify`: rebuild, hash, recompute; records the verification result."""
    from dispatcher.services.review import load_run, load_version

    with uow:
        run = load_run(uow, run_id)
        record = load_version(uow, run, version)
        result = verify_version(uow, run, record)
        uow.runs.record_verification(
            record.pk, result.decision.status, result.decision.reason, uow.now()
        )
        uow.commit()
    return EvidenceCheck(
        run.run_id,
        record.version,
        result.sealed_hash,
        result.rebuilt_hash,
        result.ok,
        result.problems,
    )


def export_evidence(
    uow: UnitOfWork, run_id: str, out_dir: Path, version: int | None = None
) -> EvidenceExport:
    """Write evidence.json (byte-exact), roster.txt, approvals.json and manifest.json."""
    from dispatcher.services.review import load_run, load_version

    check_new_folder(out_dir)
    with uow:
        run = load_run(uow, run_id)
        record = load_version(uow, run, version)
        result = verify_version(uow, run, record)
        if not result.ok:
            raise IntegrityDamage("Evidence does not match its sealed hash; nothing exported")
        week_input = uow.runs.week_input(run, record.version)
        plan = uow.runs.plan(record.pk)
        approvals = [asdict(e) for e in uow.queries.decisions(run.run_id, ("publish", "lock"))]
    files = {
        "evidence.json": result.text.encode("utf-8"),
        "roster.txt": roster_text(run.run_id, record.version, week_input, plan).encode("utf-8"),
        "approvals.json": (json.dumps(approvals, indent=2, ensure_ascii=False) + "\n").encode(),
    }
    manifest = {
        "run_id": run.run_id,
        "version": record.version,
        "week": run.week,
        "evidence_hash": result.sealed_hash,
        "files": {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        },
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    write_new_folder(out_dir, files)
    return EvidenceExport(
        run.run_id,
        record.version,
        result.sealed_hash,
        {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    )


def roster_text(run_id: str, version: int, week_input: WeekInput, plan: Plan) -> str:
    """A readable driver x day matrix of the plan (for people; not hashed)."""
    roster = Roster.build(week_input.instances(), plan)
    names = week_input.driver_map()
    lines = [f"{run_id} v{version}  week {week_input.week}", ""]
    header = f"{'Driver':<8} {'Name':<22} " + " ".join(f"{d:<22}" for d in DAY_NAMES) + " Hours"
    lines += [header, "-" * len(header)]
    for driver, days in roster.days.items():
        cells = {d.day: f"{_cell(d)}" for d in days}
        name = names[driver].name if driver in names else "?"
        row = f"{driver:<8} {name[:22]:<22} " + " ".join(
            f"{cells.get(day, '-'):<22}" for day in range(1, 8)
        )
        lines.append(f"{row} {format_hours(roster.work(driver)):>5}")
    uncovered = sorted(
        (i.instance_id for i in week_input.instances() if i.instance_id not in plan),
        key=instance_sort_key,
    )
    if uncovered:
        lines += ["", f"Unassigned: {', '.join(uncovered)}"]
    return "\n".join(lines) + "\n"


def _cell(day: DutyDay) -> str:
    start = format_clock(day.instances[0].tour.start)
    end = format_clock(day.last_end % 1440)
    return f"{start}-{end} {day.block_type}"
