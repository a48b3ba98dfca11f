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
from sparky_assets.lib.shipped import (
    AttentionItem,
    Automated,
    Shipped,
    ShippedChange,
    ShippedRelease,
    Theme,
)
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


def hostile_shipped(urls: list[str]) -> Shipped:
    """What shipped with hostile titles, authors, release notes and bot names: two themes whose
    first items carry the three evil URLs among safe ones."""
    changes = [
        ShippedChange(
            repo="api",
            number=n,
            title=title,
            url=urls[n],
            author=HOSTILE[-1 - n],
            lines=1000 - n,
            size="XL",
            theme="Fixes" if n % 2 else "Features",
            first_time=n == 3,
        )
        for n, title in enumerate(HOSTILE)
    ]
    themes = [
        Theme(
            name=name,
            count=sum(1 for c in changes if c.theme == name),
            repos={"api": 5, HOSTILE[0]: 1},
            items=[c for c in changes if c.theme == name][:3],
        )
        for name in ("Features", "Fixes")
    ]
    return Shipped(
        source="github",
        merged=len(HOSTILE) + 3,
        themes=themes,
        automated=Automated(count=3, dependency_updates=3, bots=[HOSTILE[3], HOSTILE[2]]),
        releases=[
            ShippedRelease(repo="api", tag=f"v1.{n}", notes=note, url=urls[n])
            for n, note in enumerate(HOSTILE[:4])
        ],
        attention=[
            AttentionItem(
                kind=("review", "answer", "revert")[n % 3],
                repo="api",
                number=300 + n,
                title=title,
                url=EVIL_URLS[0] if n == 1 else SAFE_URL.format(n=300 + n),
                age_days=3.5 + n,
            )
            for n, title in enumerate(HOSTILE[:4])
        ],
        attention_total=9,
        review_wait_days=2,
        answer_wait_days=3,
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
        previous_partition="2024-05-27",  # the window the changes are against
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
        shipped=hostile_shipped(urls),
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
    expected = [("h2", "What shipped"), ("h2", "Needs attention")]
    if period != "daily":
        expected.append(("h2", "Commits per day"))
    expected += [
        ("h2", "Review health"),
        ("h2", "Key numbers"),
        ("h2", "Repositories"),
        ("h2", "People"),
    ]
    if period == "monthly":
        expected.append(("h2", "Backlog"))
    expected.append(("h3", "Data coverage"))
    assert headings[0][0] == "h1" and headings[1:] == expected

    # Review 4 columns; key numbers: all 20 figures with GitHub (none of them is 0 in this
    # window and before, the only rows left out); repositories 7; people 5.
    review, key, repos, people = _tables(tokens)
    assert review == [4] * (1 + 5)  # the header and 5 durations
    assert key == [3] * (1 + 20)
    assert repos == [7] * (1 + len(HOSTILE))
    assert people == [5] * (1 + len(HOSTILE))

    # Links: the org's GitHub items whose URL had GitHub's shape, the GitHub search behind
    # "N of M", and the definitions; never an evil URL.
    hrefs = [str(t.attrs["href"]) for t in everything if t.type == "link_open"]
    allowed = ("https://github.com/acme/api/", "../metrics.md#", "https://github.com/search?")
    assert all(h.startswith(allowed) for h in hrefs), hrefs
    assert not set(hrefs) & set(EVIL_URLS)
    # Named on the first screen: 3 Features (0, 2, 4), 3 Fixes (1, 3, 5) and 3 of 4 releases
    # (0 to 2): of those, numbers 1 to 3 carry evil URLs and are shown unlinked.
    shipped_links = sorted(h for h in hrefs if re.search(r"/(pull|releases/tag)/(v1\.)?\d$", h))
    assert len(shipped_links) == (6 - 3) + (3 - 2)
    assert "[api#3]" not in text and "api#3" in text
    attention_links = [h for h in hrefs if re.search(r"/pull/30\d$", h)]
    assert len(attention_links) == 3  # of 4: one evil URL
    assert "…and 5 more\n" in text  # 9 attention items, 4 listed
    assert "3 dependency updates by" in text
    assert "- Named here: 6 of 13 merged pull requests: [all on GitHub](" in text
    assert not any("/issues/" in h for h in hrefs)  # the issues' URL was not GitHub's shape
    assert not [t for t in everything if t.type in ("html_inline", "image")]
    assert [t.content for t in tokens if t.type == "html_block"] == [  # only the definitions
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
    assert "**50** commits (▲ 10)" in text  # the stat line
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
    assert "No activity: no commits." in text
    for gone in ("## Repositories", "## Key numbers", "## Commits per day", "Pull requests"):
        assert gone not in text, gone
    for noise in ("not available", "Not available", "<details>", "| 0 |"):
        assert noise not in text, noise
    assert "**Partial week**: 1 of 7 days collected so far." in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= 15, "\n".join(lines)


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
        "daily": "Monday 3 Jun 2024",
        "weekly": "Week of 3 \u2013 9 Jun 2024",
        "monthly": "June 2024",
    }[period]
    assert h1 == f"{expected}, UTC" == digest_title(period, KEYS[period], "UTC")  # type: ignore[arg-type]
    updated = "2024-07-01T00:00:00Z"
    entry = DigestEntry(period=period, key=KEYS[period], updated=updated)  # type: ignore[arg-type]
    assert entry.title == expected
    months = [digest_title("monthly", f"2031-{m:02d}-01") for m in range(1, 13)]
    assert months == [f"{name} 2031" for name in MONTHS_BY_HAND.split()]
    # Weeks across a month and a year, by hand.
    assert digest_title("weekly", "2024-10-28") == "Week of 28 Oct \u2013 3 Nov 2024"
    assert digest_title("weekly", "2024-12-30") == "Week of 30 Dec 2024 \u2013 5 Jan 2025"
    with pytest.raises(ValueError, match="not the first day"):
        digest_title("monthly", "2031-02-03")
