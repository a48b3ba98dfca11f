"""Pull-request, issue and release metrics of one window from raw GitHub records (pure).

Records are the JSON dicts of `sparky_resources.github_records` (PullRequestRecord,
IssueRecord, ReleaseRecord). A pull request appears in the file of every day it had an event,
each a snapshot of its own run, so every function first keeps the newest snapshot
(`latest_records`). A window is `[start, end)` with aware instants: an event exactly at `end`
belongs to the next window.

Definitions (docs/metrics.md copies them):
- Each pull request or issue counts in the window of its own event time: opened by
  `created_at`, merged by `merged_at`, closed unmerged by `closed_at` with no `merged_at`;
  issues closed by `closed_at`. `human_*` figures leave out bot authors.
- Bots: an author is a bot when the caller's `is_bot(login)` says so (its identity table), or,
  without one, when the record's `author_is_bot` is set; a login ending in `[bot]` is always a
  bot. A reviewer is a bot when its login ends in `[bot]` or `is_bot(login)` says so.
- Qualifying review: state not `pending`, with a `submitted_at` and an author login, by
  someone other than the pull request's author (logins compared case-insensitively), not a
  bot.
- Clock start of a pull request (draft time excluded): `ready_for_review_at` when it is set and
  later than `created_at`, else `created_at`. An event before the clock start (a review while
  still a draft) counts as 0 hours. Issues' clock starts at `created_at`.
- time_to_first_response: pull requests (issues) whose `first_response_at` (the collector
  restricts it to the first comment or review by someone other than the author who is not a
  bot) falls in the window; hours from the clock start.
- time_to_first_review: pull requests whose first qualifying review (earliest `submitted_at`)
  falls in the window; hours from the clock start.
- time_to_merge: pull requests merged in the window, hours from the clock start to
  `merged_at`; human_time_to_merge: only those whose author is not a bot.
- Timings give `count`, `median_h` and `p90_h` in hours rounded to 2 decimals (None when the
  count is 0); percentiles interpolate linearly between the closest ranks (numpy's default,
  Hyndman & Fan type 7), so the median of an even count is the mean of the two middle values.
- size: pull requests merged in the window whose additions and deletions are both known;
  lines = additions + deletions; `median_lines`, `p90_lines` (as above) and Kubernetes' size
  classes XS 0-9, S 10-29, M 30-99, L 100-499, XL 500-999, XXL 1000+; `unknown` counts merged
  pull requests without line counts.
- reviews: qualifying reviews submitted in the window; reviewers: their distinct logins
  (case-insensitive); merged_with_review: pull requests merged in the window with a
  qualifying review submitted at or before `merged_at` (GitHub times are to the second: an
  approval and the merge it allowed can share one); merged_with_review_share: that over
  merged (3 decimals, None when nothing merged).
- issues: closed_by_reason splits the closed ones by GitHub's `state_reason` lowercased:
  `completed`, `not_planned`, `duplicate`, and `unspecified` for none or any other value.
  time_to_close: issues closed in the window, hours from `created_at`.
- releases: `kind == "release"` published in the window (drafts are never collected;
  prereleases included, and counted again in `prereleases`); tags: `kind == "tag"` whose date
  (`published_at`) falls in the window.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field

from sparky_resources.clock import in_window, parse_instant
from sparky_resources.github_records import GitHubItem, GitHubRelease
from sparky_resources.models import ListField

LISTED = 20  # pull requests / issues listed per figure; the counts are complete
IsBot = Callable[[str | None], bool]
Records = Iterable[Mapping[str, Any]]  # raw records as JSON dicts (`github_records`' models)

# Kubernetes' size labels by lines changed (additions + deletions):
# https://github.com/kubernetes/test-infra/tree/master/prow/plugins/size
# XS 0-9, S 10-29, M 30-99, L 100-499, XL 500-999, XXL 1000+.
SIZE_NAMES: tuple[str, ...] = ("XS", "S", "M", "L", "XL", "XXL")
SIZE_LOWER_BOUNDS: tuple[int, ...] = (0, 10, 30, 100, 500, 1000)
CLOSE_REASONS: tuple[str, ...] = ("completed", "not_planned", "duplicate", "unspecified")


# ---------------------------------------------------------------------------------------------
# Models


class Durations(BaseModel):
    """Hours from a clock start to an event: count, median and 90th percentile.

    Percentiles use numpy's default linear interpolation (`numpy.percentile(x, 90)`, Hyndman &
    Fan type 7); both are rounded to 2 decimals and None when `count` is 0.
    """

    count: int = 0
    median_h: float | None = None
    p90_h: float | None = None


# A timing field of the metrics, empty (count 0) until the window's events are measured.
Timing = Annotated[Durations, Field(default_factory=Durations)]


class SizeDistribution(BaseModel):
    """Lines changed (additions + deletions) of the pull requests merged in the window."""

    count: int = 0
    median_lines: float | None = None
    p90_lines: float | None = None
    buckets: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(SIZE_NAMES, 0))
    unknown: int = 0  # merged without line counts (REST list answers carry none)


class PullRequestRef(GitHubItem):
    """A pull request as metrics list it: the record's naming fields (`GitHubItem`, declared
    once), its size, and when it was opened and merged."""

    lines: int | None
    merged_at: str | None
    created_at: str


class IssueRef(BaseModel):
    """An issue as metrics list it: what names it, and when and why it was closed."""

    repo: str
    number: int
    title: str
    url: str
    author_login: str | None
    created_at: str
    closed_at: str | None
    state_reason: str | None


class PullRequestMetrics(BaseModel):
    opened: int = 0
    human_opened: int = 0
    merged: int = 0
    human_merged: int = 0
    closed_unmerged: int = 0
    time_to_first_response: Timing
    time_to_first_review: Timing
    time_to_merge: Timing
    human_time_to_merge: Timing
    size: SizeDistribution = Field(default_factory=SizeDistribution)
    reviews: int = 0
    reviewers: int = 0
    merged_with_review: int = 0
    merged_with_review_share: float | None = None
    # Merged in the window, largest first (lines, then repo and number; unknown sizes last).
    merged_list: ListField[PullRequestRef]
    # Opened in the window, newest first.
    opened_list: ListField[PullRequestRef]
    # Opened in the window by a person, not a draft, still open and without a first response
    # at the window's end; oldest first.
    unanswered: int = 0
    unanswered_list: ListField[PullRequestRef]


class IssueMetrics(BaseModel):
    opened: int = 0
    human_opened: int = 0
    closed: int = 0
    closed_by_reason: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(CLOSE_REASONS, 0)
    )
    time_to_first_response: Timing
    time_to_close: Timing
    # Opened in the window, newest first; closed in the window, most recently closed first.
    opened_list: ListField[IssueRef]
    closed_list: ListField[IssueRef]
    # Opened in the window by a person, still open and without a first response at its end.
    unanswered: int = 0
    unanswered_list: ListField[IssueRef]


class ReleaseRef(GitHubRelease):
    """A release as metrics list it: the record's naming fields (`GitHubRelease`, declared
    once), when it was published and whether it is a prerelease."""

    published_at: str | None
    is_prerelease: bool


class ReleaseMetrics(BaseModel):
    releases: int = 0
    prereleases: int = 0
    tags: int = 0
    items: ListField[ReleaseRef]  # the window's releases, newest first


# ---------------------------------------------------------------------------------------------
# Helpers

_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("a window's start and end must be aware datetimes")


def _hours(clock: dt.datetime, event: dt.datetime) -> float:
    """Hours from `clock` to `event`; an event before the clock (during a draft) is 0."""
    return max(0.0, (event - clock).total_seconds() / 3600)


def _percentiles(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    median, p90 = np.percentile(np.asarray(values, dtype=float), [50, 90])
    return round(float(median), 2), round(float(p90), 2)


def durations(hours: Sequence[float]) -> Durations:
    """Count, median and p90 of `hours` (see `Durations`)."""
    median, p90 = _percentiles(hours)
    return Durations(count=len(hours), median_h=median, p90_h=p90)


def size_class(lines: int) -> str:
    """Kubernetes' size label of a change of `lines` lines (negative counts as XS)."""
    return SIZE_NAMES[max(0, bisect.bisect_right(SIZE_LOWER_BOUNDS, lines) - 1)]


def _bot_suffix(login: str | None) -> bool:
    return bool(login) and str(login).lower().endswith("[bot]")


def _memo(is_bot: IsBot | None) -> IsBot | None:
    """`is_bot` asked once per login: the caller's may resolve through an identity table."""
    if is_bot is None:
        return None
    seen: dict[str | None, bool] = {}

    def ask(login: str | None) -> bool:
        if login not in seen:
            seen[login] = bool(is_bot(login))
        return seen[login]

    return ask


def _author_is_bot(record: Mapping[str, Any], is_bot: IsBot | None) -> bool:
    login = record.get("author_login")
    if _bot_suffix(login):
        return True
    if is_bot is not None:
        return is_bot(login)
    return bool(record.get("author_is_bot"))


def _reviewer_is_bot(login: str, is_bot: IsBot | None) -> bool:
    return _bot_suffix(login) or (is_bot is not None and is_bot(login))


def _lines(record: Mapping[str, Any]) -> int | None:
    additions, deletions = record.get("additions"), record.get("deletions")
    if additions is None or deletions is None:
        return None
    return int(additions) + int(deletions)


# ---------------------------------------------------------------------------------------------
# Snapshots


def _key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    if "tag_name" in record:
        return (1, str(record.get("repo") or ""), str(record["tag_name"]), str(record.get("kind")))
    return (0, str(record.get("repo") or ""), int(record.get("number") or 0))


def latest_records(records: Records) -> list[dict[str, Any]]:
    """One record per pull request or issue `(repo, number)`, or per release `(repo,
    tag_name, kind)`: the snapshot with the greatest `updated_at` (a tie, or a release, which
    has none: the last seen, i.e. the later day's file). Sorted by that key, so the result does
    not depend on the order of the files beyond ties."""
    best: dict[tuple[Any, ...], tuple[dt.datetime, Mapping[str, Any]]] = {}
    for record in records:
        key = _key(record)
        updated = parse_instant(record.get("updated_at")) or _EARLIEST
        kept = best.get(key)
        if kept is None or updated >= kept[0]:
            best[key] = (updated, record)
    return [dict(best[key][1]) for key in sorted(best)]


# ---------------------------------------------------------------------------------------------
# Pull requests


def _naming(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that name a pull request or issue in a reference to it (a title or URL
    missing from a record is empty)."""
    return {
        "repo": record["repo"],
        "number": int(record["number"]),
        "title": record.get("title") or "",
        "url": record.get("url") or "",
        "author_login": record.get("author_login"),
    }


def _pr_ref(record: Mapping[str, Any], bot: bool) -> PullRequestRef:
    return PullRequestRef(
        **_naming(record),
        author_is_bot=bot,
        lines=_lines(record),
        merged_at=record.get("merged_at"),
        created_at=record["created_at"],
    )


def qualifying_reviews(
    record: Mapping[str, Any], is_bot: IsBot | None
) -> list[tuple[dt.datetime, str]]:
    """(submitted_at, lowercased login) of the reviews that count (module docstring)."""
    author = (record.get("author_login") or "").lower()
    out: list[tuple[dt.datetime, str]] = []
    for review in record.get("reviews") or []:
        login = review.get("author_login")
        when = parse_instant(review.get("submitted_at"))
        if not login or when is None or str(review.get("state") or "").lower() == "pending":
            continue
        if login.lower() == author or _reviewer_is_bot(login, is_bot):
            continue
        out.append((when, login.lower()))
    return out


def pull_request_metrics(
    records: Records, start: dt.datetime, end: dt.datetime, *, is_bot: IsBot | None = None
) -> PullRequestMetrics:
    """The window's pull-request figures (module docstring) from raw PullRequestRecord dicts;
    duplicate snapshots are reduced to the newest first. One pass: linear in the records."""
    _check_window(start, end)
    ask = _memo(is_bot)
    m = PullRequestMetrics()
    first_response: list[float] = []
    first_review: list[float] = []
    to_merge: list[float] = []
    human_to_merge: list[float] = []
    sizes: list[int] = []
    reviewers: set[str] = set()
    opened: list[tuple[dt.datetime, PullRequestRef]] = []
    merged: list[PullRequestRef] = []
    waiting: list[tuple[dt.datetime, PullRequestRef]] = []

    for record in latest_records(records):
        bot = _author_is_bot(record, ask)
        created = parse_instant(record.get("created_at"))
        if created is None:  # not a pull request record; the contract requires created_at
            continue
        ready = parse_instant(record.get("ready_for_review_at"))
        clock = ready if ready is not None and ready > created else created
        merged_at = parse_instant(record.get("merged_at"))
        reviews = qualifying_reviews(record, ask)

        if in_window(created, start, end):
            m.opened += 1
            m.human_opened += not bot
            opened.append((created, _pr_ref(record, bot)))
            # A draft at the end (still one, or marked ready only after it) waits for nobody.
            ready_after = parse_instant(record.get("ready_for_review_at"))
            draft = record.get("is_draft") or (ready_after is not None and ready_after >= end)
            if not bot and not draft and _waiting(record, end):
                waiting.append((created, _pr_ref(record, bot)))
        if merged_at is not None and in_window(merged_at, start, end):
            m.merged += 1
            m.human_merged += not bot
            hours = _hours(clock, merged_at)
            to_merge.append(hours)
            if not bot:
                human_to_merge.append(hours)
            lines = _lines(record)
            if lines is None:
                m.size.unknown += 1
            else:
                sizes.append(lines)
                m.size.buckets[size_class(lines)] += 1
            if any(when <= merged_at for when, _ in reviews):
                m.merged_with_review += 1
            merged.append(_pr_ref(record, bot))
        if merged_at is None and in_window(parse_instant(record.get("closed_at")), start, end):
            m.closed_unmerged += 1
        responded = parse_instant(record.get("first_response_at"))
        if responded is not None and in_window(responded, start, end):
            first_response.append(_hours(clock, responded))
        if reviews:
            first = min(when for when, _ in reviews)
            if in_window(first, start, end):
                first_review.append(_hours(clock, first))
        for when, login in reviews:
            if in_window(when, start, end):
                m.reviews += 1
                reviewers.add(login)

    m.reviewers = len(reviewers)
    m.time_to_first_response = durations(first_response)
    m.time_to_first_review = durations(first_review)
    m.time_to_merge = durations(to_merge)
    m.human_time_to_merge = durations(human_to_merge)
    m.size.count = len(sizes)
    m.size.median_lines, m.size.p90_lines = _percentiles(sizes)
    if m.merged:
        m.merged_with_review_share = round(m.merged_with_review / m.merged, 3)
    merged.sort(key=lambda r: (r.lines is None, -(r.lines or 0), r.repo, r.number))
    m.merged_list = merged[:LISTED]
    opened.sort(key=lambda item: (-item[0].timestamp(), item[1].repo, item[1].number))
    m.opened_list = [ref for _, ref in opened[:LISTED]]
    m.unanswered, m.unanswered_list = _oldest(waiting)
    return m


def _waiting(record: Mapping[str, Any], end: dt.datetime) -> bool:
    """Open and without a first response at `end` (as the window's last snapshot says)."""

    def after_end(name: str) -> bool:
        moment = parse_instant(record.get(name))
        return moment is None or moment >= end

    return after_end("first_response_at") and after_end("closed_at") and after_end("merged_at")


def _oldest(items: list[tuple[dt.datetime, Any]]) -> tuple[int, list[Any]]:
    items.sort(key=lambda item: (item[0].timestamp(), item[1].repo, item[1].number))
    return len(items), [ref for _, ref in items[:LISTED]]


# ---------------------------------------------------------------------------------------------
# Issues


def _issue_ref(record: Mapping[str, Any]) -> IssueRef:
    return IssueRef(
        **_naming(record),
        created_at=record["created_at"],
        closed_at=record.get("closed_at"),
        state_reason=record.get("state_reason"),
    )


def close_reason(state_reason: str | None) -> str:
    """GitHub's `state_reason` as one of `CLOSE_REASONS` (None or unknown: `unspecified`)."""
    reason = (state_reason or "").lower()
    return reason if reason in CLOSE_REASONS else "unspecified"


def issue_metrics(
    records: Records, start: dt.datetime, end: dt.datetime, *, is_bot: IsBot | None = None
) -> IssueMetrics:
    """The window's issue figures (module docstring) from raw IssueRecord dicts."""
    _check_window(start, end)
    ask = _memo(is_bot)
    m = IssueMetrics()
    first_response: list[float] = []
    to_close: list[float] = []
    opened: list[tuple[dt.datetime, IssueRef]] = []
    closed: list[tuple[dt.datetime, IssueRef]] = []
    waiting: list[tuple[dt.datetime, IssueRef]] = []

    for record in latest_records(records):
        created = parse_instant(record.get("created_at"))
        if created is None:  # not an issue record; the contract requires created_at
            continue
        closed_at = parse_instant(record.get("closed_at"))
        if in_window(created, start, end):
            m.opened += 1
            human = not _author_is_bot(record, ask)
            m.human_opened += human
            opened.append((created, _issue_ref(record)))
            if human and _waiting(record, end):
                waiting.append((created, _issue_ref(record)))
        if closed_at is not None and in_window(closed_at, start, end):
            m.closed += 1
            m.closed_by_reason[close_reason(record.get("state_reason"))] += 1
            to_close.append(_hours(created, closed_at))
            closed.append((closed_at, _issue_ref(record)))
        responded = parse_instant(record.get("first_response_at"))
        if responded is not None and in_window(responded, start, end):
            first_response.append(_hours(created, responded))

    m.time_to_first_response = durations(first_response)
    m.time_to_close = durations(to_close)
    for items in (opened, closed):
        items.sort(key=lambda item: (-item[0].timestamp(), item[1].repo, item[1].number))
    m.opened_list = [ref for _, ref in opened[:LISTED]]
    m.closed_list = [ref for _, ref in closed[:LISTED]]
    m.unanswered, m.unanswered_list = _oldest(waiting)
    return m


# ---------------------------------------------------------------------------------------------
# Releases


def release_metrics(records: Records, start: dt.datetime, end: dt.datetime) -> ReleaseMetrics:
    """The window's releases and tags (module docstring) from raw ReleaseRecord dicts."""
    _check_window(start, end)
    m = ReleaseMetrics()
    items: list[tuple[dt.datetime, ReleaseRef]] = []
    for record in latest_records(records):
        published = parse_instant(record.get("published_at"))
        if published is None or not in_window(published, start, end):
            continue
        if record.get("kind") == "tag":
            m.tags += 1
            continue
        m.releases += 1
        m.prereleases += bool(record.get("is_prerelease"))
        ref = ReleaseRef(
            repo=record["repo"],
            tag_name=record["tag_name"],
            name=record.get("name"),
            url=record.get("url") or "",
            published_at=record.get("published_at"),
            is_prerelease=bool(record.get("is_prerelease")),
        )
        items.append((published, ref))
    items.sort(key=lambda item: (-item[0].timestamp(), item[1].repo, item[1].tag_name))
    m.items = [ref for _, ref in items]
    return m
