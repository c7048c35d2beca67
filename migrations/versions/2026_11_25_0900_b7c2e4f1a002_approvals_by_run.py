"""Indexes for reads that must not grow with history: approvals by run, action and event
(list-runs and status decide "superseded" per listed run from these rows; without it each
decision scanned every approval), and repair requests by site and status (the pending repairs
that status shows, without reading years of resolved ones).

Revision ID: b7c2e4f1a002
Revises: a1f0c3d2e001
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "b7c2e4f1a002"
down_revision = "a1f0c3d2e001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_approvals_run_pk_action_event_seq", "approvals", ["run_pk", "action", "event_seq"]
    )
    op.create_index(
        "ix_repair_requests_tenant_id_site_id_status",
        "repair_requests",
        ["tenant_id", "site_id", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_repair_requests_tenant_id_site_id_status", table_name="repair_requests")
    op.drop_index("ix_approvals_run_pk_action_event_seq", table_name="approvals")
