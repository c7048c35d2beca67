"""Named gate checks shared by `check`, `publish` and `lock` (domain.md §6), in the spec's order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dispatcher.domain.model import User
from dispatcher.domain.text import (
    escape_undecodable,
    given,
    is_encodable,
    not_utf8,
    reason_problem,
)

PUBLISH, LOCK = "publish", "lock"


@dataclass(frozen=True)
class ApprovalInput:
    """What the person typed: all optional to the CLI, so the gate answers for missing ones."""

    approver_id: str | None = None
    role: str | None = None
    reason: str | None = None
    override_reason: str | None = None

    @property
    def approver_key(self) -> str | None:
        """The approver id to look up: trimmed; None when blank or not text (not UTF-8)."""
        approver = _trimmed(self.approver_id)
        return approver if approver and is_encodable(approver) else None

    def trimmed(self) -> ApprovalInput:
        """The fields as an event records them: stripped, None where nothing was typed."""
        return ApprovalInput(
            given(self.approver_id), given(self.role), given(self.reason),
            given(self.override_reason),
        )  # fmt: skip

    def not_text(self) -> str | None:
        """The refusal for the first field holding bytes that were not UTF-8, or None."""
        fields = (
            ("Approver", self.approver_id),
            ("Role", self.role),
            ("Reason", self.reason),
            ("Override reason", self.override_reason),
        )
        return next((m for label, text in fields if (m := not_utf8(label, text))), None)


class ApprovalView(Protocol):
    """What the approval checks (gates 4-8) read; publish, lock and repair apply all have it."""

    @property
    def approval(self) -> ApprovalInput: ...
    @property
    def approver(self) -> User | None: ...
    @property
    def allowed_roles(self) -> tuple[str, ...]: ...
    @property
    def min_reason_length(self) -> int: ...
    @property
    def require_login(self) -> bool: ...
    @property
    def login(self) -> str | None: ...


@dataclass(frozen=True)
class ApprovalFacts:
    """Approval facts alone, for decisions that are not publish or lock (repair apply)."""

    approval: ApprovalInput
    approver: User | None
    allowed_roles: tuple[str, ...]
    min_reason_length: int
    require_login: bool = False
    login: str | None = None


@dataclass(frozen=True)
class DecisionFacts:
    """Everything a publish or lock decision depends on, read inside the write transaction."""

    action: str
    approval: ApprovalInput
    approver: User | None
    trail_problem: str | None  # the first fact found not to match the audit trail
    kill_switch_active: bool
    shadow_only: bool
    action_enabled: bool
    allowed_roles: tuple[str, ...]
    min_reason_length: int
    lock_requires_other_person: bool
    run_id: str
    week: str
    run_locked: bool
    version: int
    version_published: bool
    publisher_id: str | None
    evidence_ok: bool
    sealed_hash: str
    rebuilt_hash: str
    published_evidence_hash: str | None
    status: str
    drift_level: str
    open_repairs: tuple[str, ...]
    # the tours this version gives drivers on days the week's sick calls made them absent
    absent_assignments: tuple[str, ...] = ()
    require_login: bool = False  # the site's approvals_require_login
    login: str | None = None  # the login running the command (session_user, the OS account)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    message: str


Check = Callable[[DecisionFacts], CheckResult]
ApprovalCheck = Callable[[ApprovalView], CheckResult]
Facts = TypeVar("Facts")


def _trimmed(text: str | None) -> str:
    return (text or "").strip()


def state_matches_trail(f: DecisionFacts) -> CheckResult:
    """Every fact the other checks read is what the audit trail authorized (bound state)."""
    return CheckResult(
        "state_matches_trail", f.trail_problem is None, f.trail_problem or "State matches"
    )


def _shown(text: str | None) -> str:
    """Typed text as it may appear in a message (bytes that were not UTF-8 written out)."""
    return escape_undecodable(_trimmed(text))


def kill_switch_inactive(f: DecisionFacts) -> CheckResult:
    return CheckResult("kill_switch_inactive", not f.kill_switch_active, "Kill switch is active")


def site_not_shadow_only(f: DecisionFacts) -> CheckResult:
    return CheckResult("site_not_shadow_only", not f.shadow_only, "Site is in shadow-only mode")


def action_enabled(f: DecisionFacts) -> CheckResult:
    what = "Publish" if f.action == PUBLISH else "Lock"
    return CheckResult("action_enabled", f.action_enabled, f"{what} is not enabled for this site")


def approval_given(f: ApprovalView) -> CheckResult:
    """Approver, role and reason given, all as text: a field with bytes that were not UTF-8
    (a mis-encoded terminal) is refused here, before anything is judged on garbled input."""
    a = f.approval
    not_text = a.not_text()
    if not_text is not None:
        return CheckResult("approval_given", False, not_text)
    given = bool(_trimmed(a.approver_id) and _trimmed(a.role) and _trimmed(a.reason))
    return CheckResult("approval_given", given, "Approval required but not provided")


def role_allowed(f: ApprovalView) -> CheckResult:
    allowed = _trimmed(f.approval.role) in f.allowed_roles
    return CheckResult("role_allowed", allowed, "Approver role not in allowed roles")


# A role typed where a user id belongs (`--by platform_admin`): the refusal says what to give.
EXAMPLE_USER = {"dispatcher": "disp001", "ops_lead": "ops001", "platform_admin": "admin01"}


def role_hint(typed: str | None) -> str:
    """`: X is a role; give your user id (for example admin01), not the role`, or nothing."""
    role = (typed or "").strip().lower()
    if role not in EXAMPLE_USER:
        return ""
    return f": {role} is a role; give your user id (for example {EXAMPLE_USER[role]}), not the role"


def approver_registered(f: ApprovalView) -> CheckResult:
    ok = f.approver is not None and f.approver.active
    who = _shown(f.approval.approver_id) or "(none)"
    hint = "" if f.approver is not None else role_hint(f.approval.approver_id)
    return CheckResult(
        "approver_registered", ok, f"Approver {who} is not a registered active user{hint}"
    )


def approver_holds_role(f: ApprovalView) -> CheckResult:
    role = _trimmed(f.approval.role)
    ok = f.approver is not None and f.approver.holds(role)
    who = _shown(f.approval.approver_id) or "(none)"
    return CheckResult(
        "approver_holds_role", ok, f"Approver {who} does not hold role {_shown(role) or '(none)'}"
    )


# Who a decision's actor is, in a refusal's words (any other: "User").
WHO = {
    "publish": "Approver",
    "lock": "Approver",
    "repair.apply": "Approver",
    "repair.request": "Requester",
}


def login_problem(
    require: bool, user: User | None, typed: str | None, login: str | None, who: str
) -> str | None:
    """Why a person may not decide from this login: with approvals_require_login on, the user
    named must be the one mapped to the login running the command (`users link`)."""
    if not require or (user is not None and user.login is not None and user.login == login):
        return None
    return f"{who} {_shown(typed) or '(none)'} is not the logged-in user ({login or 'unknown'})"


def approver_is_logged_in(f: ApprovalView) -> CheckResult:
    problem = login_problem(
        f.require_login, f.approver, f.approval.approver_id, f.login, "Approver"
    )
    return CheckResult("approver_is_logged_in", problem is None, problem or "Approver logged in")


def reason_long_enough(f: ApprovalView) -> CheckResult:
    """Visible characters after NFKC, a letter or digit among them (domain/text.py)."""
    problem = reason_problem(f.approval.reason, f.min_reason_length)
    message = problem or f"Reason must be at least {f.min_reason_length} characters"
    return CheckResult("reason_long_enough", problem is None, message)


def run_not_locked(f: DecisionFacts) -> CheckResult:
    return CheckResult("run_not_locked", not f.run_locked, f"Run {f.run_id} is already locked")


def version_not_published(f: DecisionFacts) -> CheckResult:
    return CheckResult(
        "version_not_published",
        not f.version_published,
        f"Plan version {f.version} of {f.run_id} is already published",
    )


def version_is_published(f: DecisionFacts) -> CheckResult:
    return CheckResult(
        "version_is_published",
        f.version_published,
        f"Plan version {f.version} of {f.run_id} has not been published",
    )


def locker_differs_from_publisher(f: DecisionFacts) -> CheckResult:
    same = f.publisher_id is not None and (
        f.publisher_id.lower() == _trimmed(f.approval.approver_id).lower()
    )  # user ids are compared ignoring case: DISP001 is disp001
    ok = not (f.lock_requires_other_person and same)
    return CheckResult(
        "locker_differs_from_publisher", ok, "Lock requires a different person than the publisher"
    )


def evidence_matches_seal(f: DecisionFacts) -> CheckResult:
    return CheckResult(
        "evidence_matches_seal", f.evidence_ok, "Evidence does not match its sealed hash"
    )


def evidence_unchanged_since_publish(f: DecisionFacts) -> CheckResult:
    published = f.published_evidence_hash
    ok = published is not None and published == f.sealed_hash == f.rebuilt_hash
    return CheckResult("evidence_unchanged_since_publish", ok, "Evidence changed since publish")


def status_allows(f: DecisionFacts) -> CheckResult:
    return CheckResult(
        "status_allows",
        f.status in ("PASS", "WARN"),
        f"Run status is {f.status}; only PASS or WARN can proceed",
    )


def warn_has_override(f: DecisionFacts) -> CheckResult:
    """The override reason is counted like the reason (domain/text.py)."""
    problem = reason_problem(f.approval.override_reason, f.min_reason_length)
    ok = f.status != "WARN" or problem is None
    return CheckResult("warn_has_override", ok, "WARN run requires an override reason")


def no_open_repairs(f: DecisionFacts) -> CheckResult:
    ids = ", ".join(f.open_repairs)
    return CheckResult(
        "no_open_repairs", not f.open_repairs, f"Week {f.week} has pending repairs: {ids}"
    )


def no_absent_driver_assigned(f: DecisionFacts) -> CheckResult:
    """The week's absences as they stand now (domain.md §9), not only those the version was
    built with: a sick call made after it was created, and kept by a reject, counts."""
    found = f.absent_assignments
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return CheckResult(
        "no_absent_driver_assigned",
        not found,
        f"v{f.version} gives an absent driver a tour: {found[0] if found else ''}{more}; "
        "request a repair for the driver",
    )


def drift_not_block(f: DecisionFacts) -> CheckResult:
    return CheckResult("drift_not_block", f.drift_level != "BLOCK", "KPI drift is BLOCK")


APPROVAL_CHECKS: tuple[ApprovalCheck, ...] = (
    approval_given,
    role_allowed,
    approver_registered,
    approver_holds_role,
    approver_is_logged_in,
    reason_long_enough,
)
PUBLISH_CHECKS: tuple[Check, ...] = (
    state_matches_trail,
    kill_switch_inactive,
    site_not_shadow_only,
    action_enabled,
    *APPROVAL_CHECKS,
    run_not_locked,
    version_not_published,
    evidence_matches_seal,
    status_allows,
    warn_has_override,
    no_open_repairs,
    no_absent_driver_assigned,
    drift_not_block,
)
LOCK_CHECKS: tuple[Check, ...] = (
    state_matches_trail,
    kill_switch_inactive,
    site_not_shadow_only,
    action_enabled,
    *APPROVAL_CHECKS,
    run_not_locked,
    version_is_published,
    locker_differs_from_publisher,
    evidence_matches_seal,
    evidence_unchanged_since_publish,
    status_allows,
    warn_has_override,
    no_open_repairs,
    no_absent_driver_assigned,
    drift_not_block,
)
CHECKS = {PUBLISH: PUBLISH_CHECKS, LOCK: LOCK_CHECKS}


def evaluate(checks: Sequence[Callable[[Facts], CheckResult]], facts: Facts) -> list[CheckResult]:
    """Every check's result, in order (`check` shows them all)."""
    return [check(facts) for check in checks]


def first_failure(results: Sequence[CheckResult]) -> CheckResult | None:
    """The failure that decides (`publish` and `lock` stop here)."""
    return next((r for r in results if not r.passed), None)


# --- the show-run checklist: the same checks, without an approver -----------------------------

APPROVER_CHECKS = frozenset(check.__name__ for check in APPROVAL_CHECKS)
LABELS = {
    "state_matches_trail": "State matches the audit trail",
    "kill_switch_inactive": "Kill switch inactive",
    "site_not_shadow_only": "Site not in shadow-only mode",
    "action_enabled": "Enabled for this site",
    "run_not_locked": "Current version not locked",
    "version_not_published": "Current version not yet published",
    "version_is_published": "Current version published",
    "locker_differs_from_publisher": "Locked by another person than the publisher",
    "evidence_matches_seal": "Evidence matches its sealed hash",
    "evidence_unchanged_since_publish": "Evidence unchanged since publish",
    "status_allows": "Status is PASS or WARN",
    "warn_has_override": "WARN has an override reason",
    "no_open_repairs": "No pending repairs for the week",
    "no_absent_driver_assigned": "No absent driver has a tour",
    "drift_not_block": "Drift not BLOCK",
}


@dataclass(frozen=True)
class ChecklistRow:
    check: str  # the gate check's name, as `check` lists it
    label: str
    ok: bool
    detail: str


def _passed_detail(name: str, f: DecisionFacts) -> str:
    if name == "status_allows":
        return f.status
    if name == "drift_not_block":
        return f.drift_level
    if name in ("no_open_repairs", "no_absent_driver_assigned"):
        return "none"
    if name in ("version_not_published", "version_is_published"):
        return f"v{f.version} " + ("published" if f.version_published else "unpublished")
    if name.startswith("evidence"):
        return "verified"
    if name == "run_not_locked":
        return "open"
    return "yes"


def checklist(facts: DecisionFacts) -> list[ChecklistRow]:
    """The checks of `facts.action` that do not depend on who approves, evaluated exactly as
    `check`, `publish` and `lock` evaluate them, as show-run's checklist. The two that depend
    on what the approver types say what is needed (an override reason, another person)."""
    rows = []
    for check in CHECKS[facts.action]:
        if check.__name__ in APPROVER_CHECKS:
            continue
        result = check(facts)
        name = result.name
        ok, detail = result.passed, "" if result.passed else result.message
        if name == "warn_has_override":
            ok, detail = True, "give --override-reason" if facts.status == "WARN" else "not needed"
        elif name == "locker_differs_from_publisher":
            ok = True
            other = facts.lock_requires_other_person and facts.publisher_id
            detail = f"someone other than {facts.publisher_id}" if other else "not required"
        elif ok:
            detail = _passed_detail(name, facts)
        rows.append(ChecklistRow(name, LABELS[name], ok, detail))
    return rows


# --- repair apply and reject: named checks too -------------------------------------------------

STALE_PROPOSAL = (
    "Repair proposal is stale: plan changed since it was computed; run run-repair again"
)


@dataclass(frozen=True)
class ApplyFacts:
    """What `apply-repair` decides on (domain.md §9), read inside its transaction."""

    approval: ApprovalInput
    approver: User | None
    allowed_roles: tuple[str, ...]
    min_reason_length: int
    request_id: str
    request_status: str
    request_open: bool
    run_id: str
    run_locked: bool
    amendment: bool  # requested with --amend: a repair of the locked plan
    has_proposal: bool
    stale: str | None  # why the proposal is stale, None when it is current
    uncovered: int
    require_login: bool = False
    login: str | None = None


def request_open(f: ApplyFacts) -> CheckResult:
    return CheckResult(
        "request_open",
        f.request_open,
        f"Repair request {f.request_id} is {f.request_status}; only open ones apply",
    )


def repair_run_not_locked(f: ApplyFacts) -> CheckResult:
    """A locked run takes only an amendment (a request made with --amend)."""
    return CheckResult(
        "run_not_locked",
        not f.run_locked or f.amendment,
        f"Run {f.run_id} is locked; repairs are disabled",
    )


def proposal_exists(f: ApplyFacts) -> CheckResult:
    return CheckResult("proposal_exists", f.has_proposal, "No proposal yet; run run-repair first")


def proposal_fresh(f: ApplyFacts) -> CheckResult:
    return CheckResult("proposal_fresh", f.stale is None, f.stale or STALE_PROPOSAL)


def proposal_complete(f: ApplyFacts) -> CheckResult:
    return CheckResult(
        "proposal_complete",
        not f.uncovered,
        f"Repair proposal leaves {f.uncovered} tours uncovered",
    )


APPLY_CHECKS: tuple[Callable[[ApplyFacts], CheckResult], ...] = (
    *APPROVAL_CHECKS,
    request_open,
    repair_run_not_locked,
    proposal_exists,
    proposal_fresh,
    proposal_complete,
)


@dataclass(frozen=True)
class RejectFacts:
    """What `reject-repair` decides on: who rejects, and why."""

    user: User | None
    repair_roles: tuple[str, ...]
    reason: str | None
    min_reason_length: int
    by: str | None = None  # the id typed
    require_login: bool = False
    login: str | None = None


def rejecter_holds_repair_role(f: RejectFacts) -> CheckResult:
    ok = f.user is not None and f.user.active and any(f.user.holds(role) for role in f.repair_roles)
    return CheckResult(
        "repair_role_required",
        ok,
        f"Only a registered user holding a repair role ({', '.join(f.repair_roles)}) "
        "may reject repairs",
    )


def rejecter_is_logged_in(f: RejectFacts) -> CheckResult:
    problem = login_problem(f.require_login, f.user, f.by, f.login, "User")
    return CheckResult("user_is_logged_in", problem is None, problem or "User logged in")


def reject_reason_long_enough(f: RejectFacts) -> CheckResult:
    problem = reason_problem(f.reason, f.min_reason_length)
    return CheckResult(
        "reason_long_enough",
        problem is None,
        problem or f"Reason must be at least {f.min_reason_length} characters",
    )


REJECT_CHECKS: tuple[Callable[[RejectFacts], CheckResult], ...] = (
    rejecter_holds_repair_role,
    rejecter_is_logged_in,
    reject_reason_long_enough,
)
