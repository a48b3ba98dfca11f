"""Deployments, teams, CODEOWNERS, pull request files, revert commits and release shas collected
through the real client from the loopback fake GitHub, checked against the fake's own ground
truth (tests/fakes/github_org.py), in a non-UTC org timezone.

Expected values come from the fake's dataclasses (what it was built with), never from the
collector: a deployment's statuses are the fake's own list (oldest first by construction),
team repositories are `Team.repos`, CODEOWNERS are `Org.codeowners_of`, a pull request's files
are `PullRequest.files`, a release's sha is the `Release.sha` it was made for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.github_org import Deployment, Org, Repository, build_org
from fakes.github_server import FakeGitHub
from pydantic import SecretStr

from sparky_resources.clock import parse_instant
from sparky_resources.github import GitHubClient
from sparky_resources.github_collect import DEPLOYMENT_SLACK, GitHubResource, collect_window
from sparky_resources.github_records import DeploymentRecord

TOKEN = "ghp_deliveryTOKENnotreal0123456789"
DAYS = 4  # the window: the org's day and the 3 after, so the revert and the 150-file PR are in


def build() -> Org:
    return build_org(repos=30, active=6, tz="America/Los_Angeles", seed=11)


@pytest.fixture(scope="module")
def org() -> Org:
    return build()


@pytest.fixture(scope="module")
def server(org: Org) -> Iterator[FakeGitHub]:
    with FakeGitHub(org) as gh:
        yield gh


@pytest.fixture(autouse=True)
def _clean(server: FakeGitHub) -> Iterator[None]:
    server.faults.clear()
    yield
    server.faults.clear()
    assert server.internal_errors == []


def client_for(gh: FakeGitHub) -> GitHubClient:
    return GitHubClient(gh.base_url, gh.graphql_url, SecretStr(TOKEN), sleep=lambda s: None)


def collect(org: Org, gh: FakeGitHub, days: int = DAYS, **kwargs: Any):
    """The window of `days` from the org's day, with the client's request counters."""
    start, end = org.window(days=days)
    with client_for(gh) as client:
        window = collect_window(
            client, org.login, start, end, now=end + dt.timedelta(days=30), **kwargs
        )
        return window, client.counters, (start, end)


def pushed(org: Org, start: dt.datetime) -> list[Repository]:
    """The repositories whose releases query runs (pushed in the window): the ones asked."""
    return org.repos_pushed_since(start)


def expected_deployments(
    org: Org, start: dt.datetime, end: dt.datetime, environment: str
) -> dict[tuple[str, str], tuple]:
    """The brief's rule on the fake's deployments: created in [start - 1 day, end) or with a
    status in [start, end), of the repositories pushed in the window."""
    since = start - dt.timedelta(days=1)

    def kept(d: Deployment) -> bool:
        return since <= d.created_at < end or any(start <= s.created_at < end for s in d.statuses)

    return {
        (r.name, str(d.id)): (d.sha, d.created_at, [(s.state, s.created_at) for s in d.statuses])
        for r in pushed(org, start)
        for d in r.deployments
        if d.environment == environment and kept(d)
    }


def as_truth(records: list[DeploymentRecord]) -> dict[tuple[str, str], tuple]:
    return {
        (d.repo, d.id): (
            d.sha,
            parse_instant(d.created_at),
            [(s.state, parse_instant(s.created_at)) for s in d.statuses],
        )
        for d in records
    }


# ---------------------------------------------------------------------------------------------
# Deployments


def test_production_deployments_equal_the_fakes(org: Org, server: FakeGitHub) -> None:
    window, _, (start, end) = collect(org, server, days=1, deployments_environment="production")
    assert not window.failed, window.failed
    truth = expected_deployments(org, start, end, "production")
    assert as_truth(window.deployments) == truth
    assert len(window.deployments) == len(truth)  # no deployment twice
    # The fake's own helper agrees on the ones created in the slack and the window.
    created = {
        (org.repo(d.repo).name, str(d.id))
        for d in org.deployments_in(start - DEPLOYMENT_SLACK, end)
    }
    assert created <= set(truth) and created
    # Repository 0 has an `error` at start + 1 h and a `failure` at + 2 h in the window.
    outcomes = {
        (d.repo, d.statuses[-1].state) for d in window.deployments if d.repo == org.repos[0].name
    }
    assert {(org.repos[0].name, "error"), (org.repos[0].name, "failure")} <= outcomes
    assert all(d.environment == "production" for d in window.deployments)
    # Every repository asked has its deployments' coverage.
    covered = {c.repo for c in window.coverage if c.entity == "deployments" and c.status == "ok"}
    assert covered == {r.name for r in pushed(org, start)}


def test_staging_statuses_are_oldest_first_with_inactive(org: Org, server: FakeGitHub) -> None:
    """GitHub answers a deployment's statuses newest first; the records hold them oldest first,
    so an `inactive` added when a newer staging deployment succeeded comes last."""
    window, _, (start, end) = collect(org, server, deployments_environment="staging")
    assert not window.failed, window.failed
    assert as_truth(window.deployments) == expected_deployments(org, start, end, "staging")
    inactive = [d for d in window.deployments if d.statuses[-1].state == "inactive"]
    assert inactive, "the fake's staging has superseded deployments"
    for d in inactive:
        assert [s.state for s in d.statuses] == ["in_progress", "success", "inactive"]
    for d in window.deployments:
        times = [parse_instant(s.created_at) for s in d.statuses]
        assert times == sorted(times)


def test_no_environment_no_deployments_and_no_extra_request(org: Org, server: FakeGitHub) -> None:
    plain, plain_counters, _ = collect(org, server, days=1)
    with_deployments, counters, _ = collect(
        org, server, days=1, deployments_environment="production"
    )
    assert plain.deployments == [] and with_deployments.deployments
    assert not any(c.entity == "deployments" for c in plain.coverage)
    # The first page rides in the releases query: a day costs no request more.
    assert counters.graphql_requests == plain_counters.graphql_requests


def test_deployments_are_paged_until_before_the_slack(org: Org, server: FakeGitHub) -> None:
    """Two deployments a page: the collector pages each repository on (20 per query) until a
    page reaches before start - 1 day, and finds the same deployments as one page of 50."""
    window, counters, (start, end) = collect(
        org, server, days=1, deployments_environment="production", deployments_page=2
    )
    assert not window.failed, window.failed
    assert as_truth(window.deployments) == expected_deployments(org, start, end, "production")
    _, whole, _ = collect(org, server, days=1, deployments_environment="production")
    assert counters.graphql_requests > whole.graphql_requests


def test_a_repository_whose_deployments_fail_is_recorded_and_the_others_kept() -> None:
    """Its own fake: the repository is deleted between the releases query and the first
    further page of deployments, so GitHub answers NOT_FOUND for that alias alone."""
    org = build()
    start, end = org.window(days=1)
    victim = org.repos[0].name
    with FakeGitHub(org) as gh:
        rule = gh.faults.add(
            r"/graphql", "delete_repository", repo=victim, body="query Deployments"
        )
        with client_for(gh) as client:
            window = collect_window(
                client,
                org.login,
                start,
                end,
                now=end + dt.timedelta(days=30),
                deployments_environment="production",
                deployments_page=1,
            )
        assert gh.internal_errors == []
    assert rule.fired == 1
    (failure,) = window.failed
    assert (failure.entity, failure.repo) == ("deployments", victim)
    assert "Could not resolve to a Repository" in failure.error
    truth = expected_deployments(org, start, end, "production")
    others = {k: v for k, v in truth.items() if k[0] != victim}
    assert as_truth(window.deployments) == others and others
    assert not any(d.repo == victim for d in window.deployments)
    # Its releases came with the first query, before it was deleted.
    assert any(
        c.entity == "releases" and c.repo == victim and c.status == "ok" for c in window.coverage
    )


# ---------------------------------------------------------------------------------------------
# Teams


def test_teams_and_their_repositories_equal_the_fakes(org: Org, server: FakeGitHub) -> None:
    window, _, _ = collect(org, server, days=1, teams=True)
    assert not window.failed, window.failed
    assert window.teams is not None
    assert {t.slug: (t.name, sorted(t.repos)) for t in window.teams} == {
        t.slug: (t.name, sorted(t.repos)) for t in org.teams
    }
    plain, _, _ = collect(org, server, days=1)
    assert plain.teams is None  # not asked


def test_a_team_with_more_than_100_repositories_is_read_whole() -> None:
    big = build_org(repos=220, active=5, seed=5)
    (platform,) = [t for t in big.teams if t.slug == "platform"]
    assert len(platform.repos) > 100  # the fake's platform team has every other repository
    start, end = big.window()
    with FakeGitHub(big) as gh, client_for(gh) as client:
        window = collect_window(client, big.login, start, end, now=end, teams=True)
        assert gh.internal_errors == []
    assert window.teams is not None
    assert {t.slug: sorted(t.repos) for t in window.teams} == {
        t.slug: sorted(t.repos) for t in big.teams
    }


def test_teams_keep_only_the_selected_repositories(org: Org, server: FakeGitHub) -> None:
    start, end = org.window()
    with client_for(server) as client:
        window = collect_window(
            client, org.login, start, end, now=end, teams=True, selected=lambda n: n < "m"
        )
    assert window.teams is not None
    assert {t.slug: sorted(t.repos) for t in window.teams} == {
        t.slug: sorted(n for n in t.repos if n < "m") for t in org.teams
    }


# ---------------------------------------------------------------------------------------------
# CODEOWNERS


def test_codeowners_location_and_text_equal_the_fakes(org: Org, server: FakeGitHub) -> None:
    first, counters, (start, _) = collect(org, server, days=1, codeowners_known={})
    assert not first.failed, first.failed
    asked = pushed(org, start)
    expected = {r.name: org.codeowners_of(r) for r in asked}
    assert {name: (c.location, c.text) if c else None for name, c in first.codeowners.items()} == (
        expected
    )
    assert any(v is None for v in expected.values())  # some have none
    assert {v[0] for v in expected.values() if v} == {
        ".github/CODEOWNERS",
        "CODEOWNERS",
        "docs/CODEOWNERS",
    }
    assert first.codeowners_unchanged == set()

    # A second run that knows the oids reads no blob: a Blobs query would fail here.
    known = {name: c.oid for name, c in first.codeowners.items() if c}
    blobs = server.faults.add(r"/graphql", "http_500", times=None, body="query Blobs")
    second, counters2, _ = collect(org, server, days=1, codeowners_known=known)
    assert blobs.fired == 0
    assert not second.failed, second.failed
    assert second.codeowners == {name: None for name, v in expected.items() if v is None}
    assert second.codeowners_unchanged == set(known)
    assert counters2.graphql_requests == counters.graphql_requests - 1  # one Blobs query saved
    server.faults.clear()

    # One stale oid: exactly that repository's text is read again.
    stale = sorted(known)[0]
    third, _, _ = collect(org, server, days=1, codeowners_known={**known, stale: "0" * 40})
    assert set(third.codeowners) - {n for n, v in expected.items() if v is None} == {stale}
    assert (third.codeowners[stale].location, third.codeowners[stale].text) == expected[stale]
    assert third.codeowners_unchanged == set(known) - {stale}


def test_codeowners_not_asked_is_absent(org: Org, server: FakeGitHub) -> None:
    window, _, _ = collect(org, server, days=1)
    assert window.codeowners == {} and window.codeowners_unchanged == set()
    assert not any(c.entity == "codeowners" for c in window.coverage)


def test_the_oid_is_gits_blob_id(org: Org, server: FakeGitHub) -> None:
    """git hash-object of the text (sha1 of "blob <size>\\0<text>"), computed here."""
    import hashlib

    window, _, _ = collect(org, server, days=1, codeowners_known={})
    records = [c for c in window.codeowners.values() if c]
    assert records
    for c in records:
        data = c.text.encode()
        assert c.oid == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Pull request files, reverts, release shas


def test_pull_request_files_equal_the_fakes(org: Org, server: FakeGitHub) -> None:
    window, _, _ = collect(org, server)
    assert not window.failed, window.failed
    truth = {(org.repo(p.repo).name, p.number): p for p in org.pull_requests()}
    assert window.pull_requests
    for pr in window.pull_requests:
        files = [f.filename for f in truth[(pr.repo, pr.number)].files]
        assert pr.files is not None and sorted(pr.files) == sorted(files), (pr.repo, pr.number)
        assert len(pr.files) == len(files)  # none twice across pages
    big = [pr for pr in window.pull_requests if pr.files and len(pr.files) == 150]
    assert len(big) == 1  # more than one page of files(first: 100)


def test_a_pull_request_whose_further_files_fail_keeps_none(org: Org, server: FakeGitHub) -> None:
    """Its second page fails every retry: the pull request is kept, its files are unknown
    (None, not the first 100) and its repository's coverage says so."""
    rule = server.faults.add(r"/graphql", "http_502", times=None, body="query PullRequestFiles")
    window, _, _ = collect(org, server)
    assert rule.fired >= 1
    (failure,) = window.failed
    big = [pr for pr in org.pull_requests() if len(pr.files) == 150]
    (big_pr,) = big
    name = org.repo(big_pr.repo).name
    assert (failure.entity, failure.repo) == ("pull_requests", name)
    assert f"#{big_pr.number}" in failure.error
    (kept,) = [p for p in window.pull_requests if (p.repo, p.number) == (name, big_pr.number)]
    assert kept.files is None
    assert all(p.files is not None for p in window.pull_requests if p is not kept)


def test_the_revert_commit_names_the_reverted_sha(org: Org, server: FakeGitHub) -> None:
    """The fake reverts the newest successfully deployed production change of its last active
    repository; that sha is worked out here from the deployments, not from the message."""
    window, _, (start, end) = collect(org, server)
    repo = org.repos[5]  # the last active repository (active=6)
    production = [d for d in repo.deployments if d.environment == "production" and d.succeeded_at]
    head = repo.commits[0]
    before = [d for d in production if d.sha != head.sha]
    reverted = max(before, key=lambda d: d.created_at).sha
    reverts = {c.sha: c.reverts for c in window.commits if c.reverts}
    assert reverts == {head.sha: reverted}
    assert start <= head.committed_at < end


def test_release_and_tag_shas_are_the_tagged_commits(org: Org, server: FakeGitHub) -> None:
    window, _, (start, end) = collect(org, server)
    releases = {
        (org.repo(r.repo).name, r.tag_name): r.sha for r in org.releases_published_in(start, end)
    }
    tags = {(org.repo(t.repo).name, t.name): t.sha for t in org.tags_created_in(start, end)}
    assert releases and tags
    assert {(r.repo, r.tag_name): r.sha for r in window.releases if r.kind == "release"} == (
        releases
    )
    assert {(r.repo, r.tag_name): r.sha for r in window.releases if r.kind == "tag"} == tags


# ---------------------------------------------------------------------------------------------
# Through the resource


def test_the_resource_passes_the_three_options_through(org: Org, server: FakeGitHub) -> None:
    start, end = org.window()
    resource = GitHubResource(
        org=org.login, api_url=server.base_url, graphql_url=server.graphql_url, token=TOKEN
    )
    window, counters = resource.collect(
        start,
        end,
        now=end + dt.timedelta(days=30),
        bots=[],
        deployments_environment="production",
        teams=True,
        codeowners_known={},
    )
    assert not window.failed, window.failed
    assert as_truth(window.deployments) == expected_deployments(org, start, end, "production")
    assert window.teams is not None and len(window.teams) == len(org.teams)
    assert set(window.codeowners) == {r.name for r in pushed(org, start)}
    assert counters["graphql_requests"] > 0
