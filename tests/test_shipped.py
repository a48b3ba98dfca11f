"""What shipped and what needs attention (lib/shipped.py), by hand-worked cases."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from zoneinfo import ZoneInfo

import pytest

from sparky_assets.lib.shipped import (
    CommitPeople,
    assemble,
    attention,
    commits_as_changes,
    is_breaking,
    pr_from_commit,
    search_url,
    shipped_from_github,
    theme_of,
)
from sparky_resources.clock import window

NY = ZoneInfo("America/New_York")
WEEK = window("weekly", "2024-10-28", NY)  # 28 Oct 00:00 -04:00 to 4 Nov 00:00 -05:00


@pytest.mark.parametrize(
    ("title", "labels", "theme"),
    [
        ("feat(api)!: drop v1 endpoints", [], "Features"),  # the type wins over the verb
        ("fix: login redirect", ["enhancement"], "Fixes"),  # and over a label
        ("Speed up CI matrix", ["bug"], "Fixes"),  # a label wins over the verb
        ("Speed up CI matrix", [], "Performance"),
        ("Add CSV export", ["kind/feature"], "Features"),
        ('Revert "Add CSV export"', [], "Reverts"),
        ("Bump httpx from 0.27 to 0.28", [], "Dependencies"),
        ("Issue 17.8: document the clock", [], "Issue 17"),  # the tracked issue is the theme
        ("Issue 18.2/18.3: a clone alone tells", [], "Issue 18"),
        ("issue #7: fix flaky test", [], "Issue 7"),
        ("Issue 16.2, 16.3, 16.6: GitHub's timeouts", [], "Issue 16"),
        ("jira-12: fix flaky test", [], "JIRA-12"),
        ("fix: Issue 17 crash", [], "Fixes"),  # a conventional type comes first
        ("Issue 17 is fixed", [], "Other changes"),  # no colon: not a tracker prefix
        ("Weekly and monthly metrics", [], "Other changes"),
        ("Fixture cleanup", [], "Other changes"),  # "Fixture" is not the verb "fix"
    ],
)
def test_themes(title: str, labels: list[str], theme: str) -> None:
    assert theme_of(title, labels) == theme


def test_breaking_changes_by_bang_footer_or_label() -> None:
    assert is_breaking("feat!: new config", None)
    assert is_breaking("Rework config", "Text\n\nBREAKING CHANGE: keys renamed")
    assert is_breaking("Rework config", None, ["breaking-change"])
    assert not is_breaking("Rework config", "mentions a breaking change in prose")


def test_pull_requests_from_merge_and_squash_commits() -> None:
    merge = {"subject": "Merge pull request #7 from octo/fix", "is_merge": True}
    assert pr_from_commit({**merge, "merge_title": "Fix login"}) == (7, "Fix login")
    assert pr_from_commit(merge) == (7, "octo/fix")  # no body: the branch names it
    assert pr_from_commit({"subject": "Merge branch 'x'", "is_merge": True}) is None
    assert pr_from_commit({"subject": "Speed up search (#12)", "is_merge": False}) == (
        12,
        "Speed up search",
    )
    assert pr_from_commit({"subject": "See (#12) for why", "is_merge": False}) is None


def _utc(text: str) -> str:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pr(number: int, created: str, **extra: object) -> dict:
    return {
        "repo": "api",
        "number": number,
        "title": f"PR {number}",
        "url": f"https://github.com/acme/api/pull/{number}",
        "author_login": "alice",
        "created_at": _utc(created),
        "reviews": [],
    } | extra


def test_attention_is_what_crossed_its_threshold_in_the_window() -> None:
    """Review wait 2 days: a pull request needs attention in the window where its wait reaches
    2 days (clock + 2 d in [start, end)), if it is still open and unreviewed at the end."""
    prs = [
        _pr(1, "2024-10-26T12:00:00-04:00"),  # reaches 2 d on 28 Oct 12:00: in; 7.5 d at end
        _pr(2, "2024-10-25T12:00:00-04:00"),  # reached 2 d on 27 Oct: the week before
        _pr(3, "2024-11-02T12:00:00-04:00"),  # reaches 2 d on 4 Nov 12:00: the week after
        _pr(4, "2024-10-27T00:00:00-04:00", merged_at=_utc("2024-10-30T00:00:00-04:00")),
        _pr(5, "2024-10-27T00:00:00-04:00", is_draft=True),
        _pr(6, "2024-10-27T00:00:00-04:00", author_login="renovate[bot]"),
        _pr(  # reviewed by someone else before the end: not waiting
            7,
            "2024-10-27T00:00:00-04:00",
            reviews=[
                {
                    "author_login": "bob",
                    "state": "APPROVED",
                    "submitted_at": _utc("2024-11-01T00:00:00-04:00"),
                }
            ],
        ),
        _pr(  # a self-review and a bot's review do not count
            8,
            "2024-10-27T00:00:00-04:00",
            reviews=[
                {
                    "author_login": "alice",
                    "state": "COMMENTED",
                    "submitted_at": _utc("2024-10-28T00:00:00-04:00"),
                },
                {
                    "author_login": "ci[bot]",
                    "state": "COMMENTED",
                    "submitted_at": _utc("2024-10-28T00:00:00-04:00"),
                },
            ],
        ),
    ]
    issues = [
        {**_pr(20, "2024-10-26T00:00:00-04:00"), "first_response_at": None},  # 3 d on 29 Oct
        {**_pr(21, "2024-10-26T00:00:00-04:00"),
         "first_response_at": _utc("2024-10-27T00:00:00-04:00")},  # answered
    ]  # fmt: skip
    items = attention(
        WEEK,
        prs,
        issues,
        [],
        review_wait_days=2,
        answer_wait_days=3,
        is_bot=lambda login: bool(login) and login.endswith("[bot]"),
    )
    got = [(i.kind, i.number, i.age_days) for i in items]
    # Ages at the end (4 Nov 00:00 -05:00 = 05:00Z), longest first: #20 from 26 Oct 00:00 -04:00
    # (04:00Z) is 9 d 1 h = 9.04 d; #1 from 26 Oct 12:00 -04:00 is 8 d 13 h = 8.54 d; #8 from
    # 27 Oct 00:00 -04:00 is 8 d 1 h = 8.04 d.
    assert got == [("answer", 20, 9.0), ("review", 1, 8.5), ("review", 8, 8.0)]


def test_attention_ages_by_hand() -> None:
    one = attention(
        WEEK,
        [_pr(1, "2024-11-01T00:00:00-04:00")],  # 2 d on 3 Nov 00:00: in the window
        [],
        [],
        review_wait_days=2,
        answer_wait_days=3,
        is_bot=lambda _: False,
    )
    # 1 Nov 00:00 EDT to 4 Nov 00:00 EST is 3 days and one hour: 3.04 days, shown as 3.0.
    assert [(i.number, i.age_days) for i in one] == [(1, 3.0)]


def test_bots_fold_and_first_time_authors_are_marked_once() -> None:
    merged = _utc("2024-10-29T12:00:00-04:00")
    records = [
        _pr(1, "2024-10-28T09:00:00-04:00", merged_at=merged, author_login="zoe",
            additions=10, deletions=5, labels=[]),
        _pr(2, "2024-10-28T09:00:00-04:00", merged_at=merged, author_login="zoe",
            additions=1, deletions=1, labels=[]),
        _pr(3, "2024-10-28T09:00:00-04:00", merged_at=merged,
            author_login="renovate[bot]", title="Update dependency httpx to v0.28"),
        _pr(4, "2024-10-20T09:00:00-04:00", merged_at=_utc("2024-10-21T00:00:00-04:00")),
    ]  # fmt: skip
    changes, automated, total = shipped_from_github(
        WEEK,
        records,
        is_bot=lambda login: bool(login) and login.endswith("[bot]"),
        name_of=lambda login: {"zoe": "Zoë Z"}.get(login or "", login),
        first_timers=frozenset({"zoe"}),
    )
    assert total == 3  # #4 was merged the week before
    assert (automated.count, automated.dependency_updates, automated.bots) == (1, 1, ["renovate"])
    shipped = assemble("github", changes, automated, total, [], [], review_wait_days=2,
                       answer_wait_days=3)  # fmt: skip
    firsts = [c.number for t in shipped.themes for c in t.items if c.first_time]
    assert len(firsts) == 1 and {c.author for c in changes} == {"Zoë Z"}


def test_commits_are_the_changes_of_a_window_without_pull_requests() -> None:
    ts = int(dt.datetime(2024, 10, 29, 12, tzinfo=NY).timestamp())
    commits = [
        {"repo": "app", "sha": "a" * 40, "subject": "Fix login", "is_merge": False,
         "committed_ts": ts, "additions": 3, "deletions": 1, "author_name": "Al"},
        {"repo": "app", "sha": "b" * 40, "subject": "Bump x from 1 to 2", "is_merge": False,
         "committed_ts": ts, "additions": 1, "deletions": 1, "author_name": "Al"},
        {"repo": "app", "sha": "c" * 40, "subject": "Merge branch 'x'", "is_merge": True,
         "committed_ts": ts, "additions": 0, "deletions": 0, "author_name": "Al"},
    ]  # fmt: skip
    by = CommitPeople(
        web_urls={"app": "https://github.com/octo/app"},
        is_bot=lambda c: False,
        name=lambda c: c["author_name"],
        first_time=lambda c: False,
    )
    changes, automated, total = commits_as_changes(WEEK, commits, by)
    assert total == 2 and automated.dependency_updates == 1  # the merge is not a change
    (fix,) = changes
    assert (fix.theme, fix.size, fix.url) == (
        "Fixes",
        "XS",
        "https://github.com/octo/app/commit/" + "a" * 40,
    )


def test_the_search_behind_n_of_m_covers_the_window_in_the_org_offset() -> None:
    url = search_url(WEEK, "org:acme")
    (q,) = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["q"]
    assert (
        q == "is:pr is:merged merged:2024-10-28T00:00:00-04:00..2024-11-03T23:59:59-05:00 org:acme"
    )


def test_a_bots_pull_request_labelled_dependencies_is_a_dependency_update() -> None:
    """Dependabot labels its pull requests "dependencies" by default, whatever the title."""
    merged = _utc("2024-10-29T12:00:00-04:00")
    record = _pr(9, "2024-10-28T09:00:00-04:00", merged_at=merged,
                 author_login="dependabot[bot]", title="Upgrade the actions runner",
                 labels=["dependencies", "github_actions"])  # fmt: skip
    _, automated, _ = shipped_from_github(
        WEEK, [record], is_bot=lambda login: True, name_of=lambda x: x, first_timers=frozenset()
    )
    assert (automated.count, automated.dependency_updates) == (1, 1)
