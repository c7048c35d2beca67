"""A database that is not there (issue 21): a read names the path and creates nothing; a
command that starts a database creates it and says so. SQLite only: the file is the subject."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher.cli import wiring
from dispatcher.cli.app import app
from tests.samples import write_run

READS = (
    ("status",),
    ("list-runs",),
    ("show-run", "RUN-20260113-001"),
    ("roster", "RUN-20260113-001"),
    ("repairs", "list"),
    ("users", "list"),
    ("site", "show"),
    ("kill-switch", "status"),
    ("audit", "log"),
    ("audit", "verify"),
    ("db", "current"),
    ("db", "upgrade"),
    ("check", "RUN-20260113-001"),
)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    wiring.reset()
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", READS, ids=lambda args: " ".join(args))
def test_a_read_of_a_mistyped_path_names_it_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    typo = tmp_path / "depots" / "wein.db"  # neither the folder nor the file exists
    code, out, err = _run("--db", str(typo), *args)
    assert (code, out) == (1, "")
    assert err == (
        f"Error: No database at {typo}: check --db (or DISPATCHER_DB), or create one with "
        f"`dispatcher --db {typo} db init`\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_environment_s_path_is_checked_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCHER_DB", str(tmp_path / "missing.db"))
    code, _, err = _run("status")
    assert code == 1 and err.startswith(f"Error: No database at {tmp_path / 'missing.db'}:")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("args", [("status",), ("db", "init")], ids=["read", "create"])
def test_a_dangling_symbolic_link_is_not_followed_to_a_new_file(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "dispatcher.db"
    link.symlink_to(tmp_path / "elsewhere" / "target.db")
    code, _, err = _run("--db", str(link), *args)
    assert (code, err) == (
        1,
        f"Error: Cannot open database {link}: a symbolic link to a file that does not exist\n",
    )
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_command_that_starts_a_database_creates_it_and_says_so(tmp_path: Path) -> None:
    new = tmp_path / "graz" / "dispatcher.db"
    new.parent.mkdir()
    code, out, err = _run("--db", str(new), "import-run", str(write_run(tmp_path / "run.json")))
    assert code == 0, err
    assert err.startswith(f"Note: creating a new database at {new}\n")
    assert new.is_file()
    code, out, err = _run("--db", str(new), "list-runs")
    assert code == 0 and "RUN-" in out and err == ""


def test_db_init_creates_the_file_without_a_second_note(tmp_path: Path) -> None:
    new = tmp_path / "training.db"
    code, out, err = _run("--db", str(new), "db", "init")
    assert code == 0 and "Note:" not in err and out.startswith(f"Database {new} created")


def test_a_create_command_that_fails_leaves_no_file_and_no_folder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    typo = tmp_path / "depots" / "graz" / "dispatcher.db"
    code, _, err = _run("--db", str(typo), "import-run", str(bad))
    assert code == 1 and err.splitlines()[-1].startswith("Error: bad.json line 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_a_database_with_events_stays_when_a_later_step_fails(tmp_path: Path) -> None:
    kept = tmp_path / "kept.db"
    assert _run("--db", str(kept), "db", "init")[0] == 0
    code, _, _ = _run("--db", str(kept), "import-run", str(tmp_path / "missing.json"))
    assert code == 1 and kept.is_file()
