"""Activity metrics of one window from raw commit records (pandas).

Definitions (also printed in the digest's footer):
- commits, lines_added, lines_deleted, files_changed: non-merge commits of the window on the
  default branch; a rename is one file, a binary file one file with 0 lines.
- merges: merge commits of the window (never counted as commits or lines).
- active_contributors: distinct canonical identities (.mailmap, GitHub logins and noreply
  addresses, `[identity].aliases` merged) authoring the window's non-merge commits, bots
  included; human_contributors leaves bots out, bot_commits counts the bots' commits.
- active_repos: repositories with at least one non-merge commit.
- prs_opened, prs_merged, prs_closed_unmerged, issues_opened, issues_closed, releases (GitHub):
  pull requests created / merged / closed without merging, issues created / closed, releases
  published (drafts and bare tags excluded), each by its own timestamp falling in the window;
  empty (not 0) when no GitHub organization is configured.
- commits_without_line_stats: commits at a shallow clone's boundary; git can only diff them
  against an empty tree, so their lines and files are not counted (the figures are lower
  bounds on such days).
- caf (Contributor Absence Factor): the fewest human contributors whose commits make up half
  of the window's human commits; top_contributor_share: the most active human's share.
Every figure, with its edge cases: docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel

from sparky_assets.lib.identity import ContributorsTable, display_name, extend_table

TOP_CONTRIBUTORS = 10
UTC = ZoneInfo("UTC")
METRIC_DEFINITIONS = __doc__ or ""


class RepoActivity(BaseModel):
    repo: str
    commits: int
    merges: int
    contributors: int
    lines_added: int
    lines_deleted: int
    files_changed: int
    # Contributor Absence Factor of the repository's human commits (None without any).
    caf: int | None = None


class ContributorActivity(BaseModel):
    name: str
    identity: str
    commits: int
    lines_added: int
    lines_deleted: int
    repos: list[str]
    is_bot: bool


class ActivityMetrics(BaseModel):
    """The activity part of a window's metrics (`lib/window.py` adds the rest)."""

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
    # Fields added with the weekly and monthly windows; files written before have none.
    human_commits: int | None = None
    human_lines_added: int | None = None
    human_lines_deleted: int | None = None
    human_files_changed: int | None = None
    bot_contributors: int | None = None
    caf: int | None = None
    top_contributor_share: float | None = None


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


def identity_columns(
    df: pd.DataFrame, table: ContributorsTable, logins: Sequence[str | None] | None = None
) -> pd.DataFrame:
    """Add `identity` (canonical id) and `is_bot` to commit rows, through the contributors table.

    A row's GitHub login, when known, decides; otherwise its (mailmapped) email. An email the
    table does not know stays its own identity (lowercased): it was not seen when the table was
    built, so nothing links it to anyone else.
    """
    handles = table.handles
    emails = df["author_email"].str.strip().str.lower()
    by_email = ("email:" + emails).map(handles)
    ident = by_email.fillna(emails)
    if logins is not None:
        by_login = pd.Series(
            [handles.get(f"login:{x.lower()}") if x else None for x in logins],
            index=df.index,
            dtype="object",
        )
        ident = by_login.fillna(ident)
    bots = {c.id for c in table.contributors if c.is_bot}
    df["identity"] = ident.astype(str)
    df["is_bot"] = df["identity"].isin(bots)
    return df


def compute_activity(
    partition: str,
    commits: Sequence[Mapping[str, Any]],
    *,
    bots: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    repos: Iterable[str] = (),
    table: ContributorsTable | None = None,
    tz: ZoneInfo = UTC,
    extend: bool = True,
) -> ActivityMetrics:
    """Activity of one window. `repos` lists repositories to show even when they were quiet.

    `table` is the `contributors` asset's identity table; without one (or for identities it
    does not know) the window's own records are resolved by the same rules. `extend=False`
    says the table already covers these records (`extend_table` was applied by the caller).
    """
    if extend or table is None:
        table = extend_table(table, commits, tz=tz, bots=list(bots), aliases=aliases or {})
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
    df = identity_columns(df, table, [c.get("author_login") for c in commits])
    work = df[~df["is_merge"]]
    merges = df[df["is_merge"]]
    humans = work[~work["is_bot"]]
    names = {c.id: c.name for c in table.contributors}

    per_repo = _per_repo(work, merges, repos)
    top = _top_contributors(work, names)
    caf, share = concentration(humans["identity"])
    return ActivityMetrics(
        partition=partition,
        commits=len(work),
        merges=len(merges),
        active_contributors=work["identity"].nunique(),
        human_contributors=humans["identity"].nunique(),
        bot_contributors=work.loc[work["is_bot"], "identity"].nunique(),
        bot_commits=int(work["is_bot"].sum()),
        lines_added=int(work["additions"].sum()),
        lines_deleted=int(work["deletions"].sum()),
        files_changed=int(work["files_changed"].sum()),
        human_commits=len(humans),
        human_lines_added=int(humans["additions"].sum()),
        human_lines_deleted=int(humans["deletions"].sum()),
        human_files_changed=int(humans["files_changed"].sum()),
        active_repos=work["repo"].nunique(),
        commits_without_line_stats=int(work["shallow_boundary"].sum()),
        per_repo=per_repo,
        top_contributors=top,
        caf=caf,
        top_contributor_share=share,
    )


def contributor_absence_factor(commits_per_contributor: Iterable[int]) -> int | None:
    """The smallest number of contributors whose commits make up at least half of all commits.

    CHAOSS "Contributor Absence Factor" (https://chaoss.community/kb/metric-contributor-absence-factor/).
    Ties do not matter: the k largest counts are the same numbers whichever tied person is
    picked. None when there are no commits.
    """
    counts = sorted((int(n) for n in commits_per_contributor if n > 0), reverse=True)
    total = sum(counts)
    if total == 0:
        return None
    running = 0
    for k, n in enumerate(counts, start=1):
        running += n
        if 2 * running >= total:  # integers: no rounding at exactly one half
            return k
    return len(counts)  # unreachable: the full sum covers half


def concentration(identities: pd.Series) -> tuple[int | None, float | None]:
    """(Contributor Absence Factor, the top contributor's share of commits) of commit rows."""
    counts = identities.value_counts()
    if counts.empty:
        return None, None
    return contributor_absence_factor(counts.tolist()), round(
        float(counts.iloc[0]) / float(counts.sum()), 3
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
    humans = work[~work["is_bot"]]
    caf = {
        repo: contributor_absence_factor(group.value_counts().tolist())
        for repo, group in humans.groupby("repo")["identity"]
    }
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
                caf=caf.get(name),
            )
        )
    rows.sort(key=lambda r: (-r.commits, -(r.lines_added + r.lines_deleted), r.repo))
    return rows


def _top_contributors(work: pd.DataFrame, names: Mapping[str, str]) -> list[ContributorActivity]:
    if work.empty:
        return []
    grouped = work.groupby("identity", sort=False).agg(
        commits=("sha", "size"),
        lines_added=("additions", "sum"),
        lines_deleted=("deletions", "sum"),
        is_bot=("is_bot", "any"),
    )
    grouped["lines"] = grouped["lines_added"] + grouped["lines_deleted"]
    grouped = grouped.reset_index()
    # Order first, then build only the ten shown (a month may have thousands of people).
    grouped["fallback"] = [names.get(i) or "" for i in grouped["identity"]]
    grouped = grouped.sort_values(["commits", "lines"], ascending=[False, False], kind="stable")
    # Ties on commits and lines go by name: keep every row tied with the tenth, then sort.
    if len(grouped) > TOP_CONTRIBUTORS:
        tenth = grouped.iloc[TOP_CONTRIBUTORS - 1]
        grouped = grouped[
            (grouped["commits"] > tenth["commits"])
            | ((grouped["commits"] == tenth["commits"]) & (grouped["lines"] >= tenth["lines"]))
        ]
    candidates = work[work["identity"].isin(set(grouped["identity"]))]
    out = []
    for ident, group in candidates.groupby("identity", sort=False):
        row = grouped[grouped["identity"] == ident].iloc[0]
        # The table's name (most used over all history); else the most used name here.
        name = names.get(str(ident))
        if not name:
            counts = group["author_name"].value_counts()
            name = sorted(counts[counts == counts.max()].index)[0]
        out.append(
            ContributorActivity(
                name=display_name(name),
                identity=str(ident),
                commits=int(row["commits"]),
                lines_added=int(row["lines_added"]),
                lines_deleted=int(row["lines_deleted"]),
                repos=sorted(group["repo"].unique()),
                is_bot=bool(row["is_bot"]),
            )
        )
    out.sort(key=lambda c: (-c.commits, -(c.lines_added + c.lines_deleted), c.name.lower()))
    return out[:TOP_CONTRIBUTORS]
