"""Collecting a window of an org's GitHub activity with as few requests as possible (GraphQL).

One window (a day, or a whole backfill range) costs:
- the org's repositories, most recently pushed first, stopping at the first one pushed before
  the window: usually one page;
- commit history of the repositories pushed since the window started, 20 repositories per query
  (aliases), a page per 100 commits;
- one search stream for pull requests and one for issues over the whole org, from the window's
  start to now (`updated:` is an item's last update, so a past window's items may have been
  updated since), split where GitHub's 1,000-result cap would cut it (`search_window`);
- releases and tags of the repositories pushed since the window started, 20 per query, and in
  the same queries, when asked: their newest deployments to one environment (further pages only
  for repositories whose first page does not reach back far enough) and which CODEOWNERS blob
  their default branch holds (its text only when the blob changed: one query per 20 such);
- pull requests with more than 100 changed files: their further pages, 20 per query;
- the org's teams with their repositories, when asked: one query per 100 teams;
- what was open at each day's end (`collect_backlog`): four searches per day, five days per
  query, counted by GitHub for that instant (plus a listing of the org's repositories when the
  include/exclude filter selects only some).

Items are kept when one of their own events falls in the window; callers cut the window into
days by those events. A repository whose query fails is recorded and the others are collected.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, SecretStr

from sparky_resources import github_queries as gq
from sparky_resources.clock import in_window, parse_instant
from sparky_resources.github import (
    GitHubClient,
    GitHubError,
    GitHubServerError,
    GitHubTokenMissing,
    GitHubUnreachable,
    GraphQLError,
    search_window,
)
from sparky_resources.github_records import (
    BacklogItem,
    BacklogSnapshot,
    CodeownersRecord,
    DeploymentPage,
    DeploymentRecord,
    FilesPage,
    GitHubCommitRecord,
    GitHubRepository,
    IssueRecord,
    PullRequestRecord,
    ReleaseRecord,
    TeamRecord,
    files_page,
    oldest_first,
    parse_backlog_node,
    parse_blobs,
    parse_codeowners_oids,
    parse_commit_history,
    parse_deployments,
    parse_issue_node,
    parse_pull_request_files,
    parse_pull_request_node,
    parse_releases,
    parse_repository_node,
    parse_team_repositories,
    parse_teams_page,
)

Entity = Literal[
    "repositories",
    "commits",
    "pull_requests",
    "issues",
    "releases",
    "backlog",
    "deployments",
    "teams",
    "codeowners",
]
Selected = Callable[[str], bool] | None  # None: every repository of the org
# `history(since:, until:)` is not documented as filtering by author or by committer date
# (https://docs.github.com/en/graphql/reference/objects#commit, field `history`): ask from a
# day earlier and window by `committedDate` here, so a commit authored shortly before the
# window and committed inside it is not lost if GitHub filters by author date.
HISTORY_SLACK = dt.timedelta(days=1)
# Page sizes of a commit-history query for one repository that GitHub keeps timing out on.
HISTORY_PAGES = (gq.HISTORY_PAGE, 25, 5)
# A window keeps the deployments created in [start - DEPLOYMENT_SLACK, end) and those with a
# status in [start, end): a deployment started late the evening before and finished in the
# window belongs to it. Paging (newest created first) stops at a page older than that.
DEPLOYMENT_SLACK = dt.timedelta(days=1)
# The fields of the releases query each entity reads (an error under another field, in a
# repository GitHub otherwise answered, costs only that field's entity).
_RELEASE_FIELDS = frozenset({"name", "nameWithOwner", "url", "releases", "refs"})
_DEPLOYMENT_FIELDS = frozenset({"deployments"})
_CODEOWNERS_FIELDS = frozenset(gq.CODEOWNERS_LOCATIONS)


@dataclass(frozen=True)
class EntityCoverage:
    """How one entity of one repository (or of the whole org, `repo=None`) was collected;
    `at` is the instant of a backlog snapshot (one per day's end)."""

    entity: Entity
    repo: str | None
    status: Literal["ok", "failed"]
    count: int = 0
    error: str | None = None
    source: str = "github-graphql"
    at: str | None = None


@dataclass
class GitHubWindow:
    """What one window of an org holds, and how each part was collected."""

    repositories: list[GitHubRepository] = field(default_factory=list)
    commits: list[GitHubCommitRecord] = field(default_factory=list)
    pull_requests: list[PullRequestRecord] = field(default_factory=list)
    issues: list[IssueRecord] = field(default_factory=list)
    releases: list[ReleaseRecord] = field(default_factory=list)
    backlog: list[BacklogSnapshot] = field(default_factory=list)
    # Deployments to the asked environment (see `DEPLOYMENT_SLACK`), of the repositories
    # pushed in the window; none when no environment was asked.
    deployments: list[DeploymentRecord] = field(default_factory=list)
    teams: list[TeamRecord] | None = None  # None: not asked (or the listing failed)
    # CODEOWNERS of the repositories asked this run (those pushed in the window): a record
    # where the blob is new or changed, None where no location holds one. A repository whose
    # blob oid is the one already known is in `codeowners_unchanged` instead.
    codeowners: dict[str, CodeownersRecord | None] = field(default_factory=dict)
    codeowners_unchanged: set[str] = field(default_factory=set)
    coverage: list[EntityCoverage] = field(default_factory=list)
    # ("pr"|"issue", repo, number) -> every instant the item was active (to cut into days).
    events: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)

    def active_on(self, kind: str, repo: str, number: int, start: dt.datetime, end: dt.datetime):
        return active_in(self.events.get((kind, repo, number), []), start, end)

    @property
    def failed(self) -> list[EntityCoverage]:
        return [c for c in self.coverage if c.status == "failed"]

    def backlog_at(self, end: dt.datetime) -> BacklogSnapshot | EntityCoverage | None:
        """The snapshot at `end`, its failure, or None when it was not asked for."""
        for snapshot in self.backlog:
            if parse_instant(snapshot.at) == end:
                return snapshot
        for problem in self.coverage:
            if problem.entity == "backlog" and problem.at and parse_instant(problem.at) == end:
                return problem
        return None

    def add_repository(
        self, entity: Entity, repo: str, records: Sequence[Any], error: str | None
    ) -> None:
        """One repository's `entity` records (commits, releases) and its coverage; with an
        `error`, only the failed coverage (its records are not kept)."""
        if error is not None:
            self.coverage.append(EntityCoverage(entity, repo, "failed", error=error))
            return
        getattr(self, entity).extend(records)
        self.coverage.append(EntityCoverage(entity, repo, "ok", len(records)))

    def add_backlog(self, results: Iterable[BacklogSnapshot | EntityCoverage], source: str) -> None:
        """Keep `collect_backlog`'s results: snapshots, and every day in the coverage."""
        for result in results:
            if isinstance(result, BacklogSnapshot):
                self.backlog.append(result)
                count = result.pull_requests_open + result.issues_open
                self.coverage.append(
                    EntityCoverage("backlog", None, "ok", count, source=source, at=result.at)
                )
            else:
                self.coverage.append(result)


def pull_request_events(pr: PullRequestRecord) -> list[str]:
    """The instants at which a pull request was active: created, updated, ready, reviewed,
    first answered, merged, closed."""
    times = [pr.created_at, pr.updated_at, pr.ready_for_review_at, pr.first_response_at]
    times += [pr.merged_at, pr.closed_at, *(r.submitted_at for r in pr.reviews)]
    return [t for t in times if t]


def issue_events(issue: IssueRecord) -> list[str]:
    times = [issue.created_at, issue.updated_at, issue.first_response_at, issue.closed_at]
    return [t for t in times if t]


def comment_times(node: Mapping[str, Any]) -> list[str]:
    """When the (first 50) comments of a search node were written: commenting is activity."""
    comments = (node.get("comments") or {}).get("nodes") or []
    return [c["createdAt"] for c in comments if c and c.get("createdAt")]


def active_in(events: Iterable[str], start: dt.datetime, end: dt.datetime) -> bool:
    """Whether any of an item's ISO event times falls in `[start, end)`."""
    return any(in_window(parse_instant(t), start, end) for t in events)


def _repository_nodes(client: GitHubClient, org: str) -> Iterator[dict[str, Any]]:
    """The org's repository nodes, newest push first, page after page (GraphQL)."""
    after: str | None = None
    while True:
        data = client.graphql(gq.ORG_REPOSITORIES_QUERY, gq.org_repositories_variables(org, after))
        organization = data.get("organization")
        if organization is None:
            raise GitHubError(f"GitHub has no organization {org!r} (or the token cannot see it)")
        connection = organization["repositories"]
        yield from (node for node in connection.get("nodes") or [] if node)
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        after = info.get("endCursor")


def list_repositories(
    client: GitHubClient, org: str, pushed_since: dt.datetime
) -> list[GitHubRepository]:
    """The org's repositories pushed at or after `pushed_since`, newest push first.

    Ordered by `PUSHED_AT` descending, so paging stops at the first older repository.
    """
    found: list[GitHubRepository] = []
    for node in _repository_nodes(client, org):
        repo = parse_repository_node(node)
        pushed = parse_instant(repo.pushed_at)
        if pushed is None or pushed < pushed_since:
            break
        found.append(repo)
    return found


def _batches(items: Sequence[GitHubRepository], size: int) -> Iterable[list[GitHubRepository]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# A batch's outcome: records per repository name, and the repositories that failed (why).
BatchResult = tuple[dict[str, list[Any]], dict[str, str]]


@dataclass(frozen=True)
class _Scope:
    """What every batched query of one window asks about: the org and `[start, end)`."""

    client: GitHubClient
    org: str
    start: dt.datetime
    end: dt.datetime

    def per_repository(
        self,
        window: GitHubWindow,
        entity: Entity,
        repos: Sequence[GitHubRepository],
        batch_query: Callable[[list[GitHubRepository]], BatchResult],
    ) -> None:
        """`batch_query` over `repos`, `MAX_REPOS_PER_QUERY` at a time; each repository's
        records, or its failure, go to `window`."""
        for batch in _batches(repos, gq.MAX_REPOS_PER_QUERY):
            records, failed = batch_query(batch)
            for repo in batch:
                window.add_repository(
                    entity, repo.name, records.get(repo.name, []), failed.get(repo.name)
                )

    def commits(self, batch: list[GitHubRepository]) -> BatchResult:
        """Default-branch commits committed in `[start, end)` of a batch of repositories.

        A repository is recorded failed, with none of its commits, when any of its pages
        fails: its pages read before the failure are dropped, so the caller can keep what an
        earlier run collected for it instead of mixing the two. A query that GitHub keeps
        failing on its side (a timeout: `GitHubServerError`) is split before anything is
        recorded failed: half the repositories each, then, for one repository, smaller pages
        (`HISTORY_PAGES`).
        """
        client, org, start, end = self.client, self.org, self.start, self.end
        since = start - HISTORY_SLACK
        commits: dict[str, list[Any]] = {r.name: [] for r in batch}
        failed: dict[str, str] = {}
        # Each query: its repositories (with their cursors) and its page size.
        queries: deque[tuple[list[gq.HistoryTarget], int]] = deque(
            [([gq.HistoryTarget(org, r.name) for r in batch], HISTORY_PAGES[0])]
        )
        while queries:
            pending, first = queries.popleft()
            query = gq.build_commit_history_query(pending, since, end, first=first)
            try:
                data = client.graphql(query.query, query.variables)
            except GraphQLError as exc:
                # Keep what the other aliases answered; the failing ones are recorded.
                data = exc.data or {}
                for alias in exc.failed_aliases or set(query.aliases):
                    failed[query.aliases[alias][1]] = str(exc)
            except GitHubServerError as exc:
                smaller = _smaller(pending, first)
                if smaller:
                    queries.extend(smaller)
                else:
                    failed[pending[0].name] = str(exc)
                continue
            except GitHubError as exc:
                for target in pending:
                    failed[target.name] = str(exc)
                continue
            following: list[gq.HistoryTarget] = []
            for page in parse_commit_history(data, query):
                if page.name in failed:
                    continue
                if page.missing:
                    failed[page.name] = "the repository could not be read (deleted or no access)"
                    continue
                commits[page.name] += [
                    c for c in page.commits if in_window(c.committed_ts, start, end)
                ]
                target = page.next_target()
                if target is not None:
                    following.append(target)
            if following:
                queries.append((following, first))
        return commits, failed

    def releases_and_more(
        self,
        window: GitHubWindow,
        repos: Sequence[GitHubRepository],
        *,
        environment: str | None,
        codeowners_known: Mapping[str, str] | None,
        deploy_first: int,
    ) -> None:
        """Releases published and tags created in `[start, end)` of `repos`, and with the
        same queries their deployments to `environment` and their CODEOWNERS blob oids; then
        the deployments' further pages and the changed CODEOWNERS texts. Each repository's
        records, or its failure, go to `window` per entity. A repository the query cannot read
        (deleted since it was listed) fails alone."""
        org = self.org
        deployments = _Deployments(self, environment, deploy_first)
        oids: dict[str, tuple[str, str] | None] = {}
        owner_errors: dict[str, str] = {}
        for batch in _batches(repos, gq.MAX_REPOS_PER_QUERY):
            query = gq.build_releases_query(
                [(org, r.name) for r in batch],
                first=20,
                environment=environment,
                deploy_first=deploy_first,
                codeowners=codeowners_known is not None,
            )
            answer = _ask(self.client, query)
            by_repo = parse_releases(answer.data, query)
            pages = parse_deployments(answer.data, query) if environment is not None else {}
            found = (
                parse_codeowners_oids(answer.data, query) if codeowners_known is not None else {}
            )
            for alias, (_owner, name) in query.aliases.items():
                key = f"{org}/{name}"
                releases = [
                    r
                    for r in by_repo.get(key, [])
                    if in_window(parse_instant(r.published_at), self.start, self.end)
                ]
                window.add_repository(
                    "releases", name, releases, answer.error(alias, _RELEASE_FIELDS)
                )
                if environment is not None:
                    error = answer.error(alias, _DEPLOYMENT_FIELDS)
                    deployments.first_page(name, pages.get(key), error)
                if codeowners_known is not None:
                    error = answer.error(alias, _CODEOWNERS_FIELDS)
                    if error is None and key not in found:
                        error = "the repository could not be read (deleted or no access)"
                    if error is not None:
                        owner_errors[name] = error
                    else:
                        oids[name] = found[key]
        if environment is not None:
            deployments.follow_pages()
            for repo in repos:
                records, error = deployments.result(repo.name)
                window.add_repository("deployments", repo.name, records, error)
        if codeowners_known is not None:
            self.codeowners(window, repos, oids, owner_errors, codeowners_known)

    def codeowners(
        self,
        window: GitHubWindow,
        repos: Sequence[GitHubRepository],
        oids: Mapping[str, tuple[str, str] | None],
        errors: Mapping[str, str],
        known: Mapping[str, str],
    ) -> None:
        """Each repository's CODEOWNERS from the oids the releases query found: nothing to
        read where there is none or the oid is known; else the blob's text, 20 per query."""
        wanted = [
            gq.BlobTarget(self.org, name, found[1])
            for name, found in oids.items()
            if found is not None and known.get(name) != found[1]
        ]
        texts: dict[str, tuple[str, str]] = {}
        failed = dict(errors)
        for start in range(0, len(wanted), gq.MAX_REPOS_PER_QUERY):
            targets = wanted[start : start + gq.MAX_REPOS_PER_QUERY]
            query = gq.build_blobs_query(targets)
            answer = _ask(self.client, query)
            blobs = parse_blobs(answer.data, query)
            for alias, target in zip(query.aliases, targets, strict=True):
                error = answer.error(alias, frozenset({"object"}))
                blob = blobs.get(f"{target.owner}/{target.name}")
                if error is None and blob is not None and blob[0] == target.oid:
                    texts[target.name] = blob
                else:
                    failed[target.name] = error or (
                        "the CODEOWNERS blob could not be read (missing, binary or cut)"
                    )
        for repo in repos:
            name = repo.name
            found = oids.get(name)
            if name in failed:
                window.coverage.append(
                    EntityCoverage("codeowners", name, "failed", error=failed[name])
                )
                continue
            if found is None:
                window.codeowners[name] = None
            elif known.get(name) == found[1]:
                window.codeowners_unchanged.add(name)
            else:
                oid, text = texts[name]
                window.codeowners[name] = CodeownersRecord(
                    repo=name, location=found[0], oid=oid, text=text
                )
            window.coverage.append(
                EntityCoverage("codeowners", name, "ok", 0 if found is None else 1)
            )


@dataclass
class _Answer:
    """A batched query's data, and what failed in it: whole aliases (nothing of the
    repository is usable) or single fields of an alias GitHub otherwise answered."""

    data: dict[str, Any]
    failed: dict[str, str] = field(default_factory=dict)
    failed_fields: dict[tuple[str, str], str] = field(default_factory=dict)

    def error(self, alias: str, fields: Collection[str]) -> str | None:
        """Why `alias`'s `fields` cannot be used; None when they can."""
        if alias in self.failed:
            return self.failed[alias]
        return next(
            (e for (a, f), e in self.failed_fields.items() if a == alias and f in fields), None
        )


def _ask(client: GitHubClient, query: gq.BatchQuery) -> _Answer:
    """Run a batched query; GitHub's errors are sorted by the alias (and field) they name. An
    error naming no alias of the query, or a failed request, fails every alias."""
    try:
        return _Answer(client.graphql(query.query, query.variables))
    except GraphQLError as exc:
        answer = _Answer(exc.data or {})
        for error in exc.errors:
            path = error.get("path")
            if not isinstance(path, list) or not path or path[0] not in query.aliases:
                continue
            alias = str(path[0])
            if len(path) > 1 and isinstance(answer.data.get(alias), dict):
                answer.failed_fields.setdefault((alias, str(path[1])), str(exc))
            else:
                answer.failed.setdefault(alias, str(exc))
        if not answer.failed and not answer.failed_fields:
            answer.failed = {alias: str(exc) for alias in query.aliases}
        return answer
    except GitHubError as exc:
        return _Answer({}, {alias: str(exc) for alias in query.aliases})


class _Deployments:
    """Deployments of a window's repositories, page after page (newest created first), until
    each repository's pages reach back before `start - DEPLOYMENT_SLACK`."""

    def __init__(self, scope: _Scope, environment: str | None, deploy_first: int) -> None:
        self.scope = scope
        self.environment = environment
        self.deploy_first = deploy_first
        self.records: dict[str, list[DeploymentRecord]] = {}
        self.failed: dict[str, str] = {}
        self.pending: list[gq.DeploymentTarget] = []
        self.since = scope.start - DEPLOYMENT_SLACK

    def first_page(self, name: str, page: DeploymentPage | None, error: str | None) -> None:
        if error is None and page is None:
            error = "the repository could not be read (deleted or no access)"
        if error is not None:
            self.failed[name] = error
            return
        self.records[name] = []
        self._add(name, page)

    def _add(self, name: str, page: DeploymentPage) -> None:
        self.records[name] += page.deployments
        oldest = page.oldest
        if page.has_next and oldest is not None and oldest >= self.since:
            self.pending.append(gq.DeploymentTarget(self.scope.org, name, page.end_cursor))

    def follow_pages(self) -> None:
        """Further pages, 20 repositories per query, until none is needed."""
        assert self.environment is not None
        while self.pending:
            pending, self.pending = self.pending, []
            for start in range(0, len(pending), gq.MAX_REPOS_PER_QUERY):
                batch = pending[start : start + gq.MAX_REPOS_PER_QUERY]
                query = gq.build_deployments_query(batch, self.environment, self.deploy_first)
                answer = _ask(self.scope.client, query)
                pages = parse_deployments(answer.data, query)
                for alias, (owner, name) in query.aliases.items():
                    error = answer.error(alias, _DEPLOYMENT_FIELDS)
                    page = pages.get(f"{owner}/{name}")
                    if error is None and page is None:
                        error = "the repository could not be read (deleted or no access)"
                    if error is not None:
                        self.failed[name] = error
                        self.records.pop(name, None)
                    else:
                        self._add(name, page)

    def result(self, name: str) -> tuple[list[DeploymentRecord], str | None]:
        """The repository's kept deployments, oldest first, or why it failed (none kept)."""
        if name in self.failed:
            return [], self.failed[name]
        start, end = self.scope.start, self.scope.end
        kept = {
            d.id: d
            for d in self.records.get(name, [])
            if in_window(parse_instant(d.created_at), self.since, end)
            or any(in_window(parse_instant(s.created_at), start, end) for s in d.statuses)
        }
        return sorted(kept.values(), key=lambda d: (parse_instant(d.created_at), d.id)), None


def _smaller(
    pending: list[gq.HistoryTarget], first: int
) -> list[tuple[list[gq.HistoryTarget], int]]:
    """A failing history query made smaller: two halves of its repositories, or for one
    repository the next smaller page; nothing when it is one repository at the smallest page."""
    if len(pending) > 1:
        half = len(pending) // 2
        return [(pending[:half], first), (pending[half:], first)]
    smaller = [size for size in HISTORY_PAGES if size < first]
    return [(pending, smaller[0])] if smaller else []


def list_repository_names(client: GitHubClient, org: str) -> list[str]:
    """Every repository of the org, all pages."""
    return [node["name"] for node in _repository_nodes(client, org)]


@dataclass
class _Tally:
    """One day's counts and oldest items, summed over its searches."""

    pull_requests: int = 0
    issues: int = 0
    oldest_pull_requests: list[BacklogItem] = field(default_factory=list)
    oldest_issues: list[BacklogItem] = field(default_factory=list)

    def add(self, field_name: str, count: int, items: list[BacklogItem]) -> None:
        if field_name.endswith("Prs"):
            self.pull_requests += count
            self.oldest_pull_requests += items
        else:
            self.issues += count
            self.oldest_issues += items


def collect_backlog(
    client: GitHubClient,
    org: str,
    ends: Sequence[dt.datetime],
    *,
    selected: Selected = None,
    limit: int = gq.BACKLOG_OLDEST,
) -> list[BacklogSnapshot | EntityCoverage]:
    """What `org` (or its `selected` repositories) had open at each of `ends`, one result per
    end in order: a snapshot, or a failed `EntityCoverage` (entity "backlog", `at` the end).

    GitHub's search answers for a past instant exactly (`github_queries.BacklogSearch`): four
    `search` fields per day and five days per GraphQL query (1 point).
    A filter that selects some repositories costs one listing of the org's repositories more.
    A day that fails is recorded and the other days are kept.

    What search cannot see: an item closed before the instant and reopened since counts as
    open (GitHub keeps no closing history in search), and a deleted or transferred item is gone.
    """
    if not ends:
        return []
    source = "github-graphql"
    scope = "org" if selected is None else "selected repositories"
    ats = [end.isoformat(timespec="seconds") for end in ends]
    try:
        if selected is None:
            plans = [gq.backlog_searches(org, end) for end in ends]
        else:
            names = list_repository_names(client, org)
            chosen = [name for name in names if selected(name)]
            plans = [
                gq.backlog_searches(org, end, selected=chosen, org_repos=names) for end in ends
            ]
    except GitHubError as exc:
        return [
            EntityCoverage("backlog", None, "failed", error=str(exc), source=source, at=at)
            for at in ats
        ]
    tallies = [_Tally() for _ in ends]
    errors: dict[int, str] = {}
    plan = [(day, search) for day, searches in enumerate(plans) for search in searches]
    _backlog_graphql(client, plan, limit, tallies, errors)
    results: list[BacklogSnapshot | EntityCoverage] = []
    for day, (at, tally) in enumerate(zip(ats, tallies, strict=True)):
        if day in errors:
            results.append(
                EntityCoverage("backlog", None, "failed", error=errors[day], source=source, at=at)
            )
            continue
        results.append(
            BacklogSnapshot(
                at=at,
                pull_requests_open=tally.pull_requests,
                issues_open=tally.issues,
                oldest_pull_requests=oldest_first(tally.oldest_pull_requests, limit),
                oldest_issues=oldest_first(tally.oldest_issues, limit),
                scope=scope,
            )
        )
    return results


def _backlog_graphql(
    client: GitHubClient,
    plan: Sequence[tuple[int, gq.BacklogSearch]],
    limit: int,
    tallies: list[_Tally],
    errors: dict[int, str],
) -> None:
    """`plan`'s searches, `MAX_BACKLOG_GROUPS` scopes per query; a day whose search fails (or
    answers no count) goes to `errors`, the query's other days are kept."""
    for start in range(0, len(plan), gq.MAX_BACKLOG_GROUPS):
        batch = plan[start : start + gq.MAX_BACKLOG_GROUPS]
        query = gq.build_backlog_query(len(batch))
        variables = gq.backlog_variables([search for _, search in batch], limit)
        failed: set[str] = set()
        error = "GitHub's search answered without a count"
        try:
            data = client.graphql(query, variables)
        except GraphQLError as exc:
            data, error = exc.data or {}, str(exc)
            failed = exc.failed_aliases or {a for a in variables if a != "n"}
        except GitHubError as exc:
            for day, _ in batch:
                errors.setdefault(day, str(exc))
            continue
        for index, (day, _search) in enumerate(batch):
            for name in gq.BACKLOG_FIELDS:
                alias = f"{name}{index}"
                answer = data.get(alias)
                if (
                    alias in failed
                    or not isinstance(answer, dict)
                    or answer.get("issueCount") is None
                ):
                    errors.setdefault(day, error)
                    continue
                nodes = [n for n in answer.get("nodes") or [] if n and "number" in n]
                tallies[day].add(
                    name, int(answer["issueCount"]), [parse_backlog_node(n) for n in nodes]
                )


def collect_teams(client: GitHubClient, org: str, selected: Selected = None) -> list[TeamRecord]:
    """The org's teams, each with the (selected) repositories it has access to, by name.

    One query per 100 teams, each with its first 100 repositories; a team with more has them
    read on, 20 teams per query. What the token cannot see is not there: GitHub lists the
    teams visible to the token's owner (`read:org`). Raises `GitHubError` when a page fails:
    a team list missing some teams or repositories would misattribute ownership silently.
    """
    keep = selected or _everything
    teams: dict[str, TeamRecord] = {}
    more: list[gq.TeamTarget] = []
    after: str | None = None
    while True:
        data = client.graphql(gq.TEAMS_QUERY, gq.teams_variables(org, after))
        if data.get("organization") is None:
            raise GitHubError(f"GitHub has no organization {org!r} (or the token cannot see it)")
        pages, has_next, after = parse_teams_page(data)
        for page in pages:
            teams[page.team.slug] = page.team
            if page.has_next:
                more.append(gq.TeamTarget(page.team.slug, page.end_cursor))
        if not has_next:
            break
    while more:
        batch, more = more[: gq.MAX_REPOS_PER_QUERY], more[gq.MAX_REPOS_PER_QUERY :]
        query = gq.build_team_repositories_query(org, batch)
        pages_by_slug = parse_team_repositories(client.graphql(query.query, query.variables), query)
        for target in batch:
            if target.slug not in pages_by_slug:
                raise GitHubError(f"GitHub did not answer team {target.slug!r}'s repositories")
            names, has_next, cursor = pages_by_slug[target.slug]
            team = teams[target.slug]
            teams[target.slug] = team.model_copy(update={"repos": [*team.repos, *names]})
            if has_next:
                more.append(gq.TeamTarget(target.slug, cursor))
    return [
        team.model_copy(update={"repos": [n for n in team.repos if keep(n)]})
        for team in teams.values()
    ]


def _pull_request_files(
    client: GitHubClient,
    org: str,
    window: GitHubWindow,
    first_pages: Mapping[tuple[str, int], FilesPage],
) -> None:
    """The changed files of the kept pull requests with more than the search's first 100:
    further pages, 20 pull requests per query. A pull request whose page fails keeps
    `files=None` and its repository gets a failed "pull_requests" coverage entry."""
    paths = {key: list(page.paths) for key, page in first_pages.items() if page.has_next}
    pending = [
        gq.FilesTarget(org, repo, number, first_pages[(repo, number)].end_cursor)
        for repo, number in paths
    ]
    failed: dict[tuple[str, int], str] = {}
    while pending:
        batch, pending = pending[: gq.MAX_REPOS_PER_QUERY], pending[gq.MAX_REPOS_PER_QUERY :]
        query = gq.build_pull_request_files_query(batch)
        answer = _ask(client, query)
        pages = parse_pull_request_files(answer.data, query)
        for alias, target in zip(query.aliases, batch, strict=True):
            key = (target.name, target.number)
            error = answer.error(alias, frozenset({"pullRequest"}))
            page = pages.get(alias)
            if error is None and page is None:
                error = f"pull request #{target.number}'s files could not be read"
            if error is not None:
                failed[key] = error
                continue
            paths[key] += page.paths
            if page.has_next:
                pending.append(gq.FilesTarget(org, target.name, target.number, page.end_cursor))
    for i, pr in enumerate(window.pull_requests):
        key = (pr.repo, pr.number)
        if key in paths and key not in failed:
            window.pull_requests[i] = pr.model_copy(update={"files": paths[key]})
    for (repo, number), error in sorted(failed.items()):
        window.coverage.append(
            EntityCoverage("pull_requests", repo, "failed", error=f"#{number} files: {error}")
        )


def collect_window(
    client: GitHubClient,
    org: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    selected: Selected = None,
    bots: Collection[str] = (),
    day_ends: Sequence[dt.datetime] = (),
    deployments_environment: str | None = None,
    teams: bool = False,
    codeowners_known: Mapping[str, str] | None = None,
    deployments_page: int = gq.DEPLOYMENTS_PAGE,
) -> GitHubWindow:
    """Everything of `org` active in `[start, end)`; needs a token (GraphQL).

    `selected` None takes every repository. `day_ends`: the instants whose backlog is wanted
    (each day's end); those after `now` are not over and get no snapshot.
    `deployments_environment`: the environment whose deployments are collected (None: none).
    `teams`: list the org's teams. `codeowners_known`: repository -> CODEOWNERS blob oid known
    from earlier runs (None: CODEOWNERS not asked; {}: asked, nothing known). Deployments and
    CODEOWNERS are asked of the repositories pushed in the window (a CODEOWNERS change is a
    push), in the releases queries, so they cost requests only for what changed or pages on.
    """
    window = GitHubWindow()
    keep = selected or _everything
    try:
        repos = [r for r in list_repositories(client, org, start) if keep(r.name)]
    except GitHubError as exc:
        window.coverage.append(EntityCoverage("repositories", None, "failed", error=str(exc)))
        return window
    window.repositories = repos
    window.coverage.append(EntityCoverage("repositories", None, "ok", len(repos)))
    scope = _Scope(client, org, start, end)
    scope.per_repository(window, "commits", repos, scope.commits)

    search_end = max(end, now)
    for kind in ("pr", "issue"):
        entity: Entity = "pull_requests" if kind == "pr" else "issues"
        try:
            nodes = search_window(client.graphql, org, kind, start, search_end)
        except GitHubError as exc:
            window.coverage.append(EntityCoverage(entity, None, "failed", error=str(exc)))
            continue
        parse, own_events = _ITEM_KINDS[kind]
        kept = 0
        files: dict[tuple[str, int], FilesPage] = {}
        for node in nodes:
            repo = (node.get("repository") or {}).get("name", "")
            if not keep(repo):
                continue
            record = parse(node, bots)
            events = [*own_events(record), *comment_times(node)]
            if active_in(events, start, end):
                getattr(window, entity).append(record)
                window.events[(kind, record.repo, record.number)] = events
                kept += 1
                page = files_page(node.get("files")) if kind == "pr" else None
                if page is not None:
                    files[(record.repo, record.number)] = page
        window.coverage.append(EntityCoverage(entity, None, "ok", kept))
        if files:
            _pull_request_files(client, org, window, files)
    scope.releases_and_more(
        window,
        repos,
        environment=deployments_environment,
        codeowners_known=codeowners_known,
        deploy_first=deployments_page,
    )
    if teams:
        try:
            window.teams = collect_teams(client, org, selected)
            window.coverage.append(EntityCoverage("teams", None, "ok", len(window.teams)))
        except GitHubError as exc:
            window.coverage.append(EntityCoverage("teams", None, "failed", error=str(exc)))
    ends = [e for e in day_ends if e <= now]
    window.add_backlog(collect_backlog(client, org, ends, selected=selected), "github-graphql")
    return window


# A search stream's parser and the events of what it parsed, per kind.
_ITEM_KINDS: dict[str, tuple[Callable[..., Any], Callable[[Any], list[str]]]] = {
    "pr": (parse_pull_request_node, pull_request_events),
    "issue": (parse_issue_node, issue_events),
}


def _everything(name: str) -> bool:
    return True


class GitHubResource(dg.ConfigurableResource):
    """The org Sparky collects from GitHub; unconfigured (`org=None`) it collects nothing.

    The token is a Dagster `EnvVar("GITHUB_TOKEN")` in the definitions, never a config value.
    With `org` set it is required: `repositories` and `collect` raise `GitHubTokenMissing`
    (one line, no request made) without it.
    """

    org: str | None = None
    api_url: str = "https://api.github.com"
    graphql_url: str | None = None
    token: str | None = None
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    cache_dir: str | None = None
    max_wait_s: float = 900.0
    # The first retry's back-off after a 5xx or a timeout, doubling with each retry.
    backoff_s: float = 1.0

    @property
    def configured(self) -> bool:
        return self.org is not None

    def selected(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.include) and not any(
            fnmatch.fnmatchcase(name, p) for p in self.exclude
        )

    @property
    def selects_everything(self) -> bool:
        """`include` has `*` and nothing is excluded: the whole org, no listing needed."""
        return "*" in self.include and not self.exclude

    @property
    def repo_filter(self) -> Selected:
        """`selected`, or None for the whole org (what the collectors take)."""
        return None if self.selects_everything else self.selected

    def _client(self) -> GitHubClient:
        return GitHubClient(
            self.api_url,
            self.graphql_url,
            SecretStr(self.token) if self.token else None,
            etag_dir=Path(self.cache_dir) if self.cache_dir else None,
            max_wait_s=self.max_wait_s,
            backoff_s=self.backoff_s,
        )

    def _require_token(self) -> None:
        """GitHub collection needs a token: without one GitHub allows 60 requests an hour
        (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api),
        which cannot serve an org, and its GraphQL API answers nothing."""
        if not (self.token or "").strip():
            raise GitHubTokenMissing(
                f"[github].org is {self.org!r} and GitHub collection needs a token: set "
                "GITHUB_TOKEN (read access to the org's repositories) or remove [github].org "
                "to collect local clones only"
            )

    def repositories(self, pushed_since: dt.datetime) -> list[GitHubRepository]:
        """The org's selected repositories pushed since an instant (one request, usually)."""
        if self.org is None:
            return []
        self._require_token()
        with self._client() as client:
            found = list_repositories(client, self.org, pushed_since)
        return [r for r in found if self.selected(r.name)]

    def collect(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        now: dt.datetime,
        bots: Collection[str],
        day_ends: Sequence[dt.datetime] = (),
        deployments_environment: str | None = None,
        teams: bool = False,
        codeowners_known: Mapping[str, str] | None = None,
    ) -> tuple[GitHubWindow, dict[str, float]]:
        """The window's activity, the backlog at each of `day_ends` that is not after `now`,
        and the client's request counters. Raises `GitHubTokenMissing` without a token, and
        `GitHubUnreachable` when GitHub could not be connected to at all: a window of
        connection failures is no window. Deployments, teams and CODEOWNERS: as
        `collect_window` takes them."""
        if self.org is None:
            return GitHubWindow(), {}
        self._require_token()
        with self._client() as client:
            window = collect_window(
                client,
                self.org,
                start,
                end,
                now=now,
                selected=self.repo_filter,
                bots=bots,
                day_ends=day_ends,
                deployments_environment=deployments_environment,
                teams=teams,
                codeowners_known=codeowners_known,
            )
            if client.unreachable:
                raise GitHubUnreachable(next(iter(client.unreachable.values())))
            return window, client.counters.as_dict()
