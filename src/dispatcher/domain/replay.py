"""Replaying decisions: was every allowed decision in the trail one the gates would allow?

Binding rows to events (trail.py) proves that the state is what the events say. It cannot tell
whether an event itself was a legitimate decision: an insider who can write the database can
append a correctly hashed "allowed" lock at the tip (events carry no secret), naming the
publisher as locker, a role that may not lock, a one-letter reason. This module replays the
chains a site depends on in order and judges each allowed decision with the gates' own named
checks (gates.py) against the state the trail implied at that moment: the approver registered,
active and holding the role; the role allowed by the settings of the time; the reason long
enough; the four-eyes rule; the kill switch; the plan version current, published before its
lock, its evidence hash the one sealed and published; the request open. Every decision that
would have been refused is reported, by chain and seq.

The moment of a site event in the other chains is the `seen` tips it records (the registry's
and the platform's, read in its own transaction); an older event without them is placed by
time, registry and platform changes first on equal times. A `seen` that hides an earlier change
(a registry event dated before the decision but not counted) is itself reported: a forged
decision cannot choose an older registry than the one it was made under.

What this cannot catch: a forged decision that obeys every rule (the real ops lead's lock,
with a good reason, at a plausible moment). That needs a secret the insider lacks: a signed
checkpoint (`audit checkpoint`), or on PostgreSQL events written by the database itself.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from dispatcher.domain.events import parse_timestamp
from dispatcher.domain.gates import (
    APPLY_CHECKS,
    LOCK_CHECKS,
    PUBLISH_CHECKS,
    REJECT_CHECKS,
    STALE_PROPOSAL,
    WHO,
    ApplyFacts,
    ApprovalInput,
    CheckResult,
    DecisionFacts,
    RejectFacts,
    evaluate,
    first_failure,
    login_problem,
)
from dispatcher.domain.ids import SYSTEM, id_key
from dispatcher.domain.model import User
from dispatcher.domain.text import reason_problem

ADMIN = "platform_admin"
ADMIN_SITE_ACTIONS = ("site.update", "kill_switch.activate", "kill_switch.deactivate", "sites.view")
USER_ACTIONS = ("user.add", "user.disable", "user.enable", "user.update")
# state and seal: proven by the fold itself; absent drivers: the events hold no plans to judge
NOT_JUDGED = ("state_matches_trail", "evidence_matches_seal", "no_absent_driver_assigned")
OPEN = ("PENDING", "PROPOSED")


class Event:
    """One event's hashed body, read by name."""

    __slots__ = ("body", "seq")

    def __init__(self, seq: int, body: Mapping[str, Any]) -> None:
        self.seq = seq
        self.body = body

    def get(self, name: str) -> Any:
        return self.body.get(name)

    @property
    def action(self) -> str:
        return str(self.body.get("action", ""))

    @property
    def allowed(self) -> bool:
        return self.body.get("outcome") == "allowed"

    @property
    def detail(self) -> Mapping[str, Any]:
        detail = self.body.get("detail")
        return detail if isinstance(detail, Mapping) else {}

    @property
    def at(self) -> str:
        return str(self.body.get("occurred_at", ""))


@dataclass(frozen=True)
class Misjudged:
    chain: str  # "site", "registry" or "platform"
    seq: int
    action: str
    problem: str

    @property
    def line(self) -> str:
        return f"{self.action} allowed although {self.problem}" if self.action else self.problem


class History:
    """A chain's facts by seq, to be read as they stood after any event (bisect)."""

    def __init__(self) -> None:
        self._seqs: dict[str, list[int]] = {}
        self._values: dict[str, list[Any]] = {}

    def set(self, key: str, seq: int, value: Any) -> None:
        self._seqs.setdefault(key, []).append(seq)
        self._values.setdefault(key, []).append(value)

    def at(self, key: str, seq: int) -> Any:
        """The value of `key` after the events up to and including `seq`."""
        seqs = self._seqs.get(key)
        if not seqs:
            return None
        index = bisect.bisect_right(seqs, seq) - 1
        return None if index < 0 else self._values[key][index]


def _user(detail: Mapping[str, Any]) -> User:
    roles, login = detail.get("roles"), detail.get("login")
    return User(
        str(detail.get("user", "")),
        str(detail.get("name", "")),
        tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        bool(detail.get("active", True)),
        login if isinstance(login, str) else None,
    )


@dataclass
class _Registry:
    """The tenant's user registry through time, and the judgement of its own events."""

    users: History = field(default_factory=History)
    times: list[str] = field(default_factory=list)  # occurred_at, by seq - 1

    def user(self, user_id: str | None, seq: int) -> User | None:
        value = self.users.at(str(user_id or "").strip().lower(), seq)
        return value if isinstance(value, User) else None

    def build(self, events: Sequence[Event]) -> None:
        for event in events:
            self.times.append(event.at)
            if not event.allowed:
                continue
            detail = event.detail
            if event.action == "state.adopt" and detail.get("table") == "users":
                values = detail.get("values")
                if isinstance(values, Mapping):
                    self.users.set(str(detail.get("key")), event.seq, _user(values))
            elif event.action in USER_ACTIONS:
                user = _user(detail)
                self.users.set(user.user_id.lower(), event.seq, user)

    def judge(self, events: Sequence[Event], minimum: Any) -> list[Misjudged]:
        """Every registry change made by someone who was not an admin then (the tenant's very
        first user, a platform_admin, excepted), or without a real reason."""
        problems = []
        anyone = False
        for event in events:
            if not event.allowed:
                continue
            if event.action == "state.adopt" and event.detail.get("table") == "users":
                anyone = True
                continue
            if event.action not in USER_ACTIONS:
                continue
            problem = None
            if event.action == "user.add" and id_key(_user(event.detail).user_id) == SYSTEM:
                problem = f"user id {SYSTEM} is reserved for the tool's own events"
            elif event.action == "user.add" and not anyone:
                if ADMIN not in _user(event.detail).roles:
                    problem = "the first user of a tenant must be a platform_admin"
            else:
                actor = self.user(event.get("actor_id"), event.seq - 1)
                problem = admin_problem(event, actor, minimum(event))
            anyone = True
            if problem:
                problems.append(Misjudged("registry", event.seq, event.action, problem))
        return problems


def admin_problem(event: Event, actor: User | None, minimum: int) -> str | None:
    """Why an administrative event (registry, settings, kill switch, all-sites view) could not
    have been allowed: only a registered, active platform_admin acts, with a real reason."""
    if actor is None or not actor.holds(ADMIN):
        return f"{event.get('actor_id') or '(nobody)'} was not a registered active platform_admin"
    return reason_problem(event.get("reason"), minimum)


@dataclass
class _Platform:
    """The global kill switch through time."""

    active: History = field(default_factory=History)
    times: list[str] = field(default_factory=list)

    operator: str | None = None  # the tenant named by the database's creation

    def build(self, events: Sequence[Event]) -> None:
        for event in events:
            self.times.append(event.at)
            if event.seq == 1 and event.action == "database.create":
                operator = event.detail.get("operator")
                self.operator = operator if isinstance(operator, str) else None
            if not event.allowed:
                continue
            if event.action in ("kill_switch.activate", "kill_switch.deactivate"):
                if event.detail.get("scope") == "global":  # any other is named by the judgement
                    self.active.set("global", event.seq, event.action == "kill_switch.activate")
            elif (
                event.action == "state.adopt" and event.detail.get("table") == "kill_switch_history"
            ):
                values = event.detail.get("values")
                if isinstance(values, Mapping):
                    self.active.set("global", event.seq, bool(values.get("active")))

    def on(self, seq: int) -> bool:
        return bool(self.active.at("global", seq))


@dataclass
class _Version:
    evidence_hash: str | None
    status: str
    published_by: str | None = None
    published_hash: str | None = None
    proposal: Mapping[str, Any] | None = None


@dataclass
class _Run:
    week: str
    current: int
    versions: dict[int, _Version] = field(default_factory=dict)
    locks: set[int] = field(default_factory=set)  # the versions locked (amendments add more)

    @property
    def locked(self) -> bool:
        return bool(self.locks)

    def locked_at_or_after(self, version: int) -> bool:
        return bool(self.locks) and max(self.locks) >= version


@dataclass
class _Request:
    run_id: str
    status: str
    proposal_version: int | None = None
    proposal_hash: str | None = None
    uncovered: int = 0
    amend: bool = False  # requested with --amend: a repair of the locked plan


class Replay:
    """The site's chain replayed against its tenant's registry and the platform's chain."""

    def __init__(
        self,
        registry: Iterable[Mapping[str, Any] | Event],
        platform: Iterable[Mapping[str, Any] | Event],
        *,
        tenant: str,
        site: str,
        tolerance: timedelta = timedelta(0),
        others: Mapping[str, Iterable[Mapping[str, Any] | Event] | None] | None = None,
    ) -> None:
        """`others`: the registry chains of the other tenants that platform events were made
        from (None for one this login may not read: those events are counted, not judged)."""
        self.tenant, self.site = tenant, site
        self.tolerance = tolerance
        self.registry_events = [_event(e) for e in registry]
        self.platform_events = [_event(e) for e in platform]
        self.registry = _Registry()
        self.platform = _Platform()
        self.problems: list[Misjudged] = []
        self.settings: Mapping[str, Any] = {}
        self.lowest_minimum: int | None = None
        self.minimums = History()
        self.site_kill = False
        self.runs: dict[str, _Run] = {}
        self.requests: dict[str, _Request] = {}
        self._seen: dict[str, int] = {"registry": 0, "platform": 0}
        self._seen_recorded = False
        # A site chain that does not open with site.create began under an older release that
        # did not bind its state: its events up to the upgrade's adoption are not judged (the
        # adoption vouches for the state as the upgrade found it; docs/security.md).
        self._legacy: bool | None = None
        self.judged = 0  # decisions judged (allowed events of a judged action)
        self.elsewhere = 0  # platform decisions of tenants whose registry this login cannot read
        self.others: dict[str, _Registry] = {}
        self.unreadable: set[str] = set()
        for name, events in (others or {}).items():
            if events is None:
                self.unreadable.add(name)
                continue
            other = _Registry()
            other.build([_event(e) for e in events])
            if other.times:
                self.others[name] = other

    # --- the other chains ----------------------------------------------------------------

    def _registry_minimum(self, event: Event) -> int:
        """The reason length the acting site required: this site's at the moment the event
        saw, else the lowest any setting of this site ever allowed (another site's settings
        are not this site's to read)."""
        seen = event.detail.get("seen")
        place = seen.get("site") if isinstance(seen, Mapping) else None
        if isinstance(place, list) and len(place) == 3 and place[:2] == [self.tenant, self.site]:
            found = self.minimums.at("min", _number(place[2]))
            if isinstance(found, int):
                return found
        return self.lowest_minimum or 1

    def _judge_platform(self) -> None:
        """Every allowed administrative event of the platform chain, judged with the registry
        of the tenant it was made from (`seen.site`; this tenant's when it names none)."""
        last_seen: dict[str, int] = {}
        for event in self.platform_events:
            if not event.allowed or event.action not in ADMIN_SITE_ACTIONS:
                continue
            self.judged += 1
            seen = event.detail.get("seen")
            place = seen.get("site") if isinstance(seen, Mapping) else None
            tenant = str(place[0]) if isinstance(place, list) and len(place) == 3 else self.tenant
            problem = None
            if event.action.startswith("kill_switch.") and event.detail.get("scope") != "global":
                problem = "a kill-switch event of the platform's chain is for the global switch"
            operator = self.platform.operator
            if problem is None and operator is not None and tenant != operator:
                problem = f"only the platform's operator ({operator}) acts platform-wide"
            registry = self.registry if tenant == self.tenant else self.others.get(tenant)
            if registry is None:
                if tenant in self.unreadable:
                    self.judged -= 1
                    self.elsewhere += 1  # that tenant's registry is not this login's to read
                    continue
                problem = problem or f"it was made from tenant {tenant}, which has no user registry"
            else:
                registry_seq = _seen_seq(seen, "registry")
                if registry_seq is None:
                    registry_seq = self._before(registry.times, event.at)
                else:
                    problem = problem or self._tip_problem(
                        event, f"{tenant} registry", registry_seq, registry.times, last_seen
                    )
                actor = registry.user(event.get("actor_id"), registry_seq)
                minimum = self._registry_minimum(event) if tenant == self.tenant else 1
                problem = problem or admin_problem(event, actor, minimum)
            if problem:
                self.problems.append(Misjudged("platform", event.seq, event.action, problem))

    def _tip_problem(
        self, event: Event, name: str, seq: int, times: Sequence[str], last: dict[str, int]
    ) -> str | None:
        """Why the tip of another chain that `event` records cannot be the one it read: out of
        order, past the chain's end, or hiding an event of that chain dated before it."""
        problem = None
        if seq < last.get(name, 0) or seq < 0 or seq > len(times):
            problem = f"the {name} tip it records (#{seq}) is not in order"
        elif seq < len(times) and self._earlier(times[seq], event.at):
            problem = f"it ignores {name} event #{seq + 1}, which came before it"
        last[name] = max(last.get(name, 0), min(max(seq, 0), len(times)))
        return problem

    def _before(self, times: Sequence[str], at: str) -> int:
        """The seq of the last event of another chain dated no later than `at`."""
        return bisect.bisect_right(list(times), at)

    def _moment(self, event: Event) -> tuple[int, int]:
        """(registry seq, platform seq) this site event was judged on."""
        seen = event.detail.get("seen")
        registry, platform = _seen_seq(seen, "registry"), _seen_seq(seen, "platform")
        if registry is None or platform is None:
            if self._seen_recorded and event.allowed:
                self._wrong(event, "it does not record the chains it was judged on")
            return (
                self._before(self.registry.times, event.at),
                self._before(self.platform.times, event.at),
            )
        self._seen_recorded = True
        for name, seq, times in (
            ("registry", registry, self.registry.times),
            ("platform", platform, self.platform.times),
        ):
            problem = self._tip_problem(event, name, seq, times, self._seen)
            if problem:
                self._wrong(event, problem)
        return registry, platform

    def _earlier(self, other: str, at: str) -> bool:
        first, then = _moment_of(other), _moment_of(at)
        if first is None or then is None:
            return False  # `audit verify` names a time that is not one
        return bool(first + self.tolerance < then)

    # --- the site's chain ----------------------------------------------------------------

    def run(self, site_events: Iterable[Mapping[str, Any] | Event]) -> list[Misjudged]:
        """Replay the site's chain (streamed) against the registry's and the platform's
        histories, then judge their own events; every decision that should have been refused."""
        self.registry.build(self.registry_events)
        self.platform.build(self.platform_events)
        for event in site_events:
            self._site_event(_event(event))
        if self._legacy:
            self.problems.append(
                Misjudged(
                    "site",
                    1,
                    "",
                    "the chain does not open with site.create and no upgrade adopted its state, so "
                    "none of its decisions can be judged",
                )
            )
        self.problems.extend(self.registry.judge(self.registry_events, self._registry_minimum))
        self._judge_platform()
        return sorted(self.problems, key=lambda p: (p.chain, p.seq))

    def _site_event(self, event: Event) -> None:
        action, detail = event.action, event.detail
        if self._legacy is None:
            self._legacy = action != "site.create"
        if self._legacy and action == "state.adopt":
            self._legacy = False
        if self._legacy:
            if "seen" in detail:
                self._wrong(event, "it was written by this release before its chain's adoption")
            self._remember(event)
            return
        if not event.allowed:
            if "seen" in detail:
                self._moment(event)  # refusals too: their tips must be in order
            return
        if action in ("site.create", "site.update"):
            if action == "site.update":
                registry_seq = self._moment(event)[0]
                self._judge_admin(event, registry_seq)
                self._judge_login(event, registry_seq)
            settings = detail.get("settings")
            if isinstance(settings, Mapping):
                self._set_settings(event.seq, settings)
            return
        if action == "state.adopt":
            self._adopt(event)
            return
        registry_seq, platform_seq = self._moment(event)
        self._judge_login(event, registry_seq)
        if action not in ("run.import", "run.solve", "repair.propose"):
            self.judged += 1
        if action in ("kill_switch.activate", "kill_switch.deactivate"):
            self._judge_admin(event, registry_seq)
            if detail.get("scope") != "site":
                self._wrong(event, "a kill-switch event of a site's chain is for the site's switch")
            else:
                self.site_kill = action == "kill_switch.activate"
        elif action == "sites.view":
            operator = self.platform.operator
            if operator is not None and operator != self.tenant:
                self._wrong(event, f"only the platform's operator ({operator}) views all sites")
            else:
                self._judge_admin(event, registry_seq)
        elif action in ("run.import", "run.solve"):
            self._new_run(event)
        elif action in ("publish", "lock"):
            self._judge_decision(event, registry_seq, platform_seq)
        elif action == "export":
            self._judge_export(event, registry_seq, platform_seq)
        elif action == "repair.request":
            self._judge_request(event, registry_seq)
        elif action == "repair.propose":
            self._propose(event)
        elif action == "repair.apply":
            self._judge_apply(event, registry_seq)
        elif action == "repair.reject":
            self._judge_reject(event, registry_seq)

    def _new_run(self, event: Event) -> None:
        run = _Run(str(event.detail.get("week", "")), 1)
        run.versions[1] = _Version(event.get("evidence_hash"), str(event.detail.get("status", "")))
        self.runs[str(event.get("run_id"))] = run

    def _remember(self, event: Event) -> None:
        """An older release's event: the state it made, unjudged."""
        if not event.allowed:
            return
        action, detail = event.action, event.detail
        run = self.runs.get(str(event.get("run_id")))
        number = _number(event.get("plan_version"))
        if action in ("run.import", "run.solve"):
            self._new_run(event)
        elif action == "publish" and run is not None and number in run.versions:
            run.versions[number].published_by = str(event.get("actor_id") or "")
            run.versions[number].published_hash = event.get("evidence_hash")
        elif action == "lock" and run is not None:
            run.locks.add(number)
        elif action == "repair.apply" and run is not None:
            run.current = max(run.current, number)
            run.versions[number] = _Version(
                event.get("evidence_hash"), str(detail.get("status", ""))
            )
        elif action == "repair.request":
            self.requests[str(detail.get("request_id"))] = _Request(
                str(event.get("run_id")), "PENDING"
            )
        elif action in ("repair.propose", "repair.reject"):
            for request_id in _request_ids(event):
                if request_id in self.requests:
                    self.requests[request_id].status = (
                        "PROPOSED" if action == "repair.propose" else "REJECTED"
                    )
        elif action == "site.update" and isinstance(detail.get("settings"), Mapping):
            self._set_settings(event.seq, detail["settings"])
        elif action in ("kill_switch.activate", "kill_switch.deactivate"):
            self.site_kill = action == "kill_switch.activate"

    def _set_settings(self, seq: int, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        minimum = _number(settings.get("min_reason_length", 10), default=10)
        self.minimums.set("min", seq, minimum)
        self.lowest_minimum = min(self.lowest_minimum or minimum, minimum)

    def _minimum(self) -> int:
        return _number(self.settings.get("min_reason_length", 10), default=10)

    def _roles(self, name: str) -> tuple[str, ...]:
        roles = self.settings.get(name)
        return tuple(str(r) for r in roles) if isinstance(roles, list) else ()

    def _adopt(self, event: Event) -> None:
        detail = event.detail
        values = detail.get("values")
        if not isinstance(values, Mapping):
            return
        table = detail.get("table")
        if table == "site_settings":
            self._set_settings(event.seq, values)
        elif table == "kill_switch_history":
            self.site_kill = bool(values.get("active"))
        elif table == "repair_requests":
            request = self.requests.get(str(detail.get("key")))
            if request is not None:
                request.status = str(values.get("status", request.status))
                request.proposal_version = values.get("base_version")
                request.proposal_hash = values.get("proposal_hash")

    def _wrong(self, event: Event, problem: str) -> None:
        self.problems.append(Misjudged("site", event.seq, event.action, problem))

    def _judge_admin(self, event: Event, registry_seq: int | None = None) -> None:
        if registry_seq is None:
            registry_seq = self._moment(event)[0]
        actor = self.registry.user(event.get("actor_id"), registry_seq)
        problem = admin_problem(event, actor, self._minimum())
        if problem:
            self._wrong(event, problem)

    def _judge_login(self, event: Event, registry_seq: int) -> None:
        """With approvals_require_login on at the time, a registered user decided only from
        the login linked to them then (the login the event records)."""
        actor = str(event.get("actor_id") or "").strip()
        if not actor or not self.settings.get("approvals_require_login"):
            return
        user = self.registry.user(actor, registry_seq)
        if user is None:
            return  # who was not registered is judged by the decision's own checks
        login = event.detail.get("session_login")
        who = WHO.get(event.action, "User")
        problem = login_problem(True, user, actor, login if isinstance(login, str) else None, who)
        if problem:
            self._wrong(event, problem)

    def _failure(self, results: list[CheckResult]) -> str | None:
        failed = first_failure([r for r in results if r.name not in NOT_JUDGED])
        return None if failed is None else failed.message

    def _judge_decision(self, event: Event, registry_seq: int, platform_seq: int) -> None:
        action = event.action
        run = self.runs.get(str(event.get("run_id")))
        number = _number(event.get("plan_version"))
        if run is None or number not in run.versions:
            self._wrong(event, f"{event.get('run_id')} v{number} does not exist in the trail")
            return
        version = run.versions[number]
        if number != run.current:
            self._wrong(event, f"v{number} is not the current version (v{run.current})")
        detail = event.detail
        approval = ApprovalInput(
            event.get("actor_id"), event.get("actor_role"), event.get("reason"),
            detail.get("override_reason"),
        )  # fmt: skip
        publish = action == "publish"
        open_requests = tuple(
            request_id
            for request_id, request in sorted(self.requests.items())
            if request.status in OPEN and self.runs.get(request.run_id, run).week == run.week
        )
        facts = DecisionFacts(
            action=action,
            approval=approval,
            approver=self.registry.user(event.get("actor_id"), registry_seq),
            trail_problem=None,
            kill_switch_active=self.site_kill or self.platform.on(platform_seq),
            shadow_only=bool(self.settings.get("shadow_only", False)),
            action_enabled=bool(
                self.settings.get("publish_enabled" if publish else "lock_enabled", True)
            ),
            allowed_roles=self._roles("publish_roles" if publish else "lock_roles"),
            min_reason_length=self._minimum(),
            lock_requires_other_person=bool(self.settings.get("lock_requires_other_person", True)),
            run_id=str(event.get("run_id")),
            week=run.week,
            run_locked=run.locked_at_or_after(number),
            version=number,
            version_published=version.published_by is not None,
            publisher_id=version.published_by,
            evidence_ok=True,
            sealed_hash=str(version.evidence_hash),
            rebuilt_hash=str(version.evidence_hash),
            published_evidence_hash=version.published_hash,
            status=version.status,
            drift_level="OK",  # a BLOCK drift makes the status BLOCKED, which is judged
            open_repairs=open_requests,
        )
        problem = self._failure(evaluate(PUBLISH_CHECKS if publish else LOCK_CHECKS, facts))
        if problem is None and event.get("evidence_hash") != version.evidence_hash:
            problem = "its evidence hash is not the version's sealed one"
        if problem:
            self._wrong(event, problem)
        if publish:
            version.published_by = str(event.get("actor_id") or "")
            version.published_hash = event.get("evidence_hash")
        else:
            run.locks.add(number)

    def _judge_export(self, event: Event, registry_seq: int, platform_seq: int) -> None:
        run = self.runs.get(str(event.get("run_id")))
        problem = None
        if self.site_kill or self.platform.on(platform_seq):
            problem = "Kill switch is active"
        elif run is None or not run.locked:
            problem = f"Run {event.get('run_id')} is not locked"
        else:
            number = _number(event.get("plan_version"))
            version = run.versions.get(number)
            if (
                version is None
                or number != max(run.locks)
                or event.get("evidence_hash") != version.evidence_hash
            ):
                problem = "it names a version or evidence hash the lock did not seal"
        actor = event.get("actor_id")
        if problem is None and actor is not None:
            exporter = self.registry.user(actor, registry_seq)
            if exporter is None or not exporter.active:
                problem = f"Exporter {actor} is not a registered active user"
        if problem:
            self._wrong(event, problem)

    def _judge_request(self, event: Event, registry_seq: int) -> None:
        run = self.runs.get(str(event.get("run_id")))
        requester = self.registry.user(event.get("actor_id"), registry_seq)
        if run is None:
            self._wrong(event, f"run {event.get('run_id')} does not exist in the trail")
            return
        scope = event.detail.get("scope_document")
        amend = isinstance(scope, Mapping) and scope.get("amend") is True
        if run.locked and not amend:
            self._wrong(event, f"Run {event.get('run_id')} is locked; repairs are disabled")
        elif amend and not run.locked:
            self._wrong(event, f"an amendment requested for {event.get('run_id')}, not locked")
        elif requester is None or not requester.active:
            self._wrong(event, f"Requester {event.get('actor_id')} is not a registered active user")
        request_id = str(event.detail.get("request_id"))
        self.requests[request_id] = _Request(str(event.get("run_id")), "PENDING", amend=amend)

    def _propose(self, event: Event) -> None:
        for request_id in _request_ids(event):
            request = self.requests.get(request_id)
            if request is None or request.status not in OPEN:
                self._wrong(event, f"repair request {request_id} is not open")
                continue
            request.status = "PROPOSED"
            request.proposal_version = event.get("plan_version")
            request.proposal_hash = event.detail.get("proposal_hash")
            uncovered = event.detail.get("uncovered")
            request.uncovered = len(uncovered) if isinstance(uncovered, list) else 0

    def _judge_apply(self, event: Event, registry_seq: int) -> None:
        """apply-repair's own named checks (APPLY_CHECKS), with the facts as the trail stood;
        then what only a replay can see: the version sequence and the proposal applied."""
        run = self.runs.get(str(event.get("run_id")))
        detail = event.detail
        new = _number(event.get("plan_version"))
        covered = [(r, self.requests.get(r)) for r in _request_ids(event)]
        current = run.current if run else None
        stale = None
        for request_id, request in covered:
            if stale is None and request is not None and request.status == "PROPOSED":
                if request.proposal_version != current:
                    stale = STALE_PROPOSAL
                elif "proposal_hash" in detail and detail["proposal_hash"] != request.proposal_hash:
                    stale = f"it applies another proposal than the one proposed for {request_id}"
        first = covered[0][1] if covered else None
        unproposed = next((r for r, q in covered if q is None or q.status != "PROPOSED"), None)
        facts = ApplyFacts(
            approval=ApprovalInput(
                event.get("actor_id"), event.get("actor_role"), event.get("reason")
            ),
            approver=self.registry.user(event.get("actor_id"), registry_seq),
            allowed_roles=self._roles("repair_roles"),
            min_reason_length=self._minimum(),
            request_id=covered[0][0] if covered else "(none)",
            request_status="missing" if first is None else first.status,
            request_open=first is not None and first.status in OPEN,
            run_id=str(event.get("run_id")),
            run_locked=run is not None and run.locked,
            amendment=detail.get("origin") == "amendment"
            and bool(covered)
            and all(q is not None and q.amend for _, q in covered),
            has_proposal=unproposed is None,
            stale=stale,
            uncovered=max((q.uncovered for _, q in covered if q is not None), default=0),
        )
        problem = self._failure(evaluate(APPLY_CHECKS, facts))
        if problem is None and run is None:
            problem = f"run {event.get('run_id')} does not exist in the trail"
        elif problem is None and run is not None:
            if detail.get("origin") == "amendment" and not run.locked:
                problem = f"v{new} is an amendment of {event.get('run_id')}, which is not locked"
            elif new != run.current + 1 or detail.get("parent") != run.current:
                problem = f"v{new} does not follow the current version v{run.current}"
        if problem is None and unproposed is not None:
            problem = f"repair request {unproposed} had no open proposal"
        for _, request in covered:
            if request is not None:
                request.status = "APPLIED"
        if problem:
            self._wrong(event, problem)
        if run is not None:
            run.current = max(run.current, new)
            run.versions[new] = _Version(event.get("evidence_hash"), str(detail.get("status", "")))

    def _judge_reject(self, event: Event, registry_seq: int) -> None:
        facts = RejectFacts(
            self.registry.user(event.get("actor_id"), registry_seq),
            self._roles("repair_roles"),
            event.get("reason"),
            self._minimum(),
        )
        problem = self._failure(evaluate(REJECT_CHECKS, facts))
        for request_id in _request_ids(event):
            request = self.requests.get(request_id)
            if problem is None and (request is None or request.status not in OPEN):
                problem = f"repair request {request_id} was not open"
            if request is not None:
                request.status = "REJECTED"
        if problem:
            self._wrong(event, problem)


def _event(raw: Mapping[str, Any] | Event) -> Event:
    if isinstance(raw, Event):
        return raw
    seq = raw.get("seq")
    body = raw.get("body", raw)
    return Event(_number(seq if seq is not None else body.get("seq", 0)), body)


def made_from(platform: Iterable[Event]) -> set[str]:
    """The tenants the platform chain's events were made from (`seen.site`)."""
    tenants = set()
    for event in platform:
        seen = event.detail.get("seen")
        place = seen.get("site") if isinstance(seen, Mapping) else None
        if isinstance(place, list) and len(place) == 3:
            tenants.add(str(place[0]))
    return tenants


def _number(value: Any, default: int = 0) -> int:
    """An integer the event holds, or `default` for anything else (a forged event may hold
    any JSON: the replay names what it finds, it never fails on it)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        return int(value)
    return default


def _moment_of(text: str) -> Any:
    try:
        return parse_timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None


def _seen_seq(seen: Any, name: str) -> int | None:
    if not isinstance(seen, Mapping):
        return None
    value = seen.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _request_ids(event: Event) -> list[str]:
    listed = event.detail.get("request_ids")
    ids = [str(i) for i in listed] if isinstance(listed, list) else []
    single = event.detail.get("request_id")
    if single is not None and str(single) not in ids:
        ids.insert(0, str(single))
    return ids
