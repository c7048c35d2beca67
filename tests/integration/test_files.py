"""services/files on real files: random exclusive temporaries, placement that never replaces,
the renameat2 fallback where hard links are missing, all or nothing, only our files removed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dispatcher.domain.errors import Conflict, InvalidInput
from dispatcher.services import files

THEIRS = b"someone else's\n"


def _no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(temp: Path, target: Path) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # what vfat answers to link(2)

    monkeypatch.setattr(files, "_link", refuse)


def test_temporary_names_are_random_and_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []
    link = files._link

    def record(temp: Path, target: Path) -> None:
        seen.append(temp)
        link(temp, target)

    monkeypatch.setattr(files, "_link", record)
    files.write_new_files([(tmp_path / "one.csv", b"1", 0o644), (tmp_path / "key", b"k", 0o600)])
    files.write_new_files([(tmp_path / "two.csv", b"2", 0o644)])
    assert sorted(os.listdir(tmp_path)) == ["key", "one.csv", "two.csv"]  # no temporary stays
    assert (tmp_path / "one.csv").read_bytes() == b"1"
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "one.csv").stat().st_nlink == 1  # the temporary name is unlinked
    assert [t.parent for t in seen] == [tmp_path] * 3
    assert seen[0].name.startswith(".one.csv.") and seen[0].name.endswith(".tmp")
    assert seen[0].name.removeprefix(".one.csv.") != seen[2].name.removeprefix(".two.csv.")


def test_without_hard_links_files_are_moved_with_rename_noreplace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_hard_links(monkeypatch)
    files.write_new_files([(tmp_path / "a.csv", b"a\n", 0o644)])
    assert os.listdir(tmp_path) == ["a.csv"] and (tmp_path / "a.csv").read_bytes() == b"a\n"
    taken = tmp_path / "taken.csv"

    def plant_then_rename(temp: Path, target: Path) -> None:
        taken.write_bytes(THEIRS)
        rename(temp, target)

    rename = files._rename_noreplace
    monkeypatch.setattr(files, "_rename_noreplace", plant_then_rename)
    with pytest.raises(Conflict) as appeared:
        files.write_new_files([(taken, b"ours\n", 0o644)])
    assert appeared.value.message.startswith(f"{taken} appeared while it was being written")
    assert taken.read_bytes() == THEIRS
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "taken.csv"]


def test_without_hard_links_or_noreplace_renames_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_hard_links(monkeypatch)

    def unsupported(temp: Path, target: Path) -> None:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(files, "_rename_noreplace", unsupported)
    with pytest.raises(InvalidInput) as refused:
        files.write_new_files([(tmp_path / "a.csv", b"a", 0o644), (tmp_path / "b", b"b", 0o644)])
    assert refused.value.message == (
        f"Cannot place {tmp_path / 'a.csv'} safely: its file system has neither hard links "
        "nor renames that refuse to replace; nothing written"
    )
    assert os.listdir(tmp_path) == []


def test_a_later_file_that_cannot_be_placed_takes_the_earlier_ones_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = files._link

    def plant_second(temp: Path, target: Path) -> None:
        if target.name == "second":
            target.symlink_to(tmp_path / "first")  # a dangling link counts as taken too
        link(temp, target)

    monkeypatch.setattr(files, "_link", plant_second)
    with pytest.raises(Conflict):
        files.write_new_files(
            [(tmp_path / "first", b"1", 0o644), (tmp_path / "second", b"2", 0o644)]
        )
    assert os.listdir(tmp_path) == ["second"] and os.readlink(tmp_path / "second") == str(
        tmp_path / "first"
    )


def test_a_failing_block_removes_only_the_files_still_ours(tmp_path: Path) -> None:
    mine, swapped = tmp_path / "mine", tmp_path / "swapped"
    with (
        pytest.raises(RuntimeError),
        files.new_files([(mine, b"m", 0o644), (swapped, b"s", 0o644)]) as placed,
    ):
        assert placed.paths == [mine, swapped]
        swapped.unlink()
        swapped.write_bytes(THEIRS)  # replaced by someone else before the block fails
        raise RuntimeError("the commit failed")
    assert os.listdir(tmp_path) == ["swapped"] and swapped.read_bytes() == THEIRS


def test_a_folder_that_vanishes_after_the_check_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    check = files.check_new_file

    def check_then_remove(path: Path, option: str = "--out") -> None:
        check(path, option)
        gone.rmdir()

    monkeypatch.setattr(files, "check_new_file", check_then_remove)
    with pytest.raises(InvalidInput) as refused:
        files.write_new_files([(gone / "x", b"x", 0o644)])
    assert refused.value.message == f"Directory {gone} does not exist; nothing written"
    assert not gone.exists()


def test_a_new_folder_is_made_exclusively_and_removed_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "evidence"
    files.write_new_folder(folder, {"a.json": b"{}", "b.txt": b"b"})
    assert sorted(os.listdir(folder)) == ["a.json", "b.txt"]
    again = tmp_path / "again"

    def fail(temp: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_link", fail)
    with pytest.raises(InvalidInput, match="No space left on device; nothing written"):
        files.write_new_folder(again, {"a.json": b"{}"})
    assert not again.exists()
