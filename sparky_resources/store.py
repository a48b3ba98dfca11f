"""DataStore: Sparky's on-disk layout and atomic reads/writes.

Files are the product's data contract (`data/raw/<asset>/<partition>.json`, ...): people and
other tools read them, so every write goes to a temp file in the same folder and is renamed
into place; a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import dagster as dg

Layer = Literal["raw", "processed", "cache"]


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` via a temp file + rename, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
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


class MissingDataError(FileNotFoundError):
    """An upstream partition has not been materialized yet."""


class DataStore(dg.ConfigurableResource):
    """Where Sparky keeps its files: `data_dir` for data, `output_dir` for digests."""

    data_dir: str
    output_dir: str

    def path(self, layer: Layer, asset: str, partition: str) -> Path:
        return Path(self.data_dir) / layer / asset / f"{partition}.json"

    def write(self, layer: Layer, asset: str, partition: str, data: Any) -> Path:
        return atomic_write_json(self.path(layer, asset, partition), data)

    def read(self, layer: Layer, asset: str, partition: str) -> Any:
        path = self.path(layer, asset, partition)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MissingDataError(
                f"{asset} has no data for {partition} ({path}); materialize {asset} "
                f"for {partition} first"
            ) from None

    def read_or(self, layer: Layer, asset: str, partition: str, default: Any) -> Any:
        try:
            return self.read(layer, asset, partition)
        except MissingDataError:
            return default

    def output_path(self, period: str, key: str, suffix: str) -> Path:
        return Path(self.output_dir) / period / f"{key}{suffix}"

    def write_output(self, period: str, key: str, suffix: str, text: str) -> Path:
        return atomic_write_text(self.output_path(period, key, suffix), text)
