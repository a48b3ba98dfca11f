"""The private Dagster class behind per-partition check results, pinned in one place.

`sparky_assets/defs/check_evaluations.py` is the only module that imports it. If a Dagster
upgrade moves or reshapes it, these tests fail first and say so; the checks' own tests then
say what it broke.
"""

import inspect
import warnings
from collections.abc import Iterator
from typing import Any

import dagster as dg

from sparky_assets.defs import check_evaluations


def test_the_private_class_is_where_sparky_imports_it_with_the_fields_it_sets() -> None:
    target = check_evaluations.AssetCheckEvaluationTargetMaterializationData
    assert target.__module__ == "dagster._core.definitions.asset_checks.asset_check_evaluation"
    made = target(storage_id=7, run_id="run", timestamp=1.5)
    assert (made.storage_id, made.run_id, made.timestamp) == (7, "run", 1.5)
    # No public route exists yet: AssetCheckResult cannot name a partition. When Dagster adds
    # one, this fails and the private import can go.
    assert "partition" not in inspect.signature(dg.AssetCheckResult).parameters
    assert not hasattr(dg, "AssetCheckEvaluationTargetMaterializationData")


def test_a_range_run_records_one_evaluation_per_day_tied_to_that_days_materialization() -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-06-01", end_date="2024-06-04")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)
        spec = dg.AssetCheckSpec("even_day", asset="numbers", partitions_def=days)

        @dg.asset(
            partitions_def=days,
            check_specs=[spec],
            backfill_policy=dg.BackfillPolicy.single_run(),
        )
        def numbers(context: dg.AssetExecutionContext) -> Iterator[Any]:
            yield dg.MaterializeResult()
            verdicts = {k: (int(k[-2:]) % 2 == 0, {"day": k}) for k in context.partition_keys}
            yield from check_evaluations.partition_checks(context, spec, verdicts)

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [numbers],
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2024-06-01",
                "dagster/asset_partition_range_end": "2024-06-03",
            },
        )
        assert result.success
        evaluations = {e.partition: e for e in result.get_asset_check_evaluations()}
        assert {k: e.passed for k, e in evaluations.items()} == {
            "2024-06-01": False,
            "2024-06-02": True,
            "2024-06-03": False,
        }
        for key, evaluation in evaluations.items():
            (record,) = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("numbers"), asset_partitions=[key]),
                limit=1,
            ).records
            target = evaluation.target_materialization_data
            assert target.storage_id == record.storage_id and target.run_id == result.run_id
