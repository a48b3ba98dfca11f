"""Activity metrics of one window from raw commit records (pandas).

Definitions (also printed in the digest's footer):
- commits, lines_added, lines_deleted, files_changed: non-merge commits of the window on the
  default branch; a rename is one file, a binary file one file with 0 lines.
- merges: merge commits of the window (never counted as commits or lines).
- active_contributors: distinct canonical author identities (mailmapped email, lowercased,
  plus `[identity].aliases`) of the window's non-merge commits, bots included;
  human_contributors leaves bots out, bot_commits counts the bots' commits.
- active_repos: repositories with at least one non-merge commit.
- prs_opened, prs_merged, prs_closed_unmerged, issues_opened, issues_closed, releases (GitHub):
  pull requests created / merged / closed without merging, issues created / closed, releases
  published (drafts and bare tags excluded), each by its own timestamp falling in the window;
  empty (not 0) when no GitHub organization is configured.
- commits_without_line_stats: commits at a shallow clone's boundary; git can only diff them
  against an empty tree, so their lines and files are not counted (the figures are lower
  bounds on such days).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sparky_assets.lib.identity import bot_reason, identity_key
from sparky_resources.github_records import within

TOP_CONTRIBUTORS = 10
METRIC_DEFINITIONS = __doc__ or ""


class RepoActivity(BaseModel):
    repo: str
    commits: int
    merges: int
    contributors: int
    lines_added: int
    lines_deleted: int
    files_changed: int


class ContributorActivity(BaseModel):
    name: str
    identity: str
    commits: int
    lines_added: int
    lines_deleted: int
    repos: list[str]
    is_bot: bool


class ActivityMetrics(BaseModel):
    """The JSON object of `data/processed/daily_metrics/<day>.json`."""

    partition: str
    commits: int
    merges: int
    active_contributors: int
    human_contributors: int
    bot_commits: int
    lines_added: int
    lines_deleted: int
    files_changed: int
    active_repos: int
    commits_without_line_stats: int = 0
    prs_opened: int | None = None
    prs_merged: int | None = None
    prs_closed_unmerged: int | None = None
    issues_opened: int | None = None
    issues_closed: int | None = None
    releases: int | None = None
    per_repo: list[RepoActivity]
    top_contributors: list[ContributorActivity]


_COLUMNS = [
    "repo",
    "sha",
    "author_name",
    "author_email",
    "additions",
    "deletions",
    "files_changed",
    "is_merge",
    "shallow_boundary",
]


def compute_activity(
    partition: str,
    commits: Sequence[Mapping[str, Any]],
    *,
    bots: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    repos: Iterable[str] = (),
) -> ActivityMetrics:
    """Metrics of one window. `repos` lists repositories to show even when they were quiet."""
    aliases = aliases or {}
    bots = list(bots)
    df = pd.DataFrame(
        [
            {k: c.get(k, False) if k == "shallow_boundary" else c[k] for k in _COLUMNS}
            for c in commits
        ],
        columns=_COLUMNS,
    )
    df = df.astype(
        {
            "additions": "int64",
            "deletions": "int64",
            "files_changed": "int64",
            "is_merge": "bool",
            "shallow_boundary": "bool",
        }
    )
    df["identity"] = [identity_key(e, aliases) for e in df["author_email"]]
    # Bot or human is a property of the identity: one bot-looking commit makes it a bot.
    df["is_bot"] = [
        bot_reason(n, e, bots) is not None
        for n, e in zip(df["author_name"], df["author_email"], strict=True)
    ]
    df["is_bot"] = df.groupby("identity")["is_bot"].transform("any").astype(bool)
    work = df[~df["is_merge"]]
    merges = df[df["is_merge"]]

    per_repo = _per_repo(work, merges, repos)
    top = _top_contributors(work)
    return ActivityMetrics(
        partition=partition,
        commits=len(work),
        merges=len(merges),
        active_contributors=work["identity"].nunique(),
        human_contributors=work.loc[~work["is_bot"], "identity"].nunique(),
        bot_commits=int(work["is_bot"].sum()),
        lines_added=int(work["additions"].sum()),
        lines_deleted=int(work["deletions"].sum()),
        files_changed=int(work["files_changed"].sum()),
        active_repos=work["repo"].nunique(),
        commits_without_line_stats=int(work["shallow_boundary"].sum()),
        per_repo=per_repo,
        top_contributors=top,
    )


def _per_repo(work: pd.DataFrame, merges: pd.DataFrame, repos: Iterable[str]) -> list[RepoActivity]:
    names = sorted(set(repos) | set(work["repo"]) | set(merges["repo"]))
    grouped = work.groupby("repo").agg(
        commits=("sha", "size"),
        contributors=("identity", "nunique"),
        lines_added=("additions", "sum"),
        lines_deleted=("deletions", "sum"),
        files_changed=("files_changed", "sum"),
    )
    merge_counts = merges.groupby("repo").size()
    rows = []
    for name in names:
        row = grouped.loc[name] if name in grouped.index else None
        rows.append(
            RepoActivity(
                repo=name,
                commits=int(row["commits"]) if row is not None else 0,
                merges=int(merge_counts.get(name, 0)),
                contributors=int(row["contributors"]) if row is not None else 0,
                lines_added=int(row["lines_added"]) if row is not None else 0,
                lines_deleted=int(row["lines_deleted"]) if row is not None else 0,
                files_changed=int(row["files_changed"]) if row is not None else 0,
            )
        )
    rows.sort(key=lambda r: (-r.commits, -(r.lines_added + r.lines_deleted), r.repo))
    return rows


def _top_contributors(work: pd.DataFrame) -> list[ContributorActivity]:
    if work.empty:
        return []
    out = []
    for ident, group in work.groupby("identity", sort=False):
        # The most used (mailmapped) name of this identity; ties go to the alphabetically first.
        names = group["author_name"].value_counts()
        name = _display_name(sorted(names[names == names.max()].index)[0])
        out.append(
            ContributorActivity(
                name=name,
                identity=str(ident),
                commits=len(group),
                lines_added=int(group["additions"].sum()),
                lines_deleted=int(group["deletions"].sum()),
                repos=sorted(group["repo"].unique()),
                is_bot=bool(group["is_bot"].any()),
            )
        )
    out.sort(key=lambda c: (-c.commits, -(c.lines_added + c.lines_deleted), c.name.lower()))
    return out[:TOP_CONTRIBUTORS]


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _display_name(name: str) -> str:
    """An author name for people to read: an email address in it shows only its local part.

    Digests and their sidecars carry no email addresses. Anything else stays whole ("@alice",
    "Jane Doe (@jdoe)"): keeping a name from mentioning anyone is the digest sanitizer's job
    (`sanitize.md_text`), not this function's.
    """
    return _EMAIL.sub(lambda m: m.group(0).split("@", 1)[0], name.strip()) or name


def github_counts(
    start: dt.datetime,
    end: dt.datetime,
    pull_requests: Sequence[Mapping[str, Any]],
    issues: Sequence[Mapping[str, Any]],
    releases: Sequence[Mapping[str, Any]],
) -> dict[str, int]:
    """The window's GitHub figures, each item counted by its own timestamp in [start, end)."""

    def count(items: Sequence[Mapping[str, Any]], field: str, also=lambda item: True) -> int:
        return sum(1 for x in items if within(x[field], start, end) and also(x))

    return {
        "prs_opened": count(pull_requests, "created_at"),
        "prs_merged": count(pull_requests, "merged_at"),
        "prs_closed_unmerged": count(pull_requests, "closed_at", lambda p: not p["merged_at"]),
        "issues_opened": count(issues, "created_at"),
        "issues_closed": count(issues, "closed_at"),
        "releases": count(releases, "published_at", lambda r: r["kind"] == "release"),
    }
