"""An insider with the server's superuser login (who can switch the guards off) edits the
audit chain or a run's rows: `audit verify` and `evidence verify` find it on PostgreSQL too."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import Cli
from tests.pgserver import SUPERUSER, PgServer
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
