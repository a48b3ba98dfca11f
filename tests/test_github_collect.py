"""A window of an org collected through the real client from the loopback fake GitHub, checked
against the fake's own ground truth (tests/fakes/github_org.py), in a non-UTC org timezone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from pydantic import SecretStr
from sparky_defs import assets, session_org

from sparky_resources.github import GitHubClient
from sparky_resources.github_collect import collect_window

TOKEN = "ghp_collectTOKENnotreal0123456789"


@pytest.fixture(scope="module")
def org() -> Org:
    return build_org(repos=30, active=6, tz="Europe/Berlin", seed=7)


@pytest.fixture(scope="module")
def server(org: Org) -> Iterator[FakeGitHub]:
    with FakeGitHub(org) as gh:
        yield gh


def client_for(gh: FakeGitHub, **kwargs) -> GitHubClient:
    return GitHubClient(
        gh.base_url, gh.graphql_url, SecretStr(TOKEN), sleep=lambda s: None, **kwargs
    )


def collect(org: Org, gh: FakeGitHub, days: int = 1, **kwargs):
    start, end = org.window(days=days)
    now = end + dt.timedelta(days=30)  # after every event the fake made
    with client_for(gh, **kwargs) as client:
        window = collect_window(client, org.login, start, end, now=now, bots=["dependabot[bot]"])
        return window, client.counters, (start, end)


def test_one_day_matches_the_ground_truth(org: Org, server: FakeGitHub) -> None:
    window, counters, (start, end) = collect(org, server)
    assert not window.failed, window.failed
    assert {c.sha for c in window.commits} == {c.sha for c in org.commits_in(start, end)}
    assert {(p.repo, p.number) for p in window.pull_requests} == {
        (org.repo(p.repo).name, p.number) for p in org.pull_requests_active_in(start, end)
    }
    bodies = {(org.repo(p.repo).name, p.number): p.body or None for p in org.pull_requests()}
    for p in window.pull_requests:
        assert p.body == ((bodies[(p.repo, p.number)] or "")[:2000] or None)
    assert any(p.body for p in window.pull_requests)  # descriptions are collected
    assert {(i.repo, i.number) for i in window.issues} == {
        (org.repo(i.repo).name, i.number) for i in org.issues_active_in(start, end)
    }
    releases = {(r.repo, r.tag_name) for r in window.releases if r.kind == "release"}
    assert releases == {
        (org.repo(r.repo).name, r.tag_name) for r in org.releases_published_in(start, end)
    }
    tags = {(r.repo, r.tag_name) for r in window.releases if r.kind == "tag"}
    assert tags == {(org.repo(t.repo).name, t.name) for t in org.tags_created_in(start, end)}
    # Release notes: the fake serves each release's body as GraphQL `description`; the fake
    # org writes "Notes." for every release, so its first line is "Notes.". Tags have none.
    bodies = {
        (org.repo(r.repo).name, r.tag_name): r.body for r in org.releases_published_in(start, end)
    }
    assert bodies and set(bodies.values()) == {"Notes."}
    assert {(r.repo, r.tag_name): r.notes for r in window.releases if r.kind == "release"} == {
        key: "Notes." for key in bodies
    }
    assert all(r.notes is None for r in window.releases if r.kind == "tag")
    # Cheap by construction: a handful of GraphQL requests for the whole org.
    assert counters.rest_requests == 0
    assert counters.graphql_requests <= 12, counters


def test_a_range_is_the_union_of_its_days(org: Org, server: FakeGitHub) -> None:
    whole, counters, _ = collect(org, server, days=3)
    commits: set[str] = set()
    prs: set[tuple[str, int]] = set()
    issues: set[tuple[str, int]] = set()
    day_requests = 0
    for offset in range(3):
        day = org.day + dt.timedelta(days=offset)
        start, end = org.window(day=day, days=1)
        with client_for(server) as client:
            window = collect_window(client, org.login, start, end, now=end + dt.timedelta(days=30))
            day_requests += client.counters.graphql_requests
        commits |= {c.sha for c in window.commits}
        prs |= {(p.repo, p.number) for p in window.pull_requests}
        issues |= {(i.repo, i.number) for i in window.issues}
    assert {c.sha for c in whole.commits} == commits
    assert {(p.repo, p.number) for p in whole.pull_requests} == prs
    assert {(i.repo, i.number) for i in whole.issues} == issues
    assert counters.graphql_requests < day_requests


def test_transient_server_errors_are_retried_and_nothing_is_lost(
    org: Org, server: FakeGitHub
) -> None:
    rule = server.faults.add(r"/graphql", "http_502", times=2)
    try:
        window, counters, (start, end) = collect(org, server)
    finally:
        server.faults.clear()
    assert rule.fired == 2 and counters.retries >= 2
    assert not window.failed
    assert {c.sha for c in window.commits} == {c.sha for c in org.commits_in(start, end)}


def test_the_token_reaches_no_record(org: Org, server: FakeGitHub) -> None:
    window, _, _ = collect(org, server)
    text = repr(window)
    assert TOKEN not in text


def test_the_github_assets_write_each_days_files(org: Org, server: FakeGitHub, tmp_path) -> None:
    """Through Dagster: a two-day range in one run, one file per day and entity. The days are
    the session config's partitions (America/New_York), not the fake org's Berlin days."""
    import json

    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    (github_activity,) = assets("raw_pull_requests")
    from sparky_assets.partitions import build_daily_partitions
    from sparky_resources.config import get_config
    from sparky_resources.github_collect import GitHubResource
    from sparky_resources.store import DataStore

    first = org.day
    days = [first, first + dt.timedelta(days=1)]
    resources = {
        "github": GitHubResource(
            org=org.login,
            api_url=server.base_url,
            graphql_url=server.graphql_url,
            token=TOKEN,
            cache_dir=str(tmp_path / "cache"),
        ),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [github_activity],
            resources=resources,
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: str(days[0]),
                ASSET_PARTITION_RANGE_END_TAG: str(days[1]),
            },
        )
    assert result.success
    daily_partitions = build_daily_partitions(get_config())  # the session's, as the assets'
    for day in days:
        window = daily_partitions.time_window_for_partition_key(str(day))
        start, end = window.start.astimezone(dt.UTC), window.end.astimezone(dt.UTC)

        def read(asset: str, day: dt.date = day) -> list[dict]:
            path = tmp_path / "data" / "raw" / asset / f"{day}.json"
            return json.loads(path.read_text())["records"]

        assert {(p["repo"], p["number"]) for p in read("raw_pull_requests")} == {
            (org.repo(p.repo).name, p.number) for p in org.pull_requests_active_in(start, end)
        }
        assert {(i["repo"], i["number"]) for i in read("raw_issues")} == {
            (org.repo(i.repo).name, i.number) for i in org.issues_active_in(start, end)
        }
        assert {c["sha"] for c in read("raw_github_commits")} == {
            c.sha for c in org.commits_in(start, end)
        }
        for path in (tmp_path / "data").rglob("*.json"):
            assert TOKEN not in path.read_text()


def test_daily_metrics_count_the_orgs_pull_requests_issues_and_releases(
    org: Org, server: FakeGitHub, tmp_path
) -> None:
    """GitHub commits join raw_commits and the day's GitHub figures are counted, against the
    fake's ground truth counted here by each item's own timestamp."""
    import json

    import dagster as dg

    raw_commits, repositories = assets("raw_commits", "repositories")
    (github_activity,) = assets("raw_pull_requests")
    (daily_metrics,) = assets("daily_metrics")
    from sparky_assets.partitions import build_daily_partitions
    from sparky_resources.config import get_config
    from sparky_resources.github_collect import GitHubResource
    from sparky_resources.local_git import LocalGitResource
    from sparky_resources.store import DataStore

    key = str(org.day)
    resources = {
        "github": GitHubResource(
            org=org.login, api_url=server.base_url, graphql_url=server.graphql_url, token=TOKEN
        ),
        "local_git": LocalGitResource(repos=[]),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [github_activity, repositories, raw_commits, daily_metrics],
            partition_key=key,
            resources=resources,
            instance=instance,
        )
        # The token reaches no event: logs, metadata, errors.
        for entry in instance.all_logs(result.run_id):
            assert TOKEN not in str(entry)
    assert result.success
    daily_partitions = build_daily_partitions(get_config())  # the session's, as the assets'
    window = daily_partitions.time_window_for_partition_key(key)
    start, end = window.start.astimezone(dt.UTC), window.end.astimezone(dt.UTC)

    def within(when: dt.datetime | None) -> bool:
        return when is not None and start <= when < end

    prs = list(org.pull_requests())
    issues = list(org.issues())
    expected = {
        "prs_opened": sum(within(p.created_at) for p in prs),
        "prs_merged": sum(within(p.merged_at) for p in prs),
        "prs_closed_unmerged": sum(within(p.closed_at) and p.merged_at is None for p in prs),
        "issues_opened": sum(within(i.created_at) for i in issues),
        "issues_closed": sum(within(i.closed_at) for i in issues),
        "releases": len(org.releases_published_in(start, end)),
    }
    metrics = json.loads((tmp_path / f"data/processed/daily_metrics/{key}.json").read_text())
    assert {k: metrics[k] for k in expected} == expected
    assert sum(expected.values()) > 0  # the fake's day is not empty
    raw = json.loads((tmp_path / f"data/raw/raw_commits/{key}.json").read_text())["records"]
    truth = org.commits_in(start, end)
    assert {r["sha"] for r in raw} == {c.sha for c in truth}
    assert all(r["sources"] == ["github"] for r in raw)
    non_merge = [c for c in truth if len(c.parents) < 2]
    assert metrics["commits"] == len(non_merge)
    listed = json.loads((tmp_path / f"data/raw/repositories/{key}.json").read_text())["records"]
    assert {r["name"] for r in listed if r["source"] == "github"} == {
        r.name for r in org.repos_pushed_since(start)
    }
    assert set(listed[0]) >= {
        "name",
        "source",
        "default_branch",
        "pushed_at",
        "archived",
        "fork",
        "visibility",
        "url",
    }


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("http_503", {}),
        ("secondary_rate_limit", {"retry_after": 7}),
        ("malformed_json", {}),
        ("disconnect", {}),
        ("timeout", {"hold_s": 1.5}),
        ("primary_rate_limit", {"reset_in": 30}),
    ],
)
def test_every_fault_is_survived_with_nothing_lost_or_duplicated(
    org: Org, server: FakeGitHub, kind: str, params: dict
) -> None:
    """Each fault hits the first two GraphQL requests; the collection must equal a clean one."""
    expected, _, (start, end) = collect(org, server)
    server.faults.clear()
    server.counters.reset()
    rule = server.faults.add(r"/graphql", kind, times=2, **params)
    sleeps: list[float] = []
    try:
        with GitHubClient(
            server.base_url,
            server.graphql_url,
            SecretStr(TOKEN),
            sleep=sleeps.append,
            timeout_s=0.5,
            max_wait_s=120,
        ) as client:
            window = collect_window(client, org.login, start, end, now=end + dt.timedelta(days=30))
    finally:
        server.faults.clear()
    assert rule.fired == 2, kind
    assert not window.failed, window.failed
    for got, want in (
        ([c.sha for c in window.commits], [c.sha for c in expected.commits]),
        (
            [(p.repo, p.number) for p in window.pull_requests],
            [(p.repo, p.number) for p in expected.pull_requests],
        ),
        (
            [(i.repo, i.number) for i in window.issues],
            [(i.repo, i.number) for i in expected.issues],
        ),
        (
            [(r.repo, r.kind, r.tag_name) for r in window.releases],
            [(r.repo, r.kind, r.tag_name) for r in expected.releases],
        ),
    ):
        assert sorted(got) == sorted(want) and len(got) == len(set(got)), kind
    if kind == "secondary_rate_limit":
        assert sleeps[:2] == [7, 7]


def test_an_exhausted_budget_too_far_from_reset_fails_in_one_line(
    org: Org, server: FakeGitHub
) -> None:
    start, end = org.window()
    server.faults.add(r"/graphql", "primary_rate_limit", times=None, reset_in=3600)
    try:
        with GitHubClient(
            server.base_url,
            server.graphql_url,
            SecretStr(TOKEN),
            sleep=lambda s: None,
            max_wait_s=60,
        ) as client:
            window = collect_window(client, org.login, start, end, now=end)
    finally:
        server.faults.clear()
    (failure,) = window.failed  # the listing failed: nothing else was asked
    assert failure.entity == "repositories"
    assert "\n" not in failure.error and "rate limit" in failure.error.lower()
    assert TOKEN not in failure.error


@pytest.mark.parametrize("token", [None, "", "  "], ids=["none", "empty", "blank"])
def test_without_a_token_github_collection_is_refused_in_one_line(
    org: Org, server: FakeGitHub, token: str | None
) -> None:
    """60 requests an hour cannot serve an org: no token, no request, one line saying what to do."""
    from sparky_resources.github import GitHubError, GitHubTokenMissing
    from sparky_resources.github_collect import GitHubResource

    resource = GitHubResource(
        org=org.login, api_url=server.base_url, graphql_url=server.graphql_url, token=token
    )
    start, end = org.window()
    server.counters.reset()
    calls = [
        lambda: resource.repositories(start),
        lambda: resource.collect(start, end, now=end, bots=[], day_ends=[end]),
    ]
    for call in calls:
        with pytest.raises(GitHubTokenMissing) as caught:
            call()
        assert isinstance(caught.value, GitHubError)
        assert str(caught.value) == (
            f"[github].org is '{org.login}' and GitHub collection needs a token: set "
            "GITHUB_TOKEN (read access to the org's repositories) or remove [github].org to "
            "collect local clones only"
        )
    assert server.counters.total == 0
    # Without an org there is nothing to collect, and nothing to refuse.
    assert GitHubResource(token=token).repositories(start) == []


def test_an_org_wide_failure_fails_the_partition_and_keeps_earlier_files(
    org: Org, server: FakeGitHub, tmp_path
) -> None:
    import dagster as dg

    (github_activity,) = assets("raw_pull_requests")
    from sparky_resources.github_collect import GitHubResource
    from sparky_resources.store import DataStore

    key = str(org.day)
    resources = {
        "github": GitHubResource(
            org=org.login,
            api_url=server.base_url,
            graphql_url=server.graphql_url,
            token=TOKEN,
            max_wait_s=60,
        ),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [github_activity], partition_key=key, resources=resources, instance=instance
        ).success
        files = sorted((tmp_path / "data/raw").rglob("*.json"))
        before = {p: p.read_bytes() for p in files}
        server.faults.add(r"/graphql", "primary_rate_limit", times=None, reset_in=3600)
        try:
            result = dg.materialize(
                [github_activity],
                partition_key=key,
                resources=resources,
                instance=instance,
                raise_on_error=False,
            )
        finally:
            server.faults.clear()
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "GitHub collection failed: repositories:" in message
    assert TOKEN not in message
    assert {p: p.read_bytes() for p in files} == before


def test_deployments_teams_and_codeowners_cost_two_requests_then_one(
    org: Org, server: FakeGitHub
) -> None:
    """Issue 20's parts ride in the releases queries: a day with production deployments, teams
    and CODEOWNERS on costs one teams query (4 teams, each under 100 repositories) and one
    query for the CODEOWNERS texts (under 20 files) more; once the oids are known, only the
    teams query (each repository's deployments fit their first page of 50 here)."""
    _, counters, _ = collect(org, server)
    start, end = org.window()
    options = {"deployments_environment": "production", "teams": True}
    costs = []
    known: dict[str, str] | None = {}
    for _ in range(2):
        with client_for(server) as client:
            window = collect_window(
                client,
                org.login,
                start,
                end,
                now=end + dt.timedelta(days=30),
                bots=["dependabot[bot]"],
                codeowners_known=known,
                **options,
            )
            costs.append(client.counters.graphql_requests)
        assert not window.failed, window.failed
        if known == {}:  # the first run: every file's text was read
            known = {name: c.oid for name, c in window.codeowners.items() if c}
            assert known  # some repositories pushed that day have a CODEOWNERS file
        else:
            assert window.codeowners_unchanged == set(known)
    assert costs == [counters.graphql_requests + 2, counters.graphql_requests + 1]
