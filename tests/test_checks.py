"""The metrics and digest checks, through a real Dagster instance over a real git repository.

Figures by hand (tests/gitrepo.py, as in tests/test_pipeline.py): 2024-06-03 has 5 non-merge
commits (+17 -3 lines, 6 files) and one merge; 2024-06-04 has Dave's one commit (a new file
of one line: +1 -0, 1 file); 2024-06-05 ... 2024-06-09 have none. The week of Monday
2024-06-03 is therefore 6 commits, 1 merge, +18 -3 lines, 7 files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from gitrepo import KnownHistory
from sparky_defs import assets, check, session_org
from test_pipeline import CHAIN, DAY, run

from sparky_assets.defs.automation import automation_status
from sparky_assets.defs.checks import (
    build_freshness_schedule,
    digest_freshness_job,
    links_and_html,
    yesterday_digest_by_2am,
)
from sparky_assets.lib.facts import WindowRefs
from sparky_assets.lib.sanitize import WORD_JOINER
from sparky_resources.github_collect import GitHubResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.store import DataStore

raw_commits, repositories = assets("raw_commits", "repositories")
(daily_digest,) = assets("daily_digest")
(daily_insights,) = assets("daily_insights")
daily_metrics, weekly_metrics = assets("daily_metrics", "weekly_metrics")
daily_metrics_match_raw = check("daily_metrics", "commits_match_raw")
weekly_metrics_match_days = check("weekly_metrics", "additive_figures_match_days")
daily_summary_grounded = check("daily_digest", "summary_grounded")

WEEK = "2024-06-03"  # a Monday
WEEK_DAYS = [f"2024-06-{d:02d}" for d in range(3, 10)]
RANGE = {ASSET_PARTITION_RANGE_START_TAG: "2024-06-01", ASSET_PARTITION_RANGE_END_TAG: "2024-06-04"}


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def store(tmp: Path) -> DataStore:
    return DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "output"))


def only_checks(instance, tmp: Path, assets, selection, *, partition=None, tags=None):
    """Run only `selection` (checks, maybe assets) of `assets`; no materialization else.

    `dg.materialize(partition_key=...)` looks for a partitioned asset in the selection, and a
    check is not one: the partition goes in as the run's tag, as a launched run carries it."""
    run_tags = dict(tags or {})
    if partition:
        run_tags["dagster/partition"] = partition
    return dg.materialize(
        assets,
        selection=selection,
        resources={
            "store": store(tmp),
            "ollama": OllamaResource(base_url="http://127.0.0.1:9"),
            "org": session_org(),
            "github": GitHubResource(),
        },
        instance=instance,
        tags=run_tags,
        raise_on_error=False,
    )


def evaluations(result, name: str) -> dict[str | None, dg.AssetCheckEvaluation]:
    return {e.partition: e for e in result.get_asset_check_evaluations() if e.check_name == name}


def edit(path: Path, **changes) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document.update(changes)
    path.write_text(json.dumps(document), encoding="utf-8")


def materialized_in(instance, run_id: str) -> set[str]:
    return {
        e.asset_key.to_user_string()
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        for e in [e.dagster_event]
    }


# --- 1. daily metrics against raw rows (blocking) ------------------------------------------


def test_daily_metrics_check_passes_then_fails_and_blocks_downstream(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    assets = [*CHAIN, daily_metrics_match_raw, daily_summary_grounded]
    result = run(instance, [known.path], tmp_path, assets=assets)
    assert result.success
    check = evaluations(result, "commits_match_raw")[DAY]
    assert check.passed and check.blocking and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["metrics_commits"].value == 5
    assert check.metadata["raw_non_merge_rows"].value == 5
    assert check.metadata["raw_merge_rows"].value == 1
    assert evaluations(result, "summary_grounded")[DAY].passed

    metrics = tmp_path / "data/processed/daily_metrics" / f"{DAY}.json"
    edit(metrics, commits=7)
    insights = tmp_path / "data/processed/daily_insights" / f"{DAY}.json"
    before = insights.read_bytes()
    # The check and the asset after daily_metrics, in one run (daily_metrics not rewritten).
    result = only_checks(
        instance,
        tmp_path,
        [daily_metrics, daily_insights, daily_metrics_match_raw],
        dg.AssetSelection.checks(daily_metrics_match_raw)
        | dg.AssetSelection.assets(daily_insights),
        partition=DAY,
    )
    assert not result.success
    check = evaluations(result, "commits_match_raw")[DAY]
    assert not check.passed
    assert check.description == "commits is 7 in daily_metrics but raw_commits has 5 non-merge rows"
    assert materialized_in(instance, result.run_id) == set()  # daily_insights did not run
    assert insights.read_bytes() == before
    (failure,) = result.get_step_failure_events()
    assert "blocking asset check failed" in failure.step_failure_data.error.message

    edit(metrics, commits=5, merges=0)
    result = only_checks(
        instance,
        tmp_path,
        [daily_metrics, daily_metrics_match_raw],
        dg.AssetSelection.checks(daily_metrics_match_raw),
        partition=DAY,
    )
    assert evaluations(result, "commits_match_raw")[DAY].description == (
        "merges is 0 in daily_metrics but raw_commits has 1 merge rows"
    )


def test_a_range_run_records_the_daily_check_per_day(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    assets = [repositories, raw_commits, daily_metrics, daily_metrics_match_raw]
    result = run(instance, [known.path], tmp_path, assets=assets, partition=None, tags=RANGE)
    assert result.success and len(instance.get_runs()) == 1
    days = ["2024-06-01", "2024-06-02", "2024-06-03", "2024-06-04"]
    checks = evaluations(result, "commits_match_raw")
    assert sorted(checks) == days and all(c.passed for c in checks.values())
    # Each day's own raw rows, by hand: 1, 1, 5 (+1 merge), 1.
    assert [checks[d].metadata["raw_non_merge_rows"].value for d in days] == [1, 1, 5, 1]

    raw = tmp_path / "data/raw/raw_commits/2024-06-02.json"
    document = json.loads(raw.read_text(encoding="utf-8"))
    document["records"][0]["is_merge"] = True
    raw.write_text(json.dumps(document), encoding="utf-8")
    result = only_checks(
        instance,
        tmp_path,
        [daily_metrics, daily_metrics_match_raw],
        dg.AssetSelection.checks(daily_metrics_match_raw),
        tags=RANGE,
    )
    checks = evaluations(result, "commits_match_raw")
    assert {d for d, c in checks.items() if not c.passed} == {"2024-06-02"}
    assert checks["2024-06-02"].description == (
        "commits is 1 in daily_metrics but raw_commits has 0 non-merge rows; "
        "merges is 0 in daily_metrics but raw_commits has 1 merge rows"
    )
    # Stored per partition, as the UI shows them.
    key = daily_metrics_match_raw.check_key
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [key], partition_filter=PartitionKeyFilter(key="2024-06-02")
    )[key]
    assert latest.partition == "2024-06-02" and not latest.evaluation.passed


# --- 2. weekly figures against the sums of the days (warn) ---------------------------------


def test_weekly_check_sums_the_days_and_names_missing_ones(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    week_range = {
        ASSET_PARTITION_RANGE_START_TAG: WEEK_DAYS[0],
        ASSET_PARTITION_RANGE_END_TAG: WEEK_DAYS[-1],
    }
    daily = [repositories, raw_commits, daily_metrics]
    assert run(instance, [known.path], tmp_path, assets=daily, partition=None, tags=week_range)
    result = run(
        instance, [], tmp_path, assets=[weekly_metrics, weekly_metrics_match_days], partition=WEEK
    )
    check = evaluations(result, "additive_figures_match_days")[WEEK]
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN and not check.blocking
    expected = {
        "commits": 6,
        "merges": 1,
        "lines_added": 18,
        "lines_deleted": 3,
        "files_changed": 7,
    }
    for figure, value in expected.items():
        assert check.metadata[f"week_{figure}"].value == value, figure
        assert check.metadata[f"days_{figure}"].value == value, figure
    assert check.metadata["missing_days"].value == "none"

    def recheck() -> dg.AssetCheckEvaluation:
        result = only_checks(
            instance,
            tmp_path,
            [weekly_metrics, weekly_metrics_match_days],
            dg.AssetSelection.checks(weekly_metrics_match_days),
            partition=WEEK,
        )
        assert result.success  # a warning never fails the run
        return evaluations(result, "additive_figures_match_days")[WEEK]

    daily_dir = tmp_path / "data/processed/daily_metrics"
    # A quiet day without its file: the present days still add up, the day is named.
    (daily_dir / "2024-06-07.json").unlink()
    check = recheck()
    assert check.passed and check.description.endswith("no daily_metrics file for 2024-06-07")
    # Dave's day without its file: the week has one commit more than its days.
    (daily_dir / "2024-06-04.json").unlink()
    check = recheck()
    assert not check.passed
    assert "commits 6 != 5 (sum of days)" in check.description
    assert "lines_added 18 != 17 (sum of days)" in check.description
    assert check.description.endswith("(no daily_metrics file for 2024-06-04, 2024-06-07)")

    run(instance, [known.path], tmp_path, assets=daily, partition="2024-06-04")
    run(instance, [known.path], tmp_path, assets=daily, partition="2024-06-07")
    assert recheck().passed
    edit(daily_dir / "2024-06-03.json", lines_deleted=30)
    check = recheck()
    assert not check.passed and check.description == "lines_deleted 3 != 30 (sum of days)"


# --- 3. the digest's summary is grounded and inert (warn) ----------------------------------


def test_grounding_check_finds_dropped_text_foreign_links_tags_and_mentions(
    instance, known: KnownHistory, tmp_path: Path
) -> None:
    result = run(instance, [known.path], tmp_path, assets=[*CHAIN, daily_summary_grounded])
    check = evaluations(result, "summary_grounded")[DAY]
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN and not check.blocking

    insights = tmp_path / "data/processed/daily_insights" / f"{DAY}.json"
    dropped = {
        "kind": "highlight",
        "text": "Alice shipped 40 releases.",
        "reason": "40 is not a fact",
    }
    edit(insights, dropped=[dropped])
    digest = tmp_path / "output/daily" / f"{DAY}.md"
    clean = digest.read_text(encoding="utf-8")

    def recheck(markdown: str) -> dg.AssetCheckEvaluation:
        digest.write_text(markdown, encoding="utf-8")
        result = only_checks(
            instance,
            tmp_path,
            [daily_digest, daily_summary_grounded],
            dg.AssetSelection.checks(daily_summary_grounded),
            partition=DAY,
        )
        assert result.success
        return evaluations(result, "summary_grounded")[DAY]

    assert recheck(clean).passed  # dropped, and not in the digest

    def in_summary(line: str) -> str:
        return clean.replace("\n## Key numbers", f"\n- {line}\n\n## Key numbers", 1)

    check = recheck(in_summary("Alice shipped 40 releases."))
    assert not check.passed
    assert check.description == (
        "dropped highlight is in the digest: 'Alice shipped 40 releases.' (40 is not a fact)"
    )
    # Rendered (escaped) the same text is still found.
    assert not recheck(in_summary("Alice shipped 40 releases\\.")).passed

    check = recheck(in_summary("See [proj#7](https://github.com/acme/proj/pull/7)."))
    assert not check.passed and "https://github.com/acme/proj/pull/7 is outside the org" in (
        check.description
    )
    check = recheck(in_summary("Read <img src=x> now."))
    assert not check.passed and "raw HTML in the summary: '<img src=x> now.'" in check.description
    check = recheck(in_summary("Thanks @alice"))
    assert not check.passed and "live @mention in the summary" in check.description
    # A broken mention (word joiners on both sides of '@', as md_text writes it) is inert.
    assert recheck(in_summary(f"Thanks {WORD_JOINER}@{WORD_JOINER}alice")).passed
    # After "## Key numbers" is not the summary.
    assert recheck(clean + "\nAlice shipped 40 releases.\n").passed


def test_links_must_point_into_the_window() -> None:
    refs = WindowRefs.from_records(
        "acme",
        commits=[{"repo": "proj", "sha": "0123456789abcdef0123456789abcdef01234567"}],
        pull_requests=[{"repo": "acme/proj", "number": 12}],
        issues=[{"repo": "acme/tools", "number": 3}],
    )
    assert refs.problem("https://github.com/acme/proj/pull/12") is None
    assert refs.problem("https://github.com/ACME/proj/issues/12") is None
    assert refs.problem("https://github.com/acme/tools/issues/3") is None
    assert refs.problem("https://github.com/acme/proj/commit/0123456") is None
    assert refs.problem("https://github.com/acme/proj") is None
    assert "acme/proj/pull/13" in refs.problem("https://github.com/acme/proj/pull/13")
    assert "not in the window's commits" in refs.problem(
        "https://github.com/acme/proj/commit/fedcba9"
    )
    assert "outside the org acme" in refs.problem("https://github.com/evil/proj/pull/12")
    assert "not a link to a GitHub" in refs.problem("https://example.com/proj")
    assert "has no commit" in refs.problem("https://github.com/acme/other")


def test_links_and_html_are_what_commonmark_reads() -> None:
    summary = (
        "- See [proj#12](https://github.com/acme/proj/pull/12) and <https://example.com/x>.\n"
        "- A [reference][r] link, an image ![alt](https://img.example/p.png) (not a link).\n"
        "- Inert: `<b>code</b>`, \\<i>escaped\\</i>, and 3 < 4.\n"
        "- Live: <span class=x>hi</span> twice <span>.\n"
        "\n"
        "<div>\nblock\n</div>\n"
        "\n"
        "[r]: https://github.com/acme/tools/issues/3\n"
    )
    links, html = links_and_html(summary)
    assert links == [
        "https://github.com/acme/proj/pull/12",
        "https://example.com/x",
        "https://github.com/acme/tools/issues/3",
    ]
    # Each tag with the rest of its line (the second <span> after the first), then the block.
    assert html == [
        "<span class=x>hi</span> twice <span>.",
        "</span> twice <span>.",
        "<span>.",
        "<div>",
    ]


# --- 4. yesterday's digest by 02:00 (warn), alone in its job --------------------------------


def test_freshness_check_and_its_schedule(instance, known: KnownHistory, tmp_path: Path) -> None:
    assert run(instance, [known.path], tmp_path).success  # writes output/daily/2024-06-03.md
    defs = dg.Definitions(
        assets=[daily_digest],
        asset_checks=[yesterday_digest_by_2am],
        jobs=[digest_freshness_job],
        schedules=[build_freshness_schedule("America/New_York")],
        resources={"store": store(tmp_path), "org": session_org(), "github": GitHubResource()},
    )
    job = defs.resolve_job_def("digest_freshness_job")
    op = yesterday_digest_by_2am.node_def.name

    def at(now: str) -> dg.AssetCheckEvaluation:
        result = job.execute_in_process(
            instance=instance, run_config={"ops": {op: {"config": {"now": now}}}}
        )
        assert result.success
        assert materialized_in(instance, result.run_id) == set()  # only the check ran
        (check,) = result.get_asset_check_evaluations()
        assert check.check_name == "yesterday_digest_by_2am" and check.partition is None
        assert check.severity == dg.AssetCheckSeverity.WARN
        return check

    june3 = tmp_path / "output/daily/2024-06-03.md"
    assert at("2024-06-04T02:05:00-04:00").passed  # June 3's digest is there
    assert at("2024-06-04T06:05:00+00:00").passed  # the same instant in UTC
    june3.unlink()
    assert at("2024-06-04T01:59:00-04:00").passed  # not due yet
    # 05:30 UTC is 01:30 in New York: still not due, although UTC says June 4, 05:30.
    assert at("2024-06-04T05:30:00+00:00").passed
    check = at("2024-06-04T02:00:00-04:00")
    assert not check.passed
    assert check.description == (
        f"{june3} is missing at 2024-06-04T02:00:00-04:00 (due by 02:00 America/New_York)"
    )

    # The schedule: 02:05 New York, as of its tick, running only the check.
    schedule = defs.resolve_schedule_def("digest_freshness_schedule")
    assert schedule.cron_schedule == "5 2 * * *"
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.default_status == automation_status()
    tick = dt.datetime(2024, 6, 4, 2, 5, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    ).run_requests
    assert request.run_key == "freshness-2024-06-04"
    result = job.execute_in_process(instance=instance, run_config=request.run_config)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and str(june3) in check.description
