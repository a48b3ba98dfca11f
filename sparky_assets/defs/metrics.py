"""Metrics layer: numbers computed from the raw files, one JSON object per day."""

import dagster as dg

from sparky_assets.defs.collect import raw_commits
from sparky_assets.defs.common import COVERAGE, DAILY, read_upstream
from sparky_assets.lib.metrics import ActivityMetrics, compute_activity
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
    deps=[raw_commits],
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
    results: dict[str, ActivityMetrics] = {}
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
        store.write("processed", "daily_metrics", key, metrics.model_dump(mode="json"))
        results[key] = metrics
    return dg.MaterializeResult(metadata=summary_metadata(results))


def summary_metadata(results: dict[str, ActivityMetrics]) -> dict[str, object]:
    """Headline numbers of a one-day run (plotted by the UI), a table for a range."""
    if len(results) == 1:
        (m,) = results.values()
        return {name: getattr(m, name) for name in HEADLINE}
    rows = "\n".join(
        f"| {k} | " + " | ".join(str(getattr(m, n)) for n in HEADLINE) + " |"
        for k, m in results.items()
    )
    header = "| day | " + " | ".join(HEADLINE) + " |\n|" + "---|" * (len(HEADLINE) + 1)
    return {"days": len(results), "per_day": dg.MetadataValue.md(header + "\n" + rows)}
