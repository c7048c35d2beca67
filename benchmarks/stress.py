"""`make stress`: the reliability suites at full size, figures appended to docs/reliability.md.

Runs `pytest tests/reliability` with DISPATCHER_STRESS=full; each suite writes a line of
figures (kills survived, outcomes, ...) that this script turns into a dated table.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
LOG_HEADING = "## Stress log (appended by `make stress`)"


def summarised(lines: list[str]) -> list[tuple[str, str]]:
    """One row per suite; the CLI fuzzer's row per parameter becomes one total row."""
    rows: list[tuple[str, str]] = []
    per_parameter: list[int] = []
    for name, _, figures in (line.partition("\t") for line in lines):
        if name.startswith("fuzz-cli "):
            per_parameter.append(int(figures.removeprefix("cases=")))
            continue
        rows.append((name, figures))
    if per_parameter:
        total = sum(per_parameter)
        rows.append(
            (
                "fuzz-cli",
                f"parameters={len(per_parameter)} "
                f"cases_per_parameter={max(per_parameter)} cases={total}",
            )
        )
    return sorted(rows, key=lambda row: row[0])


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "figures.txt"
        env = {**os.environ, "DISPATCHER_STRESS": "full", "DISPATCHER_STRESS_REPORT": str(report)}
        suite = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"],
            cwd=ROOT,
            env=env,
        )
        lines = report.read_text().splitlines() if report.exists() else []
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result = "passed" if suite.returncode == 0 else f"FAILED (pytest exit {suite.returncode})"
    out = [
        f"### {stamp} - {platform.node()}, Python {platform.python_version()}: {result}",
        "",
        "| suite | figures |",
        "|---|---|",
        *(f"| {name} | {figures} |" for name, figures in summarised(lines)),
    ]
    text = "\n".join(out)
    print(text)
    doc = DOC.read_text(encoding="utf-8")
    if LOG_HEADING not in doc:
        doc = doc.rstrip() + f"\n\n{LOG_HEADING}\n"
    DOC.write_text(doc.rstrip() + "\n\n" + text + "\n", encoding="utf-8")
    return suite.returncode


if __name__ == "__main__":
    raise SystemExit(main())
