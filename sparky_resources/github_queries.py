"""GraphQL documents Sparky sends to GitHub, cheap by construction.

Every query selects only what Sparky's records need, asks for at most 100 items per connection
(GitHub rejects more: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#node-limit)
and reports its own price with `rateLimit { cost remaining resetAt }`, which the client adds up.
Values always travel as variables, never formatted into the text, so a repository or
organization name can never change the shape of a query. tests/test_github_queries.py
validates every document these builders can make against GitHub's published schema.

Points (same page, "Predicting the point value of a query"): the connections a query may have
to open, divided by 100. A search page of 100 pull requests with six nested connections each
opens 1 + 100 * 6 = 601 connections: 6 points. A history page of 100 commits with `parents`
opens 101 per repository: about 1 point per repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Aliases in a batched query are r0, r1, ...; GitHub answers each under its alias.
MAX_REPOS_PER_QUERY = 20
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
  parents(first: 2) { totalCount nodes { oid } }
  author { name email user { login } }
  committer { name email user { login } }
}
"""

_PR_FIELDS = """
number title url
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


def build_commit_history_query(
    targets: Sequence[HistoryTarget | tuple[str, str] | tuple[str, str, str | None]],
    since: dt.datetime,
    until: dt.datetime,
) -> BatchQuery:
    """Default-branch history of several repositories in one query, one alias per repository.

    `history(since:, until:)` is not documented as filtering by author or by committer date,
    so callers window the returned commits by `committedDate` themselves (and should ask for a
    `since` a little earlier than the window when author and committer dates may differ).
    """
    items = _targets(targets, HistoryTarget)
    declared = ["$since: GitTimestamp!", "$until: GitTimestamp!"]
    variables: dict[str, Any] = {"since": _timestamp(since), "until": _timestamp(until)}
    blocks: list[str] = []
    aliases: dict[str, tuple[str, str]] = {}
    for index, target in enumerate(items):
        alias = f"r{index}"
        declared += [f"$owner{index}: String!", f"$name{index}: String!", f"$after{index}: String"]
        variables |= {
            f"owner{index}": target.owner,
            f"name{index}": target.name,
            f"after{index}": target.after,
        }
        aliases[alias] = (target.owner, target.name)
        blocks.append(
            f"""
  {alias}: repository(owner: $owner{index}, name: $name{index}) {{
    nameWithOwner
    defaultBranchRef {{
      name
      target {{
        ... on Commit {{
          history(first: 100, since: $since, until: $until, after: $after{index}) {{
            pageInfo {{ hasNextPage endCursor }}
            nodes {{ ...SparkyCommit }}
          }}
        }}
      }}
    }}
  }}"""
        )
    query = (
        f"query CommitHistory({', '.join(declared)}) {{{''.join(blocks)}\n"
        f"  {RATE_LIMIT_SELECTION}\n}}\n{COMMIT_FIELDS_FRAGMENT}"
    )
    return BatchQuery(query=query, variables=variables, aliases=aliases)


def build_releases_query(
    targets: Sequence[ReleaseTarget | tuple[str, str] | tuple[str, str, str | None, str | None]],
    first: int = 20,
) -> BatchQuery:
    """Newest releases and tags of several repositories in one query.

    Releases come newest-created first and tags newest-tagged-commit first, so a caller stops
    paging a repository at its first item older than the window. A lightweight tag has no date
    of its own: its commit's date stands in; an annotated tag has its tagger's date.
    """
    if not 1 <= first <= 100:
        raise ValueError(f"first={first}: GitHub allows 1 to 100 items per connection")
    items = _targets(targets, ReleaseTarget)
    declared = ["$first: Int!"]
    variables: dict[str, Any] = {"first": first}
    blocks: list[str] = []
    aliases: dict[str, tuple[str, str]] = {}
    for index, target in enumerate(items):
        alias = f"r{index}"
        declared += [
            f"$owner{index}: String!",
            f"$name{index}: String!",
            f"$releasesAfter{index}: String",
            f"$tagsAfter{index}: String",
        ]
        variables |= {
            f"owner{index}": target.owner,
            f"name{index}": target.name,
            f"releasesAfter{index}": target.releases_after,
            f"tagsAfter{index}": target.tags_after,
        }
        aliases[alias] = (target.owner, target.name)
        blocks.append(
            f"""
  {alias}: repository(owner: $owner{index}, name: $name{index}) {{
    name nameWithOwner url
    releases(first: $first, after: $releasesAfter{index},
             orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        tagName name url author {{ login }} publishedAt createdAt isDraft isPrerelease
      }}
    }}
    refs(refPrefix: "refs/tags/", first: $first, after: $tagsAfter{index},
         orderBy: {{field: TAG_COMMIT_DATE, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        name
        target {{
          __typename
          ... on Commit {{ committedDate }}
          ... on Tag {{
            tagger {{ date user {{ login }} }}
            target {{ ... on Commit {{ committedDate }} }}
          }}
        }}
      }}
    }}
  }}"""
        )
    query = (
        f"query ReleasesAndTags({', '.join(declared)}) {{{''.join(blocks)}\n"
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
