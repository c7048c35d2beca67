"""Repositories: one module per aggregate, SQLAlchemy Core over the tables of `db.tables`.

They convert rows to domain records explicitly and never commit: the unit of work does.
"""

from dispatcher.db.repositories.audit_log import AuditLog
from dispatcher.db.repositories.database import DatabaseFacts
from dispatcher.db.repositories.decisions import DecisionRepository
from dispatcher.db.repositories.kill_switch import KillSwitchLog
from dispatcher.db.repositories.read_models import ReadQueries
from dispatcher.db.repositories.repairs import RepairRepository
from dispatcher.db.repositories.runs import RunRepository
from dispatcher.db.repositories.sites import SiteRepository
from dispatcher.db.repositories.users import UserRepository

__all__ = [
    "AuditLog",
    "DatabaseFacts",
    "DecisionRepository",
    "KillSwitchLog",
    "ReadQueries",
    "RepairRepository",
    "RunRepository",
    "SiteRepository",
    "UserRepository",
]
