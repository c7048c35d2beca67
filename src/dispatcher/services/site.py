"""Site bootstrap and settings reads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.ids import ID_PATTERN, ascii_digits
from dispatcher.domain.model import (
    ROLES,
    DriftThresholds,
    SiteConfig,
    initial_site_config,
)
from dispatcher.domain.parsing import FieldProblem, parse_bool
from dispatcher.domain.trail import StateMismatch
from dispatcher.services.audit import record_event, require_login
from dispatcher.services.authorization import (
    refuse_mismatch,
    require_admin,
    require_platform_login,
    require_tenant_allowed,
)


def ensure_site(uow: UnitOfWork, for_action: Action = Action.SITE_CREATE) -> SiteConfig:
    """The site's settings, proven by the audit trail; on first write the site is created with
    its defaults (LTS/WIEN: pilot defaults) and a site.create event holding them."""
    from dispatcher.services.trail import bound_settings

    config = bound_settings(uow)
    if config is None:
        require_tenant_allowed(uow, for_action, None)  # the attempt, by what it tried
        if not uow.platform_login():
            raise InvalidInput(
                f"Site {uow.tenant}/{uow.site} is not set up on this database: a platform admin "
                "runs `dispatcher site init` for it with the platform login first "
                "(docs/deployment.md)"
            )
        config = initial_config(uow)
        event = record_event(
            uow,
            EventDraft(
                Action.SITE_CREATE, actor_id="system", detail={"settings": config_as_dict(config)}
            ),
        )
        uow.sites.create(config, uow.now(), event.seq)
    return config


def current_config(uow: UnitOfWork) -> SiteConfig:
    """Settings for reads and decisions: the stored ones proven by the trail (StateMismatch
    otherwise), or what the site would start with."""
    from dispatcher.services.trail import bound_settings

    return bound_settings(uow) or initial_config(uow)


def initial_config(uow: UnitOfWork) -> SiteConfig:
    """What a new site starts with: on a PostgreSQL production database (not a demo or test
    one, where one login plays every person) decisions are bound to per-person logins."""
    production = uow.dialect == "postgresql" and not uow.clock_is_simulated()
    return initial_site_config(uow.tenant, uow.site, require_login=production)


# --- settings changes ---------------------------------------------------------------------------

BOOL_SETTINGS = (
    "publish_enabled",
    "lock_enabled",
    "shadow_only",
    "lock_requires_other_person",
    "approvals_require_login",
)
ROLE_SETTINGS = ("publish_roles", "lock_roles", "repair_roles")
INT_SETTINGS = {"min_reason_length": (1, 1000), "freeze_window_hours": (0, 168)}


def setting_names() -> list[str]:
    thresholds = list(DriftThresholds.__dataclass_fields__)
    return [*BOOL_SETTINGS, *ROLE_SETTINGS, *INT_SETTINGS, "drift_baseline", *thresholds]


def config_as_dict(config: SiteConfig) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: getattr(config, name) for name in (*BOOL_SETTINGS, *INT_SETTINGS, "drift_baseline")
    }
    values.update({name: list(getattr(config, name)) for name in ROLE_SETTINGS})
    values.update(config.thresholds.as_document())
    return values


def _parse_setting(name: str, text: str) -> Any:
    value = text.strip()
    if name in BOOL_SETTINGS:
        try:
            return parse_bool(value)
        except FieldProblem as problem:
            raise InvalidInput(f"Setting {name}: {problem}") from None
    if name in ROLE_SETTINGS:
        roles = tuple(r.strip().lower() for r in value.split(",") if r.strip())
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            raise InvalidInput(f"Setting {name}: roles must be from {', '.join(ROLES)}")
        return roles
    if name == "drift_baseline":
        if value.lower() == "auto":
            return "auto"
        if not ID_PATTERN.fullmatch(value):
            raise InvalidInput("Setting drift_baseline: use auto or a run id")
        return value.upper()
    low, high = INT_SETTINGS.get(name, (0, 10**6))
    if not ascii_digits(value) or not low <= int(value) <= high:
        raise InvalidInput(f"Setting {name}: expected a whole number from {low} to {high}")
    return int(value)


def apply_settings(config: SiteConfig, changes: dict[str, str]) -> SiteConfig:
    known = setting_names()
    updates: dict[str, Any] = {}
    thresholds: dict[str, int] = {}
    for name, text in changes.items():
        if name not in known:
            raise InvalidInput(f"Unknown setting {name!r}; see `dispatcher site show`")
        value = _parse_setting(name, text)
        if name in DriftThresholds.__dataclass_fields__:
            thresholds[name] = value
        else:
            updates[name] = value
    if thresholds:
        updates["thresholds"] = replace(config.thresholds, **thresholds)
    return replace(config, **updates)


@dataclass(frozen=True)
class SettingsChange:
    changed: dict[str, list[Any]]
    config: SiteConfig
    event_seq: int | None


def set_site(uow: UnitOfWork, changes: dict[str, str], by: str, reason: str) -> SettingsChange:
    """Change settings as a registered platform_admin; the change is an audit event."""
    if not changes:
        raise InvalidInput("Give at least one setting as NAME=VALUE")
    with uow:
        try:
            config = ensure_site(uow)
        except StateMismatch as mismatch:
            raise refuse_mismatch(
                uow,
                Action.SITE_UPDATE,
                mismatch,
                actor_id=by.strip() or None,
                reason=reason.strip() or None,
            ) from None
        updated = apply_settings(config, changes)
        require_platform_login(
            uow, Action.SITE_UPDATE, "change site settings", actor_id=by, reason=reason
        )
        admin = require_admin(
            uow, Action.SITE_UPDATE, by, reason, config.min_reason_length, "change site settings"
        )
        before, after = config_as_dict(config), config_as_dict(updated)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        draft = EventDraft(
            Action.SITE_UPDATE,
            actor_id=admin.user_id,
            actor_role="platform_admin",
            reason=reason.strip(),
            detail={"changed": changed, "settings": after},
        )
        if not changed:  # nothing to record; still only from the admin's own login
            require_login(uow, draft, uow.audit_log)
            return SettingsChange({}, config, None)
        event = record_event(uow, draft)
        uow.sites.save_config(updated, uow.now(), event.seq)
        uow.commit()
    return SettingsChange(changed, updated, event.seq)


def show_site(uow: UnitOfWork) -> tuple[bool, SiteConfig]:
    """(initialised?, settings) of this site."""
    from dispatcher.services.trail import bound_settings

    with uow:
        stored = bound_settings(uow)
        return stored is not None, stored or initial_config(uow)


def init_site(uow: UnitOfWork) -> tuple[bool, SiteConfig]:
    """Create the site with its defaults if it does not exist; (created?, settings)."""
    from dispatcher.services.trail import bound_settings

    with uow:
        existed = bound_settings(uow) is not None
        config = ensure_site(uow)
        uow.commit()
    return not existed, config
