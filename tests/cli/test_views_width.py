"""The views' sections are renderables a test can measure: show-run of the demo week (solved,
7 audits, KPIs, drift, checklist) at 80 columns, each section and the whole screen within the
width, and every run id whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app

WIDTH = 80
DEMO_NOW = "2026-01-13T06:30:00+01:00"  # the demo week's Tuesday morning (README)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    built = _run(db, "demo", "--fresh", "--solve")
    assert built.exit_code == 0, built.output
    yield db


def _run(db: Path, *args: str) -> Any:
    env = {"DISPATCHER_DB": str(db), "DISPATCHER_NOW": DEMO_NOW, "COLUMNS": str(WIDTH),
           "NO_COLOR": "1"}  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    wiring.reset()
    return result


def _run_id(db: Path) -> str:
    listed = _run(db, "list-runs")
    found = re.search(r"RUN-\d{8}-\d{3}", listed.stdout)
    assert found is not None, listed.stdout
    return found.group(0)


def test_show_run_of_the_demo_week_fits_80_columns(demo: Path) -> None:
    run_id = _run_id(demo)
    shown = _run(demo, "show-run", run_id)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_wide, too_wide
    assert any(run_id in line for line in lines)
    for title in ("Audits", "KPIs", "KPI drift"):
        assert any(line.startswith(title) for line in lines), title


def test_each_section_is_a_renderable_within_the_width(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.cli.views import runs as view
    from dispatcher.config import Settings
    from dispatcher.services.review import show_run

    run_id = _run_id(demo)
    monkeypatch.setenv("DISPATCHER_NOW", DEMO_NOW)
    detail = show_run(wiring.unit_of_work(Settings(db=str(demo)), write=True), run_id, None)
    wiring.reset()
    for section in (
        view.audits_table(detail),
        view.kpi_table(detail.kpis),
        view.drift_table(detail),
        view.checklist_table(detail),
    ):
        console = Console(width=WIDTH, record=True, color_system=None)
        console.print(section)
        text = console.export_text()
        assert text.strip(), section
        assert max(cell_len(line) for line in text.splitlines()) <= WIDTH, text


def test_evidence_hashes_stand_whole_on_their_own_line(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """import-run, evidence verify and evidence export print a 71-column hash under its label:
    beside it the line was 81 to 84 columns and wrapped in the middle of the hash."""
    import hashlib
    import shutil

    from tests.samples import write_run

    monkeypatch.chdir(tmp_path)  # the pack is written to ./pack
    db = tmp_path / "copy.db"
    shutil.copy(demo, db)
    run_id = _run_id(db)
    outputs = [
        _run(db, "import-run", str(write_run(tmp_path / "run.json"))),
        _run(db, "evidence", "verify", run_id),
        _run(db, "evidence", "export", run_id, "--out", "pack"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert all(cell_len(line) <= WIDTH for line in lines), lines
        hashes = [line for line in lines if re.fullmatch(r"  sha256:[0-9a-f]{64}", line)]
        assert hashes, lines
    files = outputs[2].stdout.splitlines()[-4:]  # what sha256sum -c reads, in the folder
    for line in files:
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "pack" / name).read_bytes()).hexdigest() == digest
