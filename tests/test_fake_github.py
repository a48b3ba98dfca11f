"""The fake GitHub speaks GitHub's formats and serves its org's ground truth.

REST bodies are checked key by key against the OpenAPI examples and octokit recordings in
tests/fixtures/github (copies of ../shared/fixtures/github); GraphQL queries run against
GitHub's real schema.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import graphql
import httpx
import pytest
from fakes.github_org import Org, build_org, iso_z
from fakes.github_server import FakeGitHub, load_schema, query_cost, schema_path

FIXTURES = schema_path().parents[1]  # .../fixtures/github
EXAMPLES = FIXTURES / "openapi-examples"
AUTH = {"Authorization": "Bearer test-token"}


# --------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def org() -> Org:
    return build_org()


@pytest.fixture(scope="module")
def server(org: Org) -> Iterator[FakeGitHub]:
    with FakeGitHub(org) as gh:
        yield gh


@pytest.fixture
def gh(server: FakeGitHub) -> Iterator[FakeGitHub]:
    """The shared server, with faults and counters cleared around each test."""
    server.faults.clear()
    server.counters.reset()
    yield server
    server.faults.clear()
    assert server.internal_errors == []


@pytest.fixture
def client(gh: FakeGitHub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gh.base_url, headers=AUTH, timeout=5) as c:
        yield c


def links(resp: httpx.Response) -> dict[str, str]:
    """Parse a Link header, checking GitHub's exact `<URL>; rel="x", <URL>; rel="y"` form."""
    header = resp.headers.get("link")
    if header is None:
        return {}
    part = r'<(https?://[^>]+)>; rel="(prev|next|last|first)"'
    assert re.fullmatch(rf"{part}(, {part})*", header), header
    return {rel: url for url, rel in re.findall(part, header)}


def walk(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Follow rel="next" to the end, like a client should; returns all items (search too)."""
    items: list[Any] = []
    resp = client.get(url, params=params)
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items.extend(body["items"] if isinstance(body, dict) else body)
        nxt = links(resp).get("next")
        if nxt is None:
            return items
        resp = client.get(nxt)


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    resp = client.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def missing_keys(example: Any, actual: Any, path: str = "$") -> list[str]:
    """Keys of `example` absent from `actual`, recursively through objects and first items."""
    out: list[str] = []
    if isinstance(example, dict) and isinstance(actual, dict):
        for key, value in example.items():
            if key not in actual:
                out.append(f"{path}.{key}")
            else:
                out += missing_keys(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list) and isinstance(actual, list) and example and actual:
        out += missing_keys(example[0], actual[0], f"{path}[0]")
    return out


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def recorded(scenario: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "octokit" / scenario / "normalized-fixture.json").read_text())


def local_iso(ts: datetime, org: Org) -> str:
    """An instant as an org-local date-time with its offset, e.g. 2024-06-03T00:00:00+02:00."""
    return ts.astimezone(ZoneInfo(org.tz)).isoformat()


# --------------------------------------------------------------------------------------------
# Ground truth


def test_org_is_deterministic_and_has_its_edge_cases(org: Org) -> None:
    again = build_org()
    assert [c.sha for r in again.repos for c in r.commits] == [
        c.sha for r in org.repos for c in r.commits
    ]
    assert [c.sha for r in build_org(seed=2).repos for c in r.commits] != [
        c.sha for r in org.repos for c in r.commits
    ]
    start, end = org.window()
    assert (start, end) == (
        datetime(2024, 6, 2, 22, tzinfo=UTC),
        datetime(2024, 6, 3, 22, tzinfo=UTC),
    )
    inside = {c.headline for c in org.commits_in(start, end)}
    assert "Exactly at the window start" in inside and "Last second of the window" in inside
    assert "Just before the window" not in inside and "Exactly at the window end" not in inside
    # author date and committer date on different sides of the window
    assert "Rebased: authored before the window" in inside
    by_author = {c.headline for c in org.commits_in(start, end, by="authored")}
    assert "Rebased: authored before the window" not in by_author
    assert "Cherry-picked: committed after the window" in by_author - inside
    commits = [c for r in org.repos for c in r.commits]
    assert any(c.author.account and c.author.account.is_bot for c in commits)
    assert any(c.author.login is None for c in commits)
    assert any(c.is_merge for c in commits)
    assert sum(1 for c in commits if c.committed_at != c.authored_at) > 10
    assert org.renamed == {"legacy-ops": "ops"}
    kinds = {(r.archived, r.fork, r.visibility, bool(r.commits)) for r in org.repos}
    assert (True, False, "public", True) in kinds and any(not k[3] for k in kinds)
    assert {"public", "private", "internal"} <= {r.visibility for r in org.repos}
    # a PR that was active in the window has often been updated since
    active = org.pull_requests_active_in(start, end)
    assert any(p.updated_at >= end for p in active)
    assert any(p.draft for p in org.pull_requests()) and any(
        p.ready_for_review_at for p in org.pull_requests()
    )
    assert org.releases_published_in(start, end) and org.tags_created_in(start, end)
    assert any(
        rel.created_at < start <= (rel.published_at or start)
        for rel in org.releases_published_in(start, end)
    )


# --------------------------------------------------------------------------------------------
# REST formats


def test_rest_bodies_have_every_key_of_the_openapi_examples(client: httpx.Client, org: Org) -> None:
    repo = org.repos[0]
    base = f"/repos/{repo.full_name}"
    pr = next(p for p in repo.pulls if p.reviews)
    listed_issues = client.get(f"{base}/issues", params={"state": "all"}).json()
    pr_as_issue = next(i for i in listed_issues if "pull_request" in i)
    plain_issue = next(i for i in listed_issues if "pull_request" not in i)
    cases = {
        "repos/list-for-org.json": client.get("/orgs/acme/repos").json(),
        "repos/list-commits.json": client.get(f"{base}/commits").json(),
        "repos/get-commit.json": client.get(f"{base}/commits/{repo.commits[0].sha}").json(),
        "pulls/list.json": client.get(f"{base}/pulls", params={"state": "all"}).json(),
        "pulls/list-reviews.json": client.get(f"{base}/pulls/{pr.number}/reviews").json(),
        "issues/list-for-repo.json": [pr_as_issue],
        "issues/list-comments-for-repo.json": client.get(f"{base}/issues/comments").json(),
        "repos/list-releases.json": client.get(f"{base}/releases").json(),
        "rate-limit/get.json": client.get("/rate_limit").json(),
    }
    for name, actual in cases.items():
        assert actual, name
        assert missing_keys(example(name), actual) == [], name
    # A plain issue has every key but `pull_request` (GitHub adds it only to PRs).
    missing = missing_keys(example("issues/list-for-repo.json"), [plain_issue])
    assert missing == ["$[0].pull_request"]
    # Recorded (octokit) bodies: the full repository and a search result item.
    full = client.get(f"{base}").json()
    assert missing_keys(recorded("get-repository")[0]["response"], full) == []
    search = client.get("/search/issues", params={"q": "org:acme is:issue"}).json()
    rec = recorded("search-issues")[0]["response"]
    assert set(search) == set(rec) and missing_keys(rec["items"][0], search["items"][0]) == []


def test_rest_commit_fields_follow_github(client: httpx.Client, org: Org) -> None:
    """user.type Bot, null author for unlinked e-mails, UTC dates, stats on a single commit."""
    repo = org.repos[0]
    items = walk(client, f"/repos/{repo.full_name}/commits", {"per_page": 100})
    assert [c["sha"] for c in items] == [c.sha for c in repo.commits]
    by_sha = {c["sha"]: c for c in items}
    for c in repo.commits:
        got = by_sha[c.sha]
        assert got["commit"]["committer"]["date"] == iso_z(c.committed_at)
        assert got["commit"]["author"]["date"] == iso_z(c.authored_at)
        assert [p["sha"] for p in got["parents"]] == c.parents
        if c.author.account is None:
            assert got["author"] is None
        else:
            assert got["author"]["login"] == c.author.account.login
            assert got["author"]["type"] == c.author.account.type
    bot = next(c for c in repo.commits if c.author.account and c.author.account.is_bot)
    assert by_sha[bot.sha]["author"]["login"] == "dependabot[bot]"
    assert by_sha[bot.sha]["committer"]["login"] == "web-flow"
    one = client.get(f"/repos/{repo.full_name}/commits/{bot.sha[:10]}").json()
    assert one["stats"] == {
        "additions": bot.additions,
        "deletions": bot.deletions,
        "total": bot.additions + bot.deletions,
    }
    assert len(one["files"]) == bot.changed_files


def test_rest_commits_since_until_filter_on_committer_date(client: httpx.Client, org: Org) -> None:
    start, end = org.window()
    got: set[str] = set()
    for repo in org.repos:
        params = {"since": iso_z(start), "until": iso_z(end - timedelta(seconds=1)), "per_page": 50}
        resp = client.get(f"/repos/{repo.full_name}/commits", params=params)
        if not repo.commits:
            assert resp.status_code == 409  # "Git Repository is empty."
            continue
        got |= {c["sha"] for c in walk(client, f"/repos/{repo.full_name}/commits", params)}
    assert got == {c.sha for c in org.commits_in(start, end)}


def test_issues_list_includes_pull_requests_and_since_means_updated(
    client: httpx.Client, org: Org
) -> None:
    repo = org.repos[0]
    start, _ = org.window()
    items = walk(client, f"/repos/{repo.full_name}/issues", {"state": "all", "since": iso_z(start)})
    want = {i.number for i in [*repo.issues, *repo.pulls] if i.updated_at >= start}
    assert {i["number"] for i in items} == want
    prs = {i["number"] for i in items if "pull_request" in i}
    assert prs == {p.number for p in repo.pulls if p.updated_at >= start}
    assert all(
        i["pull_request"]["merged_at"] is not None
        for i in items
        if "pull_request" in i and i["number"] in {p.number for p in repo.pulls if p.merged}
    )


def test_link_headers_walk_to_the_end(gh: FakeGitHub, client: httpx.Client, org: Org) -> None:
    first = client.get("/orgs/acme/repos", params={"per_page": 3, "sort": "full_name"})
    rels = links(first)
    assert list(rels) == ["next", "last"]
    assert rels["last"].startswith(f"{gh.base_url}/organizations/{org.id}/repos?")
    assert rels["last"].endswith("page=7")  # ceil(20 / 3)
    middle = client.get(rels["next"])
    assert list(links(middle)) == ["prev", "next", "last", "first"]
    last = client.get(rels["last"])
    assert list(links(last)) == ["prev", "first"] and len(last.json()) == 20 - 6 * 3
    names = [
        r["name"] for r in walk(client, "/orgs/acme/repos", {"per_page": 3, "sort": "full_name"})
    ]
    assert names == sorted(r.name for r in org.repos)
    # Repo-scoped lists point their Link URLs at /repositories/{id}/..., as GitHub does.
    repo = org.repos[0]
    resp = client.get(f"/repos/{repo.full_name}/commits", params={"per_page": 10})
    nxt = links(resp)["next"]
    assert f"/repositories/{repo.id}/commits?per_page=10&page=2" in nxt
    assert links(resp)["last"].endswith(f"page={math.ceil(len(repo.commits) / 10)}")
    # per_page is capped at 100, default 30
    assert len(
        client.get(f"/repos/{repo.full_name}/commits", params={"per_page": 500}).json()
    ) == min(100, len(repo.commits))
    assert len(client.get(f"/repos/{repo.full_name}/commits").json()) == min(30, len(repo.commits))
    assert "link" not in client.get("/orgs/acme/repos", params={"per_page": 100}).headers


def test_etag_304_costs_nothing_when_authenticated(gh: FakeGitHub, client: httpx.Client) -> None:
    first = client.get("/orgs/acme/repos")
    etag = first.headers["etag"]
    left = int(first.headers["x-ratelimit-remaining"])
    again = client.get("/orgs/acme/repos", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == left
    assert gh.counters.not_modified == 1
    changed = client.get("/orgs/acme/repos", params={"page": 2}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-remaining"]) == left - 1
    # Without a token a 304 still counts (the docs exempt only authorized requests).
    with httpx.Client(base_url=gh.base_url) as anon:
        r1 = anon.get("/orgs/acme/repos")
        r2 = anon.get("/orgs/acme/repos", headers={"If-None-Match": r1.headers["etag"]})
        assert r2.status_code == 304
        assert (
            int(r2.headers["x-ratelimit-remaining"]) == int(r1.headers["x-ratelimit-remaining"]) - 1
        )


def test_rate_limit_headers_auth_and_user_agent(
    gh: FakeGitHub, client: httpx.Client, org: Org
) -> None:
    resp = client.get("/orgs/acme/repos")
    for h in ("limit", "remaining", "reset", "used", "resource"):
        assert f"x-ratelimit-{h}" in resp.headers
    assert (
        resp.headers["x-ratelimit-limit"] == "5000"
        and resp.headers["x-ratelimit-resource"] == "core"
    )
    search = client.get("/search/issues", params={"q": "org:acme"})
    assert (
        search.headers["x-ratelimit-resource"] == "search"
        and search.headers["x-ratelimit-limit"] == "30"
    )
    before = client.get("/rate_limit").json()["resources"]["core"]["remaining"]
    assert client.get("/rate_limit").json()["resources"]["core"]["remaining"] == before  # free
    with httpx.Client(base_url=gh.base_url) as anon:
        r = anon.get("/orgs/acme/repos", params={"per_page": 100})
        assert r.headers["x-ratelimit-limit"] == "60"
        assert {x["name"] for x in r.json()} == {x.name for x in org.repos if not x.private}
        private = next(x for x in org.repos if x.private)
        assert anon.get(f"/repos/{private.full_name}").status_code == 404
        g = anon.post("/graphql", json={"query": "{ rateLimit { remaining } }"})
        assert g.status_code == 401
        assert set(g.json()) == {"message", "documentation_url"}
    no_ua = httpx.get(f"{gh.base_url}/orgs/acme/repos", headers={"User-Agent": ""})
    assert no_ua.status_code == 403 and b"User-Agent" in no_ua.content


def test_exhausted_primary_budget_answers_403_until_reset(org: Org) -> None:
    now = [1_700_000_000.0]
    with (
        FakeGitHub(org, clock=lambda: now[0]) as gh,
        httpx.Client(base_url=gh.base_url, headers=AUTH) as c,
    ):
        gh.exhaust("core", reset_in=120)
        r = c.get("/orgs/acme/repos")
        assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"
        assert int(r.headers["x-ratelimit-reset"]) == 1_700_000_120
        assert "rate limit" in r.json()["message"]
        assert c.get("/rate_limit").status_code == 200  # never rate limited
        now[0] += 121
        assert c.get("/orgs/acme/repos").status_code == 200


# --------------------------------------------------------------------------------------------
# Search


@pytest.fixture(scope="module")
def big() -> Org:
    return build_org(
        "bigco",
        repos=2,
        active=2,
        seed=3,
        commits_per_active=(1, 1),
        issues_per_active=(600, 600),
        prs_per_active=(0, 0),
    )


def test_search_is_capped_at_1000(big: Org) -> None:
    with (
        FakeGitHub(big, search_limit=100) as gh,
        httpx.Client(base_url=gh.base_url, headers=AUTH) as c,
    ):
        r = c.get("/search/issues", params={"q": "org:bigco is:issue", "per_page": 100})
        body = r.json()
        assert body["total_count"] == 1200 and body["incomplete_results"] is False
        assert links(r)["last"].endswith("page=10")
        assert (
            len(
                c.get(
                    "/search/issues",
                    params={"q": "org:bigco is:issue", "per_page": 100, "page": 10},
                ).json()["items"]
            )
            == 100
        )
        over = c.get(
            "/search/issues", params={"q": "org:bigco is:issue", "per_page": 100, "page": 11}
        )
        assert over.status_code == 422
        assert over.json()["message"] == "Only the first 1000 search results are available"
        seen, after = 0, None
        while True:
            data = gql(
                c,
                """query($after: String) { search(query: "org:bigco is:issue",
                type: ISSUE, first: 100, after: $after) { issueCount
                pageInfo { hasNextPage endCursor } nodes { ... on Issue { number } } } }""",
                after=after,
            )["search"]
            assert data["issueCount"] == 1200
            seen += len(data["nodes"])
            if not data["pageInfo"]["hasNextPage"]:
                break
            after = data["pageInfo"]["endCursor"]
        assert seen == 1000


def test_search_finds_the_prs_active_in_a_berlin_day(client: httpx.Client, org: Org) -> None:
    start, end = org.window()
    # REST: updated inside [start, end) with the +02:00 offsets GitHub's syntax allows.
    last_second = local_iso(end - timedelta(seconds=1), org)
    q = f"org:acme is:pr updated:{local_iso(start, org)}..{last_second}"
    items = walk(client, "/search/issues", {"q": q, "per_page": 100})
    assert {(i["repository_url"].rsplit("/", 1)[1], i["number"]) for i in items} == {
        (p.repo, p.number) for p in org.pull_requests_updated_in(start, end)
    }
    # The UTC day is another set: the PR merged at the local midnight (22:00Z) is not in it.
    utc_day = walk(
        client, "/search/issues", {"q": "org:acme is:pr updated:2024-06-03", "per_page": 100}
    )
    edge = next(p for p in org.repos[0].pulls if p.merged_at == start)
    assert edge.number in {
        i["number"] for i in items if "/repos/acme/" + org.repos[0].name in i["url"]
    }
    assert edge.number not in {i["number"] for i in utc_day if org.repos[0].name in i["url"]}
    # GraphQL: everything updated since the start, then keep the PRs with an event in the window.
    query = """query($q: String!, $after: String) { search(query: $q, type: ISSUE, first: 50,
      after: $after) { issueCount pageInfo { hasNextPage endCursor } nodes { ... on PullRequest {
        number title url author { login __typename } state isDraft createdAt updatedAt mergedAt
        closedAt mergedBy { login } additions deletions changedFiles
        labels(first: 10) { nodes { name } }
        reviewRequests(first: 10) { nodes { requestedReviewer { ... on User { login } } } }
        reviews(first: 50) { nodes { author { login } state submittedAt } }
        comments(first: 50) { nodes { author { login } createdAt } }
        timelineItems(itemTypes: [READY_FOR_REVIEW_EVENT], last: 1) {
          nodes { ... on ReadyForReviewEvent { createdAt } } }
        closingIssuesReferences(first: 10) { nodes { number } } repository { name } } } } }"""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = gql(
            client, query, q=f"org:acme is:pr updated:>={local_iso(start, org)}", after=after
        )
        found += data["search"]["nodes"]
        if not data["search"]["pageInfo"]["hasNextPage"]:
            break
        after = data["search"]["pageInfo"]["endCursor"]

    def events(n: dict[str, Any]) -> list[str]:
        ts = [n["createdAt"], n["mergedAt"], n["closedAt"]]
        ts += [r["submittedAt"] for r in n["reviews"]["nodes"]]
        ts += [c["createdAt"] for c in n["comments"]["nodes"]]
        ts += [e["createdAt"] for e in n["timelineItems"]["nodes"]]
        return [t for t in ts if t]

    lo, hi = iso_z(start), iso_z(end)
    active = {
        (n["repository"]["name"], n["number"])
        for n in found
        if any(lo <= t < hi for t in events(n))
    }
    assert active == {(p.repo, p.number) for p in org.pull_requests_active_in(start, end)}
    bots = [n for n in found if n["author"]["__typename"] == "Bot"]
    assert bots and all(not n["author"]["login"].endswith("[bot]") for n in bots)


# --------------------------------------------------------------------------------------------
# GraphQL


def test_graphql_repositories_pushed_since(client: httpx.Client, org: Org) -> None:
    start, _ = org.window()
    query = """query($after: String) { rateLimit { cost limit remaining resetAt used }
      organization(login: "acme") { repositories(first: 4, after: $after,
        orderBy: {field: PUSHED_AT, direction: DESC}) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { name nameWithOwner url pushedAt isArchived isFork visibility } } } }"""
    names: list[str] = []
    after = None
    while True:
        data = gql(client, query, after=after)
        assert data["rateLimit"]["cost"] == 1 and data["rateLimit"]["limit"] == 5000
        conn = data["organization"]["repositories"]
        assert conn["totalCount"] == len(org.repos)
        fresh = [n for n in conn["nodes"] if n["pushedAt"] >= iso_z(start)]
        names += [n["name"] for n in fresh]
        if len(fresh) < len(conn["nodes"]) or not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert names == [r.name for r in org.repos_pushed_since(start)]
    assert "docs" in names  # pushed to a feature branch: pushed_at moved, no new commits


def test_graphql_history_in_a_window_matches_commits_in(
    gh: FakeGitHub, client: httpx.Client, org: Org
) -> None:
    start, end = org.window()
    query = """query($name: String!, $since: GitTimestamp!, $until: GitTimestamp!, $after: String) {
      repository(owner: "acme", name: $name) { defaultBranchRef { name target { ... on Commit {
        history(first: 25, after: $after, since: $since, until: $until) { totalCount
          pageInfo { hasNextPage endCursor }
          nodes { oid committedDate authoredDate additions deletions changedFilesIfAvailable
            messageHeadline parents(first: 2) { totalCount nodes { oid } }
            author { name email user { login } }
            committer { name email user { login } } } } } } } } }"""
    got: dict[str, dict[str, Any]] = {}
    for repo in org.repos:
        after = None
        while True:
            data = gql(
                client,
                query,
                name=repo.name,
                since=iso_z(start),
                until=iso_z(end - timedelta(seconds=1)),
                after=after,
            )
            ref = data["repository"]["defaultBranchRef"]
            if ref is None:
                assert not repo.commits  # the empty repository has no default branch
                break
            hist = ref["target"]["history"]
            got |= {n["oid"]: n for n in hist["nodes"]}
            if not hist["pageInfo"]["hasNextPage"]:
                break
            after = hist["pageInfo"]["endCursor"]
    truth = {c.sha: c for c in org.commits_in(start, end)}
    assert set(got) == set(truth)
    for sha, c in truth.items():
        n = got[sha]
        assert n["committedDate"] == iso_z(c.committed_at)
        assert n["authoredDate"] == iso_z(c.authored_at)
        assert (n["additions"], n["deletions"], n["changedFilesIfAvailable"]) == (
            c.additions,
            c.deletions,
            c.changed_files,
        )
        assert [p["oid"] for p in n["parents"]["nodes"]] == c.parents
        acc = c.author.account
        assert n["author"]["user"] == (None if acc is None or acc.is_bot else {"login": acc.login})
    assert gh.counters.requests["POST /graphql"] >= len(org.repos)
    assert gh.counters.graphql_points >= gh.counters.requests["POST /graphql"]


def test_graphql_repository_connections_match_ground_truth(client: httpx.Client, org: Org) -> None:
    repo = org.repos[0]
    start, _ = org.window()
    data = gql(
        client,
        """query($name: String!, $since: DateTime!) { repository(owner: "acme", name: $name) {
          pullRequests(first: 100, orderBy: {field: UPDATED_AT, direction: DESC}) {
            totalCount nodes { number state isDraft updatedAt author { login __typename } } }
          issues(first: 100, filterBy: {since: $since}) { nodes { number stateReason } }
          releases(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) {
            nodes { tagName isDraft createdAt publishedAt } }
          refs(refPrefix: "refs/tags/", first: 20,
               orderBy: {field: TAG_COMMIT_DATE, direction: DESC}) {
            nodes { name target { ... on Commit { oid committedDate
              committer { date } } } } } } }""",
        name=repo.name,
        since=iso_z(start),
    )["repository"]
    pulls = sorted(repo.pulls, key=lambda p: p.updated_at, reverse=True)
    assert [n["number"] for n in data["pullRequests"]["nodes"]] == [p.number for p in pulls]
    states = {n["number"]: n["state"] for n in data["pullRequests"]["nodes"]}
    assert {p.number for p in repo.pulls if p.merged} == {
        k for k, v in states.items() if v == "MERGED"
    }
    assert {n["number"] for n in data["issues"]["nodes"]} == {
        i.number for i in repo.issues if i.updated_at >= start
    }
    releases = sorted(repo.releases, key=lambda r: r.created_at, reverse=True)
    assert [n["tagName"] for n in data["releases"]["nodes"]] == [r.tag_name for r in releases]
    tags = sorted(repo.tags, key=lambda t: t.commit_date, reverse=True)
    assert [n["name"] for n in data["refs"]["nodes"]] == [t.name for t in tags]
    # GitTimestamp keeps the committer's own offset; DateTime is UTC.
    node = data["refs"]["nodes"][0]["target"]
    assert node["committedDate"].endswith("Z")
    assert datetime.fromisoformat(node["committer"]["date"]) == datetime.fromisoformat(
        node["committedDate"]
    )


def test_graphql_cost_and_node_limits_follow_the_docs() -> None:
    schema = load_schema()
    # The example of "Predicting the point value of a query": 5,101 requests, 51 points.
    doc = graphql.parse("""query { viewer { login repositories(first: 100) { edges { node { id
        issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } }
        } } } } } } } }""")
    cost = query_cost(schema, doc, None, {})
    assert (cost.requests, cost.points, cost.errors) == (5101, 51, [])
    missing = query_cost(
        schema,
        graphql.parse('{ organization(login: "acme") { repositories { nodes { name } } } }'),
        None,
        {},
    )
    assert missing.errors[0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    excessive = query_cost(
        schema,
        graphql.parse(
            'query($n: Int) { organization(login: "acme") { '
            "repositories(first: $n) { nodes { name } } } }"
        ),
        None,
        {"n": 101},
    )
    assert excessive.errors[0]["type"] == "EXCESSIVE_PAGINATION"


def test_graphql_errors_look_like_github(client: httpx.Client) -> None:
    r = client.post("/graphql", json={"query": '{ organization(login: "nope") { login } }'})
    body = r.json()
    assert body["data"] == {"organization": None}
    assert body["errors"][0]["type"] == "NOT_FOUND"
    bad = client.post("/graphql", json={"query": "{ organization(login: 1) { nosuchfield } }"})
    assert bad.status_code == 200 and "data" not in bad.json() and bad.json()["errors"]
    cursor = client.post(
        "/graphql",
        json={
            "query": '{ organization(login: "acme") { '
            'repositories(first: 1, after: "xx") { totalCount } } }'
        },
    )
    assert cursor.json()["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"


def test_graphql_rate_limit_exhausted_answers_200_with_rate_limited(org: Org) -> None:
    with (
        FakeGitHub(org, graphql_limit=2) as gh,
        httpx.Client(base_url=gh.base_url, headers=AUTH) as c,
    ):
        q = {"query": "{ rateLimit { cost remaining used } }"}
        assert c.post("/graphql", json=q).json()["data"]["rateLimit"] == {
            "cost": 1,
            "remaining": 1,
            "used": 1,
        }
        c.post("/graphql", json=q)
        r = c.post("/graphql", json=q)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "0"
        err = r.json()["errors"][0]
        assert err["type"] == "RATE_LIMITED" and "rate limit" in err["message"]
        assert gh.counters.graphql_points == 2


# --------------------------------------------------------------------------------------------
# Renames and faults


def test_renamed_repository_answers_301(gh: FakeGitHub, client: httpx.Client, org: Org) -> None:
    repo = org.repo("ops")
    assert repo is not None
    r = client.get("/repos/acme/legacy-ops/commits", params={"per_page": 5})
    assert r.status_code == 301
    assert r.headers["location"] == f"{gh.base_url}/repositories/{repo.id}/commits?per_page=5"
    assert r.json()["message"] == "Moved Permanently"
    followed = client.get("/repos/acme/legacy-ops", follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["name"] == "ops"
    data = gql(client, '{ repository(owner: "acme", name: "legacy-ops") { name } }')
    assert data["repository"] == {"name": "ops"}


def test_faults_fire_the_configured_number_of_times(gh: FakeGitHub, client: httpx.Client) -> None:
    path = f"/repos/{gh.org_data.repos[0].full_name}/commits"
    rule = gh.faults.add(r"/commits$", "http_502", times=2)
    assert [client.get(path).status_code for _ in range(3)] == [502, 502, 200]
    assert rule.fired == 2 and gh.counters.faults["http_502"] == 2
    assert set(client.get(path).json()[0]) >= {"sha", "commit"}

    gh.faults.add(r"/commits", "secondary_rate_limit", retry_after=7)
    r = client.get(path)
    assert r.status_code == 403 and r.headers["retry-after"] == "7"
    assert r.json()["message"].startswith("You have exceeded a secondary rate limit")

    gh.faults.add(r"/commits", "primary_rate_limit", status=429, reset_in=30)
    r = client.get(path)
    assert r.status_code == 429 and r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) > datetime.now(UTC).timestamp()

    gh.faults.add(r"/commits", "malformed_json")
    r = client.get(path)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()

    gh.faults.add(r"/commits", "timeout", hold_s=1.0)
    with pytest.raises(httpx.TimeoutException):
        client.get(path, timeout=0.2)

    gh.faults.add(r"/commits", "disconnect")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(path)

    gh.faults.add(r"^POST /graphql", "primary_rate_limit")
    g = client.post("/graphql", json={"query": "{ rateLimit { remaining } }"})
    assert g.status_code == 200 and g.json()["errors"][0]["type"] == "RATE_LIMITED"
    gh.faults.add(r"/search/issues", "incomplete_results")
    assert client.get("/search/issues", params={"q": "org:acme"}).json()["incomplete_results"]
    assert client.get(path).status_code == 200  # every rule is spent
    assert all(r.exhausted for r in gh.faults.rules)


def test_latency_is_injected(org: Org) -> None:
    with (
        FakeGitHub(org, latency_s=0.05) as gh,
        httpx.Client(base_url=gh.base_url, headers=AUTH) as c,
    ):
        t = datetime.now(UTC)
        for _ in range(3):
            c.get("/rate_limit")
        assert datetime.now(UTC) - t >= timedelta(seconds=0.15)
        assert gh.counters.requests["GET /rate_limit"] == 3


# --------------------------------------------------------------------------------------------
# Teams, CODEOWNERS, pull request files and deployments (issue 20)


def test_existing_data_is_unchanged_by_the_issue_20_additions(org: Org) -> None:
    """Values the default org had before teams/deployments were added (recorded from it)."""
    assert [r.name for r in org.repos][:5] == ["vault", "ops", "design", "portal", "crawler"]
    vault, ops = org.repos[0], org.repos[1]
    assert vault.commits[0].sha == "edcc047310f42b598e243ec621f73706cbaf4af1"
    assert len(vault.commits) == 68 and len(vault.pulls) == 7
    assert [(p.number, p.additions, p.deletions, p.changed_files) for p in ops.pulls[:2]] == [
        (10, 2243, 1431, 16),
        (6, 7, 1, 1),
    ]
    # crawler gets the extra changes: its old commits keep their shas under the new head.
    crawler = org.repos[4]
    assert crawler.commits[1].sha == "fcc7f483e6e033b327896b21b1b434f3b5c288e4"
    assert crawler.commits[0].parents == [crawler.commits[1].sha]
    assert [(p.number, p.additions) for p in crawler.pulls[:3]] == [(5, 80), (6, 149), (9, 93)]
    assert len(crawler.pulls) == 5 and crawler.pulls[-1].title == "Vendor third-party libraries"
    older = [x.number for x in (*crawler.issues, *crawler.pulls[:-1])]
    assert crawler.pulls[-1].number == max(older) + 1  # numbered after every older item


def test_teams_and_their_repositories_paginate_over_graphql(client: httpx.Client, org: Org) -> None:
    query = """query($after: String, $slug: String!, $rAfter: String) {
      organization(login: "acme") {
        teams(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor }
          nodes { slug name } }
        team(slug: $slug) { repositories(first: 2, after: $rAfter) {
          pageInfo { hasNextPage endCursor } edges { permission node { name } } } } } }"""
    teams: list[tuple[str, str]] = []
    after = None
    while True:
        page = gql(client, query, after=after, slug="platform")["organization"]["teams"]
        assert page["totalCount"] == 4
        teams += [(t["slug"], t["name"]) for t in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Ordered by name (the schema's default TeamOrder for Organization.teams is NAME ASC).
    assert teams == [
        ("data-eng", "Data Engineering"),
        ("docs-writers", "Docs Writers"),
        ("platform", "Platform"),
        ("web-frontend", "Web Frontend"),
    ]
    for slug, _ in teams:
        names: list[str] = []
        r_after = None
        pages = 0
        while True:
            data = gql(client, query, slug=slug, rAfter=r_after)["organization"]["team"]
            conn = data["repositories"]
            names += [e["node"]["name"] for e in conn["edges"]]
            assert all(e["permission"] == "WRITE" for e in conn["edges"])
            pages += 1
            if not conn["pageInfo"]["hasNextPage"]:
                break
            r_after = conn["pageInfo"]["endCursor"]
        team = org.team(slug)
        assert team is not None and sorted(names) == sorted(team.repos)
        assert pages == max(1, math.ceil(len(team.repos) / 2))
    platform = org.team("platform")
    assert platform is not None and {r.name for r in org.repos[:5]} <= set(platform.repos)


def _git_blob_oid(text: str) -> str:
    """`git hash-object`, computed by git itself."""
    import subprocess

    out = subprocess.run(
        ["git", "hash-object", "--stdin"], input=text.encode(), capture_output=True, check=True
    )
    return out.stdout.decode().strip()


def test_codeowners_files_come_back_as_blobs(client: httpx.Client, org: Org) -> None:
    query = """query($name: String!) { repository(owner: "acme", name: $name) {
      a: object(expression: "HEAD:.github/CODEOWNERS") { ... on Blob { oid text } }
      b: object(expression: "HEAD:CODEOWNERS") { ... on Blob { oid text } }
      c: object(expression: "HEAD:docs/CODEOWNERS") { ... on Blob { oid text } } } }"""
    found = {}
    for r in org.repos[:5]:
        data = gql(client, query, name=r.name)["repository"]
        found[r.name] = {k: v for k, v in data.items() if v is not None}
        for blob in found[r.name].values():
            assert blob["oid"] == _git_blob_oid(blob["text"])
    assert set(found["vault"]) == {"a"} and set(found["design"]) == {"c"}
    assert set(found["ops"]) == {"b", "c"} and found["portal"] == {}
    # Two files: GitHub searches .github/, then the root, then docs/ and uses the first found.
    ops = org.repo("ops")
    assert ops is not None and org.codeowners_of(ops) == ("CODEOWNERS", found["ops"]["b"]["text"])
    # A blob asked for by its oid (what a client re-checks when the oid has not changed).
    oid = found["vault"]["a"]["oid"]
    again = gql(
        client,
        'query($oid: GitObjectID!) { repository(owner: "acme", name: "vault") {'
        " object(oid: $oid) { ... on Blob { oid } } } }",
        oid=oid,
    )
    assert again["repository"]["object"] == {"oid": oid}


def test_codeowners_last_matching_pattern_wins_hand_worked(org: Org) -> None:
    vault, ops, design, crawler = (org.repo(n) for n in ("vault", "ops", "design", "crawler"))
    assert vault and ops and design and crawler
    # vault: * platform / *.md docs / /web/ web / docs/ docs+alice / src/api.py two / /gen/ none
    assert org.owners_of(vault, "Makefile") == ["@acme/platform"]
    assert org.owners_of(vault, "README.md") == ["@acme/docs-writers"]
    assert org.owners_of(vault, "docs/guide.md") == ["@acme/docs-writers", "@alice-a"]
    assert org.owners_of(vault, "web/index.ts") == ["@acme/web-frontend"]
    assert org.owners_of(vault, "src/api.py") == ["@acme/platform", "@acme/data-eng"]
    assert org.owners_of(vault, "gen/file3.txt") == []  # an entry without owners
    assert org.teams_of_paths(vault, ["gen/file1.txt", "docs/guide.md"]) == {"docs-writers"}
    # ops (root CODEOWNERS, docs/CODEOWNERS ignored): *.py data / src/ platform / web/** web
    assert org.owners_of(ops, "src/app.py") == ["@acme/platform"]
    assert org.owners_of(ops, "tests/test_app.py") == ["@acme/data-eng"]
    assert org.owners_of(ops, "README.md") == []
    assert org.owners_of(ops, "web/a/b.ts") == ["@acme/web-frontend"]
    # design (docs/CODEOWNERS): * web / Makefile platform / docs/* docs (direct children only)
    assert org.owners_of(design, "docs/guide.md") == ["@acme/docs-writers"]
    assert org.owners_of(design, "docs/a/b.md") == ["@acme/web-frontend"]
    assert org.owners_of(design, "src/x/Makefile") == ["@acme/platform"]
    assert org.teams_of_paths(crawler, ["src/models.py", "x.py"]) == {"platform", "data-eng"}


def test_pull_request_files_paginate_and_match_the_totals(client: httpx.Client, org: Org) -> None:
    query = """query($name: String!, $number: Int!, $after: String) {
      repository(owner: "acme", name: $name) { pullRequest(number: $number) {
        additions deletions changedFiles
        files(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
          nodes { path additions deletions changeType } } } } }"""
    big = [p for p in org.pull_requests() if p.changed_files > 100]
    assert [(p.repo, p.changed_files) for p in big] == [("crawler", 150)]
    checked = 0
    for p in [*big, *org.repo("vault").pulls]:  # type: ignore[union-attr]
        files: list[dict[str, Any]] = []
        pages, after = 0, None
        while True:
            pr = gql(client, query, name=p.repo, number=p.number, after=after)["repository"][
                "pullRequest"
            ]
            conn = pr["files"]
            files += conn["nodes"]
            pages += 1
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        assert pages == math.ceil(pr["changedFiles"] / 100)
        assert len(files) == pr["changedFiles"] == conn["totalCount"]
        assert sum(f["additions"] for f in files) == pr["additions"]
        assert sum(f["deletions"] for f in files) == pr["deletions"]
        assert {f["changeType"] for f in files} <= {"ADDED", "MODIFIED", "DELETED"}
        repo = org.repo(p.repo)
        assert repo is not None
        served = org.teams_of_paths(repo, [f["path"] for f in files])
        assert org.teams_of_pull_request(p) == served
        checked += 1
    assert checked == 1 + len(org.repo("vault").pulls)  # type: ignore[union-attr]
    assert org.teams_of_pull_request(big[0]) == {"data-eng"}  # crawler: `*` -> data-eng


def test_deployments_with_statuses_over_graphql(client: httpx.Client, org: Org) -> None:
    query = """query($name: String!, $after: String) { repository(owner: "acme", name: $name) {
      deployments(environments: ["production"], first: 4, after: $after,
                  orderBy: {field: CREATED_AT, direction: ASC}) {
        pageInfo { hasNextPage endCursor }
        nodes { databaseId environment createdAt commitOid commit { oid }
          latestStatus { state createdAt }
          statuses(first: 10) { nodes { state createdAt } } } } } }"""
    served: list[dict[str, Any]] = []
    for r in org.repos:
        after = None
        while True:
            conn = gql(client, query, name=r.name, after=after)["repository"]["deployments"]
            served += conn["nodes"]
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
    far = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    truth = org.deployments_in(*far, environment="production")
    assert sorted(d["databaseId"] for d in served) == sorted(d.id for d in truth)
    assert {d["environment"] for d in served} == {"production"}
    assert all(d["commit"]["oid"] == d["commitOid"] for d in served)
    states = {s["state"] for d in served for s in d["statuses"]["nodes"]}
    # auto_inactive touches non-production environments only (GitHub's REST docs).
    assert states == {"SUCCESS", "FAILURE", "ERROR", "IN_PROGRESS"}
    staging = org.deployments_in(*far, environment="staging")
    assert any(d.latest_status and d.latest_status.state == "inactive" for d in staging)
    for d in staging:  # only successful ones become inactive, at a newer one's success
        if d.latest_status and d.latest_status.state == "inactive":
            assert d.succeeded_at is not None and d.succeeded_at < d.latest_status.created_at
    for d in served:  # latestStatus is the newest of the statuses (listed newest first)
        assert d["latestStatus"] == d["statuses"]["nodes"][0]
    assert len(staging) > len(truth)
    # In the window (a Berlin day): a failed production deployment, then a success (restore).
    start, end = org.window()
    in_window = [d for d in org.deployments_in(start, end) if d.repo == "vault"]
    outcomes = [
        ("failure" if d.failed_at else "success" if d.succeeded_at else "?") for d in in_window
    ]
    assert "failure" in outcomes and "success" in outcomes[outcomes.index("failure") :]
    # A revert of a deployed change, deployed itself.
    crawler = org.repo("crawler")
    assert crawler is not None
    head = crawler.commits[0]
    m = re.fullmatch(r'Revert "(.*)"\n\nThis reverts commit ([0-9a-f]{40})\.', head.message)
    assert m is not None
    deployed = {
        d.sha for d in crawler.deployments if d.environment == "production" and d.succeeded_at
    }
    assert m.group(2) in deployed and head.sha in deployed
