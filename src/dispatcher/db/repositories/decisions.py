"""Publish and lock marks, approvals: the writes a human decision makes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update

from dispatcher.db.repositories.base import Repository
from dispatcher.db.tables import approvals, plan_versions, runs


class DecisionRepository(Repository):
    def mark_published(
        self,
        version_pk: int,
        *,
        by: str,
        role: str,
        at: datetime,
        evidence_hash: str,
        override_reason: str | None,
    ) -> None:
        self._connection.execute(
            update(plan_versions)
            .where(plan_versions.c.id == version_pk)
            .values(
                published_at=at,
                published_by=by,
                published_role=role,
                published_evidence_hash=evidence_hash,
                override_reason=override_reason,
            )
        )

    def mark_locked(self, run_pk: int, *, by: str, at: datetime, version: int) -> None:
        self._connection.execute(
            update(runs)
            .where(runs.c.id == run_pk)
            .values(locked_at=at, locked_by=by, locked_version=version)
        )

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
