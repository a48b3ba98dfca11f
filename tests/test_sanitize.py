"""The markdown sanitizer against hostile text, checked by parsing its output as markdown.

Two parsers read the output: CommonMark with GFM tables, and (when linkify-it-py is installed)
markdown-it's "gfm-like" preset with autolinking. linkify-it's fuzzy domain links ("evil.com"
with no scheme and no "www.") are turned off there, because GFM has none; the GFM triggers it
does not mirror (`www.`, `scheme://`, `a@b.c`, `@user`) are checked on the parsed text instead.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sparky_assets.lib.identity import display_name as _display_name
from sparky_assets.lib.sanitize import (
    BIDI_CONTROLS,
    WORD_JOINER,
    md_text,
    plain_text,
    yaml_text,
)


def _parsers() -> list[MarkdownIt]:
    parsers = [MarkdownIt("commonmark").enable("table")]
    if importlib.util.find_spec("linkify_it") is not None:
        gfm = MarkdownIt("gfm-like")
        gfm.linkify.set({"fuzzy_link": False})
        parsers.append(gfm)
    return parsers


PARSERS = _parsers()
ALL_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"

HOSTILE = [
    "a|b|c",
    "| leading and trailing |",
    "back\\|slash\\",
    "`code` and ``double``",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<!-- hidden --> comment",
    "[link](javascript:alert(1))",
    "![img](http://x)",
    "[ref]: http://evil.example",
    "*bold* _em_ ~~strike~~ **strong**",
    "&#64;alice &lt;b&gt; &#x202E;",
    "$x^2$ and $$y$$",
    "Zoë Ünïcode-Łukasz 李小龍 👩‍💻 🇺🇦",
    "x" * 500,
    ("<b>|@a ") * 100,
    "",
    "   ",
    "@alice",
    "Jane Doe (@jdoe)",
    "team @org/team",
    "https://evil.example/a?b=c",
    "HTTP://EVIL.EXAMPLE and ftp://evil.example/f",
    "//evil.example/protocol-relative",
    "www.evil.example",
    "WWW.evil.com",
    "someone@example.com",
    "mailto:someone@example.com xmpp:a@b.example",
    "a\u202eb\u202dc\u2066d\u2069e\u200ff\u061cg",
    "line\rbreak",
    "line\nbreak\r\nthird\u2028fourth\u2029fifth\x85sixth",
    "unit\x1fsep",
    "nul\x00byte\x7fdel\x9bcsi",
    "zero\u200bwidth\ufeffbom\u2060wj",
    "# heading",
    "- item",
    "+ item",
    "* item",
    "1. item",
    "12) item",
    "> quote",
    "=====",
    "---",
    "    indented code",
    "```fence",
    "~~~fence",
    "<details>",
    "\\",
]


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        out.extend(_walk(t.children or []))
    return out


def _shown(children: list[Token]) -> str:
    """What an inline run shows, with our word joiners taken out."""
    return "".join(t.content for t in children).replace(WORD_JOINER, "")


def _no_live_text(text: str) -> None:
    """No GFM autolink or mention trigger survives in text that a reader sees."""
    assert not re.search(r"@\w|\w@", text), text
    assert not re.search(r"(?i)www\.", text), text
    assert "//" not in text, text


def check_cell(value: str) -> None:
    out = md_text(value)
    assert "\n" not in out and "\r" not in out
    assert not (set(out) & BIDI_CONTROLS)
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in out)
    src = f"| a | b | c |\n|---|---|---|\n| {out} | x {out} y | end |\n"
    for parser in PARSERS:
        tokens = parser.parse(src)
        for t in _walk(tokens):
            assert t.type not in {"html_inline", "html_block", "link_open", "image"}, (t, out)
        rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
        assert len(rows) == 2  # header and the one body row
        body = tokens[rows[1] :]
        cells = [body[i + 1] for i, t in enumerate(body) if t.type == "td_open"]
        assert len(cells) == 3
        # Only plain text inside each cell, and it is the value itself: nothing moved cells.
        for cell in cells:
            assert cell.type == "inline"
            assert {c.type for c in cell.children or []} <= {"text"}, (cell.children, out)
            _no_live_text("".join(c.content for c in cell.children or []))
        shown = plain_text(value)
        assert _shown(cells[0].children or []) == shown
        assert _shown(cells[1].children or []) == f"x {shown} y"
        assert _shown(cells[2].children or []) == "end"


def check_line(value: str) -> None:
    """At the start of a line or a list item the value is one paragraph of text."""
    out = md_text(value)
    if not plain_text(value):
        assert out == ""
        return
    for parser in PARSERS:
        for prefix, blocks in [
            ("", ["paragraph_open", "inline", "paragraph_close"]),
            ("- ", ["bullet_list_open", "list_item_open", "paragraph_open", "inline",
                    "paragraph_close", "list_item_close", "bullet_list_close"]),
            ("Before.\n", ["paragraph_open", "inline", "paragraph_close"]),
        ]:
            tokens = parser.parse(f"{prefix}{out}\n")
            assert [t.type for t in tokens] == blocks, (prefix, out)
            inline = next(t for t in tokens if t.type == "inline")
            kinds = {c.type for c in inline.children or []}
            assert kinds <= {"text", "softbreak"}, (inline.children, out)
            _no_live_text(inline.content)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_stays_one_plain_cell(value: str) -> None:
    check_cell(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_stays_one_plain_line(value: str) -> None:
    check_line(value)


def test_mentions_and_autolinks_are_broken_but_read_the_same() -> None:
    assert md_text("@alice") == f"{WORD_JOINER}@{WORD_JOINER}alice"
    assert md_text("Jane Doe (@jdoe)") == f"Jane Doe ({WORD_JOINER}@{WORD_JOINER}jdoe)"
    assert md_text("https://evil.example/a?b=c") == f"https:/{WORD_JOINER}/evil.example/a?b=c"
    assert md_text("www.evil.example") == f"www{WORD_JOINER}.evil.example"
    for value in ["team @org/team", "someone@example.com", "https://evil.example/a?b=c"]:
        assert md_text(value).replace(WORD_JOINER, "") == value


def test_markup_is_escaped_and_block_markers_defused() -> None:
    assert md_text("a|b") == "a\\|b"
    assert md_text("<i>") == "\\<i\\>"
    assert md_text("x\\|y") == "x\\\\\\|y"
    assert md_text("&#64;") == "\\&#64;"  # an entity would decode to '@' in the HTML
    assert md_text("$1") == "\\$1"
    assert md_text("# h") == "\\# h"
    assert md_text("- i") == "\\- i"
    assert md_text("1. i") == "1\\. i"
    assert md_text("> q") == "\\> q"
    assert md_text("one\n  two\r\nthree") == "one two three"


def test_controls_and_bidi_are_dropped_emoji_kept() -> None:
    assert plain_text("a" + ALL_BIDI + "b") == "ab"
    assert plain_text("nul\x00del\x7fcsi\x9b") == "nuldelcsi"
    assert plain_text("tab\tunit\x1fcr\rend") == "tab unit cr end"
    assert plain_text("zero\u200bwidth\ufeff") == "zerowidth"
    dev = "👩\u200d💻"  # ZWJ sequence
    assert plain_text(dev) == dev and md_text(dev) == dev
    assert md_text(12) == "12" and md_text(None) == "None"


def test_yaml_text_round_trips_plain_text() -> None:
    for value in [*HOSTILE, 'Acme: "Inc" #1 - {x}', "\ufffe\udc80x"]:
        loaded = yaml.safe_load(f"k: {yaml_text(value)}\n")
        assert loaded == {"k": plain_text(value)}, value
        assert not (set(yaml_text(value)) & BIDI_CONTROLS)


def test_display_name_shows_no_email_address() -> None:
    assert _display_name("jane@example.com") == "jane"
    assert _display_name(" jane.doe+git@mail.example.org ") == "jane.doe+git"
    # Digests and sidecars carry no email addresses, wherever one sits in a name.
    assert _display_name("Jane <jane@example.com>") == "Jane <jane>"
    assert _display_name("jane@example.com (Jane)") == "jane (Jane)"
    for whole in ["@alice", "Jane Doe (@jdoe)", "team @org/team", "ci@localhost", "Ann Ace"]:
        assert _display_name(whole) == whole
    # Kept whole here, defused later by the sanitizer.
    assert md_text(_display_name("@alice")).replace(WORD_JOINER, "") == "@alice"
    check_cell(_display_name("Jane Doe (@jdoe)"))


# --- properties over arbitrary text -----------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        *"|\\`*_[]()<>!#-+=.1:/@&$;~ \n\r\t\x00\x1f\u202e\u2066\u200b\u2060wa",
        *["www.", "http://", "https://", "//", "@a", "a@b.c", "<script>", "&#64;", "1. "],
        *["- ", "# ", "> ", "<!--", "-->", "](", "![", "```", "\u200d"],
    ]
)
HOSTILE_TEXT = st.one_of(st.text(), st.lists(_FRAGMENTS, max_size=40).map("".join))
PROPERTY = settings(max_examples=300, deadline=None, database=None)


@PROPERTY
@given(HOSTILE_TEXT)
def test_any_text_stays_one_plain_cell(value: str) -> None:
    check_cell(value)


@PROPERTY
@given(HOSTILE_TEXT)
def test_any_text_stays_one_plain_line(value: str) -> None:
    check_line(value)


@PROPERTY
@given(HOSTILE_TEXT)
def test_any_text_is_a_yaml_string(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_text(value)}\n") == {"k": plain_text(value)}
