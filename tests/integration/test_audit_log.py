"""The audit log on a real SQLite file: append-only in code and in the database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from dispatcher.domain.errors import IntegrityDamage
from dispatcher.domain.events import Action, EventDraft, Outcome
from dispatcher.services.audit import record_event, verify_audit_chain
from tests.conftest import UowFactory


def _append(uow_factory: UowFactory, n: int, site: str = "WIEN") -> None:
    """A site chain of `n` events: its site.create (every site chain opens with it), then
    user.add events numbered by seq ("add user 1" is seq 2)."""
    from dispatcher.services.site import ensure_site

    with uow_factory(write=True, site=site) as uow:
        ensure_site(uow)
        uow.commit()
    for i in range(1, n):
        _add_user(uow_factory, f"add user {i}", {"user": f"u{i}"}, site=site)


def _add_user(
    uow_factory: UowFactory,
    reason: str,
    detail: dict[str, str],
    *,
    site: str = "WIEN",
    plan_version: int | None = None,
) -> None:
    with uow_factory(write=True, site=site) as uow:
        record_event(
            uow,
            EventDraft(
                Action.USER_ADD,
                Outcome.ALLOWED,
                "admin",
                "platform_admin",
                reason,
                plan_version=plan_version,
                detail=detail,
            ),
        )
        uow.commit()


def test_events_chain_per_site(uow_factory: UowFactory) -> None:
    _append(uow_factory, 3)
    _append(uow_factory, 2, site="GRAZ")
    wien = verify_audit_chain(uow_factory())
    graz = verify_audit_chain(uow_factory(site="GRAZ"))
    assert (wien.ok, wien.count, graz.ok, graz.count) == (True, 3, True, 2)


def test_uncommitted_event_is_rolled_back(uow_factory: UowFactory) -> None:
    with uow_factory(write=True) as uow:
        record_event(uow, EventDraft(Action.USER_ADD))
    assert verify_audit_chain(uow_factory()).count == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET reason = 'edited' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
        "INSERT OR REPLACE INTO audit_events SELECT * FROM audit_events WHERE seq = 1",
        "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, detail,"
        " prev_hash, hash, body) VALUES ('LTS', 'WIEN', 5, 'x', 'a', 'allowed', '{}',"
        " 'sha256:x', 'sha256:y', '{}')",
        "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, detail,"
        " prev_hash, hash, body) VALUES ('LTS', 'WIEN', 4, 'x', 'a', 'allowed', '{}',"
        " 'sha256:wrong', 'sha256:y', '{}')",
    ],
    ids=["update", "delete", "insert-or-replace", "gap", "fork"],
)
def test_triggers_refuse_changes_not_at_the_tip(
    uow_factory: UowFactory, db_path: Path, statement: str
) -> None:
    _append(uow_factory, 3)
    with closing(sqlite3.connect(db_path)) as con, pytest.raises(sqlite3.IntegrityError):
        con.execute(statement)
    assert verify_audit_chain(uow_factory()).count == 3


def test_refused_write_surfaces_as_integrity_damage(uow_factory: UowFactory) -> None:
    from sqlalchemy import text

    _append(uow_factory, 1)
    with pytest.raises(IntegrityDamage), uow_factory(write=True) as uow:
        uow.connection.execute(text("DELETE FROM audit_events"))
        uow.commit()


def _tamper(db_path: Path, sql: str) -> None:
    with closing(sqlite3.connect(db_path)) as con:
        names = [
            n
            for (n,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
            )
        ]
        for name in names:
            con.execute(f"DROP TRIGGER {name}")
        con.executescript(sql)


TAMPERING = [
    ("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 3", 3),
    ("UPDATE audit_events SET actor_role = NULL WHERE seq = 2", 2),
    ("UPDATE audit_events SET plan_version = 7 WHERE seq = 5", 5),
    ("UPDATE audit_events SET body = replace(body, 'user 1', 'user 9') WHERE seq = 2", 2),
    ("DELETE FROM audit_events WHERE seq = 4", 5),
    ('UPDATE audit_events SET detail = \'{"user":"x"}\' WHERE seq = 1', 1),
    ("UPDATE audit_events SET detail = 'not json' WHERE seq = 6", 6),
    ("UPDATE audit_events SET body = 'not json' WHERE seq = 6", 6),
    (
        "UPDATE audit_events SET seq = 100 WHERE seq = 2; "
        "UPDATE audit_events SET seq = 2 WHERE seq = 3; "
        "UPDATE audit_events SET seq = 3 WHERE seq = 100;",
        2,
    ),
    (
        "INSERT INTO audit_events (tenant_id, site_id, seq, occurred_at, action, outcome, detail,"
        " prev_hash, hash, body) SELECT tenant_id, site_id, 7, occurred_at, action, outcome,"
        " detail, prev_hash, 'sha256:' || hex(randomblob(32)), body FROM audit_events WHERE seq = 6",
        7,
    ),
    ("UPDATE audit_events SET reason = CAST(X'61ff62' AS TEXT) WHERE seq = 3", 3),
    ("UPDATE audit_events SET actor_id = CAST('admin' AS BLOB) || X'00' WHERE seq = 2", 2),
    ("UPDATE audit_events SET plan_version = 2.5 WHERE seq = 4", 4),
    ("UPDATE audit_events SET plan_version = 'two' WHERE seq = 4", 4),
    ("UPDATE audit_events SET reason = reason || char(0) || 'hidden' WHERE seq = 5", 5),
    ("UPDATE audit_events SET reason = 'add user ' || char(8232) || '5' WHERE seq = 5", 5),
]
TAMPER_IDS = [
    "column",
    "null-column",
    "int-column",
    "body",
    "deleted",
    "detail",
    "detail-not-json",
    "body-not-json",
    "reordered",
    "inserted",
    "undecodable-column",
    "blob-column",
    "real-column",
    "text-in-integer-column",
    "nul-in-column",
    "line-separator",
]


@pytest.mark.parametrize(("sql", "seq"), TAMPERING, ids=TAMPER_IDS)
def test_raw_sql_tampering_is_detected_by_audit_verify(
    uow_factory: UowFactory, db_path: Path, sql: str, seq: int
) -> None:
    _append(uow_factory, 6)
    _tamper(db_path, sql)
    report = verify_audit_chain(uow_factory())
    assert (report.ok, report.broken_seq) == (False, seq)
    assert report.problem


def test_a_column_holding_its_own_text_as_bytes_still_agrees(
    uow_factory: UowFactory, db_path: Path
) -> None:
    """The value is the body's (SQLite hands it back as bytes): nothing is hidden, and the
    database's comparison and the Python rule say the same."""
    _append(uow_factory, 4)
    _tamper(db_path, "UPDATE audit_events SET actor_id = CAST(actor_id AS BLOB) WHERE seq = 2")
    with closing(sqlite3.connect(db_path)) as con:
        assert con.execute(
            "SELECT typeof(actor_id) FROM audit_events WHERE seq = 2"
        ).fetchone() == ("blob",)
    report = verify_audit_chain(uow_factory())
    assert report.ok and report.count == 4


ODD_TEXT = [
    'quote " backslash \\ slash /',
    "tab\tnewline\ncarriage\rbell\x07escape\x1bdel\x7f",
    "line\u2028paragraph\u2029bom\ufeffnonchar\uffff",
    "Grüße aus Wien, 40,5 h, 🚚 ✅",
    "\x00 leading NUL",
]


def test_odd_text_in_reasons_and_details_verifies(uow_factory: UowFactory, backend: str) -> None:
    """Reasons and details with quotes, control characters, separators and emoji: the database's
    comparison finds the untouched chain whole (PostgreSQL text holds no NUL: skipped there)."""
    _append(uow_factory, 1)
    texts = [t for t in ODD_TEXT if backend == "sqlite" or "\x00" not in t]
    for i, text_value in enumerate(texts):
        _add_user(uow_factory, text_value, {"note": text_value}, plan_version=i + 1)
    report = verify_audit_chain(uow_factory())
    assert report.ok and report.count == 1 + len(texts), report.problem


def _code_points() -> list[str]:
    """Every code point up to U+3000 (controls, Latin, separators...), the specials above
    it, and every 97th code point of the rest (surrogates are no text)."""
    chosen = set(range(0x3000)) | {0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x1F69A, 0x10FFFF}
    chosen |= set(range(0x3000, 0x110000, 97))
    return [chr(c) for c in sorted(chosen) if not 0xD800 <= c <= 0xDFFF]


def test_the_database_writes_json_strings_as_python_does(
    uow_factory: UowFactory, backend: str
) -> None:
    """`audit verify` lets the database re-build each body: its JSON string form of every
    code point must be Python's (json.dumps with ensure_ascii=False), or a chain verified
    on one side would not verify on the other."""
    from sqlalchemy import Text, literal, select

    from dispatcher.db.repositories.audit_log import _json_string

    points = [c for c in _code_points() if backend == "sqlite" or c != "\x00"]
    with uow_factory() as uow:
        dialect = uow.connection.dialect.name
        differ = []
        for start in range(0, len(points), 400):
            chunk = points[start : start + 400]
            row = uow.connection.execute(
                select(*(_json_string(literal(c, Text), dialect) for c in chunk))
            ).one()
            differ += [
                c
                for c, quoted in zip(chunk, row, strict=True)
                if quoted != json.dumps(c, ensure_ascii=False)
            ]
    assert len(points) > 20_000
    assert differ == []


def test_an_untouched_chain_verifies(uow_factory: UowFactory, db_path: Path) -> None:
    _append(uow_factory, 6)
    report = verify_audit_chain(uow_factory())
    assert report.ok and report.count == 6


WRITER = """
import sys
from datetime import UTC, datetime
from dispatcher.db.engine import make_engine, sqlite_url
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.events import Action, EventDraft
from dispatcher.services.audit import record_event
engine = make_engine(sqlite_url(sys.argv[1]))
for i in range(int(sys.argv[2])):
    with UnitOfWork(engine, "LTS", "WIEN", lambda: datetime.now(UTC), write=True) as uow:
        record_event(uow, EventDraft(Action.USER_ADD, detail={"writer": sys.argv[3], "i": i}))
        uow.commit()
"""


def test_two_processes_appending_concurrently_leave_one_chain(
    uow_factory: UowFactory, db_path: Path
) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), "500", name])
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    report = verify_audit_chain(uow_factory())
    assert (report.ok, report.count) == (True, 1001)  # and the site.create
