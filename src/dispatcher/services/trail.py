"""Bound state: every fact a gate reads is checked against the event that authorized it.

A state row names the seq of its event; the event must be intact where it stands (hash, columns,
the next event's link), must vouch for exactly the row's values, and no newer event may have
changed the fact since. Each check is a few index lookups, so every gate runs all it needs.
A failure raises StateMismatch, which decisions record as a refusal
(`Blocked: <fact> does not match the audit trail (event #n)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import ChainEvent, format_timestamp
from dispatcher.domain.hashing import digest
from dispatcher.domain.model import SiteConfig, User
from dispatcher.domain.records import Approval, RepairRecord, RunRecord, VersionRecord
from dispatcher.domain.repair import RepairScope
from dispatcher.domain.trail import (
    DECISION_ACTIONS,
    KILL_SWITCH_ACTIONS,
    REQUEST_ACTIONS,
    SETTINGS_ACTIONS,
    STATUS_OF,
    USER_ACTIONS,
    VERSION_ACTIONS,
    StateMismatch,
    approval_said,
    differences,
    kill_switch_said,
    request_ids,
    request_said,
    run_said,
    settings_said,
    user_said,
    version_said,
)
from dispatcher.domain.views import KillSwitchState

__all__ = [
    "StateMismatch",
    "bound_kill_switch",
    "bound_open_repairs",
    "bound_requests",
    "bound_run",
    "bound_settings",
    "bound_user",
    "settings_values",
]


def settings_values(config: SiteConfig) -> dict[str, Any]:
    """The settings as events hold them (and `site show` prints them)."""
    from dispatcher.services.site import config_as_dict

    return config_as_dict(config)


def bound_settings(uow: UnitOfWork) -> SiteConfig | None:
    """The site's stored settings, proven by their event; None for a site not created yet."""
    found = uow.sites.bound_config()
    newest = uow.audit_log.latest(SETTINGS_ACTIONS)
    if found is None:
        if newest is not None:  # the settings row is gone, the chain says it existed
            raise StateMismatch("Site settings", newest, plural=True)
        return None
    config, seq = found
    said = settings_said(uow.audit_log.event(seq), uow.site)
    if differences(settings_values(config), said) or (newest is not None and newest > (seq or 0)):
        raise StateMismatch(
            "Site settings", newest if newest and newest > (seq or 0) else seq, plural=True
        )
    return config


def user_values(user: User) -> dict[str, Any]:
    return {
        "user": user.user_id,
        "name": user.name,
        "roles": list(user.roles),
        "active": user.active,
        "login": user.login,
    }


def bound_user(uow: UnitOfWork, user_id: str) -> User | None:
    """The registered user with this id (any case), proven by the tenant chain; None if the
    registry has no such user (and the chain agrees)."""
    key = user_id.strip().lower()
    if not key:
        return None
    found = uow.users.bound(key)
    after = None if found is None else found[1]
    newer = [
        event
        for event in uow.tenant_log.allowed(USER_ACTIONS, after=after)
        if str(event.detail.get("user", "")).lower() == key
    ]
    if found is None:
        if newer:
            raise StateMismatch(f"User {user_id.strip()}", newer[-1].seq)
        return None
    user, seq = found
    said = user_said(uow.tenant_log.event(seq), key)
    if differences(user_values(user), said) or newer:
        raise StateMismatch(f"User {user.user_id}", newer[-1].seq if newer else seq)
    return user


def bound_kill_switch(uow: UnitOfWork) -> KillSwitchState:
    """The kill switch in effect for this site, each scope proven by its chain: the global
    switch by the platform's, the site's own by the site's."""
    effective = KillSwitchState(False, None, None, None, None)
    for scope, log in (("global", uow.platform_log), ("site", uow.audit_log)):
        target = "global" if scope == "global" else f"{uow.tenant}/{uow.site}"
        changes = [
            e
            for e in log.allowed(KILL_SWITCH_ACTIONS)
            if scope == "global" or e.detail.get("scope") == "site"
        ]
        newest = changes[-1].seq if changes else None
        row = uow.kill_switch.newest(scope)
        label = f"Kill switch ({'global' if scope == 'global' else target})"
        if row is None:
            if newest is not None:
                raise StateMismatch(label, newest)
            continue
        values = {
            "scope": row.scope,
            "target": target,
            "active": row.active,
            "actor_id": row.actor_id,
            "reason": row.reason,
        }
        said = None
        if row.event_chain == log.chain:
            said = kill_switch_said(log.event(row.event_seq), target)
        if differences(values, said) or (newest is not None and newest > (row.event_seq or 0)):
            raise StateMismatch(
                label, newest if newest and newest > (row.event_seq or 0) else row.event_seq
            )
        if row.active and not effective.active:
            effective = KillSwitchState(True, scope, row.actor_id, row.reason, row.changed_at)
    return effective


def bound_run(
    uow: UnitOfWork, run: RunRecord
) -> tuple[list[VersionRecord], list[Approval], dict[int, str | None]]:
    """A run's versions and approvals, each proven by its event, and no event missing; with
    the evidence hash each version's creating event holds (by version)."""
    label = f"Run {run.run_id}"
    said = run_said(uow.audit_log.event(run.event_seq))
    if differences({"run_id": run.run_id, "week": run.week}, said):
        raise StateMismatch(label, run.event_seq)
    created = {e.seq: e for e in uow.audit_log.allowed(VERSION_ACTIONS, run_id=run.run_id)}
    versions = uow.runs.versions(run)
    hashes: dict[int, str | None] = {}
    for version in versions:
        event = uow.audit_log.event(version.event_seq)
        vouched = version_said(event)
        row = {
            "run_id": run.run_id,
            "version": version.version,
            "evidence_hash": version.evidence_hash,
        }
        if differences(row, vouched) or version.event_seq not in created:
            raise StateMismatch(
                f"Plan version {version.version} of {run.run_id}", version.event_seq
            )
        hashes[version.version] = None if vouched is None else vouched["evidence_hash"]
    known = {v.event_seq for v in versions}
    missing = sorted(seq for seq in created if seq not in known)
    if missing:
        raise StateMismatch(f"The plan versions of {run.run_id}", missing[0], plural=True)
    decided = {e.seq for e in uow.audit_log.allowed(DECISION_ACTIONS, run_id=run.run_id)}
    approvals = uow.runs.approvals(run)
    for approval in approvals:
        row = approval_values(approval, run.run_id)
        if differences(row, approval_said(uow.audit_log.event(approval.event_seq))):
            raise StateMismatch(
                f"The {approval.action} of {run.run_id} v{approval.version}", approval.event_seq
            )
    unrecorded = sorted(decided - {a.event_seq for a in approvals})
    if unrecorded:
        raise StateMismatch(f"The approvals of {run.run_id}", unrecorded[0], plural=True)
    return versions, approvals, hashes


def approval_values(approval: Approval, run_id: str) -> dict[str, Any]:
    return {
        "action": approval.action,
        "run_id": run_id,
        "version": approval.version,
        "approver_id": approval.approver_id,
        "role": approval.role,
        "reason": approval.reason,
        "evidence_hash": approval.evidence_hash,
        "override_reason": approval.override_reason,
        "at": format_timestamp(approval.at),
    }


def request_values(record: RepairRecord) -> dict[str, Any]:
    """A request row in the shape its status event vouches for it."""
    values: dict[str, Any] = {
        "request_id": record.request_id,
        "status": record.status,
        "run_id": record.run_id,
        "base_version": record.base_version,
        "driver_id": record.driver_id,
        "driver_name": record.driver_name,
        "type": record.absence_type,
        "urgency": record.urgency,
        "requester": record.requester,
        "notes": record.notes,
        "scope": RepairScope.from_document(record.scope).describe(),
        "scope_document": dict(record.scope),
        "applied_version": record.applied_version,
        "resolved_by": record.resolved_by,
        "reason": record.resolution_reason,
    }
    if record.proposal_document is not None:
        values["base_version"] = record.proposal_version
        values["proposal_hash"] = digest(dict(record.proposal_document))
    return values


def bound_open_repairs(uow: UnitOfWork, week: str) -> list[RepairRecord]:
    """The open repair requests of a week, every request of the week's runs proven by the
    newest event that set its status (a request closed by hand, or removed, is caught)."""
    return [r for r in bound_requests(uow, week) if r.open]


def bound_requests(uow: UnitOfWork, week: str) -> list[RepairRecord]:
    """Every repair request of a week, each proven by the newest event that set its status."""
    records = {r.request_id: r for r in uow.repairs.list(week=week)}
    newest: dict[str, int] = {}
    made: dict[str, ChainEvent] = {}  # each request's own `repair.request` event
    for summary in uow.queries.list_runs(week=week, limit=10_000):
        for change in uow.audit_log.allowed(REQUEST_ACTIONS, run_id=summary.run_id):
            for request_id in request_ids(change):
                newest[request_id] = change.seq
                if change.action == "repair.request":
                    made.setdefault(request_id, change)
    for request_id, last in sorted(newest.items()):
        if request_id not in records:
            raise StateMismatch(f"Repair request {request_id}", last)
    for record in records.values():
        event = uow.audit_log.event(record.event_seq)
        said = request_said(event, record.request_id)
        chain_seq, seq = newest.get(record.request_id), record.event_seq
        stale = chain_seq is not None and (seq is None or chain_seq > seq)
        adopted_ok = event is not None and event.action == "state.adopt"
        if stale or (chain_seq is None and not adopted_ok) or _differs(record, said):
            raise StateMismatch(f"Repair request {record.request_id}", chain_seq if stale else seq)
        first = made.get(record.request_id)
        if first is not None and _identity_differs(record, request_said(first, record.request_id)):
            # the newest event (an apply, a reject) does not vouch for who was absent when:
            # the request's own event does, for as long as the request exists
            raise StateMismatch(f"Repair request {record.request_id}", first.seq)
    return list(records.values())


IDENTITY = ("run_id", "driver_id", "driver_name", "type", "urgency", "requester", "notes")


def _identity_differs(record: RepairRecord, said: Mapping[str, Any] | None) -> bool:
    """Does the row disagree with its `repair.request` event about what was requested?"""
    if said is None:
        return True
    values = request_values(record)
    names = [*IDENTITY, "scope", "scope_document"]
    return bool(differences(values, {k: said[k] for k in names if k in said}))


def _differs(record: RepairRecord, said: Mapping[str, Any] | None) -> bool:
    if said is None:
        return True
    values = request_values(record)
    return bool(differences(values, {k: v for k, v in said.items() if k != "request_id"})) or (
        said.get("status") != record.status
    )


__all__ += ["STATUS_OF", "approval_values", "request_values", "user_values"]
