"""Publish layer: the digests, index and feed committed (and pushed) to a docs repository.

`published_digests` copies `output/` into the `[publish]` target with `GitPublisherResource`
and commits only when something changed. `publish_new_digests` (a sensor, STOPPED by default:
publishing writes to someone's repository, so it is switched on deliberately) starts a
publishing run whenever a digest has been materialized since its last tick (a multi-asset sensor:
Dagster keeps its cursor over the digests' materialization events).
"""

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from sparky_assets.defs.common import OWNERS
from sparky_assets.defs.digests import digest_index
from sparky_assets.lib.index import commit_message
from sparky_resources.clock import PERIODS
from sparky_resources.publisher import GitPublisherResource, digest_files
from sparky_resources.store import DataStore

DIGESTS = tuple(dg.AssetKey(f"{period}_digest") for period in PERIODS)


@dg.asset(
    group_name="publish",
    deps=[digest_index],
    kinds={"git"},
    owners=OWNERS,
    description=(
        "The digests, index.md, feed.xml and metrics.md committed to the [publish] docs "
        'repository as "digest: {period} {key}" (no commit when nothing changed), pushed '
        "when [publish].push is true: never forced, a rejected push is fetched, rebased and "
        "retried. Credentials only from SPARKY_PUBLISH_TOKEN."
    ),
)
def published_digests(
    context: dg.AssetExecutionContext, store: DataStore, publisher: GitPublisherResource
) -> dg.MaterializeResult:
    if not publisher.work_tree:
        context.log.warning(
            "publishing is not configured: set [publish].remote (Sparky keeps a clone under "
            "data/cache/publish) or [publish].repo (a work tree outside Sparky's own)"
        )
        return dg.MaterializeResult(metadata={"published": False, "reason": "not configured"})
    files = digest_files(Path(store.output_dir))
    result = publisher.publish(files, commit_message)
    context.log.info(
        f"published to {result.target}: "
        + (f"commit {result.commit[:12]}" if result.commit else "nothing changed, no commit")
        + (f", pushed after {result.push_attempts} attempt(s)" if result.pushed else "")
    )
    return dg.MaterializeResult(
        metadata={
            "published": True,
            "commit": result.commit or "none (nothing changed)",
            "changed": len(result.changed),
            "pushed": result.pushed,
            "push_attempts": result.push_attempts,
            "target": result.target,
        }
    )


publish_job = dg.define_asset_job(
    "publish_digests_job",
    selection=dg.AssetSelection.assets(digest_index, published_digests),
    description="Rebuild the index and feed, then publish the digests.",
)


# Dagster 1.13 marks multi-asset sensors superseded by declarative automation "for most use
# cases", and keeps them for this one: "In cases where side effects are required, or a specific
# job must be targeted for execution, multi_asset_sensors may be used" (publishing pushes to a
# remote: a side effect, through publish_digests_job). That warning only, only here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)

    @dg.multi_asset_sensor(
        name="publish_new_digests",
        monitored_assets=list(DIGESTS),
        job=publish_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Publishes when a daily, weekly or monthly digest was materialized since the last "
            "tick. Stopped by default: turn it on once [publish] points at your docs repository."
        ),
    )
    def publish_new_digests(context: dg.MultiAssetSensorEvaluationContext) -> Any:
        """Dagster keeps the cursor (one per digest asset, over its materialization events): each
        new digest, of any partition, starts one publishing run, named by the newest event."""
        seen: list[str] = []
        newest = 0
        for key in DIGESTS:
            for partition, record in context.latest_materialization_records_by_partition(
                key
            ).items():
                newest = max(newest, record.storage_id)
                seen.append(f"{key.to_user_string()} {partition}")
        if not seen:
            return dg.SkipReason("no digest materialized since the last publish")
        context.advance_all_cursors()
        return dg.RunRequest(
            run_key=f"publish-{newest}", tags={"sparky/digests": _tag(sorted(seen))}
        )


def _tag(seen: Sequence[str]) -> str:
    text = ", ".join(seen)
    return text if len(text) <= 200 else text[:199] + "…"
