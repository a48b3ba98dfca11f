"""The daily chain through a real Dagster instance, over a real git repository.

Expected numbers for 2024-06-03 (America/New_York) are worked out by hand in
tests/gitrepo.py: non-merge commits app (+12 -0, 2 files), feature (+1 -1, 2 files),
bob (+3 -1, 1 file), bot (+1 -1, 1 file), empty (0, 0, 0) and one merge.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from gitrepo import ALICE, KnownHistory, Repo
from sparky_defs import assets, session_org

from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.store import DataStore

raw_commits, repositories = assets("raw_commits", "repositories")
(daily_digest,) = assets("daily_digest")
(daily_insights,) = assets("daily_insights")
(daily_metrics,) = assets("daily_metrics")

CHAIN = [repositories, raw_commits, daily_metrics, daily_insights, daily_digest]
DAY = "2024-06-03"
CONTRACT_FIELDS = {
    "repo",
    "sha",
    "author_name",
    "author_email",
    "committer_name",
    "committer_email",
    "authored_at",
    "committed_at",
    "subject",
    "additions",
    "deletions",
    "files_changed",
    "is_merge",
}


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def run(instance, repos, tmp: Path, *, assets=CHAIN, partition=DAY, tags=None, ok=True):
    resources = {
        "local_git": LocalGitResource(
            repos=[str(r) for r in repos], cache_dir=str(tmp / "data/cache/git")
        ),
        "github": GitHubResource(),  # not configured: local clones only
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "output")),
        # Nothing listens on the discard port: the deterministic writer writes, as offline.
        "ollama": OllamaResource(base_url="http://127.0.0.1:9"),
    }
    return dg.materialize(
        assets,
        partition_key=partition,
        resources=resources,
        instance=instance,
        tags=tags,
        raise_on_error=ok,
    )


def read(path: Path):
    """A data file's payload: list files are `{"schema_version": 2, "records": [...]}`."""
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema_version"] == 2, path
    return document["records"] if set(document) == {"schema_version", "records"} else document


def test_one_partition_end_to_end(instance, known: KnownHistory, tmp_path: Path) -> None:
    result = run(instance, [known.path, tmp_path / "gone"], tmp_path)
    assert result.success

    raw = read(tmp_path / "data/raw/raw_commits" / f"{DAY}.json")
    assert isinstance(raw, list) and len(raw) == 6
    assert all(set(record) >= CONTRACT_FIELDS for record in raw)
    # In committer-instant order (by hand, UTC): app 13:00, feature 14:00, bob 23:30 (written
    # as 01:30+02:00 on June 4, so text order would put him last), merge 00:00, bot 01:00,
    # empty 03:59:59.
    s = known.shas
    order = ["alice_app", "zoe_feature", "bob", "merge", "bot", "empty"]
    assert [r["sha"] for r in raw] == [s[name] for name in order]

    metrics = read(tmp_path / "data/processed/daily_metrics" / f"{DAY}.json")
    assert {
        k: metrics[k]
        for k in (
            "commits",
            "merges",
            "active_contributors",
            "lines_added",
            "lines_deleted",
            "files_changed",
        )
    } == {
        "commits": 5,
        "merges": 1,
        "active_contributors": 5,
        "lines_added": 17,
        "lines_deleted": 3,
        "files_changed": 6,
    }

    digest = (tmp_path / "output/daily" / f"{DAY}.md").read_text(encoding="utf-8")
    assert "| Commits | 5 |" in digest and "| Lines added | 17 |" in digest
    assert "gone: **not collected**: the configured path does not exist" in digest
    # The summary names it too: in the insights file (the built-in writer's sentences), and on
    # the page right under the title, before anything else is said.
    insights = read(tmp_path / "data/processed/daily_insights" / f"{DAY}.json")
    assert "Not collected: gone (see coverage)." in insights["highlights"]
    body = [ln for ln in digest.split("\n---\n", 1)[1].splitlines() if ln]
    assert body[:2] == [
        "# Monday 3 Jun 2024, America/New\\_York",
        "> **Incomplete**: 1 local clone(s) could not be read (gone). Re-materialize this "
        "partition once that is fixed.",
    ]
    assert str(tmp_path) not in digest
    assert (tmp_path / "output/daily" / f"{DAY}.json").exists()

    # The markdown is in the materialization's metadata, as written.
    event = instance.get_latest_materialization_event(dg.AssetKey("daily_digest"))
    assert event.asset_materialization.partition == DAY
    # The preview is the digest from its title on: front matter would show as a bold line.
    preview = event.asset_materialization.metadata["preview"].value
    assert preview.startswith("# Monday 3 Jun 2024, America/New\\_York\n")
    assert digest.endswith(preview) and digest.startswith("---\ndate:")

    # The coverage check warns about the missing clone, and the insights check about the
    # missing LLM, without failing the run; the digest says who wrote its text and why.
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed, c.severity, c.partition) for c in checks] == [
        ("all_repositories_collected", False, dg.AssetCheckSeverity.WARN, DAY),
        ("written_by_llm", False, dg.AssetCheckSeverity.WARN, DAY),
    ]
    # One plain line in the footer; the operator's detail (the URL, errno, `ollama serve`) is in
    # the run's log and the insights file, not in what people read.
    assert "- Text: summary by the built-in writer; the model was not reachable; facts" in digest
    for operator_text in ("ollama serve", "Errno", "127.0.0.1:9", "OLLAMA_HOST"):
        assert operator_text not in digest


def test_rematerializing_a_partition_is_idempotent_and_sees_new_commits(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    upstream = tmp_path / "repos" / "proj"
    shutil.copytree(known.path, upstream)
    run(instance, [upstream], tmp_path)

    def snapshot() -> dict[Path, bytes]:
        files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and "repos" not in p.parts)
        return {p: _without_collection_time(p) for p in files if "_coverage" not in p.parts}

    first = snapshot()
    time.sleep(1.1)  # a later collection time must not change what the digest says
    run(instance, [upstream], tmp_path)
    assert snapshot() == first  # nothing new, nothing changed, no temp files left behind

    # A commit lands on the day (committed later, dated on the day): the re-run must see it,
    # through the cached history listing, and change only what it changes.
    repo = Repo.open(upstream)
    repo.write("late.txt", "one\ntwo\n")
    late = repo.commit("Late arrival", ALICE, "2024-06-03T22:00:00-04:00")
    run(instance, [upstream], tmp_path)
    raw = read(tmp_path / "data/raw/raw_commits" / f"{DAY}.json")
    assert len(raw) == 7 and late in {r["sha"] for r in raw}
    metrics = read(tmp_path / "data/processed/daily_metrics" / f"{DAY}.json")
    assert (metrics["commits"], metrics["lines_added"]) == (6, 17 + 2)
    second = snapshot()
    assert second != first
    run(instance, [upstream], tmp_path)
    assert snapshot() == second


def _without_collection_time(path: Path) -> bytes:
    """A file's bytes; a window's facts file without the collection times of the coverage it
    carries (the coverage files themselves are left out of the snapshot for the same reason)."""
    if path.parent.name.endswith("_facts"):
        document = json.loads(path.read_text(encoding="utf-8"))
        for coverage in document["coverages"]:
            coverage.pop("collected_at")
        return json.dumps(document, sort_keys=True).encode("utf-8")
    return path.read_bytes()


def test_a_clone_that_disappears_does_not_double_count(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    a = tmp_path / "repos" / "a"
    b = tmp_path / "repos" / "b"
    subprocess.run(["git", "clone", "-q", str(known.path), str(a)], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(known.path), str(b)], check=True)
    run(instance, [a, b], tmp_path)
    raw_path = tmp_path / "data/raw/raw_commits" / f"{DAY}.json"
    assert len(read(raw_path)) == 6  # both clones hold the day's 6 commits: counted once
    shutil.rmtree(a)
    run(instance, [a, b], tmp_path)
    raw = read(raw_path)
    assert len(raw) == 6 and len({r["sha"] for r in raw}) == 6
    assert {r["repo"] for r in raw} == {"b"}
    metrics = read(tmp_path / "data/processed/daily_metrics" / f"{DAY}.json")
    assert metrics["commits"] == 5


def test_a_range_is_one_run_and_one_file_per_day(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: "2024-06-01",
        ASSET_PARTITION_RANGE_END_TAG: "2024-06-04",
    }
    result = run(instance, [known.path], tmp_path, partition=None, tags=tags)
    assert result.success
    assert len(instance.get_runs()) == 1

    days = ["2024-06-01", "2024-06-02", "2024-06-03", "2024-06-04"]
    raw_dir = tmp_path / "data/raw/raw_commits"
    assert sorted(p.stem for p in raw_dir.glob("*.json")) == days
    shas = {d: [r["sha"] for r in read(raw_dir / f"{d}.json")] for d in days}
    s = known.shas
    assert shas["2024-06-01"] == [s["root"]]
    assert shas["2024-06-02"] == [s["zoe_midnight"]]
    assert len(shas["2024-06-03"]) == 6
    assert shas["2024-06-04"] == [s["dave"]]
    assert sorted(p.stem for p in (tmp_path / "output/daily").glob("*.md")) == days
    # Each day's digest has that day's numbers: June 4 is Dave's one line.
    june4 = read(tmp_path / "data/processed/daily_metrics/2024-06-04.json")
    assert (june4["commits"], june4["lines_added"], june4["active_contributors"]) == (1, 1, 1)
    # Every partition of every asset is recorded as materialized.
    for asset in ("raw_commits", "daily_digest"):
        materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert materialized == set(days), asset

    # Each partition carries its own metadata and its own check result, not the range's.
    commits_by_hand = {"2024-06-01": 1, "2024-06-02": 1, "2024-06-03": 6, "2024-06-04": 1}
    commits_metric = {"2024-06-01": 1, "2024-06-02": 1, "2024-06-03": 5, "2024-06-04": 1}
    # Each day's title, the window in plain words (June 1, 2024 was a Saturday).
    titles = {
        "2024-06-01": "# Saturday 1 Jun 2024, America/New\\_York\n",
        "2024-06-02": "# Sunday 2 Jun 2024, America/New\\_York\n",
        "2024-06-03": "# Monday 3 Jun 2024, America/New\\_York\n",
        "2024-06-04": "# Tuesday 4 Jun 2024, America/New\\_York\n",
    }
    check_key = dg.AssetCheckKey(dg.AssetKey("raw_commits"), "all_repositories_collected")
    for d in days:
        raw_meta = _partition_metadata(instance, "raw_commits", d)
        assert raw_meta["commits"] == commits_by_hand[d]
        assert _partition_metadata(instance, "daily_metrics", d)["commits"] == commits_metric[d]
        preview = _partition_metadata(instance, "daily_digest", d)["preview"]
        assert preview.startswith(titles[d])
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [check_key], partition_filter=PartitionKeyFilter(key=d)
        )[check_key]
        assert check.partition == d and check.evaluation.passed

    # repositories records each day's state: the newest commit committed before its end.
    heads = {d: read(tmp_path / "data/raw/repositories" / f"{d}.json")[0]["head_sha"] for d in days}
    assert heads == {
        "2024-06-01": s["root"],
        "2024-06-02": s["zoe_midnight"],
        "2024-06-03": s["empty"],
        "2024-06-04": s["dave"],
    }


def _partition_metadata(instance, asset: str, partition: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=10,
    ).records
    assert len(records) == 1, (asset, partition)
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_a_failing_repository_keeps_what_it_had(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    clone = tmp_path / "repos" / "proj"
    subprocess.run(["git", "clone", "-q", str(known.path), str(clone)], check=True)
    other = tmp_path / "repos" / "other"
    Repo(other)
    run(instance, [clone, other], tmp_path)
    raw_path = tmp_path / "data/raw/raw_commits" / f"{DAY}.json"
    before = read(raw_path)
    assert len(before) == 6

    shutil.rmtree(clone / ".git" / "objects")
    (clone / ".git" / "objects").mkdir()
    result = run(instance, [clone, other], tmp_path)
    assert result.success
    assert read(raw_path) == before
    coverage = read(tmp_path / "data/raw/_coverage/raw_commits" / f"{DAY}.json")
    proj = next(r for r in coverage["repos"] if r["repo"] == "proj")
    assert (proj["status"], proj["kept_previous"]) == ("failed", 6)
    digest = (tmp_path / "output/daily" / f"{DAY}.md").read_text(encoding="utf-8")
    assert "proj: **not collected**" in digest and "kept 6 commit(s)" in digest


def test_no_readable_repository_fails_with_one_clear_message(instance, tmp_path: Path) -> None:
    result = run(
        instance, [tmp_path / "nowhere"], tmp_path, assets=[repositories, raw_commits], ok=False
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "no repository could be read" in message and "does not exist" in message
    assert not (tmp_path / "data/raw/raw_commits" / f"{DAY}.json").exists()


def test_metrics_without_raw_data_say_what_to_materialize(instance, tmp_path: Path) -> None:
    result = run(instance, [], tmp_path, assets=[daily_metrics], ok=False)
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert f"the daily window {DAY} needs raw_commits for {DAY}" in message
    assert "materialize the collect assets for those days first" in message
