"""One window's metrics (a day, a week or a month) from its raw records: the pure assembly.

Every figure of a window is computed from the window's own raw records, never added up from
shorter windows: distinct counts (contributors, repositories) and medians do not add up. The
definitions are in `docs/metrics.md`; `tests/test_window.py` checks them by hand and against
`git log`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from sparky_assets.lib.delivery import DoraFigures
from sparky_assets.lib.github_metrics import (
    IssueMetrics,
    PullRequestMetrics,
    ReleaseMetrics,
    issue_metrics,
    pull_request_metrics,
    release_metrics,
)
from sparky_assets.lib.identity import ContributorsTable, display_name, extend_table
from sparky_assets.lib.metrics import ActivityMetrics, compute_activity
from sparky_assets.lib.shipped import (
    CommitPeople,
    Shipped,
    assemble,
    attention,
    commits_as_changes,
    releases_from_github,
    releases_from_tags,
    shipped_from_commits,
    shipped_from_github,
)
from sparky_resources.clock import Period, Window, parse_instant, previous_window

QUIET_LOOKBACK = 4  # "gone quiet": active in each of the previous 4 windows, not in this one
LISTED = 20  # names listed per figure (new, gone quiet); the counts are complete


# ---------------------------------------------------------------------------------------------
# The model of `data/processed/<period>_metrics/<key>.json`


class ContributorRef(BaseModel):
    """A person named in a figure: display name and GitHub login, never an email address."""

    name: str
    login: str | None
    is_bot: bool
    first_contribution: str | None = None
    last_contribution: str | None = None


class HistoryBasis(BaseModel):
    """What "new" and "gone quiet" rest on: the days the contributors table was built from."""

    first_day: str | None
    last_day: str | None
    note: str


class OpenItem(BaseModel):
    repo: str
    number: int
    title: str
    url: str
    created_at: str
    age_days: float


class Change(BaseModel):
    """This window against the previous one of the same kind."""

    previous: float | None
    absolute: float | None
    percent: float | None  # None when the previous value is 0 or unknown


class TeamRow(BaseModel):
    """One team's line in the org digest's Teams table (its own digest has the rest)."""

    team: str
    commits: int = 0
    prs_merged: int | None = None
    first_review_median_h: float | None = None
    merge_median_h: float | None = None
    attention: int | None = None
    deployments: int | None = None
    repos: list[str] = Field(default_factory=list)


class WindowMetrics(ActivityMetrics):
    """Every figure of one window. Fields are None ("not available") when their source is
    missing: no GitHub data for the window, or not enough history to say."""

    period: Period = "daily"
    start: str | None = None
    end: str | None = None
    hours: float | None = None
    days: list[str] = Field(default_factory=list)
    days_collected: int | None = None
    github_available: bool = False
    github_note: str | None = None
    new_contributors: int | None = None
    human_new_contributors: int | None = None
    new_contributor_list: list[ContributorRef] = Field(default_factory=list)
    quiet_contributors: int | None = None
    quiet_contributor_list: list[ContributorRef] = Field(default_factory=list)
    quiet_note: str | None = None
    history: HistoryBasis | None = None
    # "New" looks back only to this day (the collected history) where Sparky cannot see
    # further; None when every newcomer was checked against the clones' whole history.
    new_since: str | None = None
    pull_requests: PullRequestMetrics | None = None
    prs_open_at_end: int | None = None
    oldest_open_prs: list[OpenItem] = Field(default_factory=list)
    issues: IssueMetrics | None = None
    issues_open_at_end: int | None = None
    oldest_open_issues: list[OpenItem] = Field(default_factory=list)
    release_metrics: ReleaseMetrics | None = None
    previous_partition: str | None = None
    change: dict[str, Change] = Field(default_factory=dict)
    # Non-merge commits per calendar day of the window (the digest's chart); None for a day
    # that was not collected. Empty in files written before this field existed.
    commits_per_day: dict[str, int | None] = Field(default_factory=dict)
    # What shipped and what needs attention (lib/shipped.py): the digest's first screen.
    shipped: Shipped | None = None
    # Weekly and monthly: DORA's four keys (lib/delivery.py) and one row per team; a team
    # digest's own metrics name their team in `team`.
    dora: DoraFigures | None = None
    teams: list[TeamRow] = Field(default_factory=list)
    team: str | None = None


# Figures compared with the previous window: name -> how to read it from the metrics.
def _path(*names: str) -> Callable[[WindowMetrics], float | None]:
    def get(m: WindowMetrics) -> float | None:
        value: Any = m
        for name in names:
            value = getattr(value, name, None)
            if value is None:
                return None
        return value

    return get


HEADLINE: dict[str, Callable[[WindowMetrics], float | None]] = {
    name: _path(name)
    for name in (
        "commits",
        "human_commits",
        "merges",
        "lines_added",
        "human_lines_added",
        "lines_deleted",
        "human_lines_deleted",
        "files_changed",
        "active_repos",
        "active_contributors",
        "human_contributors",
        "new_contributors",
        "human_new_contributors",
        "quiet_contributors",
        "prs_opened",
        "prs_merged",
        "prs_closed_unmerged",
        "prs_open_at_end",
        "issues_opened",
        "issues_closed",
        "issues_open_at_end",
        "releases",
        "caf",
    )
} | {
    "human_prs_opened": _path("pull_requests", "human_opened"),
    "human_prs_merged": _path("pull_requests", "human_merged"),
    "pr_first_response_median_h": _path("pull_requests", "time_to_first_response", "median_h"),
    "pr_first_review_median_h": _path("pull_requests", "time_to_first_review", "median_h"),
    "pr_merge_median_h": _path("pull_requests", "time_to_merge", "median_h"),
    "human_pr_merge_median_h": _path("pull_requests", "human_time_to_merge", "median_h"),
    "issue_first_response_median_h": _path("issues", "time_to_first_response", "median_h"),
}


def change_against(current: WindowMetrics, previous: WindowMetrics | None) -> dict[str, Change]:
    """Absolute and percent change of every headline figure; None where either side is."""
    out: dict[str, Change] = {}
    for name, get in HEADLINE.items():
        now = get(current)
        before = get(previous) if previous is not None else None
        if now is None or before is None:
            out[name] = Change(previous=before, absolute=None, percent=None)
            continue
        absolute = round(float(now) - float(before), 2)
        percent = round(100.0 * absolute / float(before), 1) if before else None
        out[name] = Change(previous=before, absolute=absolute, percent=percent)
    return out


# ---------------------------------------------------------------------------------------------
# Assembly


@dataclass
class WindowInputs:
    """The raw records of a window's days, as read from the store.

    `github_days` counts the days whose GitHub coverage says GitHub was configured: pull-request
    and issue figures need all of `days_collected`. `backlog` is the raw_backlog of the window's
    last collected day (its end is the window's end when the window is complete).
    """

    commits: list[Mapping[str, Any]] = field(default_factory=list)
    pull_requests: list[Mapping[str, Any]] = field(default_factory=list)
    issues: list[Mapping[str, Any]] = field(default_factory=list)
    releases: list[Mapping[str, Any]] = field(default_factory=list)
    backlog: Mapping[str, Any] | None = None
    repos: list[str] = field(default_factory=list)
    day_commits: dict[str, int] = field(default_factory=dict)  # collected day -> non-merge commits
    days_collected: list[str] = field(default_factory=list)
    github_days: int = 0
    # Pull requests and issues of the days just before the window (as far back as the longest
    # attention threshold): one opened then can cross its threshold inside the window.
    lookback_pull_requests: list[Mapping[str, Any]] = field(default_factory=list)
    lookback_issues: list[Mapping[str, Any]] = field(default_factory=list)
    local_tags: list[Mapping[str, Any]] = field(
        default_factory=list
    )  # clones' tags (raw_local_tags)
    web_urls: dict[str, str] = field(default_factory=dict)  # clone -> its GitHub web URL
    # The clones' whole history: each author email's first commit (epoch seconds, earliest over
    # the clones), and whether every clone's listing reaches back to its first commit.
    first_commits: dict[str, int] = field(default_factory=dict)
    first_commits_complete: bool = False


def _commits_per_day(window: Window, inputs: WindowInputs) -> dict[str, int | None]:
    """Each day's non-merge commits (its raw file holds the commits of that day); None for a
    day that was not collected."""
    return {day: inputs.day_commits.get(day) for day in window.days}


def compute_window_metrics(
    window: Window,
    inputs: WindowInputs,
    *,
    table: ContributorsTable | None,
    history: Collection[str] | None,
    bots: Iterable[str] = (),
    bot_patterns: Iterable[str] | None = None,
    aliases: Mapping[str, str] | None = None,
    review_wait_days: float = 2.0,
    answer_wait_days: float = 3.0,
) -> WindowMetrics:
    """All figures of one window from its raw records and the contributors table.

    `history` holds the days the stored `table` was built from; None without a table. The
    waits are `[digest]`'s: how long a pull request or issue waits before it needs attention.
    """
    tz = window.tz
    bots = list(bots)
    aliases = dict(aliases or {})
    extended = extend_table(
        table,
        inputs.commits,
        inputs.pull_requests,
        inputs.issues,
        tz=tz,
        bots=bots,
        aliases=aliases,
        **({"bot_patterns": list(bot_patterns)} if bot_patterns is not None else {}),
    )
    activity = compute_activity(
        window.key, inputs.commits, repos=inputs.repos, table=extended, tz=tz, extend=False
    )
    people = extended.by_id()

    def bot_login(login: str | None) -> bool:
        if not login:
            return False
        ident = extended.resolve(login=login)
        person = people.get(ident) if ident else None
        return person.is_bot if person else login.lower().endswith("[bot]")

    def name_of(login: str | None) -> str | None:
        if not login:
            return None
        ident = extended.resolve(login=login)
        person = people.get(ident) if ident else None
        return display_name(person.name) if person else login

    def commit_ident(c: Mapping[str, Any]) -> str:
        ident = extended.resolve(login=c["author_login"]) if c.get("author_login") else None
        email = c["author_email"].strip().lower()
        return ident or extended.resolve(email=email) or email

    active = _active_ids(window, inputs, extended)
    new_ids, new_list = _new_contributors(window, active, table, people, inputs.first_commits)
    new, human_new = (
        len(new_ids),
        sum(1 for i in new_ids if not getattr(people.get(i), "is_bot", False)),
    )
    quiet, quiet_list, quiet_note = _quiet_contributors(window, active, table, history, people)

    metrics = WindowMetrics(
        **activity.model_dump(),
        period=window.period,
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        hours=window.hours,
        days=list(window.days),
        days_collected=len(inputs.days_collected),
        new_contributors=new,
        human_new_contributors=human_new,
        new_contributor_list=new_list,
        quiet_contributors=quiet,
        quiet_contributor_list=quiet_list,
        quiet_note=quiet_note,
        history=_history_basis(history),
        new_since=_new_since(inputs, history),
        commits_per_day=_commits_per_day(window, inputs),
    )
    first_timers = frozenset(
        login.lower() for i in new_ids for login in getattr(people.get(i), "logins", None) or []
    )
    waits = {"review_wait_days": review_wait_days, "answer_wait_days": answer_wait_days}
    github_ok = bool(inputs.days_collected) and inputs.github_days == len(inputs.days_collected)
    if not github_ok:
        metrics.github_note = (
            "GitHub was not collected for this window"
            if inputs.github_days == 0
            else f"GitHub was collected for {inputs.github_days} of "
            f"{len(inputs.days_collected)} days"
        )

        def commit_person(c: Mapping[str, Any]) -> Any:
            return people.get(commit_ident(c))

        by = CommitPeople(
            web_urls=inputs.web_urls,
            is_bot=lambda c: bool(getattr(commit_person(c), "is_bot", False)),
            name=lambda c: display_name(
                getattr(commit_person(c), "name", None) or c["author_name"]
            ),
            first_time=lambda c: commit_ident(c) in new_ids,
        )
        changes, automated, total = shipped_from_commits(window, inputs.commits, by)
        unit = "pull request"
        if total == 0:  # no pull request merged: the commits are what shipped
            unit = "commit"
            changes, automated, total = commits_as_changes(window, inputs.commits, by)
        metrics.shipped = assemble(
            "clones",
            changes,
            automated,
            total,
            releases_from_tags(window, inputs.local_tags),
            attention(window, [], [], [c for c in changes if c.revert], is_bot=bot_login, **waits),
            review_wait_days=None,
            answer_wait_days=None,
            unit=unit,
        )
        return metrics
    prs = pull_request_metrics(inputs.pull_requests, window.start, window.end, is_bot=bot_login)
    issues = issue_metrics(inputs.issues, window.start, window.end, is_bot=bot_login)
    releases = release_metrics(inputs.releases, window.start, window.end)
    metrics.github_available = True
    metrics.pull_requests = prs
    metrics.issues = issues
    metrics.release_metrics = releases
    metrics.prs_opened = prs.opened
    metrics.prs_merged = prs.merged
    metrics.prs_closed_unmerged = prs.closed_unmerged
    metrics.issues_opened = issues.opened
    metrics.issues_closed = issues.closed
    metrics.releases = releases.releases
    _apply_backlog(metrics, window, inputs.backlog)
    changes, automated, total = shipped_from_github(
        window, inputs.pull_requests, is_bot=bot_login, name_of=name_of, first_timers=first_timers
    )
    needs = attention(
        window,
        [*inputs.lookback_pull_requests, *inputs.pull_requests],
        [*inputs.lookback_issues, *inputs.issues],
        [c for c in changes if c.revert],
        is_bot=bot_login,
        **waits,
    )
    metrics.shipped = assemble(
        "github",
        changes,
        automated,
        total,
        releases_from_github(window, inputs.releases),
        needs,
        **waits,
    )
    return metrics


def _active_ids(
    window: Window, inputs: WindowInputs, table: ContributorsTable
) -> dict[str, dt.datetime]:
    """Everyone who contributed in the window, with their first contribution in it.

    A contribution is a non-merge commit (by committer time, as the windows are), a pull
    request opened or an issue opened.
    """
    seen: dict[str, dt.datetime] = {}

    def note(ident: str | None, when: dt.datetime) -> None:
        if ident and (ident not in seen or when < seen[ident]):
            seen[ident] = when

    for c in inputs.commits:
        if c.get("is_merge") or not window.contains(c["committed_ts"]):
            continue
        ident = None
        if c.get("author_login"):
            ident = table.resolve(login=c["author_login"])
        # As `metrics.identity_columns` does: login first, then the email as the table has it.
        email = c["author_email"].strip().lower()
        ident = ident or table.resolve(email=email) or email
        note(ident, dt.datetime.fromtimestamp(c["committed_ts"], dt.UTC))
    for item in [*inputs.pull_requests, *inputs.issues]:
        when = parse_instant(item.get("created_at"))
        if when is None or not window.contains(when) or not item.get("author_login"):
            continue
        note(table.resolve(login=item["author_login"]), when)
    return seen


def _ref(ident: str, people: Mapping[str, Any]) -> ContributorRef:
    person = people.get(ident)
    if person is None:
        return ContributorRef(name=display_name(ident), login=None, is_bot=False)
    return ContributorRef(
        name=display_name(person.name),
        login=person.logins[0] if person.logins else None,
        is_bot=person.is_bot,
        first_contribution=person.first_contribution,
        last_contribution=person.last_contribution,
    )


def _new_contributors(
    window: Window,
    active: Mapping[str, dt.datetime],
    table: ContributorsTable | None,
    people: Mapping[str, Any],
    first_commits: Mapping[str, int],
) -> tuple[set[str], list[ContributorRef]]:
    """Those whose first contribution ever (as far as the table knows) is in the window: their
    identities, and the first LISTED of them as references. Someone with an earlier commit in
    the clones' whole history (`first_commits`, by author email) is never new."""
    known = table.by_id() if table is not None else {}
    new: list[tuple[dt.datetime, str]] = []
    for ident, first_here in active.items():
        before = known.get(ident)
        first = parse_instant(before.first_contribution) if before is not None else None
        if first is not None and first.timestamp() < window.start_ts:
            continue
        person = people.get(ident)
        emails = getattr(person, "emails", None) or ([ident] if "@" in ident else [])
        if any(first_commits.get(e.lower(), window.start_ts) < window.start_ts for e in emails):
            continue
        new.append((first_here, ident))
    new.sort()
    refs = [_ref(ident, people) for _, ident in new]
    for ref, (when, _) in zip(refs, new, strict=True):
        ref.first_contribution = when.astimezone(dt.UTC).isoformat()
    return {ident for _, ident in new}, refs[:LISTED]


def _quiet_contributors(
    window: Window,
    active: Mapping[str, dt.datetime],
    table: ContributorsTable | None,
    history: Collection[str] | None,
    people: Mapping[str, Any],
) -> tuple[int | None, list[ContributorRef], str | None]:
    """Humans active in each of the previous 4 windows of this kind and not in this one.

    Only said when the contributors table was built from every day of those 4 windows;
    otherwise None, with the days it lacks.
    """
    if table is None or history is None:
        return None, [], "needs the contributors table"
    spans = [set(previous_window(window, steps).days) for steps in range(1, QUIET_LOOKBACK + 1)]
    needed = set().union(*spans)
    lacking = sorted(needed - set(history))
    if lacking:
        return (
            None,
            [],
            f"needs the contributors table to cover {min(needed)} to {max(needed)}; it lacks "
            f"{len(lacking)} of those days (first {lacking[0]})",
        )
    quiet = []
    for person in table.contributors:
        if person.is_bot or person.id in active:
            continue
        days = person.active_days
        if all(any(d in span for d in days) for span in spans):
            quiet.append(person.id)
    refs = sorted((_ref(i, people) for i in quiet), key=lambda r: r.name.lower())
    return len(refs), refs[:LISTED], None


def _new_since(inputs: WindowInputs, history: Collection[str] | None) -> str | None:
    """The day "new" looks back to, where Sparky cannot see further: the collected history's
    first day, unless the clones' whole history was read and GitHub (whose history before the
    collected days Sparky never sees) was not collected."""
    if inputs.first_commits_complete and inputs.github_days == 0:
        return None
    return min(history) if history else None


def _history_basis(history: Collection[str] | None) -> HistoryBasis:
    if not history:
        return HistoryBasis(
            first_day=None,
            last_day=None,
            note="no contributors table yet: everyone active in the window counts as new",
        )
    first, last = min(history), max(history)
    return HistoryBasis(
        first_day=first,
        last_day=last,
        note=f"first contributions in the collected history ({first} to {last}); "
        "anything earlier is unknown",
    )


def _apply_backlog(
    metrics: WindowMetrics, window: Window, backlog: Mapping[str, Any] | None
) -> None:
    """Open at the window's end, from the snapshot of its last collected day."""
    if not backlog or backlog.get("collected") is False:
        return
    at = parse_instant(backlog.get("at"))
    metrics.prs_open_at_end = backlog.get("pull_requests_open")
    metrics.issues_open_at_end = backlog.get("issues_open")
    reference = at or window.end
    metrics.oldest_open_prs = _open_items(backlog.get("oldest_pull_requests") or [], reference)
    metrics.oldest_open_issues = _open_items(backlog.get("oldest_issues") or [], reference)


def _open_items(items: Sequence[Mapping[str, Any]], at: dt.datetime) -> list[OpenItem]:
    out = []
    for item in items:
        created = parse_instant(item.get("created_at"))
        if created is None:
            continue
        out.append(
            OpenItem(
                repo=item["repo"],
                number=int(item["number"]),
                title=item.get("title") or "",
                url=item.get("url") or "",
                created_at=item["created_at"],
                age_days=round((at - created).total_seconds() / 86400, 1),
            )
        )
    return out
