"""Each job runs on what it has: the daily job never needs a weekly or monthly digest.

The UI's "Materialize all…" on a job lists the assets its selection depends on that lie
outside the job and were never materialized, and asks "Are you sure?": the README's first
step (materialize a day of `daily_digest_job` on a new instance) must not. The same question
is asked here of a real Dagster instance, before and after real runs of the real jobs, and the
index must still list the weekly and monthly digests once they exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster_shared.record import replace
from sparky_defs import session_org

from sparky_assets.definitions import defs as load_defs
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.publisher import GitPublisherResource
from sparky_resources.store import DataStore

JOBS = ("daily_digest_job", "weekly_digest_job", "monthly_digest_job", "publish_digests_job")
WEEK = "2024-06-03"
DAYS = ("2024-06-01", "2024-06-30")  # the month: its job needs every day collected
MONTH = "2024-06-01"


def job_keys(defs: dg.Definitions, job: str) -> set[dg.AssetKey]:
    return set(defs.resolve_job_def(job).asset_layer.executable_asset_keys)


def outside_parents(defs: dg.Definitions, job: str) -> set[dg.AssetKey]:
    """The assets the job's selection depends on that the job does not materialize."""
    graph = defs.resolve_asset_graph()
    inside = job_keys(defs, job)
    return {p for key in inside for p in graph.get(key).parent_keys} - inside


def would_warn(defs: dg.Definitions, job: str, instance: dg.DagsterInstance) -> list[str]:
    """What the UI's "Are you sure?" lists for the job: its outside parents that are
    materializable and have no materialization at all on the instance."""
    graph = defs.resolve_asset_graph()
    return sorted(
        key.to_user_string()
        for key in outside_parents(defs, job)
        if graph.get(key).is_materializable
        and instance.get_latest_materialization_event(key) is None
    )


def test_the_daily_job_depends_on_nothing_outside_it() -> None:
    defs = load_defs()
    assert outside_parents(defs, "daily_digest_job") == set()
    # The weekly, monthly and publishing jobs read only what the daily job writes (the raw
    # days, the identities, the daily digest): never another period's digest.
    daily = job_keys(defs, "daily_digest_job")
    for job in JOBS[1:]:
        outside = outside_parents(defs, job)
        assert outside <= daily, (job, outside - daily)
    digests = {dg.AssetKey(f"{p}_digest") for p in ("weekly", "monthly")}
    assert not any(digests & outside_parents(defs, job) for job in JOBS)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, session_root: Path):
    """The real definitions over the session's known history, writing to a folder of their own,
    on a new instance."""
    root = tmp_path_factory.mktemp("jobs")
    defs = load_defs()
    defs = replace(
        defs,
        resources={
            **(defs.resources or {}),
            "local_git": LocalGitResource(
                repos=[str(session_root / "known")], cache_dir=str(root / "data/cache/git")
            ),
            "github": GitHubResource(),  # no org: local clones only
            "org": session_org(),
            "store": DataStore(data_dir=str(root / "data"), output_dir=str(root / "output")),
            "ollama": OllamaResource(base_url="http://127.0.0.1:9"),  # refused: offline
            "publisher": GitPublisherResource(work_tree=""),
        },
    )
    # In memory: the same event log and asset records, without SQLite's fsync per event.
    with dg.DagsterInstance.ephemeral() as instance:
        yield defs, instance, root / "output"


def run(defs: dg.Definitions, instance, job: str, first: str, last: str | None = None) -> None:
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last or first}
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, tags=tags)
    assert result.success, job


def listed(output: Path) -> set[str]:
    """The digests the index lists: those it links, and the quiet days (their sidecar says
    `quiet`) that it folds into "no activity" runs."""
    index = (output / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(((?:daily|weekly|monthly)/[\d-]+)\.md\)", index))
    quiet = {
        f"daily/{p.stem}"
        for p in (output / "daily").glob("*.json")
        if json.loads(p.read_text(encoding="utf-8")).get("quiet")
    }
    folded = quiet - linked
    if folded:
        assert index.count(": no activity") >= 1, index
    return linked | folded


def test_materialize_all_asks_nothing_and_the_index_lists_every_digest(runner) -> None:
    defs, instance, output = runner
    # A new instance: the README's first step.
    assert would_warn(defs, "daily_digest_job", instance) == []

    run(defs, instance, "daily_digest_job", *DAYS)
    assert listed(output) == {f"daily/2024-06-{d:02}" for d in range(1, 31)}
    for job in ("weekly_digest_job", "monthly_digest_job"):
        assert would_warn(defs, job, instance) == [], job

    run(defs, instance, "weekly_digest_job", WEEK)
    assert f"weekly/{WEEK}" in listed(output)
    run(defs, instance, "monthly_digest_job", MONTH)
    assert {f"weekly/{WEEK}", f"monthly/{MONTH}"} <= listed(output)
    assert (output / "weekly" / f"{WEEK}.md").is_file()
    feed = (output / "feed.xml").read_text(encoding="utf-8")
    assert f"/weekly/{WEEK}</id>" in feed and f"/monthly/{MONTH}</id>" in feed

    # The daily job's index, run again after them, still lists them (it reads the disk).
    run(defs, instance, "daily_digest_job", DAYS[-1])
    assert {f"weekly/{WEEK}", f"monthly/{MONTH}", f"daily/{DAYS[-1]}"} <= listed(output)
    assert would_warn(defs, "publish_digests_job", instance) == []
