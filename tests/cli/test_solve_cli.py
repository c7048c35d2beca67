"""`solve` through the CLI: CSVs in, a stored and audited run out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

TOURS = """tour_id,day,start,end,count,depot,skill
T101,Mon,05:00,09:30,2,NORD,
T102,Mon,10:15,14:45,2,NORD,
T103,Tue,05:00,09:30,2,NORD,
T104,Tue,10:15,14:45,1,NORD,
T105,Wed,06:00,10:00,1,NORD,KUEHL
T201,Tue,22:30,03:00,1,SUED,
"""
DRIVERS = """driver_id,name,skills,max_weekly_hours
D001,Maria Berger,KUEHL,55
D002,Jonas Huber,,40
D003,Petra Wallner,,55
"""


def solve_args(files: tuple[Path, Path], week: str = "2026-W03") -> list[str]:
    tours, drivers = files
    return ["solve", "--week", week, "--tours", str(tours), "--drivers", str(drivers)]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    tours, drivers = tmp_path / "tours.csv", tmp_path / "drivers.csv"
    tours.write_text(TOURS)
    drivers.write_text(DRIVERS)
    return tours, drivers


def test_solve_stores_an_audited_run_and_writes_the_run_file(
    cli: Cli, files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run.json"
    result = cli(*solve_args(files), "--out", str(out), "--time-limit", "10", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["run_id"], data["covered"], data["instances"]) == ("RUN-20260113-001", 9, 9)
    assert data["reproduced"] is True
    assert data["lower_bound"]["value"] <= data["drivers_used"] <= 3
    detail = json.loads(cli("show-run", data["run_id"], "--json").stdout)
    assert detail["audits_passed"] == 7 and detail["origin"] == "solve"
    assert detail["solver"]["name"] == "dispatcher-weekly"
    again = cli("import-run", str(out), "--json")
    assert again.exit_code == 0, again.output
    first = json.loads(cli("evidence", "verify", data["run_id"], "--json").stdout)
    assert first["ok"] is True
    events = json.loads(cli("audit", "log", "--action", "run.solve", "--json").stdout)
    assert [e["run_id"] for e in events] == [data["run_id"]]


def test_bad_forecast_is_one_line_and_stores_nothing(cli: Cli, files: tuple[Path, Path]) -> None:
    files[0].write_text("tour_id,day,start,end\nT1,Mon,05:00,05:00\n")
    result = cli(*solve_args(files))
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: tours.csv line 2, field end: end equals start\n",
    )
    assert cli("list-runs", "--json").stdout.strip() == "[]"


def test_existing_out_file_is_refused_before_solving(
    cli: Cli, files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "exists.json"
    out.write_text("{}")
    result = cli(*solve_args(files), "--out", str(out))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {out} already exists; choose another --out\n",
    )


def test_from_two_csv_files_to_an_export(
    site: Cli, files: tuple[Path, Path], tmp_path: Path
) -> None:
    solved = json.loads(site(*solve_args(files, "2026-W04"), "--time-limit", "10", "--json").stdout)
    run = solved["run_id"]
    assert json.loads(site("show-run", run, "--json").stdout)["audits_passed"] == 7
    approve = ("--override-reason", "First solved week: nothing locked to compare with")
    assert (
        site(
            "publish",
            run,
            "--approver",
            "disp001",
            "--role",
            "dispatcher",
            "--reason",
            "Solved week reviewed, all audits pass",
            *approve,
        ).exit_code
        == 0
    )
    assert (
        site(
            "lock",
            run,
            "--approver",
            "ops001",
            "--role",
            "ops_lead",
            "--reason",
            "Approved for export to dispatch system",
            *approve,
        ).exit_code
        == 0
    )
    exported = site("export", run, "--format", "csv", "--out", str(tmp_path / "w04.csv"))
    assert exported.exit_code == 0, exported.output
    assert len((tmp_path / "w04.csv").read_text().splitlines()) == 1 + 9


def test_parallel_searches_repeat_and_bad_worker_counts_are_refused(
    cli: Cli, files: tuple[Path, Path]
) -> None:
    base = solve_args(files)
    solved = [cli(*base, "--workers", "2", "--time-limit", "5", "--json") for _ in range(2)]
    assert all(s.exit_code == 0 for s in solved), solved[0].output
    first, second = (json.loads(s.stdout) for s in solved)
    assert first["reproduced"] is True and first["covered"] == 9
    plans = [
        json.loads(cli("roster", r["run_id"], "--json").stdout)["rows"] for r in (first, second)
    ]
    assert plans[0] == plans[1]
    refused = cli(*base, "--workers", "0")
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: --workers must be between 1 and 16\n",
    )
    assert "RUN-20260113-003" not in cli("list-runs").stdout
    for odd in ("nan", "inf", "-1", "0", "3601", "1e9"):
        refused = cli(*base, "--time-limit", odd)
        assert (refused.exit_code, refused.stderr) == (
            1,
            "Error: --time-limit must be a number of seconds above 0 and at most 3600\n",
        ), odd
    assert "RUN-20260113-003" not in cli("list-runs").stdout
