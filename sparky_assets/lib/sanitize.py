"""The one sanitizer for text that people control (author names, repository names, error text)
on its way into a markdown digest.

A digest may be published on GitHub, so such text must stay inert there: no markup, no raw HTML,
no links (GFM autolinks bare URLs, `www.` and emails), no @mentions that notify people, and no
bidi controls that make a line read differently from what it says.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

WORD_JOINER = "\u2060"
"""Inserted to break autolinks and mentions. U+2060 rather than U+200B (zero-width space): it is
just as invisible and just as much a non-word character to GitHub's mention filter and to
cmark-gfm's autolinker, but it adds no line-break opportunity, so `@alice` never wraps after '@'."""

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Bidi embeddings, overrides, isolates and marks (all category Cf, so plain_text drops them)."""

# Format characters that are kept: ZWNJ and ZWJ carry meaning in Indic/Arabic scripts and in
# emoji sequences (👩‍💻), and they neither reorder text nor link anything.
_KEEP_FORMAT = frozenset("\u200c\u200d")

# Markdown punctuation that could start markup anywhere in a line, with '&' (an entity such as
# `&#64;` becomes a live '@' in the HTML that GitHub's mention filter reads) and '$' (GitHub math).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")
# At the start of a line or list item these begin a heading, list or setext underline.
_MD_BLOCK_START = re.compile(r"[#+\-=]|\d+[.)]")
# Autolink and mention triggers (GFM: `scheme://`, `www.`, `local@domain`, `@user`), broken by a
# word joiner: between the slashes of any `//`, after `www`, and on both sides of every '@'.
# After '@' defeats GitHub mentions and cmark-gfm's email autolinks; before it defeats
# linkify-style autolinkers (markdown-it's linkify-it), which read U+2060 as a letter but want
# an ASCII local part right before '@'.
_DOUBLE_SLASH = re.compile(r"/(?=/)")
_WWW_DOT = re.compile(r"(?i)(www)(?=\.)")


def _dropped(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":  # format: bidi controls, zero-width spaces, BOM, tag characters
        return ch not in _KEEP_FORMAT
    if category == "Cc":  # C0/C1 controls; whitespace ones become spaces in plain_text
        return not ch.isspace()
    if category == "Cs":  # lone surrogates (from undecodable bytes) cannot be written as UTF-8
        return True
    code = ord(ch)  # noncharacters: not for interchange, and not allowed in YAML
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def plain_text(value: Any) -> str:
    """One line of visible text: format/bidi/control characters dropped, whitespace collapsed.

    No markdown escaping: for places that are not markdown (YAML, JSON, logs).
    """
    text = "".join(ch for ch in str(value) if not _dropped(ch))
    return " ".join(text.split())


def md_text(value: Any) -> str:
    """Inline markdown for a table cell or a line: shows `value` as plain text, nothing more.

    Markup characters are backslash-escaped, a leading block marker too, and autolinks and
    @mentions are broken with an invisible word joiner (see WORD_JOINER).
    """
    text = _MD_SPECIAL.sub(r"\\\1", plain_text(value))
    text = text.replace("@", f"{WORD_JOINER}@{WORD_JOINER}")
    text = _DOUBLE_SLASH.sub("/" + WORD_JOINER, text)
    text = _WWW_DOT.sub(r"\1" + WORD_JOINER, text)
    start = _MD_BLOCK_START.match(text)
    if start is None:
        return text
    cut = start.end() - 1 if text[0].isdigit() else 0  # "1." is escaped as "1\."
    return text[:cut] + "\\" + text[cut:]


def yaml_text(value: Any) -> str:
    """A YAML scalar that is always a double-quoted string of plain_text (JSON strings are
    valid YAML; plain_text leaves out what YAML forbids, such as C1 controls)."""
    return json.dumps(plain_text(value), ensure_ascii=False)
