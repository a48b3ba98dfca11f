"""A week of a GitHub org, collected from the loopback fake and measured by weekly_metrics.

Expected figures are counted here from the fake's own ground truth (tests/fakes/github_org.py)
by each item's timestamps and the definitions in docs/metrics.md, with Python's `statistics`
(not the pandas/numpy code under test) for medians and percentiles.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from sparky_defs import assets, session_org

from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.store import DataStore

raw_commits, repositories = assets("raw_commits", "repositories")
(github_activity,) = assets("raw_pull_requests")
(contributors,) = assets("contributors")
daily_metrics, weekly_metrics = assets("daily_metrics", "weekly_metrics")

TOKEN = "ghp_weekTOKENnotreal0123456789abcdef"
NY = ZoneInfo("America/New_York")  # the session's org timezone (tests/conftest.py)
WEEK = "2024-06-03"
DAYS = [f"2024-06-0{d}" for d in range(3, 10)]
START = dt.datetime(2024, 6, 3, tzinfo=NY)
END = dt.datetime(2024, 6, 10, tzinfo=NY)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Org, Path]]:
    org = build_org(repos=12, active=5, day=WEEK, days=7, tz="America/New_York", seed=11)
    tmp = tmp_path_factory.mktemp("week")
    with FakeGitHub(org) as server, dg.instance_for_test() as instance:
        resources = {
            "github": GitHubResource(
                org=org.login,
                api_url=server.base_url,
                graphql_url=server.graphql_url,
                token=TOKEN,
            ),
            "local_git": LocalGitResource(repos=[]),
            "org": session_org(),
            "store": DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "out")),
        }
        days = {ASSET_PARTITION_RANGE_START_TAG: DAYS[0], ASSET_PARTITION_RANGE_END_TAG: DAYS[-1]}
        for assets, tags in (
            ([github_activity, repositories, raw_commits, contributors, daily_metrics], days),
            (
                [weekly_metrics],
                {ASSET_PARTITION_RANGE_START_TAG: WEEK, ASSET_PARTITION_RANGE_END_TAG: WEEK},
            ),
        ):
            result = dg.materialize(assets, resources=resources, instance=instance, tags=tags)
            assert result.success
        yield org, tmp


def _read(tmp: Path, asset: str, key: str) -> dict:
    document = json.loads((tmp / "data/processed" / asset / f"{key}.json").read_text())
    return document


def _in(when: dt.datetime | None) -> bool:
    return when is not None and START <= when < END


def _hours(a: dt.datetime, b: dt.datetime) -> float:
    return max(0.0, (b - a).total_seconds() / 3600)


def test_weekly_pull_request_and_issue_counts_match_the_org(week) -> None:
    org, tmp = week
    m = _read(tmp, "weekly_metrics", WEEK)
    prs, issues = list(org.pull_requests()), list(org.issues())
    expected = {
        "prs_opened": sum(_in(p.created_at) for p in prs),
        "prs_merged": sum(_in(p.merged_at) for p in prs),
        "prs_closed_unmerged": sum(_in(p.closed_at) and p.merged_at is None for p in prs),
        "issues_opened": sum(_in(i.created_at) for i in issues),
        "issues_closed": sum(_in(i.closed_at) for i in issues),
        "releases": len(org.releases_published_in(START, END)),
    }
    assert {k: m[k] for k in expected} == expected
    assert expected["prs_opened"] > 0 and expected["prs_merged"] > 0
    assert m["pull_requests"]["human_opened"] == sum(
        _in(p.created_at) and not p.author.is_bot for p in prs
    )
    # Open at the week's end: created before it, and not closed by then.
    open_prs = sum(p.created_at < END and (p.closed_at is None or p.closed_at > END) for p in prs)
    open_issues = sum(
        i.created_at < END and (i.closed_at is None or i.closed_at > END) for i in issues
    )
    assert (m["prs_open_at_end"], m["issues_open_at_end"]) == (open_prs, open_issues)
    reasons = {"completed": 0, "not_planned": 0, "duplicate": 0, "unspecified": 0}
    for i in issues:
        if _in(i.closed_at):
            reasons[i.state_reason if i.state_reason in reasons else "unspecified"] += 1
    assert m["issues"]["closed_by_reason"] == reasons


def test_weekly_time_to_merge_median_and_p90_excluding_draft_time(week) -> None:
    org, tmp = week
    m = _read(tmp, "weekly_metrics", WEEK)
    hours = []
    for p in org.pull_requests():
        if not _in(p.merged_at):
            continue
        ready = p.ready_for_review_at
        clock = ready if ready is not None and ready > p.created_at else p.created_at
        hours.append(_hours(clock, p.merged_at))
    merge = m["pull_requests"]["time_to_merge"]
    assert merge["count"] == len(hours) > 1
    assert merge["median_h"] == round(statistics.median(hours), 2)
    # statistics' "inclusive" quantiles are the linear interpolation docs/metrics.md names.
    assert merge["p90_h"] == round(statistics.quantiles(hours, n=10, method="inclusive")[8], 2)


def test_a_weeks_additive_github_figures_are_the_sum_of_its_days(week) -> None:
    _, tmp = week
    m = _read(tmp, "weekly_metrics", WEEK)
    days = [_read(tmp, "daily_metrics", d) for d in DAYS]
    for figure in (
        "prs_opened",
        "prs_merged",
        "prs_closed_unmerged",
        "issues_opened",
        "issues_closed",
        "releases",
        "commits",
        "merges",
    ):
        assert m[figure] == sum(d[figure] for d in days), figure
    # Open at the end of the week is open at the end of its last day.
    assert m["prs_open_at_end"] == days[-1]["prs_open_at_end"]
    assert m["github_available"] and m["github_note"] is None


def test_bot_pull_requests_are_split_out_and_logins_join_identities(week) -> None:
    org, tmp = week
    table = json.loads((tmp / "data/processed/contributors/contributors.json").read_text())
    people = table["table"]["contributors"]
    bots = {p["id"] for p in people if p["is_bot"]}
    truth_bots = {
        p.author.login.lower() for p in org.pull_requests() if p.author.is_bot and _in(p.created_at)
    }
    assert truth_bots
    # Every bot account that opened a pull request in the week is a bot identity here.
    assert truth_bots <= bots
    # A person who committed (email linked to the account) and opened pull requests is one.
    logins = [p for p in people if p["logins"] and p["emails"] and not p["is_bot"]]
    assert logins, "the fake links commit emails to accounts"


def _first_response(item, author) -> dt.datetime | None:
    """The first comment or review by someone other than the author who is not a bot."""
    times = [c.created_at for c in item.comments if c.author != author and not c.author.is_bot]
    times += [
        r.submitted_at
        for r in getattr(item, "reviews", [])
        if r.author != author and not r.author.is_bot and r.state != "PENDING"
    ]
    return min(times, default=None)


def test_unanswered_items_are_still_waiting_at_the_weeks_end(week) -> None:
    org, tmp = week
    m = _read(tmp, "weekly_metrics", WEEK)

    def waiting(item, *, draft: bool = False) -> bool:
        response = _first_response(item, item.author)
        merged = getattr(item, "merged_at", None)
        return (
            _in(item.created_at)
            and not item.author.is_bot
            and not draft
            and (response is None or response >= END)
            and (item.closed_at is None or item.closed_at >= END)
            and (merged is None or merged >= END)
        )

    prs = [
        p
        for p in org.pull_requests()
        if waiting(
            p,
            draft=p.draft and (p.ready_for_review_at is None or p.ready_for_review_at >= END),
        )
    ]
    issues = [i for i in org.issues() if waiting(i)]
    assert m["pull_requests"]["unanswered"] == len(prs)
    assert m["issues"]["unanswered"] == len(issues)
    assert prs or issues, "the fake org should leave something unanswered"
    listed = [(x["repo"], x["number"]) for x in m["pull_requests"]["unanswered_list"]]
    oldest = sorted(prs, key=lambda p: p.created_at)[:20]
    assert listed == [(org.repo(p.repo).name, p.number) for p in oldest]
