"""Publish layer: the digests, index and feed committed (and pushed) to a docs repository.

`published_digests` copies `output/` into the `[publish]` target with `GitPublisherResource`
and commits only when something changed. `publish_new_digests` (a sensor, STOPPED by default:
publishing writes to someone's repository, so it is switched on deliberately) starts a
publishing run whenever a digest has been materialized since its last tick.
"""

from collections.abc import Sequence
from pathlib import Path

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


def new_digest_materializations(
    instance: dg.DagsterInstance, after: int | None
) -> tuple[int | None, list[str]]:
    """The newest storage id among the digests' materializations after `after`, and which
    digests (asset/partition) they were; (None, []) when there are none."""
    newest: int | None = None
    seen: list[str] = []
    for key in DIGESTS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=1000
        ).records
        for r in records:
            newest = max(newest or 0, r.storage_id)
            seen.append(f"{key.to_user_string()} {r.partition_key or ''}".strip())
    return newest, sorted(seen)


@dg.sensor(
    job=publish_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Publishes when a daily, weekly or monthly digest was materialized since the last "
        "tick. Stopped by default: turn it on once [publish] points at your docs repository."
    ),
)
def publish_new_digests(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    after = int(context.cursor) if context.cursor else None
    newest, seen = new_digest_materializations(context.instance, after)
    if newest is None:
        return dg.SensorResult(skip_reason="no digest materialized since the last publish")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"publish-{newest}", tags={"sparky/digests": _tag(seen)})
        ],
        cursor=str(newest),
    )


def _tag(seen: Sequence[str]) -> str:
    text = ", ".join(seen)
    return text if len(text) <= 200 else text[:199] + "…"
