"""Initial schema: sites, settings, users, runs and plan versions, repairs, approvals,
kill-switch history and the append-only audit chain, with the triggers that guard them.

Revision ID: a1f0c3d2e001
Revises:
Create Date: 2026-01-13 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a1f0c3d2e001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "sha256:" + "0" * 64


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _scope() -> list[sa.Column[str]]:
    return [
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
    ]


# Triggers are spelled out here because autogenerate cannot see them and a batch "move and copy"
# drops them; tests pin the exact set after upgrade. Conditions name what makes a row immutable.
LOCKED_VERSION = (
    "EXISTS (SELECT 1 FROM plan_versions pv JOIN runs r ON r.id = pv.run_pk "
    "WHERE pv.id = {row}.version_pk AND r.locked_version = pv.version)"
)
LOCKED_RUN = "(SELECT locked_at FROM runs WHERE id = {row}.run_pk) IS NOT NULL"
PLAN_VERSION_FROZEN_COLUMNS = (
    "id, tenant_id, site_id, run_pk, version, parent_version, created_at, origin, "
    "repair_request_id, config_json, solver_json, boundary_json, absences_json, kpis_json, "
    "drift_json, repair_json, audits_passed, coverage_bp, drivers_used, drift_level, "
    "published_at, published_by, published_role, published_evidence_hash, override_reason"
)


def _trigger(
    name: str, when: str, event: str, table: str, condition: str | None, message: str
) -> str:
    where = f"\nWHEN {condition}" if condition else ""
    return (
        f"CREATE TRIGGER {name} {when} {event} ON {table}{where}\n"
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


SQLITE_TRIGGERS: dict[str, str] = {
    "audit_events_no_update": _trigger(
        "audit_events_no_update",
        "BEFORE",
        "UPDATE",
        "audit_events",
        None,
        "audit_events is append-only",
    ),
    "audit_events_no_delete": _trigger(
        "audit_events_no_delete",
        "BEFORE",
        "DELETE",
        "audit_events",
        None,
        "audit_events is append-only",
    ),
    "audit_events_append_at_tip": _trigger(
        "audit_events_append_at_tip",
        "BEFORE",
        "INSERT",
        "audit_events",
        "NEW.seq IS NULL"
        " OR NEW.seq <> COALESCE((SELECT MAX(seq) FROM audit_events"
        " WHERE tenant_id = NEW.tenant_id AND site_id = NEW.site_id), 0) + 1"
        " OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_events"
        " WHERE tenant_id = NEW.tenant_id AND site_id = NEW.site_id ORDER BY seq DESC LIMIT 1),"
        f" '{GENESIS}')",
        "audit_events: insert must append at the tip",
    ),
    "runs_locked_no_update": _trigger(
        "runs_locked_no_update",
        "BEFORE",
        "UPDATE",
        "runs",
        "OLD.locked_at IS NOT NULL",
        "run is locked",
    ),
    "runs_locked_no_delete": _trigger(
        "runs_locked_no_delete",
        "BEFORE",
        "DELETE",
        "runs",
        "OLD.locked_at IS NOT NULL",
        "run is locked",
    ),
    "plan_versions_locked_no_insert": _trigger(
        "plan_versions_locked_no_insert",
        "BEFORE",
        "INSERT",
        "plan_versions",
        LOCKED_RUN.format(row="NEW"),
        "run is locked: no new plan versions",
    ),
    "plan_versions_locked_no_update": _trigger(
        "plan_versions_locked_no_update",
        "BEFORE",
        f"UPDATE OF {PLAN_VERSION_FROZEN_COLUMNS}",
        "plan_versions",
        LOCKED_RUN.format(row="OLD"),
        "plan version of a locked run is immutable",
    ),
    "plan_versions_locked_no_delete": _trigger(
        "plan_versions_locked_no_delete",
        "BEFORE",
        "DELETE",
        "plan_versions",
        LOCKED_RUN.format(row="OLD"),
        "plan version of a locked run is immutable",
    ),
}
for _table in ("assignments", "audit_results", "evidence_records"):
    for _event, _row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        _name = f"{_table}_locked_no_{_event.lower()}"
        SQLITE_TRIGGERS[_name] = _trigger(
            _name,
            "BEFORE",
            _event,
            _table,
            LOCKED_VERSION.format(row=_row),
            f"{_table} of a locked plan version are immutable",
        )
for _table in ("tour_instances", "drivers", "availability"):
    for _event, _row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        _name = f"{_table}_locked_no_{_event.lower()}"
        SQLITE_TRIGGERS[_name] = _trigger(
            _name,
            "BEFORE",
            _event,
            _table,
            LOCKED_RUN.format(row=_row),
            f"{_table} of a locked run are immutable",
        )


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenants"),
    )
    op.create_table(
        "sites",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(40), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name="fk_sites_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "site_id", name="pk_sites"),
    )
    op.create_table(
        "site_settings",
        *_scope(),
        sa.Column("publish_enabled", sa.Boolean(), nullable=False),
        sa.Column("lock_enabled", sa.Boolean(), nullable=False),
        sa.Column("shadow_only", sa.Boolean(), nullable=False),
        sa.Column("publish_roles", sa.String(200), nullable=False),
        sa.Column("lock_roles", sa.String(200), nullable=False),
        sa.Column("repair_roles", sa.String(200), nullable=False),
        sa.Column("min_reason_length", sa.Integer(), nullable=False),
        sa.Column("lock_requires_other_person", sa.Boolean(), nullable=False),
        sa.Column("freeze_window_hours", sa.Integer(), nullable=False),
        sa.Column("drift_baseline", sa.String(40), nullable=False),
        sa.Column("drift_thresholds", sa.Text(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "site_id"],
            ["sites.tenant_id", "sites.site_id"],
            name="fk_site_settings_tenant_id_sites",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "site_id", name="pk_site_settings"),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name="fk_users_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_users"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_scope(),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("solver_name", sa.String(100), nullable=False),
        sa.Column("solver_version", sa.String(100), nullable=True),
        sa.Column("solver_seed", sa.Integer(), nullable=True),
        sa.Column("declared_output_hash", sa.String(71), nullable=True),
        sa.Column("solver_error", sa.Text(), nullable=True),
        sa.Column("solver_meta", sa.Text(), nullable=False),
        sa.Column("runtime_ms", sa.Integer(), nullable=True),
        sa.Column("locked_at", _ts(), nullable=True),
        sa.Column("locked_by", sa.String(40), nullable=True),
        sa.Column("locked_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "site_id"],
            ["sites.tenant_id", "sites.site_id"],
            name="fk_runs_tenant_id_sites",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint(
            "tenant_id", "site_id", "run_id", name="uq_runs_tenant_id_site_id_run_id"
        ),
    )
    op.create_index(
        "ix_runs_tenant_id_site_id_created_at", "runs", ["tenant_id", "site_id", "created_at"]
    )
    op.create_index("ix_runs_tenant_id_site_id_week", "runs", ["tenant_id", "site_id", "week"])
    op.create_table(
        "tour_instances",
        *_scope(),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(50), nullable=False),
        sa.Column("tour_id", sa.String(40), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("depot", sa.String(40), nullable=True),
        sa.Column("skill", sa.String(40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_tour_instances_run_pk_runs"),
        sa.PrimaryKeyConstraint("run_pk", "instance_id", name="pk_tour_instances"),
    )
    op.create_table(
        "drivers",
        *_scope(),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("skills", sa.String(400), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("max_weekly_minutes", sa.Integer(), nullable=False),
        sa.Column("depot", sa.String(40), nullable=True),
        sa.Column("added_in_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_drivers_run_pk_runs"),
        sa.PrimaryKeyConstraint("run_pk", "driver_id", name="pk_drivers"),
    )
    op.create_table(
        "availability",
        *_scope(),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.String(40), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_availability_run_pk_runs"),
        sa.PrimaryKeyConstraint("run_pk", "driver_id", "date", name="pk_availability"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_scope(),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_version", sa.Integer(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("repair_request_id", sa.String(40), nullable=True),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("solver_json", sa.Text(), nullable=False),
        sa.Column("boundary_json", sa.Text(), nullable=False),
        sa.Column("absences_json", sa.Text(), nullable=False),
        sa.Column("kpis_json", sa.Text(), nullable=False),
        sa.Column("drift_json", sa.Text(), nullable=False),
        sa.Column("repair_json", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("audits_passed", sa.Integer(), nullable=False),
        sa.Column("coverage_bp", sa.Integer(), nullable=False),
        sa.Column("drivers_used", sa.Integer(), nullable=False),
        sa.Column("drift_level", sa.String(10), nullable=False),
        sa.Column("verified_at", _ts(), nullable=False),
        sa.Column("published_at", _ts(), nullable=True),
        sa.Column("published_by", sa.String(40), nullable=True),
        sa.Column("published_role", sa.String(40), nullable=True),
        sa.Column("published_evidence_hash", sa.String(71), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_plan_versions_run_pk_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("run_pk", "version", name="uq_plan_versions_run_pk_version"),
    )
    op.create_table(
        "assignments",
        *_scope(),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(50), nullable=False),
        sa.Column("driver_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_pk"], ["plan_versions.id"], name="fk_assignments_version_pk_plan_versions"
        ),
        sa.PrimaryKeyConstraint("version_pk", "instance_id", name="pk_assignments"),
    )
    op.create_table(
        "audit_results",
        *_scope(),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("audit", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("violation_count", sa.Integer(), nullable=False),
        sa.Column("violations", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_pk"], ["plan_versions.id"], name="fk_audit_results_version_pk_plan_versions"
        ),
        sa.PrimaryKeyConstraint("version_pk", "audit", name="pk_audit_results"),
    )
    op.create_table(
        "evidence_records",
        *_scope(),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("evidence_hash", sa.String(71), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["plan_versions.id"],
            name="fk_evidence_records_version_pk_plan_versions",
        ),
        sa.PrimaryKeyConstraint("version_pk", name="pk_evidence_records"),
    )
    op.create_table(
        "repair_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_scope(),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("driver_id", sa.String(40), nullable=False),
        sa.Column("driver_name", sa.String(200), nullable=True),
        sa.Column("absence_type", sa.String(20), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("proposal", sa.Text(), nullable=True),
        sa.Column("proposed_at", _ts(), nullable=True),
        sa.Column("proposal_version", sa.Integer(), nullable=True),
        sa.Column("resolved_at", _ts(), nullable=True),
        sa.Column("resolved_by", sa.String(40), nullable=True),
        sa.Column("resolution_reason", sa.Text(), nullable=True),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_repair_requests_run_pk_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_repair_requests"),
        sa.UniqueConstraint(
            "tenant_id", "request_id", name="uq_repair_requests_tenant_id_request_id"
        ),
    )
    op.create_index(
        "ix_repair_requests_tenant_id_site_id_week_status",
        "repair_requests",
        ["tenant_id", "site_id", "week", "status"],
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_scope(),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("approver_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("evidence_hash", sa.String(71), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.id"], name="fk_approvals_run_pk_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_table(
        "kill_switch_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=True),
        sa.Column("site_id", sa.String(40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("actor_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kill_switch_history"),
    )
    op.create_table(
        "audit_events",
        *_scope(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.String(27), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.String(40), nullable=True),
        sa.Column("actor_role", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("evidence_hash", sa.String(71), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(71), nullable=False),
        sa.Column("hash", sa.String(71), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "site_id", "seq", name="pk_audit_events"),
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )
    op.create_index(
        "ix_audit_events_tenant_id_site_id_run_id",
        "audit_events",
        ["tenant_id", "site_id", "run_id"],
    )
    op.create_index(
        "ix_audit_events_tenant_id_site_id_action",
        "audit_events",
        ["tenant_id", "site_id", "action"],
    )
    if op.get_bind().dialect.name == "sqlite":
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in (
        "audit_events",
        "kill_switch_history",
        "approvals",
        "repair_requests",
        "evidence_records",
        "audit_results",
        "assignments",
        "plan_versions",
        "availability",
        "drivers",
        "tour_instances",
        "runs",
        "users",
        "site_settings",
        "sites",
        "tenants",
    ):
        op.drop_table(table)
