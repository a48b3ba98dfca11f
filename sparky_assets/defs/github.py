"""Collect layer, GitHub: pull requests, issues, releases (and GitHub's view of commits).

One step collects the whole range once (`BackfillPolicy.single_run()`) and writes one file per
day and entity. An item is in a day's file when one of its own events falls in that day, so a
pull request reviewed on Monday and merged on Tuesday is in both days. Without `[github].org`
the files are written empty and the coverage says GitHub is not configured.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg

from sparky_assets.defs.common import DAILY, range_label
from sparky_assets.partitions import daily_partitions
from sparky_resources.config import get_config
from sparky_resources.github_collect import GitHubResource, GitHubWindow
from sparky_resources.github_records import within
from sparky_resources.store import DataStore

GITHUB_COVERAGE = "_coverage/github"
ENTITIES = ("raw_pull_requests", "raw_issues", "raw_releases", "raw_github_commits")
_DESCRIPTIONS = {
    "raw_pull_requests": "Pull requests created, merged, closed or otherwise active in the day "
    "(updated, reviewed, commented). data/raw/raw_pull_requests/<day>.json",
    "raw_issues": "Issues (never pull requests) created, closed or active in the day. "
    "data/raw/raw_issues/<day>.json",
    "raw_releases": "Releases published in the day (drafts excluded) and tags created in it. "
    "data/raw/raw_releases/<day>.json",
    "raw_github_commits": "Default-branch commits as GitHub reports them (with the accounts "
    "behind the identities), committed in the day. data/raw/raw_github_commits/<day>.json",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            group_name="collect",
            kinds={"github", "json"},
            description=_DESCRIPTIONS[name],
            owners=DAILY["owners"],
            partitions_def=DAILY["partitions_def"],
        )
        for name in ENTITIES
    ],
    backfill_policy=DAILY["backfill_policy"],
    pool="github",
    can_subset=False,
)
def github_activity(
    context: dg.AssetExecutionContext, github: GitHubResource, store: DataStore
) -> Iterator[dg.MaterializeResult]:
    keys = list(context.partition_keys)
    window = context.partition_time_window
    now = dt.datetime.now(dt.UTC)
    collected, counters = github.collect(
        window.start, window.end, now=now, bots=get_config().identity.bots
    )
    org_wide = [c for c in collected.failed if c.repo is None]
    if org_wide:
        # Without the listing or a search stream the day would be wrong, not just smaller:
        # fail the partition in one line and keep what earlier runs wrote.
        raise dg.Failure(
            description="GitHub collection failed: "
            + "; ".join(f"{c.entity}: {c.error}" for c in org_wide)
        )
    failed_repos = {
        asset: {c.repo for c in collected.failed if c.entity == entity}
        for asset, entity in (("raw_github_commits", "commits"), ("raw_releases", "releases"))
    }
    for problem in collected.failed:
        context.log.warning(f"GitHub {problem.entity} {problem.repo}: {problem.error}")
    per_day: dict[str, dict[str, Any]] = {}
    for key in keys:
        day = daily_partitions.time_window_for_partition_key(key)
        files = split_day(collected, day.start, day.end)
        per_day[key] = {}
        for asset, records in files.items():
            with store.locked("raw", asset, key):
                # A repository that failed now keeps what an earlier run collected for it.
                lost = failed_repos.get(asset, set())
                if lost:
                    previous = store.read_or("raw", asset, key, [])
                    records = records + [r for r in previous if r.get("repo") in lost]
                store.write("raw", asset, key, records)
            per_day[key][asset] = len(records)  # what the file holds, kept records included
        store.write(
            "raw",
            GITHUB_COVERAGE,
            key,
            {
                "partition": key,
                "configured": github.configured,
                "org": github.org,
                "entities": [dataclasses.asdict(c) for c in collected.coverage],
            },
        )
    for name in ENTITIES:
        # Each asset of the step gets its own figure on each day (see partition_metadata).
        for key in keys:
            context.add_asset_metadata(
                {"records": per_day[key][name]}, asset_key=dg.AssetKey(name), partition_key=key
            )
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={"range": range_label(keys), "requests": dg.MetadataValue.json(counters)},
        )


def split_day(
    collected: GitHubWindow, start: dt.datetime, end: dt.datetime
) -> dict[str, list[dict[str, Any]]]:
    """The records of one day, by their own events (an item may be in several days)."""
    return {
        "raw_pull_requests": [
            pr.model_dump(mode="json")
            for pr in collected.pull_requests
            if collected.active_on("pr", pr.repo, pr.number, start, end)
        ],
        "raw_issues": [
            issue.model_dump(mode="json")
            for issue in collected.issues
            if collected.active_on("issue", issue.repo, issue.number, start, end)
        ],
        "raw_releases": [
            r.model_dump(mode="json")
            for r in collected.releases
            if within(r.published_at, start, end)
        ],
        "raw_github_commits": [
            c.model_dump(mode="json")
            for c in collected.commits
            if start.timestamp() <= c.committed_ts < end.timestamp()
        ],
    }
