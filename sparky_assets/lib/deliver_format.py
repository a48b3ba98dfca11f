"""What a delivery posts: a digest's first screen as a Slack message, a Discord message, an email
and a plain JSON webhook body. Pure, no Dagster, no network (the transports send these).

The first screen arrives as markdown lines (the sidecar's `first_screen_markdown`, written by
`first_screen.py`, title line first). It is read with markdown-it-py (CommonMark, raw HTML off),
never with regular expressions, into lines of inline nodes (text, bold, italic, links), and each
format renders those nodes with its own escaping:

- Slack mrkdwn: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (Slack, "Formatting text for app
  surfaces", section "Escaping text": "Slack uses &, <, and > as control characters for special
  parsing in text objects, so they must be converted to HTML entities",
  https://docs.slack.dev/messaging/formatting-message-text#escaping); links `<url|text>`;
  `*bold*`, `_italic_`.
- Discord markdown: markdown characters in text are backslash-escaped; links `[text](url)`
  (masked links, allowed in webhook embeds' descriptions); `**bold**`, `*italic*`.
- Email: text/plain, and text/html rendered by markdown-it-py itself (its escaping).

Whatever the data says, nothing notifies anyone: every `@` from the data is followed by U+2060
WORD JOINER (so `@everyone`, `@here`, `@channel` and `@name` are no longer mentions), Slack's
`<!here>`/`<@U123>` syntax cannot form because `<` is escaped (and in Slack's plain_text header
a word joiner follows `<`), and Discord also gets `allowed_mentions: {"parse": []}` ("Allowed
Mentions Object": an empty `parse` suppresses all mentions, https://discord.com/developers/docs/
resources/message#allowed-mentions-object). Only http and https links are kept as links; any
other link shows as its text. Bidi and other format/control characters are dropped.

Each format has documented limits (cited at the constants below). What does not fit is cut by
whole lines, never inside a link or an escape: list items go first, from the end of the longest
list, and each cut list ends with "…and N more" (N: the items left out). The link to the full
digest always stays. A title over its limit is cut at a word with "…".

Lengths are budgeted in UTF-16 code units, which are never fewer than the characters the
services count, whether they count code points or UTF-16 units.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import BaseModel

from sparky_assets.lib.sanitize import WORD_JOINER, md_text

# --- limits ---------------------------------------------------------------------------------------
# Slack, Block Kit reference (https://docs.slack.dev/reference/block-kit/blocks): "You can include
# up to 50 blocks in each message"; header block: plain_text, "Maximum length ... 150 characters";
# section block: "Maximum length for the text in this field is 3000 characters".
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
# Not a documented per-message limit: Slack documents 12,000 characters across the markdown blocks
# of one payload, and answers `msg_blocks_too_long` to long messages near that size
# (slackapi/bolt-js#2509). The first screen stays well under it; hostile data is cut to it.
SLACK_MESSAGE_CHARS = 12_000
# Discord, "Execute Webhook" (https://discord.com/developers/docs/resources/webhook#execute-
# webhook): up to 10 embeds; "Embed Limits" (https://discord.com/developers/docs/resources/
# message#embed-object-embed-limits): title 256, description 4096, all embeds together 6000.
DISCORD_MAX_EMBEDS = 10
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_EMBEDS_TOTAL_CHARS = 6000
# Email has no subject limit short of RFC 5322's 998-octet lines (folded by Python's email
# package); a subject is cut where a mail client would cut it anyway.
EMAIL_SUBJECT_CHARS = 200
# A digest URL that fits a Slack section and a Discord embed's url with room to spare.
URL_CHARS = 2000

READ_MORE = "Read the full digest"
INDENT = "\u2003\u2003"  # two em spaces per nesting level: no format trims or parses them

_MD = MarkdownIt("commonmark", {"html": False})
_KEEP_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: they carry meaning in scripts and emoji
_DOUBLE_SLASH = re.compile(r"/(?=/)")
_WWW_DOT = re.compile(r"(?i)\b(www)(?=\.)")
_SPACES = re.compile(r"\s+")


class DeliveryContent(BaseModel):
    """A digest's first screen, ready to format for any target."""

    title: str  # the digest's title (plain text, e.g. "Week of 23 – 29 Nov 2026, UTC")
    markdown: list[str]  # the first screen's markdown lines after the title line
    url: str | None  # the full digest (None: no link)
    period: str
    key: str
    team: str | None = None


# --- text that stays inert ----------------------------------------------------------------------


def _u16(text: str) -> int:
    """Length in UTF-16 code units (what JavaScript's `length` counts; never below code points)."""
    return len(text.encode("utf-16-le")) // 2


def _visible(text: str) -> str:
    """Text without format, control and surrogate characters (bidi controls, zero-width
    characters, BOM), whitespace runs as one space; ZWNJ and ZWJ kept."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if (category == "Cf" and ch not in _KEEP_FORMAT) or category == "Cs":
            continue
        if category == "Cc" and not ch.isspace():
            continue
        out.append(ch)
    return _SPACES.sub(" ", "".join(out))


def _inert(text: str) -> str:
    """Visible text that mentions no one and autolinks nothing: a word joiner after every '@',
    between the slashes of '//' and after 'www' (as `sanitize.md_text` does for GitHub)."""
    text = _visible(text).replace("@", "@" + WORD_JOINER)
    text = _DOUBLE_SLASH.sub("/" + WORD_JOINER, text)
    return _WWW_DOT.sub(r"\1" + WORD_JOINER, text)


def _cut_words(text: str, limit: int) -> str:
    """`text` within `limit` UTF-16 units, cut at a word with "…" when it is longer."""
    if _u16(text) <= limit:
        return text
    keep, budget = text, limit - 1  # room for the "…"
    while _u16(keep) > budget:  # each step drops at least half of what is over
        keep = keep[: len(keep) - max(1, (_u16(keep) - budget) // 2)]
    head, space, _ = keep.rpartition(" ")
    if space and head.strip():
        keep = head
    return keep.rstrip(" ,;:·-") + "…"


def _http_url(href: str | None) -> str | None:
    """An absolute http(s) URL with every character that could end a link in Slack, Discord or
    markdown (spaces, `<`, `>`, `|`, parentheses, quotes) percent-encoded; None for any other."""
    if not href:
        return None
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(href.strip(), safe="/:?#[]@!$&'*+,;=%~")


def _digest_url(content: DeliveryContent) -> str | None:
    """The content's link to the full digest; ValueError (without the URL, which may be
    private) when it is not an absolute http(s) URL."""
    if content.url is None:
        return None
    url = _http_url(content.url)
    if url is None or len(url) > URL_CHARS:
        raise ValueError(
            f"the digest URL must be an absolute http(s) URL of at most {URL_CHARS} characters"
        )
    return url


# --- markdown, read once ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    kind: str  # "text", "strong", "em" or "link"
    text: str = ""  # a text node's visible, inert text
    href: str | None = None  # a link's http(s) URL; None: show the text only
    children: tuple[_Node, ...] = ()


@dataclass(frozen=True)
class _Line:
    kind: str  # "heading", "para" or "item"
    nodes: tuple[_Node, ...]
    depth: int = 0  # an item's nesting, 0 at the top


def _inline(children: Sequence[Token]) -> tuple[_Node, ...]:
    """markdown-it's inline tokens as nodes; a link to anything but http(s) becomes its text."""
    stack: list[tuple[str, str | None, list[_Node]]] = []
    current: list[_Node] = []
    for tok in children:
        if tok.type in ("text", "code_inline", "html_inline"):
            current.append(_Node("text", _inert(tok.content)))
        elif tok.type in ("softbreak", "hardbreak"):
            current.append(_Node("text", " "))
        elif tok.type == "image":  # its alternative text; no remote image reaches a reader
            current.append(_Node("text", _inert(tok.content)))
        elif tok.type in ("strong_open", "em_open", "link_open"):
            href = _http_url(str(tok.attrGet("href") or "")) if tok.type == "link_open" else None
            stack.append((tok.type.removesuffix("_open"), href, current))
            current = []
        elif tok.type in ("strong_close", "em_close", "link_close") and stack:
            kind, href, parent = stack.pop()
            parent.append(_Node(kind, href=href, children=tuple(current)))
            current = parent
    while stack:  # not closed (markdown-it always closes; kept for safety)
        kind, href, parent = stack.pop()
        parent.append(_Node(kind, href=href, children=tuple(current)))
        current = parent
    return tuple(n for n in current if n.kind != "text" or n.text)


def _lines(markdown: Sequence[str]) -> list[_Line]:
    """The first screen as lines: headings, paragraphs and list items (nested ones deeper)."""
    tokens = _MD.parse("\n".join(markdown))
    lines: list[_Line] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif tok.type == "inline":
            nodes = _inline(tok.children or [])
            if not _plain(nodes).strip():
                continue
            if i > 0 and tokens[i - 1].type == "heading_open":
                lines.append(_Line("heading", nodes))
            elif depth > 0:
                lines.append(_Line("item", nodes, depth - 1))
            else:
                lines.append(_Line("para", nodes))
        elif tok.type in ("code_block", "fence", "html_block"):
            for row in tok.content.splitlines():
                if row.strip():
                    node = _Node("text", _inert(row).strip())
                    lines.append(
                        _Line("item", (node,), depth - 1) if depth else _Line("para", (node,))
                    )
    return lines


def _plain(nodes: Sequence[_Node]) -> str:
    return "".join(n.text if n.kind == "text" else _plain(n.children) for n in nodes)


def _truncate(nodes: Sequence[_Node], keep: int) -> tuple[tuple[_Node, ...], int]:
    """The nodes with only their first `keep` characters of text (structure kept, so a link stays
    a whole link), and how many of `keep` were not used."""
    out: list[_Node] = []
    for n in nodes:
        if keep <= 0:
            break
        if n.kind == "text":
            out.append(_Node("text", n.text[:keep]))
            keep -= min(len(n.text), keep)
        else:
            children, keep = _truncate(n.children, keep)
            if children:
                out.append(_Node(n.kind, href=n.href, children=children))
    return tuple(out), keep


def _shorten(line: _Line, render: Callable[[_Line], str], limit: int) -> str:
    """`line` rendered within `limit` UTF-16 units: its text cut at a word, then "…"."""
    text = render(line)
    if _u16(text) <= limit:
        return text
    plain = _plain(line.nodes)

    def cut(n: int) -> str:
        head = plain[:n]
        before, space, _ = head.rpartition(" ")
        n = len(before) if space and before.strip() and n < len(plain) else n
        nodes, _ = _truncate(line.nodes, n)
        return render(_Line(line.kind, (*nodes, _Node("text", "…")), line.depth))

    lo, hi = 0, len(plain)  # the longest cut that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _u16(cut(mid)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return cut(lo)


# --- cutting to fit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    kind: str  # "heading", "para" or "item"
    text: str  # rendered for the target


def _select(
    lines: Sequence[_Line],
    rendered: Sequence[str],
    more: Callable[[int], str],
    fits: Callable[[list[_Entry]], bool],
) -> list[_Entry]:
    """The rendered lines that fit: list items are left out first, the last of the list that
    keeps most, each list that lost some ending with `more(n)`; then, if even that does not fit,
    headings and paragraphs from the end, with a last `more(n)` that counts the paragraphs and
    the items under the headings left out (a heading is a label, not an item)."""
    n = len(lines)
    keep = [True] * n
    group = [-1] * n  # runs of list items between headings and paragraphs
    owner: list[int] = []  # each run's heading or paragraph before it (-1: none)
    for i, line in enumerate(lines):
        if line.kind == "item":
            if i == 0 or lines[i - 1].kind != "item":
                owner.append(i - 1)
            group[i] = len(owner) - 1

    def assemble() -> list[_Entry]:
        entries: list[_Entry] = []
        dropped = 0
        rest = 0  # paragraphs left out, and the items under a heading left out
        for i, line in enumerate(lines):
            if keep[i]:
                entries.append(_Entry(line.kind, rendered[i]))
            elif group[i] >= 0:
                dropped += 1
            elif line.kind == "para":
                rest += 1
            last_of_group = group[i] >= 0 and (i + 1 == n or group[i + 1] != group[i])
            if last_of_group and dropped:
                if owner[group[i]] < 0 or keep[owner[group[i]]]:
                    entries.append(_Entry("item", more(dropped)))
                else:
                    rest += dropped
                dropped = 0
        if rest:
            entries.append(_Entry("para", more(rest)))
        return entries

    entries = assemble()
    while not fits(entries):
        kept_items: dict[int, list[int]] = {}
        for i in range(n):
            if keep[i] and group[i] >= 0:
                kept_items.setdefault(group[i], []).append(i)
        if kept_items:
            longest = max(kept_items, key=lambda k: (len(kept_items[k]), k))
            keep[kept_items[longest][-1]] = False
        else:
            others = [i for i in range(n) if keep[i]]
            if not others:
                return []
            keep[others[-1]] = False
        entries = assemble()
    return entries


def _more(n: int) -> str:
    return f"…and {n:,} more"


# --- Slack --------------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_inline(nodes: Sequence[_Node]) -> str:
    out = []
    for n in nodes:
        if n.kind == "text":
            out.append(_slack_escape(n.text))
        elif n.kind == "link" and n.href:
            # In `<url|text>` the text may not hold '|' or '>': '>' is escaped, '|' becomes a
            # fullwidth vertical line (Slack decodes no other entity).
            label = _slack_escape(_plain(n.children)).replace("|", "\uff5c") or _slack_escape(
                n.href
            )
            out.append(f"<{_slack_escape(n.href)}|{label}>")
        elif n.kind in ("strong", "em") and _plain(n.children).strip():
            mark = "*" if n.kind == "strong" else "_"
            out.append(f"{mark}{_slack_inline(n.children)}{mark}")
        else:
            out.append(_slack_inline(n.children))
    return "".join(out)


def _slack_line(line: _Line) -> str:
    if line.kind == "heading":
        return f"*{_slack_escape(_plain(line.nodes))}*"
    text = _slack_inline(line.nodes)
    return f"{INDENT * line.depth}• {text}" if line.kind == "item" else text


def _slack_plain_title(title: str) -> str:
    """A plain_text title: nothing there is parsed, and a word joiner after '<' keeps even a
    client that did parse from reading `<!here>`."""
    return _inert(title).replace("<", "<" + WORD_JOINER).strip() or "Sparky digest"


def _sep(previous: str, kind: str) -> str:
    """A line break between list items (and after their heading), a blank line elsewhere."""
    return "\n" if kind == "item" and previous in ("item", "heading") else "\n\n"


def _slack_sections(entries: Sequence[_Entry]) -> list[str]:
    """Section texts: a new one at each heading, and wherever one would pass 3000."""
    sections: list[str] = []
    current = ""
    previous = ""
    for e in entries:
        if e.kind == "heading" and current:
            sections.append(current)
            current = ""
        sep = _sep(previous, e.kind)
        if current and _u16(current + sep + e.text) > SLACK_SECTION_CHARS:
            sections.append(current)
            current = ""
        current = f"{current}{sep}{e.text}" if current else e.text
        previous = e.kind
    if current:
        sections.append(current)
    return sections


def slack_payload(content: DeliveryContent) -> dict[str, Any]:
    """An incoming-webhook message: Block Kit blocks (a header, mrkdwn sections, the link to the
    full digest) and `text`, the fallback that notifications show."""
    url = _digest_url(content)
    title = _cut_words(_slack_plain_title(content.title), SLACK_HEADER_CHARS)
    link = f"<{_slack_escape(url)}|{READ_MORE}>" if url else None
    lines = _lines(content.markdown)
    rendered = [_shorten(line, _slack_line, SLACK_SECTION_CHARS) for line in lines]

    def fits(entries: list[_Entry]) -> bool:
        sections = _slack_sections(entries)
        blocks = 1 + len(sections) + (1 if link else 0)
        chars = sum(_u16(s) for s in sections) + (_u16(link) if link else 0)
        return blocks <= SLACK_MAX_BLOCKS and chars <= SLACK_MESSAGE_CHARS

    entries = _select(lines, rendered, lambda n: f"• {_more(n)}", fits)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}
    ]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        for text in _slack_sections(entries)
    ]
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
    fallback = _slack_escape(_cut_words(_inert(content.title).strip(), SLACK_HEADER_CHARS))
    return {"text": fallback or "Sparky digest", "blocks": blocks}


# --- Discord ------------------------------------------------------------------------------------

# Discord's markdown: a backslash escapes any of these (and '<', which starts mentions and
# suppressed links); '.' and ')' after a number at a line's start would make a numbered list.
_DISCORD_SPECIAL = frozenset("\\*_~`|>#-[]()<")


def _discord_escape(text: str) -> str:
    return "".join("\\" + ch if ch in _DISCORD_SPECIAL else ch for ch in text)


def _discord_inline(nodes: Sequence[_Node]) -> str:
    out = []
    for n in nodes:
        if n.kind == "text":
            out.append(_discord_escape(n.text))
        elif n.kind == "link" and n.href:
            label = _discord_escape(_plain(n.children)) or _discord_escape(n.href)
            out.append(f"[{label}]({n.href})")
        elif n.kind in ("strong", "em") and _plain(n.children).strip():
            mark = "**" if n.kind == "strong" else "*"
            out.append(f"{mark}{_discord_inline(n.children)}{mark}")
        else:
            out.append(_discord_inline(n.children))
    return "".join(out)


def _discord_line(line: _Line) -> str:
    if line.kind == "heading":
        return f"**{_discord_escape(_plain(line.nodes))}**"
    text = _discord_inline(line.nodes)
    if line.kind == "item":
        return f"{INDENT * line.depth}• {text}"
    head = text.split(" ", 1)[0]
    if head[:-1].isdigit() and head[-1:] in (".", ")"):  # "1. text" would start a list
        text = text[: len(head) - 1] + "\\" + text[len(head) - 1 :]
    return text


def _discord_descriptions(entries: Sequence[_Entry], budget: int) -> list[str]:
    """Description texts within 4096 each: the first screen's lines, blank lines between its
    parts."""
    descriptions: list[str] = []
    current = ""
    previous = ""
    for e in entries:
        sep = _sep(previous, e.kind)
        if current and _u16(current + sep + e.text) > budget:
            descriptions.append(current)
            current = ""
        current = f"{current}{sep}{e.text}" if current else e.text
        previous = e.kind
    if current:
        descriptions.append(current)
    return descriptions


def discord_payload(content: DeliveryContent) -> dict[str, Any]:
    """An execute-webhook body: one embed titled with the digest (linked to it), the first
    screen as its description (a second embed only if it runs over), the link last; no
    mention is parsed."""
    url = _digest_url(content)
    title = _cut_words(_inert(content.title).strip() or "Sparky digest", DISCORD_TITLE_CHARS)
    link = f"[{READ_MORE}]({url})" if url else None
    lines = _lines(content.markdown)
    room = min(DISCORD_DESCRIPTION_CHARS, DISCORD_EMBEDS_TOTAL_CHARS - _u16(title))
    room -= _u16(link) + 2 if link else 0
    rendered = [_shorten(line, _discord_line, room) for line in lines]

    def texts(entries: list[_Entry]) -> list[str]:
        with_link = [*entries, _Entry("para", link)] if link else entries
        return _discord_descriptions(with_link, DISCORD_DESCRIPTION_CHARS)

    def fits(entries: list[_Entry]) -> bool:
        descriptions = texts(entries)
        total = _u16(title) + sum(_u16(d) for d in descriptions)
        return len(descriptions) <= DISCORD_MAX_EMBEDS and total <= DISCORD_EMBEDS_TOTAL_CHARS

    entries = _select(lines, rendered, lambda n: f"• {_more(n)}", fits)
    embeds: list[dict[str, Any]] = []
    for i, description in enumerate(texts(entries) or [""]):
        embed: dict[str, Any] = {}
        if i == 0:
            embed["title"] = title
            if url:
                embed["url"] = url
        if description:
            embed["description"] = description
        embeds.append(embed)
    return {"embeds": embeds, "allowed_mentions": {"parse": []}}


# --- email --------------------------------------------------------------------------------------


def _plain_inline(nodes: Sequence[_Node]) -> str:
    out = []
    for n in nodes:
        if n.kind == "text":
            out.append(n.text)
        elif n.kind == "link" and n.href:
            label = _plain(n.children)
            out.append(f"{label} ({n.href})" if label and label != n.href else n.href)
        else:
            out.append(_plain_inline(n.children))
    return "".join(out)


def _plain_body(title: str, lines: Sequence[_Line], url: str | None) -> str:
    out = [title, "=" * min(len(title), 72)]
    previous = ""
    for line in lines:
        text = _plain_inline(line.nodes)
        if _sep(previous, line.kind) != "\n":
            out.append("")
        out.append(f"{'  ' * line.depth}• {text}" if line.kind == "item" else text)
        previous = line.kind
    if url:
        out += ["", f"{READ_MORE}: {url}"]
    return "\n".join(out) + "\n"


def _inert_tokens(tokens: list[Token]) -> list[Token]:
    """markdown-it's tokens with the same rules as the chat formats: inert text, links only to
    http(s), images as their alternative text. Raw HTML is already off (`html: False`)."""
    for tok in tokens:
        if tok.type in ("code_block", "fence"):
            tok.content = "\n".join(_inert(row) for row in tok.content.splitlines()) + "\n"
        if tok.type != "inline" or not tok.children:
            continue
        children: list[Token] = []
        kept: list[bool] = []
        for child in tok.children:
            if child.type == "link_open":
                href = _http_url(str(child.attrGet("href") or ""))
                kept.append(href is not None)
                if href is None:
                    continue
                child.attrSet("href", href)
            elif child.type == "link_close":
                if kept and not kept.pop():
                    continue
            elif child.type in ("text", "code_inline"):
                child.content = _inert(child.content)
            elif child.type == "image":
                child = Token("text", "", 0, content=_inert(child.content))
            children.append(child)
        tok.children = children
    return tokens


def _html_body(title: str, markdown: Sequence[str], url: str | None) -> str:
    source = [f"# {md_text(title)}", "", *markdown]
    if url:
        source += ["", f"[{READ_MORE}](<{url}>)"]
    tokens = _inert_tokens(_MD.parse("\n".join(source)))
    body = _MD.renderer.render(tokens, _MD.options, {})
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}</body></html>\n"
    )


def email_message(content: DeliveryContent, sender: str, to: list[str]) -> EmailMessage:
    """A multipart/alternative email (text/plain, then text/html rendered by markdown-it-py with
    raw HTML off), the title as Subject and H1, and the link to the full digest in both parts.
    Date and Message-ID are the sender's to add (they need a clock and a host)."""
    if not to:
        raise ValueError("an email needs at least one recipient")
    url = _digest_url(content)
    title = _inert(content.title).strip() or "Sparky digest"
    message = EmailMessage()  # email.policy.default: a header with CR or LF raises ValueError
    message["Subject"] = _cut_words(title, EMAIL_SUBJECT_CHARS)
    message["From"] = sender
    message["To"] = ", ".join(to)
    # RFC 3834 section 5: a message sent by a program, so that out-of-office replies stay away.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain_body(title, _lines(content.markdown), url))
    message.add_alternative(_html_body(title, content.markdown, url), subtype="html")
    return message


# --- from the sidecar ---------------------------------------------------------------------------


def content_from_sidecar(
    sidecar: Mapping[str, Any], url: str | None, team: str | None = None
) -> DeliveryContent:
    """The delivery content of a digest's `.json` sidecar: its title, and its first screen's
    markdown after the title line (a sidecar written before `first_screen_markdown` existed
    gives its plain `first_screen` bullets as list items)."""
    period, key = sidecar.get("period"), sidecar.get("partition")
    if not isinstance(period, str) or not isinstance(key, str):
        raise ValueError("the sidecar has no period and partition")
    title = _visible(str(sidecar.get("title") or "")).strip() or f"Sparky {period} digest {key}"
    raw = sidecar.get("first_screen_markdown")
    if isinstance(raw, list) and raw:
        markdown = [str(line) for line in raw]
        tokens = _MD.parse("\n".join(markdown))
        first = tokens[0] if tokens else None
        if first is not None and first.type == "heading_open" and first.tag == "h1" and first.map:
            markdown = markdown[first.map[1] :]
        while markdown and not markdown[0].strip():
            markdown = markdown[1:]
    else:
        bullets = sidecar.get("first_screen") or []
        markdown = [f"- {md_text(b)}" for b in bullets if str(b).strip()]
    content = DeliveryContent(
        title=title, markdown=markdown, url=url, period=period, key=key, team=team
    )
    _digest_url(content)  # fail here, not later in a transport
    return content


def webhook_payload(sidecar: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    """A plain JSON webhook's body: the sidecar as it is, plus `url` (the full digest)."""
    return {**copy.deepcopy(dict(sidecar)), "url": url}
