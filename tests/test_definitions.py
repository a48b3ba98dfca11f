"""The whole asset graph loads and reads like the design's table."""

from __future__ import annotations

import itertools

import dagster as dg
import pytest

from sparky_assets.definitions import defs as load_defs

DAILY_CHAIN = ["repositories", "raw_commits", "daily_metrics", "daily_insights", "daily_digest"]
GITHUB = ["raw_pull_requests", "raw_issues", "raw_releases", "raw_backlog", "raw_github_commits"]
# The GitHub step's delivery files, read by the weekly and monthly metrics (DORA and teams).
DELIVERY = ["raw_deployments", "raw_ownership"]
WINDOWS = {
    "weekly_metrics": dg.WeeklyPartitionsDefinition,
    "monthly_metrics": dg.MonthlyPartitionsDefinition,
}
RAW = ["raw_commits", *GITHUB[:4]]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return load_defs()


def test_definitions_load_and_validate(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == set(DAILY_CHAIN) | set(GITHUB) | set(DELIVERY) | set(WINDOWS) | {
        "contributors"
    } | {
        "weekly_insights",
        "monthly_insights",
        "weekly_digest",
        "monthly_digest",
        "digest_index",
        "published_digests",
        "daily_delivered_digests",
        "weekly_delivered_digests",
        "monthly_delivered_digests",
    }


def test_lineage_is_the_daily_chain(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for upstream, downstream in itertools.pairwise(DAILY_CHAIN):
        parents = graph.get(dg.AssetKey(downstream)).parent_keys
        extra = {
            "raw_commits": {dg.AssetKey("raw_github_commits")},
            "daily_metrics": {dg.AssetKey(k) for k in [*RAW, "contributors"]},
            "daily_digest": {dg.AssetKey("daily_metrics")},  # it renders the metrics file
        }.get(downstream, set())
        assert parents == {dg.AssetKey(upstream)} | extra, downstream


def test_weekly_and_monthly_read_the_raw_days_and_the_identities(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("contributors")).parent_keys == {
        dg.AssetKey(k) for k in ("raw_commits", "raw_pull_requests", "raw_issues")
    }
    assert graph.get(dg.AssetKey("contributors")).partitions_def is None
    for name, kind in WINDOWS.items():
        node = graph.get(dg.AssetKey(name))
        expected = {dg.AssetKey(k) for k in [*RAW, *DELIVERY, "contributors"]}
        assert node.parent_keys == expected, name
        assert isinstance(node.partitions_def, kind), name
        assert node.partitions_def.timezone == "America/New_York"
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), name
        assert node.owners == ["team:sparky"] and node.group_name == "metrics", name
    weekly = graph.get(dg.AssetKey("weekly_metrics")).partitions_def
    # Weeks start on Monday: the week holding start_date (Wednesday 2024-05-01) is 04-29's.
    assert weekly.get_first_partition_key() == "2024-04-29"
    monthly = graph.get(dg.AssetKey("monthly_metrics")).partitions_def
    assert monthly.get_first_partition_key() == "2024-05-01"


def test_every_asset_is_daily_documented_and_range_aware(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for name in DAILY_CHAIN + GITHUB:
        node = graph.get(dg.AssetKey(name))
        partitions = node.partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition), name
        # From the session's sparky.toml (tests/conftest.py).
        assert partitions.timezone == "America/New_York"
        assert partitions.start.strftime("%Y-%m-%d") == "2024-05-01"
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), name
        assert node.description and len(node.description) > 40, name
        assert node.owners == ["team:sparky"], name
        assert node.group_name in {"collect", "metrics", "insights", "digests"}, name
        assert node.kinds, name


def test_raw_commits_declares_its_coverage_check(defs: dg.Definitions) -> None:
    checks = defs.resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey("raw_commits"), "all_repositories_collected") in checks


def test_insights_assets_use_the_ollama_pool_retry_and_a_fallback_check(
    defs: dg.Definitions,
) -> None:
    graph = defs.resolve_asset_graph()
    checks = graph.asset_check_keys
    kinds = {
        "daily": dg.DailyPartitionsDefinition,
        **{name.split("_")[0]: kind for name, kind in WINDOWS.items()},
    }
    for period, kind in kinds.items():
        key = dg.AssetKey(f"{period}_insights")
        node = graph.get(key)
        assert node.parent_keys == {dg.AssetKey(f"{period}_metrics")}, period
        assert isinstance(node.partitions_def, kind), period
        assert node.pools == {"ollama"}, period
        assert "ollama" in node.kinds and node.group_name == "insights", period
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), period
        assert dg.AssetCheckKey(key, "written_by_llm") in checks, period
        op = defs.resolve_assets_def(key).op
        assert op.retry_policy is not None and op.retry_policy.max_retries >= 1, period
        assert "ollama" in op.required_resource_keys, period


def test_every_period_has_a_digest_after_its_insights(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for period in ("daily", "weekly", "monthly"):
        node = graph.get(dg.AssetKey(f"{period}_digest"))
        assert node.parent_keys == {
            dg.AssetKey(f"{period}_insights"),
            dg.AssetKey(f"{period}_metrics"),
        }, period
        assert node.group_name == "digests" and "markdown" in node.kinds
        assert node.partitions_def == graph.get(dg.AssetKey(f"{period}_metrics")).partitions_def


def test_publishing_is_a_job_and_a_stopped_sensor(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def("publish_new_digests")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    job = defs.resolve_job_def("publish_digests_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "digest_index",
        "published_digests",
    }
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("published_digests")).parent_keys == {dg.AssetKey("digest_index")}
    # The session's sparky.toml has no [publish]: the resource says "not configured".
    assert (defs.resources or {})["publisher"].work_tree == ""


def test_resources_come_from_the_config_file(defs: dg.Definitions, session_root) -> None:
    resources = defs.resources or {}
    assert set(resources) >= {"local_git", "store", "ollama"}
    # tests/conftest.py points [llm].base_url at the discard port; the model is the default.
    assert resources["ollama"].base_url == "http://127.0.0.1:9/"
    assert resources["ollama"].model == "qwen2.5-coder:1.5b"
    assert resources["ollama"].num_ctx == 8192
    assert resources["local_git"].repos == [
        str(session_root / "known"),
        str(session_root / "missing-clone"),
    ]
    assert resources["store"].data_dir == str(session_root / "data")
