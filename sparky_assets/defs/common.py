"""Policy shared by every Sparky asset, applied in one place, and per-partition metadata."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from sparky_resources.store import DataStore, Layer, MissingDataError

OWNERS = ["team:sparky"]


def partitioned(partitions_def: dg.PartitionsDefinition) -> dict[str, Any]:
    """What every partitioned asset shares: it stores its own files per partition and handles a
    range in one run, so a backfill of a year is one run (and `--partition-range` works from
    the CLI)."""
    return dict(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        owners=OWNERS,
    )


COVERAGE = "_coverage/raw_commits"


def read_upstream(store: DataStore, layer: Layer, asset: str, key: str) -> Any:
    """An upstream day's data; when it is not there, fail with the one line that says what to do."""
    try:
        return store.read(layer, asset, key)
    except MissingDataError as exc:
        raise dg.Failure(description=str(exc)) from None


def range_label(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"


def partition_metadata(
    context: dg.AssetExecutionContext, per_day: Mapping[str, Mapping[str, Any]]
) -> None:
    """Give each partition of a (range) run its own metadata in the UI.

    A single-run backfill materializes every partition of the range from one result, so the
    result's metadata would be shown on every day; `add_asset_metadata(partition_key=...)`
    (Dagster 1.13) attaches a day's own figures to that day's materialization instead.
    """
    for key, metadata in per_day.items():
        context.add_asset_metadata(dict(metadata), partition_key=key)
