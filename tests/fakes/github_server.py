"""A loopback fake of GitHub's REST and GraphQL APIs over a synthetic organization.

`FakeGitHub(org)` serves `github_org.Org` on 127.0.0.1 (an ephemeral port, stdlib
`ThreadingHTTPServer` in a background thread) in GitHub's own formats, so a client under test
talks real HTTP and tests compare what it collected with the org's ground truth:

    with FakeGitHub(build_org()) as gh:          # or gh = FakeGitHub(org).start(); gh.stop()
        client = MyClient(base_url=gh.base_url, graphql_url=gh.graphql_url, token="t")
        gh.faults.add(r"/commits", "http_502", times=2)
        ...
        gh.counters.requests["GET /repos/{owner}/{repo}/commits"], gh.counters.not_modified

The behaviours below follow GitHub's documentation; each is cited where it is implemented.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import math
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import graphql

from .github_org import (
    Account,
    Comment,
    Commit,
    Deployment,
    DeploymentStatus,
    GitActor,
    Issue,
    Org,
    PullRequest,
    Release,
    Repository,
    Review,
    Tag,
    Team,
    blob_oid,
    iso_offset,
    iso_z,
)

Json = Any
Item = Issue | PullRequest

DOCS = "https://docs.github.com/rest"
# Search results are capped: "the GitHub REST API provides up to 1,000 results for each search"
# (https://docs.github.com/rest/search/search#about-search). GraphQL `search` has the same cap.
SEARCH_CAP = 1000

# --------------------------------------------------------------------------------------------
# The GraphQL schema (GitHub's public SDL, tests/fixtures/github/graphql/schema.graphql)


def schema_path() -> Path:
    """The SDL checked in beside the tests (a copy of ../shared/fixtures/github, MIT)."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "github"
    return fixtures / "graphql" / "schema.graphql"


@functools.cache
def load_schema() -> graphql.GraphQLSchema:
    """Build the 1.2 MB schema once per process (~0.7 s). `assume_valid_sdl`: the published
    SDL defines two `EnterpriseOwnerInfo` fields twice (see the fixture's README)."""
    sdl = schema_path().read_text(encoding="utf-8")
    return graphql.build_ast_schema(graphql.parse(sdl), assume_valid_sdl=True)


# --------------------------------------------------------------------------------------------
# Time parsing


def parse_ts(text: str) -> datetime:
    """ISO-8601 date or date-time; no offset means UTC (GitHub reads `since` that way)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    ts = datetime.fromisoformat(text.replace("z", "Z"))
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def _point(text: str) -> tuple[datetime, datetime]:
    """A search date value as the half-open interval it names: a day, or one second/minute."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        lo = parse_ts(text)
        return lo, lo + timedelta(days=1)
    m = re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?", text)
    if not m:
        raise ValueError(text)
    lo = parse_ts(text)
    return lo, lo + (timedelta(seconds=1) if m.group(1) else timedelta(minutes=1))


def date_predicate(value: str) -> Callable[[datetime | None], bool]:
    """A search date qualifier's value (`>=X`, `<X`, `X..Y`, `X..*`, `X`) as a predicate.

    Syntax from "Understanding the search syntax" (https://docs.github.com/search-github/
    getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates):
    dates `YYYY-MM-DD` (a whole UTC day) or date-times with `Z` or a `+HH:MM` offset.
    """
    lo: datetime | None
    hi: datetime | None  # the matching instants are [lo, hi), None = unbounded
    op = next((o for o in (">=", "<=", ">", "<") if value.startswith(o)), None)
    if op is not None:
        a, b = _point(value[len(op) :])
        lo, hi = {">=": (a, None), ">": (b, None), "<=": (None, b), "<": (None, a)}[op]
    elif ".." in value:
        first, last = value.split("..", 1)
        lo = _point(first)[0] if first != "*" else None
        hi = _point(last)[1] if last != "*" else None
    else:
        lo, hi = _point(value)
    return lambda t: t is not None and (lo is None or t >= lo) and (hi is None or t < hi)


# --------------------------------------------------------------------------------------------
# Search (REST /search/issues and GraphQL `search(type: ISSUE)` share it)


class SearchError(ValueError):
    """A query GitHub would answer with 422 Validation Failed."""


@dataclass
class SearchQuery:
    scope_orgs: list[str] = field(default_factory=list)
    scope_repos: list[str] = field(default_factory=list)
    preds: list[Callable[[Repository, Item], bool]] = field(default_factory=list)
    sort: tuple[str, str] | None = None


def _tokens(q: str) -> list[str]:
    return [a or b for a, b in re.findall(r'(\S*"[^"]*"\S*)|(\S+)', q)]


def parse_search(q: str) -> SearchQuery:
    """Parse the issue-search qualifiers this fake supports (others are matched as text)."""
    sq = SearchQuery()
    date_fields = {
        "created": lambda i: i.created_at,
        "updated": lambda i: i.updated_at,
        "closed": lambda i: i.closed_at,
        "merged": lambda i: i.merged_at if isinstance(i, PullRequest) else None,
    }
    for raw in _tokens(q):
        neg = raw.startswith("-") and ":" in raw
        tok = raw[1:] if neg else raw
        key, _, value = tok.partition(":")
        key, value = key.lower(), value.strip('"')
        pred: Callable[[Repository, Item], bool] | None = None
        if key in ("org", "user") and value and not neg:
            sq.scope_orgs.append(value.lower())
            continue
        if key == "repo" and "/" in value and not neg:
            sq.scope_repos.append(value.lower())
            continue
        if key == "repo" and "/" in value:
            # "-QUALIFIER excludes all results that are matched by that qualifier" (search
            # syntax page): `-repo:o/r` drops that repository from the scope.
            full = value.lower()
            pred = lambda r, i, f=full: r.full_name.lower() != f  # noqa: E731
            sq.preds.append(pred)
            continue
        if key in ("is", "type", "state"):
            v = value.lower()
            pred = {
                "pr": lambda r, i: isinstance(i, PullRequest),
                "pull-request": lambda r, i: isinstance(i, PullRequest),
                "issue": lambda r, i: isinstance(i, Issue),
                "open": lambda r, i: i.state == "open",
                "closed": lambda r, i: i.state == "closed",
                "merged": lambda r, i: isinstance(i, PullRequest) and i.merged,
                "unmerged": lambda r, i: isinstance(i, PullRequest) and not i.merged,
                "draft": lambda r, i: isinstance(i, PullRequest) and i.draft,
                "public": lambda r, i: r.visibility == "public",
                "private": lambda r, i: r.visibility != "public",
                "archived": lambda r, i: r.archived,
            }.get(v)
            if pred is None:
                raise SearchError(f"unsupported qualifier {tok}")
        elif key in date_fields:
            try:
                test = date_predicate(value)
            except ValueError as exc:
                raise SearchError(f"invalid date in {tok}") from exc
            get = date_fields[key]
            pred = lambda r, i, test=test, get=get: test(get(i))  # noqa: E731
        elif key == "author":
            login = value.lower().removeprefix("app/")
            pred = lambda r, i, v=login: i.author.login.lower() in (v, f"{v}[bot]")  # noqa: E731
        elif key == "label":
            names = {n.lower() for n in value.split(",")}
            pred = lambda r, i, n=names: bool(n & {x.lower() for x in i.labels})  # noqa: E731
        elif key == "draft":
            want = value.lower() == "true"
            pred = lambda r, i, w=want: isinstance(i, PullRequest) and i.draft == w  # noqa: E731
        elif key == "archived":
            want = value.lower() == "true"
            pred = lambda r, i, w=want: r.archived == w  # noqa: E731
        elif key == "sort":
            fld, _, order = value.partition("-")
            sq.sort = (fld.lower(), order.lower() or "desc")
            continue
        elif key == "in":
            continue
        else:  # a keyword: every word must appear in the title or the body
            word = tok.strip('"').lower()
            pred = lambda r, i, w=word: w in f"{i.title}\n{i.body}".lower()  # noqa: E731
        if neg:
            pred = lambda r, i, p=pred: not p(r, i)  # noqa: E731
        sq.preds.append(pred)
    return sq


def run_search(
    orgs: Sequence[Org],
    q: str,
    *,
    sort: str | None = None,
    order: str = "desc",
    public_only: bool = False,
) -> list[tuple[Repository, Item]]:
    """All matches (uncapped), sorted. "Best match" (no sort) is: most recently updated first."""
    sq = parse_search(q)
    by_login = {o.login.lower(): o for o in orgs}
    repos: list[Repository] = []
    for login in sq.scope_orgs:
        if login not in by_login:
            raise SearchError(login)
        repos.extend(by_login[login].repos)
    for full in sq.scope_repos:
        owner, _, name = full.partition("/")
        o = by_login.get(owner)
        r = o.repo(name) if o else None
        if r is None or r.name.lower() != name:
            raise SearchError(full)
        repos.append(r)
    if not sq.scope_orgs and not sq.scope_repos:
        repos = [r for o in orgs for r in o.repos]
    seen: set[int] = set()
    hits: list[tuple[Repository, Item]] = []
    for r in repos:
        if r.id in seen or (public_only and r.private):
            continue
        seen.add(r.id)
        for item in [*r.issues, *r.pulls]:
            if all(p(r, item) for p in sq.preds):
                hits.append((r, item))
    fld, order = sq.sort if sq.sort else (sort or "best", order)
    keys: dict[str, Callable[[tuple[Repository, Item]], Any]] = {
        "created": lambda h: h[1].created_at,
        "updated": lambda h: h[1].updated_at,
        "comments": lambda h: len(h[1].comments),
    }
    key = keys.get(fld, keys["updated"])
    hits.sort(key=lambda h: (key(h), h[0].id, h[1].number), reverse=order != "asc")
    return hits


# --------------------------------------------------------------------------------------------
# Rate-limit budgets, faults, counters


@dataclass
class Budget:
    """One primary rate-limit bucket (`x-ratelimit-resource`)."""

    resource: str
    limit: int
    window_s: int
    used: int = 0
    reset: int = 0

    def roll(self, now: float) -> None:
        if now >= self.reset:
            self.used, self.reset = 0, int(now) + self.window_s

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": self.resource,
        }


FAULT_KINDS = (
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "secondary_rate_limit",
    "primary_rate_limit",
    "timeout",
    "malformed_json",
    "disconnect",
    "incomplete_results",
    "graphql_timeout",
    "delete_repository",
)
# GitHub's in-band GraphQL timeout: HTTP 200, `"data": null`, this message with the request's
# id (recorded in gitkraken/vscode-gitlens#3298; orgs/community discussion 24631).
GRAPHQL_TIMEOUT_MESSAGE = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `{request_id}` when reporting this issue."
)


@dataclass
class FaultRule:
    """Answer requests whose `METHOD path?query` matches `pattern` with a fault, `times` times."""

    pattern: re.Pattern[str]
    kind: str
    times: int | None  # None: forever
    params: dict[str, Any]
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


class FaultPlan:
    """Per-test fault injection: `faults.add(r"/commits", "http_502", times=2)`."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, pattern: str, kind: str, times: int | None = 1, **params: Any) -> FaultRule:
        """Kinds: http_500/502/503/504, secondary_rate_limit (retry_after=60, status=403),
        primary_rate_limit (status=403|429, reset_in=60), timeout (hold_s=10: hold the
        connection, then close it unanswered), malformed_json (200, truncated body),
        disconnect (close at once), incomplete_results (search answers incomplete_results),
        graphql_timeout (200, `"data": null` and GitHub's "Something went wrong while executing
        your query…" error), delete_repository (repo="name": the repository is deleted from
        its org, then the request is answered as usual, e.g. NOT_FOUND between two pages).
        The pattern is searched in "GET /path?query" (re.search); `body=` (a regex) must also
        be found in the request body, e.g. `body=r'"after": *"'` for a GraphQL page after the
        first one."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        rule = FaultRule(re.compile(pattern), kind, times, params)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(
        self, target: str, kinds: Iterable[str] | None = None, body: bytes = b""
    ) -> FaultRule | None:
        """The first live rule matching the request (and counts it as fired)."""
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or (kinds is not None and rule.kind not in kinds):
                    continue
                wanted = rule.params.get("body")
                if wanted and not re.search(wanted, body.decode("utf-8", "replace")):
                    continue
                if rule.pattern.search(target):
                    rule.fired += 1
                    return rule
        return None

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)


@dataclass
class RequestRecord:
    method: str
    target: str
    template: str
    status: int
    authenticated: bool


class Counters:
    """What the server saw: requests by route template, 304s, GraphQL points, statuses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()  # "GET /repos/{owner}/{repo}/commits"
            self.statuses: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.not_modified = 0
            self.graphql_points = 0
            self.graphql_queries = 0
            self.log: list[RequestRecord] = []

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.requests[rec.template] += 1
            self.statuses[rec.status] += 1
            if rec.status == 304:
                self.not_modified += 1
            self.log.append(rec)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
                "statuses": dict(self.statuses),
                "faults": dict(self.faults),
                "not_modified": self.not_modified,
                "graphql_points": self.graphql_points,
                "graphql_queries": self.graphql_queries,
            }


# --------------------------------------------------------------------------------------------
# REST bodies: the keys and nesting of the OpenAPI examples
# (tests/fixtures/github/openapi-examples) and the octokit recordings.


def _label_id(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)


class RestBodies:
    """Serializers for one base URL (API URLs in bodies point back at the fake)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def user(self, acc: Account | None) -> Json:
        if acc is None:
            return None
        api = f"{self.base}/users/{quote(acc.login, safe='')}"
        html = (
            f"https://github.com/apps/{acc.graphql_login}"
            if acc.is_bot
            else f"https://github.com/{acc.login}"
        )
        return {
            "login": acc.login,
            "id": acc.id,
            "node_id": acc.node_id,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{acc.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": html,
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": acc.type,
            "site_admin": False,
        }

    def repo(self, r: Repository, org: Org, *, full: bool = False) -> Json:
        """`minimal-repository` (org listing) or, with full=True, `full-repository`."""
        api = f"{self.base}/repos/{r.full_name}"
        html = r.html_url
        open_issues = sum(1 for i in [*r.issues, *r.pulls] if i.state == "open")
        body: dict[str, Json] = {
            "id": r.id,
            "node_id": r.node_id,
            "name": r.name,
            "full_name": r.full_name,
            "owner": self.user(org.account),
            "private": r.private,
            "html_url": html,
            "description": r.description,
            "fork": r.fork,
            "url": api,
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{api}/assignees{{/user}}",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "comments_url": f"{api}/comments{{/number}}",
            "commits_url": f"{api}/commits{{/sha}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments",
            "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events",
            "forks_url": f"{api}/forks",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{r.full_name}.git",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "keys_url": f"{api}/keys{{/key_id}}",
            "labels_url": f"{api}/labels{{/name}}",
            "languages_url": f"{api}/languages",
            "merges_url": f"{api}/merges",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "releases_url": f"{api}/releases{{/id}}",
            "ssh_url": f"git@github.com:{r.full_name}.git",
            "stargazers_url": f"{api}/stargazers",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "tags_url": f"{api}/tags",
            "teams_url": f"{api}/teams",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "clone_url": f"{html}.git",
            "mirror_url": None,
            "hooks_url": f"{api}/hooks",
            "svn_url": html,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "stargazers_count": r.id % 50,
            "watchers_count": r.id % 50,
            "size": 10 * len(r.commits),
            "default_branch": r.default_branch,
            "open_issues_count": open_issues,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": r.archived,
            "disabled": False,
            "visibility": r.visibility,
            "pushed_at": iso_z(r.pushed_at),
            "created_at": iso_z(r.created_at),
            "updated_at": iso_z(r.updated_at),
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
            "security_and_analysis": {
                k: {"status": "disabled"}
                for k in (
                    "advanced_security",
                    "secret_scanning",
                    "secret_scanning_push_protection",
                    "secret_scanning_non_provider_patterns",
                    "secret_scanning_delegated_alert_dismissal",
                )
            },
        }
        if full:
            body.update(
                {
                    "allow_rebase_merge": True,
                    "template_repository": None,
                    "temp_clone_token": "",
                    "allow_squash_merge": True,
                    "allow_auto_merge": False,
                    "delete_branch_on_merge": True,
                    "allow_merge_commit": True,
                    "allow_update_branch": False,
                    "use_squash_pr_title_as_default": False,
                    "allow_forking": True,
                    "web_commit_signoff_required": False,
                    "subscribers_count": 3,
                    "network_count": 0,
                    "license": None
                    if r.private
                    else {
                        "key": "mit",
                        "name": "MIT License",
                        "url": f"{self.base}/licenses/mit",
                        "spdx_id": "MIT",
                        "node_id": "MDc6TGljZW5zZW1pdA==",
                        "html_url": "https://github.com/licenses/mit",
                    },
                    "forks": 0,
                    "open_issues": open_issues,
                    "watchers": r.id % 50,
                    "organization": self.user(org.account),
                }
            )
        return body

    def label(self, r: Repository, name: str) -> Json:
        return {
            "id": _label_id(name),
            "node_id": f"LA_{_label_id(name)}",
            "url": f"{self.base}/repos/{r.full_name}/labels/{quote(name)}",
            "name": name,
            "description": None,
            "color": hashlib.sha1(name.encode()).hexdigest()[:6],
            "default": name in ("bug", "enhancement", "documentation"),
        }

    def commit(self, r: Repository, c: Commit, *, full: bool = False) -> Json:
        api = f"{self.base}/repos/{r.full_name}"
        body: dict[str, Json] = {
            "url": f"{api}/commits/{c.sha}",
            "sha": c.sha,
            "node_id": _node("Commit", c.sha),
            "html_url": f"{r.html_url}/commit/{c.sha}",
            "comments_url": f"{api}/commits/{c.sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{c.sha}",
                # REST renders git dates in UTC (the example's "2011-04-14T16:00:49Z").
                "author": _git_actor_rest(c.author),
                "committer": _git_actor_rest(c.committer),
                "message": c.message,
                "tree": {"url": f"{api}/git/trees/{_tree(c)}", "sha": _tree(c)},
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            # author/committer: the GitHub accounts the e-mails link to, null when none.
            "author": self.user(c.author.account),
            "committer": self.user(c.committer.account),
            "parents": [
                {"url": f"{api}/commits/{p}", "sha": p, "html_url": f"{r.html_url}/commit/{p}"}
                for p in c.parents
            ],
        }
        if full:
            body["stats"] = {
                "additions": c.additions,
                "deletions": c.deletions,
                "total": c.additions + c.deletions,
            }
            body["files"] = [
                {
                    "sha": hashlib.sha1(f"{c.sha}{f.filename}".encode()).hexdigest(),
                    "filename": f.filename,
                    "status": f.status,
                    "additions": f.additions,
                    "deletions": f.deletions,
                    "changes": f.additions + f.deletions,
                    "blob_url": f"{r.html_url}/blob/{c.sha}/{f.filename}",
                    "raw_url": f"{r.html_url}/raw/{c.sha}/{f.filename}",
                    "contents_url": f"{api}/contents/{f.filename}?ref={c.sha}",
                    "patch": f"@@ -1,{f.deletions} +1,{f.additions} @@",
                }
                for f in c.files
            ]
        return body

    def _assoc(self, acc: Account) -> str:
        return "NONE" if acc.is_bot else "MEMBER"

    def pull(self, r: Repository, org: Org, pr: PullRequest, *, full: bool = False) -> Json:
        """`pull-request-simple` (list) or `pull-request` (single GET, with full=True)."""
        api = f"{self.base}/repos/{r.full_name}"
        url = f"{api}/pulls/{pr.number}"
        html = f"{r.html_url}/pull/{pr.number}"
        base_sha = r.commits[-1].sha if r.commits else pr.head_sha
        repo_json = self.repo(r, org, full=True)

        def side(ref: str, sha: str) -> Json:
            return {
                "label": f"{org.login}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self.user(org.account),
                "repo": repo_json,
            }

        links = {
            "self": url,
            "html": html,
            "issue": f"{api}/issues/{pr.number}",
            "comments": f"{api}/issues/{pr.number}/comments",
            "review_comments": f"{url}/comments",
            "review_comment": f"{api}/pulls/comments{{/number}}",
            "commits": f"{url}/commits",
            "statuses": f"{api}/statuses/{pr.head_sha}",
        }
        body: dict[str, Json] = {
            "url": url,
            "id": pr.id,
            "node_id": pr.node_id,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pr.number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{pr.head_sha}",
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": self.user(pr.author),
            "body": pr.body or None,
            "labels": [self.label(r, n) for n in pr.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso_z(pr.created_at),
            "updated_at": iso_z(pr.updated_at),
            "closed_at": _z(pr.closed_at),
            "merged_at": _z(pr.merged_at),
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(a) for a in pr.requested_reviewers],
            "requested_teams": [],
            "head": side(pr.head_ref, pr.head_sha),
            "base": side(pr.base_ref, base_sha),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": self._assoc(pr.author),
            "auto_merge": None,
            "draft": pr.draft,
        }
        if full:
            body.update(
                {
                    "merged": pr.merged,
                    "mergeable": None if pr.state == "closed" else True,
                    "rebaseable": None,
                    "mergeable_state": "unknown",
                    "merged_by": self.user(pr.merged_by),
                    "comments": len(pr.comments),
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": pr.commits,
                    "additions": pr.additions,
                    "deletions": pr.deletions,
                    "changed_files": pr.changed_files,
                }
            )
        return body

    def issue(self, r: Repository, item: Item) -> Json:
        """`issue`: issues and pull requests alike; PRs carry a `pull_request` object."""
        api = f"{self.base}/repos/{r.full_name}"
        url = f"{api}/issues/{item.number}"
        is_pr = isinstance(item, PullRequest)
        html = f"{r.html_url}/{'pull' if is_pr else 'issues'}/{item.number}"
        closed_by = (item.merged_by if is_pr else item.closed_by) if item.closed_at else None
        body: dict[str, Json] = {
            "id": item.id,
            "node_id": item.node_id,
            "url": url,
            "repository_url": api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": html,
            "number": item.number,
            "state": item.state,
            "title": item.title,
            "body": item.body or None,
            "user": self.user(item.author),
            "pinned_comment": None,
            "labels": [self.label(r, n) for n in item.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(item.comments),
            "closed_at": _z(item.closed_at),
            "created_at": iso_z(item.created_at),
            "updated_at": iso_z(item.updated_at),
            "closed_by": self.user(closed_by),
            "author_association": self._assoc(item.author),
            "state_reason": None if is_pr else item.state_reason,
            "reactions": {
                "url": f"{url}/reactions",
                "total_count": 0,
                "+1": 0,
                "-1": 0,
                "laugh": 0,
                "hooray": 0,
                "confused": 0,
                "heart": 0,
                "rocket": 0,
                "eyes": 0,
            },
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
        }
        if is_pr:
            body["draft"] = item.draft
            body["pull_request"] = {
                "url": f"{api}/pulls/{item.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": _z(item.merged_at),
            }
        return body

    def comment(self, r: Repository, item: Item, c: Comment) -> Json:
        api = f"{self.base}/repos/{r.full_name}"
        kind = "pull" if isinstance(item, PullRequest) else "issues"
        return {
            "id": c.id,
            "node_id": _node("IssueComment", c.id),
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"{r.html_url}/{kind}/{item.number}#issuecomment-{c.id}",
            "body": c.body,
            "user": self.user(c.author),
            "created_at": iso_z(c.created_at),
            "updated_at": iso_z(c.updated_at),
            "issue_url": f"{api}/issues/{item.number}",
            "author_association": self._assoc(c.author),
            "performed_via_github_app": None,
            "minimized": None,
        }

    def review(self, r: Repository, pr: PullRequest, rv: Review) -> Json:
        html = f"{r.html_url}/pull/{pr.number}#pullrequestreview-{rv.id}"
        pr_url = f"{self.base}/repos/{r.full_name}/pulls/{pr.number}"
        return {
            "id": rv.id,
            "node_id": _node("PullRequestReview", rv.id),
            "user": self.user(rv.author),
            "body": rv.body,
            "state": rv.state,
            "html_url": html,
            "pull_request_url": pr_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
            "submitted_at": iso_z(rv.submitted_at),
            "commit_id": rv.commit_id,
            "author_association": self._assoc(rv.author),
        }

    def release(self, r: Repository, rel: Release) -> Json:
        api = f"{self.base}/repos/{r.full_name}"
        return {
            "url": f"{api}/releases/{rel.id}",
            "html_url": f"{r.html_url}/releases/tag/{rel.tag_name}",
            "assets_url": f"{api}/releases/{rel.id}/assets",
            "upload_url": f"https://uploads.github.com/repos/{r.full_name}/releases/{rel.id}"
            "/assets{?name,label}",
            "tarball_url": f"{api}/tarball/{rel.tag_name}",
            "zipball_url": f"{api}/zipball/{rel.tag_name}",
            "id": rel.id,
            "node_id": rel.node_id,
            "tag_name": rel.tag_name,
            "target_commitish": rel.target_commitish,
            "name": rel.name,
            "body": rel.body,
            "draft": rel.draft,
            "prerelease": rel.prerelease,
            "immutable": False,
            "created_at": iso_z(rel.created_at),
            "updated_at": iso_z(rel.published_at or rel.created_at),
            "published_at": _z(rel.published_at),
            "author": self.user(rel.author),
            "assets": [],
        }

    def tag(self, r: Repository, t: Tag) -> Json:
        api = f"{self.base}/repos/{r.full_name}"
        return {
            "name": t.name,
            "commit": {"sha": t.sha, "url": f"{api}/commits/{t.sha}"},
            "zipball_url": f"{api}/zipball/refs/tags/{t.name}",
            "tarball_url": f"{api}/tarball/refs/tags/{t.name}",
            "node_id": _node("Ref", f"{r.id}:{t.name}"),
        }


def _z(ts: datetime | None) -> str | None:
    return iso_z(ts) if ts is not None else None


def _node(type_name: str, key: object) -> str:
    return base64.b64encode(f"0{len(type_name)}:{type_name}{key}".encode()).decode()


def _tree(c: Commit) -> str:
    return hashlib.sha1(f"tree{c.sha}".encode()).hexdigest()


def _git_actor_rest(a: GitActor) -> Json:
    return {"name": a.name, "email": a.email, "date": iso_z(a.date)}


# --------------------------------------------------------------------------------------------
# GraphQL: cost, cursors, views (dicts whose callables graphql-core's default resolver calls
# with `(info, **args)`; abstract types resolve through the `__typename` key).


class GqlError(Exception):
    """An error GitHub reports with a top-level `type` (NOT_FOUND, INVALID_CURSOR_ARGUMENTS)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_


@dataclass
class QueryCost:
    requests: int = 0
    nodes: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def points(self) -> int:
        """GitHub's documented estimate: "Add up the number of requests needed to fulfill each
        unique connection in the call. Assume every request will reach the first or last
        argument limits. Divide the number by 100 and round the result to the nearest whole
        number ... The minimum point value of a call to the GraphQL API is 1."
        (https://docs.github.com/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
        #predicting-the-point-value-of-a-query)"""
        return max(1, math.floor(self.requests / 100 + 0.5))


def query_cost(
    schema: graphql.GraphQLSchema,
    doc: graphql.DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
) -> QueryCost:
    """Requests per connection (the product of the enclosing connections' first/last), node
    count, and GitHub's node-limit checks: "Clients must supply a `first` or `last` argument on
    any connection. Values of `first` and `last` must be within 1-100. Individual calls cannot
    request more than 500,000 total nodes." (same page, #node-limit)."""
    cost = QueryCost()
    fragments = {
        d.name.value: d for d in doc.definitions if isinstance(d, graphql.FragmentDefinitionNode)
    }
    ops = [d for d in doc.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    op = next(
        (o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)),
        None,
    )
    if op is None:
        return cost
    root = schema.get_root_type(op.operation)

    def arg(node: graphql.FieldNode, name: str) -> Any:
        for a in node.arguments or ():
            if a.name.value == name:
                return graphql.value_from_ast_untyped(a.value, variables)
        return None

    def walk(sel_set: graphql.SelectionSetNode, parent: Any, mult: int, depth: int) -> None:
        if depth > 30:
            return
        for sel in sel_set.selections:
            if isinstance(sel, graphql.FieldNode):
                name = sel.name.value
                fields = getattr(parent, "fields", None)
                if name.startswith("__") or not fields or name not in fields:
                    continue
                ftype = graphql.get_named_type(fields[name].type)
                child = mult
                if ftype.name.endswith("Connection"):
                    n = arg(sel, "first")
                    n = arg(sel, "last") if n is None else n
                    selected = {
                        s.name.value
                        for s in (sel.selection_set.selections if sel.selection_set else ())
                        if isinstance(s, graphql.FieldNode)
                    }
                    where = (sel.alias or sel.name).value
                    if n is None and selected & {"nodes", "edges"}:
                        cost.errors.append(
                            {
                                "type": "MISSING_PAGINATION_BOUNDARIES",
                                "path": [where],
                                "message": _MISSING_BOUNDS.format(name=name),
                            }
                        )
                    elif isinstance(n, int) and not 0 <= n <= 100:
                        which = "first" if arg(sel, "first") is not None else "last"
                        cost.errors.append(
                            {
                                "type": "EXCESSIVE_PAGINATION",
                                "path": [where],
                                "message": f"Requesting {n} records on the `{name}` connection "
                                f"exceeds the `{which}` limit of 100 records.",
                            }
                        )
                    cost.requests += mult
                    child = mult * (n if isinstance(n, int) and n > 0 else 1)
                    cost.nodes += child
                if sel.selection_set:
                    walk(sel.selection_set, ftype, child, depth + 1)
            elif isinstance(sel, graphql.InlineFragmentNode):
                t = schema.get_type(sel.type_condition.name.value) if sel.type_condition else None
                walk(sel.selection_set, t or parent, mult, depth + 1)
            elif isinstance(sel, graphql.FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    t = schema.get_type(frag.type_condition.name.value)
                    walk(frag.selection_set, t or parent, mult, depth + 1)

    walk(op.selection_set, root, 1, 0)
    if cost.nodes > 500_000:
        cost.errors.append(
            {
                "type": "MAX_NODE_LIMIT_EXCEEDED",
                "message": f"This query requests up to {cost.nodes:,} possible "
                "nodes which exceeds the maximum limit of 500,000.",
            }
        )
    return cost


_MISSING_BOUNDS = (
    "You must provide a `first` or `last` value to properly paginate the `{name}` connection."
)
_SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID "
    "0000:00000:0000000:0000000:00000000."
)


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:v2:{i}".encode()).decode()


def _uncursor(c: str) -> int:
    try:
        text = base64.b64decode(c.encode(), validate=True).decode()
        if text.startswith("cursor:v2:"):
            return int(text.removeprefix("cursor:v2:"))
    except (ValueError, UnicodeDecodeError):
        pass
    raise GqlError("INVALID_CURSOR_ARGUMENTS", f"`{c}` does not appear to be a valid cursor.")


def connection(
    items: Sequence[Any], args: dict[str, Any], view: Callable[[Any], Json], **extra: Json
) -> Json:
    """A Relay connection over `items` with opaque base64 index cursors."""
    start, stop = 0, len(items)
    if args.get("after"):
        start = min(_uncursor(args["after"]) + 1, len(items))
    if args.get("before"):
        stop = max(min(_uncursor(args["before"]), len(items)), start)
    lo, hi = start, stop
    if args.get("first") is not None:
        hi = min(hi, lo + max(args["first"], 0))
    if args.get("last") is not None:
        lo = max(lo, hi - max(args["last"], 0))
    idx = range(lo, hi)
    out = {
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": hi < stop if args.get("first") is not None else stop < len(items),
            "hasPreviousPage": lo > start if args.get("last") is not None else start > 0,
            "startCursor": _cursor(idx[0]) if idx else None,
            "endCursor": _cursor(idx[-1]) if idx else None,
        },
        "nodes": lambda info: [view(items[i]) for i in idx],
        "edges": lambda info: [{"cursor": _cursor(i), "node": view(items[i])} for i in idx],
    }
    out.update(extra)
    return out


_PR_STATES = {"OPEN", "CLOSED", "MERGED"}
_TIMELINE = {
    "READY_FOR_REVIEW_EVENT": "ReadyForReviewEvent",
    "ISSUE_COMMENT": "IssueComment",
    "PULL_REQUEST_REVIEW": "PullRequestReview",
    "MERGED_EVENT": "MergedEvent",
    "CLOSED_EVENT": "ClosedEvent",
}


class GqlViews:
    """Builds the resolver dicts for one request."""

    def __init__(self, fake: FakeGitHub, viewer: Account) -> None:
        self.fake = fake
        self.viewer = viewer

    # -- roots ----------------------------------------------------------------------------

    def root(self, rate: Callable[[], Json]) -> Json:
        return {
            "rateLimit": lambda info, dryRun=False: rate(),
            "viewer": self.actor(self.viewer),
            "organization": self._organization,
            "repository": self._repository,
            "search": self._search,
        }

    def _organization(self, info: Any, login: str) -> Json:
        org = self.fake.org(login)
        if org is None:
            raise GqlError(
                "NOT_FOUND", f"Could not resolve to an Organization with the login of '{login}'."
            )
        return self.organization(org)

    def _repository(self, info: Any, owner: str, name: str, followRenames: bool = True) -> Json:
        org = self.fake.org(owner)
        repo = org.repo(name) if org else None
        if repo is not None and repo.name.lower() != name.lower() and not followRenames:
            repo = None
        if org is None or repo is None:
            raise GqlError(
                "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return self.repository(org, repo)

    def _search(self, info: Any, query: str, type: str, **args: Any) -> Json:
        hits: list[tuple[Repository, Item]] = []
        if type == "ISSUE":
            try:
                hits = run_search(self.fake.orgs, query)
            except SearchError:
                hits = []
        total = len(hits)
        capped = hits[:SEARCH_CAP]

        def view(h: tuple[Repository, Item]) -> Json:
            org = self.fake.org_of(h[0])
            return (
                self.pull(org, h[0], h[1])
                if isinstance(h[1], PullRequest)
                else self.issue(org, h[0], h[1])
            )

        conn = connection(
            capped,
            args,
            view,
            issueCount=total,
            codeCount=0,
            discussionCount=0,
            repositoryCount=0,
            userCount=0,
            wikiCount=0,
        )
        conn["totalCount"] = total
        return conn

    # -- objects --------------------------------------------------------------------------

    def actor(self, acc: Account | None) -> Json:
        if acc is None:
            return None
        url = (
            f"https://github.com/apps/{acc.graphql_login}"
            if acc.is_bot
            else f"https://github.com/{acc.login}"
        )
        return {
            "__typename": "Bot"
            if acc.is_bot
            else "Organization"
            if acc.type == "Organization"
            else "User",
            "id": acc.node_id,
            "databaseId": acc.id,
            # Bots' GraphQL login has no "[bot]" suffix (REST: "dependabot[bot]").
            "login": acc.graphql_login,
            "name": acc.name,
            "url": url,
            "resourcePath": urlsplit(url).path,
            "avatarUrl": lambda info, size=None: (
                f"https://avatars.githubusercontent.com/u/{acc.id}"
            ),
        }

    def user(self, acc: Account | None) -> Json:
        """`GitActor.user` is a `User`: bots (and unlinked e-mails) give null."""
        return None if acc is None or acc.is_bot else self.actor(acc)

    def organization(self, org: Org) -> Json:
        view = self.actor(org.account)

        def repositories(info: Any, **a: Any) -> Json:
            repos = list(org.repos)
            if a.get("isFork") is not None:
                repos = [r for r in repos if r.fork == a["isFork"]]
            if a.get("isArchived") is not None:
                repos = [r for r in repos if r.archived == a["isArchived"]]
            if a.get("privacy") is not None:
                repos = [r for r in repos if r.private == (a["privacy"] == "PRIVATE")]
            if a.get("visibility") is not None:
                repos = [r for r in repos if r.visibility.upper() == a["visibility"]]
            order = a.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
            key = {
                "CREATED_AT": lambda r: r.created_at,
                "UPDATED_AT": lambda r: r.updated_at,
                "PUSHED_AT": lambda r: r.pushed_at,
                "NAME": lambda r: r.name.lower(),
                "STARGAZERS": lambda r: r.id % 50,
            }[order["field"]]
            repos.sort(key=lambda r: (key(r), r.id), reverse=order["direction"] == "DESC")
            return connection(repos, a, lambda r: self.repository(org, r), totalDiskUsage=0)

        def teams(info: Any, **a: Any) -> Json:
            found = list(org.teams)
            if a.get("query"):
                q = a["query"].lower()
                found = [t for t in found if q in t.name.lower() or q in t.slug]
            order = a.get("orderBy") or {"field": "NAME", "direction": "ASC"}
            found.sort(key=lambda t: t.name.lower(), reverse=order["direction"] == "DESC")
            return connection(found, a, lambda t: self.team(org, t))

        view["repositories"] = repositories
        view["teams"] = teams
        view["team"] = lambda info, slug: (
            self.team(org, t) if (t := org.team(slug)) is not None else None
        )
        view["__typename"] = "Organization"
        return view

    def team(self, org: Org, t: Team) -> Json:
        def repositories(info: Any, **a: Any) -> Json:
            found = [r for n in t.repos if (r := org.repo(n)) is not None]
            if a.get("query"):
                found = [r for r in found if a["query"].lower() in r.name.lower()]
            order = a.get("orderBy") or {"field": "NAME", "direction": "ASC"}
            key = {
                "CREATED_AT": lambda r: r.created_at,
                "UPDATED_AT": lambda r: r.updated_at,
                "PUSHED_AT": lambda r: r.pushed_at,
                "NAME": lambda r: r.name.lower(),
            }.get(order["field"], lambda r: r.name.lower())
            found.sort(key=lambda r: (key(r), r.id), reverse=order["direction"] == "DESC")
            conn = connection(found, a, lambda r: self.repository(org, r))
            edges = conn["edges"]
            conn["edges"] = lambda info: [{**e, "permission": "WRITE"} for e in edges(info)]
            return conn

        return {
            "__typename": "Team",
            "id": t.node_id,
            "databaseId": t.id,
            "slug": t.slug,
            "name": t.name,
            "combinedSlug": f"{org.login}/{t.slug}",
            "privacy": "VISIBLE",
            "url": f"https://github.com/orgs/{org.login}/teams/{t.slug}",
            "organization": lambda info: self.organization(org),
            "repositories": repositories,
        }

    def repository(self, org: Org, r: Repository) -> Json:
        def ref_for_branch() -> Json:
            if not r.commits:
                return None  # an empty repository has no default branch ref
            return self.ref(org, r, r.default_branch, "refs/heads/", r.commits[0])

        def pull_requests(info: Any, **a: Any) -> Json:
            pulls = list(r.pulls)
            if a.get("states"):
                pulls = [p for p in pulls if _pr_state(p) in a["states"]]
            if a.get("labels"):
                pulls = [p for p in pulls if set(a["labels"]) & set(p.labels)]
            if a.get("baseRefName"):
                pulls = [p for p in pulls if p.base_ref == a["baseRefName"]]
            if a.get("headRefName"):
                pulls = [p for p in pulls if p.head_ref == a["headRefName"]]
            return connection(
                _order_items(pulls, a.get("orderBy")), a, lambda p: self.pull(org, r, p)
            )

        def issues(info: Any, **a: Any) -> Json:
            items = list(r.issues)
            states = a.get("states") or (a.get("filterBy") or {}).get("states")
            if states:
                items = [i for i in items if i.state.upper() in states]
            flt = a.get("filterBy") or {}
            if flt.get("since"):  # "issues ... updated after" the date-time
                since = parse_ts(flt["since"])
                items = [i for i in items if i.updated_at >= since]
            labels = a.get("labels") or flt.get("labels")
            if labels:
                items = [i for i in items if set(labels) & set(i.labels)]
            return connection(
                _order_items(items, a.get("orderBy")), a, lambda i: self.issue(org, r, i)
            )

        def releases(info: Any, **a: Any) -> Json:
            order = a.get("orderBy") or {"field": "CREATED_AT", "direction": "DESC"}
            key = (
                (lambda x: x.name.lower()) if order["field"] == "NAME" else (lambda x: x.created_at)
            )
            rels = sorted(
                r.releases, key=lambda x: (key(x), x.id), reverse=order["direction"] == "DESC"
            )
            return connection(rels, a, lambda x: self.release(org, r, x))

        def refs(info: Any, refPrefix: str, **a: Any) -> Json:
            by_sha = {c.sha: c for c in r.commits}
            found: list[tuple[str, Commit]] = []
            if refPrefix == "refs/tags/":
                found = [(t.name, by_sha[t.sha]) for t in r.tags if t.sha in by_sha]
            elif refPrefix == "refs/heads/" and r.commits:
                found = [(r.default_branch, r.commits[0])]
            if a.get("query"):
                found = [f for f in found if a["query"] in f[0]]
            order = a.get("orderBy") or {"field": "ALPHABETICAL", "direction": "ASC"}
            key = (
                (lambda f: f[1].committed_at)
                if order["field"] == "TAG_COMMIT_DATE"
                else (lambda f: f[0])
            )
            found.sort(key=key, reverse=order["direction"] == "DESC")
            return connection(found, a, lambda f: self.ref(org, r, f[0], refPrefix, f[1]))

        def ref(info: Any, qualifiedName: str) -> Json:
            name = qualifiedName.removeprefix("refs/heads/").removeprefix("refs/tags/")
            if name == r.default_branch and r.commits:
                return ref_for_branch()
            for t in r.tags:
                if t.name == name:
                    c = r.commit(t.sha)
                    return self.ref(org, r, t.name, "refs/tags/", c) if c else None
            return None

        def obj(info: Any, expression: str | None = None, oid: str | None = None) -> Json:
            # "<rev>:<path>" names a file in a commit's tree (git rev-parse syntax). Only the
            # CODEOWNERS files exist as blobs, the same in every commit.
            rev, sep, path = (expression or "").partition(":")
            if oid:
                texts = [t for t in r.codeowners.values() if blob_oid(t) == oid]
                if texts:
                    return self.blob(org, r, texts[0])
            if sep:
                c = r.commits[0] if rev in ("HEAD", "") and r.commits else r.commit(rev)
                if c is None or path not in r.codeowners:
                    return None
                return self.blob(org, r, r.codeowners[path])
            c = r.commit(oid or expression or "")
            return self.commit(org, r, c) if c else None

        def deployments(info: Any, **a: Any) -> Json:
            found = list(r.deployments)
            if a.get("environments"):
                found = [d for d in found if d.environment in a["environments"]]
            order = a.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
            found.sort(key=lambda d: (d.created_at, d.id), reverse=order["direction"] == "DESC")
            return connection(found, a, lambda d: self.deployment(org, r, d))

        return {
            "__typename": "Repository",
            "id": r.node_id,
            "databaseId": r.id,
            "name": r.name,
            "nameWithOwner": r.full_name,
            "url": r.html_url,
            "pushedAt": iso_z(r.pushed_at),
            "createdAt": iso_z(r.created_at),
            "updatedAt": iso_z(r.updated_at),
            "isArchived": r.archived,
            "isFork": r.fork,
            "isPrivate": r.private,
            "isEmpty": not r.commits,
            "visibility": r.visibility.upper(),
            "description": r.description,
            "owner": self.organization(org),
            "defaultBranchRef": lambda info: ref_for_branch(),
            "pullRequests": pull_requests,
            "issues": issues,
            "releases": releases,
            "refs": refs,
            "ref": ref,
            "object": obj,
            "deployments": deployments,
            "pullRequest": lambda info, number: next(
                (self.pull(org, r, p) for p in r.pulls if p.number == number), None
            ),
        }

    def blob(self, org: Org, r: Repository, text: str) -> Json:
        oid = blob_oid(text)
        return {
            "__typename": "Blob",
            "id": _node("Blob", oid),
            "oid": oid,
            "abbreviatedOid": oid[:7],
            "byteSize": len(text.encode()),
            "isBinary": False,
            "isTruncated": False,
            "text": text,
            "repository": lambda info: self.repository(org, r),
        }

    def deployment(self, org: Org, r: Repository, d: Deployment) -> Json:
        def status(s: DeploymentStatus) -> Json:
            return {
                "__typename": "DeploymentStatus",
                "id": _node("DeploymentStatus", s.id),
                "state": s.state.upper(),
                "createdAt": iso_z(s.created_at),
                "updatedAt": iso_z(s.created_at),
                "environment": d.environment,
                "description": "",
                "creator": self.actor(d.creator),
                "deployment": lambda info: self.deployment(org, r, d),
            }

        latest = d.latest_status
        commit = r.commit(d.sha)
        return {
            "__typename": "Deployment",
            "id": d.node_id,
            "databaseId": d.id,
            "environment": d.environment,
            "originalEnvironment": d.environment,
            "latestEnvironment": d.environment,
            "createdAt": iso_z(d.created_at),
            "updatedAt": iso_z(latest.created_at if latest else d.created_at),
            "commitOid": d.sha,
            "commit": lambda info: self.commit(org, r, commit) if commit else None,
            "creator": self.actor(d.creator),
            "task": "deploy",
            "description": "",
            "state": latest.state.upper() if latest else "PENDING",
            "latestStatus": status(latest) if latest else None,
            # Newest first, as REST's list of deployment statuses answers.
            "statuses": lambda info, **a: connection(d.statuses[::-1], a, status),
            "repository": lambda info: self.repository(org, r),
        }

    def ref(self, org: Org, r: Repository, name: str, prefix: str, target: Commit) -> Json:
        return {
            "__typename": "Ref",
            "id": _node("Ref", f"{r.id}:{prefix}{name}"),
            "name": name,
            "prefix": prefix,
            "target": lambda info: self.commit(org, r, target),
        }

    def git_actor(self, a: GitActor) -> Json:
        return {
            "name": a.name,
            "email": a.email,
            "date": iso_offset(a.date, a.utc_offset),  # GitTimestamp: "not converted in UTC"
            "user": self.user(a.account),
            "avatarUrl": lambda info, size=None: "https://avatars.githubusercontent.com/u/0",
        }

    def commit(self, org: Org, r: Repository, c: Commit) -> Json:
        def history(info: Any, **a: Any) -> Json:
            # `since`/`until`: the schema says only "Allows specifying a beginning [an ending]
            # time or date for fetching commits" (https://docs.github.com/graphql/reference/
            # objects#commit, field `history`); it does not name the date. Like git's
            # `rev-list --since/--until`, which this field maps onto, the fake filters on the
            # committer date (`committedDate`), both bounds inclusive.
            commits = r.reachable(c.sha)
            if a.get("since"):
                since = parse_ts(a["since"])
                commits = [x for x in commits if x.committed_at >= since]
            if a.get("until"):
                until = parse_ts(a["until"])
                commits = [x for x in commits if x.committed_at <= until]
            if a.get("author") and a["author"].get("emails"):
                emails = {e.lower() for e in a["author"]["emails"]}
                commits = [x for x in commits if x.author.email.lower() in emails]
            return connection(commits, a, lambda x: self.commit(org, r, x))

        def parents(info: Any, **a: Any) -> Json:
            ps = [p for p in (r.commit(s) for s in c.parents) if p is not None]
            return connection(ps, a, lambda x: self.commit(org, r, x))

        url = f"{r.html_url}/commit/{c.sha}"
        return {
            "__typename": "Commit",
            "id": _node("Commit", c.sha),
            "oid": c.sha,
            "abbreviatedOid": c.sha[:7],
            "url": url,
            "commitUrl": url,
            "resourcePath": urlsplit(url).path,
            "commitResourcePath": urlsplit(url).path,
            "committedDate": iso_z(c.committed_at),
            "authoredDate": iso_z(c.authored_at),
            "additions": c.additions,
            "deletions": c.deletions,
            "changedFiles": c.changed_files,
            "changedFilesIfAvailable": c.changed_files,
            "message": c.message,
            "messageHeadline": c.headline,
            "messageBody": c.message.partition("\n")[2].strip(),
            "author": self.git_actor(c.author),
            "committer": self.git_actor(c.committer),
            "authoredByCommitter": c.author.email == c.committer.email,
            "history": history,
            "parents": parents,
            "repository": lambda info: self.repository(org, r),
        }

    def label(self, name: str) -> Json:
        return {
            "__typename": "Label",
            "id": f"LA_{_label_id(name)}",
            "name": name,
            "color": hashlib.sha1(name.encode()).hexdigest()[:6],
        }

    def comment(self, r: Repository, item: Item, c: Comment) -> Json:
        kind = "pull" if isinstance(item, PullRequest) else "issues"
        return {
            "__typename": "IssueComment",
            "id": _node("IssueComment", c.id),
            "databaseId": c.id,
            "author": self.actor(c.author),
            "createdAt": iso_z(c.created_at),
            "updatedAt": iso_z(c.updated_at),
            "body": c.body,
            "url": f"{r.html_url}/{kind}/{item.number}#issuecomment-{c.id}",
        }

    def issue(self, org: Org, r: Repository, i: Issue) -> Json:
        return {
            "__typename": "Issue",
            "id": i.node_id,
            "databaseId": i.id,
            "number": i.number,
            "title": i.title,
            "body": i.body,
            "url": f"{r.html_url}/issues/{i.number}",
            "author": self.actor(i.author),
            "state": i.state.upper(),
            "stateReason": lambda info, enableDuplicate=False: (
                (i.state_reason or "").upper() or None
            ),
            "closed": i.state == "closed",
            "createdAt": iso_z(i.created_at),
            "updatedAt": iso_z(i.updated_at),
            "closedAt": _z(i.closed_at),
            "labels": lambda info, **a: connection(i.labels, a, self.label),
            "comments": lambda info, **a: connection(
                i.comments, a, lambda c: self.comment(r, i, c)
            ),
            "repository": lambda info: self.repository(org, r),
        }

    def pull(self, org: Org, r: Repository, p: PullRequest) -> Json:
        def reviews(info: Any, **a: Any) -> Json:
            rvs = list(p.reviews)
            if a.get("states"):
                rvs = [x for x in rvs if x.state in a["states"]]
            if a.get("author"):
                rvs = [x for x in rvs if x.author.graphql_login == a["author"]]
            return connection(
                rvs,
                a,
                lambda x: {
                    "__typename": "PullRequestReview",
                    "id": _node("PullRequestReview", x.id),
                    "databaseId": x.id,
                    "author": self.actor(x.author),
                    "state": x.state,
                    "body": x.body,
                    "submittedAt": iso_z(x.submitted_at),
                    "createdAt": iso_z(x.submitted_at),
                    "url": f"{r.html_url}/pull/{p.number}#pullrequestreview-{x.id}",
                },
            )

        def timeline(
            info: Any,
            itemTypes: list[str] | None = None,
            since: str | None = None,
            skip: int | None = None,
            **a: Any,
        ) -> Json:
            events: list[tuple[datetime, Json]] = []
            if p.ready_for_review_at:
                events.append(
                    (
                        p.ready_for_review_at,
                        {
                            "__typename": "ReadyForReviewEvent",
                            "createdAt": iso_z(p.ready_for_review_at),
                            "actor": self.actor(p.author),
                            "id": _node("ReadyForReviewEvent", p.id),
                        },
                    )
                )
            for c in p.comments:
                events.append((c.created_at, self.comment(r, p, c)))
            for x in p.reviews:
                events.append(
                    (
                        x.submitted_at,
                        {
                            "__typename": "PullRequestReview",
                            "author": self.actor(x.author),
                            "state": x.state,
                            "submittedAt": iso_z(x.submitted_at),
                            "createdAt": iso_z(x.submitted_at),
                        },
                    )
                )
            if p.merged_at:
                events.append(
                    (
                        p.merged_at,
                        {
                            "__typename": "MergedEvent",
                            "createdAt": iso_z(p.merged_at),
                            "actor": self.actor(p.merged_by),
                        },
                    )
                )
            if p.closed_at:
                events.append(
                    (
                        p.closed_at,
                        {
                            "__typename": "ClosedEvent",
                            "createdAt": iso_z(p.closed_at),
                            "actor": self.actor(p.merged_by or p.author),
                        },
                    )
                )
            events.sort(key=lambda e: e[0])
            total = len(events)
            if itemTypes:
                wanted = {_TIMELINE.get(t) for t in itemTypes}
                events = [e for e in events if e[1]["__typename"] in wanted]
            if since:
                since_ts = parse_ts(since)
                events = [e for e in events if e[0] >= since_ts]
            if skip:
                events = events[skip:]
            conn = connection(
                [e[1] for e in events],
                a,
                lambda e: e,
                filteredCount=len(events),
                pageCount=len(events),
                updatedAt=iso_z(p.updated_at),
            )
            conn["totalCount"] = total
            return conn

        return {
            "__typename": "PullRequest",
            "id": p.node_id,
            "databaseId": p.id,
            "number": p.number,
            "title": p.title,
            "body": p.body,
            "url": f"{r.html_url}/pull/{p.number}",
            "author": self.actor(p.author),
            "state": _pr_state(p),
            "isDraft": p.draft,
            "merged": p.merged,
            "closed": p.state == "closed",
            "createdAt": iso_z(p.created_at),
            "updatedAt": iso_z(p.updated_at),
            "closedAt": _z(p.closed_at),
            "mergedAt": _z(p.merged_at),
            "mergedBy": self.actor(p.merged_by),
            "additions": p.additions,
            "deletions": p.deletions,
            "changedFiles": p.changed_files,
            "baseRefName": p.base_ref,
            "headRefName": p.head_ref,
            "headRefOid": p.head_sha,
            "labels": lambda info, **a: connection(p.labels, a, self.label),
            "reviewRequests": lambda info, **a: connection(
                p.requested_reviewers,
                a,
                lambda u: {"__typename": "ReviewRequest", "requestedReviewer": self.actor(u)},
            ),
            "reviews": reviews,
            "comments": lambda info, **a: connection(
                p.comments, a, lambda c: self.comment(r, p, c)
            ),
            "timelineItems": timeline,
            "closingIssuesReferences": lambda info, **a: connection(
                p.closing_issues, a, lambda i: self.issue(org, r, i)
            ),
            "files": lambda info, **a: connection(p.files, a, _changed_file),
            "repository": lambda info: self.repository(org, r),
        }

    def release(self, org: Org, r: Repository, x: Release) -> Json:
        return {
            "__typename": "Release",
            "id": x.node_id,
            "databaseId": x.id,
            "tagName": x.tag_name,
            "name": x.name,
            "description": x.body,
            "author": self.user(x.author),
            "createdAt": iso_z(x.created_at),
            "publishedAt": _z(x.published_at),
            "isDraft": x.draft,
            "isPrerelease": x.prerelease,
            "url": f"{r.html_url}/releases/tag/{x.tag_name}",
            "tagCommit": lambda info: self.commit(org, r, c) if (c := r.commit(x.sha)) else None,
        }


_CHANGE_TYPES = {"added": "ADDED", "modified": "MODIFIED", "removed": "DELETED"}


def _changed_file(f: Any) -> Json:
    """GraphQL `PullRequestChangedFile`; REST's status "removed" is PatchStatus DELETED."""
    return {
        "__typename": "PullRequestChangedFile",
        "path": f.filename,
        "additions": f.additions,
        "deletions": f.deletions,
        "changeType": _CHANGE_TYPES[f.status],
        "viewerViewedState": "UNVIEWED",
    }


def _pr_state(p: PullRequest) -> str:
    return "MERGED" if p.merged else p.state.upper()


def _order_items(items: list[Any], order: dict[str, str] | None) -> list[Any]:
    """IssueOrder (CREATED_AT | UPDATED_AT | COMMENTS); default creation order ascending."""
    order = order or {"field": "CREATED_AT", "direction": "ASC"}
    key = {
        "CREATED_AT": lambda x: x.created_at,
        "UPDATED_AT": lambda x: x.updated_at,
        "COMMENTS": lambda x: len(x.comments),
    }[order["field"]]
    return sorted(items, key=lambda x: (key(x), x.number), reverse=order["direction"] == "DESC")


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Reply:
    status: int
    body: Json = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is (text bodies, truncated JSON)
    budget: Budget | None = None  # charged 1 unless the answer is a free 304


class HTTPError(Exception):
    def __init__(self, status: int, message: str, doc: str = DOCS, **extra: Any) -> None:
        super().__init__(message)
        self.reply = Reply(status, {"message": message, **extra, "documentation_url": doc})


def _not_found(doc: str = DOCS) -> HTTPError:
    return HTTPError(404, "Not Found", doc)


_REPO_ROUTES: list[tuple[str, str, str]] = [
    # (suffix regex, template suffix, handler name)
    (r"", "", "h_repo"),
    (r"/commits", "/commits", "h_commits"),
    (r"/commits/(?P<ref>[^/]+)", "/commits/{ref}", "h_commit"),
    (r"/pulls", "/pulls", "h_pulls"),
    (r"/pulls/(?P<number>\d+)", "/pulls/{pull_number}", "h_pull"),
    (r"/pulls/(?P<number>\d+)/reviews", "/pulls/{pull_number}/reviews", "h_reviews"),
    (r"/issues", "/issues", "h_issues"),
    (r"/issues/comments", "/issues/comments", "h_repo_comments"),
    (r"/issues/(?P<number>\d+)", "/issues/{issue_number}", "h_issue"),
    (r"/issues/(?P<number>\d+)/comments", "/issues/{issue_number}/comments", "h_issue_comments"),
    (r"/releases", "/releases", "h_releases"),
    (r"/tags", "/tags", "h_tags"),
]


@dataclass
class Ctx:
    """One request as the handlers see it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    authenticated: bool
    params: dict[str, str] = field(default_factory=dict)
    repo: Repository | None = None
    org: Org | None = None
    link_path: str = ""  # the path Link headers point at

    def q(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default


class FakeGitHub:
    """The server. Start with `start()` or a `with` block; `base_url` is the REST root."""

    def __init__(
        self,
        orgs: Org | Sequence[Org],
        *,
        latency_s: float = 0.0,
        core_limit: int = 5000,
        unauthenticated_limit: int = 60,
        search_limit: int = 30,
        unauthenticated_search_limit: int = 10,
        graphql_limit: int = 5000,
        tokens: Iterable[str] | None = None,
        graphql_rate_limit_type: str = "RATE_LIMITED",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.orgs: list[Org] = [orgs] if isinstance(orgs, Org) else list(orgs)
        self.latency_s = latency_s
        self.tokens = set(tokens) if tokens is not None else None
        # GitHub's docs do not name the `type` of the GraphQL rate-limit error. Recorded
        # responses show "RATE_LIMITED" (renovatebot/renovate#21861, 2023) and, more recently,
        # "RATE_LIMIT" with code "graphql_rate_limit" (yanyongyu/githubkit#271, 2026).
        self.graphql_rate_limit_type = graphql_rate_limit_type
        self.clock = clock
        self.faults = FaultPlan()
        self.counters = Counters()
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        # Primary limits: 5,000/h authenticated, 60/h unauthenticated; search 30/min (10/min
        # unauthenticated); GraphQL 5,000 points/h (docs: rate-limits-for-the-rest-api, rest/
        # search/search#rate-limit, graphql/overview/rate-limits-and-query-limits-...).
        self.budgets = {
            ("core", True): Budget("core", core_limit, 3600),
            ("core", False): Budget("core", unauthenticated_limit, 3600),
            ("search", True): Budget("search", search_limit, 60),
            ("search", False): Budget("search", unauthenticated_search_limit, 60),
            ("graphql", True): Budget("graphql", graphql_limit, 3600),
        }
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._stop.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # keep-alive connections must not block stop()
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-github",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    # -- data ---------------------------------------------------------------------------------

    @property
    def org_data(self) -> Org:
        return self.orgs[0]

    def org(self, login: str) -> Org | None:
        return next((o for o in self.orgs if o.login.lower() == login.lower()), None)

    def org_of(self, repo: Repository) -> Org:
        return next(o for o in self.orgs if repo in o.repos)

    # -- budgets ------------------------------------------------------------------------------

    def budget(self, resource: str, authenticated: bool = True) -> Budget:
        with self._lock:
            b = self.budgets[(resource, authenticated)]
            b.roll(self.clock())
            return b

    def exhaust(
        self, resource: str = "core", *, reset_in: int = 60, authenticated: bool = True
    ) -> None:
        """Spend a whole primary budget: requests fail until the (fake) clock reaches reset."""
        b = self.budget(resource, authenticated)
        with self._lock:
            b.used, b.reset = b.limit, int(self.clock()) + reset_in

    # -- request handling (called by _Handler on its thread) ---------------------------------

    def handle(self, ctx: Ctx) -> tuple[str, Reply | str]:
        """(route template, reply) or (template, "timeout" | "disconnect")."""
        template, _ = self._route(ctx)
        target = f"{ctx.method} {ctx.path}" + (f"?{urlencode(ctx.query)}" if ctx.query else "")
        kinds = [k for k in FAULT_KINDS if k != "incomplete_results"]
        rule = self.faults.take(target, kinds=kinds, body=ctx.body)
        if rule is not None:
            self.counters.fault(rule.kind)
            if rule.kind == "delete_repository":
                self.delete_repository(str(rule.params["repo"]))
                return template, self.handle_unfaulted(ctx)
            if rule.kind in ("timeout", "disconnect"):
                if rule.kind == "timeout":
                    self._stop.wait(float(rule.params.get("hold_s", 10.0)))
                return template, rule.kind
            return template, self._fault_reply(ctx, rule)
        return template, self.handle_unfaulted(ctx)

    def delete_repository(self, name: str) -> None:
        """Delete a repository (by current or former name): REST answers 404 and GraphQL
        `repository(...)` null with a NOT_FOUND error from now on."""
        with self._lock:
            for org in self.orgs:
                repo = org.repo(name)
                if repo is not None:
                    org.repos.remove(repo)

    def _route(self, ctx: Ctx) -> tuple[str, Callable[[Ctx], Reply] | None]:
        p, m = ctx.path.rstrip("/") or "/", ctx.method
        if m == "POST" and p == "/graphql":
            return "POST /graphql", self.h_graphql
        if m != "GET":
            return f"{m} {p}", None
        simple = {"/rate_limit": self.h_rate_limit, "/search/issues": self.h_search_issues}
        if p in simple:
            return f"GET {p}", simple[p]
        mo = re.fullmatch(r"/orgs/([^/]+)/repos", p) or re.fullmatch(
            r"/organizations/(\d+)/repos", p
        )
        if mo:
            key = mo.group(1)
            ctx.org = next(
                (o for o in self.orgs if o.login.lower() == key.lower() or str(o.id) == key), None
            )
            return "GET /orgs/{org}/repos", self.h_org_repos
        mo = re.fullmatch(
            r"/(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<id>\d+))"
            r"(?P<rest>/.*)?",
            p,
        )
        if mo:
            rest = mo.group("rest") or ""
            for suffix, tmpl, handler in _REPO_ROUTES:
                sm = re.fullmatch(suffix, rest)
                if sm:
                    ctx.params = {k: v for k, v in mo.groupdict().items() if v} | sm.groupdict()
                    ctx.params["rest"] = rest
                    return f"GET /repos/{{owner}}/{{repo}}{tmpl}", getattr(self, handler)
        return f"GET {p}", None

    # -- replies ------------------------------------------------------------------------------

    def _fault_reply(self, ctx: Ctx, rule: FaultRule) -> Reply:
        kind, prm = rule.kind, rule.params
        graphql_req = ctx.path == "/graphql"
        resource = (
            "graphql" if graphql_req else "search" if ctx.path.startswith("/search") else "core"
        )
        b = self.budget(resource, ctx.authenticated or graphql_req)
        hdrs = b.headers()
        if kind.startswith("http_"):
            status = int(kind[5:])
            msg = {
                500: "Server Error",
                502: "Server Error",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }[status]
            if graphql_req and status in (502, 504):
                # GraphQL timeouts: "We couldn't respond to your request in time" (502 or 504)
                msg = (
                    "We couldn't respond to your request in time. Sorry about that. "
                    "Please try resubmitting your request and contact us if the problem "
                    "persists."
                )
            return Reply(status, {"message": msg, "documentation_url": DOCS}, hdrs)
        if kind == "secondary_rate_limit":
            # "If you exceed a secondary rate limit, you will receive a 403 or 429 response and
            # an error message that indicates that you exceeded a secondary rate limit. If the
            # retry-after response header is present, you should not retry your request until
            # after that many seconds has elapsed." (rest/using-the-rest-api/rate-limits-for-
            # the-rest-api#exceeding-the-rate-limit)
            hdrs["retry-after"] = str(prm.get("retry_after", 60))
            return Reply(
                int(prm.get("status", 403)),
                {
                    "message": _SECONDARY_MESSAGE,
                    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/"
                    "using-the-rest-api/rate-limits-for-the-rest-api"
                    "#about-secondary-rate-limits",
                },
                hdrs,
            )
        if kind == "primary_rate_limit":
            reset = int(self.clock()) + int(prm.get("reset_in", 60))
            hdrs.update(
                {
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": str(b.limit),
                    "x-ratelimit-reset": str(reset),
                }
            )
            if graphql_req:
                return Reply(200, self._graphql_limited_body(), hdrs)
            return Reply(int(prm.get("status", 403)), self._primary_body(ctx), hdrs)
        if kind == "graphql_timeout":
            # GitHub's id format: five hex groups (e.g. `E2B5:17176:C8D909:165E039:6650BF08`).
            n = next(_REQUEST_IDS)
            request_id = f"FA{n % 256:02X}:{n:X}:{n * 7:X}:{n * 13:X}:{n * 31:08X}"
            hdrs["x-github-request-id"] = request_id
            message = GRAPHQL_TIMEOUT_MESSAGE.format(request_id=request_id)
            return Reply(200, {"data": None, "errors": [{"message": message}]}, hdrs)
        if kind == "malformed_json":
            real = self.handle_unfaulted(ctx)
            text = json.dumps(real.body).encode()
            return Reply(200, None, {**real.headers, **hdrs}, raw=text[: max(len(text) // 2, 1)])
        raise AssertionError(kind)

    def handle_unfaulted(self, ctx: Ctx) -> Reply:
        _, route = self._route(ctx)
        try:
            if route is None:
                raise _not_found()
            return route(ctx)
        except HTTPError as exc:
            return exc.reply

    def _primary_body(self, ctx: Ctx) -> Json:
        who = "user ID 1" if ctx.authenticated else "127.0.0.1"
        extra = (
            ""
            if ctx.authenticated
            else (
                " (But here's the good news: Authenticated requests get a higher rate limit. "
                "Check out the documentation for more details.)"
            )
        )
        return {
            "message": f"API rate limit exceeded for {who}.{extra}",
            "documentation_url": "https://docs.github.com/rest/overview/"
            "rate-limits-for-the-rest-api#about-the-rate-limit",
        }

    def _graphql_limited_body(self) -> Json:
        msg = (
            "API rate limit already exceeded for user ID 1."
            if self.graphql_rate_limit_type == "RATE_LIMIT"
            else "API rate limit exceeded for user ID 1."
        )
        return {
            "errors": [
                {"type": self.graphql_rate_limit_type, "code": "graphql_rate_limit", "message": msg}
            ]
        }

    def _page(
        self, ctx: Ctx, items: Sequence[Any], *, cap: int | None = None
    ) -> tuple[list[Any], dict[str, str]]:
        """`per_page` (default 30, max 100) and `page`, with GitHub's Link header: prev, next,
        last, first, in that order, absolute URLs on the fake's base (components/headers/link;
        the octokit paginate-issues recording points them at /repositories/{id}/...)."""
        try:
            per_page = max(1, min(int(ctx.q("per_page") or 30), 100))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(ctx.q("page") or 1))
        except ValueError:
            page = 1
        total = len(items) if cap is None else min(len(items), cap)
        last = max(1, math.ceil(total / per_page))
        chunk = list(items[(page - 1) * per_page : min(page * per_page, total)])
        kept = [(k, v) for k, v in ctx.query if k != "page"]

        def url(n: int) -> str:
            return f"{self.base_url}{ctx.link_path or ctx.path}?{urlencode([*kept, ('page', n)])}"

        rels: list[str] = []
        if page > 1:
            rels.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            rels += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            rels.append(f'<{url(1)}>; rel="first"')
        return chunk, ({"Link": ", ".join(rels)} if rels else {})

    def _repo(self, ctx: Ctx) -> tuple[Org, Repository]:
        """Resolve /repos/{owner}/{repo} or /repositories/{id}; renamed repos answer 301."""
        prm = ctx.params
        doc = "https://docs.github.com/rest/repos/repos#get-a-repository"
        if "id" in prm:
            rid = int(prm["id"])
            for o in self.orgs:
                r = o.repo_by_id(rid)
                if r is not None and (ctx.authenticated or not r.private):
                    ctx.link_path = ctx.path
                    return o, r
            raise _not_found(doc)
        org = self.org(prm["owner"])
        repo = org.repo(prm["name"]) if org else None
        if org is None or repo is None or (repo.private and not ctx.authenticated):
            raise _not_found(doc)  # private repositories are invisible without a token
        if repo.name.lower() != prm["name"].lower():
            # A renamed repository: "301 Permanent redirection. The URI you used to make the
            # request has been superseded by the one specified in the Location header field"
            # (docs.github.com/v3/#http-redirects); the octokit rename-repository recording
            # shows Location: .../repositories/{id} and this very body.
            loc = f"{self.base_url}/repositories/{repo.id}{prm['rest']}"
            if ctx.query:
                loc += "?" + urlencode(ctx.query)
            raise HTTPError(
                301, "Moved Permanently", "https://docs.github.com/v3/#http-redirects", url=loc
            )
        ctx.link_path = f"/repositories/{repo.id}{prm['rest']}"
        return org, repo

    # -- REST handlers --------------------------------------------------------------------------

    def h_rate_limit(self, ctx: Ctx) -> Reply:
        """GET /rate_limit: "does not count against your primary rate limit"."""
        core = self.budget("core", ctx.authenticated)
        search = self.budget("search", ctx.authenticated)
        gql = self.budget("graphql", True)

        def res(b: Budget) -> Json:
            return {"limit": b.limit, "used": b.used, "remaining": b.remaining, "reset": b.reset}

        reset = int(self.clock()) + 3600
        static = {
            "integration_manifest": 5000,
            "source_import": 100,
            "actions_runner_registration": 10000,
            "scim": 15000,
            "dependency_snapshots": 100,
            "code_search": 10,
            "code_scanning_autofix": 10,
        }
        resources = {"core": res(core), "search": res(search), "graphql": res(gql)}
        for name, lim in static.items():
            resources[name] = {"limit": lim, "used": 0, "remaining": lim, "reset": reset}
        return Reply(200, {"resources": resources, "rate": res(core)}, core.headers())

    def h_org_repos(self, ctx: Ctx) -> Reply:
        org = ctx.org
        if org is None:
            raise _not_found(
                "https://docs.github.com/rest/repos/repos#list-organization-repositories"
            )
        kind = ctx.q("type", "all")
        repos = [r for r in org.repos if ctx.authenticated or not r.private]
        repos = {
            "public": [r for r in repos if not r.private],
            "private": [r for r in repos if r.private],
            "forks": [r for r in repos if r.fork],
            "sources": [r for r in repos if not r.fork],
        }.get(kind or "all", repos)
        sort = ctx.q("sort", "created") or "created"
        # direction: "Default: asc when using full_name, otherwise desc."
        direction = ctx.q("direction") or ("asc" if sort == "full_name" else "desc")
        key = {
            "created": lambda r: r.created_at,
            "updated": lambda r: r.updated_at,
            "pushed": lambda r: r.pushed_at,
            "full_name": lambda r: r.full_name.lower(),
        }.get(sort, lambda r: r.created_at)
        repos = sorted(repos, key=lambda r: (key(r), r.id), reverse=direction == "desc")
        ctx.link_path = f"/organizations/{org.id}/repos"
        page, link = self._page(ctx, repos)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.repo(r, org) for r in page], link)

    def h_repo(self, ctx: Ctx) -> Reply:
        org, repo = self._repo(ctx)
        return Reply(200, RestBodies(self.base_url).repo(repo, org, full=True))

    def h_commits(self, ctx: Ctx) -> Reply:
        """GET /repos/{o}/{r}/commits: `sha`, `since`, `until`, `author`, paging.

        `since`/`until`: the docs say "Only show results that were last updated after [before]
        the given time" (https://docs.github.com/rest/commits/commits#list-commits) without
        naming the date. GitHub walks history like `git log --since/--until`, which compares
        the committer date; clients observe the same (rundel/ghclass#139: "`until` argument
        filters based on committer date but returns the author date"). Both bounds inclusive.
        """
        _org, repo = self._repo(ctx)
        doc = "https://docs.github.com/rest/commits/commits#list-commits"
        if not repo.commits:
            raise HTTPError(409, "Git Repository is empty.", doc)
        ref = ctx.q("sha") or repo.default_branch
        head = repo.commit(ref)
        if head is None:
            raise HTTPError(404, f"No commit found for SHA: {ref}", doc)
        commits = repo.reachable(head.sha)
        try:
            since = parse_ts(s) if (s := ctx.q("since")) else None
            until = parse_ts(u) if (u := ctx.q("until")) else None
        except ValueError as exc:
            raise HTTPError(400, f"Invalid date: {exc}", doc) from exc
        if since:
            commits = [c for c in commits if c.committed_at >= since]
        if until:
            commits = [c for c in commits if c.committed_at <= until]
        if who := ctx.q("author"):
            who = who.lower()
            commits = [
                c
                for c in commits
                if who in (c.author.email.lower(), (c.author.login or "").lower())
            ]
        page, link = self._page(ctx, commits)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.commit(repo, c) for c in page], link)

    def h_commit(self, ctx: Ctx) -> Reply:
        _org, repo = self._repo(ctx)
        c = repo.commit(ctx.params["ref"])
        if c is None:
            raise HTTPError(
                422 if len(ctx.params["ref"]) < 40 else 404,
                f"No commit found for SHA: {ctx.params['ref']}",
                "https://docs.github.com/rest/commits/commits#get-a-commit",
            )
        return Reply(200, RestBodies(self.base_url).commit(repo, c, full=True))

    def h_pulls(self, ctx: Ctx) -> Reply:
        org, repo = self._repo(ctx)
        state = ctx.q("state", "open")
        pulls = [p for p in repo.pulls if state == "all" or p.state == state]
        sort = ctx.q("sort") or "created"
        # direction: "Default: desc when sort is created or sort is not specified, otherwise asc"
        direction = ctx.q("direction") or ("desc" if sort == "created" else "asc")
        key = {
            "created": lambda p: p.created_at,
            "updated": lambda p: p.updated_at,
            "popularity": lambda p: len(p.comments),
            "long-running": lambda p: p.created_at,
        }.get(sort, lambda p: p.created_at)
        pulls.sort(key=lambda p: (key(p), p.number), reverse=direction == "desc")
        page, link = self._page(ctx, pulls)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.pull(repo, org, p) for p in page], link)

    def _item(self, repo: Repository, number: str, pulls_only: bool = False) -> Item:
        n = int(number)
        for item in [*repo.pulls, *([] if pulls_only else repo.issues)]:
            if item.number == n:
                return item
        raise _not_found()

    def h_pull(self, ctx: Ctx) -> Reply:
        org, repo = self._repo(ctx)
        pr = self._item(repo, ctx.params["number"], pulls_only=True)
        assert isinstance(pr, PullRequest)
        return Reply(200, RestBodies(self.base_url).pull(repo, org, pr, full=True))

    def h_reviews(self, ctx: Ctx) -> Reply:
        _org, repo = self._repo(ctx)
        pr = self._item(repo, ctx.params["number"], pulls_only=True)
        assert isinstance(pr, PullRequest)
        page, link = self._page(ctx, pr.reviews)  # chronological, as GitHub lists them
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.review(repo, pr, rv) for rv in page], link)

    def h_issues(self, ctx: Ctx) -> Reply:
        """Issues *and* pull requests ("GitHub's REST API considers every pull request an
        issue"), `state` (default open), `since` (updated at or after), `labels`, `creator`,
        `sort` (created|updated|comments), `direction` (default desc)."""
        _org, repo = self._repo(ctx)
        state = ctx.q("state", "open")
        items: list[Item] = [
            i for i in [*repo.issues, *repo.pulls] if state == "all" or i.state == state
        ]
        if s := ctx.q("since"):
            since = parse_ts(s)
            items = [i for i in items if i.updated_at >= since]
        if labels := ctx.q("labels"):
            want = set(labels.split(","))
            items = [i for i in items if want <= set(i.labels)]
        if creator := ctx.q("creator"):
            items = [i for i in items if i.author.login.lower() == creator.lower()]
        sort = ctx.q("sort") or "created"
        key = {
            "created": lambda i: i.created_at,
            "updated": lambda i: i.updated_at,
            "comments": lambda i: len(i.comments),
        }.get(sort, lambda i: i.created_at)
        items.sort(
            key=lambda i: (key(i), i.number), reverse=(ctx.q("direction") or "desc") == "desc"
        )
        page, link = self._page(ctx, items)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.issue(repo, i) for i in page], link)

    def h_issue(self, ctx: Ctx) -> Reply:
        _org, repo = self._repo(ctx)
        item = self._item(repo, ctx.params["number"])
        return Reply(200, RestBodies(self.base_url).issue(repo, item))

    def h_repo_comments(self, ctx: Ctx) -> Reply:
        """Issue comments of the whole repository (PR conversation comments included);
        `since`: updated at or after; default order ascending by id."""
        _org, repo = self._repo(ctx)
        pairs = [(item, c) for item in [*repo.issues, *repo.pulls] for c in item.comments]
        if s := ctx.q("since"):
            since = parse_ts(s)
            pairs = [p for p in pairs if p[1].updated_at >= since]
        sort = ctx.q("sort")
        if sort in ("created", "updated"):
            pairs.sort(
                key=lambda p: (p[1].created_at if sort == "created" else p[1].updated_at, p[1].id),
                reverse=ctx.q("direction") == "desc",
            )
        else:
            pairs.sort(key=lambda p: p[1].id)
        page, link = self._page(ctx, pairs)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.comment(repo, i, c) for i, c in page], link)

    def h_issue_comments(self, ctx: Ctx) -> Reply:
        _org, repo = self._repo(ctx)
        item = self._item(repo, ctx.params["number"])
        comments = list(item.comments)
        if s := ctx.q("since"):
            since = parse_ts(s)
            comments = [c for c in comments if c.updated_at >= since]
        page, link = self._page(ctx, comments)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.comment(repo, item, c) for c in page], link)

    def h_releases(self, ctx: Ctx) -> Reply:
        """Newest first. "Only users with push access will receive listings for draft
        releases" (rest/releases/releases#list-releases): drafts need a token here.
        `created_at` is the tagged commit's date: "The created_at attribute is the date of the
        commit used for the release, and not the date when the release was drafted or
        published" (rest/releases/releases#get-the-latest-release)."""
        _org, repo = self._repo(ctx)
        rels = [x for x in repo.releases if ctx.authenticated or not x.draft]
        rels.sort(key=lambda x: (x.created_at, x.id), reverse=True)
        page, link = self._page(ctx, rels)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.release(repo, x) for x in page], link)

    def h_tags(self, ctx: Ctx) -> Reply:
        _org, repo = self._repo(ctx)
        tags = sorted(repo.tags, key=lambda t: t.name, reverse=True)
        page, link = self._page(ctx, tags)
        rb = RestBodies(self.base_url)
        return Reply(200, [rb.tag(repo, t) for t in page], link)

    def h_search_issues(self, ctx: Ctx) -> Reply:
        """GET /search/issues: `q`, `sort`, `order`, paging, capped at 1,000 results."""
        doc = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests"
        q = ctx.q("q")
        if not q:
            raise HTTPError(
                422,
                "Validation Failed",
                doc,
                errors=[{"resource": "Search", "field": "q", "code": "missing"}],
            )
        try:
            hits = run_search(
                self.orgs,
                q,
                sort=ctx.q("sort"),
                order=ctx.q("order") or "desc",
                public_only=not ctx.authenticated,
            )
        except SearchError as exc:
            raise HTTPError(
                422,
                "Validation Failed",
                doc,
                errors=[
                    {
                        "message": "The listed users and repositories cannot be searched either "
                        "because the resources do not exist or you do not have permission "
                        f"to view them. ({exc})",
                        "resource": "Search",
                        "field": "q",
                        "code": "invalid",
                    }
                ],
            ) from exc
        try:
            per_page = max(1, min(int(ctx.q("per_page") or 30), 100))
            page_n = max(1, int(ctx.q("page") or 1))
        except ValueError:
            per_page, page_n = 30, 1
        if (page_n - 1) * per_page >= SEARCH_CAP:
            raise HTTPError(422, "Only the first 1000 search results are available", doc)
        page, link = self._page(ctx, hits, cap=SEARCH_CAP)
        rb = RestBodies(self.base_url)
        items = [rb.issue(r, i) | {"score": 1.0} for r, i in page]
        incomplete = (
            self.faults.take(f"GET {ctx.path}?{urlencode(ctx.query)}", kinds=["incomplete_results"])
            is not None
        )
        if incomplete:
            self.counters.fault("incomplete_results")
        body = {"total_count": len(hits), "incomplete_results": incomplete, "items": items}
        return Reply(200, body, link)

    # -- GraphQL --------------------------------------------------------------------------------

    def h_graphql(self, ctx: Ctx) -> Reply:
        if not ctx.authenticated:
            # GraphQL needs a token: 401 with GitHub's JSON error body.
            raise HTTPError(
                401,
                "This endpoint requires you to be authenticated.",
                "https://docs.github.com/graphql/guides/forming-calls-with-graphql"
                "#authenticating-with-graphql",
            )
        b = self.budget("graphql", True)
        try:
            req = json.loads(ctx.body or b"{}")
            query = req["query"]
            variables = req.get("variables") or {}
            op_name = req.get("operationName")
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPError(
                400, "Problems parsing JSON", "https://docs.github.com/graphql"
            ) from exc
        schema = load_schema()
        try:
            doc = graphql.parse(query)
        except graphql.GraphQLError as exc:
            return Reply(200, {"errors": [_fmt(exc)]}, b.headers())
        errors = graphql.validate(schema, doc)
        if errors:
            return Reply(200, {"errors": [_fmt(e) for e in errors]}, b.headers())
        cost = query_cost(schema, doc, op_name, variables)
        if cost.errors:
            return Reply(200, {"errors": cost.errors}, b.headers())
        with self._lock:
            if b.remaining < cost.points:
                hdrs = b.headers() | {"x-ratelimit-remaining": "0"}
                return Reply(200, self._graphql_limited_body(), hdrs)
            b.used += cost.points
            self.counters.graphql_points += cost.points
            self.counters.graphql_queries += 1
            snap = {
                "cost": cost.points,
                "limit": b.limit,
                "remaining": b.remaining,
                "used": b.used,
                "resetAt": iso_z(datetime.fromtimestamp(b.reset, UTC)),
                "nodeCount": cost.nodes,
            }
            hdrs = b.headers()
        viewer = self.org_data.accounts.get("alice-a") or self.org_data.account
        root = GqlViews(self, viewer).root(lambda: snap)
        result = graphql.execute(
            schema, doc, root_value=root, variable_values=variables, operation_name=op_name
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_fmt(e) for e in result.errors]
        return Reply(200, out, hdrs)


def _fmt(err: graphql.GraphQLError) -> Json:
    out = dict(err.formatted)
    if isinstance(err.original_error, GqlError):
        out["type"] = err.original_error.type
    return out


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into `FakeGitHub.handle` calls and replies into bytes on the wire."""

    protocol_version = "HTTP/1.1"  # keep-alive, so client connection pools behave as in prod
    # Headers and body in one buffered write, no Nagle: otherwise small keep-alive replies
    # stall ~40 ms on delayed ACKs and the fake would look slower than GitHub.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    fake: FakeGitHub

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        fake = self.fake
        try:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            auth = headers.get("authorization", "")
            token = auth.split(" ", 1)[1].strip() if " " in auth else ""
            ctx = Ctx(
                method,
                split.path,
                parse_qsl(split.query, keep_blank_values=True),
                headers,
                body,
                authenticated=bool(token),
            )
            if fake.latency_s:
                fake._stop.wait(fake.latency_s)
            if not headers.get("user-agent"):
                # "Requests with no User-Agent header will be rejected ... you will receive a
                # 403 Forbidden response" with Content-Type text/html and no rate-limit headers
                # (docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required).
                text = (
                    b"Request forbidden by administrative rules. Please make sure your "
                    b"request has a User-Agent header (https://docs.github.com/en/rest/"
                    b"overview/resources-in-the-rest-api#user-agent-required). Check "
                    b"https://developer.github.com for other possible causes.\n"
                )
                reply = Reply(403, raw=text, headers={"Content-Type": "text/html"})
                self._write(reply, ctx, f"{method} {split.path}", charge=False)
                return
            if token and fake.tokens is not None and token not in fake.tokens:
                ctx.authenticated = False
                reply = Reply(401, {"message": "Bad credentials", "documentation_url": DOCS})
                self._write(reply, ctx, f"{method} {split.path}")
                return
            template, answer = fake.handle(ctx)
            if isinstance(answer, str):  # timeout / disconnect: close without an answer
                fake.counters.record(
                    RequestRecord(method, self.path, template, 0, ctx.authenticated)
                )
                self.close_connection = True
                return
            self._write(answer, ctx, template)
        except Exception:  # a bug in the fake: answer 500 and keep it for the test to see
            fake.internal_errors.append(traceback.format_exc())
            try:
                self.close_connection = True
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass

    def _write(self, reply: Reply, ctx: Ctx, template: str, *, charge: bool = True) -> None:
        """Serialize, add ETag/304 and the rate-limit headers, charge the budget, send."""
        fake = self.fake
        status = reply.status
        hdrs: dict[str, str] = {}
        if reply.raw is not None:
            data = reply.raw
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        else:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        hdrs.update(reply.headers)
        if status == 301 and isinstance(reply.body, dict):
            hdrs["Location"] = reply.body.get("url", "")
        # REST answers carry the x-ratelimit-* headers of their resource (GraphQL replies and
        # injected faults come with theirs already).
        if charge and "x-ratelimit-limit" not in hdrs and ctx.path != "/graphql":
            resource = "search" if ctx.path.startswith("/search") else "core"
            b = fake.budget(resource, ctx.authenticated)
            exempt = ctx.path == "/rate_limit"  # "does not count against your primary limit"
            with fake._lock:
                pay = not exempt
                if not exempt and b.remaining <= 0:
                    # "If you exceed your primary rate limit, you will receive a 403 or 429
                    # response, and the x-ratelimit-remaining header will be 0."
                    status, pay = 403, False
                    data = json.dumps(fake._primary_body(ctx)).encode()
                    hdrs = {"Content-Type": "application/json; charset=utf-8"}
                elif ctx.method == "GET" and status == 200 and reply.raw is None:
                    etag = '"' + hashlib.sha1(data).hexdigest() + '"'
                    hdrs["ETag"] = etag
                    hdrs["Cache-Control"] = "private, max-age=60, s-maxage=60"
                    hdrs["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
                    inm = ctx.headers.get("if-none-match", "")
                    tags = [t.strip().removeprefix("W/") for t in inm.split(",") if t.strip()]
                    if etag in tags or "*" in tags:
                        # "Making a conditional request does not count against your primary
                        # rate limit if a 304 response is returned and the request was made
                        # while correctly authorized with an Authorization header."
                        # (rest/using-the-rest-api/best-practices-for-using-the-rest-api
                        # #use-conditional-requests-if-appropriate)
                        status, data = 304, b""
                        pay = pay and not ctx.authenticated
                        hdrs.pop("Content-Type", None)
                if pay:
                    b.used += 1
                hdrs.update(b.headers())
        if charge:
            hdrs.setdefault("x-github-media-type", "github.v3; format=json")
            hdrs.setdefault("access-control-expose-headers", _EXPOSE)
        # Count before answering: a client that has the answer must see it counted.
        fake.counters.record(
            RequestRecord(ctx.method, self.path, template, status, ctx.authenticated)
        )
        hdrs.setdefault("x-github-request-id", f"FAKE:{next(_REQUEST_IDS):08X}")
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 304 and data:
            self.wfile.write(data)
        self.wfile.flush()


_REQUEST_IDS = itertools.count(1)
_EXPOSE = (
    "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, "
    "X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, "
    "X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, "
    "X-GitHub-Request-Id, Deprecation, Sunset"
)
