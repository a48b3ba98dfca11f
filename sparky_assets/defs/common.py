"""Policy shared by every Sparky asset, applied in one place, and per-partition reporting."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from sparky_resources.store import DataStore, Layer, MissingDataError

OWNERS = ["team:sparky"]



def daily(partitions_def: dg.PartitionsDefinition) -> dict[str, Any]:
    """What every daily asset shares: it stores its own files per day and handles a range of
    days in one run, so a backfill of a year is one run (and `--partition-range` works from
    the CLI)."""
    return dict(
        partitions_def=partitions_def,
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


def range_label(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"


def partition_metadata(
    context: dg.AssetExecutionContext, per_day: Mapping[str, Mapping[str, Any]]
) -> None:
    """Give each partition of a (range) run its own metadata in the UI.

    A single-run backfill materializes every partition of the range from one result, so the
    result's metadata would be shown on every day; `add_asset_metadata(partition_key=...)`
    (Dagster 1.13) attaches a day's own figures to that day's materialization instead.
    """
    for key, metadata in per_day.items():
        context.add_asset_metadata(dict(metadata), partition_key=key)


def partition_checks(
    context: dg.OpExecutionContext,
    spec: dg.AssetCheckSpec,
    results: Mapping[str, tuple[bool, Mapping[str, Any]]],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    descriptions: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """One check evaluation per partition, each tied to that day's materialization.

    `AssetCheckResult` cannot name a partition, so a range run would record one unpartitioned
    result; Dagster's own `AssetCheckEvaluation` can. Yield this after the MaterializeResult
    (from an `@asset_check`, pass `context.op_execution_context`). `descriptions` gives a
    partition's evaluation its one-line description (what failed, and the numbers).
    """
    for key, (passed, metadata) in results.items():
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=spec.asset_key, asset_partitions=[key]), limit=1
        ).records
        target = (
            AssetCheckEvaluationTargetMaterializationData(
                storage_id=records[0].storage_id,
                run_id=records[0].run_id,
                timestamp=records[0].timestamp,
            )
            if records
            else None
        )
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            partition=key,
            passed=passed,
            metadata=dict(metadata),
            severity=severity,
            blocking=spec.blocking,
            target_materialization_data=target,
            description=(descriptions or {}).get(key),
        )
    # The check's output must be produced once, as an AssetCheckResult would.
    output = context.assets_def.get_output_name_for_asset_check_key(spec.key)
    yield dg.Output(None, output_name=output)
