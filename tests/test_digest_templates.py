"""Every digest template with text as an attacker (or an unlucky contributor) would write it.

Titles, names, repository names, tags and release names carry pipes, backticks, HTML, bidi
controls, emoji, 500-character runs, empty strings, @mentions and links. Each rendered digest
must parse as CommonMark with tables (markdown-it-py) into the expected headings and table
shapes, link only to the org's GitHub items and the metric definitions, and show no raw HTML
and no live @mention.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sparky_assets.lib.github_metrics import (
    Durations,
    IssueMetrics,
    PullRequestMetrics,
    PullRequestRef,
    ReleaseMetrics,
    ReleaseRef,
)
from sparky_assets.lib.insights import DeterministicWriter, FactSheet
from sparky_assets.lib.metrics import ContributorActivity, RepoActivity
from sparky_assets.lib.render import render_digest
from sparky_assets.lib.sanitize import WORD_JOINER
from sparky_assets.lib.window import Change, ContributorRef, OpenItem, WindowMetrics

HOSTILE = [
    "a | b || c",
    "`code` ``more`` ```fence",
    '<img src=x onerror="alert(1)"><script>x</script><!-- c -->',
    "@alice and @org/team, mail bob@example.com",
    "https://evil.example/x www.evil.example [link](https://evil.example) ![i](http://x)",
    "\u202eevil\u202c 🚀🔥 日本語 e\u0301",
    "x" * 500,
    "",
    "# not a heading\n- not a list\n> not a quote\n| not | a | row |",
    "*bold* _em_ ~~strike~~ \\ &#64;carol &amp;",
]
ORG = "acme"
SAFE_URL = "https://github.com/acme/api/pull/{n}"
EVIL_URLS = ["javascript:alert(1)", "https://evil.example/acme/api/pull/1)", "http://x/y/z/pull/1"]
KEYS = {"daily": "2024-06-03", "weekly": "2024-06-03", "monthly": "2024-06-01"}


def pr(n: int, title: str, url: str) -> PullRequestRef:
    return PullRequestRef(
        repo="api",
        number=n,
        title=title,
        url=url,
        author_login=f"user{n}",
        author_is_bot=False,
        lines=1000 - n,
        merged_at="2024-06-03T10:00:00Z",
        created_at="2024-06-01T10:00:00Z",
    )


def hostile_metrics(period: str) -> WindowMetrics:
    urls = [SAFE_URL.format(n=n) for n in range(len(HOSTILE))]
    urls[1:4] = EVIL_URLS  # three items whose URL must not become a link
    days = {"daily": 1, "weekly": 7, "monthly": 30}[period]
    return WindowMetrics(
        partition=KEYS[period],
        period=period,
        commits=50,
        merges=2,
        active_contributors=len(HOSTILE),
        human_contributors=len(HOSTILE),
        bot_commits=0,
        lines_added=500,
        lines_deleted=40,
        files_changed=30,
        active_repos=len(HOSTILE),
        per_repo=[
            RepoActivity(
                repo=name,
                commits=5,
                merges=0,
                contributors=1,
                lines_added=50,
                lines_deleted=4,
                files_changed=3,
            )
            for name in HOSTILE
        ],
        top_contributors=[
            ContributorActivity(
                name=name,
                identity=f"p{i}@example.com",
                commits=10 - i,
                lines_added=1,
                lines_deleted=1,
                repos=[HOSTILE[i - 1]],
                is_bot=False,
            )
            for i, name in enumerate(HOSTILE)
        ],
        github_available=True,
        prs_opened=12,
        prs_merged=len(HOSTILE),
        prs_closed_unmerged=1,
        prs_open_at_end=4,
        issues_opened=3,
        issues_closed=2,
        issues_open_at_end=5,
        releases=len(HOSTILE),
        new_contributors=len(HOSTILE),
        new_contributor_list=[
            ContributorRef(name=name, login=None, is_bot=False) for name in HOSTILE
        ],
        pull_requests=PullRequestMetrics(
            merged=len(HOSTILE),
            time_to_first_response=Durations(count=3, median_h=2.5, p90_h=10.0),
            time_to_merge=Durations(count=3, median_h=20.0, p90_h=48.25),
            merged_list=[pr(n, title, urls[n]) for n, title in enumerate(HOSTILE)],
        ),
        issues=IssueMetrics(time_to_close=Durations(count=2, median_h=5.0, p90_h=9.0)),
        release_metrics=ReleaseMetrics(
            releases=len(HOSTILE),
            items=[
                ReleaseRef(
                    repo="api",
                    tag_name=f"v1.{n}",
                    name=name,
                    url=f"https://github.com/acme/api/releases/tag/v1.{n}",
                    published_at="2024-06-03T10:00:00Z",
                    is_prerelease=n == 2,
                )
                for n, name in enumerate(HOSTILE)
            ],
        ),
        oldest_open_prs=[
            OpenItem(
                repo="api",
                number=100 + n,
                title=t,
                url=SAFE_URL.format(n=100 + n),
                created_at="2024-01-01T00:00:00Z",
                age_days=150.2,
            )
            for n, t in enumerate(HOSTILE)
        ],
        oldest_open_issues=[
            OpenItem(
                repo="api",
                number=200 + n,
                title=t,
                url=EVIL_URLS[0],
                created_at="2024-01-01T00:00:00Z",
                age_days=150.0,
            )
            for n, t in enumerate(HOSTILE)
        ],
        change={
            "commits": Change(previous=40, absolute=10, percent=25.0),
            "merges": Change(previous=4, absolute=-2, percent=-50.0),
            "prs_merged": Change(previous=0, absolute=10, percent=None),
        },
        days=[f"2024-06-{d:02d}" for d in range(1, days + 1)],
        days_collected=days,
        commits_per_day={
            f"2024-06-{d:02d}": (d % 5 if d != 2 else None) for d in range(1, days + 1)
        },
    )


def _parse(text: str) -> list[Token]:
    body = text.split("\n---\n", 1)[1]
    return MarkdownIt("commonmark").enable("table").parse(body)


def _shown(tokens: list[Token]) -> list[str]:
    out = []
    for t in tokens:
        for c in t.children or []:
            if c.type in ("text", "code_inline"):
                out.append(c.content)
    return out


def _tables(tokens: list[Token]) -> list[list[int]]:
    """Each table as the number of cells per row."""
    tables: list[list[int]] = []
    for t in tokens:
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            tables[-1].append(0)
        elif t.type in ("th_open", "td_open"):
            tables[-1][-1] += 1
    return tables


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_every_template_survives_hostile_text(period: str) -> None:
    m = hostile_metrics(period)
    facts = FactSheet(period=period, partition=KEYS[period], metrics=m, failed_repos=HOSTILE[:3])
    insights = DeterministicWriter().write(facts)
    text = render_digest(facts, insights, [], org="@acme <b>", timezone="UTC", github_org=ORG)
    tokens = _parse(text)
    everything = tokens + [c for t in tokens for c in t.children or []]

    headings = [
        (t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"
    ]
    expected = [("h2", "Key numbers")]
    if period != "daily":
        expected.append(("h2", "Commits per day"))
    expected += [
        ("h2", "Highlights"),
        ("h3", "Merged pull requests"),
        ("h3", "Releases"),
        ("h3", "New contributors"),
        ("h2", "Repositories"),
        ("h2", "Top contributors"),
        ("h2", "Review health"),
        ("h2", "Attention"),
        ("h3", "Data coverage"),
    ]
    assert headings[0][0] == "h1" and headings[1:] == expected

    # Key numbers: all 20 figures with GitHub; repositories 7 columns; people 5; review 4.
    key, repos, people, review = _tables(tokens)
    assert key == [3] * 21
    assert repos == [7] * (1 + len(HOSTILE))
    assert people == [5] * (1 + len(HOSTILE))
    assert review == [4] * (1 + 5)  # the header and 5 durations

    # Links: the org's GitHub items whose URL had GitHub's shape, and the definitions.
    hrefs = [str(t.attrs["href"]) for t in everything if t.type == "link_open"]
    assert all(h.startswith(("https://github.com/acme/api/", "../metrics.md#")) for h in hrefs), (
        hrefs
    )
    merged_links = [h for h in hrefs if "/pull/" in h and int(h.rsplit("/", 1)[1]) < 100]
    assert len(merged_links) == len(HOSTILE) - len(EVIL_URLS)
    assert not any("/issues/" in h for h in hrefs)  # the issues' URL was not GitHub's shape
    assert not [t for t in everything if t.type in ("html_inline", "image")]
    assert [t.content for t in tokens if t.type == "html_block"] == [
        "<details><summary>Definitions</summary>\n",
        "</details>\n",
    ]
    # No live mention and no email autolink: every '@' a reader sees has a word joiner on
    # both sides, in the shown text of every paragraph, cell and list item.
    shown = _shown(tokens)
    assert any("@" in s for s in shown)
    for s in shown:
        assert not re.search(f"(?<!{WORD_JOINER})@|@(?!{WORD_JOINER})", s), s
    assert "<script>" not in text and "\u202e" not in text
    # The change column: arrows and signs computed by hand from the Change values.
    assert "| Commits | 50 | ▲ +10 (+25.0%) |" in text
    assert "| Merge commits | 2 | ▼ \u22122 (\u221250.0%) |" in text
    assert f"| Pull requests merged | {len(HOSTILE)} | ▲ +10 (was 0) |" in text

    fences = [t for t in tokens if t.type == "fence"]
    if period == "daily":
        assert fences == []
    else:
        (chart,) = fences
        assert chart.info == "mermaid" and chart.content.startswith("xychart-beta")
        days = len(m.days)
        bars = chart.content.split("bar [", 1)[1].split("]", 1)[0].split(", ")
        # By hand: day d has d % 5 commits, and day 2 was not collected (shown as 0).
        assert bars == [str(0 if d == 2 else d % 5) for d in range(1, days + 1)]
        assert "No data for 2024-06-02 (not collected, or not over yet): shown as 0." in text


def test_a_quiet_window_is_short_and_says_so() -> None:
    quiet = WindowMetrics(
        partition="2024-06-03",
        period="weekly",
        commits=0,
        merges=0,
        active_contributors=0,
        human_contributors=0,
        bot_commits=0,
        lines_added=0,
        lines_deleted=0,
        files_changed=0,
        active_repos=0,
        per_repo=[],
        top_contributors=[],
        days=[f"2024-06-0{d}" for d in range(3, 10)],
        days_collected=1,
        github_note="GitHub was not collected for this window",
    )
    facts = FactSheet(period="weekly", partition="2024-06-03", metrics=quiet)
    text = render_digest(facts, DeterministicWriter().write(facts), [], org="acme", timezone="UTC")
    assert "Nothing happened in this window: no commits." in text
    for gone in ("## Repositories", "## Highlights", "## Commits per day", "Pull requests"):
        assert gone not in text, gone
    # Figures that need GitHub are not shown as 0: the sections say they are not available.
    assert text.count("Not available: GitHub was not collected for this window.") == 2
    assert "**Partial week**: 1 of 7 days collected so far." in text


MONTHS_BY_HAND = (
    "January February March April May June July August September October November December"
)


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_the_digest_and_the_index_give_one_title(period: str) -> None:
    """The page's h1 is the title the index and feed list it by (`digest_title`), with English
    month names from a table: strftime's %B would follow the machine's locale."""
    from sparky_assets.lib.digest_view import digest_title
    from sparky_assets.lib.index import DigestEntry

    facts = FactSheet(period=period, partition=KEYS[period], metrics=hostile_metrics(period))
    text = render_digest(facts, DeterministicWriter().write(facts), [], org=ORG, timezone="UTC")
    tokens = _parse(text)
    h1 = next(tokens[i + 1].content for i, t in enumerate(tokens) if t.tag == "h1")
    expected = {
        "daily": "Daily digest: 2024-06-03",
        "weekly": "Weekly digest: week of 2024-06-03",
        "monthly": "Monthly digest: June 2024",
    }[period]
    assert h1 == expected == digest_title(period, KEYS[period])  # type: ignore[arg-type]
    updated = "2024-07-01T00:00:00Z"
    entry = DigestEntry(period=period, key=KEYS[period], updated=updated)  # type: ignore[arg-type]
    assert entry.title == expected
    months = [digest_title("monthly", f"2031-{m:02d}-01") for m in range(1, 13)]
    assert months == [f"Monthly digest: {name} 2031" for name in MONTHS_BY_HAND.split()]
    with pytest.raises(ValueError, match="not the first day"):
        digest_title("monthly", "2031-02-03")
