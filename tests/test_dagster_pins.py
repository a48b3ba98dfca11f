"""Where Sparky keeps code of its own instead of a Dagster feature, pinned: each test fails when
Dagster changes what made the choice.

- The private class behind per-partition check results: `sparky_assets/defs/check_evaluations.py`
  is the only module that imports it. If an upgrade moves or reshapes it, these tests fail first.
- `yesterday_digest_by_2am` instead of `build_time_partition_freshness_checks`: Dagster's check
  expects the *last* partition by the deadline, and with `end_offset=1` (today is a partition,
  so the demo shows today) that is today's, which the 00:30 run never writes: it would fail
  every day. Measured below. Dagster 1.13 marks that factory superseded by `FreshnessPolicy`,
  whose cron policy judges the asset's last materialization of *any* partition
  (`CronFreshnessPolicyEvaluator` reads `asset_entry.last_materialization`): a demo run at
  01:00 writing today's digest would pass it with yesterday's missing.
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


def test_dagsters_freshness_check_expects_today_where_today_is_a_partition() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from dagster._core.test_utils import freeze_time

    tz = "America/New_York"
    days = dg.DailyPartitionsDefinition(start_date="2026-11-01", timezone=tz, end_offset=1)

    @dg.asset(partitions_def=days)
    def daily_digest() -> None:
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)  # see the module's docstring
        checks = dg.build_time_partition_freshness_checks(
            assets=[daily_digest], deadline_cron="0 2 * * *", timezone=tz
        )
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))
    defs = dg.Definitions(assets=[daily_digest], asset_checks=checks, jobs=[job])
    with (
        dg.instance_for_test() as instance,
        freeze_time(dt.datetime(2026, 11, 20, 2, 5, tzinfo=ZoneInfo(tz))),
    ):
        # Yesterday's digest, written at 00:30 as the daily schedule does: what Sparky checks.
        dg.materialize([daily_digest], instance=instance, partition_key="2026-11-19")
        result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
        (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "2026-11-20" in (evaluation.description or "")
