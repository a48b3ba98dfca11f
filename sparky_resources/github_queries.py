"""GraphQL documents Sparky sends to GitHub, cheap by construction.

Every query selects only what Sparky's records need, asks for at most 100 items per connection
(GitHub rejects more: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#node-limit)
and reports its own price with `rateLimit { cost remaining resetAt }`, which the client adds up.
Values always travel as variables, never formatted into the text, so a repository or
organization name can never change the shape of a query. tests/test_github_queries.py
validates every document these builders can make against GitHub's published schema.

Points (same page, "Predicting the point value of a query"): the connections a query may have
to open, divided by 100. A search page of 100 pull requests with seven nested connections each
opens 1 + 100 * 7 = 701 connections: 7 points. A history page of 100 commits with `parents`
opens 101 per repository: about 1 point per repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Aliases in a batched query are r0, r1, ...; GitHub answers each under its alias.
MAX_REPOS_PER_QUERY = 20
HISTORY_PAGE = 100  # commits per repository and page of a commit-history query
SEARCH_RESULT_CAP = 1000  # https://docs.github.com/en/rest/search/search#about-search

RATE_LIMIT_SELECTION = "rateLimit { cost remaining resetAt }"

ORG_REPOSITORIES_QUERY = f"""
query OrgRepositories($org: String!, $after: String) {{
  organization(login: $org) {{
    repositories(first: 100, after: $after, orderBy: {{field: PUSHED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        name nameWithOwner url pushedAt isArchived isFork visibility
        defaultBranchRef {{ name }}
      }}
    }}
  }}
  {RATE_LIMIT_SELECTION}
}}
"""
"""The org's repositories, most recently pushed first: stop at the first one pushed before the
window (PUSHED_AT descending), so a day's run costs one page for most organizations."""

COMMIT_FIELDS_FRAGMENT = """
fragment SparkyCommit on Commit {
  oid committedDate authoredDate additions deletions changedFilesIfAvailable messageHeadline
  messageBody
  parents(first: 2) { totalCount nodes { oid } }
  author { name email user { login } }
  committer { name email user { login } }
}
"""

_PR_FIELDS = """
number title url body
author { login __typename }
state isDraft createdAt updatedAt mergedAt closedAt
mergedBy { login }
additions deletions changedFiles
labels(first: 20) { nodes { name } }
reviewRequests(first: 20) { nodes { requestedReviewer { ... on User { login } } } }
reviews(first: 50) { nodes { author { login __typename } state submittedAt } }
comments(first: 50) { nodes { author { login __typename } createdAt } }
timelineItems(itemTypes: [READY_FOR_REVIEW_EVENT], last: 1) {
  nodes { ... on ReadyForReviewEvent { createdAt } }
}
closingIssuesReferences(first: 20) { nodes { number } }
files(first: 100) { totalCount pageInfo { hasNextPage endCursor } nodes { path } }
repository { name }
"""

_ISSUE_FIELDS = """
number title url
author { login __typename }
state stateReason createdAt updatedAt closedAt
labels(first: 20) { nodes { name } }
comments(first: 50) { totalCount nodes { author { login __typename } createdAt } }
repository { name }
"""


def _search_query(operation: str, typename: str, fields: str) -> str:
    return f"""
query {operation}($q: String!, $after: String) {{
  search(type: ISSUE, query: $q, first: 100, after: $after) {{
    issueCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      ... on {typename} {{{fields}      }}
    }}
  }}
  {RATE_LIMIT_SELECTION}
}}
"""


SEARCH_PULL_REQUESTS_QUERY = _search_query("SearchPullRequests", "PullRequest", _PR_FIELDS)
"""One page of pull requests matching `$q` (build it with `search_query(org, "pr", ...)`)."""

SEARCH_ISSUES_QUERY = _search_query("SearchIssues", "Issue", _ISSUE_FIELDS)
"""One page of issues matching `$q` (build it with `search_query(org, "issue", ...)`)."""


@dataclass(frozen=True)
class HistoryTarget:
    """One repository in a batched commit-history query, with its page cursor (None: first)."""

    owner: str
    name: str
    after: str | None = None


@dataclass(frozen=True)
class ReleaseTarget:
    """One repository in a batched releases-and-tags query, with a cursor per connection."""

    owner: str
    name: str
    releases_after: str | None = None
    tags_after: str | None = None


@dataclass(frozen=True)
class BatchQuery:
    """A query over several repositories: its text, its variables, and which alias is which."""

    query: str
    variables: dict[str, Any]
    aliases: dict[str, tuple[str, str]]  # "r0" -> (owner, name)


def _targets(items: Sequence[Any], cls: type) -> list[Any]:
    targets = [item if isinstance(item, cls) else cls(*item) for item in items]
    if not targets:
        raise ValueError("a batched query needs at least one repository")
    if len(targets) > MAX_REPOS_PER_QUERY:
        raise ValueError(
            f"{len(targets)} repositories in one query; at most {MAX_REPOS_PER_QUERY} "
            "(split the list: one query's points grow with every alias)"
        )
    return targets


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; GitHub needs an offset to know the instant")
    return value.isoformat(timespec="seconds")


# A query's variables: name -> (GraphQL type, value).
Variables = dict[str, tuple[str, Any]]


def _repository_batch(
    operation: str,
    targets: Sequence[Any],
    shared: Variables,
    selection: Callable[[int, Any], tuple[Variables, str]],
    fragments: str = "",
) -> BatchQuery:
    """One query with an alias `r{index}` per repository of `targets` (each with an `owner`
    and a `name`): `shared` variables once, and `selection(index, target)` giving that
    repository's own variables (suffixed with its index) and what it selects."""
    declared = [f"${key}: {kind}" for key, (kind, _) in shared.items()]
    variables: dict[str, Any] = {key: value for key, (_, value) in shared.items()}
    blocks: list[str] = []
    aliases: dict[str, tuple[str, str]] = {}
    for index, target in enumerate(targets):
        own, body = selection(index, target)
        own = {"owner": ("String!", target.owner), "name": ("String!", target.name), **own}
        for key, (kind, value) in own.items():
            declared.append(f"${key}{index}: {kind}")
            variables[f"{key}{index}"] = value
        alias = f"r{index}"
        aliases[alias] = (target.owner, target.name)
        blocks.append(
            f"\n  {alias}: repository(owner: $owner{index}, name: $name{index}) {{{body}\n  }}"
        )
    query = (
        f"query {operation}({', '.join(declared)}) {{{''.join(blocks)}\n"
        f"  {RATE_LIMIT_SELECTION}\n}}\n{fragments}"
    )
    return BatchQuery(query=query, variables=variables, aliases=aliases)


def build_commit_history_query(
    targets: Sequence[HistoryTarget | tuple[str, str] | tuple[str, str, str | None]],
    since: dt.datetime,
    until: dt.datetime,
    first: int = HISTORY_PAGE,
) -> BatchQuery:
    """Default-branch history of several repositories in one query, one alias per repository,
    `first` commits a page (a smaller page for a query that keeps timing out).

    `history(since:, until:)` is not documented as filtering by author or by committer date,
    so callers window the returned commits by `committedDate` themselves (and should ask for a
    `since` a little earlier than the window when author and committer dates may differ).
    """
    if not 1 <= first <= 100:
        raise ValueError(f"first={first}: GitHub allows 1 to 100 items per connection")
    shared = {
        "since": ("GitTimestamp!", _timestamp(since)),
        "until": ("GitTimestamp!", _timestamp(until)),
        "first": ("Int!", first),
    }

    def history(index: int, target: HistoryTarget) -> tuple[Variables, str]:
        return (
            {"after": ("String", target.after)},
            f"""
    nameWithOwner
    defaultBranchRef {{
      name
      target {{
        ... on Commit {{
          history(first: $first, since: $since, until: $until, after: $after{index}) {{
            pageInfo {{ hasNextPage endCursor }}
            nodes {{ ...SparkyCommit }}
          }}
        }}
      }}
    }}""",
        )

    items = _targets(targets, HistoryTarget)
    return _repository_batch("CommitHistory", items, shared, history, COMMIT_FIELDS_FRAGMENT)


# Deployments per repository and page (newest created first), and the statuses read of each:
# GitHub lists a deployment's statuses newest first, so the newest outcome is always among them.
DEPLOYMENTS_PAGE = 50
DEPLOYMENT_STATUSES = 10
# Where GitHub looks for CODEOWNERS, in its order: "If CODEOWNERS files exist in more than one
# of those locations, GitHub will search for them in that order and use the first one it finds"
# (https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-file-location).
# Each location is one alias of the releases query; the alias order is GitHub's order.
CODEOWNERS_LOCATIONS: dict[str, str] = {
    "codeownersGithub": ".github/CODEOWNERS",
    "codeownersRoot": "CODEOWNERS",
    "codeownersDocs": "docs/CODEOWNERS",
}


def _deployments_selection(after: str | None) -> str:
    """A repository's deployments to `$environment`, newest created first, with the newest
    `DEPLOYMENT_STATUSES` statuses of each; `after` names the cursor variable (None: page 1)."""
    cursor = f" after: ${after}," if after else ""
    return f"""
    deployments(first: $deployFirst,{cursor} environments: [$environment],
                orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        databaseId environment commitOid createdAt
        statuses(first: {DEPLOYMENT_STATUSES}) {{ nodes {{ state createdAt }} }}
      }}
    }}"""


def _deployments_shared(environment: str, deploy_first: int) -> Variables:
    if not 1 <= deploy_first <= 100:
        raise ValueError(
            f"deploy_first={deploy_first}: GitHub allows 1 to 100 items per connection"
        )
    if not environment:
        raise ValueError("a deployments query needs an environment's name")
    return {"environment": ("String!", environment), "deployFirst": ("Int!", deploy_first)}


def build_releases_query(
    targets: Sequence[ReleaseTarget | tuple[str, str] | tuple[str, str, str | None, str | None]],
    first: int = 20,
    *,
    environment: str | None = None,
    deploy_first: int = DEPLOYMENTS_PAGE,
    codeowners: bool = False,
) -> BatchQuery:
    """Newest releases and tags of several repositories in one query, and optionally, in the
    same request: the newest deployments to `environment` (None: none asked) and which
    CODEOWNERS file exists (`codeowners`: the blob oid at each of `CODEOWNERS_LOCATIONS` in
    the default branch's head; the text is fetched apart, only when the oid changed).

    Releases come newest-created first and tags newest-tagged-commit first, so a caller stops
    paging a repository at its first item older than the window. A lightweight tag has no date
    of its own: its commit's date stands in; an annotated tag has its tagger's date. The
    commit a release or tag points at is `tagCommit` (Release) or the ref's target Commit (the
    annotated Tag's target Commit).
    """
    if not 1 <= first <= 100:
        raise ValueError(f"first={first}: GitHub allows 1 to 100 items per connection")
    shared: Variables = {"first": ("Int!", first)}
    if environment is not None:
        shared.update(_deployments_shared(environment, deploy_first))
    # "HEAD:<path>" is git's `<rev>:<path>` (the file in HEAD's tree), which `Repository.object
    # (expression:)` takes; HEAD is the default branch. Constant text, never a caller's value.
    owners = "".join(
        f'\n    {alias}: object(expression: "HEAD:{path}") {{ ... on Blob {{ oid }} }}'
        for alias, path in CODEOWNERS_LOCATIONS.items()
    )

    def releases_and_tags(index: int, target: ReleaseTarget) -> tuple[Variables, str]:
        own: Variables = {
            "releasesAfter": ("String", target.releases_after),
            "tagsAfter": ("String", target.tags_after),
        }
        body = f"""
    name nameWithOwner url
    releases(first: $first, after: $releasesAfter{index},
             orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        tagName name url author {{ login }} publishedAt createdAt isDraft isPrerelease
        description tagCommit {{ oid }}
      }}
    }}
    refs(refPrefix: "refs/tags/", first: $first, after: $tagsAfter{index},
         orderBy: {{field: TAG_COMMIT_DATE, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        name
        target {{
          __typename
          ... on Commit {{ oid committedDate }}
          ... on Tag {{
            tagger {{ date user {{ login }} }}
            target {{ ... on Commit {{ oid committedDate }} }}
          }}
        }}
      }}
    }}"""
        if environment is not None:
            body += _deployments_selection(None)
        if codeowners:
            body += owners
        return own, body

    items = _targets(targets, ReleaseTarget)
    return _repository_batch("ReleasesAndTags", items, shared, releases_and_tags)


@dataclass(frozen=True)
class DeploymentTarget:
    """One repository whose deployments need a further page (`after`: its cursor)."""

    owner: str
    name: str
    after: str | None = None


def build_deployments_query(
    targets: Sequence[DeploymentTarget | tuple[str, str] | tuple[str, str, str | None]],
    environment: str,
    deploy_first: int = DEPLOYMENTS_PAGE,
) -> BatchQuery:
    """The next page of deployments to `environment` of several repositories (the ones whose
    first page, in the releases query, did not reach back far enough)."""
    shared = _deployments_shared(environment, deploy_first)

    def deployments(index: int, target: DeploymentTarget) -> tuple[Variables, str]:
        return {"deployAfter": ("String", target.after)}, _deployments_selection(
            f"deployAfter{index}"
        )

    items = _targets(targets, DeploymentTarget)
    return _repository_batch("Deployments", items, shared, deployments)


@dataclass(frozen=True)
class BlobTarget:
    """One repository's blob to read, by its oid (a CODEOWNERS file whose oid changed)."""

    owner: str
    name: str
    oid: str


def build_blobs_query(targets: Sequence[BlobTarget | tuple[str, str, str]]) -> BatchQuery:
    """The text of one blob per repository (`Repository.object(oid:)`). `isTruncated`: GitHub
    may cut a large blob's text; such a text is not the file."""

    def blob(index: int, target: BlobTarget) -> tuple[Variables, str]:
        return (
            {"oid": ("GitObjectID!", target.oid)},
            f"""
    object(oid: $oid{index}) {{ ... on Blob {{ oid text isTruncated }} }}""",
        )

    items = _targets(targets, BlobTarget)
    return _repository_batch("Blobs", items, {}, blob)


@dataclass(frozen=True)
class FilesTarget:
    """A pull request whose changed files go on past the search's first 100 (`after`)."""

    owner: str
    name: str
    number: int
    after: str | None = None


def build_pull_request_files_query(
    targets: Sequence[FilesTarget | tuple[str, str, int, str | None]],
) -> BatchQuery:
    """The next 100 changed files of up to `MAX_REPOS_PER_QUERY` pull requests (one alias per
    pull request, so the same repository may appear under several aliases)."""

    def files(index: int, target: FilesTarget) -> tuple[Variables, str]:
        return (
            {"number": ("Int!", target.number), "filesAfter": ("String", target.after)},
            f"""
    pullRequest(number: $number{index}) {{
      files(first: 100, after: $filesAfter{index}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ path }}
      }}
    }}""",
        )

    items = _targets(targets, FilesTarget)
    return _repository_batch("PullRequestFiles", items, {}, files)


# Teams: 100 a page, and the first 100 repositories of each (1 + 100 connections: 1 point).
TEAMS_QUERY = f"""
query OrgTeams($org: String!, $after: String) {{
  organization(login: $org) {{
    teams(first: 100, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        slug name
        repositories(first: 100) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ name }} }}
      }}
    }}
  }}
  {RATE_LIMIT_SELECTION}
}}
"""
"""The org's teams, a page of 100, each with its first 100 repositories; a team with more is
read on by `build_team_repositories_query`."""


def teams_variables(org: str, after: str | None = None) -> dict[str, Any]:
    return {"org": org, "after": after}


@dataclass(frozen=True)
class TeamTarget:
    """A team whose repositories go on past the first 100 (`after`: the cursor)."""

    slug: str
    after: str | None = None


def build_team_repositories_query(org: str, targets: Sequence[TeamTarget]) -> BatchQuery:
    """The next 100 repositories of several teams of `org` (`Organization.team(slug:)`, one
    alias `t{index}` per team under one `organization`); `aliases` maps to (org, slug)."""
    items = _targets(targets, TeamTarget)
    declared = ["$org: String!"]
    variables: dict[str, Any] = {"org": org}
    blocks: list[str] = []
    aliases: dict[str, tuple[str, str]] = {}
    for index, target in enumerate(items):
        declared += [f"$slug{index}: String!", f"$after{index}: String"]
        variables[f"slug{index}"] = target.slug
        variables[f"after{index}"] = target.after
        aliases[f"t{index}"] = (org, target.slug)
        blocks.append(
            f"""
    t{index}: team(slug: $slug{index}) {{
      repositories(first: 100, after: $after{index}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ name }}
      }}
    }}"""
        )
    query = (
        f"query TeamRepositories({', '.join(declared)}) {{\n"
        f"  organization(login: $org) {{{''.join(blocks)}\n  }}\n"
        f"  {RATE_LIMIT_SELECTION}\n}}\n"
    )
    return BatchQuery(query=query, variables=variables, aliases=aliases)


def search_query(
    org: str, kind: Literal["pr", "issue"], start: dt.datetime, end: dt.datetime
) -> str:
    """The search string for `kind` in `org` updated in `[start, end)`.

    Date-times carry their offset (`updated:2025-06-03T00:00:00-04:00..2025-06-03T23:59:59-04:00`):
    GitHub's search takes `YYYY-MM-DDTHH:MM:SS+00:00` with a UTC offset
    (https://docs.github.com/en/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates),
    while a date alone names a whole day that is not the org's day unless the org is on UTC.
    A range `a..b` includes both ends and GitHub's times have whole seconds, so the half-open
    window ends one second before `end`.

    `updated` is an item's LAST update: a search for a past window misses items touched again
    since. To collect a past window completely, search from its start to now and keep the
    items whose own events (created, merged, closed, reviewed) fall in the window.
    """
    if kind not in ("pr", "issue"):
        raise ValueError(f"kind={kind!r}: expected 'pr' or 'issue'")
    if end <= start:
        raise ValueError(f"empty window: {start.isoformat()} .. {end.isoformat()}")
    last = end - dt.timedelta(seconds=1)
    return f"org:{org} is:{kind} updated:{_timestamp(start)}..{_timestamp(last)}"


def search_variables(q: str, after: str | None = None) -> dict[str, Any]:
    return {"q": q, "after": after}


def org_repositories_variables(org: str, after: str | None = None) -> dict[str, Any]:
    return {"org": org, "after": after}


# ---------------------------------------------------------------------------------------------
# Backlog: what was open at an instant


BACKLOG_OLDEST = 10  # the oldest items kept per kind in a snapshot
# "Queries longer than 256 characters are not supported" (search-github/getting-started-with-
# searching-on-github/troubleshooting-search-queries#limitations-on-query-length). The REST page
# says operators and qualifiers do not count; this counts every character, so it holds either way.
SEARCH_QUERY_MAX_CHARS = 256
# Four searches per scope; a request carries at most this many scopes (days x repository
# chunks): 20 `search` fields of `first: 10` are 20 connections, 1 point.
MAX_BACKLOG_GROUPS = 5
BACKLOG_FIELDS = ("openPrs", "closedPrs", "openIssues", "closedIssues")
SORT_OLDEST_FIRST = "sort:created-asc"  # search-github/.../sorting-search-results

BACKLOG_FRAGMENTS = """
fragment BacklogPullRequest on PullRequest {
  number title url createdAt updatedAt isDraft author { login __typename } repository { name }
}
fragment BacklogIssue on Issue {
  number title url createdAt updatedAt author { login __typename } repository { name }
}
"""


@dataclass(frozen=True)
class BacklogSearch:
    """The four searches whose counts add up to what one scope had open at `end`.

    Open at END = created before END and (open now, or closed after END): GitHub's search knows
    only an item's current state and last `closed_at`, and a merged pull request is closed (its
    `closed_at` is the merge). The two halves are disjoint (`is:open` / `is:closed`), so their
    `issueCount`s add up. Strings carry no `sort:`; GraphQL appends `SORT_OLDEST_FIRST`, REST
    sends `sort=created&order=asc`.
    """

    end: dt.datetime
    scope: str  # "org:acme", "repo:acme/a repo:acme/b" or "org:acme -repo:acme/x"
    open_prs: str
    closed_prs: str
    open_issues: str
    closed_issues: str

    @property
    def queries(self) -> dict[str, str]:
        """The search strings by GraphQL field name (`BACKLOG_FIELDS` order)."""
        return dict(
            zip(
                BACKLOG_FIELDS,
                (self.open_prs, self.closed_prs, self.open_issues, self.closed_issues),
                strict=True,
            )
        )


def _backlog_search(end: dt.datetime, scope: str) -> BacklogSearch:
    # Date-times with the offset, never a date: a date alone is a whole UTC day
    # (https://docs.github.com/en/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates).
    # GitHub's times are whole seconds: `<END` leaves out an item created at END, `>END` one
    # closed at END (it was no longer open at that instant).
    at = _timestamp(end)
    created = f"created:<{at}"
    closed = f"is:closed closed:>{at}"
    return BacklogSearch(
        end=end,
        scope=scope,
        open_prs=f"{scope} is:pr is:open {created}",
        closed_prs=f"{scope} is:pr {closed} {created}",
        open_issues=f"{scope} is:issue is:open {created}",
        closed_issues=f"{scope} is:issue {closed} {created}",
    )


def _fits(end: dt.datetime, scope: str) -> bool:
    longest = max(_backlog_search(end, scope).queries.values(), key=len)
    return len(f"{longest} {SORT_OLDEST_FIRST}") <= SEARCH_QUERY_MAX_CHARS


def backlog_searches(
    org: str,
    end: dt.datetime,
    *,
    selected: Sequence[str] | None = None,
    org_repos: Sequence[str] = (),
) -> list[BacklogSearch]:
    """The searches for what `org` (or its `selected` repositories) had open at `end`.

    One scope per returned item; the scopes are disjoint, so their counts add up exactly:
    - the whole org (`selected` None): `org:ORG`;
    - the selected repositories in one query when their `repo:` qualifiers fit in 256
      characters (GitHub ORs several `repo:` qualifiers; `org:` is left out, as scopes OR too);
    - else the org minus the others (`-repo:`, "prefix any search qualifier with a `-` to
      exclude all results that are matched by that qualifier", same syntax page) when those fit;
    - else the selected repositories in chunks that each fit, summed by the caller.
    Exact in every case, where paging and filtering client-side would pay a page per 100 items
    and could not see past the 1,000th result of a search.
    """
    if selected is None:
        return [_backlog_search(end, f"org:{org}")]
    chosen = sorted(dict.fromkeys(selected))
    if not chosen:
        return []
    together = " ".join(f"repo:{org}/{name}" for name in chosen)
    if _fits(end, together):
        return [_backlog_search(end, together)]
    others = sorted(set(org_repos) - set(chosen))
    without = " ".join([f"org:{org}", *(f"-repo:{org}/{name}" for name in others)])
    if org_repos and _fits(end, without):
        return [_backlog_search(end, without)]
    searches: list[BacklogSearch] = []
    chunk: list[str] = []
    for name in chosen:
        scope = " ".join(f"repo:{org}/{n}" for n in [*chunk, name])
        if chunk and not _fits(end, scope):
            searches.append(_backlog_search(end, " ".join(f"repo:{org}/{n}" for n in chunk)))
            chunk = []
        chunk.append(name)
        if not _fits(end, f"repo:{org}/{name}"):
            raise ValueError(f"repository name {name!r} makes a search longer than GitHub takes")
    searches.append(_backlog_search(end, " ".join(f"repo:{org}/{n}" for n in chunk)))
    return searches


def build_backlog_query(groups: int = 1) -> str:
    """`groups` x four `search` fields in one document (`openPrs0`, `closedPrs0`, ...), each
    the `$n` oldest items of its search and the total count; see `backlog_variables`."""
    if not 1 <= groups <= MAX_BACKLOG_GROUPS:
        raise ValueError(f"groups={groups}: expected 1 to {MAX_BACKLOG_GROUPS}")
    declared = ["$n: Int!"]
    blocks: list[str] = []
    for index in range(groups):
        for name in BACKLOG_FIELDS:
            alias = f"{name}{index}"
            declared.append(f"${alias}: String!")
            blocks.append(
                f"""
  {alias}: search(type: ISSUE, query: ${alias}, first: $n) {{
    issueCount
    nodes {{ ...BacklogPullRequest ...BacklogIssue }}
  }}"""
            )
    return (
        f"query Backlog({', '.join(declared)}) {{{''.join(blocks)}\n"
        f"  {RATE_LIMIT_SELECTION}\n}}\n{BACKLOG_FRAGMENTS}"
    )


BACKLOG_QUERY = build_backlog_query(1)
"""Open pull requests, pull requests closed later, open issues, issues closed later: the four
searches of one `BacklogSearch` (`backlog_variables([search])`), 1 point."""


def backlog_variables(
    searches: Sequence[BacklogSearch], first: int = BACKLOG_OLDEST
) -> dict[str, Any]:
    """Variables of `build_backlog_query(len(searches))`, oldest first in every search."""
    if not 1 <= first <= 100:
        raise ValueError(f"first={first}: GitHub allows 1 to 100 items per connection")
    variables: dict[str, Any] = {"n": first}
    for index, search in enumerate(searches):
        for name, q in search.queries.items():
            variables[f"{name}{index}"] = f"{q} {SORT_OLDEST_FIRST}"
    return variables
