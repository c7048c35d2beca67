"""Every path the tool writes (issue 17, item 7): a planted symbolic link is refused, never
written through; a name that appears while a command works is never replaced; the files of one
command are placed all or nothing; the audit trail records only what is in place."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatcher.cli import wiring
from dispatcher.domain.errors import DatabaseBusy
from dispatcher.services import files
from tests.cli.test_solve_cli import DRIVERS, TOURS
from tests.conftest import Cli, CliResult
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN

SENTINEL = b"sentinel: must never change\n"
THEIRS = b"someone else's file, put there while the command worked\n"


@dataclass(frozen=True)
class Writer:
    """A writing command; `names` are the paths it is given or derives (where links get planted),
    `placed` the files it links into place."""

    args: list[str]
    names: list[Path]
    placed: list[Path]
    option: str = "--out"


def _export(inputs: Path, out: Path) -> Writer:
    paths = [out / "w03.csv", out / "w03.csv.manifest.json"]
    return Writer(["export", RUN, "--out", str(paths[0])], paths, paths)


def _solve(inputs: Path, out: Path) -> Writer:
    args = ["solve", "--week", "2026-W03", "--tours", str(inputs / "tours.csv")]
    args += ["--drivers", str(inputs / "drivers.csv"), "--time-limit", "5", "--no-recheck"]
    return Writer([*args, "--out", str(out / "run.json")], [out / "run.json"], [out / "run.json"])


def _report(inputs: Path, out: Path) -> Writer:
    target = out / "report.html"
    return Writer(["report", RUN, "--out", str(target)], [target], [target])


def _evidence(inputs: Path, out: Path) -> Writer:
    folder = out / "evidence"
    names = ("evidence.json", "roster.txt", "approvals.json", "manifest.json")
    args = ["evidence", "export", RUN, "--out", str(folder)]
    return Writer(args, [folder], [folder / name for name in names])


def _checkpoint(inputs: Path, out: Path) -> Writer:
    target = out / "checkpoint.json"
    args = ["audit", "checkpoint", "--key", str(inputs / "audit.key"), "--out", str(target)]
    return Writer(args, [target], [target])


def _keygen(inputs: Path, out: Path) -> Writer:
    paths = [out / "signing.key", out / "signing.key.pub"]
    return Writer(["audit", "keygen", "--out", str(paths[0])], paths, paths)


def _backup(inputs: Path, out: Path) -> Writer:
    target = out / "copy.db"
    return Writer(["db", "backup", str(target)], [target], [target], "backup file")


WRITERS: dict[str, Callable[[Path, Path], Writer]] = {
    "export": _export,
    "solve": _solve,
    "report": _report,
    "evidence": _evidence,
    "checkpoint": _checkpoint,
    "keygen": _keygen,
}
EVERY_NAME = [(name, i) for name, n in (("export", 2), ("keygen", 2)) for i in range(n)]
EVERY_NAME += [(name, 0) for name in ("solve", "report", "evidence", "checkpoint")]
EVERY_PLACED = [(name, 0) for name in ("solve", "report", "checkpoint")]
EVERY_PLACED += [("export", 0), ("export", 1), ("keygen", 0), ("keygen", 1)]
EVERY_PLACED += [("evidence", i) for i in range(4)]


@pytest.fixture
def inputs(site: Cli, tmp_path: Path) -> Path:
    """The site's run published and locked; a forecast, a driver list and a signing key."""
    assert site("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert site("lock", RUN, *LOCK_OK, *OVERRIDE).exit_code == 0
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "tours.csv").write_text(TOURS)
    (folder / "drivers.csv").write_text(DRIVERS)
    assert site("audit", "keygen", "--out", str(folder / "audit.key")).exit_code == 0
    return folder


def _pointees(tmp_path: Path, backend: str) -> dict[str, Path]:
    """What planted links point at: a file of the user's, nothing yet, an empty folder, the
    database itself."""
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_bytes(SENTINEL)
    (tmp_path / "elsewhere").mkdir()
    kinds = {"sentinel": sentinel, "dangling": tmp_path / "nothing-here-yet"}
    kinds["folder"] = tmp_path / "elsewhere"
    if backend == "sqlite":
        kinds["database"] = tmp_path / "dispatcher.db"
    return kinds


def _digests(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def _events(cli: Cli, action: str) -> list[dict[str, Any]]:
    result = cli("audit", "log", "--action", action, "--json")
    assert result.exit_code == 0, result.output
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _runs(cli: Cli) -> list[str]:
    return [r["run_id"] for r in json.loads(cli("list-runs", "--json").stdout)]


def _one_error_line(result: CliResult, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {message}\n"
    assert "Traceback" not in result.output


def _appeared(path: Path) -> str:
    return f"{path} appeared while it was being written; left as it is, nothing written"


def _assert_chain_intact(cli: Cli) -> None:
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


# --- symbolic links planted before the command -------------------------------------------------


def _refuses_planted_links(
    cli: Cli,
    make: Callable[[Path, Path], Writer],
    index: int,
    inputs: Path,
    pointees: dict[str, Path],
) -> None:
    watched = list(pointees.values())
    for kind, pointee in pointees.items():
        out = inputs.parent / f"out-{kind}"
        out.mkdir()
        writer = make(inputs, out)
        planted = writer.names[index]
        planted.symlink_to(pointee)
        before = _digests(watched)
        result = cli(*writer.args)
        _one_error_line(result, f"{planted} is a symbolic link; choose another {writer.option}")
        assert result.stdout == ""
        assert os.listdir(out) == [planted.name], kind  # nothing else written, no temporary left
        assert os.readlink(planted) == str(pointee)
        assert _digests(watched) == before, kind  # the link's target has the same bytes
        assert not pointees["dangling"].exists()
        assert os.listdir(pointees["folder"]) == []


@pytest.mark.parametrize(("name", "index"), EVERY_NAME, ids=[f"{n}-{i}" for n, i in EVERY_NAME])
def test_a_symlink_planted_at_any_output_is_refused_and_its_target_untouched(
    inputs: Path, site: Cli, tmp_path: Path, backend: str, name: str, index: int
) -> None:
    _refuses_planted_links(site, WRITERS[name], index, inputs, _pointees(tmp_path, backend))
    _assert_chain_intact(site)


@pytest.mark.sqlite_only
def test_a_symlink_planted_at_a_backup_target_or_a_new_database_is_refused(
    inputs: Path, site: Cli, tmp_path: Path
) -> None:
    pointees = _pointees(tmp_path, "sqlite")
    _refuses_planted_links(site, _backup, 0, inputs, pointees)
    backup = tmp_path / "good.db"
    assert site("db", "backup", str(backup)).exit_code == 0
    planted = tmp_path / "restored.db"
    planted.symlink_to(pointees["dangling"])
    restored = site("--db", str(planted), "db", "restore", str(backup))
    _one_error_line(restored, f"{planted} is a symbolic link; choose another --db")
    assert not pointees["dangling"].exists()
    _assert_chain_intact(site)


def test_export_no_longer_writes_through_the_old_fixed_temporary_names(
    inputs: Path, site: Cli, tmp_path: Path, backend: str
) -> None:
    pointees = _pointees(tmp_path, backend)
    watched = [pointees["sentinel"]]  # the database changes: it records each export
    for kind, pointee in pointees.items():
        out = tmp_path / f"out-{kind}"
        out.mkdir()
        old_temps = [out / ".w03.csv.partial", out / ".w03.csv.manifest.json.partial"]
        for temp in old_temps:
            temp.symlink_to(pointee)
        before = _digests(watched)
        result = site("export", RUN, "--out", str(out / "w03.csv"))
        assert result.exit_code == 0, result.output
        assert _digests(watched) == before, kind
        assert all(os.readlink(temp) == str(pointee) for temp in old_temps)
        assert not pointees["dangling"].exists() and os.listdir(pointees["folder"]) == []
        exported = (out / "w03.csv").read_bytes()
        manifest = json.loads((out / "w03.csv.manifest.json").read_text())
        assert manifest["sha256"] == hashlib.sha256(exported).hexdigest()
        assert sorted(os.listdir(out)) == sorted(
            [
                ".w03.csv.partial",
                ".w03.csv.manifest.json.partial",
                "w03.csv",
                "w03.csv.manifest.json",
            ]
        )
        _assert_chain_intact(site)  # the database pointed at is still a database, chain whole
    assert len(_events(site, "export")) == len(pointees)


# --- a name that appears while the command works ------------------------------------------------


@pytest.mark.parametrize("which", [0, 1], ids=["file", "manifest"])
@pytest.mark.parametrize("appears", ["file", "symlink"])
def test_a_file_appearing_during_an_export_survives_and_no_event_is_recorded(
    inputs: Path,
    site: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    which: int,
    appears: str,
) -> None:
    from dispatcher.services import decisions

    out = tmp_path / "out"
    out.mkdir()
    writer = _export(inputs, out)
    target, sentinel = writer.placed[which], tmp_path / "sentinel.txt"
    sentinel.write_bytes(SENTINEL)
    render = decisions._render_export

    def render_then_plant(*args: Any, **kwargs: Any) -> bytes:  # after the path checks
        if appears == "file":
            target.write_bytes(THEIRS)
        else:
            target.symlink_to(sentinel)
        return render(*args, **kwargs)

    monkeypatch.setattr(decisions, "_render_export", render_then_plant)
    result = site(*writer.args)
    seen = "already exists" if appears == "file" else "is a symbolic link"
    _one_error_line(result, f"{target} {seen}; choose another --out")
    assert os.listdir(out) == [target.name]  # the other file is not left behind either
    if appears == "file":
        assert target.read_bytes() == THEIRS
    else:
        assert os.readlink(target) == str(sentinel) and sentinel.read_bytes() == SENTINEL
    assert _events(site, "export") == []


def test_a_run_file_appearing_during_the_solve_survives_and_no_run_is_stored(
    inputs: Path, site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.domain.solver import weekly

    out = tmp_path / "out"
    out.mkdir()
    writer = _solve(inputs, out)
    target = writer.placed[0]
    solve_week = weekly.solve_week

    def plant_then_solve(*args: Any, **kwargs: Any) -> Any:
        target.symlink_to(tmp_path / "dispatcher.db")  # the database, or nothing on PostgreSQL
        return solve_week(*args, **kwargs)

    monkeypatch.setattr(weekly, "solve_week", plant_then_solve)
    runs = _runs(site)
    result = site(*writer.args)
    _one_error_line(result, f"{target} is a symbolic link; choose another --out")
    assert os.readlink(target) == str(tmp_path / "dispatcher.db")
    assert _runs(site) == runs and _events(site, "run.solve") == []
    _assert_chain_intact(site)


def _plant_at_link(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Someone else's file appears at `target` at the last moment: just before it is linked."""
    link = files._link

    def plant_then_link(temp: Path, destination: Path) -> None:
        if destination == target:
            target.write_bytes(THEIRS)
        link(temp, destination)

    monkeypatch.setattr(files, "_link", plant_then_link)


def _refuses_a_late_arrival(
    cli: Cli, writer: Writer, target: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant_at_link(monkeypatch, target)
    result = cli(*writer.args)
    _one_error_line(result, _appeared(target))
    assert target.read_bytes() == THEIRS
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    expected = {target.relative_to(out).parent, target.relative_to(out)} - {Path(".")}
    assert left == sorted(str(p) for p in expected)  # ours removed, no temporary left behind


@pytest.mark.parametrize(("name", "index"), EVERY_PLACED, ids=[f"{n}-{i}" for n, i in EVERY_PLACED])
def test_a_file_appearing_just_before_placement_survives_and_nothing_else_stays(
    inputs: Path,
    site: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    index: int,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = WRITERS[name](inputs, out)
    runs, exports = _runs(site), _events(site, "export")
    _refuses_a_late_arrival(site, writer, writer.placed[index], out, monkeypatch)
    assert _runs(site) == runs and _events(site, "export") == exports
    _assert_chain_intact(site)


@pytest.mark.sqlite_only
def test_a_file_appearing_at_the_backup_target_survives(
    inputs: Path, site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = _backup(inputs, out)
    _refuses_a_late_arrival(site, writer, writer.placed[0], out, monkeypatch)


# --- the audit trail records only what is in place ----------------------------------------------


@contextmanager
def _failing_commits(
    monkeypatch: pytest.MonkeyPatch, before_failing: Callable[[], None]
) -> Iterator[None]:
    """Inside the block, every writing unit of work fails its commit after `before_failing`."""
    build = wiring.unit_of_work

    def unit_of_work(settings: Any, *, write: bool = False, **options: Any) -> Any:
        unit = build(settings, write=write, **options)
        if write:

            def commit() -> None:
                before_failing()
                raise DatabaseBusy("Database is busy (simulated failure of the commit)")

            setattr(unit, "commit", commit)  # noqa: B010 (a method replaced on one instance)
        return unit

    with monkeypatch.context() as patched:
        patched.setattr(wiring, "unit_of_work", unit_of_work)
        yield


@pytest.mark.parametrize("replaced", [False, True], ids=["ours", "replaced-meanwhile"])
def test_a_failed_commit_after_placement_removes_the_export_files_and_leaves_no_event(
    inputs: Path, site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replaced: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = _export(inputs, out)
    in_place_at_commit: list[bool] = []

    def at_commit() -> None:
        in_place_at_commit.append(all(p.is_file() for p in writer.placed))
        if replaced:  # someone swaps the exported file for their own before the failure
            writer.placed[0].unlink()
            writer.placed[0].write_bytes(THEIRS)

    with _failing_commits(monkeypatch, at_commit):
        result = site(*writer.args)
    _one_error_line(result, "Database is busy (simulated failure of the commit)")
    assert in_place_at_commit == [True]  # the event is committed only with both files in place
    if replaced:
        assert os.listdir(out) == [writer.placed[0].name]
        assert writer.placed[0].read_bytes() == THEIRS  # not ours any more: it stays
    else:
        assert os.listdir(out) == []
    assert _events(site, "export") == []
    _assert_chain_intact(site)


def test_a_failed_commit_of_a_solved_run_removes_its_run_file(
    inputs: Path, site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = _solve(inputs, out)
    in_place_at_commit: list[bool] = []
    runs = _runs(site)
    with _failing_commits(
        monkeypatch, lambda: in_place_at_commit.append(writer.placed[0].is_file())
    ):
        result = site(*writer.args)
    _one_error_line(result, "Database is busy (simulated failure of the commit)")
    assert in_place_at_commit == [True] and os.listdir(out) == []
    assert _runs(site) == runs


def test_solve_into_a_folder_removed_during_the_solve_stores_nothing(
    inputs: Path, site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatcher.domain.solver import weekly

    out = tmp_path / "out"
    out.mkdir()
    writer = _solve(inputs, out)
    solve_week = weekly.solve_week

    def remove_folder_then_solve(*args: Any, **kwargs: Any) -> Any:
        shutil.rmtree(out)
        return solve_week(*args, **kwargs)

    monkeypatch.setattr(weekly, "solve_week", remove_folder_then_solve)
    runs = _runs(site)
    result = site(*writer.args)
    _one_error_line(result, f"Directory {out} does not exist")
    assert not out.exists()
    assert _runs(site) == runs and _events(site, "run.solve") == []
