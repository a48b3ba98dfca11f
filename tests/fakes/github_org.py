"""A deterministic synthetic GitHub organization that knows its own ground truth.

`build_org()` makes an organization (repositories, default-branch commits, pull requests,
issues, releases, tags) from a seed, with activity spread over several days around `day` so
that window boundaries matter: events just before/after the org-local midnight, a commit whose
author date and committer date fall on different sides of the window, bots, commits by e-mails
that belong to no account, a renamed repository, an empty one, an archived one and a fork.

Plain dataclasses, no HTTP: `github_server.FakeGitHub` serves this data in GitHub's formats and
the tests compare what a client collected with the helpers here (`commits_in`, ...).
All instants are timezone-aware UTC `datetime`s with whole seconds, as GitHub stores them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------------------------
# Small helpers


def node_id(type_name: str, db_id: int) -> str:
    """GitHub's legacy global node id: base64 of "0<len>:<Type><id>" ("MDQ6VXNlcjE=" = User 1)."""
    return base64.b64encode(f"0{len(type_name)}:{type_name}{db_id}".encode()).decode()


def iso_z(ts: datetime) -> str:
    """UTC ISO-8601 with a Z, as GitHub's REST and GraphQL `DateTime` render instants."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(ts: datetime, offset: timedelta) -> str:
    """ISO-8601 in a fixed offset: git's own timestamps (GraphQL `GitTimestamp`) keep it."""
    local = ts.astimezone(timezone(offset))
    text = local.isoformat()
    return text.replace("+00:00", "Z") if offset == timedelta(0) else text


def _sha(*parts: object) -> str:
    return hashlib.sha1("\0".join(str(p) for p in parts).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Ground-truth records


@dataclass(frozen=True)
class Account:
    """A GitHub account (user, bot or the organization itself)."""

    login: str  # REST login; bots carry the "[bot]" suffix here, as REST shows them
    id: int
    type: str  # "User" | "Bot" | "Organization"
    name: str
    email: str  # the e-mail linked to the account (commits by it resolve to this login)
    utc_offset: timedelta = timedelta(0)  # offset of the machine this person commits from

    @property
    def node_id(self) -> str:
        return node_id(self.type, self.id)

    @property
    def graphql_login(self) -> str:
        """GraphQL `Bot.login` drops the "[bot]" suffix: REST `dependabot[bot]` is `dependabot`."""
        return self.login.removesuffix("[bot]")

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot"


@dataclass(frozen=True)
class GitActor:
    """A commit's author or committer as git records it."""

    name: str
    email: str
    date: datetime  # UTC
    utc_offset: timedelta  # the offset git recorded with the date
    account: Account | None  # the account the e-mail is linked to, None when none is

    @property
    def login(self) -> str | None:
        return self.account.login if self.account else None


@dataclass(frozen=True)
class FileChange:
    filename: str
    additions: int
    deletions: int
    status: str  # "added" | "modified" | "removed"


@dataclass
class Commit:
    """A commit on a repository's default branch."""

    repo: str
    sha: str
    parents: list[str]
    author: GitActor
    committer: GitActor
    message: str
    files: list[FileChange]

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)

    @property
    def changed_files(self) -> int:
        return len(self.files)

    @property
    def committed_at(self) -> datetime:
        return self.committer.date

    @property
    def authored_at(self) -> datetime:
        return self.author.date

    @property
    def headline(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass
class Review:
    id: int
    author: Account
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED
    submitted_at: datetime
    body: str
    commit_id: str


@dataclass
class Comment:
    """An issue comment (pull requests' conversation comments are issue comments too)."""

    id: int
    author: Account
    created_at: datetime
    updated_at: datetime
    body: str
    issue_number: int = 0  # set once numbers are assigned


@dataclass
class Issue:
    repo: str
    id: int
    number: int
    title: str
    body: str
    author: Account
    created_at: datetime
    state: str = "open"  # "open" | "closed"
    state_reason: str | None = None  # completed | not_planned | reopened | None
    closed_at: datetime | None = None
    closed_by: Account | None = None
    labels: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    reopened_at: datetime | None = None

    @property
    def node_id(self) -> str:
        return node_id("Issue", self.id)

    def event_times(self) -> list[datetime]:
        """Every instant something happened on the issue (what makes it 'active')."""
        times = [self.created_at, *(c.created_at for c in self.comments)]
        times += [t for t in (self.closed_at, self.reopened_at) if t is not None]
        return times

    @property
    def updated_at(self) -> datetime:
        return max(self.event_times())


@dataclass
class PullRequest:
    repo: str
    id: int
    number: int
    title: str
    body: str
    author: Account
    created_at: datetime
    head_ref: str
    base_ref: str
    head_sha: str
    additions: int
    deletions: int
    changed_files: int
    commits: int
    state: str = "open"  # "open" | "closed" (merged PRs are closed, as in REST)
    draft: bool = False
    ready_for_review_at: datetime | None = None  # when a PR opened as draft was marked ready
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: Account | None = None
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[Account] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    closing_issues: list[Issue] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)  # the changed paths (PR `files`)

    @property
    def node_id(self) -> str:
        return node_id("PullRequest", self.id)

    @property
    def merged(self) -> bool:
        return self.merged_at is not None

    @property
    def closing_issue_numbers(self) -> list[int]:
        return [i.number for i in self.closing_issues]

    def event_times(self) -> list[datetime]:
        """Created, ready for review, reviewed, commented, closed, merged."""
        times = [self.created_at, *(r.submitted_at for r in self.reviews)]
        times += [c.created_at for c in self.comments]
        times += [t for t in (self.ready_for_review_at, self.closed_at, self.merged_at) if t]
        return times

    @property
    def updated_at(self) -> datetime:
        return max(self.event_times())


@dataclass
class Release:
    repo: str
    id: int
    tag_name: str
    name: str
    body: str
    author: Account
    created_at: datetime  # the date of the tagged commit (see build notes), not of publishing
    published_at: datetime | None  # None for drafts
    draft: bool
    prerelease: bool
    target_commitish: str
    sha: str

    @property
    def node_id(self) -> str:
        return node_id("Release", self.id)


@dataclass
class Tag:
    """A lightweight tag: a ref to a commit, no tagger date of its own."""

    repo: str
    name: str
    sha: str
    commit_date: datetime  # committer date of the tagged commit


@dataclass(frozen=True)
class Team:
    """An org team (GraphQL `Team`) and the repositories it has access to (by name)."""

    id: int
    slug: str
    name: str
    repos: tuple[str, ...]

    @property
    def node_id(self) -> str:
        return node_id("Team", self.id)


@dataclass(frozen=True)
class DeploymentStatus:
    id: int
    state: str  # GraphQL DeploymentStatusState, lower case as REST: success | failure | ...
    created_at: datetime


@dataclass
class Deployment:
    """A deployment of a default-branch commit to an environment, with its status history."""

    repo: str
    id: int
    environment: str  # "production" | "staging"
    sha: str
    created_at: datetime
    creator: Account
    statuses: list[DeploymentStatus] = field(default_factory=list)  # oldest first

    @property
    def node_id(self) -> str:
        return node_id("Deployment", self.id)

    @property
    def latest_status(self) -> DeploymentStatus | None:
        return self.statuses[-1] if self.statuses else None

    @property
    def succeeded_at(self) -> datetime | None:
        """When it reached `success` (a later `inactive` only means a newer one replaced it)."""
        return next((s.created_at for s in self.statuses if s.state == "success"), None)

    @property
    def failed_at(self) -> datetime | None:
        """When it reached `failure` or `error`."""
        return next((s.created_at for s in self.statuses if s.state in ("failure", "error")), None)


def blob_oid(text: str) -> str:
    """git's blob id: sha1 of "blob <size>\\0<content>" (what GraphQL `Blob.oid` returns)."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repository:
    owner: str
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime
    default_branch: str = "main"
    archived: bool = False
    fork: bool = False
    visibility: str = "public"  # public | private | internal
    former_names: list[str] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)  # newest first (git log order)
    pulls: list[PullRequest] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    codeowners: dict[str, str] = field(default_factory=dict)  # path at HEAD -> file text
    deployments: list[Deployment] = field(default_factory=list)  # oldest first

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def html_url(self) -> str:
        return f"https://github.com/{self.full_name}"

    @property
    def node_id(self) -> str:
        return node_id("Repository", self.id)

    @property
    def private(self) -> bool:
        """Internal repositories are private in REST's `private` flag."""
        return self.visibility != "public"

    def commit(self, ref: str) -> Commit | None:
        """A commit by full or abbreviated (>= 7) sha, or the head of the default branch."""
        if ref == self.default_branch or ref == f"refs/heads/{self.default_branch}":
            return self.commits[0] if self.commits else None
        ref = ref.lower()
        if len(ref) < 7:
            return None
        for c in self.commits:
            if c.sha.startswith(ref):
                return c
        return None

    def reachable(self, sha: str) -> list[Commit]:
        """Commits reachable from `sha` through parents, newest committer date first."""
        by_sha = {c.sha: c for c in self.commits}
        if self.commits and sha == self.commits[0].sha:
            return list(self.commits)
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s in seen or s not in by_sha:
                continue
            seen.add(s)
            stack.extend(by_sha[s].parents)
        return [c for c in self.commits if c.sha in seen]


@dataclass
class Org:
    """The organization and its ground truth."""

    login: str
    id: int
    tz: str
    day: date
    days: int
    accounts: dict[str, Account]
    repos: list[Repository]
    seed: int
    teams: list[Team] = field(default_factory=list)

    @property
    def account(self) -> Account:
        return self.accounts[self.login]

    @property
    def node_id(self) -> str:
        return node_id("Organization", self.id)

    @property
    def renamed(self) -> dict[str, str]:
        """Old repository name -> current name."""
        return {old: r.name for r in self.repos for old in r.former_names}

    def window(self, day: date | None = None, days: int | None = None) -> tuple[datetime, datetime]:
        """[start, end) in UTC of `days` org-local days from `day` (defaults: the build's)."""
        d = day or self.day
        n = self.days if days is None else days
        zone = ZoneInfo(self.tz)
        start = datetime(d.year, d.month, d.day, tzinfo=zone)
        end_day = d + timedelta(days=n)
        end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def repo(self, name: str) -> Repository | None:
        """A repository by current or former name (case-insensitive, as GitHub resolves)."""
        low = name.lower()
        for r in self.repos:
            if r.name.lower() == low or low in (n.lower() for n in r.former_names):
                return r
        return None

    def repo_by_id(self, repo_id: int) -> Repository | None:
        return next((r for r in self.repos if r.id == repo_id), None)

    # -- ground truth -------------------------------------------------------------------------

    def commits_in(self, start: datetime, end: datetime, by: str = "committed") -> list[Commit]:
        """Default-branch commits with committer (or author, by="authored") date in [start, end)."""
        out = []
        for r in self.repos:
            for c in r.commits:
                ts = c.committed_at if by == "committed" else c.authored_at
                if start <= ts < end:
                    out.append(c)
        return out

    def pull_requests(self) -> Iterator[PullRequest]:
        for r in self.repos:
            yield from r.pulls

    def issues(self) -> Iterator[Issue]:
        for r in self.repos:
            yield from r.issues

    def pull_requests_updated_in(self, start: datetime, end: datetime) -> list[PullRequest]:
        """PRs whose *current* updated_at is in [start, end): what `updated:` search selects."""
        return [p for p in self.pull_requests() if start <= p.updated_at < end]

    def pull_requests_active_in(self, start: datetime, end: datetime) -> list[PullRequest]:
        """PRs with an event (created, ready, review, comment, closed, merged) in [start, end).

        A PR active in a past window may have been updated again since, so this is a subset of
        `updated >= start`, not of `updated in [start, end)`.
        """
        return [p for p in self.pull_requests() if any(start <= t < end for t in p.event_times())]

    def issues_updated_in(self, start: datetime, end: datetime) -> list[Issue]:
        return [i for i in self.issues() if start <= i.updated_at < end]

    def issues_active_in(self, start: datetime, end: datetime) -> list[Issue]:
        """Issues (not PRs) created, commented on, closed or reopened in [start, end)."""
        return [i for i in self.issues() if any(start <= t < end for t in i.event_times())]

    def releases_published_in(self, start: datetime, end: datetime) -> list[Release]:
        return [
            rel
            for r in self.repos
            for rel in r.releases
            if rel.published_at is not None and start <= rel.published_at < end
        ]

    def tags_created_in(self, start: datetime, end: datetime) -> list[Tag]:
        """Lightweight tags carry no date: this uses the tagged commit's committer date."""
        return [t for r in self.repos for t in r.tags if start <= t.commit_date < end]

    def codeowners_of(self, repo: Repository) -> tuple[str, str] | None:
        """(path, text) of the CODEOWNERS file GitHub uses: the first of .github/, root, docs/.

        docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/
        customizing-your-repository/about-code-owners#codeowners-file-location
        """
        for path in CODEOWNERS_PATHS:
            if path in repo.codeowners:
                return path, repo.codeowners[path]
        return None

    def owners_of(self, repo: Repository, path: str) -> list[str]:
        """Owners of `path` by the repository's CODEOWNERS: the last matching line wins."""
        found = self.codeowners_of(repo)
        if found is None:
            return []
        owners: list[str] = []
        for line in found[1].splitlines():
            parts = line.split("#", 1)[0].split()
            if parts and _codeowners_match(parts[0], path):
                owners = parts[1:]  # an entry without owners leaves the path unowned
        return owners

    def teams_of_paths(self, repo: Repository, paths: list[str]) -> set[str]:
        """Team slugs owning any of `paths` (only `@org/slug` owners are teams)."""
        prefix = f"@{self.login}/"
        return {
            o.removeprefix(prefix)
            for p in paths
            for o in self.owners_of(repo, p)
            if o.startswith(prefix)
        }

    def teams_of_pull_request(self, pr: PullRequest) -> set[str]:
        """Team slugs owning any file the pull request changed, by its repository's CODEOWNERS."""
        repo = self.repo(pr.repo)
        assert repo is not None
        return self.teams_of_paths(repo, [f.filename for f in pr.files])

    def team(self, slug: str) -> Team | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def deployments_in(
        self, start: datetime, end: datetime, environment: str = "production"
    ) -> list[Deployment]:
        """Deployments to `environment` created in [start, end), oldest first, all repos."""
        hits = [
            d
            for r in self.repos
            for d in r.deployments
            if d.environment == environment and start <= d.created_at < end
        ]
        return sorted(hits, key=lambda d: (d.created_at, d.id))

    def repos_pushed_since(self, t: datetime) -> list[Repository]:
        """Repositories with pushed_at >= t, newest push first (GraphQL PUSHED_AT DESC)."""
        hits = [r for r in self.repos if r.pushed_at >= t]
        return sorted(hits, key=lambda r: (r.pushed_at, r.id), reverse=True)


CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def _codeowners_match(pattern: str, path: str) -> bool:
    """A deliberately small CODEOWNERS (gitignore-style) matcher, independent of Sparky's.

    Supports what the fake's files use: a leading "/" or an inner "/" anchors at the root,
    otherwise the pattern matches at any depth; a trailing "/" means everything under a
    directory; "*" stays within one path segment, "**" crosses them; "dir/*" matches direct
    children only (GitHub's documented exception to gitignore).
    """
    anchored = pattern.startswith("/") or "/" in pattern.strip("/")
    body = pattern.strip("/")
    rx = ""
    i = 0
    while i < len(body):
        if body.startswith("**", i):
            rx, i = rx + ".*", i + 2
        elif body[i] == "*":
            rx, i = rx + "[^/]*", i + 1
        elif body[i] == "?":
            rx, i = rx + "[^/]", i + 1
        else:
            rx, i = rx + re.escape(body[i]), i + 1
    head = "" if anchored else "(?:.*/)?"
    tail = "" if pattern.endswith("/*") else "(?:/.*)?"
    return re.fullmatch(head + rx + tail, path) is not None


# --------------------------------------------------------------------------------------------
# Generation

_USERS = [
    ("alice-a", "Alice Archer", 2),
    ("bob-b", "Bob Builder", -7),
    ("carol-c", "Carol Chen", 8),
    ("dave-d", "Dave Doe", 0),
    ("erin-e", "Erin Early", 5.5),
    ("frank-f", "Frank Fischer", 2),
    ("grace-g", "Grace Gómez", -4),
    ("heidi-h", "Heidi Huber", 2),
]
_BOTS = [
    ("dependabot[bot]", 49699333),
    ("github-actions[bot]", 41898282),
    ("renovate[bot]", 29139614),
]
_WORDS = [
    "api",
    "web",
    "infra",
    "docs",
    "mobile",
    "billing",
    "search",
    "auth",
    "data",
    "ml",
    "cli",
    "sdk",
    "ops",
    "site",
    "design",
    "gateway",
    "worker",
    "queue",
    "metrics",
    "portal",
    "ledger",
    "mailer",
    "crawler",
    "vault",
]
_VERBS = ["Fix", "Add", "Refactor", "Update", "Remove", "Document", "Speed up", "Test"]
_THINGS = [
    "login flow",
    "retry logic",
    "CSV export",
    "rate limiter",
    "config loader",
    "cache keys",
    "error pages",
    "CI matrix",
    "timezone handling",
    "pagination",
]
_LABELS = ["bug", "enhancement", "documentation", "chore", "performance"]
_FILES = [
    "src/app.py",
    "src/util.py",
    "README.md",
    "tests/test_app.py",
    "pyproject.toml",
    "web/index.ts",
    "docs/guide.md",
    "Makefile",
    "src/models.py",
    "src/api.py",
]


class _Gen:
    """Holds the random source and id counters so every id is deterministic."""

    def __init__(self, org: str, seed: int, tz: str) -> None:
        self.rng = random.Random(f"{org}:{seed}")
        self.org = org
        self.seed = seed
        self.zone = ZoneInfo(tz)
        self._next_id = 1000 + (seed % 97) * 100_000

    def nid(self) -> int:
        self._next_id += 1
        return self._next_id

    def between(self, a: datetime, b: datetime) -> datetime:
        span = int((b - a).total_seconds())
        return a + timedelta(seconds=self.rng.randrange(max(span, 1)))

    def near_midnight(self, a: datetime, b: datetime) -> datetime:
        """An instant within 45 minutes of an org-local midnight inside [a, b)."""
        first = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        days = (last - first).days + 1
        for _ in range(20):
            d = first + timedelta(days=self.rng.randrange(days))
            mid = datetime(d.year, d.month, d.day, tzinfo=self.zone).astimezone(UTC)
            ts = mid + timedelta(seconds=self.rng.randrange(-2700, 2700))
            if a <= ts < b:
                return ts
        return self.between(a, b)


def _accounts(org: str, org_id: int) -> dict[str, Account]:
    out: dict[str, Account] = {
        org: Account(org, org_id, "Organization", org.title(), f"admin@{org}.example")
    }
    for i, (login, name, hours) in enumerate(_USERS):
        out[login] = Account(
            login,
            5_000_000 + i,
            "User",
            name,
            f"{login}@{org}.example",
            timedelta(hours=hours),
        )
    for login, bid in _BOTS:
        out[login] = Account(
            login, bid, "Bot", login, f"{bid}+{login}@users.noreply.github.com", timedelta(0)
        )
    # Commits made with the web UI / merge button are committed by "GitHub" <noreply@github.com>,
    # which GitHub links to the `web-flow` user.
    out["web-flow"] = Account("web-flow", 19864447, "User", "GitHub", "noreply@github.com")
    return out


def _actor(acc: Account, ts: datetime, *, linked: bool = True) -> GitActor:
    email = acc.email if linked else f"{acc.login.split('-')[0]}@laptop.local"
    return GitActor(acc.name, email, ts, acc.utc_offset, acc if linked else None)


def build_org(
    name: str = "acme",
    repos: int = 20,
    active: int = 5,
    day: str | date = "2024-06-03",
    tz: str = "Europe/Berlin",
    seed: int = 1,
    commits_per_active: tuple[int, int] = (1, 100),
    prs_per_active: tuple[int, int] = (3, 12),
    issues_per_active: tuple[int, int] = (2, 8),
    releases_per_active: tuple[int, int] = (0, 2),
    days: int = 1,
    lead_days: int = 3,
    tail_days: int = 2,
    extra_changes: bool = True,
    incidents: bool | None = None,
) -> Org:
    """Build the organization. Same arguments, same org, on every machine.

    Activity of the `active` repositories spans [window start - lead_days, window end +
    tail_days]; the other repositories have older history only (one of them had a push to a
    non-default branch inside the window). Repository 0 carries the boundary edge cases,
    repository 1 (or 0) was renamed from "legacy-<name>". Teams, CODEOWNERS files, PR files
    and deployments come last from their own random stream; `extra_changes` also adds, to the
    last active repository, an open PR with 150 changed files and a revert commit (new head of
    the default branch) of a deployed change, deployed itself. `incidents` adds issues and a
    pull request labelled "incident" (`_add_incidents`); by default they come with
    `extra_changes` in orgs that have pull requests (`prs_per_active` above 0), so an org built
    with exact issue counts and no pull requests keeps exactly those.
    """
    if isinstance(day, str):
        day = date.fromisoformat(day)
    active = min(active, repos)
    g = _Gen(name, seed, tz)
    org_id = 9_000_000 + seed
    accounts = _accounts(name, org_id)
    org = Org(name, org_id, tz, day, days, accounts, [], seed)
    w_start, w_end = org.window()
    span = (w_start - timedelta(days=lead_days), w_end + timedelta(days=tail_days))

    words = list(_WORDS)
    g.rng.shuffle(words)
    names = [
        words[i % len(words)] + (f"-{i // len(words)}" if i >= len(words) else "")
        for i in range(repos)
    ]

    # Indices of the special inactive repositories, chosen among the inactive ones.
    inactive = list(range(active, repos))
    special = {
        k: inactive[i]
        for i, k in enumerate(["empty", "archived", "fork", "branch_push"])
        if i < len(inactive)
    }
    for i, repo_name in enumerate(names):
        # Every repository predates the window (an org of any size: older ones first).
        created = w_start - timedelta(
            days=60 + 2 * (len(names) - i), seconds=g.rng.randrange(86400)
        )
        visibility = "internal" if i % 7 == 4 else "private" if i % 5 == 3 else "public"
        repo = Repository(
            owner=name,
            id=g.nid() * 10 + 7,
            name=repo_name,
            description=f"The {repo_name} service",
            created_at=created,
            updated_at=created,
            pushed_at=created,
            visibility=visibility,
        )
        if i < active:
            _fill_active(
                g,
                org,
                repo,
                i,
                span,
                (w_start, w_end),
                commits_per_active,
                prs_per_active,
                issues_per_active,
                releases_per_active,
            )
        elif i != special.get("empty"):
            _fill_inactive(g, org, repo, w_start)
        if i == special.get("archived"):
            repo.archived = True
        if i == special.get("fork"):
            repo.fork = True
        if i == special.get("branch_push"):
            # A push to a feature branch moves pushed_at without touching the default branch.
            repo.pushed_at = w_start + timedelta(hours=9, minutes=13)
        repo.updated_at = max(repo.pushed_at, repo.created_at) + timedelta(minutes=3)
        org.repos.append(repo)

    renamed = org.repos[1 if active > 1 else 0]
    renamed.former_names.append(f"legacy-{renamed.name}")
    # Added later (issue 20): own random stream and ids, after everything above, so every
    # value generated above stays what it was.
    if incidents is None:
        incidents = extra_changes and prs_per_active[1] > 0
    _add_teams_and_deployments(
        org, active, (w_start, w_end), span, changes=extra_changes, incidents=incidents
    )
    return org


def _files(g: _Gen, big: bool = False) -> list[FileChange]:
    n = g.rng.randint(1, 30 if big else 6)
    picks = g.rng.sample(_FILES, min(n, len(_FILES))) + [f"gen/file{i}.txt" for i in range(n - 10)]
    out = []
    for f in picks:
        status = g.rng.choice(["modified", "modified", "modified", "added", "removed"])
        adds = 0 if status == "removed" else g.rng.randint(1, 400 if big else 60)
        dels = 0 if status == "added" else g.rng.randint(0, 200 if big else 30)
        out.append(FileChange(f, adds, dels, status))
    return out


def _users(org: Org) -> list[Account]:
    return [a for a in org.accounts.values() if a.type == "User" and a.login != "web-flow"]


Spec = tuple[datetime, datetime, GitActor, GitActor, str, bool]  # ..., message, protected


def _make_commits(g: _Gen, org: Org, repo: Repository, specs: list[Spec]) -> None:
    """Chain commits (specs sorted by committer date) into a default-branch history.

    Two neighbouring unprotected commits in the middle (when there are >= 6) become a
    feature-branch commit and the merge commit that brings it in, so the history has a merge
    with two parents; the edge-case commits (protected) are never turned into merges.
    """
    specs = sorted(specs, key=lambda s: s[1])
    merge_at = -1
    if len(specs) >= 6:
        for k in sorted(range(2, len(specs) - 1), key=lambda k: abs(k - len(specs) // 2)):
            if not specs[k][5] and not specs[k + 1][5]:
                merge_at = k
                break
    commits: list[Commit] = []
    for k, (_authored, _committed, author, committer, message, _p) in enumerate(specs):
        sha = _sha(org.login, repo.name, k, org.seed, message)
        if k == 0:
            parents: list[str] = []
        elif k == merge_at:  # side-branch commit: forks off the main line one commit earlier
            parents = [commits[k - 2].sha]
        elif k == merge_at + 1:  # the merge: main line first, the side branch second
            parents = [commits[k - 2].sha, commits[k - 1].sha]
            message = f"Merge pull request #{g.rng.randint(2, 90)} from {org.login}/feature-{k}"
            sha = _sha(org.login, repo.name, k, org.seed, message)
        else:
            parents = [commits[k - 1].sha]
        commits.append(
            Commit(repo.name, sha, parents, author, committer, message, _files(g, k % 17 == 5))
        )
    repo.commits = list(reversed(commits))
    if commits:
        repo.pushed_at = max(repo.pushed_at, commits[-1].committed_at + timedelta(seconds=37))


def _spec(
    g: _Gen,
    acc: Account,
    committed: datetime,
    *,
    authored: datetime | None = None,
    committer: Account | None = None,
    linked: bool = True,
    message: str | None = None,
) -> Spec:
    """One commit to make; an explicit message marks it as an edge case (never a merge)."""
    authored = authored or committed - timedelta(seconds=g.rng.randrange(0, 1800))
    msg = message or f"{g.rng.choice(_VERBS)} {g.rng.choice(_THINGS)}"
    if message is None and g.rng.random() < 0.3:
        msg += "\n\nLonger explanation of the change."
    a = _actor(acc, authored, linked=linked)
    c = _actor(committer or acc, committed, linked=linked if committer is None else True)
    return authored, committed, a, c, msg, message is not None


def _fill_inactive(g: _Gen, org: Org, repo: Repository, w_start: datetime) -> None:
    users = _users(org)
    specs = []
    last = w_start - timedelta(days=g.rng.randint(20, 200))
    for _ in range(g.rng.randint(1, 4)):
        specs.append(_spec(g, g.rng.choice(users), last))
        last -= timedelta(hours=g.rng.randint(5, 200))
    _make_commits(g, org, repo, specs)
    # One old, closed issue so the repo is not bare.
    created = last - timedelta(days=3)
    iss = Issue(
        repo.name,
        g.nid(),
        0,
        "Old question",
        "Long answered.",
        g.rng.choice(users),
        created,
        "closed",
        "completed",
        created + timedelta(days=1),
    )
    iss.closed_by = iss.author
    repo.issues.append(iss)
    _number(repo)


def _fill_active(
    g: _Gen,
    org: Org,
    repo: Repository,
    index: int,
    span: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    commits_per: tuple[int, int],
    prs_per: tuple[int, int],
    issues_per: tuple[int, int],
    releases_per: tuple[int, int],
) -> None:
    users = _users(org)
    acc = org.accounts
    s0, s1 = span
    w0, w1 = window
    # Older history, before the span, so `since` must stop a history walk.
    specs = [_spec(g, g.rng.choice(users), s0 - timedelta(days=30 + k * 3)) for k in range(3)]
    n = g.rng.randint(*commits_per)
    for _ in range(n):
        ts = g.near_midnight(s0, s1) if g.rng.random() < 0.2 else g.between(s0, s1)
        who = g.rng.choice(users)
        roll = g.rng.random()
        if roll < 0.08:  # a bot authored it, merged with the button: committer is web-flow
            bot = acc["dependabot[bot]"]
            specs.append(
                _spec(
                    g,
                    bot,
                    ts,
                    committer=acc["web-flow"],
                    message="Bump requests from 2.31.0 to 2.32.0",
                )
            )
        elif roll < 0.13:  # an e-mail linked to no account: login None
            specs.append(_spec(g, who, ts, linked=False))
        elif roll < 0.2:  # squash-merged by the web UI: author != committer
            specs.append(_spec(g, who, ts, committer=acc["web-flow"]))
        else:
            specs.append(_spec(g, who, ts))
    if index == 0:
        alice, bob = acc["alice-a"], acc["bob-b"]
        specs += [
            _spec(g, alice, w0 - timedelta(seconds=1), message="Just before the window"),
            _spec(g, alice, w0, message="Exactly at the window start"),
            _spec(g, bob, w1 - timedelta(seconds=1), message="Last second of the window"),
            _spec(g, bob, w1, message="Exactly at the window end"),
            # Authored two days before, committed (rebased) inside the window.
            _spec(
                g,
                bob,
                w0 + timedelta(hours=10),
                authored=w0 - timedelta(days=2, hours=-3),
                message="Rebased: authored before the window",
            ),
            # Authored in the window, committed (cherry-picked) after it.
            _spec(
                g,
                alice,
                w1 + timedelta(hours=2),
                authored=w1 - timedelta(hours=1),
                message="Cherry-picked: committed after the window",
            ),
            _spec(
                g,
                acc["dependabot[bot]"],
                w0 + timedelta(hours=3),
                committer=acc["web-flow"],
                message="Bump urllib3 from 2.2.1 to 2.2.2",
            ),
            _spec(
                g,
                acc["carol-c"],
                w0 + timedelta(hours=5),
                linked=False,
                message="Commit from an unlinked e-mail",
            ),
        ]
    _make_commits(g, org, repo, specs)

    # Issues first: merged PRs may close them.
    for k in range(g.rng.randint(*issues_per)):
        repo.issues.append(_make_issue(g, org, repo, span, index == 0 and k == 0, window))
    n_prs = max(g.rng.randint(*prs_per), 6) if index == 0 else g.rng.randint(*prs_per)
    for k in range(n_prs):
        repo.pulls.append(_make_pr(g, org, repo, span, window, edge=k if index == 0 else -1))
    _number(repo)

    # Releases: created_at is the tagged commit's date, published later (maybe in the window).
    window_commits = [c for c in repo.commits if s0 <= c.committed_at < s1 and not c.is_merge]
    window_commits.sort(key=lambda c: c.committed_at)
    n_rel = g.rng.randint(*releases_per) + (2 if index == 0 else 0)
    picks = g.rng.sample(window_commits, min(n_rel, len(window_commits)))
    before = [c for c in window_commits if c.committed_at < w0 - timedelta(hours=1)]
    if index == 0 and before:  # the first release tags a commit from before the window
        picks = [before[-1], *(c for c in picks if c.committed_at >= w0)][: max(n_rel, 1)]
    picks.sort(key=lambda c: c.committed_at)
    old = repo.commits[-1]
    repo.tags.append(Tag(repo.name, "v0.9.0", old.sha, old.committed_at))
    for k, c in enumerate(picks):
        pre = g.rng.random() < 0.2
        tag = f"v1.{k}.0" + ("-rc.1" if pre else "")
        draft = g.rng.random() < 0.15 or (index == 0 and k == len(picks) - 1)
        published = None if draft else c.committed_at + timedelta(minutes=g.rng.randint(5, 2880))
        if index == 0 and k == 0:  # tagged before the window, published inside it
            published = w0 + timedelta(minutes=30)
        repo.releases.append(
            Release(
                repo.name,
                g.nid(),
                tag,
                f"Release {tag}",
                "Notes.",
                g.rng.choice(users),
                c.committed_at,
                published,
                draft,
                pre,
                repo.default_branch,
                c.sha,
            )
        )
        if not draft:  # drafts have no tag until published
            repo.tags.append(Tag(repo.name, tag, c.sha, c.committed_at))
    if window_commits:
        c = g.rng.choice(window_commits)
        repo.tags.append(Tag(repo.name, f"nightly-{c.committed_at:%Y%m%d}", c.sha, c.committed_at))


def _comments(g: _Gen, org: Org, a: datetime, b: datetime, n: int) -> list[Comment]:
    people = [*_users(org), org.accounts["github-actions[bot]"]]
    out = []
    for _ in range(n):
        ts = g.near_midnight(a, b) if g.rng.random() < 0.25 else g.between(a, b)
        out.append(
            Comment(
                g.nid(),
                g.rng.choice(people),
                ts,
                ts,
                "LGTM" if g.rng.random() < 0.3 else "Some thoughts on this.",
            )
        )
    return sorted(out, key=lambda c: c.created_at)


def _make_issue(
    g: _Gen,
    org: Org,
    repo: Repository,
    span: tuple[datetime, datetime],
    edge: bool,
    window: tuple[datetime, datetime],
) -> Issue:
    s0, s1 = span
    users = _users(org)
    created = g.between(s0 - timedelta(days=15), s1 - timedelta(hours=2))
    iss = Issue(
        repo.name,
        g.nid(),
        0,
        f"{g.rng.choice(_THINGS).capitalize()} is broken",
        "Steps to reproduce: ...",
        g.rng.choice(users),
        created,
        labels=g.rng.sample(_LABELS, g.rng.randint(0, 2)),
    )
    iss.comments = _comments(g, org, created, s1, g.rng.randint(0, 4))
    roll = g.rng.random()
    if edge:  # closed as not planned inside the window, a minute after the local midnight
        iss.state, iss.state_reason = "closed", "not_planned"
        iss.closed_at = window[0] + timedelta(minutes=1)
        iss.created_at = min(iss.created_at, window[0] - timedelta(days=2))
        iss.comments = [c for c in iss.comments if c.created_at < iss.closed_at]
        iss.closed_by = org.accounts["heidi-h"]
    elif roll < 0.35:
        iss.state = "closed"
        iss.state_reason = g.rng.choice(["completed", "completed", "not_planned"])
        iss.closed_at = g.between(max(iss.updated_at, s0), s1)
        iss.closed_by = g.rng.choice(users)
    elif roll < 0.45:  # closed once, then reopened
        iss.state_reason = "reopened"
        iss.reopened_at = g.between(max(iss.updated_at, s0), s1)
    return iss


def _make_pr(
    g: _Gen,
    org: Org,
    repo: Repository,
    span: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    edge: int,
) -> PullRequest:
    s0, s1 = span
    w0 = window[0]
    users = _users(org)
    acc = org.accounts
    bot = g.rng.random() < 0.2
    author = (
        g.rng.choice([acc["dependabot[bot]"], acc["renovate[bot]"]]) if bot else g.rng.choice(users)
    )
    created = g.between(s0 - timedelta(days=10), s1 - timedelta(hours=1))
    files = _files(g, g.rng.random() < 0.2)
    pr = PullRequest(
        repo.name,
        g.nid(),
        0,
        "Bump lodash from 4.17.20 to 4.17.21"
        if bot
        else f"{g.rng.choice(_VERBS)} {g.rng.choice(_THINGS)}",
        "" if bot else "This PR changes things.\n\nFixes nothing in particular.",
        author,
        created,
        f"feature/{g.nid()}",
        repo.default_branch,
        _sha("head", g.nid()),
        sum(f.additions for f in files),
        sum(f.deletions for f in files),
        len(files),
        g.rng.randint(1, 9),
        labels=["dependencies"] if bot else g.rng.sample(_LABELS, g.rng.randint(0, 2)),
    )
    kind = g.rng.choices(["merged", "closed", "open", "draft"], [45, 10, 30, 15])[0]
    if edge == 0:  # merged exactly at the window start
        created, kind = w0 - timedelta(days=20), "merged"
    elif edge == 1:  # old open PR whose only activity in the window is a comment
        created, kind = w0 - timedelta(days=10), "open"
    elif edge == 2:  # merged one second before the window: inactive in it
        created, kind = w0 - timedelta(days=4), "merged"
    elif edge == 3:  # draft opened inside the window
        created, kind = w0 + timedelta(hours=4), "draft"
    elif edge == 4:  # marked ready for review inside the window, near the local midnight
        created, kind = w0 - timedelta(days=3), "open"
    elif edge == 5:  # a bot PR opened and merged inside the window
        created, kind = w0 + timedelta(hours=2), "merged"
        pr.author, pr.labels, pr.body = acc["dependabot[bot]"], ["dependencies"], ""
    pr.created_at = created
    pr.files = files  # no draw: the same list the totals above were summed from
    end = s1
    if kind == "merged":
        merged = created + timedelta(minutes=g.rng.randint(30, 4 * 1440))
        merged = {0: w0, 2: w0 - timedelta(seconds=1), 5: w0 + timedelta(hours=6)}.get(edge, merged)
        if merged < s1:
            pr.state, pr.merged_at, pr.closed_at = "closed", merged, merged
            pr.merged_by = g.rng.choice(users)
            pr.merge_commit_sha = _sha("merge", pr.id)
            end = merged
        else:
            kind = "open"
    elif kind == "closed":
        pr.state = "closed"
        pr.closed_at = created + timedelta(minutes=g.rng.randint(30, 3 * 1440))
        end = min(pr.closed_at, s1)
        if pr.closed_at >= s1:
            pr.state, pr.closed_at, end = "open", None, s1
    if kind == "draft":
        pr.draft = True
    elif g.rng.random() < 0.25 or edge == 4:  # opened as a draft, marked ready later
        ready = created + timedelta(minutes=g.rng.randint(10, 1440))
        ready = w0 + timedelta(minutes=20) if edge == 4 else min(ready, end - timedelta(minutes=1))
        pr.ready_for_review_at = ready if ready > created else None
    if edge in (0, 2):  # nothing else happens after the merge
        end = pr.merged_at or end
    lo = pr.ready_for_review_at or created
    reviewers = [u for u in users if u != pr.author]
    if not pr.draft and end > lo:
        for _ in range(g.rng.randint(0, 3)):
            ts = g.between(lo, end)
            state = g.rng.choice(["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "APPROVED"])
            pr.reviews.append(
                Review(
                    g.nid(),
                    g.rng.choice(reviewers),
                    state,
                    ts,
                    "" if state == "APPROVED" else "See comments.",
                    pr.head_sha,
                )
            )
        pr.reviews.sort(key=lambda r: r.submitted_at)
    if end > created:
        pr.comments = _comments(g, org, created, end, g.rng.randint(0, 3))
    if edge == 1:  # exactly one comment, inside the window
        pr.comments = [
            Comment(
                g.nid(),
                acc["grace-g"],
                w0 + timedelta(hours=8),
                w0 + timedelta(hours=8),
                "Still relevant?",
            )
        ]
        pr.reviews = []
    if edge == 2:
        pr.comments = [c for c in pr.comments if c.created_at < w0]
        pr.reviews = [r for r in pr.reviews if r.submitted_at < w0]
    if pr.state == "open":
        reviewed = {r.author.login for r in pr.reviews}
        pr.requested_reviewers = [
            u for u in g.rng.sample(reviewers, g.rng.randint(0, 2)) if u.login not in reviewed
        ]
    if pr.merged_at is not None and repo.issues and g.rng.random() < 0.4:
        target = g.rng.choice(repo.issues)
        if target.state == "open" and target.updated_at < pr.merged_at:
            target.state, target.state_reason = "closed", "completed"
            target.closed_at, target.closed_by = pr.merged_at, pr.merged_by
            pr.closing_issues.append(target)
    return pr


def _number(repo: Repository) -> None:
    """Issues and PRs share one number sequence per repository, in creation order."""
    items: list[Issue | PullRequest] = [*repo.issues, *repo.pulls]
    items.sort(key=lambda x: (x.created_at, x.id))
    for n, item in enumerate(items, start=1):
        item.number = n
        for c in item.comments:
            c.issue_number = n


# --------------------------------------------------------------------------------------------
# Teams, CODEOWNERS and deployments (issue 20)

_TEAMS = [
    ("platform", "Platform"),
    ("web-frontend", "Web Frontend"),
    ("docs-writers", "Docs Writers"),
    ("data-eng", "Data Engineering"),
]


def _codeowners_files(org: str, index: int) -> dict[str, str]:
    """CODEOWNERS files of active repository `index`: overlapping patterns, last match wins."""
    kind = index % 5
    if kind == 0:
        return {
            ".github/CODEOWNERS": (
                "# Owners; the last matching pattern wins.\n"
                f"*                 @{org}/platform\n"
                f"*.md              @{org}/docs-writers\n"
                f"/web/             @{org}/web-frontend\n"
                f"docs/             @{org}/docs-writers @alice-a\n"
                f"src/api.py        @{org}/platform @{org}/data-eng\n"
                "/gen/\n"  # no owners: generated files are owned by nobody
            )
        }
    if kind == 1:  # two files: the root one wins over docs/ (GitHub's search order)
        return {
            "CODEOWNERS": (
                f"*.py      @{org}/data-eng\n"
                f"src/      @{org}/platform  # src/*.py: this later line wins\n"
                f"web/**    @{org}/web-frontend\n"
            ),
            "docs/CODEOWNERS": f"*  @{org}/docs-writers\n",
        }
    if kind == 2:
        return {
            "docs/CODEOWNERS": (
                f"*            @{org}/web-frontend\n"
                f"Makefile     @{org}/platform\n"
                f"docs/*       @{org}/docs-writers\n"
            )
        }
    if kind == 3:
        return {}
    return {
        ".github/CODEOWNERS": (
            f"*               @{org}/data-eng\n/src/models.py  @{org}/platform @bob-b\n"
        )
    }


def _add_teams_and_deployments(
    org: Org,
    active: int,
    window: tuple[datetime, datetime],
    span: tuple[datetime, datetime],
    *,
    changes: bool,
    incidents: bool = False,
) -> None:
    rng = random.Random(f"{org.login}:{org.seed}:teams")
    next_id = [7_000_000 + (org.seed % 97) * 10_000]

    def nid() -> int:
        next_id[0] += 1
        return next_id[0]

    repos = org.repos
    names = [r.name for r in repos]
    act = names[:active]
    rest = names[active:]
    members = {
        "platform": act + rest[::2],
        "web-frontend": act[:2] + rng.sample(rest, min(2, len(rest))),
        "docs-writers": [n for i, n in enumerate(act) if i % 5 in (0, 2)],
        "data-eng": act[3:] + rng.sample(rest, min(3, len(rest))),
    }
    for slug, title in _TEAMS:
        mine = set(members[slug])
        org.teams.append(Team(nid(), slug, title, tuple(n for n in names if n in mine)))
    for i, r in enumerate(repos[:active]):
        if r.commits:
            r.codeowners = _codeowners_files(org.login, i)

    bot = org.accounts["github-actions[bot]"]
    if changes and active:
        r = repos[active - 1]
        n_files = 150  # more than one page of GraphQL `files(first: 100)`
        files = [
            FileChange(f"vendor/lib{k:03d}/mod.py", rng.randint(1, 40), 0, "added")
            for k in range(n_files)
        ]
        created = max([x.created_at for x in (*r.issues, *r.pulls)], default=span[0])
        pr = PullRequest(
            r.name,
            nid(),
            0,
            "Vendor third-party libraries",
            "A big one.",
            org.accounts["dave-d"],
            created + timedelta(minutes=1),
            "feature/vendor",
            r.default_branch,
            _sha("head", "vendor", org.seed),
            sum(f.additions for f in files),
            0,
            n_files,
            1,
            files=files,
        )
        r.pulls.append(pr)
        _number(r)

    for i, r in enumerate(repos[:active]):
        line = sorted(
            (c for c in r.commits if span[0] <= c.committed_at < span[1] and not c.is_merge),
            key=lambda c: c.committed_at,
        )
        deps: list[Deployment] = []

        def deploy(
            c: Commit,
            env: str,
            at: datetime,
            final: str,
            r: Repository = r,
            deps: list[Deployment] = deps,
        ) -> Deployment:
            d = Deployment(r.name, nid(), env, c.sha, at, bot)
            d.statuses.append(DeploymentStatus(nid(), "in_progress", at + timedelta(minutes=1)))
            done = at + timedelta(minutes=rng.randint(3, 20))
            d.statuses.append(DeploymentStatus(nid(), final, done))
            deps.append(d)
            return d

        for k, c in enumerate(line):
            if rng.random() < 0.5:
                continue
            at = c.committed_at + timedelta(minutes=rng.randint(10, 90))
            st = deploy(c, "staging", at, "success" if rng.random() < 0.9 else "failure")
            if k % 3 == 0 and st.succeeded_at:
                roll = rng.random()
                final = "failure" if roll < 0.15 else "error" if roll < 0.2 else "success"
                deploy(c, "production", st.succeeded_at + timedelta(hours=rng.randint(1, 6)), final)
        if i == 0:  # production `error` and `failure` in the window, restored at + 4 h
            by_msg = {c.message: c for c in r.commits}
            w0 = window[0]
            bad = by_msg.get("Exactly at the window start")
            good = by_msg.get("Bump urllib3 from 2.2.1 to 2.2.2")
            early = by_msg.get("Just before the window")
            if bad and good and early:
                deploy(early, "production", w0 + timedelta(hours=1), "error")
                deploy(bad, "production", w0 + timedelta(hours=2), "failure")
                deploy(good, "production", w0 + timedelta(hours=4), "success")
        if changes and i == active - 1:
            prod = [d for d in deps if d.environment == "production" and d.succeeded_at]
            if prod and r.commits:
                target = r.commit(max(prod, key=lambda d: d.created_at).sha)
                assert target is not None
                head = r.commits[0]
                at = max(head.committed_at, *(d.created_at for d in deps)) + timedelta(hours=2)
                who = org.accounts["erin-e"]
                msg = f'Revert "{target.headline}"\n\nThis reverts commit {target.sha}.'
                rev = Commit(
                    r.name,
                    _sha(org.login, r.name, "revert", org.seed),
                    [head.sha],
                    _actor(who, at - timedelta(minutes=5)),
                    _actor(who, at),
                    msg,
                    [
                        FileChange(f.filename, f.deletions, f.additions, "modified")
                        for f in target.files
                    ],
                )
                r.commits.insert(0, rev)
                r.pushed_at = max(r.pushed_at, at + timedelta(seconds=37))
                r.updated_at = max(r.updated_at, r.pushed_at + timedelta(minutes=3))
                deploy(rev, "production", at + timedelta(minutes=30), "success")
        _inactivate(deps, nid)
        r.deployments = sorted(deps, key=lambda d: (d.created_at, d.id))
    if incidents:  # the stream's last draws: everything above stays what it was
        _add_incidents(org, active, window, rng, nid)


def _add_incidents(
    org: Org,
    active: int,
    window: tuple[datetime, datetime],
    rng: random.Random,
    nid: Callable[[], int],
) -> None:
    """Incidents (issue 20): issues and one pull request labelled "incident", opened by people.

    In the active repositories with a successful production deployment, A = the first, B = the
    third and C = the fourth (else the last): in A one incident opened and closed in the window and
    one opened a day before it (closed in it); in B one opened and closed in the window (labels
    "bug" and "incident"), one opened three hours before the end and closed after it, and one
    "bug"-only issue; in C a merged hotfix pull request labelled "incident", with files. Times
    are window-relative plus a few random minutes (this stream's last draws). Each item takes
    the next free number of its repository (numbered after every older item, as the vendored PR
    is), so no existing number changes.
    """
    prod = [
        r
        for r in org.repos[:active]
        if any(d.environment == "production" and d.succeeded_at for d in r.deployments)
    ]
    if not prod:
        return
    a, b, c = prod[0], prod[min(2, len(prod) - 1)], prod[min(3, len(prod) - 1)]
    w0, w1 = window
    people = _users(org)

    def minutes(lo: int, hi: int) -> timedelta:
        return timedelta(minutes=rng.randint(lo, hi))

    def number(r: Repository) -> int:
        return max((x.number for x in (*r.issues, *r.pulls)), default=0) + 1

    def issue(
        r: Repository, title: str, labels: list[str], opened: datetime, closed: datetime
    ) -> None:
        iss = Issue(
            r.name,
            nid(),
            number(r),
            title,
            "Customers see errors. Timeline and follow-ups below.",
            rng.choice(people),
            opened,
            "closed",
            "completed",
            closed,
            rng.choice(people),
            labels,
        )
        r.issues.append(iss)

    opened = w0 + timedelta(hours=9) + minutes(0, 20)
    issue(a, "Checkout returns 500s", ["incident"], opened, opened + minutes(30, 150))
    opened = w0 - timedelta(days=1) + minutes(0, 59)
    issue(a, "Logins time out", ["incident"], opened, w0 + timedelta(hours=2))
    opened = w0 + timedelta(hours=10) + minutes(0, 20)
    issue(b, "Search results are empty", ["bug", "incident"], opened, opened + minutes(60, 180))
    opened = w0 + timedelta(hours=11) + minutes(0, 20)
    issue(b, "Typo on the settings page", ["bug"], opened, opened + minutes(20, 90))
    opened = w1 - timedelta(hours=3) - minutes(0, 20)
    issue(b, "Exports stuck in the queue", ["incident"], opened, w1 + minutes(120, 600))

    files = [
        FileChange("src/app.py", rng.randint(1, 20), rng.randint(1, 20), "modified"),
        FileChange("tests/test_app.py", rng.randint(5, 30), 0, "modified"),
    ]
    opened = w0 + timedelta(hours=6) + minutes(0, 20)
    merged = opened + minutes(40, 120)
    pr = PullRequest(
        c.name,
        nid(),
        number(c),
        "Hotfix: roll back the cache keys change",
        "Restores service; see the incident channel.",
        rng.choice(people),
        opened,
        "hotfix/cache-keys",
        c.default_branch,
        _sha("head", "hotfix", org.seed),
        sum(f.additions for f in files),
        sum(f.deletions for f in files),
        len(files),
        1,
        state="closed",
        closed_at=merged,
        merged_at=merged,
        labels=["incident"],
        files=files,
    )
    pr.merged_by = rng.choice([p for p in people if p != pr.author])
    pr.merge_commit_sha = _sha("merge", pr.id)
    c.pulls.append(pr)


def _inactivate(deps: list[Deployment], nid: Callable[[], int]) -> None:
    """A new successful staging deployment marks older successful staging ones `inactive`.

    GitHub's `auto_inactive` (default true): "Adds a new inactive status to all prior
    non-transient, non-production environment deployments with the same repository and
    environment name ... An inactive status is only added to deployments that had a success
    state" (rest/deployments/statuses#create-a-deployment-status). So a staging deployment's
    `latestStatus` is often INACTIVE after it succeeded; production ones keep SUCCESS.
    """
    for env in sorted({d.environment for d in deps} - {"production"}):
        done = sorted(
            (d for d in deps if d.environment == env and d.succeeded_at),
            key=lambda d: (d.succeeded_at, d.id),
        )
        for older, newer in itertools.pairwise(done):
            t = newer.succeeded_at
            assert t is not None
            if older.statuses[-1].created_at < t:
                older.statuses.append(DeploymentStatus(nid(), "inactive", t))
