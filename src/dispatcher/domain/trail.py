"""What an audit event vouches for: the values a state row must hold to be bound to it.

Every gate-relevant row names the seq of the event that authorized it (domain.md §7, bound
state). These functions read an event's hashed body and return the values it says the row
holds, in the same shape services build from the row, or None when the event cannot authorize
that row (another action, a refusal, a broken event). A `state.adopt` event, appended once by
the upgrade to bound state, vouches for the values it lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.domain.errors import DispatcherError
from dispatcher.domain.events import ChainEvent

SETTINGS_ACTIONS = ("site.create", "site.update")
LATER_SETTINGS = {"approvals_require_login": False}  # settings younger than bound state
USER_ACTIONS = ("user.add", "user.disable", "user.enable", "user.update")
KILL_SWITCH_ACTIONS = ("kill_switch.activate", "kill_switch.deactivate")
RUN_ACTIONS = ("run.import", "run.solve")
VERSION_ACTIONS = ("run.import", "run.solve", "repair.apply")
DECISION_ACTIONS = ("publish", "lock", "repair.apply")
REQUEST_ACTIONS = ("repair.request", "repair.propose", "repair.apply", "repair.reject")
ADOPT = "state.adopt"
STATUS_OF = {
    "repair.request": "PENDING",
    "repair.propose": "PROPOSED",
    "repair.apply": "APPLIED",
    "repair.reject": "REJECTED",
}

Values = Mapping[str, Any]


class StateMismatch(DispatcherError):
    """A state row does not say what the event it names (or a newer one) says."""

    def __init__(self, fact: str, seq: int | None, *, plural: bool = False) -> None:
        self.fact = fact
        self.seq = seq
        verb = "do" if plural else "does"
        where = "no event" if seq is None else f"event #{seq}"
        super().__init__(f"{fact} {verb} not match the audit trail ({where})")


@dataclass(frozen=True)
class Said:
    """What one event vouches for."""

    seq: int
    values: Values


def _usable(event: ChainEvent | None) -> ChainEvent | None:
    if event is None or not event.intact or event.body.get("outcome") != "allowed":
        return None
    return event


def adopted(event: ChainEvent | None, table: str, key: str) -> Values | None:
    """The values a `state.adopt` event lists for `table`/`key`."""
    event = _usable(event)
    if event is None or event.action != ADOPT:
        return None
    detail = event.detail
    values = detail.get("values")
    if detail.get("table") != table or str(detail.get("key")) != key:
        return None
    return values if isinstance(values, Mapping) else None


def settings_said(event: ChainEvent | None, site: str) -> Values | None:
    """The full settings a site.create or site.update event holds."""
    found = _usable(event)
    if found is not None and found.action in SETTINGS_ACTIONS:
        settings = found.detail.get("settings")
        said = settings if isinstance(settings, Mapping) else None
    else:
        said = adopted(event, "site_settings", site)
    # Settings added later: an event from before them authorized their first value.
    return None if said is None else {**LATER_SETTINGS, **said}


def user_said(event: ChainEvent | None, key: str) -> Values | None:
    """{user, name, roles, active} of a registry event about the user with this key."""
    found = _usable(event)
    if found is not None and found.action in USER_ACTIONS:
        detail = found.detail
        if str(detail.get("user", "")).lower() != key:
            return None
        return {name: detail.get(name) for name in ("user", "name", "roles", "active", "login")}
    said = adopted(event, "users", key)
    return None if said is None else {"login": None, **said}


def kill_switch_said(event: ChainEvent | None, target: str) -> Values | None:
    """{scope, target, active, actor_id, reason} of a kill-switch change."""
    found = _usable(event)
    if found is not None and found.action in KILL_SWITCH_ACTIONS:
        return {
            "scope": found.detail.get("scope"),
            "target": found.detail.get("target"),
            "active": found.action == "kill_switch.activate",
            "actor_id": found.body.get("actor_id"),
            "reason": found.body.get("reason"),
        }
    return adopted(event, "kill_switch_history", target)


def run_said(event: ChainEvent | None) -> Values | None:
    """{run_id, week} of the event that created a run."""
    found = _usable(event)
    if found is None or found.action not in RUN_ACTIONS:
        return None
    return {"run_id": found.body.get("run_id"), "week": found.detail.get("week")}


def version_said(event: ChainEvent | None) -> Values | None:
    """{run_id, version, evidence_hash} of the event that created a plan version."""
    found = _usable(event)
    if found is None or found.action not in VERSION_ACTIONS:
        return None
    body = found.body
    return {
        "run_id": body.get("run_id"),
        "version": body.get("plan_version"),
        "evidence_hash": body.get("evidence_hash"),
    }


def approval_said(event: ChainEvent | None) -> Values | None:
    """What a publish, lock or repair.apply event says of its approval."""
    found = _usable(event)
    if found is None or found.action not in DECISION_ACTIONS:
        return None
    body = found.body
    return {
        "action": found.action,
        "run_id": body.get("run_id"),
        "version": body.get("plan_version"),
        "approver_id": body.get("actor_id"),
        "role": body.get("actor_role"),
        "reason": body.get("reason"),
        "evidence_hash": body.get("evidence_hash"),
        "override_reason": found.detail.get("override_reason"),
        "at": body.get("occurred_at"),
    }


def request_ids(event: ChainEvent) -> tuple[str, ...]:
    """The repair requests an event is about (a joint repair names several)."""
    detail = event.detail
    listed = detail.get("request_ids")
    ids = [str(i) for i in listed] if isinstance(listed, list) else []
    single = detail.get("request_id")
    if single is not None and str(single) not in ids:
        ids.insert(0, str(single))
    return tuple(ids)


def request_said(event: ChainEvent | None, request_id: str) -> Values | None:
    """The status and values an event gives a repair request."""
    found = _usable(event)
    if found is None:
        return None
    if found.action == ADOPT:
        return adopted(found, "repair_requests", request_id)
    if found.action not in STATUS_OF or request_id not in request_ids(found):
        return None
    body, detail = found.body, found.detail
    said: dict[str, Any] = {"status": STATUS_OF[found.action], "run_id": body.get("run_id")}
    if found.action == "repair.request":
        said.update(
            base_version=body.get("plan_version"),
            driver_id=detail.get("driver_id"),
            type=detail.get("type"),
            urgency=detail.get("urgency"),
            requester=body.get("actor_id"),
            notes=body.get("reason"),
            scope=detail.get("scope"),
        )
        for name in ("driver_name", "scope_document"):  # not held by requests recorded
            if name in detail:  # before bound state
                said[name] = detail[name]
    elif found.action == "repair.propose":
        said.update(
            base_version=body.get("plan_version"), proposal_hash=detail.get("proposal_hash")
        )
    elif found.action == "repair.apply":
        said.update(
            applied_version=body.get("plan_version"),
            resolved_by=body.get("actor_id"),
            reason=body.get("reason"),
        )
        if "proposal_hash" in detail:  # applies recorded before bound state do not hold it
            said["proposal_hash"] = detail["proposal_hash"]
    else:
        said.update(resolved_by=body.get("actor_id"), reason=body.get("reason"))
    return said


def differences(row: Values, said: Values | None) -> list[str]:
    """The fields where a row and its event disagree (every field the event names)."""
    if said is None:
        return ["the event does not authorize this row"]
    return sorted(name for name, value in said.items() if row.get(name) != value)
