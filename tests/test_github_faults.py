"""GitHub failing the way it does in practice: in-band GraphQL timeouts (HTTP 200 with GitHub's
"Something went wrong while executing your query" error), batched queries that keep timing
out, and no connection at all. The loopback fake GitHub speaks the real formats; the unreachable
case runs real Dagster steps against a closed loopback port and a real local clone."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.github_org import Org, build_org
from fakes.github_server import GRAPHQL_TIMEOUT_MESSAGE, FakeGitHub
from gitrepo import KnownHistory
from pydantic import SecretStr
from sparky_defs import assets, session_org

from sparky_resources.github import GitHubClient, GitHubServerError, GitHubUnreachable
from sparky_resources.github_collect import GitHubWindow, collect_window

TOKEN = "ghp_faultsTOKENnotreal0123456789ab"
# Page 2 (or later) of the pull-request search, and commit-history queries over 2+ repositories.
PR_PAGE_2 = r'query SearchPullRequests[\s\S]*"after":\s*"'
HISTORY = r"query CommitHistory"
BATCH = r'query CommitHistory[\s\S]*"name1":\s*"'


@pytest.fixture(scope="module")
def org() -> Org:
    # Enough pull requests that the search has a second page (100 a page).
    return build_org(tz="America/New_York", seed=3, prs_per_active=(50, 70))


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


def collect(org: Org, gh: FakeGitHub) -> tuple[GitHubWindow, GitHubClient]:
    start, end = org.window()
    with GitHubClient(gh.base_url, gh.graphql_url, SecretStr(TOKEN), sleep=lambda s: None) as c:
        return collect_window(c, org.login, start, end, now=end + dt.timedelta(days=30)), c


def keys(window: GitHubWindow) -> dict[str, list]:
    return {
        "commits": sorted((c.repo, c.sha) for c in window.commits),
        "pull_requests": sorted((p.repo, p.number) for p in window.pull_requests),
        "issues": sorted((i.repo, i.number) for i in window.issues),
        "releases": sorted((r.repo, r.kind, r.tag_name) for r in window.releases),
    }


# ---------------------------------------------------------------------------------------------
# In-band GraphQL timeouts


def test_the_fake_answers_githubs_in_band_timeout(server: FakeGitHub) -> None:
    """The body is GitHub's: HTTP 200, `data: null`, one error whose message names the request."""
    import httpx

    server.faults.add(r"/graphql", "graphql_timeout")
    answer = httpx.post(
        server.graphql_url,
        json={"query": "{ viewer { login } }"},
        headers={"Authorization": f"bearer {TOKEN}", "User-Agent": "t"},
    )
    assert answer.status_code == 200
    request_id = answer.headers["x-github-request-id"]
    assert re.fullmatch(r"[0-9A-F]+(:[0-9A-F]+){4}", request_id)
    assert answer.json() == {
        "data": None,
        "errors": [{"message": GRAPHQL_TIMEOUT_MESSAGE.format(request_id=request_id)}],
    }
    assert answer.text.startswith('{"data":null,"errors":[{"message":"Something went wrong')


def test_an_in_band_timeout_on_page_2_of_the_search_is_retried(
    org: Org, server: FakeGitHub
) -> None:
    clean, _ = collect(org, server)
    rule = server.faults.add(r"/graphql", "graphql_timeout", body=PR_PAGE_2)
    window, client = collect(org, server)
    assert rule.fired == 1  # the search had a second page and GitHub timed out on it once
    assert not window.failed, window.failed
    assert keys(window) == keys(clean)
    assert client.counters.retries == 1


def test_an_in_band_timeout_every_time_is_one_line_after_the_retries(server: FakeGitHub) -> None:
    server.faults.add(r"/graphql", "graphql_timeout", times=None)
    client = GitHubClient(
        server.base_url, server.graphql_url, SecretStr(TOKEN), sleep=lambda s: None, max_retries=2
    )
    with client, pytest.raises(GitHubServerError) as caught:
        client.graphql("{ viewer { login } }")
    message = str(caught.value)
    assert "failed after 3 attempts" in message and "Something went wrong" in message
    assert "\n" not in message and TOKEN not in message
    assert client.counters.graphql_requests == 3


def test_a_history_batch_that_keeps_timing_out_is_split_and_nothing_fails(
    org: Org, server: FakeGitHub
) -> None:
    """GitHub times out on every history query over two or more repositories: the batch is
    split down to one repository a query and every commit is collected."""
    clean, _ = collect(org, server)
    rule = server.faults.add(r"/graphql", "graphql_timeout", times=None, body=BATCH)
    window, _ = collect(org, server)
    assert rule.fired > 0
    assert not window.failed, window.failed
    assert keys(window)["commits"] == keys(clean)["commits"]
    assert len(window.repositories) >= 4  # a batch worth splitting


def test_a_repository_github_always_times_out_on_fails_alone(org: Org, server: FakeGitHub) -> None:
    """Its batch is split until it is alone, then its pages get smaller; then it alone is
    recorded failed, with none of its commits, and the other repositories are collected."""
    clean, _ = collect(org, server)
    busiest = max(
        {c.repo for c in clean.commits}, key=lambda r: sum(c.repo == r for c in clean.commits)
    )
    alone = HISTORY + rf'[\s\S]*"name\d+":\s*"{busiest}"'
    rule = server.faults.add(r"/graphql", "graphql_timeout", times=None, body=alone)
    window, _ = collect(org, server)
    assert [(f.entity, f.repo) for f in window.failed] == [("commits", busiest)]
    assert "Something went wrong" in window.failed[0].error
    assert keys(window)["commits"] == [k for k in keys(clean)["commits"] if k[0] != busiest]
    # Alone at 100, 25 and 5 commits a page, after halvings of the batch: each query retried
    # max_retries (5) times. Bounded, not a storm.
    assert rule.fired <= 6 * 8, rule.fired


# ---------------------------------------------------------------------------------------------
# GitHub unreachable


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_client_gives_up_after_one_retry_and_asks_no_more() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    sleeps: list[float] = []
    client = GitHubClient(url, token=SecretStr(TOKEN), sleep=sleeps.append)
    with client, pytest.raises(GitHubUnreachable, match="failed after 2 attempts: ConnectError"):
        client.graphql("{ viewer { login } }")
    assert client.counters.graphql_requests == 2 and sleeps == [1.0]
    with pytest.raises(GitHubUnreachable, match="not attempted"):
        client.get_json("/orgs/acme/repos")
    assert client.counters.rest_requests == 0


def test_unreachable_github_fails_fast_and_small_and_the_clone_is_collected(
    known: KnownHistory, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog
) -> None:
    import dagster as dg

    raw_commits, repositories = assets("raw_commits", "repositories")
    from sparky_assets.defs.github import UNREACHABLE_TAG

    (github_activity,) = assets("raw_pull_requests")
    from sparky_resources.github_collect import GitHubResource
    from sparky_resources.local_git import LocalGitResource
    from sparky_resources.store import DataStore

    caplog.set_level(logging.WARNING, logger="sparky_resources.github")
    key = "2024-06-03"
    url = f"http://127.0.0.1:{closed_port()}"
    resources = {
        "github": GitHubResource(org="acme", api_url=url, token=TOKEN),
        "local_git": LocalGitResource(repos=[str(known.path)]),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
    }
    capfd.readouterr()
    began = time.monotonic()
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [repositories, github_activity, raw_commits],
            partition_key=key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        tags = instance.get_run_by_id(result.run_id).tags
    elapsed = time.monotonic() - began
    out, err = capfd.readouterr()
    lines = (out + err).splitlines()

    assert elapsed < 20, elapsed
    assert result.success  # GitHub's side is missing, recorded; the clone's side is there
    # One connection attempt and one retry in the whole run: the listing in `repositories`;
    # `github_activity` saw the run's marker and asked nothing.
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 1 and "(attempt 2 of 2)" in retries[0].getMessage()
    assert tags[UNREACHABLE_TAG].startswith(f"{result.run_id} GitHub unreachable: ")
    assert "failed after 2 attempts" in tags[UNREACHABLE_TAG]
    # Small output: no stack trace, the error a line per asset that met it.
    assert not [line for line in lines if "Traceback" in line or line.startswith("  File ")]
    assert len([line for line in lines if "ConnectError" in line]) <= 4, lines
    assert len(lines) < 60, len(lines)  # 31 here; 90 before, with 10 retries
    # The local clone was collected and its coverage says why GitHub's side is missing.
    data = tmp_path / "data/raw"
    records = json.loads((data / "raw_commits" / f"{key}.json").read_text())["records"]
    assert {r["sha"] for r in records} >= {known.shas["alice_app"], known.shas["merge"]}
    assert all(r["sources"] == ["local"] for r in records)
    coverage = json.loads((data / "_coverage/raw_commits" / f"{key}.json").read_text())
    assert [r["status"] for r in coverage["repos"]] == ["ok"]
    assert coverage["github_error"].startswith("GitHub unreachable: ")
    # Nothing was written for GitHub's side but the backlog's "not collected" note.
    assert not (data / "raw_github_commits" / f"{key}.json").exists()
    assert not (data / "_coverage/github" / f"{key}.json").exists()
    backlog = json.loads((data / "raw_backlog" / f"{key}.json").read_text())
    assert backlog["collected"] is False and "unreachable" in backlog["reason"]
