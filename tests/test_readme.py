"""The README's `Use` lines, run as printed on the database `make demo` builds (issue 19).

The demo is built the way the Makefile builds it (`dispatcher --db demo/dispatcher.db demo
--fresh --solve`), then the block runs as one bash script with the installed console script on
PATH, exactly as a newcomer pastes it (only `source .venv/bin/activate` is left out: the test
already runs inside the virtual environment).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def use_block() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use") :]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found is not None, "README has no sh block under ## Use"
    return found.group(1).splitlines()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCHER_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        COLUMNS="80",
        NO_COLOR="1",
        TERM="dumb",
        PYTHONIOENCODING="utf-8",
    )
    return env


@pytest.fixture(scope="module")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make demo` leaves: demo/dispatcher.db and demo/demo-files/."""
    where = tmp_path_factory.mktemp("make-demo")
    (where / "demo").mkdir()
    built = subprocess.run(
        ["dispatcher", "--db", "demo/dispatcher.db", "demo", "--fresh", "--solve"],
        cwd=where,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return where


@pytest.fixture
def checkout(demo_built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "checkout"
    shutil.copytree(demo_built, target)
    return target


def run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_readme_use_lines_run_as_printed_on_the_make_demo_database(checkout: Path) -> None:
    lines = [line for line in use_block() if not line.startswith("source ")]
    assert any(line.startswith("export DISPATCHER_NOW=") for line in lines)
    done = run("set -euo pipefail\n" + "\n".join(lines), checkout)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Applied REP-20260113063000: RUN-20260112-002 v2 created." in done.stdout
    assert "Locked RUN-20260112-002 v2" in done.stdout
    with (checkout / "w03.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 1400
    sick = [
        r for r in rows if r["driver_id"] == "D005" and r["date"] in ("2026-01-13", "2026-01-14")
    ]
    assert sick == []  # the exported roster no longer gives the sick driver his Tuesday tours
    assert any(r["driver_id"] == "D005" for r in rows)


def test_without_the_pinned_clock_the_sick_call_is_an_honest_refusal(checkout: Path) -> None:
    request = next(line for line in use_block() if line.startswith("dispatcher request-repair"))
    done = run(f"export DISPATCHER_DB=demo/dispatcher.db\n{request}", checkout)
    assert done.returncode == 1
    assert re.fullmatch(
        r"Error: Nothing to repair: every tour of D005 on Tue, Wed has started or is in the past "
        r"\(now \d{4}-\d\d-\d\d \d\d:\d\d Vienna\)\n",
        done.stderr,
    ), done.stderr
    listed = run("dispatcher --db demo/dispatcher.db repairs list --json", checkout)
    assert listed.stdout.strip() == "[]"
