"""Chain locks that no other site can take; functions that read only their own schema; a
version's cache row only for a version of its site; events of sane size and form.

Writers queue on transaction-scoped advisory locks, one per chain: their site's (alone), their
tenant registry's and the platform's (shared, or alone for a change of the registry or the
global kill switch). The keys used to be a hash of public names, so any login could take
another site's key with `pg_advisory_lock` and hold its writers up. Now the keys are a hash of
the names and a secret salt that only the schema owner reads (`chain_lock_salt`, made here
with random bytes, in a schema of its own), and `dispatcher_lock_chains` (run as the owner)
takes them: for the session's own site only, after the same scope check as the row-level
security policies, and a lock held alone on the registry or the platform only for a platform
login. (A row lock on a chain-head row, as first planned, needs UPDATE on the row for
`FOR SHARE` too, which would let a depot hold the shared rows alone.)

Every dispatcher function (the policies' scope checks, every guard trigger) now resolves names
in the schema alone, `pg_temp` last: without it a login's temporary table named `site_logins`
or `audit_events` was searched first and passed every check. TEMPORARY on the database is
revoked from PUBLIC as well (the DBA repeats it for databases made from a template).
`version_checks` takes a row only for a plan version of the row's own site (its key is the
version's global id: a depot could otherwise squat another site's versions). An event's body
may hold only the fields of the canonical form and at most 1 MB (both backends).

Revision ID: a8d4e0f6b007
Revises: f7c3d9e5a006
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "a8d4e0f6b007"
down_revision = "f7c3d9e5a006"
branch_labels = None
depends_on = None

APP_ROLE = "dispatcher_app"
PLATFORM_ROLE = "dispatcher_platform"

LOCK = """CREATE FUNCTION dispatcher_lock_chains(p_registry_alone boolean, p_platform_alone boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  salt text;
  t text := current_setting('app.tenant', true);
  s text := current_setting('app.site', true);
BEGIN
  IF t IS NULL OR s IS NULL OR NOT dispatcher_scope_granted() THEN
    RAISE EXCEPTION 'dispatcher_lock_chains: this login may not act for %/%', t, s
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (p_registry_alone OR p_platform_alone) AND NOT dispatcher_platform_login() THEN
    RAISE EXCEPTION 'dispatcher_lock_chains: only the platform login changes what sites share'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT c.salt INTO salt FROM dispatcher_private.chain_lock_salt c;
  -- Always in this order (site, registry, platform), so two writers never deadlock.
  PERFORM pg_advisory_xact_lock(hashtextextended(salt || chr(31) || t || chr(31) || s, 0));
  IF p_registry_alone THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(salt || chr(31) || t || chr(31) || '*', 0));
  ELSE
    PERFORM pg_advisory_xact_lock_shared(
      hashtextextended(salt || chr(31) || t || chr(31) || '*', 0));
  END IF;
  IF p_platform_alone THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(salt || chr(31) || '*' || chr(31) || '*', 0));
  ELSE
    PERFORM pg_advisory_xact_lock_shared(
      hashtextextended(salt || chr(31) || '*' || chr(31) || '*', 0));
  END IF;
END $$"""


MAX_BODY = 1_048_576
BODY_FIELDS = (
    "action", "actor_id", "actor_role", "detail", "evidence_hash", "occurred_at", "outcome",
    "plan_version", "prev_hash", "reason", "run_id", "seq", "site", "tenant", "v",
)  # fmt: skip
SIZE = "audit_events: an event holds at most 1 MB"
OWN_VERSION = "version_checks: a row only for a plan version of its own site"
# The version is this row's site's (under row-level security: one this session may see).
OWN_VERSION_CONDITION = (
    "NOT EXISTS (SELECT 1 FROM plan_versions pv WHERE pv.id = NEW.version_pk "
    "AND pv.tenant_id = NEW.tenant_id AND pv.site_id = NEW.site_id)"
)
HARDEN = """DO $$
DECLARE f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = current_schema() AND p.proname LIKE 'dispatcher%'
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f.sig, current_schema());
  END LOOP;
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END $$"""


def _sqlite() -> None:
    op.execute(
        "CREATE TRIGGER audit_events_size BEFORE INSERT ON audit_events\n"
        f"WHEN length(NEW.body) > {MAX_BODY}\nBEGIN SELECT RAISE(ABORT, '{SIZE}'); END"
    )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER version_checks_own_version_{event.lower()} BEFORE {event} ON "
            f"version_checks\nWHEN {OWN_VERSION_CONDITION}\n"
            f"BEGIN SELECT RAISE(ABORT, '{OWN_VERSION}'); END"
        )


def _postgres_triggers() -> None:
    op.execute(
        f"""CREATE FUNCTION dispatcher_version_checks_own_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF {OWN_VERSION_CONDITION} THEN
    RAISE EXCEPTION '{OWN_VERSION}' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""
    )
    for event in ("INSERT", "UPDATE"):  # the names SQLite's two triggers have
        op.execute(
            f"CREATE TRIGGER version_checks_own_version_{event.lower()} BEFORE {event} ON "
            "version_checks FOR EACH ROW EXECUTE FUNCTION dispatcher_version_checks_own_version()"
        )
    keys = ", ".join(f"'{k}'" for k in BODY_FIELDS)
    op.execute(
        f"""CREATE FUNCTION dispatcher_audit_events_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF length(NEW.body) > {MAX_BODY} THEN
    RAISE EXCEPTION '{SIZE}' USING ERRCODE = 'restrict_violation';
  END IF;
  IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(NEW.body::jsonb) k)
     IS DISTINCT FROM ARRAY[{keys}]::text[] THEN
    RAISE EXCEPTION 'audit_events: the body holds exactly the fields of the canonical form'
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_events_size BEFORE INSERT ON audit_events FOR EACH ROW "
        "EXECUTE FUNCTION dispatcher_audit_events_size()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite()
        return
    _postgres_triggers()
    # A schema of its own: nobody but the owner uses it, and the tables of db/tables.py (which
    # Alembic compares with the database) stay the application's.
    op.execute("CREATE SCHEMA dispatcher_private")
    op.execute("REVOKE ALL ON SCHEMA dispatcher_private FROM PUBLIC")
    op.execute("CREATE TABLE dispatcher_private.chain_lock_salt (salt text NOT NULL)")
    op.execute("REVOKE ALL ON dispatcher_private.chain_lock_salt FROM PUBLIC")
    op.execute(
        "INSERT INTO dispatcher_private.chain_lock_salt (salt) "
        "SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"
    )
    op.execute(LOCK)
    op.execute("REVOKE ALL ON FUNCTION dispatcher_lock_chains(boolean, boolean) FROM PUBLIC")
    op.execute(
        "GRANT EXECUTE ON FUNCTION dispatcher_lock_chains(boolean, boolean) TO "
        f"{APP_ROLE}, {PLATFORM_ROLE}"
    )
    op.execute(HARDEN)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name in ("audit_events_size", "version_checks_own_version_insert",
                     "version_checks_own_version_update"):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_size ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS dispatcher_audit_events_size()")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS version_checks_own_version_{event} ON version_checks")
    op.execute("DROP FUNCTION IF EXISTS dispatcher_version_checks_own_version()")
    op.execute("DROP FUNCTION IF EXISTS dispatcher_lock_chains(boolean, boolean)")
    op.execute("DROP SCHEMA IF EXISTS dispatcher_private CASCADE")
