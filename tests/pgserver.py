"""A throwaway PostgreSQL server for the tests: initdb in a temp dir, started on a free
loopback port, removed afterwards. As root, the server runs as the `postgres` user (initdb
refuses root). Roles are created the way docs/deployment.md tells a DBA to create them."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

OWNER = "dispatcher_owner"  # owns the tables; runs `dispatcher db upgrade`
APP_LOGIN = "dispatcher"  # the tests' application login, for any site (dispatcher_any_site)
PLATFORM_LOGIN = "dispatcher_admin"  # a platform admin (dispatcher_app and dispatcher_platform)
SITE_LOGIN = "wien"  # a depot's login, bound to its sites by rows in site_logins
SUPERUSER = "postgres"
# Logins of their own for people (docs/deployment.md, per-person logins), bound to no site yet.
PEOPLE = ("maria", "otto", "someone_else")

# What the unit of work does at the start of a transaction for LTS/WIEN (hand-written SQL too).
SCOPE = "SELECT set_config('app.tenant', 'LTS', true), set_config('app.site', 'WIEN', true)"

ROLES_SQL = f"""
CREATE ROLE dispatcher_app NOLOGIN;
CREATE ROLE dispatcher_platform NOLOGIN;
CREATE ROLE dispatcher_any_site NOLOGIN;
CREATE ROLE {OWNER} LOGIN;
CREATE ROLE {APP_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE dispatcher_app, dispatcher_any_site;
CREATE ROLE {PLATFORM_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS
    IN ROLE dispatcher_app, dispatcher_platform, dispatcher_any_site;
CREATE ROLE {SITE_LOGIN} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE dispatcher_app;
{"".join(f"CREATE ROLE {p} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE dispatcher_app;" for p in PEOPLE)}
"""


class PostgresMissing(RuntimeError):
    pass


def find_bin() -> Path:
    """The newest installed server's bin folder."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresMissing(
        "PostgreSQL server not found (initdb): `make test` installs Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    def __init__(self) -> None:
        self.bin = find_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="dispatcher-pg-"))
        self.port = _free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as_postgres, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        data = self.dir / "data"
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w",
            "start", "-o", options,
        )  # fmt: skip
        self.admin_sql(ROLES_SQL)

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, user: str, database: str) -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, sql: str, database: str = "postgres") -> None:
        """Statements as the superuser, each committed on its own (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}",
            autocommit=True,
        ) as con:
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    con.execute(statement.encode())

    def waits_for_a_lock(self, database: str, login: str, *, seconds: float) -> bool:
        """Whether a session of `login` is seen waiting for a lock within `seconds`."""
        import time

        import psycopg

        deadline = time.monotonic() + seconds
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}",
            autocommit=True,
        ) as con:
            while time.monotonic() < deadline:
                found = con.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE usename = %s "
                    "AND wait_event_type = 'Lock'",
                    [login],
                ).fetchone()
                if found:
                    return True
                time.sleep(0.1)
        return False


def seen_from_wien(con: Any, tenant: str, site: str) -> dict[str, Any]:
    """What a command scoped to LTS/WIEN reads of the chains other than (tenant, site), as the
    append function checks it: their tips now."""

    def tip(chain_tenant: str, chain_site: str) -> int:
        row = con.execute(
            "SELECT coalesce(max(seq), 0) FROM audit_events WHERE tenant_id = %s AND site_id = %s",
            [chain_tenant, chain_site],
        ).fetchone()
        return int(row[0]) if row else 0

    seen: dict[str, Any] = {}
    if site != "WIEN":
        seen["site"] = ["LTS", "WIEN", tip("LTS", "WIEN")]
    if (tenant, site) != ("LTS", "*"):
        seen["registry"] = tip("LTS", "*")
    if (tenant, site) != ("*", "*"):
        seen["platform"] = tip("*", "*")
    return seen
