"""PostgreSQL at scale: the benchmark database of `startup.py` (10,000 runs at 40 sites,
1,000,000 audit events) on a throwaway PostgreSQL server, read by the application login under
row-level security, next to the same database on SQLite.

The server is the tests' (`tests/pgserver.py`: initdb in a temporary folder, the roles of
docs/deployment.md); the schema is made by `dispatcher db upgrade` as its owner, and the rows are
copied from the SQLite file with COPY as the superuser (the guards would refuse a bulk load of a
finished history; `audit verify` then checks the copied chain). Every figure is the median of
`--repeat` runs after `--warmup` runs of the installed script.

    python benchmarks/postgres.py [--repeat 9] [--warmup 1] [--runs 10000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pgserver import APP_LOGIN, OWNER, SUPERUSER, PgServer  # noqa: E402

from benchmarks import bench_db  # noqa: E402
from benchmarks.startup import _env, _median_ms  # noqa: E402

DATABASE = "dispatcher"
# Parents before children, so the copy meets no missing foreign key.
TABLES = (
    "tenants", "sites", "site_settings", "users", "runs", "tour_instances", "drivers",
    "availability", "plan_versions", "assignments", "audit_results", "evidence_records",
    "repair_requests", "repair_request_ids", "approvals", "kill_switch_history", "audit_events",
)  # fmt: skip
SERIALS = ("runs", "plan_versions", "repair_requests", "approvals", "kill_switch_history")


def _install(venv: Path) -> Path:
    """A virtualenv with dispatcher[postgres] installed from this checkout, not editable."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"{ROOT}[postgres]"], check=True)
    return venv / "bin" / "dispatcher"


def _copy(sqlite_path: Path, server: PgServer) -> None:
    import psycopg

    with (
        closing(sqlite3.connect(sqlite_path)) as source,
        psycopg.connect(
            f"host=127.0.0.1 port={server.port} user={SUPERUSER} dbname={DATABASE}"
        ) as target,
    ):
        target.execute("SET session_replication_role = replica")  # a bulk load, not appends
        target.execute("SET TimeZone = 'UTC'")  # SQLite holds UTC timestamps without a zone
        for table in TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            with target.cursor().copy(f"COPY {table} ({names}) FROM STDIN".encode()) as copy:
                for row in source.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
        for table in SERIALS:
            target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 1))".encode()
            )
        target.execute("ANALYZE")


def measure(args: argparse.Namespace, work: Path) -> str:
    script = _install(work / "venv")
    big = bench_db.build(script, work / "big.db", runs=args.runs, events=args.events)
    server = PgServer()
    server.start()
    try:
        server.admin_sql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")
        owner = _env(big.path, DISPATCHER_DB=server.url(OWNER, DATABASE))
        subprocess.run([str(script), "db", "upgrade"], env=owner, check=True, capture_output=True)
        _copy(big.path, server)
        backends = {"SQLite": _env(big.path), "PostgreSQL": _env(big.path)}
        backends["PostgreSQL"]["DISPATCHER_DB"] = server.url(APP_LOGIN, DATABASE)
        d = str(script)
        cases = {
            "status": [d, "status"],
            "list-runs": [d, "list-runs"],
            "show-run (demo week, 1,483 assignments)": [d, "show-run", "RUN-20260112-002"],
            "audit log --limit 50": [d, "audit", "log", "--limit", "50"],
            f"audit verify ({big.events:,} events)": [d, "audit", "verify"],
        }
        lines = [
            f"{big.runs:,} runs at 40 sites, {big.events:,} audit events at LTS/WIEN; median of "
            f"{args.repeat} runs after {args.warmup}; PostgreSQL as the application login "
            "(row-level security on), server with fsync off.",
            "",
            "| command | SQLite ms | PostgreSQL ms |",
            "|---|---:|---:|",
        ]
        for label, argv in cases.items():
            times = [_median_ms(argv, env, args.repeat, args.warmup) for env in backends.values()]
            lines.append(f"| {label} | {times[0]:,.0f} | {times[1]:,.0f} |")
        return "\n".join(lines)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dispatcher-bench-pg-"))
    try:
        print(measure(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
