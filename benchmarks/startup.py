"""Start-up and scale benchmark: whole-process timings of the installed `dispatcher` script.

A fresh virtualenv gets a non-editable install of this checkout; a benchmark database gets the
demo site and week, 10,000 runs (40 sites x 5 years) and 1,000,000 audit events in a valid chain
(`bench_db.py`). Every figure is the median of `--repeat` runs after `--warmup` runs, next to
`python -c pass` of the same interpreter measured in the same session, with its target ratio.

    python benchmarks/startup.py [--repeat 15] [--warmup 2] [--runs 10000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bench_db  # noqa: E402

NOW = "2026-01-14T08:00:00Z"  # before the weeks the timed imports, publishes and locks act on
REASON = "Week reviewed: all audits pass, KPIs within thresholds."
# What `audit verify` cannot do with less: read every body of WIEN's chain in order and hash it
# (issue 20's yardstick: verify within 1.5x of this, measured in the same run).
BARE_HASH = (
    "import hashlib, sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[1])\n"
    "for (body,) in con.execute(\"SELECT body FROM audit_events WHERE tenant_id = 'LTS' "
    "AND site_id = 'WIEN' ORDER BY seq\"):\n"
    "    hashlib.sha256(body.encode()).hexdigest()\n"
)


@dataclass(frozen=True)
class Figure:
    label: str
    millis: float
    target: str
    met: bool


def _install(venv: Path) -> Path:
    """A virtualenv with dispatcher installed from this checkout, not editable."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, str(ROOT)], check=True)
    script = venv / "bin" / "dispatcher"
    assert script.is_file(), "install made no dispatcher script"
    return script


def _median_ms(
    argv: Sequence[str] | Callable[[int], Sequence[str]],
    env: dict[str, str],
    repeat: int,
    warmup: int,
    before: Callable[[], None] | None = None,
) -> float:
    """Median wall time of `repeat` runs after `warmup` runs; `argv(i)` varies per run and
    `before()` runs untimed before each."""
    samples = []
    for i in range(warmup + repeat):
        args = argv(i) if callable(argv) else argv
        if before is not None:
            before()
        start = time.perf_counter()
        proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()}")
        if i >= warmup:
            samples.append(elapsed)
    return statistics.median(samples)


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "_DISPATCHER"))}
    cache = str(db.parent / "cache")
    env.update(
        {"DISPATCHER_DB": str(db), "NO_COLOR": "1", "COLUMNS": "100", "XDG_CACHE_HOME": cache},
        **extra,
    )
    return env


def _week_files(template: Path, out: Path, count: int) -> list[tuple[Path, str]]:
    """The demo's W03 run file moved to every other week from W10 (no adjacent locked week),
    absences shifted with it: one fresh week per timed import, publish and lock."""
    doc = json.loads(template.read_text())
    files = []
    for n in range(count):
        week = 10 + 2 * n
        shift = timedelta(weeks=week - 3)
        moved = {
            **doc,
            "week": f"2026-W{week:02d}",
            "availability": [
                {**a, "date": (date.fromisoformat(a["date"]) + shift).isoformat()}
                for a in doc["availability"]
            ],
        }
        path = out / f"run-2026-W{week:02d}.json"
        path.write_text(json.dumps(moved))
        files.append((path, f"2026-W{week:02d}"))
    return files


def _imported_runs(script: Path, env: dict[str, str], weeks: Sequence[str]) -> list[str]:
    listed = subprocess.run(
        [str(script), "list-runs", "--json", "--limit", "500"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    by_week = {r["week"]: r["run_id"] for r in json.loads(listed.stdout)}
    return [by_week[week] for week in weeks]


def measure(args: argparse.Namespace, work: Path) -> tuple[list[Figure], list[str]]:
    script = _install(work / "venv")
    python = str(work / "venv" / "bin" / "python")
    repeat, warmup = args.repeat, args.warmup
    notes = []
    big = bench_db.build(script, work / "big.db", runs=args.runs, events=args.events)
    small = bench_db.build(script, work / "small.db", runs=100, events=10_000)
    notes.append(
        f"Large database: {big.runs:,} runs, {big.events:,} audit events at LTS/WIEN, "
        f"{big.path.stat().st_size / 1e9:.2f} GB; "
        f"small: {small.runs} runs, {small.events:,} events."
    )
    env = _env(big.path)
    baseline = _median_ms([python, "-c", "pass"], env, repeat, warmup)
    figures: list[Figure] = []

    def add(label: str, millis: float, limit: float | None, seconds: float | None = None) -> None:
        if seconds is not None:
            figures.append(Figure(label, millis, f"<= {seconds:g} s", millis <= seconds * 1000))
        elif limit is not None:
            figures.append(Figure(label, millis, f"<= {limit:g}x", millis <= limit * baseline))
        else:
            figures.append(Figure(label, millis, "none set", True))

    add("python -c pass (baseline)", baseline, 1)
    d = str(script)
    add("dispatcher --version", _median_ms([d, "--version"], env, repeat, warmup), 3)
    add("dispatcher --help", _median_ms([d, "--help"], env, repeat, warmup), 15)
    tab_commands = _env(
        big.path, _DISPATCHER_COMPLETE="complete_bash", COMP_WORDS="dispatcher s", COMP_CWORD="1"
    )
    add("TAB: command names", _median_ms([d], tab_commands, repeat, warmup), 2)
    tab_ids = _env(
        big.path,
        _DISPATCHER_COMPLETE="complete_bash",
        COMP_WORDS="dispatcher show-run RUN-2026",
        COMP_CWORD="2",
    )
    add("TAB: run ids", _median_ms([d], tab_ids, repeat, warmup), 2)
    for db in (small, big):
        scale = f"{db.runs:,} runs, {db.events:,} events"
        add(f"status ({scale})", _median_ms([d, "status"], _env(db.path), repeat, warmup), 30)
        add(f"list-runs ({scale})", _median_ms([d, "list-runs"], _env(db.path), repeat, warmup), 30)
    show = [d, "show-run", "RUN-20260112-002"]
    add("show-run (demo week, 1,483 assignments)", _median_ms(show, env, repeat, warmup), 40)
    bare = _median_ms([python, "-c", BARE_HASH, str(big.path)], env, repeat, warmup)
    add(f"bare read-and-hash of the same bodies ({big.events:,})", bare, None)
    verify = _median_ms([d, "audit", "verify"], env, repeat, warmup)
    label = f"audit verify ({big.events:,} events)"
    figures.append(Figure(label, verify, "<= 1.5x bare", verify <= 1.5 * bare))

    count = warmup + repeat
    files = _week_files(big.files / "run-2026-W03.json", work, count)
    weekly = _env(big.path, DISPATCHER_NOW=NOW)
    add(
        "import-run (demo week)",
        _median_ms(lambda i: [d, "import-run", str(files[i][0])], weekly, repeat, warmup),
        None,
    )
    runs = _imported_runs(script, weekly, [week for _, week in files])
    publish = [
        "--approver",
        "disp001",
        "--role",
        "dispatcher",
        "--reason",
        REASON,
    ]
    add(
        "publish",
        _median_ms(lambda i: [d, "publish", runs[i], *publish], weekly, repeat, warmup),
        50,
    )
    lock = ["--approver", "ops001", "--role", "ops_lead", "--reason", REASON]
    add("lock", _median_ms(lambda i: [d, "lock", runs[i], *lock], weekly, repeat, warmup), 50)
    notes.append(
        f"Each of import-run, publish and lock acted on {count} different weeks (W10, W12, ...)."
    )
    return figures, notes


def report(figures: Sequence[Figure], notes: Sequence[str], repeat: int, warmup: int) -> str:
    baseline = figures[0].millis
    lines = [
        f"Median of {repeat} runs after {warmup} warm-up runs, non-editable install, "
        f"ratios to `python -c pass` ({baseline:.1f} ms) measured in the same session.",
        "",
        "| figure | ms | x python | target | met |",
        "|---|---:|---:|---|---|",
    ]
    for f in figures:
        ratio = f.millis / baseline
        lines.append(
            f"| {f.label} | {f.millis:,.0f} | {ratio:.1f}x | {f.target} | "
            f"{('yes' if f.met else '**no**') if f.target != 'none set' else '-'} |"
        )
    lines += ["", *notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="dispatcher-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        figures, notes = measure(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(report(figures, notes, args.repeat, args.warmup))


if __name__ == "__main__":
    main()
