"""`roster`: the week matrix, one day's timeline, filters and JSON (sample week)."""

from __future__ import annotations

import json
from pathlib import Path

from dispatcher.cli.views.roster import timeline_bar
from dispatcher.services.roster import Tour
from tests.conftest import Cli
from tests.samples import VALID_ASSIGNMENTS, run_doc, write_run

RUN = "RUN-20260113-001"


def _import(cli: Cli, tmp_path: Path, pairs: list[tuple[str, str]] | None = None) -> None:
    assert (
        cli("import-run", str(write_run(tmp_path / "r.json", run_doc(assignments=pairs)))).exit_code
        == 0
    )


def test_matrix_shows_blocks_hours_and_violations_in_place(cli: Cli, tmp_path: Path) -> None:
    pairs = [p for p in VALID_ASSIGNMENTS if p[0] not in ("T301#1", "T202#3")] + [
        ("T301#1", "D005")
    ]
    _import(cli, tmp_path, pairs)
    out = cli("roster", RUN, "--page-size", "0").stdout
    assert f"{RUN} v1 - 2026-W03 - 5 drivers" in out
    assert "05:00-20:00" in out and "3er" in out  # D001's Monday: T101, T102, T103
    assert "13.5 h" in out
    assert "! MISSING_SKILL" in out  # D005 drives the ADR tour on Wednesday
    assert "Not covered (1):" in out and "Tue T202#3 06:00-10:30" in out


def test_filters_pages_and_json(cli: Cli, tmp_path: Path) -> None:
    _import(cli, tmp_path)
    data = json.loads(cli("roster", RUN, "--driver", "D002", "--json").stdout)
    [row] = data["rows"]
    assert row["driver_id"] == "D002" and sorted(row["cells"]) == ["1", "2"]
    night = row["cells"]["2"]["tours"][0]
    assert (night["instance_id"], night["start_minute"], night["end_minute"]) == (
        "T201#1",
        1350,
        1620,
    )
    tuesday = json.loads(cli("roster", RUN, "--day", "tue", "--json").stdout)
    assert [r["driver_id"] for r in tuesday["rows"]] == ["D002", "D004", "D005", "D006"]
    paged = json.loads(cli("roster", RUN, "--page-size", "2", "--page", "3", "--json").stdout)
    assert (paged["pages"], paged["total_rows"], len(paged["rows"])) == (3, 5, 1)


def test_timeline_draws_tours_pauses_and_midnight(cli: Cli, tmp_path: Path) -> None:
    _import(cli, tmp_path)
    out = cli("roster", RUN, "--day", "Tue", "--timeline").stdout
    line = next(x for x in out.splitlines() if x.startswith("D002"))
    bar = line.split("|")[1]
    assert bar[45:54] == "#########"  # 22:30 to 03:00 next day, 30 minutes a character
    assert "2er-reg" not in line and "1er" in line


def test_timeline_bar_marks_driving_and_breaks() -> None:
    tours = [
        Tour("A#1", "05:00", "09:30", 300, 570, None),
        Tour("B#1", "10:15", "14:45", 615, 885, None),
    ]
    bar = timeline_bar(tours)
    assert len(bar) == 60  # 00:00 to 06:00 next day
    assert bar[:10] == " " * 10  # nothing before 05:00
    assert bar[10:19] == "#" * 9  # 05:00-09:30
    assert bar[19] == "."  # the pause
    assert bar[20:30] == "#" * 10  # 10:00-15:00 slots hold 10:15-14:45
    assert bar[30:] == " " * 30


def test_bad_roster_requests_are_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    _import(cli, tmp_path)
    cases = [
        (("--timeline",), "Error: --timeline needs --day\n"),
        (("--day", "Funday"), "Error: Unknown day 'Funday': use Mon-Sun or 1-7\n"),
        (("--driver", "D999"), f"Error: Driver D999 has no tours in {RUN} v1\n"),
        (("--page", "9"), "Error: Page 9 does not exist: there are 1\n"),
    ]
    for args, message in cases:
        result = cli("roster", RUN, *args)
        assert (result.exit_code, result.stderr) == (1, message)
