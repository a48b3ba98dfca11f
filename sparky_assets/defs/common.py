"""Policy shared by every Sparky asset, applied in one place."""

import dagster as dg

from sparky_assets.partitions import daily_partitions

OWNERS = ["team:sparky"]

# Every daily asset stores its own files per day and handles a range of days in one run,
# so a backfill of a year is one run (and `--partition-range` works from the CLI).
DAILY = dict(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    owners=OWNERS,
)
COVERAGE = "_coverage/raw_commits"


def upstream_missing(exc: Exception) -> dg.Failure:
    """An upstream day is not there: fail the step with the one line that says what to do."""
    return dg.Failure(description=str(exc))
