"""Records shared by collectors and assets: the shapes of Sparky's raw data files."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sparky_resources import clock

T = TypeVar("T")
# A pydantic field holding a list that starts empty (`merged: ListField[Item]`): the type and
# its empty default said once, in the annotation (pydantic reads `Field` inside `Annotated`).
ListField = Annotated[list[T], Field(default_factory=list)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommitRecord(_Record):
    """One commit as written to `data/raw/raw_commits/<day>.json`.

    Identities are mailmapped. Line and file counts come from `git log --numstat -M`: a rename
    is one file, a binary file is one file with 0 lines, a merge commit has no diff (0/0/0).
    `authored_at`/`committed_at` are git's ISO 8601 text with the offset as recorded (which may
    be out of range for Python, e.g. `+99:00`); windows and ordering use the epoch seconds
    `authored_ts`/`committed_ts`. A shallow clone's boundary commit has `shallow_boundary` and
    no line stats (0/0/0): git can only diff it against an empty tree.
    """

    repo: str
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    authored_at: str
    committed_at: str
    authored_ts: int
    committed_ts: int
    subject: str
    additions: int
    deletions: int
    files_changed: int
    binary_files: int
    is_merge: bool
    shallow_boundary: bool = False
    # Issue 20: the repository-relative paths the commit changed, from the clone's numstat
    # (a rename's new path), for CODEOWNERS-style ownership. None where not known: older files,
    # GitHub's commits, merge commits (no diff is computed) and a shallow clone's boundary.
    paths: list[str] | None = None
    # GitHub's view, where GitHub was collected: the accounts behind the emails (None when an
    # email is linked to no account) and which sources saw the commit.
    author_login: str | None = None
    committer_login: str | None = None
    sources: list[str] = Field(default_factory=lambda: ["local"])
    # False where GitHub gave no line or file counts (REST lists, changedFilesIfAvailable null).
    line_stats_known: bool = True
    files_changed_known: bool = True
    # Merge commits read from a clone: the first non-empty line of the message body, where
    # GitHub's merge button puts the pull request's title (subject "Merge pull request #N from
    # owner/branch"); at most 200 characters. None for other commits and for older files.
    merge_title: str | None = None
    # Issue 20: a revert commit's reverted sha, from git-revert's "This reverts commit <sha>."
    # in the message body (`github_records.reverted_sha`); None for other commits and older files.
    reverts: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _epochs_from_text(cls, data: Any) -> Any:
        """Version-1 files and GitHub's commit nodes have no epochs: derive them from the ISO
        texts they do have (the clock's rule)."""
        if isinstance(data, dict):
            for text, epoch in (("authored_at", "authored_ts"), ("committed_at", "committed_ts")):
                if epoch not in data and isinstance(data.get(text), str):
                    seconds = clock.epoch(data[text])
                    data = data if seconds is None else {**data, epoch: int(seconds)}
        return data


class RepoInfo(_Record):
    """What Sparky knows about one configured clone (the `repositories` asset)."""

    name: str
    path: str
    source: Literal["local"] = "local"
    bare: bool | None = None
    refs: list[str] = Field(default_factory=list)
    default_branch: str | None = None
    default_branch_reason: str | None = None
    # True when the remote's HEAD was missing or dangling and a guess (main/master/trunk/HEAD)
    # was read instead: worth a warning.
    default_branch_fallback: bool = False
    shallow: bool = False
    history_complete_since: str | None = None
    head_sha: str | None = None
    head_committed_at: str | None = None
    error: str | None = None
    # `https://github.com/<owner>/<repo>` when the clone's `origin` remote is on GitHub (any
    # credentials in the remote's URL left out); None for other hosts or no `origin`.
    web_url: str | None = None


class LocalTagRecord(_Record):
    """A clone's tag dated in a day, as a release: `data/raw/raw_local_tags/<day>.json`.

    The date is git's `creatordate`: the tagger date of an annotated tag, the tagged commit's
    committer date for a lightweight one (git-for-each-ref(1)). `date` is git's ISO 8601 text
    with the offset as recorded; windows use `date_ts`. `sha` is the commit the tag points at.
    """

    repo: str
    name: str
    sha: str
    date: str
    date_ts: int
    # First line of an annotated tag's message; None for a lightweight tag or an empty message.
    message: str | None = None
    # `<web_url>/releases/tag/<name>` when the clone's remote is on GitHub, else None.
    url: str | None = None


class FirstCommit(_Record):
    """An identity's earliest authored commit on a clone's default branch."""

    name: str
    sha: str
    authored_ts: int


class FirstCommits(_Record):
    """Each identity's first commit over a clone's whole default branch:
    `data/cache/first_commits/<repo>.json`, keyed by the lowercased, mailmapped author email.

    `heads` are the default branch's tips it was computed at (one per ref read); a later run
    whose tips descend from them lists only the new commits. A shallow clone sees history only
    after its cut: `complete` is False and `history_complete_since` says from when, so its
    "first commits" are first since then.
    """

    repo: str
    refs: list[str]
    heads: list[str]
    # The `.mailmap` the keys were made under (its blob id or content digest); None without one.
    mailmap: str | None = None
    complete: bool = True
    history_complete_since: str | None = None
    identities: dict[str, FirstCommit] = Field(default_factory=dict)


class RepoCoverage(_Record):
    """How collection of one repository went for one window: the digest's coverage footer."""

    repo: str
    status: Literal["ok", "failed"]
    commits: int = 0
    error: str | None = None
    kept_previous: int = 0
    default_branch: str | None = None
    default_branch_reason: str | None = None
    shallow: bool = False
    history_complete_since: str | None = None


class Coverage(_Record):
    """Coverage of one raw partition, written next to (not inside) the data-contract file."""

    partition: str
    window_start: str
    window_end: str
    collected_at: str
    repos: list[RepoCoverage]
    # With [github].org: why GitHub's side of the day was not collected in this run (the
    # clones were; GitHub's commits are what an earlier run kept, if any).
    github_error: str | None = None

    @property
    def failed(self) -> list[RepoCoverage]:
        return [r for r in self.repos if r.status == "failed"]

    @property
    def is_partial(self) -> bool:
        """Collected before the window ended: the day's numbers may still grow."""
        collected = clock.parse_instant(self.collected_at)
        end = clock.parse_instant(self.window_end)
        return collected is not None and end is not None and collected < end
