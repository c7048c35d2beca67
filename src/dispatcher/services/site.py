"""Site bootstrap and settings reads."""

from __future__ import annotations

from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.model import SiteConfig, initial_site_config


def ensure_site(uow: UnitOfWork) -> SiteConfig:
    """The site's settings, creating the site on first write (LTS/WIEN with pilot defaults)."""
    config = uow.sites.config()
    if config is None:
        config = initial_site_config(uow.tenant, uow.site)
        uow.sites.create(config, uow.now())
    return config


def current_config(uow: UnitOfWork) -> SiteConfig:
    """Settings for reads: stored ones, or what the site would start with."""
    return uow.sites.config() or initial_site_config(uow.tenant, uow.site)
