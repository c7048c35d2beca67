"""Publish, lock, check and export: human decisions behind named gates, every one audited."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.audits import Roster, absent_assignments
from dispatcher.domain.errors import GateBlocked, IntegrityDamage, InvalidInput
from dispatcher.domain.events import Action, EventDraft, format_timestamp
from dispatcher.domain.gates import (
    CHECKS,
    LOCK,
    PUBLISH,
    ApprovalInput,
    ChecklistRow,
    CheckResult,
    DecisionFacts,
    checklist,
    evaluate,
    first_failure,
)
from dispatcher.domain.model import (
    SiteConfig,
    User,
    format_clock,
    initial_site_config,
    instance_sort_key,
)
from dispatcher.domain.records import RunRecord, VersionRecord
from dispatcher.domain.text import given
from dispatcher.domain.trail import StateMismatch, approval_said
from dispatcher.domain.vocabulary import DAY_NAMES
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import TRAIL_CHECK, refuse
from dispatcher.services.evidence import Verification, verify_version, week_absences
from dispatcher.services.files import check_new_file, new_files
from dispatcher.services.review import load_run, load_version
from dispatcher.services.site import ensure_site
from dispatcher.services.trail import (
    bound_kill_switch,
    bound_open_repairs,
    bound_run,
    bound_user,
)


@dataclass(frozen=True)
class CheckReport:
    run_id: str
    version: int
    action: str
    results: list[CheckResult]

    @property
    def allowed(self) -> bool:
        return all(r.passed for r in self.results)


@dataclass(frozen=True)
class DecisionResult:
    run_id: str
    version: int
    action: str
    approver_id: str
    role: str
    at: str
    evidence_hash: str
    status: str
    event_seq: int
    superseded: list[str]  # runs of the week this decision supersedes (`RUN-… v1`)
    stays_in_force: str | None = None  # a publish of a locked week: the locked plan, until lock


@dataclass(frozen=True)
class Gathered:
    """The facts of a decision as read, and the first one that did not match the trail."""

    config: SiteConfig
    kill_switch_active: bool
    approver: User | None
    open_repairs: tuple[str, ...]
    publish_event_hash: str | None
    mismatch: StateMismatch | None
    absent_assignments: tuple[str, ...] = ()
    login: str | None = None  # who runs the command (session_user, the OS account)


def _gather(uow: UnitOfWork, run: RunRecord, version: VersionRecord, approver_id: str) -> Gathered:
    """Read every fact the gates need, each proven by the audit trail. A fact that does not
    match stops the proof; the rest is read as stored (so `check` can still show every gate),
    and the decision is refused by the first check, state_matches_trail."""
    try:
        config = ensure_site(uow)
        kill_switch = bound_kill_switch(uow)
        approver = bound_user(uow, approver_id) if approver_id else None
        _, approvals, _ = bound_run(uow, run)
        open_repairs = bound_open_repairs(uow, run.week)
        publish = next(
            (a for a in approvals if a.action == PUBLISH and a.version == version.version), None
        )
        said = None if publish is None else approval_said(uow.audit_log.event(publish.event_seq))
        return Gathered(
            config,
            kill_switch.active,
            approver,
            tuple(r.request_id for r in open_repairs),
            None if said is None else said.get("evidence_hash"),
            None,
            absent_assignments(
                uow.runs.week_input(run, version.version),
                uow.runs.plan(version.pk),
                week_absences(uow, run.week),
            ),
            uow.session_login(),
        )
    except StateMismatch as mismatch:
        return Gathered(
            uow.sites.config() or initial_site_config(uow.tenant, uow.site),
            True,
            uow.users.get(approver_id) if approver_id else None,
            tuple(r.request_id for r in uow.queries.open_repairs(week=run.week)),
            version.published_evidence_hash,
            mismatch,
            login=uow.session_login(),
        )


def _facts(
    gathered: Gathered,
    run: RunRecord,
    version: VersionRecord,
    verification: Verification,
    action: str,
    approval: ApprovalInput,
) -> DecisionFacts:
    config = gathered.config
    return DecisionFacts(
        action=action,
        approval=approval,
        approver=gathered.approver,
        trail_problem=None if gathered.mismatch is None else gathered.mismatch.message,
        kill_switch_active=gathered.kill_switch_active,
        shadow_only=config.shadow_only,
        action_enabled=config.publish_enabled if action == PUBLISH else config.lock_enabled,
        allowed_roles=config.publish_roles if action == PUBLISH else config.lock_roles,
        min_reason_length=config.min_reason_length,
        lock_requires_other_person=config.lock_requires_other_person,
        run_id=run.run_id,
        week=run.week,
        # locked at this version or a later one (an amendment above the lock is not)
        run_locked=run.locked_version is not None and run.locked_version >= version.version,
        version=version.version,
        version_published=version.published,
        publisher_id=version.published_by,
        evidence_ok=verification.ok,
        sealed_hash=version.evidence_hash,
        rebuilt_hash=verification.rebuilt_hash,
        published_evidence_hash=gathered.publish_event_hash,
        status=verification.decision.status,
        drift_level=verification.assessment.drift.level,
        open_repairs=gathered.open_repairs,
        absent_assignments=gathered.absent_assignments,
        require_login=config.approvals_require_login,
        login=gathered.login,
    )


@dataclass(frozen=True)
class Readiness:
    title: str  # "Ready to publish?", "Ready to lock?", "Locked: exported", ...
    action: str | None  # the decision the rows are the gate checks of
    rows: list[ChecklistRow]


def readiness(
    uow: UnitOfWork, run: RunRecord, version: VersionRecord, verification: Verification
) -> Readiness:
    """show-run's checklist for the run's state: the gate checks of its next decision
    (publish, then lock), evaluated as `check` evaluates them; after the lock, the export."""
    if version.version != run.current_version:
        title = f"v{version.version} is not current: decisions act on v{run.current_version}"
        return Readiness(title, None, [])
    if run.locked and run.locked_version == version.version:
        exports = [
            e
            for e in uow.queries.decisions(run.run_id, (Action.EXPORT,))
            if e.plan_version == version.version
        ]
        switch = uow.queries.kill_switch()
        rows = [
            ChecklistRow(
                "evidence_matches_seal",
                "Evidence matches its sealed hash",
                verification.ok,
                "verified" if verification.ok else EXPORT_MISMATCH,
            ),
            ChecklistRow(
                "kill_switch_inactive",
                "Kill switch inactive",
                not switch.active,
                "yes" if not switch.active else "Kill switch is active",
            ),
            ChecklistRow(
                "exported",
                "Exported to the dispatch system",
                bool(exports),
                f"{len(exports)} time(s), last {exports[-1].occurred_at} by {exports[-1].actor_id}"
                if exports
                else f"not yet: dispatcher export {run.run_id} --format csv --out FILE --by ID",
            ),
        ]
        return Readiness("Locked: " + ("exported" if exports else "not yet exported"), None, rows)
    action = LOCK if version.published else PUBLISH
    gathered = _gather(uow, run, version, "")
    facts = _facts(gathered, run, version, verification, action, ApprovalInput())
    title = "Ready to lock?" if action == LOCK else "Ready to publish?"
    return Readiness(title, action, checklist(facts))


def check_action(uow: UnitOfWork, run_id: str, action: str, approval: ApprovalInput) -> CheckReport:
    """Evaluate every check of `action` without changing or recording anything."""
    with uow:
        run = load_run(uow, run_id)
        version = load_version(uow, run)
        verification = verify_version(uow, run, version)
        gathered = _gather(uow, run, version, approval.approver_key or "")
        facts = _facts(gathered, run, version, verification, action, approval)
        return CheckReport(run.run_id, version.version, action, evaluate(CHECKS[action], facts))


def decide(uow: UnitOfWork, run_id: str, action: str, approval: ApprovalInput) -> DecisionResult:
    """`publish` or `lock`: stop at the first failing check; record the outcome either way."""
    event_action = Action.PUBLISH if action == PUBLISH else Action.LOCK
    with uow:
        run = load_run(uow, run_id)
        version = load_version(uow, run)
        verification = verify_version(uow, run, version)
        uow.runs.record_verification(
            version.pk, verification.decision.status, verification.decision.reason, uow.now()
        )
        gathered = _gather(uow, run, version, approval.approver_key or "")
        facts = _facts(gathered, run, version, verification, action, approval)
        failure = first_failure(evaluate(CHECKS[action], facts))
        typed = approval.trimmed()
        approver, role, reason = typed.approver_id, typed.role, typed.reason
        override = typed.override_reason
        if failure is not None:
            raise refuse(
                uow,
                event_action,
                failure.name,
                failure.message,
                actor_id=approver,
                actor_role=role,
                reason=reason,
                run_id=run.run_id,
                plan_version=version.version,
                evidence_hash=version.evidence_hash,
            )
        assert approver is not None and role is not None and reason is not None
        assert gathered.approver is not None
        approver = gathered.approver.user_id  # as registered, whatever case was typed
        superseded, stays = _superseded(uow, run, action)
        detail: dict[str, Any] = {"status": facts.status, "override_reason": override}
        if superseded:
            detail["supersedes"] = superseded
        event = record_event(
            uow,
            EventDraft(
                event_action,
                actor_id=approver,
                actor_role=role,
                reason=reason,
                run_id=run.run_id,
                plan_version=version.version,
                evidence_hash=version.evidence_hash,
                detail=detail,
            ),
        )
        uow.decisions.add_approval(
            run_pk=run.pk,
            version=version.version,
            action=action,
            approver_id=approver,
            role=role,
            reason=reason,
            override_reason=override,
            evidence_hash=version.evidence_hash,
            event_seq=event.seq,
            at=event.moment,
        )
        uow.commit()
    return DecisionResult(
        run.run_id,
        version.version,
        action,
        approver,
        role,
        event.occurred_at,
        version.evidence_hash,
        facts.status,
        event.seq,
        superseded,
        stays,
    )


def _superseded(uow: UnitOfWork, run: RunRecord, action: str) -> tuple[list[str], str | None]:
    """What this decision supersedes (domain.md §7), and the locked plan that stays in force
    until this run is locked: a publish supersedes the other published runs of the week that
    are not locked, a lock the locked one."""
    others = [
        s
        for s in uow.queries.list_runs(week=run.week, limit=10_000)
        if s.run_id != run.run_id and not s.superseded
    ]
    if action == LOCK:
        return [f"{s.run_id} v{s.locked_version}" for s in others if s.locked], None
    replaced = [
        f"{s.run_id} v{s.published_version}"
        for s in others
        if s.published_version is not None and not s.locked
    ]
    locked = next((s for s in others if s.locked), None)
    return replaced, None if locked is None else f"{locked.run_id} v{locked.locked_version}"


# --- export -------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "week",
    "date",
    "weekday",
    "driver_id",
    "driver_name",
    "block_type",
    "instance_id",
    "tour_id",
    "start",
    "end",
    "crosses_midnight",
    "depot",
    "skill",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_MISMATCH = "Evidence does not match its sealed hash; nothing exported"


@dataclass(frozen=True)
class ExportResult:
    run_id: str
    version: int
    path: Path
    manifest: Path
    rows: int
    sha256: str
    evidence_hash: str


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas in exported text (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_run(
    uow: UnitOfWork,
    run_id: str,
    fmt: str,
    out: Path,
    by: str | None = None,
    *,
    delta: bool = False,
) -> ExportResult:
    """Write a locked plan for the dispatch system; refused while the kill switch is active.
    `delta`: only the rows changed since the version exported last (an amendment's lock)."""
    if fmt not in ("csv", "json"):
        raise InvalidInput(f"Unknown format {fmt!r}: use csv or json")
    check_new_file(out)
    manifest_path = out.with_name(out.name + ".manifest.json")
    check_new_file(manifest_path)
    with uow:
        run = load_run(uow, run_id)
        actor = given(by)

        def blocked(check: str, message: str, version: VersionRecord | None = None) -> GateBlocked:
            return refuse(
                uow,
                Action.EXPORT,
                check,
                message,
                actor_id=actor,
                actor_role=None,
                reason=None,
                run_id=run.run_id,
                plan_version=None if version is None else version.version,
                evidence_hash=None if version is None else version.evidence_hash,
            )

        try:
            kill_switch = bound_kill_switch(uow)
            bound_run(uow, run)
        except StateMismatch as mismatch:
            raise blocked(TRAIL_CHECK, mismatch.message) from None
        if kill_switch.active:
            raise blocked("kill_switch_inactive", "Kill switch is active")
        if not run.locked or run.locked_version is None:
            raise blocked("run_locked", f"Run {run.run_id} is not locked")
        if actor is not None:  # a name in the trail is a registered person's, or none
            try:
                exporter = bound_user(uow, actor)
            except StateMismatch as mismatch:
                raise blocked(TRAIL_CHECK, mismatch.message) from None
            if exporter is None or not exporter.active:
                raise blocked(
                    "exporter_registered", f"Exporter {actor} is not a registered active user"
                )
            actor = exporter.user_id
        version = load_version(uow, run, run.locked_version)
        verification = verify_version(uow, run, version)
        if not verification.ok:
            blocked("evidence_matches_seal", EXPORT_MISMATCH, version)
            raise IntegrityDamage(EXPORT_MISMATCH)
        rows = _export_rows(uow, run, version)
        base: dict[str, Any] | None = None
        if delta:
            base, rows = _delta(uow, run, version, rows)
        data = _render_export(fmt, run, version, rows, delta=delta)
        digest = hashlib.sha256(data).hexdigest()
        manifest: dict[str, Any] = {
            "run_id": run.run_id,
            "version": version.version,
            "week": run.week,
            "evidence_hash": version.evidence_hash,
            "locked_at": None if run.locked_at is None else format_timestamp(run.locked_at),
            "locked_by": run.locked_by,
            "format": fmt,
            "file": out.name,
            "rows": len(rows),
            "sha256": digest,
        }
        if base is not None:
            manifest["delta"] = base
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        outputs = [(out, data, 0o644), (manifest_path, manifest_bytes, 0o644)]
        with new_files(outputs):  # the event is committed only for files in place
            record_event(
                uow,
                EventDraft(
                    Action.EXPORT,
                    actor_id=actor,
                    run_id=run.run_id,
                    plan_version=version.version,
                    evidence_hash=version.evidence_hash,
                    detail={
                        "format": fmt,
                        "file": out.name,
                        "rows": len(rows),
                        "sha256": digest,
                        **({"delta_base": base["base_version"]} if base is not None else {}),
                    },
                ),
            )
            uow.commit()
    return ExportResult(
        run.run_id, version.version, out, manifest_path, len(rows), digest, version.evidence_hash
    )


DELTA_COLUMNS = ("change", "previous_driver_id", *EXPORT_COLUMNS)


def _delta(
    uow: UnitOfWork, run: RunRecord, version: VersionRecord, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rows added, removed and changed since the version exported last, and the base
    export the manifest names."""
    exports = uow.queries.decisions(run.run_id, (Action.EXPORT,))
    if not exports:
        raise InvalidInput(
            f"Nothing of {run.run_id} was exported yet: export it in full first (without --delta)"
        )
    last = exports[-1]
    if last.plan_version is None or last.plan_version >= version.version:
        raise InvalidInput(
            f"{run.run_id} v{last.plan_version} was exported last (event #{last.seq}); "
            "a delta needs a newer locked version (an amendment)"
        )
    base_version = load_version(uow, run, last.plan_version)
    if not verify_version(uow, run, base_version).ok:
        raise IntegrityDamage(f"v{base_version.version}: {EXPORT_MISMATCH}")
    before = {r["instance_id"]: r for r in _export_rows(uow, run, base_version)}
    after = {r["instance_id"]: r for r in rows}
    changed: list[dict[str, Any]] = []
    for instance_id in sorted(set(before) | set(after), key=instance_sort_key):
        old, new = before.get(instance_id), after.get(instance_id)
        if new is None and old is not None:
            changed.append({**old, "change": "removed", "previous_driver_id": old["driver_id"]})
        elif old is None and new is not None:
            changed.append({**new, "change": "added", "previous_driver_id": ""})
        elif old is not None and new is not None and old != new:
            changed.append({**new, "change": "changed", "previous_driver_id": old["driver_id"]})
    counts = {kind: sum(r["change"] == kind for r in changed) for kind in ("added", "removed")}
    counts["changed"] = sum(r["change"] == "changed" for r in changed)
    base = {
        "base_version": base_version.version,
        "base_export": {
            "event_seq": last.seq,
            "file": last.detail.get("file"),
            "sha256": last.detail.get("sha256"),
            "exported_at": last.occurred_at,
        },
        **counts,
    }
    return base, changed


def _export_rows(uow: UnitOfWork, run: RunRecord, version: VersionRecord) -> list[dict[str, Any]]:
    week_input = uow.runs.week_input(run, version.version)
    plan = uow.runs.plan(version.pk)
    roster = Roster.build(week_input.instances(), plan)
    drivers = week_input.driver_map()
    rows = []
    for driver_id, days in roster.days.items():
        for day in days:
            for instance in day.instances:
                tour = instance.tour
                rows.append(
                    {
                        "week": run.week,
                        "date": week_input.week.date_of(day.day).isoformat(),
                        "weekday": DAY_NAMES[day.day - 1],
                        "driver_id": driver_id,
                        "driver_name": drivers[driver_id].name if driver_id in drivers else "",
                        "block_type": day.block_type,
                        "instance_id": instance.instance_id,
                        "tour_id": tour.tour_id,
                        "start": format_clock(tour.start),
                        "end": format_clock(tour.end),
                        "crosses_midnight": tour.crosses_midnight,
                        "depot": tour.depot or "",
                        "skill": tour.skill or "",
                    }
                )
    return rows


def _render_export(
    fmt: str,
    run: RunRecord,
    version: VersionRecord,
    rows: list[dict[str, Any]],
    *,
    delta: bool = False,
) -> bytes:
    if fmt == "csv":
        columns = DELTA_COLUMNS if delta else EXPORT_COLUMNS
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    ("true" if row[c] else "false")
                    if c == "crosses_midnight"
                    else safe_cell(str(row[c]))
                    for c in columns
                ]
            )
        return buffer.getvalue().encode("utf-8")
    if delta:
        document = {"run_id": run.run_id, "version": version.version, "week": run.week}
        text = json.dumps({**document, "changes": rows}, indent=2, sort_keys=True) + "\n"
        return text.encode("utf-8")
    drivers: dict[str, dict[str, Any]] = {}
    for row in rows:
        driver = drivers.setdefault(
            row["driver_id"],
            {"driver_id": row["driver_id"], "driver_name": row["driver_name"], "days": {}},
        )
        day = driver["days"].setdefault(
            row["date"],
            {
                "date": row["date"],
                "weekday": row["weekday"],
                "block_type": row["block_type"],
                "tours": [],
            },
        )
        day["tours"].append(
            {
                k: row[k]
                for k in (
                    "instance_id",
                    "tour_id",
                    "start",
                    "end",
                    "crosses_midnight",
                    "depot",
                    "skill",
                )
            }
        )
    doc = {
        "run_id": run.run_id,
        "version": version.version,
        "week": run.week,
        "evidence_hash": version.evidence_hash,
        "drivers": [{**d, "days": list(d["days"].values())} for d in drivers.values()],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


__all__ = ["LOCK", "PUBLISH", "ApprovalInput", "GateBlocked"]
