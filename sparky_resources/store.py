"""DataStore: Sparky's on-disk layout, atomic reads/writes, versions and per-file locks.

Files are the product's data contract (`data/raw/<asset>/<partition>.json`, ...): people and
other tools read them, so every write goes to a temp file in the same folder and is renamed
into place; a crash never leaves half a file.

Every file `DataStore.write` writes carries `schema_version` (one number, `SCHEMA_VERSION`, for
all of them), so a reader can tell old records from new ones instead of failing on them:

1: bare JSON: `raw_commits` and `repositories` are arrays; coverage, metrics and insights are
   objects. No version in the file (a file without `schema_version` is version 1).
2: files carry schema_version; lists are wrapped in records: `{"schema_version": 2, "records":
   [...]}`; an object gets `"schema_version": 2` as its first key.

`DataStore.read` strips the envelope, so callers get the list or object they always got, from a
file of any version up to `SCHEMA_VERSION`; `read_versioned` also says which version it was. A
newer file is refused with one line rather than misread.

Two runs of the same day take the file's lock (`DataStore.locked`) around a read-modify-write.
Lock files live in their own folder, `<data_dir>/.locks/` (mirroring the data file's path), never
next to the data: the data folders hold only the data contract, and a lock file is not removed
after use (deleting it while another process waits on it would let a third take a second lock).
A run killed mid-write leaves its temp file; the next write of that file removes it once it is
`STALE_TMP_AGE_S` old (see `remove_stale_temps`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from filelock import FileLock, Timeout

Layer = Literal["raw", "processed", "cache"]

SCHEMA_VERSION = 2
# A live write holds its temp file for the time of one write + fsync + rename (milliseconds);
# one untouched for this long belongs to a run that died.
STALE_TMP_AGE_S = 600.0
# The random middle of a temp name (`mkstemp` uses no dots), so `.day.json.<r>.tmp` never
# matches the temp file of another target such as `day.json.bak`.
_TEMP_MIDDLE = re.compile(r"[^./]+")
_HELD = threading.local()
# Where the lock files go, inside data_dir but apart from the data kinds (raw, processed, ...).
LOCK_DIR = ".locks"


class StoreError(OSError):
    """A data file cannot be read, written or locked; the message is one line: which and why."""


class SchemaVersionError(StoreError):
    """A file was written by a newer Sparky, in a schema_version this code does not know."""


class LockTimeoutError(StoreError):
    """Another run held a partition file's lock for longer than the store waits."""


class MissingDataError(StoreError, FileNotFoundError):
    """An upstream partition has not been materialized yet."""


def remove_stale_temps(path: Path, max_age_s: float = STALE_TMP_AGE_S) -> list[Path]:
    """Remove the temp files of `path` (`.<name>.<random>.tmp`) older than `max_age_s`.

    Age, not a lock, decides: writers that do not take the lock (digests, sidecars) are safe
    too, and a temp file a live writer is about to rename is seconds old, never removed.
    Best effort: a cleanup problem never fails the write that triggered it.
    """
    prefix = f".{path.name}."
    cutoff = time.time() - max_age_s
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        if not _TEMP_MIDDLE.fullmatch(name[len(prefix) : -len(".tmp")]):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime > cutoff:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` via a temp file + rename, creating parent folders."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` via a temp file + rename, creating parent folders.

    Stale temp files of the same target (a run killed mid-write) are removed first.
    """
    return atomic_write_parts(path, (data,))


def atomic_write_parts(path: Path, parts: Iterable[bytes | memoryview]) -> Path:
    """`atomic_write_bytes` of the parts joined, without joining them in memory first (a large
    file assembled from pieces of another, such as the contributors table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.writelines(parts)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _reason(exc: OSError, path: Path) -> str:
    """Why an OS call on `path` failed, in words: a file where a folder should be is named."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        folder = path.parent
        for candidate in [*reversed(folder.parents), folder]:
            if candidate.exists() and not candidate.is_dir():
                return f"{candidate} is a file, not a folder"
    return (exc.strerror or str(exc)).lower()


def _store_error(verb: str, path: Path, exc: OSError, setting: str, folder: str) -> StoreError:
    error = StoreError(
        f"cannot {verb} {path}: {_reason(exc, path)}; check that {setting} ({folder}) is a "
        f"{'writable' if verb != 'read' else 'readable'} folder"
    )
    error.errno = exc.errno
    return error


def _envelope(data: Any, path: Path) -> dict[str, Any]:
    """The document `write` puts on disk for a payload: the payload plus its schema_version."""
    if isinstance(data, list | tuple):
        return {"schema_version": SCHEMA_VERSION, "records": list(data)}
    if isinstance(data, dict):
        if "schema_version" in data:
            raise ValueError(f"cannot write {path}: the key 'schema_version' is the store's")
        if set(data) == {"records"}:
            # It would read back as a list file.
            raise ValueError(
                f"cannot write {path}: an object whose only key is 'records' reads back as a "
                "list; write the list itself or add a key"
            )
        return {"schema_version": SCHEMA_VERSION, **data}
    raise TypeError(f"cannot write {path}: expected a list or an object, not {type(data).__name__}")


def _unwrap(document: Any, path: Path) -> tuple[int, Any]:
    """The version of a file's document and the payload in it, as `write` was given it."""
    if isinstance(document, list):
        return 1, document
    if not isinstance(document, dict):
        raise StoreError(f"cannot read {path}: expected a JSON array or object")
    if "schema_version" not in document:
        return 1, document
    version = document["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(f"cannot read {path}: schema_version {version!r} is not a version number")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"cannot read {path}: it has schema_version {version}, written by a newer Sparky; "
            f"this one understands schema_version 1 to {SCHEMA_VERSION}; upgrade Sparky"
        )
    payload = {key: value for key, value in document.items() if key != "schema_version"}
    if version >= 2 and set(payload) == {"records"} and isinstance(payload["records"], list):
        return version, payload["records"]
    return version, payload


def lock_file(data_dir: str | Path, relative: str | Path) -> Path:
    """The lock file for `<data_dir>/<relative>`: `<data_dir>/.locks/<relative>.lock`."""
    return Path(data_dir) / LOCK_DIR / f"{Path(relative).as_posix()}.lock"


def _held() -> set[str]:
    """The lock files this thread holds (so `locked` nests instead of waiting on itself)."""
    paths: set[str] = _HELD.__dict__.setdefault("paths", set())
    return paths


class DataStore(dg.ConfigurableResource):
    """Where Sparky keeps its files: `data_dir` for data, `output_dir` for digests."""

    data_dir: str
    output_dir: str
    lock_timeout_s: float = 600.0

    def path(self, layer: Layer, asset: str, partition: str) -> Path:
        return Path(self.data_dir) / layer / asset / f"{partition}.json"

    def write(self, layer: Layer, asset: str, partition: str, data: Any) -> Path:
        """Write a list or object as one partition file in `SCHEMA_VERSION` (atomically)."""
        path = self.path(layer, asset, partition)
        document = _envelope(data, path)
        try:
            return atomic_write_json(path, document)
        except StoreError:
            raise
        except OSError as exc:
            raise _store_error("write", path, exc, "[sparky].data_dir", self.data_dir) from None

    def read_versioned(self, layer: Layer, asset: str, partition: str) -> tuple[int, Any]:
        """The schema_version a file was written in and its payload, for readers that upgrade."""
        path = self.path(layer, asset, partition)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MissingDataError(
                f"{asset} has no data for {partition} ({path}); materialize {asset} "
                f"for {partition} first"
            ) from None
        except OSError as exc:
            raise _store_error("read", path, exc, "[sparky].data_dir", self.data_dir) from None
        except ValueError as exc:  # not UTF-8
            raise StoreError(
                f"cannot read {path}: not a UTF-8 JSON file ({exc}); materialize {asset} "
                f"for {partition} again"
            ) from None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise StoreError(
                f"cannot read {path}: not valid JSON ({exc}); materialize {asset} "
                f"for {partition} again"
            ) from None
        return _unwrap(document, path)

    def read(self, layer: Layer, asset: str, partition: str) -> Any:
        """A partition's payload as it was given to `write`, from a file of any known version."""
        return self.read_versioned(layer, asset, partition)[1]

    def read_or(self, layer: Layer, asset: str, partition: str, default: Any) -> Any:
        try:
            return self.read(layer, asset, partition)
        except MissingDataError:
            return default

    @contextmanager
    def locked(self, layer: Layer, asset: str, partition: str) -> Iterator[Path]:
        """Hold one partition file's exclusive lock, around a read-modify-write of it.

        The lock is `<data_dir>/.locks/<layer>/<asset>/<partition>.json.lock`, out of the data
        folders, taken with `filelock` (the OS lets go when a run dies). It nests within one
        thread; another run waits up to `lock_timeout_s`.
        """
        path = self.path(layer, asset, partition)
        lock_path = self.lock_path(layer, asset, partition)
        key = f"{os.getpid()}:{lock_path.absolute()}"
        held = _held()
        if key in held:
            yield path
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _store_error("lock", path, exc, "[sparky].data_dir", self.data_dir) from None
        lock = FileLock(lock_path, timeout=self.lock_timeout_s)
        try:
            lock.acquire()
        except Timeout:
            raise LockTimeoutError(
                f"cannot lock {path}: another run has held {lock_path} for over "
                f"{self.lock_timeout_s:g} s; wait for it to finish, or stop it"
            ) from None
        except OSError as exc:
            raise _store_error("lock", path, exc, "[sparky].data_dir", self.data_dir) from None
        held.add(key)
        # Sparky before issue 16 kept the lock next to the file; once ours is held, that stray
        # one is nobody's (best effort: a file it cannot remove is left alone).
        with suppress(OSError):
            path.with_name(f".{path.name}.lock").unlink(missing_ok=True)
        try:
            yield path
        finally:
            held.discard(key)
            lock.release()

    def lock_path(self, layer: Layer, asset: str, partition: str) -> Path:
        return lock_file(self.data_dir, Path(layer) / asset / f"{partition}.json")

    def output_path(self, period: str, key: str, suffix: str) -> Path:
        return Path(self.output_dir) / period / f"{key}{suffix}"

    def write_output(self, period: str, key: str, suffix: str, text: str) -> Path:
        """Write a digest (atomically); an unwritable output_dir fails with one line."""
        path = self.output_path(period, key, suffix)
        try:
            return atomic_write_text(path, text)
        except OSError as exc:
            raise _store_error("write", path, exc, "[sparky].output_dir", self.output_dir) from None
