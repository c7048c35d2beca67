"""Approvals: the append-only rows a human decision (publish, lock, repair.apply) leaves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import approvals


class DecisionRepository(Repository):
    def add_approval(
        self,
        *,
        run_pk: int,
        version: int,
        action: str,
        approver_id: str,
        role: str,
        reason: str,
        override_reason: str | None,
        evidence_hash: str | None,
        event_seq: int,
        at: datetime,
    ) -> None:
        """Record a decision; the row names its event (the database checks they agree)."""
        self._connection.execute(
            insert(approvals).values(
                **self._scope,
                run_pk=run_pk,
                version=version,
                action=action,
                approver_id=approver_id,
                role=role,
                reason=reason,
                override_reason=override_reason,
                evidence_hash=evidence_hash,
                event_seq=event_seq,
                created_at=at,
            )
        )
