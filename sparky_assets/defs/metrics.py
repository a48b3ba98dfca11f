"""Metrics layer: numbers computed from the raw files, one JSON object per day."""

import dagster as dg

from sparky_assets.defs.collect import raw_commits
from sparky_assets.defs.common import (
    COVERAGE,
    DAILY,
    partition_metadata,
    range_label,
    read_upstream,
)
from sparky_assets.defs.github import GITHUB_COVERAGE
from sparky_assets.lib.metrics import compute_activity, github_counts
from sparky_assets.partitions import daily_partitions
from sparky_resources.config import get_config
from sparky_resources.store import DataStore

HEADLINE = (
    "commits",
    "merges",
    "active_contributors",
    "lines_added",
    "lines_deleted",
    "files_changed",
    "active_repos",
)


@dg.asset(
    group_name="metrics",
    deps=[raw_commits, "raw_pull_requests", "raw_issues", "raw_releases"],
    kinds={"pandas", "json"},
    description=(
        "Daily activity: commits, merges, active contributors, lines added/deleted, files "
        "changed (non-merge commits), a per-repository table and top contributors. "
        "data/processed/daily_metrics/<day>.json"
    ),
    **DAILY,
)
def daily_metrics(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    identity = get_config().identity
    per_day: dict[str, dict[str, object]] = {}
    for key in context.partition_keys:
        commits = read_upstream(store, "raw", "raw_commits", key)
        coverage = store.read_or("raw", COVERAGE, key, {"repos": []})
        metrics = compute_activity(
            key,
            commits,
            bots=identity.bots,
            aliases=identity.aliases,
            repos=[r["repo"] for r in coverage["repos"] if r["status"] == "ok"],
        )
        metrics = metrics.model_copy(update=_github_figures(store, key))
        store.write("processed", "daily_metrics", key, metrics.model_dump(mode="json"))
        # Plain numbers per partition: the UI plots them across partitions.
        per_day[key] = {name: getattr(metrics, name) for name in HEADLINE}
    partition_metadata(context, per_day)
    return dg.MaterializeResult(metadata={"range": range_label(list(context.partition_keys))})


def _github_figures(store: DataStore, key: str) -> dict[str, int]:
    """The day's GitHub counts, or nothing (the fields stay null) when GitHub is not configured."""
    coverage = store.read_or("raw", GITHUB_COVERAGE, key, None)
    if not coverage or not coverage.get("configured"):
        return {}
    day = daily_partitions.time_window_for_partition_key(key)
    return github_counts(
        day.start,
        day.end,
        read_upstream(store, "raw", "raw_pull_requests", key),
        read_upstream(store, "raw", "raw_issues", key),
        read_upstream(store, "raw", "raw_releases", key),
    )
