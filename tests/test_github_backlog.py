"""What an org had open at each day's end, collected through the real client from the loopback
fake GitHub and checked against the fake's own data, counted here independently: an item was
open at END when it was created before END and is still open or was closed after END.

The org is on Asia/Kolkata (+05:30), so every instant travels with a non-UTC offset."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fakes.github_org import Issue, Org, PullRequest, build_org
from fakes.github_server import FakeGitHub
from pydantic import SecretStr
from sparky_defs import assets, session_org

from sparky_resources import github_queries as gq
from sparky_resources.github import GitHubClient
from sparky_resources.github_collect import (
    EntityCoverage,
    GitHubResource,
    collect_backlog,
    collect_window,
)
from sparky_resources.github_records import BacklogSnapshot

TOKEN = "ghp_backlogTOKENnotreal0123456789"
TZ = "Asia/Kolkata"


@pytest.fixture(scope="module")
def org() -> Org:
    org = build_org(repos=30, active=8, tz=TZ, seed=5)
    start, _ = org.window()
    # An item created exactly at the window's start (an END below) is not open at that END.
    created_at_start = [
        next(p for p in org.pull_requests() if p.state == "open" and p.created_at > start),
        next(i for i in org.issues() if i.state == "open" and i.created_at > start),
    ]
    for item in created_at_start:
        item.created_at = start
    return org


@pytest.fixture(scope="module")
def server(org: Org) -> Iterator[FakeGitHub]:
    with FakeGitHub(org) as gh:
        yield gh


def client_for(gh: FakeGitHub, token: str | None = TOKEN, **kwargs) -> GitHubClient:
    return GitHubClient(
        gh.base_url,
        gh.graphql_url,
        SecretStr(token) if token else None,
        sleep=kwargs.pop("sleep", lambda s: None),
        **kwargs,
    )


def local(org: Org, days: float = 0, **delta: float) -> dt.datetime:
    """The org's window start plus a delta, in the org's own zone (offset +05:30)."""
    start, _ = org.window()
    return (start + dt.timedelta(days=days, **delta)).astimezone(ZoneInfo(TZ))


# ---------------------------------------------------------------------------------------------
# Ground truth, from the fake's data


@dataclass
class Truth:
    pull_requests_open: int
    issues_open: int
    oldest_pull_requests: list[tuple[str, int]]
    oldest_issues: list[tuple[str, int]]


def open_at(item: PullRequest | Issue, end: dt.datetime) -> bool:
    closed_later = item.closed_at is not None and item.closed_at > end
    return item.created_at < end and (item.state == "open" or closed_later)


def truth(
    org: Org, end: dt.datetime, keep: Callable[[str], bool] = lambda name: True, public=False
) -> Truth:
    def wanted(item: PullRequest | Issue) -> bool:
        repo = org.repo(item.repo)
        return (
            open_at(item, end) and keep(repo.name) and (not public or repo.visibility == "public")
        )

    def oldest(items: list) -> list[tuple[str, int]]:
        ranked = sorted(items, key=lambda i: (i.created_at, org.repo(i.repo).name, i.number))
        return [(org.repo(i.repo).name, i.number) for i in ranked[: gq.BACKLOG_OLDEST]]

    prs = [p for p in org.pull_requests() if wanted(p)]
    issues = [i for i in org.issues() if wanted(i)]
    return Truth(len(prs), len(issues), oldest(prs), oldest(issues))


def observed(snapshot: BacklogSnapshot | EntityCoverage) -> Truth:
    assert isinstance(snapshot, BacklogSnapshot), snapshot
    return Truth(
        snapshot.pull_requests_open,
        snapshot.issues_open,
        [(i.repo, i.number) for i in snapshot.oldest_pull_requests],
        [(i.repo, i.number) for i in snapshot.oldest_issues],
    )


# ---------------------------------------------------------------------------------------------
# With a token (GraphQL)


def test_counts_and_oldest_match_the_ground_truth_at_each_instant(
    org: Org, server: FakeGitHub
) -> None:
    ends = [local(org, seconds=-1), local(org), local(org, hours=13), local(org, 1), local(org, 2)]
    server.counters.reset()
    with client_for(server) as client:
        results = collect_backlog(client, org.login, ends)
    for end, result in zip(ends, results, strict=True):
        assert observed(result) == truth(org, end), end
        assert result.at == end.isoformat(timespec="seconds") and result.at.endswith("+05:30")
        assert result.scope == "org"
        created = [i.created_at for i in result.oldest_pull_requests]
        assert created == sorted(created, key=dt.datetime.fromisoformat)
    assert any(observed(r).pull_requests_open > gq.BACKLOG_OLDEST for r in results)
    # Five days: twenty searches in one query, the minimum price.
    assert server.counters.requests["POST /graphql"] == 1
    assert server.counters.graphql_points == 1
    assert not server.internal_errors


def test_one_query_per_five_days(org: Org, server: FakeGitHub) -> None:
    ends = [local(org, d) for d in range(-5, 6)]
    server.counters.reset()
    with client_for(server) as client:
        results = collect_backlog(client, org.login, ends)
    assert [observed(r) for r in results] == [truth(org, end) for end in ends]
    assert server.counters.requests["POST /graphql"] == math.ceil(len(ends) / 5) == 3


def test_the_instant_itself_created_or_closed_at_end_is_not_open(
    org: Org, server: FakeGitHub
) -> None:
    """Closed exactly at END: no longer open at END (`closed:>END`). Created exactly at END:
    not yet there (`created:<END`). Merged after END: open at END (a merge closes it)."""
    start = local(org)
    before, after = start - dt.timedelta(seconds=1), start + dt.timedelta(seconds=1)

    def opened(end: dt.datetime) -> set[tuple[str, int]]:
        items = [*org.pull_requests(), *org.issues()]
        return {(org.repo(i.repo).name, i.number) for i in items if open_at(i, end)}

    # The data has each edge: a PR merged exactly at `start`, two items created at `start`,
    # PRs created before `start` and merged after it.
    (merged,) = [p for p in org.repos[0].pulls if p.merged_at == start]
    created = [i for i in [*org.pull_requests(), *org.issues()] if i.created_at == start]
    assert len(created) == 2
    merged_key = (org.repo(merged.repo).name, merged.number)
    assert merged_key in opened(before) and merged_key not in opened(start)
    for item in created:
        key = (org.repo(item.repo).name, item.number)
        assert key not in opened(start) and key in opened(after)
    assert any(p.created_at < start < p.merged_at for p in org.pull_requests() if p.merged_at)
    with client_for(server) as client:
        results = collect_backlog(client, org.login, [before, start, after])
    for end, result in zip((before, start, after), results, strict=True):
        assert observed(result) == truth(org, end), end


def _resource(include: list[str], exclude: list[str]) -> GitHubResource:
    return GitHubResource(org="acme", include=include, exclude=exclude)


@pytest.mark.parametrize("shape", ["few included", "one excluded", "every other one", "none"])
def test_a_repository_filter_counts_exactly_the_selected_repositories(
    org: Org, server: FakeGitHub, shape: str
) -> None:
    names = sorted(r.name for r in org.repos)
    include, exclude = {
        "few included": ([names[0], f"{names[1][:2]}*"], []),
        "one excluded": (["*"], [org.repos[0].name]),  # the busiest one
        "every other one": (names[::2], []),
        "none": (["no-such-*"], []),
    }[shape]
    resource = _resource(include, exclude)
    selected = resource.repo_filter
    assert selected is not None
    ends = [local(org, hours=-7), local(org, 1)]
    searches = gq.backlog_searches(
        org.login, ends[0], selected=[n for n in names if selected(n)], org_repos=names
    )
    if shape == "every other one":
        assert len(searches) > 1  # neither list fits in 256 characters: chunks, summed
    server.counters.reset()
    with client_for(server) as client:
        results = collect_backlog(client, org.login, ends, selected=selected)
    for end, result in zip(ends, results, strict=True):
        assert observed(result) == truth(org, end, selected), (shape, end)
        assert result.scope == "selected repositories"
    # One listing of the org's repositories, then the searches of both days (five scopes a query).
    groups = len(searches) * len(ends)
    assert server.counters.requests["POST /graphql"] == 1 + math.ceil(groups / 5)


def test_the_resource_selects_the_whole_org_only_when_nothing_is_filtered() -> None:
    assert _resource(["*"], []).repo_filter is None
    assert _resource(["*"], ["x"]).repo_filter is not None
    assert _resource(["api"], []).repo_filter is not None


def test_collect_window_takes_each_day_end_that_is_over(org: Org, server: FakeGitHub) -> None:
    start, end = org.window(days=2)
    day_ends = [local(org, 1), local(org, 2)]
    now = local(org, 1, hours=5)  # the second day is not over
    with client_for(server) as client:
        window = collect_window(
            client, org.login, start, end, now=now, bots=["dependabot[bot]"], day_ends=day_ends
        )
    assert not window.failed, window.failed
    first, second = (window.backlog_at(e) for e in day_ends)
    assert observed(first) == truth(org, day_ends[0])
    assert second is None
    (ok,) = [c for c in window.coverage if c.entity == "backlog"]
    assert ok.status == "ok" and ok.at == first.at


class _FailBacklog(httpx.HTTPTransport):
    """GitHub answering 502 to the backlog query only (every other request reaches the fake)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if b"query Backlog" in request.read():
            return httpx.Response(502, json={"message": "Server Error"}, request=request)
        return super().handle_request(request)


def test_a_failed_backlog_search_is_recorded_and_the_rest_is_collected(
    org: Org, server: FakeGitHub
) -> None:
    start, end = org.window()
    with client_for(server, transport=_FailBacklog(), max_retries=1) as client:
        window = collect_window(
            client, org.login, start, end, now=end + dt.timedelta(days=30), day_ends=[end]
        )
    (failure,) = window.failed
    assert (failure.entity, failure.repo, failure.status) == ("backlog", None, "failed")
    assert failure.at == end.isoformat(timespec="seconds") and "502" in failure.error
    assert window.backlog == [] and isinstance(window.backlog_at(end), EntityCoverage)
    assert {c.sha for c in window.commits} == {c.sha for c in org.commits_in(start, end)}
    assert TOKEN not in failure.error


def test_a_failed_backlog_day_keeps_the_others(org: Org) -> None:
    """Six days: two queries (five days each at most). The second fails on GitHub's side
    through every retry: its day is recorded failed, the first query's five days are kept."""
    ends = [local(org, d) for d in range(6)]
    broken = re.escape(f"created:<{ends[5].isoformat(timespec='seconds')}")
    with FakeGitHub(org) as gh:
        rule = gh.faults.add(r"POST /graphql", "http_502", times=None, body=broken)
        with client_for(gh, max_retries=1) as client:
            results = collect_backlog(client, org.login, ends)
    assert rule.fired == 2  # the sixth day's query, tried twice
    assert [observed(r) for r in results[:5]] == [truth(org, end) for end in ends[:5]]
    failed = results[5]
    assert isinstance(failed, EntityCoverage) and failed.status == "failed"
    assert failed.source == "github-graphql" and "502" in (failed.error or "")
    assert failed.at == ends[5].isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# Through Dagster


def _materialize(resources: dict, days: list[dt.date], instance, **kwargs):
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    (github_activity,) = assets("raw_pull_requests")

    return dg.materialize(
        [github_activity],
        resources=resources,
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: str(days[0]),
            ASSET_PARTITION_RANGE_END_TAG: str(days[-1]),
        },
        **kwargs,
    )


def _read(path: Path) -> dict:
    document = json.loads(path.read_text())
    document.pop("schema_version", None)
    return document


def _partition_metadata(instance, partition: str) -> dict:
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_backlog"), asset_partitions=[partition]),
        limit=1,
        ascending=False,
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_the_asset_writes_each_days_backlog(org: Org, server: FakeGitHub, tmp_path) -> None:
    """A two-day range in one run: one raw_backlog file per day, at the end of the session's
    (America/New_York) day, equal to the ground truth at that instant."""
    import dagster as dg

    from sparky_assets.partitions import build_daily_partitions
    from sparky_resources.config import get_config
    from sparky_resources.store import DataStore

    daily_partitions = build_daily_partitions(get_config())  # the session's, as the assets'

    days = [org.day, org.day + dt.timedelta(days=1)]
    resources = {
        "github": GitHubResource(
            org=org.login, api_url=server.base_url, graphql_url=server.graphql_url, token=TOKEN
        ),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    with dg.instance_for_test() as instance:
        assert _materialize(resources, days, instance).success
        for day in days:
            end = daily_partitions.time_window_for_partition_key(str(day)).end
            snapshot = _read(tmp_path / "data/raw/raw_backlog" / f"{day}.json")
            assert snapshot["at"] == end.isoformat(timespec="seconds")
            assert snapshot["at"].endswith("-04:00") and snapshot["collected"] is True
            assert observed(BacklogSnapshot.model_validate(snapshot)) == truth(org, end)
            assert set(snapshot["oldest_pull_requests"][0]) == {
                "repo",
                "number",
                "title",
                "url",
                "created_at",
                "updated_at",
                "author_login",
                "is_draft",
            }
            metadata = _partition_metadata(instance, str(day))
            assert metadata["pull_requests_open"] == snapshot["pull_requests_open"]
            assert metadata["issues_open"] == snapshot["issues_open"]
            coverage = _read(tmp_path / "data/raw/_coverage/github" / f"{day}.json")
            (entry,) = [e for e in coverage["entities"] if e["entity"] == "backlog"]
            assert entry["at"] == snapshot["at"] and entry["status"] == "ok"
    for path in (tmp_path / "data").rglob("*.json"):
        assert TOKEN not in path.read_text()


def test_without_github_the_backlog_says_it_was_not_collected(tmp_path) -> None:
    import dagster as dg

    from sparky_resources.store import DataStore

    day = dt.date(2024, 6, 3)
    resources = {
        "github": GitHubResource(),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    with dg.instance_for_test() as instance:
        assert _materialize(resources, [day], instance).success
    snapshot = _read(tmp_path / "data/raw/raw_backlog" / f"{day}.json")
    assert snapshot == {
        "at": "2024-06-04T00:00:00-04:00",
        "collected": False,
        "reason": "GitHub is not configured",
    }


def test_a_failed_backlog_keeps_the_previous_file_and_the_run_succeeds(org: Org, tmp_path) -> None:
    """A fault on the backlog's query only (the other streams are collected)."""
    import dagster as dg

    from sparky_resources.store import DataStore

    day = org.day
    with FakeGitHub(org) as gh:
        resources = {
            "github": GitHubResource(
                org=org.login,
                api_url=gh.base_url,
                graphql_url=gh.graphql_url,
                token=TOKEN,
                max_wait_s=60,
            ),
            "org": session_org(),
            "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
        }
        path = tmp_path / "data/raw/raw_backlog" / f"{day}.json"
        with dg.instance_for_test() as instance:
            assert _materialize(resources, [day], instance).success
            before = path.read_bytes()
            assert _read(path)["collected"] is True
            # An exhausted search budget, an hour from its reset: no retry, no wait.
            gh.faults.add(
                r"POST /graphql",
                "primary_rate_limit",
                times=None,
                reset_in=3600,
                body=r"query Backlog",
            )
            result = _materialize(resources, [day], instance)
            assert result.success
            assert _partition_metadata(instance, str(day))["kept_previous"] is True
    assert path.read_bytes() == before
    coverage = _read(tmp_path / "data/raw/_coverage/github" / f"{day}.json")
    (entry,) = [e for e in coverage["entities"] if e["entity"] == "backlog"]
    assert entry["status"] == "failed" and "rate limit" in entry["error"]
    assert all(e["status"] == "ok" for e in coverage["entities"] if e["entity"] != "backlog")
