"""Digests layer: the markdown people read, plus a JSON sidecar for tools."""

import dagster as dg

from sparky_assets.defs.common import DAILY, partition_metadata, range_label, read_upstream
from sparky_assets.defs.insights import daily_insights, load_facts
from sparky_assets.lib.insights import Insights
from sparky_assets.lib.render import digest_sidecar, render_daily
from sparky_resources.config import get_config
from sparky_resources.store import DataStore, atomic_write_json


@dg.asset(
    group_name="digests",
    deps=[daily_insights],
    kinds={"markdown"},
    description=(
        "The daily digest: output/daily/<day>.md with YAML front matter (and a .json "
        "sidecar). The markdown is shown in the materialization's metadata."
    ),
    **DAILY,
)
def daily_digest(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    config = get_config()
    org = config.github.org or "local"
    per_day: dict[str, dict[str, object]] = {}
    for key in context.partition_keys:
        facts, coverage = load_facts(store, key)
        insights = Insights.model_validate(read_upstream(store, "processed", "daily_insights", key))
        markdown = render_daily(facts, insights, coverage, org=org, timezone=config.sparky.timezone)
        path = store.write_output("daily", key, ".md", markdown)
        atomic_write_json(
            path.with_suffix(".json"), digest_sidecar(facts, insights, coverage, org=org)
        )
        per_day[key] = {
            "path": dg.MetadataValue.path(str(path)),
            "preview": dg.MetadataValue.md(markdown),
        }
    partition_metadata(context, per_day)
    return dg.MaterializeResult(metadata={"range": range_label(list(context.partition_keys))})
