"""One check evaluation per partition: the one place Sparky uses a private Dagster class.

A single-run backfill runs a check once for the whole range; `AssetCheckResult` cannot name a
partition (Dagster 1.13 has no public way to), so it would record one unpartitioned result.
Dagster's public `AssetCheckEvaluation` can name one, but tying it to that partition's
materialization needs `AssetCheckEvaluationTargetMaterializationData`, which Dagster does not
export. It is used here only; tests/test_dagster_pins.py pins its import and fields, so a
Dagster upgrade that moves it fails there, in one line, not in every check.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def partition_checks(
    context: dg.OpExecutionContext,
    spec: dg.AssetCheckSpec,
    results: Mapping[str, tuple[bool, Mapping[str, Any]]],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    descriptions: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """One check evaluation per partition, each tied to that day's materialization.

    Yield this after the MaterializeResult
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
