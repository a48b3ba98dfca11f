"""The digests' index page and Atom feed (sparky_assets/lib/index.py), from real files in a
temporary output folder, parsed back with markdown-it-py and xml.etree.

Expected values are written out by hand: titles, paths, instants and orders.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import ValidationError

from sparky_assets.lib.digest_view import digest_title
from sparky_assets.lib.index import (
    DigestEntry,
    SkippedFile,
    day_span,
    entry_id,
    entry_link,
    markdown_plain,
    month_span,
    render_feed,
    render_index,
    scan_digests,
    tag_uri,
)
from sparky_assets.lib.sanitize import WORD_JOINER, md_text

UTC_ZONE = ZoneInfo("UTC")  # the org timezone of these tests: windows end at 00:00 UTC

A = "{http://www.w3.org/2005/Atom}"
UTC = dt.UTC
HOSTILE = "a | b `code` <script>alert(1)</script> @alice 🎉 \x07bell"
HOSTILE_PLAIN = "a | b `code` <script>alert(1)</script> @alice 🎉 bell"  # BEL dropped
LONG = "x" * 500


def own(period: str, key: str) -> str:
    """The digest's own title (`digest_view.digest_title`): the index's title without a sidecar
    title. The index does not make it up; it must show exactly that."""
    return digest_title(period, key)  # type: ignore[arg-type]


def write_digest(
    out: Path,
    period: str,
    key: str,
    *,
    front: str | None = None,
    headline: str | None = None,
    text_format: str = "text",
    coverage: dict[str, Any] | None = None,
    body: str = "",
) -> Path:
    """A digest like the daily template writes it; `front` replaces the whole front matter."""
    folder = out / period
    folder.mkdir(parents=True, exist_ok=True)
    if front is None:
        front = (
            f'---\ndate: "{key}"\nperiod: "{period}"\norg: "acme"\ninsights: "deterministic"\n---\n'
        )
    page = folder / f"{key}.md"
    page.write_text(f"{front}\n# Digest {key}\n\n{body}", encoding="utf-8")
    if headline is not None or coverage is not None:
        sidecar: dict[str, Any] = {"period": period, "partition": key, "coverage": coverage}
        if headline is not None:
            sidecar["insights"] = {"headline": headline, "text_format": text_format}
        (folder / f"{key}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return page


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output folder with five valid digests, three broken ones and junk files."""
    o = tmp_path / "output"
    write_digest(o, "daily", "2026-11-27", headline="Quiet Friday.")
    write_digest(o, "daily", "2026-11-26", headline=HOSTILE)
    write_digest(
        o, "daily", "2026-11-25", headline="Half a day.",
        front='---\ndate: "2026-11-25"\nperiod: "daily"\npartial: true\n---\n',
    )  # fmt: skip
    write_digest(o, "weekly", "2026-11-23", headline=LONG)
    write_digest(o, "monthly", "2026-11-01", headline="")
    # Broken digests: a valid name, an unusable file.
    write_digest(o, "daily", "2026-11-19", front="# no front matter\n")
    write_digest(o, "daily", "2026-11-18", front='---\ndate: "2026-11-18\n: [\n---\n')
    write_digest(o, "weekly", "2026-11-16", front='---\nperiod: "daily"\n---\n')
    # Junk: not a digest's name.
    (o / "daily" / ".gitkeep").write_text("", encoding="utf-8")
    (o / "daily" / "2026-11-28.md.tmp").write_text("---\n---\n", encoding="utf-8")
    (o / "daily" / ".2026-11-28.md.swp").write_text("---\n---\n", encoding="utf-8")
    (o / "daily" / "index.md").write_text("---\n---\n", encoding="utf-8")
    (o / "daily" / "2026-13-01.md").write_text("---\n---\n", encoding="utf-8")
    (o / "daily" / "2026-11-20.json").write_text("{}", encoding="utf-8")
    (o / "weekly" / "2026-11-24.md").write_text("---\n---\n", encoding="utf-8")  # a Tuesday
    (o / "monthly" / "2026-11-02.md").write_text("---\n---\n", encoding="utf-8")
    (o / "index.md").write_text("# old index\n", encoding="utf-8")
    (o / "feed.xml").write_text("<feed/>", encoding="utf-8")
    return o


# --- scan_digests -----------------------------------------------------------------------------


def test_scan_finds_exactly_the_valid_digests(out: Path) -> None:
    skipped: list[SkippedFile] = []
    entries = scan_digests(out, tz=UTC_ZONE, skipped=skipped)
    found = [(e.period, e.key, e.title, e.path) for e in entries]
    assert found == [
        ("daily", "2026-11-25", own("daily", "2026-11-25"), "daily/2026-11-25.md"),
        ("daily", "2026-11-26", own("daily", "2026-11-26"), "daily/2026-11-26.md"),
        ("daily", "2026-11-27", own("daily", "2026-11-27"), "daily/2026-11-27.md"),
        ("weekly", "2026-11-23", own("weekly", "2026-11-23"), "weekly/2026-11-23.md"),
        ("monthly", "2026-11-01", own("monthly", "2026-11-01"), "monthly/2026-11-01.md"),
    ]
    assert sorted(s.path for s in skipped) == [
        "daily/2026-11-18.md",
        "daily/2026-11-19.md",
        "weekly/2026-11-16.md",
    ]
    reasons = {s.path: s.reason for s in skipped}
    assert "no front matter" in reasons["daily/2026-11-19.md"]
    assert "not valid YAML" in reasons["daily/2026-11-18.md"]
    assert "period 'daily'" in reasons["weekly/2026-11-16.md"]


def test_scan_of_a_missing_or_empty_folder_finds_nothing(tmp_path: Path) -> None:
    assert scan_digests(tmp_path / "nowhere", tz=UTC_ZONE) == []
    (tmp_path / "daily").mkdir()
    assert scan_digests(tmp_path, tz=UTC_ZONE) == []


def test_summaries_are_one_line_of_plain_text(out: Path) -> None:
    summaries = {e.key: e.summary for e in scan_digests(out, tz=UTC_ZONE)}
    assert summaries["2026-11-27"] == "Quiet Friday."
    assert summaries["2026-11-26"] == HOSTILE_PLAIN
    assert summaries["2026-11-23"] == "x" * 299 + "…"  # 500 characters cut to 300
    assert summaries["2026-11-01"] == ""


def test_markdown_headline_and_bold_line_are_reduced_to_plain_text(tmp_path: Path) -> None:
    llm = (
        "**Big** day in [alpha](https://github.com/acme/alpha): 3\\_000 \\<b\\> lines by "
        f"{WORD_JOINER}@{WORD_JOINER}alice, see <https://github.com/acme/alpha/pull/1>"
    )
    write_digest(tmp_path, "daily", "2026-11-27", headline=llm, text_format="markdown")
    write_digest(tmp_path, "daily", "2026-11-26", body="**12 commits by \\*two\\* people.**\n")
    summaries = {e.key: e.summary for e in scan_digests(tmp_path, tz=UTC_ZONE)}
    assert summaries["2026-11-27"] == (
        "Big day in alpha: 3_000 <b> lines by @alice, see https://github.com/acme/alpha/pull/1"
    )
    assert summaries["2026-11-26"] == "12 commits by *two* people."
    # The same text as plain text is kept as it is: backslashes and all.
    assert markdown_plain("a\\_b") == "a_b"
    write_digest(tmp_path, "daily", "2026-11-25", headline="a\\_b")
    assert {e.key: e.summary for e in scan_digests(tmp_path, tz=UTC_ZONE)}["2026-11-25"] == "a\\_b"


def test_updated_is_stable_and_never_the_mtime(tmp_path: Path) -> None:
    write_digest(tmp_path, "daily", "2026-11-27")
    write_digest(tmp_path, "weekly", "2026-11-23")
    write_digest(tmp_path, "monthly", "2026-12-01")
    write_digest(
        tmp_path, "daily", "2026-11-26",
        front='---\ndate: "2026-11-26"\nupdated: 2026-11-28T09:30:00+01:00\n---\n',
    )  # fmt: skip
    write_digest(  # collected before the window ended: partial, updated when collected
        tmp_path, "daily", "2026-11-25", headline="h",
        coverage={"window_end": "2026-11-26T00:00:00-05:00",
                  "collected_at": "2026-11-25T22:15:00-05:00"},
    )  # fmt: skip
    write_digest(  # complete (no collected_at): the window's real end
        tmp_path, "daily", "2026-11-24", headline="h",
        coverage={"window_end": "2026-11-25T00:00:00-05:00"},
    )  # fmt: skip
    first = scan_digests(tmp_path, tz=UTC_ZONE)
    assert {(e.period, e.key): (e.updated, e.partial) for e in first} == {
        ("daily", "2026-11-24"): (dt.datetime(2026, 11, 25, 5, tzinfo=UTC), False),
        ("daily", "2026-11-25"): (dt.datetime(2026, 11, 26, 3, 15, tzinfo=UTC), True),
        ("daily", "2026-11-26"): (dt.datetime(2026, 11, 28, 8, 30, tzinfo=UTC), False),
        ("daily", "2026-11-27"): (dt.datetime(2026, 11, 28, tzinfo=UTC), False),
        ("weekly", "2026-11-23"): (dt.datetime(2026, 11, 30, tzinfo=UTC), False),
        ("monthly", "2026-12-01"): (dt.datetime(2027, 1, 1, tzinfo=UTC), False),
    }
    for page in tmp_path.rglob("*.md"):
        os.utime(page, (1_900_000_000, 1_900_000_000))
    assert scan_digests(tmp_path, tz=UTC_ZONE) == first


def test_partial_comes_from_the_front_matter_first(tmp_path: Path) -> None:
    write_digest(
        tmp_path, "daily", "2026-11-25", front='---\npartial: false\n---\n',
        coverage={"window_end": "2026-11-26T00:00:00+00:00",
                  "collected_at": "2026-11-25T12:00:00+00:00"},
    )  # fmt: skip
    write_digest(tmp_path, "daily", "2026-11-26", front="---\npartial: true\n---\n")
    write_digest(tmp_path, "daily", "2026-11-27")
    partial = {e.key: (e.partial, e.updated) for e in scan_digests(tmp_path, tz=UTC_ZONE)}
    assert partial == {
        "2026-11-25": (False, dt.datetime(2026, 11, 26, tzinfo=UTC)),
        "2026-11-26": (True, dt.datetime(2026, 11, 27, tzinfo=UTC)),
        "2026-11-27": (False, dt.datetime(2026, 11, 28, tzinfo=UTC)),
    }


def test_an_entry_needs_a_valid_key_and_an_aware_time() -> None:
    noon = dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
    with pytest.raises(ValidationError):
        DigestEntry(period="weekly", key="2026-11-24", updated=noon)  # a Tuesday
    with pytest.raises(ValidationError):
        DigestEntry(period="daily", key="../../etc", updated=noon)
    with pytest.raises(ValidationError):
        DigestEntry(period="daily", key="2026-11-24", updated=noon.replace(tzinfo=None))
    assert DigestEntry(period="monthly", key="2026-02-01", updated=noon).path == (
        "monthly/2026-02-01.md"
    )


NEW_YORK = ZoneInfo("America/New_York")


def test_a_window_ends_at_midnight_in_the_org_timezone(tmp_path: Path) -> None:
    """Without a sidecar time, `updated` is the window's end in the org's timezone. New York
    in 2026: EDT (UTC-4) until 2026-11-01 02:00, EST (UTC-5) after; EDT again from 2026-03-08."""
    for period, key in [
        ("daily", "2026-11-27"),
        ("daily", "2026-10-31"),
        ("weekly", "2026-10-26"),
        ("monthly", "2026-03-01"),
    ]:
        write_digest(tmp_path, period, key)
    found = {(e.period, e.key): e.updated for e in scan_digests(tmp_path, tz=NEW_YORK)}
    assert found == {
        ("daily", "2026-11-27"): dt.datetime(2026, 11, 28, 5, tzinfo=UTC),  # 00:00 EST
        ("daily", "2026-10-31"): dt.datetime(2026, 11, 1, 4, tzinfo=UTC),  # 00:00 EDT
        ("weekly", "2026-10-26"): dt.datetime(2026, 11, 2, 5, tzinfo=UTC),  # Monday, EST
        ("monthly", "2026-03-01"): dt.datetime(2026, 4, 1, 4, tzinfo=UTC),  # EDT
    }


def _sidecar_file(out: Path, period: str, key: str, sidecar: dict[str, Any]) -> None:
    (out / period / f"{key}.json").write_text(json.dumps(sidecar), encoding="utf-8")


def test_the_index_reads_the_sidecar_not_the_page(tmp_path: Path) -> None:
    # The page's bold line is not read when the sidecar has the headline.
    write_digest(tmp_path, "daily", "2026-11-27", body="**From the page.**\n")
    _sidecar_file(tmp_path, "daily", "2026-11-27", {
        "period": "daily", "partition": "2026-11-27", "partial": True,
        "insights": {"headline": "From the sidecar.", "text_format": "text"},
    })  # fmt: skip
    # The sidecar's `partial` is what the index shows, whatever else is there.
    write_digest(
        tmp_path, "daily", "2026-11-26", front='---\npartial: true\n---\n',
        body="**From the page.**\n",
    )  # fmt: skip
    _sidecar_file(tmp_path, "daily", "2026-11-26", {"partial": False, "insights": None})
    found = {e.key: (e.summary, e.partial) for e in scan_digests(tmp_path, tz=NEW_YORK)}
    assert found == {
        "2026-11-27": ("From the sidecar.", True),
        "2026-11-26": ("From the page.", False),  # no headline in the sidecar: the page's
    }


def test_a_week_collected_before_it_ended_is_updated_when_collected(tmp_path: Path) -> None:
    """A weekly sidecar holds a list of its days' coverage: the latest collection time of a
    partial week is its `updated`; complete, the week's end in the org timezone."""
    write_digest(tmp_path, "weekly", "2026-11-23")
    _sidecar_file(tmp_path, "weekly", "2026-11-23", {
        "period": "weekly", "partition": "2026-11-23", "partial": True,
        "coverage": [
            {"window_end": "2026-11-24T00:00:00-05:00"},
            {"window_end": "2026-11-25T00:00:00-05:00",
             "collected_at": "2026-11-24T22:15:00-05:00"},
        ],
    })  # fmt: skip
    write_digest(tmp_path, "weekly", "2026-11-16")
    _sidecar_file(tmp_path, "weekly", "2026-11-16", {
        "period": "weekly", "partition": "2026-11-16", "partial": False,
        "coverage": [{"window_end": "2026-11-17T00:00:00-05:00"}],
    })  # fmt: skip
    found = {e.key: (e.partial, e.updated) for e in scan_digests(tmp_path, tz=NEW_YORK)}
    assert found == {
        "2026-11-23": (True, dt.datetime(2026, 11, 25, 3, 15, tzinfo=UTC)),
        "2026-11-16": (False, dt.datetime(2026, 11, 23, 5, tzinfo=UTC)),
    }


def test_a_sidecar_of_another_window_is_skipped(tmp_path: Path) -> None:
    write_digest(tmp_path, "daily", "2026-11-27", headline="h")
    _sidecar_file(tmp_path, "daily", "2026-11-27", {"period": "daily", "partition": "2026-11-26"})
    skipped: list[SkippedFile] = []
    assert scan_digests(tmp_path, tz=UTC_ZONE, skipped=skipped) == []
    assert [(s.path, s.reason) for s in skipped] == [
        ("daily/2026-11-27.md", "sidecar says daily 2026-11-26")
    ]


def test_what_sparky_writes_is_what_the_index_lists(tmp_path: Path) -> None:
    """A digest and sidecar from `render`, collected before its day ended: the index shows the
    sidecar's headline, marks it partial and dates it when it was collected."""
    from test_render import coverage, facts

    from sparky_assets.lib.insights import DeterministicWriter
    from sparky_assets.lib.render import digest_sidecar, render_daily

    f = facts()
    insights = DeterministicWriter().write(f)
    cov = coverage(collected_at="2024-06-03T15:00:00-04:00")
    page = render_daily(f, insights, cov, org="acme", timezone="America/New_York")
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "2024-06-03.md").write_text(page, encoding="utf-8")
    # As defs/digests.py writes it: with the org's timezone, which the title names.
    sidecar = digest_sidecar(f, insights, cov, org="acme", timezone="America/New_York")
    (folder / "2024-06-03.json").write_text(json.dumps(sidecar), encoding="utf-8")
    (entry,) = scan_digests(tmp_path, tz=NEW_YORK)
    assert entry.summary == insights.headline and entry.summary
    assert entry.partial is True
    assert entry.updated == dt.datetime(2024, 6, 3, 19, tzinfo=UTC)
    # The index's title is the digest's own: the window in plain words with its timezone
    # (the digest's h1 is the same text, markdown-escaped).
    assert entry.title == "Monday 3 Jun 2024, America/New_York"
    h1 = next(line for line in page.splitlines() if line.startswith("# "))
    assert h1 == f"# {md_text(entry.title)}" == "# Monday 3 Jun 2024, America/New\\_York"


@pytest.mark.parametrize(
    ("body", "bold"),
    [
        ("# T\n\n**All bold.**\n", "All bold."),
        ("**a** and **b**\n\n**Second.**\n", "Second."),  # not bold end to end
        ("> **Quoted.**\n\n- **Listed.**\n\n**Top.**\n", "Top."),  # top level only
        ("**Two\nlines.**\n", "Two lines."),
        ("__Under *scores*.__\n", "Under scores."),
        ("No bold here.\n", ""),
        ("", ""),
    ],
)
def test_the_first_bold_paragraph_is_found_by_a_markdown_parser(body: str, bold: str) -> None:
    from sparky_assets.lib.index import first_bold_paragraph

    assert first_bold_paragraph(body) == bold


def test_markdown_plain_keeps_what_a_reader_sees() -> None:
    assert markdown_plain("[](https://github.com/acme/x) `a|b` ![alt](i.png) &amp;") == (
        "https://github.com/acme/x a|b alt &"
    )
    assert markdown_plain("line one  \nline two") == "line one line two"


# --- render_index -----------------------------------------------------------------------------


def _parse(md: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(md)


def _sections(tokens: list[Token]) -> dict[str, list[Token]]:
    """Each h2's text -> the inline tokens of its list items."""
    sections: dict[str, list[Token]] = {}
    current: list[Token] | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h2":
            current = sections.setdefault(tokens[i + 1].content, [])
        elif (
            tok.type == "inline"
            and current is not None
            and tokens[i - 1].type == "paragraph_open"
            and tokens[i - 2].type == "list_item_open"
        ):
            current.append(tok)
    return sections


def _shown(inline: Token) -> str:
    return "".join(c.content for c in inline.children or [] if c.type == "text")


def _links(inline: Token) -> list[str]:
    return [str(c.attrs["href"]) for c in inline.children or [] if c.type == "link_open"]


def test_index_has_sections_broadest_first_newest_first(out: Path) -> None:
    tokens = _parse(render_index(scan_digests(out, tz=UTC_ZONE), org="acme"))
    headings = [
        (tok.tag, tokens[i + 1].content)
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open"
    ]
    assert headings == [
        ("h1", "Sparky digests: acme"),
        ("h2", "Monthly"),
        ("h2", "Weekly"),
        ("h2", "Daily"),
    ]
    sections = _sections(tokens)
    links = {name: [_links(item) for item in items] for name, items in sections.items()}
    assert links == {
        "Monthly": [["monthly/2026-11-01.md"]],
        "Weekly": [["weekly/2026-11-23.md"]],
        "Daily": [["daily/2026-11-27.md"], ["daily/2026-11-26.md"], ["daily/2026-11-25.md"]],
    }
    assert sum(t.type == "list_item_open" for t in tokens) == 5
    daily = [_shown(item).replace(WORD_JOINER, "") for item in sections["Daily"]]
    assert daily == [
        f"{own('daily', '2026-11-27')}: Quiet Friday.",
        f"{own('daily', '2026-11-26')}: {HOSTILE_PLAIN}",
        f"{own('daily', '2026-11-25')} (partial): Half a day.",
    ]
    # The partial mark is bold; the monthly digest has no summary, only its link.
    assert any(c.type == "strong_open" for c in sections["Daily"][2].children or [])
    assert _shown(sections["Monthly"][0]) == own("monthly", "2026-11-01")


def test_index_text_is_inert(out: Path) -> None:
    text = render_index(scan_digests(out, tz=UTC_ZONE), org="<b>acme</b> @org")
    tokens = _parse(text)
    every = [t for tok in tokens for t in [tok, *(tok.children or [])]]
    assert not [t for t in every if t.type in ("html_inline", "html_block", "code_inline")]
    links = [str(t.attrs["href"]) for t in every if t.type == "link_open"]
    assert len(links) == 5
    assert all(link.startswith(("daily/", "weekly/", "monthly/")) for link in links)
    shown = "".join(t.content for t in every if t.type == "text")
    assert "@alice" not in shown and f"@{WORD_JOINER}alice" in shown
    assert "@org" not in shown and f"@{WORD_JOINER}org" in shown
    assert "<script>alert(1)</script>" in shown.replace(WORD_JOINER, "")  # shown, as text
    assert "\x07" not in text
    h1 = next(tokens[i + 1] for i, t in enumerate(tokens) if t.tag == "h1")
    assert _shown(h1).replace(WORD_JOINER, "") == "Sparky digests: <b>acme</b> @org"


def test_index_without_digests_says_so() -> None:
    tokens = _parse(render_index([], org="acme"))
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1"]
    assert "No digests yet." in [t.content for t in tokens if t.type == "inline"]


# --- render_feed ------------------------------------------------------------------------------


def entry(period: str, key: str, hour: int, summary: str = "s", **kw: Any) -> DigestEntry:
    return DigestEntry(
        period=period,  # type: ignore[arg-type]
        key=key,
        updated=dt.datetime(2026, 11, 28, hour, tzinfo=UTC),
        summary=summary,
        **kw,
    )


FEED_ID = "tag:sparky,2025:acme/digests"


def feed(entries: list[DigestEntry], **kw: Any) -> ET.Element:
    kw.setdefault("site_url", "https://example.org/sparky/")
    text = render_feed(entries, org="acme", feed_id=FEED_ID, **kw)
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    return ET.fromstring(text.encode("utf-8"))


def _entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(f"{A}{tag}")
    assert found is not None, tag
    return found.text or ""


def test_feed_is_atom_with_required_elements() -> None:
    root = feed([entry("daily", "2026-11-27", 1), entry("weekly", "2026-11-23", 2)])
    assert root.tag == f"{A}feed"
    assert _text(root, "id") == FEED_ID
    assert _text(root, "title") == "Sparky digests: acme"
    assert _text(root, "updated") == "2026-11-28T02:00:00Z"
    assert _text(root.find(f"{A}author"), "name") == "Sparky"  # type: ignore[arg-type]
    self_link = root.find(f"{A}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "https://example.org/sparky/feed.xml"
    assert root.find(f"{A}generator") is not None
    items = _entries(root)
    assert [_text(e, "id") for e in items] == [
        "tag:sparky,2025:acme/weekly/2026-11-23",
        "tag:sparky,2025:acme/daily/2026-11-27",
    ]
    assert [_text(e, "title") for e in items] == [
        own("weekly", "2026-11-23"),
        own("daily", "2026-11-27"),
    ]
    # GitHub Pages serves the published `.md` as `.html`.
    assert [e.find(f"{A}link").get("href") for e in items] == [  # type: ignore[union-attr]
        "https://example.org/sparky/weekly/2026-11-23.html",
        "https://example.org/sparky/daily/2026-11-27.html",
    ]
    for item in items:
        parsed = dt.datetime.fromisoformat(_text(item, "updated"))
        assert parsed.tzinfo is not None
        assert item.find(f"{A}link").get("rel") == "alternate"  # type: ignore[union-attr]
        assert item.find(f"{A}link").get("type") == "text/html"  # type: ignore[union-attr]


def test_feed_without_site_url_has_relative_links_and_no_self_link() -> None:
    root = feed([entry("monthly", "2026-11-01", 3, partial=True)], site_url=None)
    assert root.find(f"{A}link") is None
    (item,) = _entries(root)
    assert item.find(f"{A}link").get("href") == "monthly/2026-11-01.md"  # type: ignore[union-attr]
    assert item.find(f"{A}link").get("type") == "text/markdown"  # type: ignore[union-attr]
    assert _text(item, "title") == own("monthly", "2026-11-01") + " (partial)"


def test_feed_ids_are_stable_when_content_changes() -> None:
    before = [entry("daily", "2026-11-27", 1, "first"), entry("daily", "2026-11-26", 0, "a")]
    after = [entry("daily", "2026-11-27", 5, "rewritten"), entry("daily", "2026-11-26", 0, "a")]
    ids = [[_text(e, "id") for e in _entries(feed(before))] for _ in range(2)]
    assert ids[0] == ids[1]
    changed = feed(after)
    assert sorted(_text(e, "id") for e in _entries(changed)) == sorted(ids[0])
    assert _text(_entries(changed)[0], "summary") == "rewritten"
    assert entry_id("acme", "daily", "2026-11-27") == "tag:sparky,2025:acme/daily/2026-11-27"
    assert tag_uri("a b/c", "x y") == "tag:sparky,2025:a%20b%2Fc/x%20y"


def test_feed_is_newest_first_and_limited() -> None:
    entries = [
        entry("daily", "2026-11-20", 4),
        entry("daily", "2026-11-21", 9),
        entry("weekly", "2026-11-16", 9),  # same instant as 11-21: the newer key first
        entry("monthly", "2026-11-01", 1),
        entry("daily", "2026-11-22", 7),
    ]
    root = feed(entries, limit=3)
    assert [_text(e, "id").rsplit(":", 1)[1] for e in _entries(root)] == [
        "acme/daily/2026-11-21",
        "acme/weekly/2026-11-16",
        "acme/daily/2026-11-22",
    ]
    assert _text(root, "updated") == "2026-11-28T09:00:00Z"
    assert len(_entries(feed(entries))) == 5
    assert len(_entries(feed(entries, limit=0))) == 0
    with pytest.raises(ValueError):
        render_feed(entries, org="acme", feed_id=FEED_ID, site_url=None, limit=-1)


def test_empty_feed_is_valid_with_a_fixed_updated() -> None:
    root = feed([])
    assert _text(root, "updated") == "1970-01-01T00:00:00Z"
    assert _entries(root) == []


def test_hostile_text_round_trips_as_text(out: Path) -> None:
    hostile_org = "acme</title><script>x</script>\x01&amp;"
    entries = scan_digests(out, tz=UTC_ZONE)
    text = render_feed(entries, org=hostile_org, feed_id=FEED_ID + "\x02", site_url=None)
    root = ET.fromstring(text.encode("utf-8"))
    assert _text(root, "title") == "Sparky digests: acme</title><script>x</script>&amp;"
    assert _text(root, "id") == FEED_ID
    summaries = {_text(e, "id").rsplit("/", 1)[1]: e.find(f"{A}summary") for e in _entries(root)}
    hostile = summaries["2026-11-26"]
    assert hostile is not None
    assert hostile.text == HOSTILE_PLAIN and hostile.get("type") == "text"
    assert list(hostile) == []  # no element injected
    assert summaries["2026-11-01"] is None  # empty headline: no summary element
    assert summaries["2026-11-23"].text == "x" * 299 + "…"  # type: ignore[union-attr]
    tags = {el.tag for el in root.iter()}
    assert tags <= {
        f"{A}{t}"
        for t in ("feed", "id", "title", "updated", "author", "name", "generator", "entry",
                  "link", "summary", "content")
    }  # fmt: skip
    assert _text(_entries(root)[0], "id").startswith("tag:sparky,2025:acme%3C%2Ftitle%3E")


def test_commit_message_names_the_periods_and_keys_that_changed() -> None:
    from sparky_assets.lib.index import commit_message

    assert commit_message(["daily/2026-11-27.md", "daily/2026-11-27.json", "index.md"]) == (
        "digest: daily 2026-11-27"
    )
    # Under a subdir, several keys, a long run shortened: by hand.
    changed = [f"docs/daily/2026-11-0{d}.md" for d in range(1, 6)] + [
        "docs/weekly/2026-11-23.json",
        "docs/monthly/2026-11-01.md",
        "docs/daily/2026-11-03.json",
    ]
    assert commit_message(changed) == (
        "digest: daily 2026-11-01...2026-11-05 (5); weekly 2026-11-23; monthly 2026-11-01"
    )
    assert commit_message(["daily/2026-11-02.md", "daily/2026-11-01.md"]) == (
        "digest: daily 2026-11-01, 2026-11-02"
    )
    assert commit_message(["feed.xml", "metrics.md"]) == "digest: index"
    assert commit_message(["notes/daily/x.md"]) == "digest: index"


# --- issue 18: links to the published site, content, first screen, quiet runs -----------------

SITE = "https://example.org/sparky"


def sidecar_digest(out: Path, period: str, key: str, body: str = "", **sidecar: Any) -> None:
    """A digest page and a sidecar with `sidecar`'s fields (the ones render.digest_sidecar
    writes), the headline "Headline <key>."."""
    write_digest(out, period, key, body=body)
    _sidecar_file(out, period, key, {
        "period": period, "partition": key,
        "insights": {"headline": f"Headline {key}.", "text_format": "text"},
        **sidecar,
    })  # fmt: skip


def assert_rfc4287(root: ET.Element) -> None:
    """What RFC 4287 requires (sections 4.1.1, 4.1.2): the feed and every entry have exactly
    one id, title and updated (an RFC 3339 date-time with an offset); an author on the feed
    (or on every entry); at most one summary and one content per entry; an entry without
    content has an alternate link. ids are absolute IRIs."""

    def one(element: ET.Element, tag: str) -> str:
        found = element.findall(f"{A}{tag}")
        assert len(found) == 1, (element.tag, tag, len(found))
        return found[0].text or ""

    assert root.tag == f"{A}feed"
    for element in [root, *_entries(root)]:
        assert ":" in one(element, "id")
        assert one(element, "title")
        assert dt.datetime.fromisoformat(one(element, "updated")).tzinfo is not None
    feed_author = root.find(f"{A}author")
    for item in _entries(root):
        assert feed_author is not None or item.find(f"{A}author") is not None
        assert len(item.findall(f"{A}summary")) <= 1
        assert len(item.findall(f"{A}content")) <= 1
        if item.find(f"{A}content") is None:
            assert item.find(f"{A}link[@rel='alternate']") is not None


class _Tags(HTMLParser):
    """Every start tag of an HTML fragment with its attributes, and the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def test_index_links_to_the_published_site_when_it_is_known(out: Path) -> None:
    entries = scan_digests(out, tz=UTC_ZONE)
    for site in (SITE, SITE + "/"):  # a trailing slash is not doubled
        tokens = _parse(render_index(entries, org="acme", site_url=site))
        links = {
            name: [_links(item) for item in items] for name, items in _sections(tokens).items()
        }
        assert links == {
            "Monthly": [["https://example.org/sparky/monthly/2026-11-01.html"]],
            "Weekly": [["https://example.org/sparky/weekly/2026-11-23.html"]],
            "Daily": [
                ["https://example.org/sparky/daily/2026-11-27.html"],
                ["https://example.org/sparky/daily/2026-11-26.html"],
                ["https://example.org/sparky/daily/2026-11-25.html"],
            ],
        }
    relative = _sections(_parse(render_index(entries, org="acme")))
    assert [_links(item) for item in relative["Monthly"]] == [["monthly/2026-11-01.md"]]


def test_a_site_url_is_an_http_url_and_one_link_destination() -> None:
    daily = entry("daily", "2026-11-27", 1)
    assert entry_link(daily, None) == "daily/2026-11-27.md"
    assert entry_link(daily, "http://example.org") == "http://example.org/daily/2026-11-27.html"
    # A space or parentheses would end a markdown link destination: percent-encoded.
    assert entry_link(daily, "https://example.org/a b(c)") == (
        "https://example.org/a%20b%28c%29/daily/2026-11-27.html"
    )
    for bad in ("javascript:alert(1)", "example.org/sparky", "/sparky", "ftp://example.org"):
        with pytest.raises(ValueError):
            entry_link(daily, bad)
        with pytest.raises(ValueError):
            render_feed([daily], org="acme", feed_id=FEED_ID, site_url=bad)


HOSTILE_BODY = """# Daily digest: <script>alert(1)</script>

**Three pull requests merged.**

| Repository | Merged |
| --- | ---: |
| [alpha](https://github.com/acme/alpha) | 2 |
| beta | 1 |

See [the definitions](../metrics.md#merged) and [today](#today).
[click](javascript:alert(2)) \x01

<div onclick="x()">raw block</div>

<img src=x onerror=alert(3)> inline
"""


def test_feed_content_is_the_digest_as_html_and_carries_no_raw_html(tmp_path: Path) -> None:
    sidecar_digest(
        tmp_path, "daily", "2026-11-27", body=HOSTILE_BODY,
        title="Friday 27 Nov 2026 <script>alert(4)</script>",
    )  # fmt: skip
    entries = scan_digests(tmp_path, tz=UTC_ZONE)
    text = render_feed(entries, org="acme", feed_id=FEED_ID, site_url=SITE)
    root = ET.fromstring(text.encode("utf-8"))  # the \x01 is gone: the XML parses
    assert_rfc4287(root)
    (item,) = _entries(root)
    # The sidecar's title, plain text: the markup is characters, no element.
    title = item.find(f"{A}title")
    assert title is not None and list(title) == []
    assert title.text == "Friday 27 Nov 2026 <script>alert(4)</script>"
    content = item.find(f"{A}content")
    assert content is not None and content.get("type") == "html" and list(content) == []
    assert content.get("{http://www.w3.org/XML/1998/namespace}base") == (
        "https://example.org/sparky/daily/2026-11-27.html"
    )
    html = html_tags(content.text or "")
    tags = [tag for tag, _ in html.tags]
    assert {"h1", "strong", "table", "thead", "tbody", "th", "td", "a"} <= set(tags)
    assert tags.count("td") == 4 and tags.count("th") == 2
    assert not {"script", "div", "img"} & set(tags)
    assert all(not name.startswith("on") for _, attrs in html.tags for name in attrs)
    hrefs = [attrs["href"] for tag, attrs in html.tags if tag == "a"]
    assert hrefs == [
        "https://github.com/acme/alpha",
        "https://example.org/sparky/metrics.html#merged",  # ../metrics.md, as the site serves it
        "https://example.org/sparky/daily/2026-11-27.html#today",
    ]  # javascript: is not a link
    shown = "".join(html.text)
    assert "<script>alert(1)</script>" in shown  # the heading's markup, shown as text
    assert '<div onclick="x()">raw block</div>' in shown
    assert "\x01" not in text


def test_feed_content_without_site_url_keeps_relative_links_under_xml_base(
    tmp_path: Path,
) -> None:
    sidecar_digest(tmp_path, "weekly", "2026-11-23", body=HOSTILE_BODY)
    root = ET.fromstring(
        render_feed(scan_digests(tmp_path, tz=UTC_ZONE), org="acme", feed_id=FEED_ID,
                    site_url=None).encode("utf-8")
    )  # fmt: skip
    assert_rfc4287(root)
    (item,) = _entries(root)
    assert _text(item, "title") == own("weekly", "2026-11-23")  # no sidecar title
    content = item.find(f"{A}content")
    assert content is not None
    # Relative to the feed's own address, output/feed.xml: ../metrics.md is output/metrics.md.
    assert content.get("{http://www.w3.org/XML/1998/namespace}base") == "weekly/2026-11-23.md"
    hrefs = [attrs["href"] for tag, attrs in html_tags(content.text or "").tags if tag == "a"]
    assert hrefs == ["https://github.com/acme/alpha", "../metrics.md#merged", "#today"]


def test_feed_summary_is_the_first_screen_else_the_headline(tmp_path: Path) -> None:
    sidecar_digest(
        tmp_path, "daily", "2026-11-27",
        first_screen=[
            "Shipped: v2.1.0 (first line of its notes)",
            "",
            "  3 pull requests merged\tin alpha ",
            "Needs attention: #12 waiting 9 days for a first review\x07",
            42,
        ],
    )  # fmt: skip
    sidecar_digest(tmp_path, "daily", "2026-11-26")  # an older sidecar: no first_screen
    sidecar_digest(tmp_path, "daily", "2026-11-25", first_screen="not a list")
    root = feed(scan_digests(tmp_path, tz=UTC_ZONE))
    assert_rfc4287(root)
    summaries = {_text(e, "id").rsplit("/", 1)[1]: _text(e, "summary") for e in _entries(root)}
    assert summaries == {
        "2026-11-27": "Shipped: v2.1.0 (first line of its notes)\n"
        "3 pull requests merged in alpha\n"
        "Needs attention: #12 waiting 9 days for a first review",
        "2026-11-26": "Headline 2026-11-26.",
        "2026-11-25": "Headline 2026-11-25.",
    }
    # The index keeps the one-line headline.
    daily = _sections(_parse(render_index(scan_digests(tmp_path, tz=UTC_ZONE), org="acme")))
    assert _shown(daily["Daily"][0]) == f"{own('daily', '2026-11-27')}: Headline 2026-11-27."


def test_an_empty_or_invalid_sidecar_title_falls_back_to_the_digests_own(tmp_path: Path) -> None:
    sidecar_digest(tmp_path, "daily", "2026-11-27", title="")
    sidecar_digest(tmp_path, "daily", "2026-11-26", title=["not", "a", "string"])
    sidecar_digest(tmp_path, "monthly", "2026-11-01", title="November 2026, UTC")
    titles = {e.key: e.title for e in scan_digests(tmp_path, tz=UTC_ZONE)}
    assert titles == {
        "2026-11-27": own("daily", "2026-11-27"),
        "2026-11-26": own("daily", "2026-11-26"),
        "2026-11-01": "November 2026, UTC",
    }


def _quiet_folder(out: Path) -> None:
    """Hand-made sidecars: quiet runs at the start, in the middle and at the end, single quiet
    windows, a gap (a missing digest) and a partial quiet day."""
    quiet = {
        "daily": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-05", "2026-10-07",
                  "2026-10-08", "2026-10-09", "2026-10-12", "2026-10-30", "2026-10-31",
                  "2026-11-01", "2026-11-02"],
        "weekly": ["2026-09-28", "2026-10-05", "2026-10-19"],
        "monthly": ["2026-09-01", "2026-11-01", "2026-12-01", "2027-01-01"],
    }  # fmt: skip
    busy = {
        "daily": ["2026-10-04", "2026-10-06", "2026-10-10", "2026-10-14"],  # 10-11: missing
        "weekly": ["2026-10-12"],
        "monthly": ["2026-10-01"],
    }
    for period, keys in quiet.items():
        for key in keys:
            sidecar_digest(out, period, key, quiet=True, partial=False)
    for period, keys in busy.items():
        for key in keys:
            sidecar_digest(out, period, key, quiet=False)
    sidecar_digest(out, "daily", "2026-10-13", quiet=True, partial=True)  # may still see work


def test_the_index_folds_runs_of_quiet_windows(tmp_path: Path) -> None:
    _quiet_folder(tmp_path)
    tokens = _parse(render_index(scan_digests(tmp_path, tz=UTC_ZONE), org="acme"))
    sections = _sections(tokens)
    shown = {
        name: [(_shown(item).replace(WORD_JOINER, ""), _links(item)) for item in items]
        for name, items in sections.items()
    }
    assert shown["Daily"] == [
        ("30 Oct – 2 Nov 2026: no activity", []),  # a run at the end, across a month
        (f"{own('daily', '2026-10-14')}: Headline 2026-10-14.", ["daily/2026-10-14.md"]),
        (f"{own('daily', '2026-10-13')} (partial): Headline 2026-10-13.", ["daily/2026-10-13.md"]),
        ("12 Oct 2026: no activity", ["daily/2026-10-12.md"]),  # 10-11 missing: alone
        (f"{own('daily', '2026-10-10')}: Headline 2026-10-10.", ["daily/2026-10-10.md"]),
        ("7–9 Oct 2026: no activity", []),  # a run in the middle
        (f"{own('daily', '2026-10-06')}: Headline 2026-10-06.", ["daily/2026-10-06.md"]),
        ("5 Oct 2026: no activity", ["daily/2026-10-05.md"]),  # a single quiet day
        (f"{own('daily', '2026-10-04')}: Headline 2026-10-04.", ["daily/2026-10-04.md"]),
        ("1–3 Oct 2026: no activity", []),  # a run at the start
    ]
    assert shown["Weekly"] == [
        ("19–25 Oct 2026: no activity", ["weekly/2026-10-19.md"]),
        (f"{own('weekly', '2026-10-12')}: Headline 2026-10-12.", ["weekly/2026-10-12.md"]),
        ("28 Sep – 11 Oct 2026: no activity", []),  # two weeks, Monday to Sunday
    ]
    assert shown["Monthly"] == [
        ("Nov 2026 – Jan 2027: no activity", []),  # across a year
        (f"{own('monthly', '2026-10-01')}: Headline 2026-10-01.", ["monthly/2026-10-01.md"]),
        ("Sep 2026: no activity", ["monthly/2026-09-01.md"]),
    ]
    # With the site known, a single quiet digest links to it there.
    published = _sections(
        _parse(render_index(scan_digests(tmp_path, tz=UTC_ZONE), org="acme", site_url=SITE))
    )
    assert _links(published["Monthly"][2]) == ["https://example.org/sparky/monthly/2026-09-01.html"]


def test_quiet_spans_read_as_people_write_dates() -> None:
    d = dt.date
    assert day_span(d(2026, 10, 5), d(2026, 10, 5)) == "5 Oct 2026"
    assert day_span(d(2026, 10, 1), d(2026, 10, 20)) == "1–20 Oct 2026"
    assert day_span(d(2026, 9, 28), d(2026, 10, 3)) == "28 Sep – 3 Oct 2026"
    assert day_span(d(2026, 12, 28), d(2027, 1, 3)) == "28 Dec 2026 – 3 Jan 2027"
    assert month_span(d(2026, 10, 1), d(2026, 10, 31)) == "Oct 2026"
    assert month_span(d(2026, 10, 1), d(2026, 12, 31)) == "Oct–Dec 2026"


def test_quiet_entries_are_still_in_the_feed(tmp_path: Path) -> None:
    _quiet_folder(tmp_path)
    root = feed(scan_digests(tmp_path, tz=UTC_ZONE))
    assert_rfc4287(root)
    assert len(_entries(root)) == 12 + 3 + 4 + 4 + 1 + 1 + 1  # every digest, newest 50
