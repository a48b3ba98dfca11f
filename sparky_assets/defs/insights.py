"""Insights layer: words about the day's facts (deterministic writer until the LLM lands)."""

import dagster as dg

from sparky_assets.defs.common import (
    COVERAGE,
    DAILY,
    partition_metadata,
    range_label,
    read_upstream,
)
from sparky_assets.defs.metrics import daily_metrics
from sparky_assets.lib.insights import (
    DeterministicWriter,
    FactSheet,
    InsightWriter,
    failed_repo_names,
)
from sparky_assets.lib.metrics import ActivityMetrics
from sparky_resources.models import Coverage
from sparky_resources.store import DataStore


def load_facts(store: DataStore, key: str) -> tuple[FactSheet, Coverage | None]:
    """The fact sheet of one day from the stored metrics and coverage."""
    metrics = ActivityMetrics.model_validate(
        read_upstream(store, "processed", "daily_metrics", key)
    )
    raw_coverage = store.read_or("raw", COVERAGE, key, None)
    coverage = Coverage.model_validate(raw_coverage) if raw_coverage else None
    facts = FactSheet(
        period="daily", partition=key, metrics=metrics, failed_repos=failed_repo_names(coverage)
    )
    return facts, coverage


@dg.asset(
    group_name="insights",
    deps=[daily_metrics],
    kinds={"json"},
    description=(
        "A headline and highlights that only restate the day's computed facts, with the "
        "writer and a hash of the facts. data/processed/daily_insights/<day>.json"
    ),
    **DAILY,
)
def daily_insights(context: dg.AssetExecutionContext, store: DataStore) -> dg.MaterializeResult:
    writer: InsightWriter = DeterministicWriter()
    per_day: dict[str, dict[str, object]] = {}
    for key in context.partition_keys:
        facts, _ = load_facts(store, key)
        insights = writer.write(facts)
        store.write("processed", "daily_insights", key, insights.model_dump(mode="json"))
        per_day[key] = {"headline": insights.headline, "facts_hash": insights.facts_hash}
    partition_metadata(context, per_day)
    return dg.MaterializeResult(
        metadata={"writer": writer.name, "range": range_label(list(context.partition_keys))}
    )
