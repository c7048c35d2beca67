"""`audit verify --state`: fold the whole audit trail and compare it with every state table.

Gates prove the facts they read one by one; this walks everything: each chain the site depends
on (its own, its tenant's registry, the platform's) is replayed in order into the state it
implies, and every row of every state table is compared with it, both ways (a row no event
explains, an event whose row is missing or different). Every plan version's evidence is
rebuilt from its rows and must hash to what its creating event holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import ChainEvent
from dispatcher.domain.trail import (
    ADOPT,
    DECISION_ACTIONS,
    KILL_SWITCH_ACTIONS,
    RUN_ACTIONS,
    SETTINGS_ACTIONS,
    STATUS_OF,
    USER_ACTIONS,
    approval_said,
    differences,
    kill_switch_said,
    request_ids,
    request_said,
    settings_said,
    user_said,
)
from dispatcher.services.evidence import rebuild_evidence
from dispatcher.services.trail import (
    approval_values,
    request_values,
    settings_values,
    user_values,
)


@dataclass(frozen=True)
class StateProblem:
    table: str
    key: str
    problem: str

    @property
    def line(self) -> str:
        return f"{self.table} {self.key}: {self.problem}"


@dataclass
class StateReport:
    """What was compared, and every mismatch by table and key."""

    checked: dict[str, int] = field(default_factory=dict)
    problems: list[StateProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, table: str, n: int = 1) -> None:
        self.checked[table] = self.checked.get(table, 0) + n

    def problem(self, table: str, key: str, text: str) -> None:
        self.problems.append(StateProblem(table, key, text))


@dataclass
class _Fold:
    """The state one chain's events imply (the newest authorizing event per fact)."""

    settings: ChainEvent | None = None
    runs: dict[str, ChainEvent] = field(default_factory=dict)
    versions: dict[tuple[str, int], ChainEvent] = field(default_factory=dict)
    approvals: dict[int, ChainEvent] = field(default_factory=dict)
    requests: dict[str, ChainEvent] = field(default_factory=dict)
    kill_switch: ChainEvent | None = None
    users: dict[str, ChainEvent] = field(default_factory=dict)
    database: ChainEvent | None = None


def _fold(events: Any, *, site_scope: bool) -> _Fold:
    fold = _Fold()
    for event in events:
        if event.body.get("outcome") != "allowed":
            continue
        action, detail, run_id = event.action, event.detail, event.body.get("run_id")
        if action in SETTINGS_ACTIONS:
            fold.settings = event
        elif action in RUN_ACTIONS:
            fold.runs[str(run_id)] = event
            fold.versions[(str(run_id), int(event.body.get("plan_version") or 0))] = event
        elif action == "repair.apply":
            fold.versions[(str(run_id), int(event.body.get("plan_version") or 0))] = event
        if action in DECISION_ACTIONS:
            fold.approvals[event.seq] = event
        if action in STATUS_OF:
            for request_id in request_ids(event):
                fold.requests[request_id] = event
        elif action in KILL_SWITCH_ACTIONS:
            if not site_scope or detail.get("scope") == "site":
                fold.kill_switch = event
        elif action in USER_ACTIONS:
            fold.users[str(detail.get("user", "")).lower()] = event
        elif action == "database.create":
            fold.database = event
        elif action == ADOPT:
            table, key = detail.get("table"), str(detail.get("key"))
            if table == "site_settings":
                fold.settings = event
            elif table == "kill_switch_history":
                fold.kill_switch = event
            elif table == "users":
                fold.users[key] = event
            elif table == "repair_requests":
                fold.requests[key] = event
    return fold


def _compare(
    report: StateReport,
    table: str,
    key: str,
    row: Mapping[str, Any],
    said: Mapping[str, Any] | None,
    row_seq: int | None,
    fold_seq: int | None,
) -> None:
    report.count(table)
    if row_seq != fold_seq:
        report.problem(
            table, key, f"names event #{row_seq}, the trail's newest for it is #{fold_seq}"
        )
        return
    wrong = differences(row, said)
    if wrong:
        report.problem(table, key, f"differs from event #{row_seq}: {', '.join(wrong)}")


def verify_state(uow: UnitOfWork) -> StateReport:
    """Fold the site's, its tenant's and the platform's chains; compare every state table."""
    report = StateReport()
    with uow:
        site = _fold(uow.audit_log.bodies(), site_scope=True)
        tenant = _fold(uow.tenant_log.bodies(), site_scope=False)
        platform = _fold(uow.platform_log.bodies(), site_scope=False)
        _settings(uow, report, site)
        _users(uow, report, tenant)
        _kill_switch(uow, report, site, platform)
        _database(uow, report, platform)
        _runs(uow, report, site)
        _requests(uow, report, site)
    return report


def _settings(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    found = uow.sites.bound_config()
    key = f"{uow.tenant}/{uow.site}"
    if found is None:
        if fold.settings is not None:
            report.problem("site_settings", key, f"missing; event #{fold.settings.seq} set them")
        return
    config, seq = found
    _compare(
        report,
        "site_settings",
        key,
        settings_values(config),
        settings_said(uow.audit_log.event(seq), uow.site),
        seq,
        None if fold.settings is None else fold.settings.seq,
    )


def _users(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    seen = set()
    for user in uow.users.list():
        key = user.user_id.lower()
        seen.add(key)
        bound = uow.users.bound(key)
        seq = None if bound is None else bound[1]
        event = fold.users.get(key)
        _compare(
            report,
            "users",
            user.user_id,
            user_values(user),
            user_said(uow.tenant_log.event(seq), key),
            seq,
            None if event is None else event.seq,
        )
    for key, event in fold.users.items():
        if key not in seen:
            report.problem("users", key, f"missing; event #{event.seq} registered the user")


def _kill_switch(uow: UnitOfWork, report: StateReport, site: _Fold, platform: _Fold) -> None:
    for scope, fold, log in (("global", platform, uow.platform_log), ("site", site, uow.audit_log)):
        target = "global" if scope == "global" else f"{uow.tenant}/{uow.site}"
        row = uow.kill_switch.newest(scope)
        expected = fold.kill_switch
        if row is None:
            if expected is not None:
                report.problem("kill_switch_history", target, f"missing; event #{expected.seq}")
            continue
        said = None
        if row.event_chain == log.chain:
            said = kill_switch_said(log.event(row.event_seq), target)
        values = {
            "scope": row.scope,
            "target": target,
            "active": row.active,
            "actor_id": row.actor_id,
            "reason": row.reason,
        }
        _compare(
            report,
            "kill_switch_history",
            target,
            values,
            said,
            row.event_seq,
            None if expected is None else expected.seq,
        )


def _database(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    flag = uow.database.flag("clock")
    said = None if fold.database is None else fold.database.detail.get("clock")
    report.count("database_flags")
    if flag is None:
        if said == "simulated":
            report.problem("database_flags", "clock", "missing; the database was created simulated")
        return
    if fold.database is None or flag != ("simulated", fold.database.seq) or said != "simulated":
        report.problem(
            "database_flags", "clock", "says simulated, the platform chain does not agree"
        )


def _runs(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    runs = {run.run_id: run for run in uow.runs.all()}
    for run_id, event in fold.runs.items():
        if run_id not in runs:
            report.problem("runs", run_id, f"missing; event #{event.seq} created it")
    versions_seen: set[tuple[str, int]] = set()
    approvals_seen: set[int] = set()
    for run in runs.values():
        report.count("runs")
        expected = fold.runs.get(run.run_id)
        week = None if expected is None else expected.detail.get("week")
        if expected is None or expected.seq != run.event_seq or week != run.week:
            report.problem("runs", run.run_id, f"not what the trail says (event #{run.event_seq})")
        for version in uow.runs.versions(run):
            key = (run.run_id, version.version)
            versions_seen.add(key)
            report.count("plan_versions")
            created = fold.versions.get(key)
            label = f"{run.run_id} v{version.version}"
            if created is None or created.seq != version.event_seq:
                report.problem(
                    "plan_versions",
                    label,
                    f"names event #{version.event_seq}, "
                    f"the trail's is #{None if created is None else created.seq}",
                )
                continue
            if created.body.get("evidence_hash") != version.evidence_hash:
                report.problem(
                    "evidence_records", label, f"sealed hash differs from event #{created.seq}"
                )
            rebuilt = rebuild_evidence(uow, run, version)
            report.count("evidence_records")
            if rebuilt.hash != version.evidence_hash:
                report.problem(
                    "assignments/audit_results/input",
                    label,
                    "the stored rows no longer hash to the sealed evidence",
                )
        for approval in uow.runs.approvals(run):
            approvals_seen.add(approval.event_seq)
            key_text = f"{run.run_id} v{approval.version} {approval.action}"
            decided = fold.approvals.get(approval.event_seq)
            _compare(
                report,
                "approvals",
                key_text,
                approval_values(approval, run.run_id),
                approval_said(decided),
                approval.event_seq,
                None if decided is None else decided.seq,
            )
    for (run_id, number), event in fold.versions.items():
        if (run_id, number) not in versions_seen and run_id in runs:
            report.problem("plan_versions", f"{run_id} v{number}", f"missing; event #{event.seq}")
    for seq, event in fold.approvals.items():
        if seq not in approvals_seen:
            report.problem(
                "approvals", f"{event.body.get('run_id')} {event.action}", f"missing; event #{seq}"
            )


def _requests(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    records = {r.request_id: r for r in uow.repairs.list()}
    for request_id, event in fold.requests.items():
        if request_id not in records:
            report.problem("repair_requests", request_id, f"missing; event #{event.seq}")
    for record in records.values():
        newest = fold.requests.get(record.request_id)
        said = request_said(uow.audit_log.event(record.event_seq), record.request_id)
        _compare(
            report,
            "repair_requests",
            record.request_id,
            request_values(record),
            None if said is None else {k: v for k, v in said.items() if k != "request_id"},
            record.event_seq,
            None if newest is None else newest.seq,
        )
