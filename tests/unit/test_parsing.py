"""Input formats (domain.md §2): what is accepted, and one precise error for what is not."""

from __future__ import annotations

import json

import pytest

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.model import Week
from dispatcher.domain.parsing import (
    parse_availability_csv,
    parse_drivers_csv,
    parse_run_file,
    parse_tours_csv,
    parse_tours_json,
)

SPEC_TOURS = b"""tour_id,day,start,end,count,depot,skill,notes
T101,Mon,05:00,09:30,2,NORD,,
T102,Mon,10:15,14:45,1,NORD,,
T103,Mon,15:30,20:00,1,NORD,KUEHL,chilled
T201,Tue,22:30,03:00,1,SUED,,night run
T202,2,06:00,10:30,3,,,
T301,Wed,04:45,09:15,1,NORD,ADR,
"""


def test_spec_tour_example_expands_counts_and_crosses_midnight() -> None:
    tours = {t.tour_id: t for t in parse_tours_csv(SPEC_TOURS)}
    assert [i.instance_id for i in tours["T101"].instances()] == ["T101#1", "T101#2"]
    night = tours["T201"]
    assert (night.day, night.crosses_midnight, night.duration) == (2, True, 270)
    assert night.instances()[0].start == 1440 + 22 * 60 + 30
    assert tours["T103"].skill == "KUEHL" and tours["T103"].notes == "chilled"
    assert tours["T202"].depot is None and tours["T202"].count == 3


def test_semicolon_bom_blank_lines_free_column_order_and_german_days() -> None:
    data = "\ufeffend;start;tour_id;day\n\n09:30;5:00;A;Mi\n10:00;06:00;B;so\n".encode()
    tours = parse_tours_csv(data)
    assert [(t.tour_id, t.day, t.start) for t in tours] == [("A", 3, 300), ("B", 7, 360)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "T1,Xyz,05:00,09:00",
            "tours.csv line 2, field day: unknown day 'xyz' (use 1-7, Mon-Sun or Mo-So)",
        ),
        (
            "T1,Mon,24:00,09:00",
            "tours.csv line 2, field start: bad time '24:00' (use HH:MM, 00:00-23:59)",
        ),
        (
            "T1,Mon,05:61,09:00",
            "tours.csv line 2, field start: bad time '05:61' (use HH:MM, 00:00-23:59)",
        ),
        ("T1,Mon,05:00,05:00", "tours.csv line 2, field end: end equals start"),
        ("T1,Mon,05:00,21:01", "tours.csv line 2, field end: duration 961 min exceeds 960 min"),
        ("T1,Mon,05:00,09:00,0", "tours.csv line 2, field count: count '0' outside 1-99"),
        ("T1,Mon,05:00,09:00,100", "tours.csv line 2, field count: count '100' outside 1-99"),
        ("T 1,Mon,05:00,09:00", "tours.csv line 2, field tour_id: invalid tour_id 'T 1'"),
        ("T1,Mon,,09:00", "tours.csv line 2, field start: missing value"),
    ],
)
def test_bad_tour_rows_name_file_line_field_and_problem(row: str, message: str) -> None:
    data = f"tour_id,day,start,end,count\n{row}\n".encode()
    with pytest.raises(InvalidInput) as error:
        parse_tours_csv(data)
    assert error.value.message == message


def test_duplicate_tour_and_missing_column_and_empty_file() -> None:
    with pytest.raises(InvalidInput, match=r"duplicate tour_id T1"):
        parse_tours_csv(b"tour_id,day,start,end\nT1,1,05:00,09:00\nT1,2,05:00,09:00\n")
    with pytest.raises(InvalidInput, match=r"tours.csv line 1: missing column\(s\) end"):
        parse_tours_csv(b"tour_id,day,start\nT1,1,05:00\n")
    with pytest.raises(InvalidInput, match="no tours"):
        parse_tours_csv(b"tour_id,day,start,end\n")
    with pytest.raises(InvalidInput, match="empty file"):
        parse_tours_csv(b"   \n")


def test_malformed_csv_and_non_utf8_are_errors() -> None:
    with pytest.raises(InvalidInput, match=r"tours\.csv line 2: malformed CSV"):
        parse_tours_csv(b'tour_id,day,start,end\nT1,"Mon,05:00,09:00\n')
    with pytest.raises(InvalidInput, match="not UTF-8"):
        parse_tours_csv(b"tour_id,day,start,end\n\xff\xfe,1,05:00,09:00\n")


def test_drivers_csv_spec_example() -> None:
    data = b"""driver_id,name,skills,active,max_weekly_hours,depot
D001,Maria Berger,ADR|KUEHL,true,55,NORD
D002,Jonas Huber,,true,40,SUED
D003,Petra Wallner,KUEHL,false,55,NORD
D004,Emre Yilmaz,ADR,true,48.5,SUED
"""
    drivers = {d.driver_id: d for d in parse_drivers_csv(data)}
    assert drivers["D001"].skills == ("ADR", "KUEHL")
    assert drivers["D003"].active is False
    assert drivers["D004"].max_weekly_minutes == 2910
    assert drivers["D002"].max_weekly_minutes == 2400


@pytest.mark.parametrize(
    ("hours", "problem"),
    [
        ("56", "outside 0 < h <= 55"),
        ("0", "outside"),
        ("-3", "outside"),
        ("40.01", "whole number of minutes"),
        ("abc", "is not a number"),
        ("nan", "outside"),
    ],
)
def test_driver_hours_must_be_positive_at_most_55_and_whole_minutes(
    hours: str, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_drivers_csv(f"driver_id,name,max_weekly_hours\nD1,A,{hours}\n".encode())


def test_availability_date_must_be_in_the_week() -> None:
    week = Week(2026, 3)
    rows = parse_availability_csv(
        b"driver_id,date,status,note\nD004,2026-01-16,BLOCKED,training\n", week
    )
    assert rows[0].status == "BLOCKED"
    with pytest.raises(InvalidInput, match="2026-01-19 is not in week 2026-W03"):
        parse_availability_csv(b"driver_id,date,status\nD004,2026-01-19,SICK\n", week)


def _run_doc(**overrides: object) -> bytes:
    doc: dict[str, object] = {
        "format": "dispatcher.run/1",
        "tenant": "LTS",
        "site": "WIEN",
        "week": "2026-W03",
        "solver": {"name": "ext-planner", "version": "2.4.1", "seed": 7},
        "tours": [{"tour_id": "T101", "day": 1, "start": "05:00", "end": "09:30", "count": 2}],
        "drivers": [
            {"driver_id": "D001", "name": "Maria Berger", "skills": ["ADR"]},
            {"driver_id": "D002", "name": "Jonas Huber"},
        ],
        "assignments": [
            {"driver_id": "D001", "instance_id": "T101#1"},
            {"driver_id": "D002", "instance_id": "T101#2"},
        ],
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_run_file_spec_example() -> None:
    run = parse_run_file(_run_doc(), "run.json", "LTS", "WIEN")
    assert str(run.week) == "2026-W03"
    assert run.assignments == (("T101#1", "D001"), ("T101#2", "D002"))
    assert run.solver.name == "ext-planner" and run.solver.seed == 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"assignments": [{"driver_id": "D999", "instance_id": "T101#1"}]},
            "run.json at assignments[0], field driver_id: unknown driver D999",
        ),
        (
            {"assignments": [{"driver_id": "D001", "instance_id": "T101#3"}]},
            "run.json at assignments[0], field instance_id: unknown instance T101#3",
        ),
        (
            {
                "assignments": [
                    {"driver_id": "D001", "instance_id": "T101#1"},
                    {"driver_id": "D002", "instance_id": "T101#1"},
                ]
            },
            "run.json at assignments[1], field instance_id: T101#1 assigned twice",
        ),
        ({"site": "GRAZ"}, "run.json at site: file is for GRAZ, command acts on WIEN"),
        ({"week": "2026-W99"}, "run.json at week: Invalid week '2026-W99': 2026 has no week 99"),
        ({"tours": []}, "run.json: no tours"),
        (
            {"tours": [{"tour_id": "T1", "day": 9, "start": "05:00", "end": "09:00"}]},
            "run.json at tours[0], field day: unknown day '9' (use 1-7, Mon-Sun or Mo-So)",
        ),
        ({"solver": {"version": "1"}}, "run.json at solver, field name: missing value"),
        ({"format": "other/2"}, "run.json at format: expected 'dispatcher.run/1', found 'other/2'"),
    ],
)
def test_bad_run_files_name_json_path_and_problem(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_run_file(_run_doc(**overrides), "run.json", "LTS", "WIEN")
    assert error.value.message == message


def test_run_file_week_must_agree_with_option_and_json_must_be_well_formed() -> None:
    with pytest.raises(InvalidInput, match="file is for 2026-W03, --week says 2026-W04"):
        parse_run_file(_run_doc(), "run.json", "LTS", "WIEN", Week(2026, 4))
    with pytest.raises(InvalidInput, match=r"run\.json line 1: malformed JSON"):
        parse_run_file(b'{"format": ', "run.json", "LTS", "WIEN")
    with pytest.raises(InvalidInput, match="JSON constant NaN"):
        parse_run_file(b'{"x": NaN}', "run.json", "LTS", "WIEN")


def test_json_with_an_unpaired_surrogate_escape_is_refused_and_pairs_are_fine() -> None:
    doc = json.loads(_run_doc())
    doc["drivers"][0]["name"] = "Maria \udcff"
    unpaired = json.dumps(doc).encode()  # ensure_ascii writes the escape \\udcff
    assert b"\\udcff" in unpaired
    with pytest.raises(InvalidInput) as error:
        parse_run_file(unpaired, "run.json", "LTS", "WIEN")
    assert error.value.message == "run.json: a string holds an unpaired surrogate escape (\\udxxx)"
    doc["drivers"][0]["name"] = "Maria \U0001f69a"  # written as the pair \\ud83d\\ude9a
    parsed = parse_run_file(json.dumps(doc).encode(), "run.json", "LTS", "WIEN")
    assert parsed.drivers[0].name == "Maria \U0001f69a"


def test_tours_json_spec_example() -> None:
    data = json.dumps(
        {
            "week": "2026-W03",
            "tenant": "LTS",
            "site": "WIEN",
            "tours": [
                {
                    "tour_id": "T101",
                    "day": 1,
                    "start": "05:00",
                    "end": "09:30",
                    "count": 2,
                    "depot": "NORD",
                },
                {"tour_id": "T201", "day": "Tue", "start": "22:30", "end": "03:00"},
            ],
        }
    ).encode()
    week, tours = parse_tours_json(data, "tours.json", "LTS", "WIEN")
    assert str(week) == "2026-W03"
    assert [(t.tour_id, t.count, t.crosses_midnight) for t in tours] == [
        ("T101", 2, False),
        ("T201", 1, True),
    ]
