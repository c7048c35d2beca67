"""Small run files for integration and CLI tests (the spec's example week, made valid)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

RUN = "RUN-20260113-001"
PUBLISH_OK = ("--approver", "disp001", "--role", "dispatcher", "--reason", "Week 2026-W03 reviewed")
OVERRIDE = ("--override-reason", "No locked earlier week to compare with")
LOCK_OK = (
    "--approver",
    "ops001",
    "--role",
    "ops_lead",
    "--reason",
    "Approved for export to dispatch",
)

# Expected values below are worked out by hand from domain.md, not by the code under test.
VALID_ASSIGNMENTS = [
    ("T101#1", "D001"),
    ("T102#1", "D001"),
    ("T101#2", "D002"),
    ("T103#1", "D001"),
    ("T201#1", "D002"),
    ("T202#1", "D004"),
    ("T202#2", "D006"),
    ("T202#3", "D005"),
    ("T301#1", "D004"),
]


def run_doc(assignments: list[tuple[str, str]] | None = None, **overrides: Any) -> dict[str, Any]:
    pairs = VALID_ASSIGNMENTS if assignments is None else assignments
    doc: dict[str, Any] = {
        "format": "dispatcher.run/1",
        "tenant": "LTS",
        "site": "WIEN",
        "week": "2026-W03",
        "solver": {"name": "ext-planner", "version": "2.4.1", "seed": 7},
        "tours": [
            {
                "tour_id": "T101",
                "day": 1,
                "start": "05:00",
                "end": "09:30",
                "count": 2,
                "depot": "NORD",
            },
            {"tour_id": "T102", "day": "Mon", "start": "10:15", "end": "14:45", "depot": "NORD"},
            {"tour_id": "T103", "day": "Mon", "start": "15:30", "end": "20:00", "skill": "KUEHL"},
            {
                "tour_id": "T201",
                "day": "Tue",
                "start": "22:30",
                "end": "03:00",
                "notes": "night run",
            },
            {"tour_id": "T202", "day": 2, "start": "06:00", "end": "10:30", "count": 3},
            {"tour_id": "T301", "day": "Wed", "start": "04:45", "end": "09:15", "skill": "ADR"},
        ],
        "drivers": [
            {"driver_id": "D001", "name": "Maria Berger", "skills": ["ADR", "KUEHL"]},
            {"driver_id": "D002", "name": "Jonas Huber", "max_weekly_hours": 40},
            {"driver_id": "D003", "name": "Petra Wallner", "skills": ["KUEHL"], "active": False},
            {
                "driver_id": "D004",
                "name": "Emre Yilmaz",
                "skills": ["ADR"],
                "max_weekly_hours": 48.5,
            },
            {"driver_id": "D005", "name": "Lukas Gruber"},
            {"driver_id": "D006", "name": "Anna Bauer", "depot": "SUED"},
        ],
        "availability": [
            {"driver_id": "D004", "date": "2026-01-16", "status": "BLOCKED", "note": "training"}
        ],
        "assignments": [{"instance_id": i, "driver_id": d} for i, d in pairs],
    }
    doc.update(overrides)
    return doc


def output_hash_of(pairs: list[tuple[str, str]]) -> str:
    """The spec's output hash, computed independently: sorted pairs, compact sorted JSON."""
    ordered = sorted(pairs, key=lambda p: (p[0].rsplit("#", 1)[0], int(p[0].rsplit("#", 1)[1])))
    text = json.dumps([list(p) for p in ordered], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_run(path: Path, doc: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps(doc or run_doc()), encoding="utf-8")
    return path
