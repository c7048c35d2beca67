"""The platform admin's cross-site view (`status --all-sites`): explicit and audited.

Only a registered platform_admin may ask, with a reason; on PostgreSQL the database login must
also be a member of dispatcher_platform, or the read policies keep every other site hidden.
Each request, allowed or refused, is an event in the asking site's audit chain, naming the
sites that were shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import Action, EventDraft
from dispatcher.domain.views import StatusOverview
from dispatcher.services.audit import record_event
from dispatcher.services.authorization import ADMIN, refuse, require_admin, require_operator
from dispatcher.services.runs import overview
from dispatcher.services.site import current_config

PLATFORM_LOGIN_REQUIRED = (
    "This database login may not read other sites: on PostgreSQL the platform view needs a "
    "login that is a member of dispatcher_platform (docs/deployment.md)"
)


@dataclass(frozen=True)
class AllSitesOverview:
    sites: list[StatusOverview]
    by: str
    event_seq: int


def all_sites_overview(uow: UnitOfWork, *, by: str, reason: str) -> AllSitesOverview:
    with uow:
        config = current_config(uow)
        admin = require_admin(
            uow, Action.SITES_VIEW, by, reason, config.min_reason_length, "view all sites"
        )
        require_operator(uow, Action.SITES_VIEW, "view all sites", admin, reason, None)
        if not uow.widen_to_all_sites():
            raise refuse(
                uow,
                Action.SITES_VIEW,
                "platform_login_required",
                PLATFORM_LOGIN_REQUIRED,
                actor_id=admin.user_id,
                actor_role=ADMIN,
                reason=reason.strip(),
            )
        sites = uow.sites.all()
        overviews = [
            overview(uow.queries_for(tenant, site), tenant, site) for tenant, site in sites
        ]
        event = record_event(
            uow,
            EventDraft(
                Action.SITES_VIEW,
                actor_id=admin.user_id,
                actor_role=ADMIN,
                reason=reason.strip(),
                detail={"sites": [f"{tenant}/{site}" for tenant, site in sites]},
            ),
        )
        uow.commit()
    return AllSitesOverview(overviews, admin.user_id, event.seq)
