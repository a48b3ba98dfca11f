"""Policy shared by every Sparky asset, applied in one place."""

from typing import Any

import dagster as dg

from sparky_assets.partitions import daily_partitions
from sparky_resources.store import DataStore, Layer, MissingDataError

OWNERS = ["team:sparky"]

# Every daily asset stores its own files per day and handles a range of days in one run,
# so a backfill of a year is one run (and `--partition-range` works from the CLI).
DAILY = dict(
    partitions_def=daily_partitions,
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
