"""Digests layer: the markdown people read, plus a JSON sidecar for tools, per period; and the
index and feed that list them.

The index lists what is on disk, so it depends on the daily digest only: a weekly or monthly
digest may never have been written, and an asset that depended on them would make the daily
job wait for (and the UI warn about) digests it does not need. A weekly or monthly digest
refreshes the index itself once it is written, so the index lists it as soon as it exists.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from sparky_assets.defs.common import (
    OWNERS,
    partition_metadata,
    partitioned,
    range_label,
    read_upstream,
)
from sparky_assets.defs.metrics import upstream_facts
from sparky_assets.lib.digest_view import TREND_WINDOWS
from sparky_assets.lib.index import (
    SkippedFile,
    render_feed,
    render_index,
    scan_digests,
    tag_uri,
)
from sparky_assets.lib.insights import FactSheet, Insights
from sparky_assets.lib.render import digest_sidecar, render_digest, without_front_matter
from sparky_assets.lib.window import WindowMetrics
from sparky_assets.partitions import OrgPartitions
from sparky_resources.clock import PERIODS, UNIT, Period, previous_key
from sparky_resources.github_collect import GitHubResource
from sparky_resources.models import Coverage
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore, atomic_write_json, atomic_write_text


def write_digest(
    store: DataStore, org: OrgResource, github_org: str | None, period: Period, key: str
) -> tuple[str, dict[str, object]]:
    """Render one window's digest and sidecar from its stored metrics, facts and insights."""
    metrics = WindowMetrics.model_validate(
        read_upstream(store, "processed", f"{period}_metrics", key)
    )
    insights = Insights.model_validate(read_upstream(store, "processed", f"{period}_insights", key))
    window = upstream_facts(store, period, key)
    markdown, meta = render_and_write(
        store,
        org,
        github_org,
        window.plain_sheet(metrics),
        insights,
        window.coverages,
        folder=period,
        trend=previous_metrics(store, period, key),
    )
    return markdown, {**meta, "writer": insights.writer}


def render_and_write(
    store: DataStore,
    org: OrgResource,
    github_org: str | None,
    facts: FactSheet,
    insights: Insights,
    coverages: Sequence[Coverage],
    *,
    folder: str,
    trend: Sequence[tuple[str, WindowMetrics | None]],
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, object]]:
    """Write a digest's markdown to `output/<folder>/<key>.md` and its sidecar next to it (with
    `extra` fields); the path and a preview for the materialization's metadata."""
    name = github_org or "local"
    markdown = render_digest(
        facts,
        insights,
        coverages,
        org=name,
        timezone=org.timezone,
        github_org=github_org,
        start_date=org.first_day,
        trend=trend,
    )
    path = store.write_output(folder, facts.partition, ".md", markdown)
    sidecar = digest_sidecar(
        facts, insights, coverages, org=name, timezone=org.timezone, github_org=github_org
    )
    atomic_write_json(path.with_suffix(".json"), {**sidecar, **(extra or {})})
    return markdown, {
        "path": dg.MetadataValue.path(str(path)),
        # The UI renders front matter as a bold paragraph: the preview starts at the title.
        "preview": dg.MetadataValue.md(without_front_matter(markdown)),
    }


def previous_metrics(
    store: DataStore, period: Period, key: str, *, asset: str | None = None, prefix: str = ""
) -> list[tuple[str, WindowMetrics | None]]:
    """The metrics of the windows before `key` for the trend table, oldest first (None where a
    window was not measured); none for a daily digest. `asset` and `prefix` name another
    window's files (a team's: `team_weekly_metrics/<team>-<key>`)."""
    if period == "daily":
        return []
    keys: list[str] = []
    for _ in range(TREND_WINDOWS - 1):
        keys.insert(0, previous_key(period, keys[0] if keys else key))
    out: list[tuple[str, WindowMetrics | None]] = []
    for k in keys:
        raw = store.read_or("processed", asset or f"{period}_metrics", f"{prefix}{k}", None)
        out.append((k, WindowMetrics.model_validate(raw) if raw is not None else None))
    while out and out[0][1] is None:  # before the first measured window: nothing to show
        out.pop(0)
    return out


def digest_asset(period: Period, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    name = f"{period}_digest"

    @dg.asset(
        name=name,
        group_name="digests",
        deps=[f"{period}_insights", f"{period}_metrics"],
        kinds={"markdown"},
        **partitioned(partitions),
        description=(
            f"The {UNIT[period]}'s digest, output/{period}/{{key}}.md with YAML front matter "
            "(and a JSON sidecar with the same facts). Its first screen: what shipped "
            "(releases, merged pull requests by theme, bots folded), what needs attention and "
            "one stat line; below it the LLM's grounded highlights"
            + (", commits per day, the trend" if period != "daily" else "")
            + ", review health, key numbers, repositories, people"
            + " and data coverage. The markdown is in the materialization's metadata."
            + (
                " Once written, it refreshes the index and feed so that they list it."
                if period != "daily"
                else ""
            )
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        store: DataStore,
        org: OrgResource,
        github: GitHubResource,
    ) -> dg.MaterializeResult:
        per_key = {
            key: write_digest(store, org, github.org, period, key)[1]
            for key in context.partition_keys
        }
        partition_metadata(context, per_key)
        metadata: dict[str, object] = {"range": range_label(list(context.partition_keys))}
        if period != "daily":
            # The index does not depend on this digest (see the module's docstring): refresh it.
            metadata["index"] = refresh_index(context, store, org, github.org)["index"]
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def build_digest_assets(parts: OrgPartitions) -> list[dg.AssetsDefinition]:
    return [digest_asset(period, parts.of(period)) for period in PERIODS]


METRICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def refresh_index(
    context: dg.AssetExecutionContext, store: DataStore, org: OrgResource, github_org: str | None
) -> dict[str, object]:
    """Write output/index.md, feed.xml and metrics.md from the digests on disk; their metadata."""
    name = github_org or "local"
    out = Path(store.output_dir)
    skipped: list[SkippedFile] = []
    entries = scan_digests(out, tz=org.tz, skipped=skipped)
    for s in skipped:
        context.log.warning(f"digest_index: skipped {s.path}: {s.reason}")
    # [publish].site_url (OrgResource): set, the index and feed link to the published site.
    site_url = org.site_url
    atomic_write_text(out / "index.md", render_index(entries, org=name, site_url=site_url))
    feed = render_feed(entries, org=name, feed_id=tag_uri(name, "digests"), site_url=site_url)
    atomic_write_text(out / "feed.xml", feed)
    if METRICS_DOC.exists():  # a source checkout; an installed wheel has no docs/
        atomic_write_text(out / "metrics.md", METRICS_DOC.read_text(encoding="utf-8"))
    counts = {p: sum(e.period == p for e in entries) for p in ("daily", "weekly", "monthly")}
    return {
        **{f"{p}_digests": n for p, n in counts.items()},
        "skipped": len(skipped),
        "index": dg.MetadataValue.path(str(out / "index.md")),
        "feed": dg.MetadataValue.path(str(out / "feed.xml")),
    }


@dg.asset(
    group_name="digests",
    # Only the daily digest: the weekly and monthly ones may never have run (the index lists
    # what exists), and they refresh the index themselves when written.
    deps=["daily_digest"],
    kinds={"markdown", "atom"},
    owners=OWNERS,
    # Unpartitioned, but in the partitioned daily job: one run for a range (`dg launch`).
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "output/index.md (every digest on disk, daily, weekly and monthly, newest first), "
        "output/feed.xml (an Atom 1.0 feed with stable entry ids) and output/metrics.md (the "
        "definitions the digests link to). It lists what exists, so it waits only for the "
        "daily digest; a weekly or monthly digest refreshes it when written."
    ),
)
def digest_index(
    context: dg.AssetExecutionContext, store: DataStore, org: OrgResource, github: GitHubResource
) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=refresh_index(context, store, org, github.org))
