"""Records shared by collectors and assets: the shapes of Sparky's raw data files."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommitRecord(_Record):
    """One commit as written to `data/raw/raw_commits/<day>.json`.

    Identities are mailmapped. Line and file counts come from `git log --numstat -M`: a rename
    is one file, a binary file is one file with 0 lines, a merge commit has no diff (0/0/0).
    Times keep the offset git recorded, so nothing is lost; windows compare instants.
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
    subject: str
    additions: int
    deletions: int
    files_changed: int
    binary_files: int
    is_merge: bool


class RepoInfo(_Record):
    """What Sparky knows about one configured clone (the `repositories` asset)."""

    name: str
    path: str
    source: Literal["local"] = "local"
    bare: bool | None = None
    refs: list[str] = Field(default_factory=list)
    head_sha: str | None = None
    head_committed_at: str | None = None
    error: str | None = None


class RepoCoverage(_Record):
    """How collection of one repository went for one window: the digest's coverage footer."""

    repo: str
    status: Literal["ok", "failed"]
    commits: int = 0
    error: str | None = None
    kept_previous: int = 0


class Coverage(_Record):
    """Coverage of one raw partition, written next to (not inside) the data-contract file."""

    partition: str
    window_start: str
    window_end: str
    collected_at: str
    repos: list[RepoCoverage]

    @property
    def failed(self) -> list[RepoCoverage]:
        return [r for r in self.repos if r.status == "failed"]

    @property
    def is_partial(self) -> bool:
        """Collected before the window ended: the day's numbers may still grow."""
        collected = dt.datetime.fromisoformat(self.collected_at)
        return collected < dt.datetime.fromisoformat(self.window_end)
