"""Read-only use cases over the query module alone (no ORM: they also run on stdlib sqlite3)."""

from __future__ import annotations

from dispatcher.db.queries import ReadQueries
from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.status import STATUSES
from dispatcher.domain.views import RunSummary, SiteFlags, StatusOverview


def runs_listing(
    queries: ReadQueries, *, week: str | None = None, status: str | None = None, limit: int = 20
) -> list[RunSummary]:
    if week is not None:
        from dispatcher.domain.model import Week

        week = str(Week.parse(week))
    if status is not None:
        status = status.upper()
        if status not in STATUSES:
            raise InvalidInput(f"Unknown status {status!r}: use {', '.join(STATUSES)}")
    return queries.list_runs(week=week, status=status, limit=limit)


def overview(queries: ReadQueries, tenant: str, site: str) -> StatusOverview:
    flags = queries.site_flags()
    if flags is None:
        from dispatcher.domain.model import initial_site_config

        config = initial_site_config(tenant, site)
        flags = SiteFlags(False, config.publish_enabled, config.lock_enabled, config.shadow_only)
    latest = queries.list_runs(limit=1)
    return StatusOverview(
        tenant=tenant,
        site=site,
        kill_switch=queries.kill_switch(),
        site_flags=flags,
        latest_run=latest[0] if latest else None,
        pending_repairs=queries.open_repairs(),
    )
