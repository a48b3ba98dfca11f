"""Pull-request, issue and release metrics on small hand-written records.

Every expected number is worked out by hand from the definitions in
`sparky_assets/lib/github_metrics.py` (the arithmetic is in the comments), never read back from
the code. Records go through the contract's pydantic models first, so they have its shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sparky_assets.lib.github_metrics import (
    Durations,
    durations,
    issue_metrics,
    latest_records,
    pull_request_metrics,
    release_metrics,
    size_class,
)
from sparky_resources.github_records import IssueRecord, PullRequestRecord, ReleaseRecord

UTC = dt.UTC
START = dt.datetime(2024, 5, 1, tzinfo=UTC)
END = dt.datetime(2024, 5, 2, tzinfo=UTC)
EMPTY = Durations(count=0, median_h=None, p90_h=None)


def at(hour: float, day: int = 1) -> str:
    """`2024-05-<day>` plus `hour` hours, as GitHub writes it."""
    moment = dt.datetime(2024, 5, day, tzinfo=UTC) + dt.timedelta(hours=hour)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def review(login: str | None, when: str | None, state: str = "approved") -> dict[str, Any]:
    return {"author_login": login, "state": state, "submitted_at": when}


def pr(
    number: int,
    *,
    repo: str = "app",
    created: str = "2024-05-01T00:00:00Z",
    updated: str | None = None,
    author: str | None = "alice",
    author_is_bot: bool = False,
    draft: bool = False,
    merged: str | None = None,
    closed: str | None = None,
    additions: int | None = 1,
    deletions: int | None = 0,
    reviews: list[dict[str, Any]] | None = None,
    ready: str | None = None,
    first_response: str | None = None,
) -> dict[str, Any]:
    state = "merged" if merged else "closed" if closed else "open"
    record = PullRequestRecord(
        repo=repo,
        number=number,
        title=f"PR {number}",
        url=f"https://github.com/org/{repo}/pull/{number}",
        author_login=author,
        author_is_bot=author_is_bot,
        state=state,
        is_draft=draft,
        created_at=created,
        updated_at=updated or merged or closed or created,
        merged_at=merged,
        closed_at=closed or merged,
        merged_by_login="maintainer" if merged else None,
        additions=additions,
        deletions=deletions,
        changed_files=1,
        labels=[],
        requested_reviewers=[],
        reviews=reviews or [],
        ready_for_review_at=ready,
        first_response_at=first_response,
        closing_issues=[],
    )
    return record.model_dump()


def issue(
    number: int,
    *,
    created: str = "2024-05-01T00:00:00Z",
    closed: str | None = None,
    reason: str | None = None,
    author: str | None = "alice",
    author_is_bot: bool = False,
    first_response: str | None = None,
) -> dict[str, Any]:
    record = IssueRecord(
        repo="app",
        number=number,
        title=f"Issue {number}",
        url=f"https://github.com/org/app/issues/{number}",
        author_login=author,
        author_is_bot=author_is_bot,
        state="closed" if closed else "open",
        state_reason=reason,
        created_at=created,
        updated_at=closed or created,
        closed_at=closed,
        labels=[],
        comments=0,
        first_response_at=first_response,
    )
    return record.model_dump()


def release(
    tag: str,
    published: str | None,
    *,
    kind: str = "release",
    prerelease: bool = False,
    name: str | None = None,
) -> dict[str, Any]:
    record = ReleaseRecord(
        repo="app",
        tag_name=tag,
        name=name if name is not None else (tag if kind == "release" else None),
        url=f"https://github.com/org/app/releases/tag/{tag}",
        author_login="alice",
        published_at=published,
        is_prerelease=prerelease,
        kind=kind,  # type: ignore[arg-type]
    )
    return record.model_dump()


# ---------------------------------------------------------------------------------------------
# Empty input, snapshots


def test_empty_input_counts_zero_and_timings_none() -> None:
    prs = pull_request_metrics([], START, END)
    assert (prs.opened, prs.human_opened, prs.merged, prs.human_merged) == (0, 0, 0, 0)
    assert prs.closed_unmerged == 0
    for timing in (
        prs.time_to_first_response,
        prs.time_to_first_review,
        prs.time_to_merge,
        prs.human_time_to_merge,
    ):
        assert timing == EMPTY
    assert prs.size.model_dump() == {
        "count": 0,
        "median_lines": None,
        "p90_lines": None,
        "buckets": {"XS": 0, "S": 0, "M": 0, "L": 0, "XL": 0, "XXL": 0},
        "unknown": 0,
    }
    assert list(prs.size.buckets) == ["XS", "S", "M", "L", "XL", "XXL"]
    assert (prs.reviews, prs.reviewers, prs.merged_with_review) == (0, 0, 0)
    assert prs.merged_with_review_share is None
    assert prs.merged_list == [] and prs.opened_list == []

    issues = issue_metrics([], START, END)
    assert (issues.opened, issues.human_opened, issues.closed) == (0, 0, 0)
    assert issues.closed_by_reason == {
        "completed": 0,
        "not_planned": 0,
        "duplicate": 0,
        "unspecified": 0,
    }
    assert issues.time_to_first_response == EMPTY and issues.time_to_close == EMPTY

    releases = release_metrics([], START, END)
    assert (releases.releases, releases.prereleases, releases.tags) == (0, 0, 0)
    assert releases.items == []


def test_newest_snapshot_wins_whatever_the_order() -> None:
    # Seen open on May 1 (updated 10:00), merged on May 2 at 09:00 in the newer snapshot.
    older = pr(1, created=at(8), updated=at(10))
    newer = pr(1, created=at(8), merged=at(9, day=2))
    for records in ([older, newer], [newer, older]):
        kept = latest_records(records)
        assert len(kept) == 1 and kept[0]["state"] == "merged"

    day2 = pull_request_metrics([newer, older], END, END + dt.timedelta(days=1))
    assert (day2.opened, day2.merged) == (0, 1)
    # 2024-05-01T08:00 -> 2024-05-02T09:00 = 16 h + 9 h = 25 h
    assert day2.time_to_merge == Durations(count=1, median_h=25.0, p90_h=25.0)
    day1 = pull_request_metrics([older, newer], START, END)
    assert (day1.opened, day1.merged) == (1, 0)


def test_latest_records_ties_and_order() -> None:
    # The same updated_at twice: the last seen wins. Output is sorted by (repo, number).
    first = pr(1, repo="b", created=at(1)) | {"title": "first"}
    second = pr(1, repo="b", created=at(1)) | {"title": "second"}
    kept = latest_records([first, pr(2, repo="a"), second, pr(1, repo="a")])
    assert [(r["repo"], r["number"]) for r in kept] == [("a", 1), ("a", 2), ("b", 1)]
    assert kept[2]["title"] == "second"

    # Releases have no updated_at: one per (repo, tag_name, kind), the last seen.
    rel = latest_records(
        [
            release("v1", at(1), name="v1 draft name"),
            release("v1", at(1), kind="tag"),
            release("v1", at(1), name="v1 final"),
        ]
    )
    assert [(r["tag_name"], r["kind"], r["name"]) for r in rel] == [
        ("v1", "release", "v1 final"),
        ("v1", "tag", None),
    ]


# ---------------------------------------------------------------------------------------------
# Pull request timings


def test_draft_time_is_excluded() -> None:
    records = [
        # Draft from 00:00, ready at 10:00: the clock starts at 10:00.
        # merged 16:00 -> 16 - 10 = 6 h; first response 12:00 -> 12 - 10 = 2 h
        pr(1, created=at(0), ready=at(10), merged=at(16), first_response=at(12)),
        # ready_for_review_at earlier than created_at: the clock starts at created (02:00).
        # merged 05:00 -> 5 - 2 = 3 h
        pr(2, created=at(2), ready=at(1), merged=at(5)),
    ]
    m = pull_request_metrics(records, START, END)
    # [3, 6]: median (3 + 6) / 2 = 4.5; p90 rank 0.9 * 1 = 0.9 -> 3 + 0.9 * (6 - 3) = 5.7
    assert m.time_to_merge == Durations(count=2, median_h=4.5, p90_h=5.7)
    assert m.time_to_first_response == Durations(count=1, median_h=2.0, p90_h=2.0)


def test_review_during_draft_counts_zero_hours() -> None:
    # Draft 00:00, ready 10:00; bob reviews at 04:00 (still a draft): 4 - 10 < 0 -> 0 h.
    record = pr(
        1,
        created=at(0),
        ready=at(10),
        reviews=[review("bob", at(4)), review("carol", at(11))],
        first_response=at(4),
    )
    m = pull_request_metrics([record], START, END)
    assert m.time_to_first_review == Durations(count=1, median_h=0.0, p90_h=0.0)
    assert m.time_to_first_response == Durations(count=1, median_h=0.0, p90_h=0.0)
    assert (m.reviews, m.reviewers) == (2, 2)  # bob and carol, both on May 1


def test_bot_and_self_reviews_are_ignored() -> None:
    records = [
        # Author alice. Ignored: her own review (twice, any case), the bot's, the pending one.
        # The first qualifying review is bob's at 05:00 -> 5 h; merged 06:00 after it.
        pr(
            1,
            created=at(0),
            merged=at(6),
            reviews=[
                review("alice", at(1), "commented"),
                review("renovate[bot]", at(2)),
                review("Alice", at(2.5)),
                review("carol", at(3), "pending"),
                review("bob", at(5)),
            ],
        ),
        # Only a bot reviewed: merged without review.
        pr(2, created=at(0), merged=at(6), reviews=[review("github-actions[bot]", at(1))]),
        # Reviewed by dave at 08:00 and BOB at 09:00, both after the 07:00 merge.
        # First review 08:00 -> 8 h.
        pr(
            3,
            created=at(0),
            merged=at(7),
            reviews=[review("dave", at(8)), review("BOB", at(9), "commented")],
        ),
        # A review with no author (a deleted account) does not count.
        pr(4, created=at(0), reviews=[review(None, at(3))]),
    ]
    m = pull_request_metrics(records, START, END)
    # first reviews [5, 8]: median 6.5; p90 5 + 0.9 * (8 - 5) = 7.7
    assert m.time_to_first_review == Durations(count=2, median_h=6.5, p90_h=7.7)
    # bob 05:00, dave 08:00, BOB 09:00 -> 3 reviews by {bob, dave}
    assert (m.reviews, m.reviewers) == (3, 2)
    # Only PR 1 has a qualifying review before its merge: 1 of 3 -> 0.333
    assert (m.merged, m.merged_with_review) == (3, 1)
    assert m.merged_with_review_share == 0.333


def test_review_in_the_same_second_as_the_merge_counts() -> None:
    record = pr(1, created=at(0), merged=at(2), reviews=[review("bob", at(2))])
    m = pull_request_metrics([record], START, END)
    assert (m.merged_with_review, m.merged_with_review_share) == (1, 1.0)


def test_window_includes_start_and_excludes_end() -> None:
    end_text = "2024-05-02T00:00:00Z"
    records = [
        pr(1, created="2024-05-01T00:00:00Z"),  # exactly at start: opened
        pr(2, created=end_text),  # exactly at end: next window
        pr(3, created="2024-04-30T23:59:59Z", merged=end_text),  # merged at end: not here
        pr(4, created="2024-04-30T12:00:00Z", closed="2024-05-01T00:00:00Z"),  # closed at start
        pr(5, created="2024-04-30T12:00:00Z", closed=end_text),  # closed at end: not here
        pr(6, created="2024-04-30T12:00:00Z", reviews=[review("bob", end_text)]),
        pr(7, created="2024-04-30T12:00:00Z", merged="2024-05-01T00:00:00Z"),  # merged at start
    ]
    m = pull_request_metrics(records, START, END)
    assert (m.opened, m.merged, m.closed_unmerged) == (1, 1, 1)
    assert [r.number for r in m.opened_list] == [1]
    assert [r.number for r in m.merged_list] == [7]
    assert (m.reviews, m.time_to_first_review.count) == (0, 0)
    # PR 7: 2024-04-30T12:00 -> 2024-05-01T00:00 = 12 h
    assert m.time_to_merge == Durations(count=1, median_h=12.0, p90_h=12.0)


def test_human_and_bot_authors_split() -> None:
    records = [
        # dependabot: 00:00 -> 01:00 = 1 h
        pr(1, author="dependabot[bot]", author_is_bot=True, created=at(0), merged=at(1)),
        # a person: 00:00 -> 09:00 = 9 h
        pr(2, author="alice", created=at(0), merged=at(9)),
        # a bot-looking login the record did not flag is still a bot
        pr(3, author="renovate[bot]", created=at(3)),
        # closed without merging: closed_unmerged, not merged
        pr(4, author="bob", created=at(4), closed=at(5)),
    ]
    m = pull_request_metrics(records, START, END)
    assert (m.opened, m.human_opened) == (4, 2)
    assert (m.merged, m.human_merged, m.closed_unmerged) == (2, 1, 1)
    # all [1, 9]: median 5; p90 1 + 0.9 * (9 - 1) = 8.2
    assert m.time_to_merge == Durations(count=2, median_h=5.0, p90_h=8.2)
    assert m.human_time_to_merge == Durations(count=1, median_h=9.0, p90_h=9.0)
    assert [(r.number, r.author_is_bot) for r in m.opened_list] == [
        (4, False),  # 04:00, newest first
        (3, True),
        (1, True),  # 1 and 2 both at 00:00: by repo then number
        (2, False),
    ]


def test_p90_interpolates_linearly() -> None:
    # merged 1, 2, 3, 4 and 10 h after creation at 00:00
    records = [pr(n, created=at(0), merged=at(h)) for n, h in enumerate([1, 2, 3, 4, 10], 1)]
    m = pull_request_metrics(records, START, END)
    # sorted [1, 2, 3, 4, 10]: median 3; p90 rank 0.9 * 4 = 3.6 -> 4 + 0.6 * (10 - 4) = 7.6
    assert m.time_to_merge == Durations(count=5, median_h=3.0, p90_h=7.6)
    # 20 minutes = 0.3333... h, rounded to 2 decimals
    assert durations([1 / 3]) == Durations(count=1, median_h=0.33, p90_h=0.33)
    assert durations([]) == EMPTY


# ---------------------------------------------------------------------------------------------
# Size


def test_size_buckets_at_each_threshold_and_unknown() -> None:
    lines = [9, 10, 29, 30, 99, 100, 499, 500, 999, 1000]
    records = [
        pr(n, created=at(0), merged=at(1), additions=x // 2, deletions=x - x // 2)
        for n, x in enumerate(lines, 1)
    ]
    records += [
        pr(11, created=at(0), merged=at(1), additions=None, deletions=None),
        pr(12, created=at(0), merged=at(1), additions=5, deletions=None),
        pr(13, created=at(0), additions=5000, deletions=0),  # not merged: not in size
    ]
    m = pull_request_metrics(records, START, END)
    assert m.size.buckets == {"XS": 1, "S": 2, "M": 2, "L": 2, "XL": 2, "XXL": 1}
    assert list(m.size.buckets) == ["XS", "S", "M", "L", "XL", "XXL"]
    assert (m.size.count, m.size.unknown) == (10, 2)
    # sorted 10 values: median (99 + 100) / 2 = 99.5;
    # p90 rank 0.9 * 9 = 8.1 -> 999 + 0.1 * (1000 - 999) = 999.1
    assert (m.size.median_lines, m.size.p90_lines) == (99.5, 999.1)
    # largest first, unknown sizes last (by number)
    assert [(r.number, r.lines) for r in m.merged_list] == [
        (10, 1000),
        (9, 999),
        (8, 500),
        (7, 499),
        (6, 100),
        (5, 99),
        (4, 30),
        (3, 29),
        (2, 10),
        (1, 9),
        (11, None),
        (12, None),
    ]
    assert [size_class(x) for x in (0, 9, 10, 29, 30, 99, 100, 499, 500, 999, 1000)] == [
        "XS",
        "XS",
        "S",
        "S",
        "M",
        "M",
        "L",
        "L",
        "XL",
        "XL",
        "XXL",
    ]


def test_lists_are_capped_at_twenty() -> None:
    # 25 PRs opened at minutes 0..24 and merged at 01:00 with 1..25 lines
    records = [pr(n, created=at(n / 60), merged=at(1), additions=n, deletions=0) for n in range(25)]
    m = pull_request_metrics(records, START, END)
    assert (m.opened, m.merged) == (25, 25)
    assert [r.number for r in m.opened_list] == list(range(24, 4, -1))  # newest first
    assert [r.lines for r in m.merged_list] == list(range(24, 4, -1))  # largest first


# ---------------------------------------------------------------------------------------------
# Bots by the caller's identity table, time zones


def test_is_bot_callable_overrides_the_record_flag() -> None:
    bots = {"ci-runner"}

    def is_bot(login: str | None) -> bool:
        return login in bots

    records = [
        pr(1, author="ci-runner", created=at(0), merged=at(2)),  # flagged human, a bot here
        pr(2, author="octo", author_is_bot=True, created=at(0), merged=at(4)),  # human here
        pr(3, author="alice", created=at(0), reviews=[review("ci-runner", at(1))]),
    ]
    default = pull_request_metrics(records, START, END)
    assert (default.human_opened, default.human_merged) == (2, 1)  # alice, ci-runner
    assert (default.reviews, default.time_to_first_review.count) == (1, 1)

    m = pull_request_metrics(records, START, END, is_bot=is_bot)
    assert (m.human_opened, m.human_merged) == (2, 1)  # alice, octo
    # only octo's PR 2 is human-merged: 4 h
    assert m.human_time_to_merge == Durations(count=1, median_h=4.0, p90_h=4.0)
    assert (m.reviews, m.reviewers, m.time_to_first_review.count) == (0, 0, 0)

    issues = [issue(1, author="ci-runner"), issue(2, author="octo", author_is_bot=True)]
    assert issue_metrics(issues, START, END).human_opened == 1  # ci-runner
    assert issue_metrics(issues, START, END, is_bot=is_bot).human_opened == 1  # octo


def test_window_in_new_york_on_the_spring_forward_day() -> None:
    ny = ZoneInfo("America/New_York")
    # 2024-03-10 00:00 EST = 05:00Z; 2024-03-11 00:00 EDT = 04:00Z: 23 hours
    start = dt.datetime(2024, 3, 10, tzinfo=ny)
    end = dt.datetime(2024, 3, 11, tzinfo=ny)
    assert end.timestamp() - start.timestamp() == 23 * 3600
    records = [
        pr(1, created="2024-03-10T04:59:59Z"),  # 23:59:59 EST on the 9th: outside
        pr(2, created="2024-03-10T05:00:00Z"),  # midnight on the 10th: inside
        pr(3, created="2024-03-11T03:30:00Z"),  # 23:30 EDT on the 10th: inside
        pr(4, created="2024-03-11T04:00:00Z"),  # midnight on the 11th: outside
        # 01:00 EST (06:00Z) -> 04:00 EDT (08:00Z): 2 real hours across the change
        pr(5, created="2024-03-10T06:00:00Z", merged="2024-03-10T08:00:00Z"),
    ]
    m = pull_request_metrics(records, start, end)
    assert m.opened == 3
    assert sorted(r.number for r in m.opened_list) == [2, 3, 5]
    assert m.time_to_merge == Durations(count=1, median_h=2.0, p90_h=2.0)


def test_naive_window_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        pull_request_metrics([], dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2))


# ---------------------------------------------------------------------------------------------
# Issues, releases


def test_issues_closed_by_reason_and_timings() -> None:
    records = [
        issue(1, created=at(0), closed=at(2), reason="completed"),  # 2 h
        issue(2, created=at(0), closed=at(4), reason="not_planned"),  # 4 h
        issue(3, created=at(0), closed=at(6), reason="duplicate"),  # 6 h
        issue(4, created=at(0), closed=at(8), reason=None),  # 8 h, unspecified
        issue(5, created=at(0), closed=at(10), reason="reopened"),  # 10 h, unknown: unspecified
        # opened on April 30, closed May 2: in neither count
        issue(6, created="2024-04-30T00:00:00Z", closed=at(1, day=2)),
        # first response 03:00 -> 3 h; opened by a bot
        issue(7, created=at(0), author="stale[bot]", author_is_bot=True, first_response=at(3)),
    ]
    m = issue_metrics(records, START, END)
    assert (m.opened, m.human_opened, m.closed) == (6, 5, 5)  # issues 1-5 and 7; 7 is a bot
    assert m.closed_by_reason == {
        "completed": 1,
        "not_planned": 1,
        "duplicate": 1,
        "unspecified": 2,
    }
    # [2, 4, 6, 8, 10]: median 6; p90 rank 0.9 * 4 = 3.6 -> 8 + 0.6 * (10 - 8) = 9.2
    assert m.time_to_close == Durations(count=5, median_h=6.0, p90_h=9.2)
    assert m.time_to_first_response == Durations(count=1, median_h=3.0, p90_h=3.0)
    assert [r.number for r in m.closed_list] == [5, 4, 3, 2, 1]  # most recently closed first


def test_releases_prereleases_and_tags() -> None:
    records = [
        release("v1.0", at(12)),
        release("v1.1-rc1", at(15), prerelease=True),
        release("v0.9", "2024-04-30T23:00:00Z"),  # published the day before: outside
        release("v2.0", None),  # never published: outside
        release("v1.0", at(11), kind="tag"),
        release("old", "2024-04-01T00:00:00Z", kind="tag"),  # outside
    ]
    m = release_metrics(records, START, END)
    assert (m.releases, m.prereleases, m.tags) == (2, 1, 1)
    assert [(r.tag_name, r.is_prerelease) for r in m.items] == [
        ("v1.1-rc1", True),  # 15:00, newest first
        ("v1.0", False),
    ]


# ---------------------------------------------------------------------------------------------
# Scale


def test_ten_thousand_pull_requests_in_one_pass() -> None:
    # 10,000 PRs in two snapshots each, three reviews each: the counts at scale (the time is
    # the benchmark's business: benchmarks/metrics.py).
    records = []
    for n in range(10_000):
        minute = n % 1440
        reviews = [review(f"r{n % 50}", at(minute / 60 + 0.5)) for _ in range(3)]
        records.append(pr(n, created=at(minute / 60)))
        records.append(pr(n, created=at(minute / 60), merged=at(minute / 60 + 1), reviews=reviews))
    m = pull_request_metrics(records, START, END)
    assert (m.opened, m.merged_with_review) == (10_000, m.merged)
    # Merged an hour after creation: minutes 1380..1439 (from 23:00) merge on May 2.
    # 10,000 = 6 * 1,440 + 1,360: six full cycles reach those 60 minutes, the last partial
    # one stops at minute 1359 -> 6 * 60 = 360 merge outside the window.
    assert m.merged == 10_000 - 360
    assert m.reviewers == 50
