"""DataStore's layout and atomic writes, on real files in a temporary folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sparky_resources.store import (
    DataStore,
    MissingDataError,
    atomic_write_json,
    atomic_write_text,
)


def names(folder: Path) -> list[str]:
    """Every entry of a folder, hidden ones (temp files start with '.') included."""
    return sorted(p.name for p in folder.iterdir())


def test_write_text_creates_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "note.md"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode()
    assert names(target.parent) == ["note.md"]


def test_write_replaces_existing_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "day.json"
    atomic_write_text(target, "old old old old old old\n")
    atomic_write_json(target, {"n": 1, "name": "Zoë"})
    # Shorter than before: nothing of the old content may remain.
    assert json.loads(target.read_text(encoding="utf-8")) == {"n": 1, "name": "Zoë"}
    assert "old" not in target.read_text(encoding="utf-8")
    assert target.read_text(encoding="utf-8").endswith("}\n")
    assert names(target.parent) == ["day.json"]


def test_written_files_are_readable_by_other_tools(tmp_path: Path) -> None:
    # The module promises files that people and other tools read (a temp file is 0600).
    target = atomic_write_text(tmp_path / "x.txt", "x")
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & 0o044 == 0o044


def test_json_that_cannot_be_serialized_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "day.json"
    atomic_write_json(target, {"v": 1})
    before = target.read_bytes()
    with pytest.raises(TypeError):
        atomic_write_json(target, {"v": object()})
    assert target.read_bytes() == before
    assert names(tmp_path) == ["day.json"]


def test_failure_while_writing_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "day.md"
    atomic_write_text(target, "good\n")
    # A lone surrogate cannot be encoded as UTF-8: the write fails half way through.
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "x" * 10_000 + "\ud800")
    assert target.read_text(encoding="utf-8") == "good\n"
    assert names(tmp_path) == ["day.md"]


def test_failed_rename_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "data" / "day.json"
    atomic_write_json(target, [1, 2, 3])
    seen: list[str] = []

    def refuse(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # The temp file is complete and sits next to the target when the rename fails.
        seen.append(Path(src).name)
        assert Path(src).parent == target.parent and Path(src).exists()
        raise OSError("disk says no")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk says no"):
        atomic_write_json(target, [4, 5, 6])
    monkeypatch.undo()
    assert len(seen) == 1 and seen[0] != "day.json"
    assert json.loads(target.read_text(encoding="utf-8")) == [1, 2, 3]
    assert names(target.parent) == ["day.json"]


# --- DataStore ---------------------------------------------------------------------------


def store(tmp_path: Path) -> DataStore:
    return DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "output"))


def test_data_paths_follow_the_layout(tmp_path: Path) -> None:
    s = store(tmp_path)
    data = tmp_path / "data"
    assert s.path("raw", "raw_commits", "2024-06-03") == data / "raw/raw_commits/2024-06-03.json"
    assert s.path("processed", "daily_metrics", "2024-06-03") == (
        data / "processed/daily_metrics/2024-06-03.json"
    )
    assert s.path("raw", "_coverage/raw_commits", "2024-06-03") == (
        data / "raw/_coverage/raw_commits/2024-06-03.json"
    )


def test_write_then_read_round_trips_at_the_layout_path(tmp_path: Path) -> None:
    s = store(tmp_path)
    rows = [{"sha": "abc", "author_name": "Zoë Ünïcode-Łukasz", "additions": 3}]
    written = s.write("raw", "raw_commits", "2024-06-03", rows)
    expected = tmp_path / "data" / "raw" / "raw_commits" / "2024-06-03.json"
    assert written == expected
    # Read back independently of DataStore.read, then through it.
    assert json.loads(expected.read_text(encoding="utf-8")) == rows
    assert s.read("raw", "raw_commits", "2024-06-03") == rows
    assert names(expected.parent) == ["2024-06-03.json"]


def test_output_paths_follow_the_layout(tmp_path: Path) -> None:
    s = store(tmp_path)
    out = tmp_path / "output"
    assert s.output_path("daily", "2024-06-03", ".md") == out / "daily" / "2024-06-03.md"
    assert s.output_path("weekly", "2024-W23", ".json") == out / "weekly" / "2024-W23.json"
    written = s.write_output("daily", "2024-06-03", ".md", "# Digest\n")
    assert written == out / "daily" / "2024-06-03.md"
    assert written.read_text(encoding="utf-8") == "# Digest\n"


def test_missing_partition_names_asset_and_partition_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    s = store(tmp_path)
    with pytest.raises(MissingDataError) as info:
        s.read("processed", "daily_metrics", "2024-06-03")
    message = str(info.value)
    assert "daily_metrics" in message
    assert "2024-06-03" in message
    assert "materialize" in message.lower()
    # Still a FileNotFoundError for callers that catch that.
    assert isinstance(info.value, FileNotFoundError)
    # Another partition of an asset that has data is missing just the same.
    s.write("processed", "daily_metrics", "2024-06-02", {"commits": 0})
    with pytest.raises(MissingDataError, match="2024-06-03"):
        s.read("processed", "daily_metrics", "2024-06-03")


def test_read_or_gives_the_default_only_when_missing(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.read_or("raw", "raw_commits", "2024-06-03", []) == []
    s.write("raw", "raw_commits", "2024-06-03", [{"sha": "a"}])
    assert s.read_or("raw", "raw_commits", "2024-06-03", []) == [{"sha": "a"}]
