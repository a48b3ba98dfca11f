"""The daily digest (markdown + JSON sidecar) and the deterministic insight writer.

Fact sheets here are written by hand, so every number the page must show is known up front.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from gitrepo import KnownHistory
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sparky_assets.lib.digest_view import digest_title
from sparky_assets.lib.insights import (
    DeterministicWriter,
    FactSheet,
    Insights,
    failed_repo_names,
)
from sparky_assets.lib.metrics import (
    ActivityMetrics,
    ContributorActivity,
    RepoActivity,
    compute_activity,
)
from sparky_assets.lib.render import (
    FrontMatterError,
    digest_sidecar,
    md,
    render_daily,
    split_front_matter,
    without_front_matter,
)
from sparky_assets.lib.sanitize import BIDI_CONTROLS, WORD_JOINER, plain_text
from sparky_resources.config import DEFAULT_BOTS
from sparky_resources.local_git import read_commits
from sparky_resources.models import Coverage, RepoCoverage

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
VERSION = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
NY = ZoneInfo("America/New_York")


def person(
    name: str,
    commits: int,
    added: int = 0,
    deleted: int = 0,
    *,
    bot: bool = False,
    repos: tuple[str, ...] = ("alpha",),
) -> ContributorActivity:
    return ContributorActivity(
        name=name,
        identity=f"{name.lower().replace(' ', '.')}@example.com",
        commits=commits,
        lines_added=added,
        lines_deleted=deleted,
        repos=list(repos),
        is_bot=bot,
    )


def repo(name: str, commits: int, merges: int = 0, contributors: int = 1) -> RepoActivity:
    return RepoActivity(
        repo=name,
        commits=commits,
        merges=merges,
        contributors=contributors,
        lines_added=10 * commits,
        lines_deleted=commits,
        files_changed=commits,
    )


def metrics(**changes: Any) -> ActivityMetrics:
    """A hand-made day: distinctive numbers so each one can be found on the page."""
    base: dict[str, Any] = dict(
        partition="2024-06-03",
        commits=1234,
        merges=7,
        active_contributors=42,
        human_contributors=39,
        bot_commits=11,
        lines_added=56789,
        lines_deleted=4321,
        files_changed=876,
        active_repos=2,
        per_repo=[repo("alpha", 1000, merges=5, contributors=30), repo("beta", 234, 2, 15)],
        top_contributors=[
            person("Ann Ace", 500, 30000, 2000),
            person("Ben Bell", 300, 10000, 1000),
            person("renovate[bot]", 11, 11, 11, bot=True),
        ],
    )
    base.update(changes)
    return ActivityMetrics(**base)


def facts(failed: list[str] | None = None, **changes: Any) -> FactSheet:
    return FactSheet(
        period="daily",
        partition="2024-06-03",
        metrics=metrics(**changes),
        failed_repos=failed or [],
    )


def coverage(
    collected_at: str = "2024-06-04T06:00:00-04:00",
    repos: list[RepoCoverage] | None = None,
    window_end: str = "2024-06-04T00:00:00-04:00",
) -> Coverage:
    return Coverage(
        partition="2024-06-03",
        window_start="2024-06-03T00:00:00-04:00",
        window_end=window_end,
        collected_at=collected_at,
        repos=repos or [RepoCoverage(repo="alpha", status="ok", commits=1005)],
    )


def render(f: FactSheet, cov: Coverage | None = None, org: str = "acme") -> str:
    insights = DeterministicWriter().write(f)
    return render_daily(f, insights, cov, org=org, timezone="America/New_York")


def front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n")
    block, sep, _ = text[4:].partition("\n---\n")
    assert sep, "front matter is not closed"
    loaded = yaml.safe_load(block)
    assert isinstance(loaded, dict)
    return loaded


def cells(row: str) -> list[str]:
    """A markdown table row's cells, unescaped: a backslash makes the next character text."""
    out, cell, chars = [], "", iter(row)
    for ch in chars:
        if ch == "\\":
            cell += next(chars, "")
        elif ch == "|":
            out.append(cell.strip())
            cell = ""
        else:
            cell += ch
    out.append(cell.strip())
    return out[1:-1]  # drop what is outside the leading and trailing pipe


def bare(text: str, char: str) -> int:
    """How often `char` appears in `text` not escaped by a backslash (escapes pair up)."""
    count, chars = 0, iter(text)
    for ch in chars:
        if ch == "\\":
            next(chars, "")
        elif ch == char:
            count += 1
    return count


def table_after(text: str, heading: str) -> list[str]:
    """The table lines (starting with '|') of the section under `heading`."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n---\n", 1)[0]
    return [ln for ln in section.splitlines() if ln.startswith("|")]


# The title of the hand-made day, written out by hand: the window in plain words with its
# timezone, markdown-escaped ("_" is emphasis in markdown).
TITLE = "# Monday 3 Jun 2024, America/New\\_York"


def key_numbers(text: str) -> dict[str, list[str]]:
    """Key numbers as label -> [value, change...]. Without a previous window there is no
    change to show, so the table may carry no Change column; where it does, it says so."""
    rows = [cells(ln) for ln in table_after(text, "## Key numbers")[2:]]
    return {row[0]: row[1:] for row in rows}


def assert_key_value(text: str, label: str, value: str) -> None:
    """The Key numbers row `label` shows `value`, and its change (no previous day in these
    facts) is unknown: absent or "not available"."""
    row = key_numbers(text)[label]
    assert row[0] == value, (label, row)
    assert row[1:] in ([], ["not available"]), (label, row)


# --- render_daily ------------------------------------------------------------------------


def test_page_shows_the_key_numbers() -> None:
    text = render(facts(), coverage())
    # Thousands separators: 1234 -> "1,234", 56789 -> "56,789". No previous day in these
    # facts: no change is known, and a figure the file does not hold is "not available".
    for label, value in [
        ("Commits", "1,234"),
        ("Commits by people (not bots)", "not available"),
        ("Merge commits", "7"),
        ("Active contributors", "42"),
        ("Active contributors, people", "39"),
        ("Lines added", "56,789"),
        ("Lines deleted", "4,321"),
        ("Files changed", "876"),
        ("Active repositories", "2"),
    ]:
        assert_key_value(text, label, value)
    # alpha: 1000 commits, 5 merges, 30 people, +10,000 -1,000, 1,000 files.
    assert "| alpha | 1,000 | 5 | 30 | 10,000 | 1,000 | 1,000 |" in text
    assert "| Ann Ace | 500 | 30,000 | 2,000 | alpha |" in text
    # People are humans only: the bot's 11 commits are one line under the table.
    assert "renovate" not in "\n".join(table_after(text, "## People"))
    assert "Bots made 11 commit(s), not counted above." in text.splitlines()
    # The first screen's stat line: 1,234 commits by 39 people (bots are not people).
    assert "**1,234** commits · **39** people active" in text.splitlines()
    assert TITLE in text.splitlines()
    assert "# " + md(digest_title("daily", "2024-06-03", "America/New_York")) == TITLE


def test_front_matter_parses_as_yaml() -> None:
    meta = front_matter(render(facts(), coverage(), org="acme"))
    assert meta == {
        "date": "2024-06-03",
        "period": "daily",
        "org": "acme",
        "generator": f"sparky {VERSION}",
        "insights": "deterministic",
    }


def test_front_matter_survives_yaml_special_characters_in_org() -> None:
    org = 'Acme: "Inc" #1 - {x}'
    assert front_matter(render(facts(), coverage(), org=org))["org"] == org


EVIL_NAME = "<script>alert(1)</script> | *bold* [x](y) back\\|slash\nsecond line"
EVIL_REPO = "evil|repo<script>_x_"


def test_commit_text_cannot_break_tables_or_inject_html() -> None:
    f = facts(
        per_repo=[repo(EVIL_REPO, 3, contributors=1), repo("beta", 1)],
        top_contributors=[
            person(EVIL_NAME, 3, 5, 5, repos=(EVIL_REPO,)),
            person("Ben Bell", 1, 1, 1, repos=("beta",)),
        ],
    )
    cov = coverage(
        repos=[
            RepoCoverage(repo=EVIL_REPO, status="ok", commits=3),
            RepoCoverage(repo="x|<b>y</b>", status="failed", error="bad <img src=x> | [l](u)"),
        ]
    )
    text = render(f, cov)
    assert "<script>" not in text
    # No '<' that markdown would read as a tag: every one is escaped, up to the template's own
    # <details> block at the very end.
    body = text.split("<details>", 1)[0]
    assert bare(body, "<") == 0
    assert "\\<img src=x\\>" in body and "\\<b\\>" in body
    assert "[x](y)" not in text and "[l](u)" not in text
    assert "*bold*" not in text
    assert "second line" in text  # the newline became a space, the text is kept
    assert not any(ln.startswith("second line") for ln in text.splitlines())

    repos = table_after(text, "## Repositories")
    # Header, separator, EVIL_REPO, beta: 7 columns each.
    assert [len(cells(ln)) for ln in repos] == [7, 7, 7, 7]
    people = table_after(text, "## People")
    # Header, separator, two people: 5 columns each.
    assert [len(cells(ln)) for ln in people] == [5, 5, 5, 5]
    # The cells still say what was there: unescaped, they give back the text (lines joined).
    assert cells(people[2])[0] == " ".join(EVIL_NAME.split())
    assert cells(people[2])[4] == EVIL_REPO
    assert cells(repos[2])[0] == EVIL_REPO


# Names, repository names and an error as an attacker would write them.
HOSTILE_PEOPLE = [
    "@alice",
    "Jane Doe (@jdoe)",
    '<img src=x onerror="alert(1)"> [x](javascript:alert(1)) ![i](http://x)',
    "team @org/team \u202eevil\u202c <!-- c -->",
    "https://evil.example/a?b=c www.evil.example",
    "someone@example.com `code` &#64;bob",
]
HOSTILE_REPOS = ["evil|repo<script>_x_", "www.evil.example", "# not-a-heading", "1. list @x"]
HOSTILE_ERROR = (
    "bad <img src=x onerror=alert(1)> | [l](javascript:alert(1)) @alice\n"
    "https://evil.example/x\r# not a heading\u202e\x00\x1f <script>x</script>"
)


def _parsers() -> list[MarkdownIt]:
    """CommonMark with GFM tables; and markdown-it's GFM-like preset with autolinking when
    linkify-it-py is there (fuzzy domain links off: GFM links only `www.`, `scheme://`, emails)."""
    parsers = [MarkdownIt("commonmark").enable("table")]
    if importlib.util.find_spec("linkify_it") is not None:
        gfm = MarkdownIt("gfm-like")
        gfm.linkify.set({"fuzzy_link": False})
        parsers.append(gfm)
    return parsers


def _shown(inline: Token) -> str:
    """What an inline run shows a reader, with the sanitizer's word joiners taken out."""
    return "".join(c.content for c in inline.children or []).replace(WORD_JOINER, "")


def _tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Each table as rows of shown cell texts."""
    tables: list[list[list[str]]] = []
    for i, t in enumerate(tokens):
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            tables[-1].append([])
        elif t.type in ("th_open", "td_open"):
            tables[-1][-1].append(_shown(tokens[i + 1]))
    return tables


def _items(tokens: list[Token], start: int, end: int) -> list[str]:
    """The shown text of each list item between two token positions."""
    return [_shown(tokens[i + 2]) for i in range(start, end) if tokens[i].type == "list_item_open"]


def test_hostile_commit_text_renders_as_inert_text() -> None:
    people = [
        person(name, 60 - 10 * k, k, k, repos=(HOSTILE_REPOS[k % len(HOSTILE_REPOS)],))
        for k, name in enumerate(HOSTILE_PEOPLE)
    ]
    repos = [repo(name, 40 - 10 * k) for k, name in enumerate(HOSTILE_REPOS)]
    f = facts(
        failed=[HOSTILE_REPOS[1]], per_repo=repos, top_contributors=people, active_repos=len(repos)
    )
    cov = coverage(
        repos=[
            RepoCoverage(repo=HOSTILE_REPOS[0], status="ok", commits=40),
            RepoCoverage(repo=HOSTILE_REPOS[1], status="failed", error=HOSTILE_ERROR),
        ]
    )
    # The built-in writer's sentences stay in the insights file (the first screen replaces
    # them on the page); they name the hostile repository and person as they were written.
    assert DeterministicWriter().write(f).highlights[:2] == [
        f"Busiest repository: {HOSTILE_REPOS[0]} with 40 commits.",
        f"Most commits: {HOSTILE_PEOPLE[0]} (60 commits, +0/-0 lines).",
    ]
    assert f"Not collected: {HOSTILE_REPOS[1]} (see coverage)." in (
        DeterministicWriter().write(f).highlights
    )
    text = render(f, cov, org="@acme \u202e https://evil.example")
    assert "Busiest repository" not in text and "Most commits" not in text
    assert not set(text) & BIDI_CONTROLS
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    assert front_matter(text)["org"] == "@acme https://evil.example"
    body = text.split("\n---\n", 1)[1]  # after the front matter

    for parser in _parsers():
        tokens = parser.parse(body)
        everything = tokens + [c for t in tokens for c in t.children or []]
        assert not [t for t in everything if t.type in ("image", "html_inline")]
        # The only links are the footer's, to the metric definitions.
        links = [t.attrs["href"] for t in everything if t.type == "link_open"]
        assert links and all(str(h).startswith("../metrics.md#") for h in links)
        # The template's own <details> block is the only HTML.
        assert [t.content for t in tokens if t.type == "html_block"] == [
            "<details><summary>Definitions</summary>\n",
            "</details>\n",
        ]
        headings = [
            (t.tag, _shown(tokens[i + 1])) for i, t in enumerate(tokens) if t.type == "heading_open"
        ]
        # No GitHub and no previous day: no Needs attention, Trend or Review health.
        assert headings == [
            ("h1", "Monday 3 Jun 2024, America/New_York"),
            ("h2", "What shipped"),
            ("h2", "Key numbers"),
            ("h2", "Repositories"),
            ("h2", "People"),
            ("h3", "Data coverage"),
        ]
        key, per_repo, top = _tables(tokens)
        # Header and the 12 figures that do not need GitHub (digest_view.KEY_FIGURES), each
        # row as wide as the header (Measure, Value, and Change where a previous day is known).
        assert len(key) == 13 and key[0][:2] == ["Measure", "Value"]
        assert {len(row) for row in key} == {len(key[0])}
        assert key[1][:2] == ["Commits", "1,234"]
        # Every cell where it belongs: the names read back whole, the numbers beside them.
        assert [len(row) for row in per_repo] == [7] * (1 + len(repos))
        assert [row[:2] for row in per_repo[1:]] == [
            [plain_text(r.repo), f"{r.commits:,}"] for r in repos
        ]
        assert [len(row) for row in top] == [5] * (1 + len(people))
        assert [(row[0], row[1], row[4]) for row in top[1:]] == [
            (plain_text(p.name), f"{p.commits:,}", plain_text(p.repos[0])) for p in people
        ]
        # No live mention, autolink trigger or markup in anything a reader sees.
        for t in tokens:
            if t.type != "inline":
                continue
            kinds = {c.type for c in t.children or []}
            allowed = {"text", "strong_open", "strong_close", "code_inline"}
            if t.content.startswith("Generated by"):
                allowed |= {"link_open", "link_close"}  # the definitions (checked above)
            assert kinds <= allowed, t.content
            shown = "".join(c.content for c in t.children or [] if c.type == "text")
            assert not re.search(r"@\w|\w@|(?i:www)\.|//", shown), shown
        # Under the title (before the first h2): the failed clone, named inert in one
        # Incomplete notice, whatever its name said.
        first_h2 = next(i for i, t in enumerate(tokens) if t.tag == "h2")
        notices = [_shown(t) for t in tokens[:first_h2] if t.type == "inline"][1:]
        assert notices == [
            f"Incomplete: 1 local clone(s) could not be read ({plain_text(HOSTILE_REPOS[1])})."
            " Re-materialize this partition once that is fixed."
        ]
        # Data coverage (the h3 up to <details>): each entry one list item.
        h3 = next(i for i, t in enumerate(tokens) if t.tag == "h3")
        details = next(i for i, t in enumerate(tokens) if t.type == "html_block")
        notes = _items(tokens, h3, details)
        # The window, the two repositories, and three fixed notes (sources, text, generator).
        assert len(notes) == 6, notes
        assert notes[2] == (
            f"{plain_text(HOSTILE_REPOS[1])}: not collected: {plain_text(HOSTILE_ERROR)}."
        )


def test_md_escapes_markup_and_joins_lines() -> None:
    assert md("a|b") == "a\\|b"
    assert md("<i>") == "\\<i\\>"
    assert md("x\\|y") == "x\\\\\\|y"  # the backslash is escaped too, so the pipe stays text
    assert md("one\n  two\r\nthree") == "one two three"


def test_partial_day_note_only_when_collected_before_the_day_ended() -> None:
    during = render(facts(), coverage(collected_at="2024-06-03T15:00:00-04:00"))
    after = render(facts(), coverage(collected_at="2024-06-04T06:00:00-04:00"))
    at_end = render(facts(), coverage(collected_at="2024-06-04T00:00:00-04:00"))
    none = render(facts(), None)
    assert "Partial day" in during
    assert "2024-06-03T15:00:00-04:00" in during
    assert "Partial day" not in after
    assert "Partial day" not in at_end
    assert "Partial day" not in none
    assert "No coverage record" in none


def test_partial_day_compares_instants_across_offsets() -> None:
    # 2024-06-04T01:00:00+00:00 is 2024-06-03T21:00 in New York: three hours before the
    # window ends at 2024-06-04T00:00:00-04:00 (= 04:00Z). As strings, "...T01" > "...T00".
    text = render(facts(), coverage(collected_at="2024-06-04T01:00:00+00:00"))
    assert "Partial day" in text


def test_failed_repos_say_not_collected_with_the_error() -> None:
    cov = coverage(
        repos=[
            RepoCoverage(repo="alpha", status="ok", commits=1005),
            RepoCoverage(
                repo="gone", status="failed", error="no such path: /srv/gone", kept_previous=4
            ),
        ]
    )
    text = render(facts(failed=["gone"]), cov)
    line = next(ln for ln in text.splitlines() if ln.startswith("- gone"))
    assert "**not collected**" in line
    assert "no such path: /srv/gone" in line
    assert "kept 4 commit(s)" in line
    ok = next(ln for ln in text.splitlines() if ln.startswith("- alpha"))
    assert "not collected" not in ok and "1,005 commit(s)" in ok
    # Under the title too, before anything else is said.
    lines = [ln for ln in text.split("\n---\n", 1)[1].splitlines() if ln]
    assert lines[:2] == [
        TITLE,
        "> **Incomplete**: 1 local clone(s) could not be read (gone). Re-materialize this "
        "partition once that is fixed.",
    ]


def test_sidecar_has_no_email_addresses(known: KnownHistory) -> None:
    day = (dt.datetime(2024, 6, 3, tzinfo=NY), dt.datetime(2024, 6, 4, tzinfo=NY))
    records = [r.model_dump() for r in read_commits(known.path, *day)]
    m = compute_activity("2024-06-03", records, bots=DEFAULT_BOTS, repos=["known"])
    assert "@" in m.model_dump_json()  # the input does carry emails (identities)
    f = FactSheet(period="daily", partition="2024-06-03", metrics=m, failed_repos=["gone"])
    cov = coverage(
        repos=[
            RepoCoverage(repo="known", status="ok", commits=6),
            RepoCoverage(repo="gone", status="failed", error="no such path: /srv/gone"),
        ]
    )
    sidecar = digest_sidecar(f, DeterministicWriter().write(f), cov, org="acme")
    blob = json.dumps(sidecar, ensure_ascii=False)
    assert "@" not in blob
    assert "Alice Archer" in blob and "Bob Builder" in blob
    assert sidecar["metrics"]["commits"] == 5
    assert sidecar["generator"] == f"sparky {VERSION}"
    assert (sidecar["period"], sidecar["partition"], sidecar["org"]) == (
        "daily",
        "2024-06-03",
        "acme",
    )


def test_front_matter_is_read_back_by_one_function() -> None:
    page = render(facts(), coverage())
    front, body = split_front_matter(page)
    assert front == front_matter(page)  # the test's own reading of the block
    assert (front["date"], front["period"], front["org"]) == ("2024-06-03", "daily", "acme")
    assert body.lstrip("\n").startswith(TITLE + "\n")
    assert without_front_matter(page) == body.lstrip("\n")
    assert not without_front_matter(page).startswith("---")
    # Markdown without front matter (or with an unclosed block) is returned whole.
    assert without_front_matter("# Title\n\ntext\n") == "# Title\n\ntext\n"
    assert without_front_matter("---\ndate: x\n# Title\n") == "---\ndate: x\n# Title\n"
    # A block that is there but not YAML is still stripped (it is not the digest's text).
    assert without_front_matter("---\n: [\n---\n\n# T\n") == "# T\n"
    for text, why in [
        ("# Title\n", "no front matter"),
        ("---\ndate: x\n", "not closed"),
        ("---\n: [\n---\n", "not valid YAML"),
        ("---\n- a list\n---\n", "not a mapping"),
    ]:
        try:
            split_front_matter(text)
        except FrontMatterError as exc:
            assert why in str(exc), (text, exc)
        else:
            raise AssertionError(f"{text!r} was read as front matter")
    # A byte-order mark and CRLF line ends, as an editor on Windows may save it.
    front, body = split_front_matter('\ufeff---\r\ndate: "2024-06-03"\r\n---\r\n# T\r\n')
    assert (front, body) == ({"date": "2024-06-03"}, "# T\r\n")


def test_sidecar_says_partial_as_the_front_matter_does() -> None:
    f = facts()
    insights = DeterministicWriter().write(f)
    during = coverage(collected_at="2024-06-03T15:00:00-04:00")  # before the day ended
    after = coverage()  # 06:00 the next morning
    for cov, partial in ((during, True), (after, False), (None, False)):
        page = render(f, cov)
        assert front_matter(page).get("partial", False) is partial
        sidecar = digest_sidecar(f, insights, cov, org="acme")
        assert sidecar["partial"] is partial


# --- DeterministicWriter -----------------------------------------------------------------


def test_headline_numbers_match_the_facts() -> None:
    headline = DeterministicWriter().write(facts()).headline
    for part in ["1,234 commits", "42 contributors", "2 repositories", "+56,789/-4,321"]:
        assert part in headline, (part, headline)

    one = facts(commits=1, active_contributors=1, active_repos=1, lines_added=2, lines_deleted=0)
    headline = DeterministicWriter().write(one).headline
    for part in ["1 commit ", "1 contributor ", "1 repository", "+2/-0"]:
        assert part in headline, (part, headline)


def test_headline_says_when_nothing_landed() -> None:
    empty = facts(
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
    )
    insights = DeterministicWriter().write(empty)
    assert "No commits" in insights.headline
    assert insights.highlights == []
    text = render_daily(empty, insights, None, org="acme", timezone="America/New_York")
    # A short, honest digest: the title, that nothing happened (0 commits; no GitHub, so
    # nothing is said of pull requests) and a one-line coverage footer. No tables, no
    # definitions.
    body = [ln for ln in text.split("\n---\n", 1)[1].splitlines() if ln]
    assert body[:2] == [TITLE, "No activity: no commits."]
    assert body[2] == "---" and body[3].startswith("Coverage: 0 repositories, 2024-06-03 ")
    assert len(body) == 4
    assert "|" not in text and "<details>" not in text


def _most(f: FactSheet) -> list[str]:
    return [h for h in DeterministicWriter().write(f).highlights if h.startswith("Most commits")]


def test_most_commits_only_for_a_strict_leader_among_humans() -> None:
    # Ann 500 > Ben 300: Ann leads.
    assert _most(facts()) == ["Most commits: Ann Ace (500 commits, +30,000/-2,000 lines)."]
    # A tie at the top: nobody is named.
    tie = [person("Ann Ace", 5, 1, 1), person("Ben Bell", 5, 0, 0)]
    assert _most(facts(top_contributors=tie)) == []
    # A bot with more commits does not count; among humans Cy (4) leads Dee (3).
    bot_first = [person("ci[bot]", 90, bot=True), person("Cy", 4), person("Dee", 3)]
    assert [h.split(" (")[0] for h in _most(facts(top_contributors=bot_first))] == [
        "Most commits: Cy"
    ]
    # A single human leads on their own.
    assert len(_most(facts(top_contributors=[person("Solo", 1)]))) == 1
    # Only bots: nobody.
    assert _most(facts(top_contributors=[person("ci[bot]", 3, bot=True)])) == []


def test_failed_repos_appear_in_highlights() -> None:
    highlights = DeterministicWriter().write(facts(failed=["zeta", "alpha"])).highlights
    failed = [h for h in highlights if "Not collected" in h]
    assert len(failed) == 1
    assert "alpha" in failed[0] and "zeta" in failed[0]
    assert not any("Not collected" in h for h in DeterministicWriter().write(facts()).highlights)


def test_failed_repo_names_from_coverage() -> None:
    cov = coverage(
        repos=[
            RepoCoverage(repo="b", status="failed", error="x"),
            RepoCoverage(repo="ok", status="ok"),
            RepoCoverage(repo="a", status="failed", error="y"),
        ]
    )
    assert failed_repo_names(cov) == ["a", "b"]
    assert failed_repo_names(None) == []


# facts() written out by hand, as FactSheet.model_dump(mode="json") must give it.
FACTS_JSON: dict[str, Any] = {
    "period": "daily",
    "partition": "2024-06-03",
    "failed_repos": [],
    "metrics": {
        "partition": "2024-06-03",
        "commits": 1234,
        "merges": 7,
        "active_contributors": 42,
        "human_contributors": 39,
        "bot_commits": 11,
        "lines_added": 56789,
        "lines_deleted": 4321,
        "files_changed": 876,
        "active_repos": 2,
        "commits_without_line_stats": 0,
        "prs_opened": None,
        "prs_merged": None,
        "prs_closed_unmerged": None,
        "issues_opened": None,
        "issues_closed": None,
        "releases": None,
        "human_commits": None,
        "human_lines_added": None,
        "human_lines_deleted": None,
        "human_files_changed": None,
        "bot_contributors": None,
        "caf": None,
        "top_contributor_share": None,
        "per_repo": [
            {
                "repo": "alpha",
                "commits": 1000,
                "merges": 5,
                "contributors": 30,
                "lines_added": 10000,
                "lines_deleted": 1000,
                "files_changed": 1000,
                "caf": None,
            },
            {
                "repo": "beta",
                "commits": 234,
                "merges": 2,
                "contributors": 15,
                "lines_added": 2340,
                "lines_deleted": 234,
                "files_changed": 234,
                "caf": None,
            },
        ],
        "top_contributors": [
            {
                "name": "Ann Ace",
                "identity": "ann.ace@example.com",
                "commits": 500,
                "lines_added": 30000,
                "lines_deleted": 2000,
                "repos": ["alpha"],
                "is_bot": False,
            },
            {
                "name": "Ben Bell",
                "identity": "ben.bell@example.com",
                "commits": 300,
                "lines_added": 10000,
                "lines_deleted": 1000,
                "repos": ["alpha"],
                "is_bot": False,
            },
            {
                "name": "renovate[bot]",
                "identity": "renovate[bot]@example.com",
                "commits": 11,
                "lines_added": 11,
                "lines_deleted": 11,
                "repos": ["alpha"],
                "is_bot": True,
            },
        ],
    },
}
# sha256 of FACTS_JSON's canonical JSON (sorted keys, json's default separators, UTF-8), worked
# out from the dict above alone with `hashlib.sha256(json.dumps(FACTS_JSON, sort_keys=True,
# ensure_ascii=False).encode()).hexdigest()`. Pinned: the hash is the cache key of generated
# text, so a change of the canonical form (key order, separators, field names) must show here.
FACTS_SHA256 = "33711426a917ca9db165d2ea88f57b8ff6dbad0cf2548675928cebc1d68b8b7e"


def test_facts_hash_is_stable_and_tracks_the_numbers() -> None:
    canonical = json.dumps(FACTS_JSON, sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == FACTS_SHA256
    writer = DeterministicWriter()
    first = writer.write(facts()).facts_hash
    assert first == FACTS_SHA256
    assert writer.write(facts()).facts_hash == first  # an equal fact sheet built separately
    assert writer.write(facts(lines_added=56790)).facts_hash != first
    assert writer.write(facts(failed=["alpha"])).facts_hash != first
    renamed = [person("Ann Acé", 500, 30000, 2000), *metrics().top_contributors[1:]]
    assert writer.write(facts(top_contributors=renamed)).facts_hash != first


def test_a_shallow_clone_is_marked_in_key_numbers_and_coverage() -> None:
    cov = coverage(
        repos=[
            RepoCoverage(
                repo="alpha",
                status="ok",
                commits=3,
                default_branch="main",
                shallow=True,
                history_complete_since="2024-06-02T09:00:01+00:00",
            ),
            RepoCoverage(repo="beta", status="ok", commits=2, default_branch="trunk"),
        ]
    )
    text = render(facts(commits_without_line_stats=1), cov)
    assert_key_value(text, "Lines added", "56,789 (at least)")
    assert "leave out 1 commit(s) at a shallow clone's boundary" in text
    lines = text.splitlines()
    alpha = next(line for line in lines if line.startswith("- alpha: "))
    assert "(branch main)" in alpha and "**Shallow clone**" in alpha
    assert "complete only from 2024-06-02T09:00:01+00:00" in alpha
    beta = next(line for line in lines if line.startswith("- beta: "))
    assert "(branch trunk)" in beta and "Shallow" not in beta
    # Without a shallow boundary, the numbers carry no qualifier.
    assert "(at least)" not in render(facts(), cov)


def test_llm_text_is_rendered_as_the_safe_markdown_it_is_and_names_the_model() -> None:
    f = facts()
    llm = (
        DeterministicWriter()
        .write(f)
        .model_copy(
            update={
                "writer": "ollama",
                "model": "qwen2.5-coder:1.5b",
                "text_format": "markdown",
                "headline": "A *busy* day",
                "highlights": [
                    "alpha moved on ([alpha#12](https://github.com/acme/alpha/pull/12))"
                ],
                "risks": ["Review load on a few people"],
                "dropped": [{"kind": "theme", "text": "x", "reason": "number 9 not in the facts"}],
            }
        )
    )
    text = render_daily(f, llm, None, org="acme", timezone="America/New_York")
    assert front_matter(text)["insights"] == "ollama"
    assert front_matter(text)["model"] == "qwen2.5-coder:1.5b"
    # Only the model's grounded highlights are shown, under "In brief"; its headline and
    # risks are not (the first screen says what shipped), whatever their markup.
    assert "busy" not in text and "Review load" not in text
    brief = text.split("\n## In brief\n", 1)[1].split("\n## ", 1)[0]
    # Not escaped a second time: the link is markdown, as the writer made it.
    assert "- alpha moved on ([alpha#12](https://github.com/acme/alpha/pull/12))" in brief
    tokens = _parsers()[0].parse(text.split("\n---\n", 1)[1])
    hrefs = [
        c.attrs["href"]
        for t in tokens
        for c in t.children or []
        if c.type == "link_open" and not str(c.attrs["href"]).startswith("../metrics.md")
    ]
    assert hrefs == ["https://github.com/acme/alpha/pull/12"]
    assert (
        "Summary written by the local LLM qwen2.5-coder:1.5b (Ollama), 1 ungrounded item(s) "
        "dropped." in brief
    )
    # Plain text is escaped: its '*' stays a character.
    plain = llm.model_copy(update={"text_format": "text", "highlights": ["A *busy* day"]})
    assert "- A \\*busy\\* day" in render_daily(f, plain, None, org="acme", timezone="UTC")
    # The built-in writer's sentences are not shown: no "In brief" at all.
    builtin = llm.model_copy(update={"writer": "deterministic", "text_format": "text"})
    shown = render_daily(f, builtin, None, org="acme", timezone="UTC")
    assert "## In brief" not in shown and "alpha moved on" not in shown


def _quiet_day() -> FactSheet:
    return facts(
        commits=0, merges=0, active_contributors=0, human_contributors=0, bot_commits=0,
        lines_added=0, lines_deleted=0, files_changed=0, active_repos=0, per_repo=[],
        top_contributors=[],
    )  # fmt: skip


def test_a_day_github_could_not_reach_says_so_above_the_headline() -> None:
    """GitHub unreachable, the clone read: "no commits" may only mean "not read", so the
    digest says what is missing before it says anything else."""
    cov = coverage(repos=[RepoCoverage(repo="alpha", status="ok", commits=0)]).model_copy(
        update={"github_error": "GitHub unreachable: POST https://api.github.com/graphql failed"}
    )
    lines = [ln for ln in render(_quiet_day(), cov).split("\n---\n", 1)[1].splitlines() if ln]
    assert lines[0] == TITLE
    assert lines[1] == (
        "> **Incomplete**: GitHub could not be reached when this day was collected, so its pull "
        "requests, issues, releases and commits are missing. Re-materialize this partition once "
        "that is fixed."
    )
    assert lines[2] == "No activity: no commits."  # then what was collected says


def test_a_quiet_day_fully_read_says_nothing_happened() -> None:
    cov = coverage(repos=[RepoCoverage(repo="alpha", status="ok", commits=0)])
    text = render(_quiet_day(), cov)
    assert "Incomplete" not in text
    body = [ln for ln in text.split("\n---\n", 1)[1].splitlines() if ln]
    # Title, no activity, the rule and one coverage line (issue 18: at most 15 lines).
    assert body == [
        TITLE,
        "No activity: no commits.",
        "---",
        "Coverage: 1 repository, 2024-06-03 (America/New\\_York); GitHub was not collected "
        "(no \\[github\\].org configured).",
    ]
    # No summary was written for nothing, so the footer names no writer.
    assert "summary by" not in text


def test_a_clone_that_could_not_be_read_is_named_above_the_headline() -> None:
    cov = coverage(
        repos=[
            RepoCoverage(repo="alpha", status="ok", commits=1005),
            RepoCoverage(repo="gone", status="failed", error="no such path: /srv/gone"),
        ]
    )
    text = render(facts(failed=["gone"]), cov)
    banner = next(ln for ln in text.splitlines() if ln.startswith("> **Incomplete**"))
    assert "1 local clone(s) could not be read (gone)" in banner
    assert text.index(banner) < text.index("## Key numbers")


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (None, "not available"),
        (0.0, "under 1 min"),
        (0.75, "45 min"),  # 45 minutes
        (59.6 / 60, "1 h"),  # 59.6 min rounds to the hour
        (3 + 20 / 60, "3 h 20 min"),
        (5.0, "5 h"),
        (2 * 24 + 7.2, "2 d 7 h"),  # 55.2 h: 2 days, 7 hours
        (48.0, "2 d"),
        (14_644.3, "610 d 4 h"),  # 610 * 24 = 14,640
    ],
)
def test_durations_read_as_people_say_them(hours: float | None, text: str) -> None:
    from sparky_assets.lib.digest_view import NOT_AVAILABLE, human_duration

    assert human_duration(hours) == (NOT_AVAILABLE if hours is None else text)


@pytest.mark.parametrize(
    ("reason", "plain"),
    [
        ("the LLM is switched off ([llm].enabled = false)", "the LLM is switched off"),
        (
            "Ollama is not reachable at http://localhost:11434 (ConnectError: [Errno 111] "
            "Connection refused); start it with `ollama serve`, or point base_url/OLLAMA_HOST "
            "at it",
            "the model was not reachable",
        ),
        (
            "model 'qwen:1.5b' is not on http://h:11434; run `ollama pull qwen:1.5b`",
            "the model is not installed",
        ),
        ("no answer within 0.3 s", "the model did not answer in time"),
        (
            "nothing in the answer could be grounded in the facts",
            "nothing the model wrote could be checked against the facts",
        ),
        (
            "Ollama POST http://h/api/chat: answer is not a JSON object",
            "the model's answer could not be used",
        ),
    ],
)
def test_the_footer_says_why_in_plain_words_and_keeps_operator_text_out(
    reason: str, plain: str
) -> None:
    from sparky_assets.lib.render import text_note

    insights = Insights.model_construct(writer="deterministic", fallback_reason=reason)
    note = text_note(insights)
    assert note == f"summary by the built-in writer; {plain}"
    for operator_text in ("http", "ollama pull", "ollama serve", "Errno", "[llm]", "POST"):
        assert operator_text not in note
