"""An insider with the server's superuser login (who can switch the guards off) edits the
audit chain or a run's rows: `audit verify` and `evidence verify` find it on PostgreSQL too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from dispatcher.cli import wiring
from tests.conftest import Cli
from tests.pgserver import APP_LOGIN, OWNER, SUPERUSER, PgServer
from tests.samples import RUN

pytestmark = pytest.mark.postgres


def _as_insider(server: PgServer, database: str, statement: str) -> None:
    """session_replication_role = replica: triggers (our guards) do not fire."""
    with psycopg.connect(
        f"host=127.0.0.1 port={server.port} user={SUPERUSER} dbname={database}"
    ) as con:
        con.execute("SET session_replication_role = replica")
        con.execute(statement.encode())


@pytest.mark.parametrize(
    ("statement", "seq"),
    [
        ("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 3", 3),
        ("DELETE FROM audit_events WHERE seq = 2", 3),
        ("UPDATE audit_events SET body = replace(body, 'disp001', 'disp009') WHERE seq = 2", 2),
        ("UPDATE audit_events SET seq = seq + 10 WHERE seq = 1", 1),
    ],
    ids=["column", "deleted", "body", "reordered"],
)
def test_an_edited_chain_fails_audit_verify(
    site: Cli, pg_server: PgServer, pg_database: str, statement: str, seq: int
) -> None:
    assert site("audit", "verify").exit_code == 0
    _as_insider(pg_server, pg_database, statement)
    result = site("audit", "verify")
    assert result.exit_code != 0
    assert f"seq {seq}" in result.output, result.output


def test_an_edited_assignment_fails_evidence_verify(
    site: Cli, pg_server: PgServer, pg_database: str
) -> None:
    assert site("evidence", "verify", RUN).exit_code == 0
    _as_insider(
        pg_server,
        pg_database,
        "UPDATE assignments SET driver_id = 'D005' WHERE instance_id = 'T101#2'",
    )
    result = site("evidence", "verify", RUN)
    assert result.exit_code == 1
    assert "does not verify" in result.stderr


def test_dump_and_restore_keep_a_chain_that_verifies_against_its_checkpoint(
    site: Cli,
    pg_server: PgServer,
    pg_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/deployment.md's backup and restore: a signed checkpoint first, pg_dump as the
    superuser (row-level security would hide rows from anyone else), pg_restore into a new
    database, then `audit verify --checkpoint` and `evidence verify` through the site login.
    A tail cut off the restored chain is caught by the same checkpoint."""
    key = tmp_path / "audit.key"
    assert site("audit", "keygen", "--out", str(key)).exit_code == 0
    checkpoint = tmp_path / "checkpoint.json"
    made = site("audit", "checkpoint", "--key", str(key), "--out", str(checkpoint))
    assert made.exit_code == 0, made.output
    dump = tmp_path / "dispatcher.dump"
    connection = ["-h", "127.0.0.1", "-p", str(pg_server.port), "-U", SUPERUSER]
    subprocess.run(
        [str(pg_server.bin / "pg_dump"), *connection, "-Fc", "-f", str(dump), pg_database],
        check=True,
    )
    pg_server.admin_sql(f"CREATE DATABASE restored OWNER {OWNER}")
    try:
        subprocess.run(
            [str(pg_server.bin / "pg_restore"), *connection, "-d", "restored", str(dump)],
            check=True,
        )
        monkeypatch.setenv("DISPATCHER_DB", pg_server.url(APP_LOGIN, "restored"))
        public = f"{key}.pub"
        verified = site("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", public)
        assert verified.exit_code == 0, verified.output
        assert site("evidence", "verify", RUN).exit_code == 0
        assert site("list-runs").stdout.count(RUN) == 1
        _as_insider(
            pg_server, "restored", "DELETE FROM audit_events WHERE site_id = 'WIEN' AND seq > 2"
        )
        cut = site("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", public)
        assert cut.exit_code != 0 and "but the checkpoint signed seq" in cut.output, cut.output
    finally:
        wiring.reset()
        pg_server.admin_sql("DROP DATABASE restored WITH (FORCE)")
