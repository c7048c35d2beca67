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
from datetime import timedelta
from typing import Any

from dispatcher.db.guards import check as check_guards
from dispatcher.db.guards import expected_count as guard_count
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.events import ChainEvent
from dispatcher.domain.records import RepairRecord, RunRecord, VersionRecord
from dispatcher.domain.status import derive_status
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
    requested: dict[str, ChainEvent] = field(default_factory=dict)
    kill_switch: ChainEvent | None = None
    kill_changes: set[int] = field(default_factory=set)
    users: dict[str, ChainEvent] = field(default_factory=dict)
    database: ChainEvent | None = None
    first: ChainEvent | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)  # (seq, what is wrong)


ADOPTION_AGAIN = (
    "state adopted a second time: the upgrade to bound state adopts once, "
    "so this vouches for rows nothing authorized"
)
ADOPTION_LATE = (
    "state adopted in a chain that already ran under bound state: only the upgrade "
    "of an older database adopts, before any bound-state event"
)


class _Adoptions:
    """Where `state.adopt` may stand: in one block, appended by the upgrade to bound state,
    right after the events of the older release (the site chain) or at the very start (the
    tenant's and the platform's chains, which bound state introduced). Anywhere else it would
    let a downgrade and upgrade, or a forged event, vouch for any row."""

    def __init__(self, site_scope: bool) -> None:
        self.site_scope = site_scope
        self.blocks = 0
        self.in_block = False
        self.bound = False  # a bound-state event came before
        self.adopted: set[tuple[str, str]] = set()

    def see(self, event: ChainEvent, fold: _Fold) -> None:
        if event.action != ADOPT:
            self.in_block = False
            if not self.site_scope or event.action == "site.create":
                self.bound = True
            return
        row = (str(event.detail.get("table")), str(event.detail.get("key")))
        again = row in self.adopted  # a second upgrade right after the first
        self.adopted.add(row)
        if not self.in_block:
            self.blocks += 1
            self.in_block = True
            if self.blocks > 1:
                fold.problems.append((event.seq, ADOPTION_AGAIN))
            elif self.bound:
                fold.problems.append((event.seq, ADOPTION_LATE))
        elif again:
            fold.problems.append((event.seq, ADOPTION_AGAIN))


def _fold(events: Any, *, site_scope: bool) -> _Fold:
    fold = _Fold()
    adoptions = _Adoptions(site_scope)
    for event in events:
        if fold.first is None:
            fold.first = event
        adoptions.see(event, fold)
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
                if action == "repair.request":
                    fold.requested[request_id] = event
        elif action in KILL_SWITCH_ACTIONS:
            if not site_scope or detail.get("scope") == "site":
                fold.kill_switch = event
                fold.kill_changes.add(event.seq)
        elif action in USER_ACTIONS:
            fold.users[str(detail.get("user", "")).lower()] = event
        elif action == "database.create":
            if event.seq != 1 or fold.database is not None:
                fold.problems.append(
                    (event.seq, "a database is created once, as its platform chain's first event")
                )
            fold.database = event
        elif action == ADOPT:
            table, key = detail.get("table"), str(detail.get("key"))
            if table == "site_settings":
                fold.settings = event
            elif table == "kill_switch_history":  # the history before it is unbound
                fold.kill_switch = event
                fold.kill_changes = {event.seq}
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
        newest = "none" if fold_seq is None else f"#{fold_seq}"
        report.problem(
            table, key, f"names {_event(row_seq)}, the trail's newest for it is {newest}"
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
        report.count("guards", guard_count(uow.dialect))
        for line in check_guards(uow.connection):
            name, problem = line.split(": ", 1)
            report.problem("guards", name, problem)
        for name, fold in (("site", site), ("tenant", tenant), ("platform", platform)):
            for seq, problem in fold.problems:
                report.problem("audit_events", f"{name} #{seq}", problem)
        _settings(uow, report, site)
        _site_row(uow, report, site)
        for table, rows in uow.queries.structure():
            report.problem(table, f"{rows} row(s)", "parent missing or in another tenant/site")
        _users(uow, report, tenant)
        _kill_switch(uow, report, site, platform)
        _database(uow, report, platform, site.first)
        _runs(uow, report, site)
        _requests(uow, report, site)
        _decisions(uow, report)
    return report


# PostgreSQL events carry each client's clock (the database takes one within a minute of its
# own): a registry change and a decision from two machines may disagree by this much. Since
# f3c9d5a1b012 the database also checks the tips an event says it read, so the tolerance only
# matters for events appended before.
CLOCK_TOLERANCE = {"sqlite": timedelta(0), "postgresql": timedelta(minutes=2)}


UNREADABLE = "its body is not a JSON object this tool reads (malformed, or nested too deep)"


def _decisions(uow: UnitOfWork, report: StateReport) -> None:
    """Every allowed decision replayed with the gates' checks at its moment (domain/replay.py).
    A scope that is not a site (a tenant's registry, the platform) is replayed by its sites."""
    if "*" in (uow.tenant, uow.site):
        return
    from dispatcher.domain.replay import Event, Replay, made_from

    def events(log: Any, name: str) -> Any:
        for e in log.bodies():
            if not e.intact:
                report.problem("audit_events", f"{name} #{e.seq}", UNREADABLE)
            yield Event(e.seq, e.body)

    platform = list(events(uow.platform_log, "platform"))
    others: dict[str, list[Event] | None] = {}
    foreign = sorted(made_from(platform) - {uow.tenant})
    if foreign and uow.dialect == "postgresql" and uow.platform_login():
        uow.widen_to_all_sites()  # the platform login reads every tenant's registry
    for tenant in foreign:
        found = list(events(uow.registry_log(tenant), f"{tenant} registry"))
        # On PostgreSQL another tenant's registry is hidden from a depot's login.
        readable = found or uow.dialect == "sqlite" or uow.platform_login()
        others[tenant] = found if readable else None
    replay = Replay(
        list(events(uow.tenant_log, "registry")),
        platform,
        tenant=uow.tenant,
        site=uow.site,
        tolerance=CLOCK_TOLERANCE.get(uow.dialect, timedelta(minutes=2)),
        others=others,
    )
    judged = replay.run(events(uow.audit_log, "site"))
    report.count("decisions", replay.judged)
    if replay.elsewhere:
        report.count("decisions of other tenants (not readable here)", replay.elsewhere)
    for wrong in judged:
        report.problem("decisions", f"{wrong.chain} #{wrong.seq}", wrong.line)


def _switch_values(row: Any, target: str) -> dict[str, Any]:
    """What a kill-switch row says, as its event must say it."""
    return {
        "scope": row.scope,
        "target": target,
        "active": row.active,
        "actor_id": row.actor_id,
        "reason": row.reason,
    }


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


def _site_row(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    """The site exists exactly when its chain created it."""
    listed = (uow.tenant, uow.site) in uow.sites.all()
    report.count("sites")
    if listed and fold.settings is None:
        report.problem("sites", f"{uow.tenant}/{uow.site}", "no site.create event in its chain")
    if not listed and fold.settings is not None:
        report.problem("sites", f"{uow.tenant}/{uow.site}", f"missing; event #{fold.settings.seq}")


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
        _compare(
            report,
            "kill_switch_history",
            target,
            _switch_values(row, target),
            said,
            row.event_seq,
            None if expected is None else expected.seq,
        )
        rows = uow.kill_switch.rows(scope)
        bound = [r.event_seq for r in rows if r.event_seq is not None]
        for seq in sorted(fold.kill_changes - set(bound)):
            report.problem("kill_switch_history", target, f"no row for event #{seq}")
        if len(bound) != len(set(bound)):
            report.problem("kill_switch_history", target, "an event authorizes more than one row")
        for older in rows[1:]:  # the history, each row to its event
            if older.event_seq is None:
                continue  # recorded before bound state: history only, never read by a gate
            said = None
            if older.event_chain == log.chain:
                said = kill_switch_said(log.event(older.event_seq), target)
            history = _switch_values(older, target)
            report.count("kill_switch_history")
            wrong = differences(history, said)
            if wrong:
                report.problem(
                    "kill_switch_history",
                    f"{target} #{older.event_seq}",
                    f"differs from its event: {', '.join(wrong)}",
                )


def _database(
    uow: UnitOfWork, report: StateReport, fold: _Fold, site_first: ChainEvent | None
) -> None:
    for name in sorted(uow.database.names() - {"clock"}):
        report.problem("database_flags", name, "no such flag is ever set")
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
        return
    first = site_first
    created = fold.database.body.get("occurred_at", "")
    if first is not None and str(first.body.get("occurred_at", "")) < str(created):
        report.problem(
            "database_flags",
            "clock",
            f"simulated since {created}, but this site's chain began before ({first.seq})",
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
                    f"names {_event(version.event_seq)}, "
                    f"the trail's is {'none' if created is None else f'#{created.seq}'}",
                )
                continue
            if created.body.get("evidence_hash") != version.evidence_hash:
                report.problem(
                    "evidence_records", label, f"sealed hash differs from event #{created.seq}"
                )
            status = _summaries(uow, report, run, version, label)
            detail = created.body.get("detail")
            said = detail.get("status") if isinstance(detail, dict) else None
            if said is not None and said != status:
                report.problem(
                    "plan_versions",
                    label,
                    f"is {status} by its own audits, event #{created.seq} says {said}",
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


def _summaries(
    uow: UnitOfWork, report: StateReport, run: RunRecord, version: VersionRecord, label: str
) -> str:
    """What list-runs and status show without re-verifying: the summary columns stored with a
    version, its audits' pass flags and counts, the run's copy of its solver. Each must be what
    the sealed evidence (audits, KPIs, drift, solver) says."""
    stored = uow.runs.stored_summary(version.pk)
    repair_id = None if version.repair is None else version.repair.get("request_id")
    if version.repair_request_id != repair_id or version.origin != version.solver.get("origin"):
        report.problem("plan_versions", label, "origin or repair request differs from its evidence")
    audits = uow.runs.audit_results(version.pk)
    expected = derive_status(
        audits=audits,
        drift_level=version.drift.level,
        evidence_ok=True,
        solver_error=run.solver_error,
    )
    derived = {
        "status": expected.status,
        "status_reason": expected.reason,
        "audits_passed": sum(a.passed for a in audits),
        "coverage_bp": version.kpis.coverage_bp,
        "drivers_used": version.kpis.drivers_used,
        "drift_level": version.drift.level,
    }
    wrong = sorted(name for name, value in derived.items() if stored[name] != value)
    if wrong:
        report.problem(
            "plan_versions", label, f"summary differs from its evidence: {', '.join(wrong)}"
        )
    if uow.runs.audit_positions(version.pk) != list(range(1, len(audits) + 1)):
        report.problem("audit_results", label, "positions are not 1..7 in order")
    added = uow.runs.driver_versions(run)
    if any(not 1 <= number <= run.current_version for number in added):
        report.problem("drivers", run.run_id, "added in a version the run does not have")
    counts = uow.runs.stored_audit_counts(version.pk)
    bad = sorted(
        name
        for name, (passed, count, listed) in counts.items()
        if passed != (listed == 0) or count != listed
    )
    if bad:
        report.problem("audit_results", label, f"pass flag or count differs: {', '.join(bad)}")
    if version.version == 1:
        if run.origin != version.origin:
            report.problem("runs", run.run_id, "origin differs from its first version's")
        expanded = {
            i.instance_id: (
                i.tour.tour_id,
                i.n,
                i.tour.day,
                i.tour.start,
                i.tour.end,
                i.tour.depot,
                i.tour.skill,
                i.tour.notes,
            )
            for i in uow.runs.week_input(run, 1).instances()
        }
        if uow.runs.instance_rows(run) != expanded:
            report.problem("tour_instances", run.run_id, "rows differ from the tours they expand")
        solver = version.solver
        copies = {
            "solver_name": (run.solver_name, solver.get("name")),
            "solver_version": (run.solver_version, solver.get("version")),
            "solver_seed": (run.solver_seed, solver.get("seed")),
            "declared_output_hash": (run.declared_output_hash, solver.get("declared_output_hash")),
        }
        differing = sorted(name for name, (row, sealed) in copies.items() if row != sealed)
        if differing:
            report.problem(
                "runs", run.run_id, f"differs from its sealed solver: {', '.join(differing)}"
            )
    return expected.status


EMPTY_BY_STATUS = {
    "PENDING": ("proposal", "proposal_version", "resolved_by", "resolution_reason",
                "applied_version"),
    "PROPOSED": ("resolved_by", "resolution_reason", "applied_version"),
    "REJECTED": ("applied_version",),
    "APPLIED": (),
}  # fmt: skip


def _request_fields(
    report: StateReport, record: RepairRecord, requested: ChainEvent | None
) -> None:
    """What a request was created with (its repair.request event says it, whatever its status
    now), and nothing its status does not have yet."""
    said = request_said(requested, record.request_id)
    if said is None:
        report.problem("repair_requests", record.request_id, "no repair.request event")
        return
    created = {**request_values(record), "base_version": record.base_version}
    wrong = differences(created, {k: v for k, v in said.items() if k != "status"})
    filled = [
        name for name in EMPTY_BY_STATUS.get(record.status, ("status",))
        if getattr(record, name) is not None
    ]  # fmt: skip
    if wrong or filled:
        report.problem(
            "repair_requests", record.request_id,
            f"differs from its request: {', '.join(wrong + filled)}",
        )  # fmt: skip


def _requests(uow: UnitOfWork, report: StateReport, fold: _Fold) -> None:
    records = {r.request_id: r for r in uow.repairs.list()}
    registered = uow.repairs.registered_ids()
    for request_id in sorted(set(records) ^ registered):
        where = "register only" if request_id in registered else "not in the id register"
        report.problem("repair_request_ids", request_id, where)
    for request_id, event in fold.requests.items():
        if request_id not in records:
            report.problem("repair_requests", request_id, f"missing; event #{event.seq}")
    for record in records.values():
        _request_fields(report, record, fold.requested.get(record.request_id))
        newest = fold.requests.get(record.request_id)
        try:
            proposal = record.proposal
        except InvalidInput as malformed:
            report.problem("repair_requests", record.request_id, malformed.message)
            proposal = None
        if proposal is not None and (
            record.request_id not in proposal.covered_ids
            or proposal.base_version != record.proposal_version
        ):
            report.problem(
                "repair_requests", record.request_id, "proposal differs from its request"
            )
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


def _event(seq: int | None) -> str:
    """`event #7`, or `no event` (a row that names none)."""
    return "no event" if seq is None else f"event #{seq}"
