"""DataStore's layout, atomic writes, versions and locks, on real files and real processes."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparky_resources.store import (
    SCHEMA_VERSION,
    DataStore,
    LockTimeoutError,
    MissingDataError,
    SchemaVersionError,
    StoreError,
    atomic_write_json,
    atomic_write_parts,
    atomic_write_text,
    remove_stale_temps,
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


def test_parts_are_written_as_one_file_in_order(tmp_path: Path) -> None:
    """Pieces of another buffer (memoryviews) and bytes alike, replacing the old file whole."""
    target = tmp_path / "t" / "table.json"
    atomic_write_text(target, "old content that is longer than the new one\n")
    source = memoryview(b"0123456789")
    assert atomic_write_parts(target, [b"[", source[2:5], b",", source[7:], b"]"]) == target
    assert target.read_bytes() == b"[234,789]"
    assert names(target.parent) == ["table.json"]


def test_a_part_that_fails_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "table.json"
    atomic_write_text(target, "good\n")

    def parts() -> Iterator[bytes]:
        yield b"half"
        raise RuntimeError("the producer died")

    with pytest.raises(RuntimeError):
        atomic_write_parts(target, parts())
    assert target.read_text(encoding="utf-8") == "good\n"
    assert names(tmp_path) == ["table.json"]


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
    # Read back independently of DataStore.read (a list is wrapped), then through it.
    on_disk = json.loads(expected.read_text(encoding="utf-8"))
    assert on_disk == {"schema_version": SCHEMA_VERSION, "records": rows}
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


# --- schema_version ------------------------------------------------------------------------

DAY = "2024-06-03"


def on_disk(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def test_an_object_gets_schema_version_as_its_first_key(tmp_path: Path) -> None:
    s = store(tmp_path)
    metrics = {"partition": DAY, "commits": 5, "per_repo": [{"repo": "known"}]}
    path = s.write("processed", "daily_metrics", DAY, metrics)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "schema_version": 2,\n  "partition"')
    assert on_disk(path) == {"schema_version": SCHEMA_VERSION, **metrics}
    # Callers get exactly what they wrote, without the version.
    assert s.read("processed", "daily_metrics", DAY) == metrics
    assert s.read_versioned("processed", "daily_metrics", DAY) == (SCHEMA_VERSION, metrics)
    assert s.read_or("processed", "daily_metrics", DAY, None) == metrics


def test_lists_are_wrapped_in_records_and_empty_payloads_round_trip(tmp_path: Path) -> None:
    s = store(tmp_path)
    for payload in ([], {}, [{"sha": "a"}, {"sha": "b"}]):
        path = s.write("raw", "raw_commits", DAY, payload)
        assert next(iter(on_disk(path))) == "schema_version"  # type: ignore[call-overload]
        assert s.read_versioned("raw", "raw_commits", DAY) == (SCHEMA_VERSION, payload)
    assert on_disk(path) == {"schema_version": 2, "records": [{"sha": "a"}, {"sha": "b"}]}


def test_version_1_files_read_as_before(tmp_path: Path) -> None:
    # What Sparky wrote before files carried a version: a bare array, an object without it.
    s = store(tmp_path)
    atomic_write_json(s.path("raw", "raw_commits", DAY), [{"sha": "a"}])
    atomic_write_json(s.path("raw", "_coverage/raw_commits", DAY), {"partition": DAY})
    assert s.read_versioned("raw", "raw_commits", DAY) == (1, [{"sha": "a"}])
    assert s.read("raw", "_coverage/raw_commits", DAY) == {"partition": DAY}
    assert s.read_versioned("raw", "_coverage/raw_commits", DAY)[0] == 1


def test_a_file_from_a_newer_sparky_fails_with_one_line(tmp_path: Path) -> None:
    s = store(tmp_path)
    path = s.path("raw", "raw_commits", DAY)
    atomic_write_json(path, {"schema_version": SCHEMA_VERSION + 1, "records": []})
    with pytest.raises(SchemaVersionError) as info:
        s.read("raw", "raw_commits", DAY)
    assert str(info.value) == (
        f"cannot read {path}: it has schema_version {SCHEMA_VERSION + 1}, written by a newer "
        f"Sparky; this one understands schema_version 1 to {SCHEMA_VERSION}; upgrade Sparky"
    )
    # Not mistaken for a missing day either.
    with pytest.raises(SchemaVersionError):
        s.read_or("raw", "raw_commits", DAY, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2", "not valid JSON"),
        ('"just a string"\n', "expected a JSON array or object"),
        ('{"schema_version": "2"}', "schema_version '2' is not a version number"),
        ('{"schema_version": 0}', "schema_version 0 is not a version number"),
    ],
)
def test_unreadable_files_fail_with_one_line_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    s = store(tmp_path)
    path = atomic_write_text(s.path("raw", "raw_commits", DAY), text)
    with pytest.raises(StoreError) as info:
        s.read("raw", "raw_commits", DAY)
    message = str(info.value)
    assert message.startswith(f"cannot read {path}: ") and expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("payload", "error", "expected"),
    [
        ({"schema_version": 9, "n": 1}, ValueError, "'schema_version' is the store's"),
        ({"records": []}, ValueError, "reads back as a list"),
        ("text", TypeError, "expected a list or an object, not str"),
    ],
)
def test_payloads_that_cannot_carry_a_version_are_refused(
    tmp_path: Path, payload: object, error: type[Exception], expected: str
) -> None:
    s = store(tmp_path)
    with pytest.raises(error, match=expected):
        s.write("processed", "daily_metrics", DAY, payload)
    assert not (tmp_path / "data").exists()


# --- locks ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]

# Each process: say it is ready (importing Dagster takes a while), wait for the start file,
# then increment the counter file `rounds` times under its lock.
INCREMENT = """
import sys, time
from pathlib import Path
from sparky_resources.store import DataStore
data_dir, go, rounds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = DataStore(data_dir=data_dir, output_dir=data_dir, lock_timeout_s=60)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
for _ in range(rounds):
    with store.locked("raw", "counter", "2024-06-03"):
        n = store.read_or("raw", "counter", "2024-06-03", {"n": 0})["n"]
        time.sleep(0.001)
        store.write("raw", "counter", "2024-06-03", {"n": n + 1})
"""

# Take the lock, say so, and keep it until stdin closes (or the process is killed).
HOLD = """
import sys
from sparky_resources.store import DataStore
store = DataStore(data_dir=sys.argv[1], output_dir=sys.argv[1])
with store.locked("raw", "raw_commits", "2024-06-03"):
    print("held", flush=True)
    sys.stdin.read()
"""


def python(script: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def expect_line(proc: subprocess.Popen[str], line: str) -> None:
    """Wait for a child's line; if it dies first, fail with what it said."""
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != line:
        proc.kill()
        pytest.fail(proc.communicate()[1][-2000:])


def test_two_processes_incrementing_under_the_lock_lose_no_update(tmp_path: Path) -> None:
    data, go, rounds = tmp_path / "data", tmp_path / "go", 100
    procs = [python(INCREMENT, str(data), str(go), str(rounds)) for _ in range(2)]
    try:
        for proc in procs:
            expect_line(proc, "ready")
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
    finally:
        for proc in procs:
            proc.kill()
    assert store(tmp_path).read("raw", "counter", DAY) == {"n": 2 * rounds}
    # Only the data file: no temp files, and the lock file is apart from the data.
    assert set(names(data / "raw" / "counter")) == {f"{DAY}.json"}
    assert set(names(data / ".locks" / "raw" / "counter")) == {f"{DAY}.json.lock"}


def test_a_held_lock_makes_another_run_fail_with_one_line_then_frees_when_it_dies(
    tmp_path: Path,
) -> None:
    holder = python(HOLD, str(tmp_path / "data"))
    try:
        expect_line(holder, "held")
        s = DataStore(
            data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"), lock_timeout_s=0.1
        )
        path = s.path("raw", "raw_commits", DAY)
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as info, s.locked("raw", "raw_commits", DAY):
            pytest.fail("the lock was taken while another process held it")
        assert time.monotonic() - started < 5
        assert str(info.value) == (
            f"cannot lock {path}: another run has held {s.lock_path('raw', 'raw_commits', DAY)} "
            f"for over 0.1 s; wait for it to finish, or stop it"
        )
        assert isinstance(info.value, StoreError | OSError)
        # A run that dies holding the lock lets go of it (the OS drops the lock).
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        s_patient = s.model_copy(update={"lock_timeout_s": 30.0})
        with s_patient.locked("raw", "raw_commits", DAY) as locked_path:
            assert locked_path == path
    finally:
        holder.kill()
        holder.communicate()


def test_the_lock_nests_within_one_run(tmp_path: Path) -> None:
    s = DataStore(data_dir=str(tmp_path / "d"), output_dir=str(tmp_path / "o"), lock_timeout_s=0.1)
    with s.locked("raw", "raw_commits", DAY), s.locked("raw", "raw_commits", DAY):
        s.write("raw", "raw_commits", DAY, [])
    # Released: taken again at once.
    with s.locked("raw", "raw_commits", DAY):
        pass
    # Other days have their own locks.
    with s.locked("raw", "raw_commits", DAY), s.locked("raw", "raw_commits", "2024-06-04"):
        pass


# --- stale temp files ----------------------------------------------------------------------

# A run killed between writing its temp file and renaming it into place.
KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
import sparky_resources.store as store
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
store.atomic_write_text(Path(sys.argv[1]), '{"half": ')
"""


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_runs_temp_file_is_removed_by_the_next_write_once_stale(tmp_path: Path) -> None:
    s = store(tmp_path)
    target = s.write("raw", "raw_commits", DAY, [{"sha": "old"}])
    folder = target.parent
    proc = python(KILLED_MID_WRITE, str(target))
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (leftover,) = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert leftover.name.startswith(f".{DAY}.json.")
    assert on_disk(target) == {"schema_version": 2, "records": [{"sha": "old"}]}

    # A fresh temp file may belong to a run writing right now: kept.
    s.write("raw", "raw_commits", DAY, [{"sha": "new"}])
    assert leftover.exists()
    # Once it is older than any live write takes, the next write removes it.
    age(leftover, 3600)
    s.write("raw", "raw_commits", DAY, [{"sha": "newer"}])
    assert names(folder) == [f"{DAY}.json"]
    assert s.read("raw", "raw_commits", DAY) == [{"sha": "newer"}]


def test_only_stale_temps_of_the_same_target_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "day.json"
    old = {
        ".day.json.k3j_x9qa.tmp": True,  # this target's: removed
        ".day.json.bak.k3j_x9qa.tmp": False,  # the temp of `day.json.bak`
        ".day.json.tmp": False,  # not a temp name
        ".other.json.k3j_x9qa.tmp": False,
        "day.json.k3j_x9qa.tmp": False,  # not hidden: not ours
    }
    for name in old:
        (tmp_path / name).write_text("{")
        age(tmp_path / name, 3600)
    (tmp_path / ".day.json.freshone.tmp").write_text("{")
    (tmp_path / ".day.json.folder1.tmp").mkdir()
    age(tmp_path / ".day.json.folder1.tmp", 3600)
    assert remove_stale_temps(target) == [tmp_path / ".day.json.k3j_x9qa.tmp"]
    assert sorted(names(tmp_path)) == sorted(
        [n for n, gone in old.items() if not gone]
        + [".day.json.freshone.tmp", ".day.json.folder1.tmp"]
    )
    # Nothing to do in a folder that does not exist.
    assert remove_stale_temps(tmp_path / "nowhere" / "day.json") == []


# --- unwritable data_dir / output_dir -------------------------------------------------------


def test_a_file_where_data_dir_should_be_fails_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder\n")
    s = DataStore(data_dir=str(blocker), output_dir=str(tmp_path / "out"))
    path = s.path("raw", "raw_commits", DAY)
    with pytest.raises(StoreError) as info:
        s.write("raw", "raw_commits", DAY, [])
    assert str(info.value) == (
        f"cannot write {path}: {blocker} is a file, not a folder; "
        f"check that [sparky].data_dir ({blocker}) is a writable folder"
    )
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOTDIR
    with pytest.raises(StoreError, match=f"^cannot lock {path}: {blocker} is a file"):
        s.locked("raw", "raw_commits", DAY).__enter__()
    with pytest.raises(StoreError, match=f"^cannot read {path}: "):
        s.read("raw", "raw_commits", DAY)
    assert blocker.read_text() == "not a folder\n"


def test_a_file_where_an_asset_folder_should_be_fails_with_one_line(tmp_path: Path) -> None:
    s = store(tmp_path)
    blocker = tmp_path / "data" / "processed" / "daily_metrics"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    with pytest.raises(StoreError) as info:
        s.write("processed", "daily_metrics", DAY, {"commits": 1})
    assert str(info.value).startswith(
        f"cannot write {blocker / f'{DAY}.json'}: {blocker} is a file, not a folder; "
    )
    assert info.value.errno == errno.EEXIST


def test_a_file_where_output_dir_should_be_fails_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "output"
    blocker.write_text("")
    s = DataStore(data_dir=str(tmp_path / "data"), output_dir=str(blocker))
    with pytest.raises(StoreError) as info:
        s.write_output("daily", DAY, ".md", "# Digest\n")
    assert str(info.value) == (
        f"cannot write {blocker / 'daily' / f'{DAY}.md'}: {blocker} is a file, not a folder; "
        f"check that [sparky].output_dir ({blocker}) is a writable folder"
    )


WRITE_UNPRIVILEGED = """
import os, sys
from sparky_resources.store import DataStore, StoreError
if os.geteuid() == 0:  # root writes anywhere: become `nobody` (everything is imported)
    try:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    except PermissionError:
        sys.exit("SKIP: cannot drop root here")
s = DataStore(data_dir=sys.argv[1], output_dir=sys.argv[2])
for write in (lambda: s.write("raw", "raw_commits", "2024-06-03", []),
              lambda: s.write_output("daily", "2024-06-03", ".md", "x")):
    try:
        write()
    except StoreError as exc:
        print(exc)
"""


def test_a_read_only_folder_fails_with_one_line_naming_it() -> None:
    base = Path(tempfile.mkdtemp(prefix="sparky-ro-"))
    try:
        base.chmod(0o755)
        data, out = base / "data", base / "output"
        for folder in (data, out):
            folder.mkdir()
            folder.chmod(0o555)
        proc = python(WRITE_UNPRIVILEGED, str(data), str(out))
        stdout, stderr = proc.communicate(timeout=120)
        if stderr.startswith("SKIP: "):
            pytest.skip(stderr.strip())
        assert proc.returncode == 0, stderr[-2000:]
        assert stdout.splitlines() == [
            f"cannot write {data}/raw/raw_commits/{DAY}.json: permission denied; "
            f"check that [sparky].data_dir ({data}) is a writable folder",
            f"cannot write {out}/daily/{DAY}.md: permission denied; "
            f"check that [sparky].output_dir ({out}) is a writable folder",
        ]
        assert list(data.iterdir()) == [] and list(out.iterdir()) == []
    finally:
        for folder in base.iterdir():
            folder.chmod(0o755)
        subprocess.run(["rm", "-rf", str(base)], check=True)
