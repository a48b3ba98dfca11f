"""GitHub's JSON into Sparky's records: pure parsers and the pydantic models of the contract.

Inputs are GraphQL nodes shaped like the queries in `github_queries` (Sparky collects from
GitHub's GraphQL API only); nothing here talks to the network (`github.GitHubClient` does).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sparky_resources import github_queries as gq
from sparky_resources.clock import parse_instant
from sparky_resources.models import CommitRecord


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


class _GitHubRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitHubRepository(_GitHubRecord):
    """One repository of the org (`repositories` asset, `source="github"`)."""

    name: str
    source: Literal["github"] = "github"
    default_branch: str | None
    pushed_at: str | None
    archived: bool
    fork: bool
    visibility: str | None
    url: str


class Review(_GitHubRecord):
    author_login: str | None
    state: str
    submitted_at: str | None


class GitHubItem(BaseModel):
    """What names a pull request or issue and who opened it: declared once for the records
    and for the references to them in metrics (`github_metrics.PullRequestRef`)."""

    repo: str
    number: int
    title: str
    url: str
    author_login: str | None
    author_is_bot: bool


class PullRequestRecord(_GitHubRecord, GitHubItem):
    """One pull request (`raw_pull_requests`). Times are ISO text as GitHub returns them."""

    state: Literal["open", "closed", "merged"]
    is_draft: bool
    created_at: str
    updated_at: str
    merged_at: str | None
    closed_at: str | None
    merged_by_login: str | None
    additions: int | None
    deletions: int | None
    changed_files: int | None
    labels: list[str]
    requested_reviewers: list[str]
    reviews: list[Review]
    ready_for_review_at: str | None
    first_response_at: str | None
    closing_issues: list[int]
    # The description's first BODY_CHARS characters (markdown as written): enough for a summary
    # of what the change is, without storing pasted logs or bot changelogs whole.
    body: str | None = None
    # The changed files' paths (GraphQL `PullRequest.files`, every page); None when not
    # collected (older files) or when a page of them could not be read.
    files: list[str] | None = None


class IssueRecord(_GitHubRecord, GitHubItem):
    """One issue (`raw_issues`); `comments` is the number of comments."""

    state: Literal["open", "closed"]
    state_reason: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    labels: list[str]
    comments: int
    first_response_at: str | None


class GitHubRelease(BaseModel):
    """What names a release or tag: declared once for the records and for the references to
    them in metrics (`github_metrics.ReleaseRef`)."""

    repo: str
    tag_name: str
    name: str | None
    url: str


class ReleaseRecord(_GitHubRecord, GitHubRelease):
    """A published release, or a tag (`kind="tag"`, dated by its tagger or its commit).

    `notes`: the first line of the release's description as `release_notes` reads it; None
    for a tag, a release without a description, and records collected before it existed."""

    author_login: str | None
    published_at: str | None
    is_prerelease: bool
    kind: Literal["release", "tag"]
    notes: str | None = None
    # The commit the tag points at (a release's `tagCommit`; a tag ref's Commit, or an
    # annotated Tag's target Commit); None where GitHub did not say, and in older files.
    sha: str | None = None


class DeploymentStatusRecord(_GitHubRecord):
    """One status of a deployment (GraphQL `DeploymentStatus`)."""

    state: str  # lower case: success|failure|error|inactive|pending|queued|in_progress|waiting
    created_at: str  # ISO as GitHub gives it


class DeploymentRecord(_GitHubRecord):
    """A deployment of a commit to an environment, with its statuses oldest first.

    GitHub lists statuses newest first; only the newest `DEPLOYMENT_STATUSES` are read, so a
    deployment with more has lost its oldest ones (the outcome is always among those kept).
    """

    repo: str
    id: str  # GitHub's databaseId, as a string
    environment: str
    sha: str  # commitOid
    created_at: str
    statuses: list[DeploymentStatusRecord]


class TeamRecord(_GitHubRecord):
    """An org team and the repositories it has access to (names, not owner/name)."""

    slug: str
    name: str
    repos: list[str]


class CodeownersRecord(_GitHubRecord):
    """A repository's CODEOWNERS file: the first location that exists, in GitHub's order."""

    repo: str
    location: str  # ".github/CODEOWNERS" | "CODEOWNERS" | "docs/CODEOWNERS"
    oid: str  # blob oid
    text: str


class BacklogItem(_GitHubRecord):
    """One pull request or issue open at a snapshot's instant (`is_draft` None for issues)."""

    repo: str
    number: int
    title: str
    url: str
    created_at: str
    updated_at: str
    author_login: str | None
    is_draft: bool | None = None


class BacklogSnapshot(_GitHubRecord):
    """What was open at `at` (a day's end, with its offset): `raw_backlog`.

    Counted by GitHub's search for that instant: created before it, and open now or closed
    after it. `scope` says what was counted: "org", or "selected repositories" (the
    `[github]` include/exclude filter).
    """

    at: str
    collected: Literal[True] = True
    pull_requests_open: int
    issues_open: int
    oldest_pull_requests: list[BacklogItem]
    oldest_issues: list[BacklogItem]
    scope: str


class GitHubCommitRecord(CommitRecord):
    """A commit as GitHub reports it: `CommitRecord` with `sources=["github"]`.

    GitHub does not say which files are binary (`binary_files` is 0). `files_changed_known` is
    False where GitHub did not count the files (`changedFilesIfAvailable` null).
    """

    sources: list[str] = Field(default_factory=lambda: ["github"])


# ---------------------------------------------------------------------------------------------
# Parsers (pure)


# git-revert(1) writes "This reverts commit <sha>." into the new commit's message body (for a
# merge: "This reverts commit <sha>, reversing\nchanges made to <parent>."), with the full
# 40-hex object name (sequencer.c, `do_pick_commit`). A body naming several: the first counts.
_REVERTS = re.compile(r"\bThis reverts commit ([0-9a-fA-F]{40})(?![0-9a-fA-F])")


def reverted_sha(message: str | None) -> str | None:
    """The full sha a revert commit's message names (git's "This reverts commit <sha>."),
    lower case; None when the message names none (or only an abbreviated one)."""
    if not message:
        return None
    found = _REVERTS.search(message)
    return found.group(1).lower() if found else None


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


BODY_CHARS = 2000


def body_excerpt(text: Any) -> str | None:
    """A pull request's description cut to BODY_CHARS characters; None when it has none."""
    if not isinstance(text, str) or not text.strip():
        return None
    return text if len(text) <= BODY_CHARS else text[:BODY_CHARS]


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict):
        return []
    return [node for node in connection.get("nodes") or [] if isinstance(node, dict)]


def actor_login(actor: Any) -> str | None:
    """An actor's login in REST's form: GraphQL's `Bot.login` lacks the `[bot]` suffix REST
    has (`dependabot` vs `dependabot[bot]`), so a Bot gets it back and both sources agree."""
    if not isinstance(actor, dict) or not actor.get("login"):
        return None
    login = str(actor["login"])
    if actor.get("__typename") == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    return login


def is_bot(actor: Any, bots: Collection[str] = ()) -> bool:
    """A bot: GraphQL `__typename: Bot`, REST `type: Bot`, a `[bot]` login, or a listed one."""
    if not isinstance(actor, dict):
        return False
    login = actor_login(actor) or ""
    return (
        actor.get("__typename") == "Bot"
        or actor.get("type") == "Bot"
        or login.endswith("[bot]")
        or login in bots
    )


def first_response_at(
    author: str | None,
    events: Iterable[tuple[Any, str | None]],
    bots: Collection[str] = (),
) -> str | None:
    """The earliest (actor, time) by someone other than the author who is not a bot."""
    best: tuple[dt.datetime, str] | None = None
    for actor, when in events:
        login = actor_login(actor)
        if not when or login is None or login == author or is_bot(actor, bots):
            continue
        moment = parse_instant(when)
        if best is None or moment < best[0]:
            best = (moment, when)
    return best[1] if best else None


def parse_repository_node(node: Mapping[str, Any]) -> GitHubRepository:
    """A node of `ORG_REPOSITORIES_QUERY`."""
    return GitHubRepository(
        name=node["name"],
        default_branch=(node.get("defaultBranchRef") or {}).get("name"),
        pushed_at=node.get("pushedAt"),
        archived=bool(node.get("isArchived")),
        fork=bool(node.get("isFork")),
        visibility=_lower(node.get("visibility")),
        url=node["url"],
    )


def _item_fields(node: Mapping[str, Any], bots: Collection[str]) -> dict[str, Any]:
    """What a `PullRequest` and an `Issue` search node answer alike: the `GitHubItem` fields,
    the state, the times and the labels."""
    author = node.get("author")
    return {
        "repo": (node.get("repository") or {}).get("name", ""),
        "number": int(node["number"]),
        "title": node.get("title") or "",
        "url": node["url"],
        "author_login": actor_login(author),
        "author_is_bot": is_bot(author, bots),
        "state": str(node.get("state", "OPEN")).lower(),
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "closed_at": node.get("closedAt"),
        "labels": [label["name"] for label in _nodes(node.get("labels")) if label.get("name")],
    }


@dataclass(frozen=True)
class FilesPage:
    """A page of a pull request's changed files, and where the next one starts."""

    paths: list[str]
    has_next: bool = False
    end_cursor: str | None = None


def files_page(connection: Any) -> FilesPage | None:
    """A `files` connection's page; None when the node has no `files` (not asked)."""
    if not isinstance(connection, dict):
        return None
    info = connection.get("pageInfo") or {}
    return FilesPage(
        [str(f["path"]) for f in _nodes(connection) if f.get("path")],
        bool(info.get("hasNextPage")),
        info.get("endCursor"),
    )


def parse_pull_request_node(
    node: Mapping[str, Any], bots: Collection[str] = ()
) -> PullRequestRecord:
    """A `PullRequest` node of `SEARCH_PULL_REQUESTS_QUERY`. `files` is the paths when the
    node holds all of them; with more pages it is None (the collector reads the rest)."""
    author_login = actor_login(node.get("author"))
    reviews = [
        Review(
            author_login=actor_login(r.get("author")),
            state=str(r.get("state", "")).lower(),
            submitted_at=r.get("submittedAt"),
        )
        for r in _nodes(node.get("reviews"))
    ]
    events = [
        (r.get("author"), r.get("submittedAt"))
        for r in _nodes(node.get("reviews"))
        if r.get("state") != "PENDING"
    ]
    events += [(c.get("author"), c.get("createdAt")) for c in _nodes(node.get("comments"))]
    ready = [e.get("createdAt") for e in _nodes(node.get("timelineItems")) if e.get("createdAt")]
    requested = [
        (n.get("requestedReviewer") or {}).get("login") for n in _nodes(node.get("reviewRequests"))
    ]
    files = files_page(node.get("files"))
    return PullRequestRecord(
        **_item_fields(node, bots),
        is_draft=bool(node.get("isDraft")),
        merged_at=node.get("mergedAt"),
        merged_by_login=actor_login(node.get("mergedBy")),
        additions=node.get("additions"),
        deletions=node.get("deletions"),
        changed_files=node.get("changedFiles"),
        requested_reviewers=[login for login in requested if login],
        reviews=reviews,
        ready_for_review_at=ready[-1] if ready else None,
        first_response_at=first_response_at(author_login, events, bots),
        closing_issues=[int(i["number"]) for i in _nodes(node.get("closingIssuesReferences"))],
        body=body_excerpt(node.get("body")),
        files=None if files is None or files.has_next else files.paths,
    )


def parse_issue_node(node: Mapping[str, Any], bots: Collection[str] = ()) -> IssueRecord:
    """An `Issue` node of `SEARCH_ISSUES_QUERY`."""
    author_login = actor_login(node.get("author"))
    comments = node.get("comments") or {}
    return IssueRecord(
        **_item_fields(node, bots),
        state_reason=_lower(node.get("stateReason")),
        comments=int(comments.get("totalCount") or len(_nodes(comments))),
        first_response_at=first_response_at(
            author_login, [(c.get("author"), c.get("createdAt")) for c in _nodes(comments)], bots
        ),
    )


def parse_commit_node(repo: str, node: Mapping[str, Any]) -> GitHubCommitRecord:
    """A `SparkyCommit` node of a commit-history query (`CommitRecord` derives the epochs
    `authored_ts`/`committed_ts` from the ISO texts)."""
    parents = node.get("parents") or {}
    parent_oids = [p["oid"] for p in _nodes(parents)]
    parent_count = _int(parents.get("totalCount"))
    author = node.get("author") or {}
    committer = node.get("committer") or {}
    files = node.get("changedFilesIfAvailable")
    return GitHubCommitRecord(
        repo=repo,
        sha=node["oid"],
        parents=parent_oids,
        author_name=author.get("name") or "",
        author_email=author.get("email") or "",
        committer_name=committer.get("name") or "",
        committer_email=committer.get("email") or "",
        authored_at=node["authoredDate"],
        committed_at=node["committedDate"],
        subject=node.get("messageHeadline") or "",
        additions=int(node.get("additions") or 0),
        deletions=int(node.get("deletions") or 0),
        files_changed=int(files or 0),
        binary_files=0,
        is_merge=(parent_count if parent_count is not None else len(parent_oids)) > 1,
        author_login=(author.get("user") or {}).get("login"),
        committer_login=(committer.get("user") or {}).get("login"),
        files_changed_known=files is not None,
        reverts=reverted_sha(node.get("messageBody")),
    )


@dataclass(frozen=True)
class HistoryPage:
    """One repository's page of a batched history query, and where its next page starts."""

    owner: str
    name: str
    name_with_owner: str | None
    default_branch: str | None
    commits: list[GitHubCommitRecord] = field(default_factory=list)
    has_next: bool = False
    end_cursor: str | None = None
    missing: bool = False  # the repository could not be resolved (deleted, or no access)

    def next_target(self) -> gq.HistoryTarget | None:
        return gq.HistoryTarget(self.owner, self.name, self.end_cursor) if self.has_next else None


def parse_commit_history(data: Mapping[str, Any], batch: gq.BatchQuery) -> list[HistoryPage]:
    """The per-repository pages of `build_commit_history_query`'s answer, in alias order.

    Commits are recorded under the repository's current name (`nameWithOwner`: GraphQL
    resolves a renamed repository), falling back to the name asked for.
    """
    pages: list[HistoryPage] = []
    for alias, (owner, name) in batch.aliases.items():
        repo = data.get(alias)
        if not isinstance(repo, dict):
            pages.append(HistoryPage(owner, name, None, None, missing=True))
            continue
        full = repo.get("nameWithOwner")
        short = full.split("/", 1)[1] if isinstance(full, str) and "/" in full else name
        branch = repo.get("defaultBranchRef") or {}
        history = ((branch.get("target") or {}).get("history")) or {}
        info = history.get("pageInfo") or {}
        pages.append(
            HistoryPage(
                owner,
                name,
                full,
                branch.get("name"),
                commits=[parse_commit_node(short, node) for node in _nodes(history)],
                has_next=bool(info.get("hasNextPage")),
                end_cursor=info.get("endCursor"),
            )
        )
    return pages


# CommonMark ATX heading (https://spec.commonmark.org/0.31.2/#atx-headings): up to 3 spaces,
# 1-6 "#", then a space or the end; an optional closing run of "#" after a space.
_ATX_OPEN = re.compile(r"^ {0,3}#{1,6}(?=[ \t]|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
NOTES_LIMIT = 200


def release_notes(description: str | None, limit: int = NOTES_LIMIT) -> str | None:
    """The first non-empty line of a release's description (markdown), for a digest to show
    beside the release: a heading's "#" marks and the whitespace around it removed, HTML
    comments (GitHub's generated notes open with one) skipped, at most `limit` characters (a
    cut line ends in "…"). None when nothing is left."""
    if not description:
        return None
    text = _HTML_COMMENT.sub("", description)
    for raw in text.splitlines():
        line = raw.rstrip()
        opened = _ATX_OPEN.sub("", line, count=1)
        if opened != line:  # a heading: its closing run of "#" goes too
            line = _ATX_CLOSE.sub("", opened)
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return None


def parse_release_node(repo: str, node: Mapping[str, Any]) -> ReleaseRecord | None:
    """A release node; None for a draft (not published: not activity anyone can see)."""
    if node.get("isDraft"):
        return None
    return ReleaseRecord(
        repo=repo,
        tag_name=node["tagName"],
        name=node.get("name"),
        url=node["url"],
        author_login=actor_login(node.get("author")),
        published_at=node.get("publishedAt"),
        is_prerelease=bool(node.get("isPrerelease")),
        kind="release",
        notes=release_notes(node.get("description")),
        sha=(node.get("tagCommit") or {}).get("oid"),
    )


def parse_tag_node(repo: str, repo_url: str, node: Mapping[str, Any]) -> ReleaseRecord:
    """A `refs/tags/` ref node: dated by its tagger (annotated) or its commit (lightweight)."""
    target = node.get("target") or {}
    when = None
    author = None
    if target.get("__typename") == "Tag":
        tagger = target.get("tagger") or {}
        commit = target.get("target") or {}  # an annotated tag's object: the tagged Commit
        when = tagger.get("date") or commit.get("committedDate")
        author = (tagger.get("user") or {}).get("login")
    else:
        commit = target
        when = target.get("committedDate")
    return ReleaseRecord(
        repo=repo,
        tag_name=node["name"],
        name=None,
        url=f"{repo_url.rstrip('/')}/releases/tag/{node['name']}",
        author_login=author,
        published_at=when,
        is_prerelease=False,
        kind="tag",
        sha=commit.get("oid"),
    )


def parse_releases(data: Mapping[str, Any], batch: gq.BatchQuery) -> dict[str, list[ReleaseRecord]]:
    """Releases and tags per repository (`owner/name` asked for) of `build_releases_query`."""
    out: dict[str, list[ReleaseRecord]] = {}
    for alias, (owner, name) in batch.aliases.items():
        repo = data.get(alias)
        records: list[ReleaseRecord] = []
        if isinstance(repo, dict):
            short = repo.get("name") or name
            for node in _nodes(repo.get("releases")):
                record = parse_release_node(short, node)
                if record is not None:
                    records.append(record)
            for node in _nodes(repo.get("refs")):
                records.append(parse_tag_node(short, repo.get("url") or "", node))
        out[f"{owner}/{name}"] = records
    return out


def _short_name(repo: Mapping[str, Any], asked: str) -> str:
    """The repository's current name (GraphQL follows a rename), else the name asked for."""
    return str(repo.get("name") or asked)


# -- deployments, CODEOWNERS, teams, pull request files (issue 20) ----------------------------


def parse_deployment_node(repo: str, node: Mapping[str, Any]) -> DeploymentRecord:
    """A `Deployment` node; its statuses (GitHub: newest first) sorted oldest first."""
    statuses = [
        DeploymentStatusRecord(state=str(s.get("state", "")).lower(), created_at=s["createdAt"])
        for s in _nodes(node.get("statuses"))
        if s.get("createdAt")
    ]
    statuses.sort(key=lambda s: parse_instant(s.created_at))
    return DeploymentRecord(
        repo=repo,
        id=str(node["databaseId"]),
        environment=node.get("environment") or "",
        sha=node["commitOid"],
        created_at=node["createdAt"],
        statuses=statuses,
    )


@dataclass(frozen=True)
class DeploymentPage:
    """One repository's page of deployments (newest created first) and where the next starts."""

    deployments: list[DeploymentRecord]
    has_next: bool = False
    end_cursor: str | None = None

    @property
    def oldest(self) -> dt.datetime | None:
        """When the page's oldest deployment was created (None for an empty page)."""
        times = [parse_instant(d.created_at) for d in self.deployments]
        return min(times) if times else None


def parse_deployments(data: Mapping[str, Any], batch: gq.BatchQuery) -> dict[str, DeploymentPage]:
    """Each resolved repository's deployments page (`owner/name` asked for) of a query with
    `deployments` (`build_releases_query(environment=...)`, `build_deployments_query`); a
    repository GitHub did not resolve is absent."""
    out: dict[str, DeploymentPage] = {}
    for alias, (owner, name) in batch.aliases.items():
        repo = data.get(alias)
        if not isinstance(repo, dict) or not isinstance(repo.get("deployments"), dict):
            continue
        connection = repo["deployments"]
        info = connection.get("pageInfo") or {}
        short = _short_name(repo, name)
        out[f"{owner}/{name}"] = DeploymentPage(
            [parse_deployment_node(short, node) for node in _nodes(connection)],
            bool(info.get("hasNextPage")),
            info.get("endCursor"),
        )
    return out


def parse_codeowners_oids(
    data: Mapping[str, Any], batch: gq.BatchQuery
) -> dict[str, tuple[str, str] | None]:
    """Each resolved repository's CODEOWNERS (location, blob oid): the first of
    `CODEOWNERS_LOCATIONS` that exists, in GitHub's order; None when none does."""
    out: dict[str, tuple[str, str] | None] = {}
    for alias, (owner, name) in batch.aliases.items():
        repo = data.get(alias)
        if not isinstance(repo, dict):
            continue
        found: tuple[str, str] | None = None
        for key, location in gq.CODEOWNERS_LOCATIONS.items():
            blob = repo.get(key)
            if isinstance(blob, dict) and blob.get("oid"):
                found = (location, str(blob["oid"]))
                break
        out[f"{owner}/{name}"] = found
    return out


def parse_blobs(data: Mapping[str, Any], batch: gq.BatchQuery) -> dict[str, tuple[str, str]]:
    """(oid, text) per repository (`owner/name`) of `build_blobs_query`; a repository whose
    blob was not found, is binary (text null) or was cut (`isTruncated`) is absent."""
    out: dict[str, tuple[str, str]] = {}
    for alias, (owner, name) in batch.aliases.items():
        blob = (data.get(alias) or {}).get("object")
        if not isinstance(blob, dict) or blob.get("isTruncated"):
            continue
        if isinstance(blob.get("text"), str) and blob.get("oid"):
            out[f"{owner}/{name}"] = (str(blob["oid"]), blob["text"])
    return out


def parse_pull_request_files(data: Mapping[str, Any], batch: gq.BatchQuery) -> dict[str, FilesPage]:
    """Each alias's page of `build_pull_request_files_query` (absent: not resolved)."""
    out: dict[str, FilesPage] = {}
    for alias in batch.aliases:
        pull = (data.get(alias) or {}).get("pullRequest")
        page = files_page((pull or {}).get("files"))
        if page is not None:
            out[alias] = page
    return out


@dataclass(frozen=True)
class TeamPage:
    """A team of `TEAMS_QUERY` with its first page of repositories, and where the next starts."""

    team: TeamRecord
    has_next: bool = False
    end_cursor: str | None = None


def _repository_names(connection: Any) -> tuple[list[str], bool, str | None]:
    info = (connection.get("pageInfo") if isinstance(connection, dict) else None) or {}
    names = [str(n["name"]) for n in _nodes(connection) if n.get("name")]
    return names, bool(info.get("hasNextPage")), info.get("endCursor")


def parse_teams_page(data: Mapping[str, Any]) -> tuple[list[TeamPage], bool, str | None]:
    """One page of `TEAMS_QUERY`: the teams, and whether (and where) the teams go on."""
    connection = (data.get("organization") or {}).get("teams") or {}
    pages: list[TeamPage] = []
    for node in _nodes(connection):
        names, more, cursor = _repository_names(node.get("repositories"))
        team = TeamRecord(slug=node["slug"], name=node.get("name") or node["slug"], repos=names)
        pages.append(TeamPage(team, more, cursor))
    info = connection.get("pageInfo") or {}
    return pages, bool(info.get("hasNextPage")), info.get("endCursor")


def parse_team_repositories(
    data: Mapping[str, Any], batch: gq.BatchQuery
) -> dict[str, tuple[list[str], bool, str | None]]:
    """Per team slug: a page of its repositories' names of `build_team_repositories_query`,
    whether more follow and the cursor; a team GitHub did not resolve is absent."""
    organization = data.get("organization") or {}
    out: dict[str, tuple[list[str], bool, str | None]] = {}
    for alias, (_org, slug) in batch.aliases.items():
        team = organization.get(alias)
        if isinstance(team, dict) and isinstance(team.get("repositories"), dict):
            out[slug] = _repository_names(team["repositories"])
    return out


# -- backlog (GraphQL search nodes) ------------------------------------------------------------


def parse_backlog_node(node: Mapping[str, Any]) -> BacklogItem:
    """A node of `BACKLOG_QUERY` (`BacklogPullRequest` or `BacklogIssue`)."""
    return BacklogItem(
        repo=(node.get("repository") or {}).get("name", ""),
        number=int(node["number"]),
        title=node.get("title") or "",
        url=node["url"],
        created_at=node["createdAt"],
        updated_at=node["updatedAt"],
        author_login=actor_login(node.get("author")),
        is_draft=bool(node["isDraft"]) if "isDraft" in node else None,
    )


def oldest_first(items: Iterable[BacklogItem], limit: int) -> list[BacklogItem]:
    """The `limit` oldest of several searches' oldest-first lists, merged by creation time."""
    unique = {(i.repo, i.number): i for i in items}
    return sorted(unique.values(), key=lambda i: (parse_instant(i.created_at), i.repo, i.number))[
        :limit
    ]
