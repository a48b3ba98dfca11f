"""The digests' index page (`output/index.md`) and Atom feed, from the digests on disk.

Pure functions, no Dagster: `scan_digests` reads what Sparky wrote next to each
`output/{daily,weekly,monthly}/<key>.md`, its `.json` sidecar (`render.digest_sidecar`), and
the YAML front matter at the top of the markdown; `render_index` writes the markdown index,
`render_feed` an Atom 1.0 feed (RFC 4287). The markdown after the front matter is the feed's
content; it is searched for a headline only for a digest whose sidecar has none (one written
by hand, or before sidecars had one).

Choices, so that the outputs are stable and safe:

- Files. Only `<period>/<key>.md` whose key is a valid partition key for the period (any date
  for daily, a Monday for weekly, the first of a month for monthly) is a digest; anything else
  in those folders (`.gitkeep`, temp files, `index.md`, `notes.md`) is ignored silently. A digest
  file that cannot be used (unreadable, no or invalid YAML front matter, front matter or a
  sidecar whose `period`/`date`/`partition` disagree with the file's place, an unparseable
  `updated`) is skipped: the reason is logged at WARNING and, when the caller passes a `skipped`
  list, appended to it.
- Path, link target and Atom ids are built from the validated period and key only, never
  from text inside a digest. The title is the sidecar's `title` (plain text) when it has one,
  else `digest_view.digest_title`, the digest's own.
- Links: with `[publish].site_url`, absolute, `<site_url>/<period>/<key>` + PUBLISHED_SUFFIX
  (".html": how GitHub Pages serves the published markdown); without it, the relative `.md`
  path next to the index.
- `updated` is never a file's mtime (it differs between clones and checkouts). In order: the
  front matter's `updated`; for a partial digest, when its coverage was collected (the latest
  `collected_at` in the sidecar); the sidecar's `coverage.window_end` (a daily digest's); else
  the window's end in the org timezone (`clock.window`). Re-running on unchanged digests
  therefore gives the same index and feed, and a partial digest (collected before the window
  ended) is older than its full re-run.
- `partial`: the sidecar's `partial` (what the front matter's `partial: true` says, written by
  the same view); else the front matter's `partial`; else true when the sidecar's coverage was
  collected before its window ended; else false.
- `summary`: the sidecar's `insights.headline` (reduced from inert markdown to plain text when
  `insights.text_format` is "markdown"), else the page's first paragraph that is all bold, as
  one line of plain text (`sanitize.plain_text`) of at most SUMMARY_MAX characters. Markdown is
  read with markdown-it-py (CommonMark), never with regular expressions. The feed's summary is
  the sidecar's `first_screen` (the first screen's bullets, one plain-text line each) when it
  has one, else this headline.
- Index order: Monthly, Weekly, Daily (the broad view first; empty periods left out), newest
  key first within each. Every text from a digest goes through `sanitize.md_text`. A run of
  two or more complete windows whose sidecars say `quiet: true`, one right after another, is
  one line ("1-20 Oct 2026: no activity", an en dash); a single one is "5 Oct 2026: no
  activity", linked to its digest.
- Feed: built with `xml.etree.ElementTree` (escaping by the library); ids are `tag:` URIs
  (RFC 4151) with a fixed date, `tag:sparky,2025:<org>/<period>/<key>`, so an entry keeps its
  id when its content changes. Entries newest `updated` first (ties: newer key, then Monthly,
  Weekly, Daily), at most `limit`. Titles and summaries are plain text (`type="text"`); the
  entry's `content type="html"` is the digest rendered by markdown-it-py with raw HTML off, so
  no HTML written inside a digest reaches a reader as markup.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from sparky_assets import __version__
from sparky_assets.lib.digest_view import digest_title
from sparky_assets.lib.first_screen import MONTHS
from sparky_assets.lib.render import FrontMatterError, split_front_matter
from sparky_assets.lib.sanitize import md_text, plain_text
from sparky_resources.clock import PERIODS, Period, parse_instant, window, window_dates

log = logging.getLogger(__name__)

INDEX_ORDER: tuple[Period, ...] = ("monthly", "weekly", "daily")
"""Sections of the index page, broadest first."""
SECTION_TITLES: dict[Period, str] = {"monthly": "Monthly", "weekly": "Weekly", "daily": "Daily"}

ATOM_NS = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "sparky"
TAG_DATE = "2025"
"""The `tag:` URI date (RFC 4151): fixed forever, so that ids never change."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""A feed's `updated` when it has no entries."""
SUMMARY_MAX = 300
"""Longest summary kept (characters of plain text); longer ones end in an ellipsis."""
FEED_LIMIT = 50
TITLE_MAX = 200
"""Longest sidecar title kept (characters of plain text)."""
FIRST_SCREEN_LINES = 40
"""Most lines of a sidecar's `first_screen` kept: the first screen is at most 40 lines."""
PUBLISHED_SUFFIX = ".html"
"""The suffix a published digest is served under at `[publish].site_url`: GitHub Pages builds
the published folder with Jekyll, which serves `daily/2026-11-27.md` (it has front matter) as
`daily/2026-11-27.html` (https://docs.github.com/en/pages/setting-up-a-github-pages-site-with-jekyll/about-github-pages-and-jekyll).
Another host that serves the markdown itself would use ".md"."""
QUIET_TEXT = "no activity"
MONTH_ABBR = tuple(name[:3] for name in MONTHS)  # the first screen's, locale-free

_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Characters XML 1.0 forbids (https://www.w3.org/TR/xml/#charsets): ElementTree would write them
# and the feed would not parse.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def valid_key(period: str, key: str) -> bool:
    """Whether `key` is a partition key of `period` (YYYY-MM-DD; Monday; first of month)."""
    if period not in PERIODS or not _KEY.fullmatch(key):
        return False
    try:
        window_dates(period, key)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


class DigestEntry(BaseModel):
    """One digest on disk. `path` is derived from the validated period and key; `title` is the
    sidecar's `heading` when it has one, else derived from them too. Every text is plain."""

    period: Period
    key: str
    updated: AwareDatetime
    summary: str = ""
    partial: bool = False
    heading: str = ""
    """The sidecar's `title` (plain text), or "" for the title derived from period and key."""
    first_screen: list[str] = Field(default_factory=list)
    """The sidecar's `first_screen`: the first screen's bullets, one plain-text line each."""
    quiet: bool = False
    """The sidecar's `quiet`: nothing happened in the window."""
    markdown: str = Field(default="", repr=False)
    """The digest's markdown without its front matter: the feed's `content`."""

    @field_validator("summary")
    @classmethod
    def _plain(cls, value: str) -> str:
        return shorten(plain_text(value))

    @field_validator("heading")
    @classmethod
    def _plain_heading(cls, value: str) -> str:
        return shorten(plain_text(value), TITLE_MAX)

    @field_validator("first_screen")
    @classmethod
    def _plain_lines(cls, value: list[str]) -> list[str]:
        lines = (shorten(plain_text(line)) for line in value)
        return [line for line in lines if line][:FIRST_SCREEN_LINES]

    @model_validator(mode="after")
    def _valid_key(self) -> DigestEntry:
        if not valid_key(self.period, self.key):
            raise ValueError(f"{self.key!r} is not a {self.period} partition key")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def title(self) -> str:
        return self.heading or digest_title(self.period, self.key)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def path(self) -> str:
        """Relative to the output folder, posix: `daily/2026-11-27.md`."""
        return f"{self.period}/{self.key}.md"


class SkippedFile(BaseModel):
    """A digest file (valid name) that `scan_digests` could not use, and why."""

    path: str
    reason: str


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """`text` cut to at most `limit` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


# --- markdown to plain text (markdown-it-py) ----------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark")


def _inline_plain(tokens: Sequence[Token]) -> str:
    """The text inline tokens show: escapes undone, a link's text (its URL when it has none),
    an image's alternative text, code spans' content; emphasis and code markers dropped."""
    out: list[str] = []
    links: list[tuple[int, str]] = []
    for tok in tokens:
        if tok.type in ("text", "code_inline", "html_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "image":
            out.append(_inline_plain(tok.children or []) or str(tok.attrGet("src") or ""))
        elif tok.type == "link_open":
            links.append((len(out), str(tok.attrGet("href") or "")))
        elif tok.type == "link_close" and links:
            start, href = links.pop()
            if not "".join(out[start:]).strip():
                out.append(href)
    return "".join(out)


def markdown_plain(text: str) -> str:
    """Inline markdown as the plain text it shows (CommonMark, parsed by markdown-it-py), then
    `sanitize.plain_text` (which also drops the word joiners that md_text inserts)."""
    return plain_text(_inline_plain(_MARKDOWN.parseInline(text)[0].children or []))


def first_bold_paragraph(markdown: str) -> str:
    """The plain text of the first top-level paragraph that is bold from end to end (where the
    digest templates put the headline), or "" when there is none."""
    tokens = _MARKDOWN.parse(markdown)
    for before, tok in itertools.pairwise(tokens):
        if before.type != "paragraph_open" or before.level != 0 or tok.type != "inline":
            continue
        # markdown-it leaves empty text tokens around delimiters: they show nothing.
        children = [c for c in tok.children or [] if c.type != "text" or c.content]
        if _wholly_strong(children):
            return plain_text(_inline_plain(children[1:-1]))
    return ""


def _wholly_strong(children: Sequence[Token]) -> bool:
    """Whether the inline tokens are one `strong` span: its opening is the first token and its
    closing the last."""
    if len(children) < 2 or children[0].type != "strong_open":
        return False
    depth = 0
    for i, child in enumerate(children):
        depth += {"strong_open": 1, "strong_close": -1}.get(child.type, 0)
        if depth == 0:
            return i == len(children) - 1
    return False


# --- scanning ---------------------------------------------------------------------------------


class _Skip(Exception):
    pass


def _instant(value: Any, what: str) -> dt.datetime:
    """An aware datetime from YAML (a timestamp) or JSON (an ISO string); no offset means UTC
    (`clock.parse_instant`'s rule, and YAML's for its timestamps)."""
    if isinstance(value, dt.datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str):
        raise _Skip(f"{what} is not a date-time")
    try:
        instant = parse_instant(value)
    except ValueError:
        instant = None
    if instant is None:
        raise _Skip(f"{what} is not an ISO 8601 date-time: {plain_text(value)!r}")
    return instant


def _sidecar(md_path: Path) -> dict[str, Any]:
    """The `.json` next to the digest, or {} when missing or unreadable."""
    try:
        loaded = json.loads(md_path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _headline(sidecar: dict[str, Any], body: str) -> str:
    insights = sidecar.get("insights")
    if isinstance(insights, dict) and isinstance(insights.get("headline"), str):
        headline: str = insights["headline"]
        if insights.get("text_format") == "markdown":
            return markdown_plain(headline)
        return plain_text(headline)
    return first_bold_paragraph(body)


def _coverage_times(sidecar: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """From the sidecar's coverage (one day's, or a list for a week or month): the latest
    `collected_at`, and a daily digest's `window_end`; each None when absent or invalid."""
    coverage = sidecar.get("coverage")
    days = coverage if isinstance(coverage, list) else [coverage]

    def times(name: str) -> list[dt.datetime]:
        out = []
        for day in days:
            value = day.get(name) if isinstance(day, dict) else None
            try:
                out.append(_instant(value, name))
            except _Skip:
                continue
        return out

    window_end = times("window_end") if isinstance(coverage, dict) else []
    return max(times("collected_at"), default=None), max(window_end, default=None)


def _read_entry(period: Period, key: str, path: Path, tz: ZoneInfo) -> DigestEntry:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Skip(f"unreadable: {plain_text(exc)}") from None
    try:
        front, body = split_front_matter(text)
    except FrontMatterError as exc:
        raise _Skip(str(exc)) from None
    if "period" in front and front["period"] != period:
        raise _Skip(f"front matter says period {plain_text(front['period'])!r}")
    if "date" in front and str(front["date"]) != key:
        raise _Skip(f"front matter says date {plain_text(front['date'])!r}")
    if "partial" in front and not isinstance(front["partial"], bool):
        raise _Skip("front matter 'partial' is not true or false")
    sidecar = _sidecar(path)
    if sidecar.get("period", period) != period or sidecar.get("partition", key) != key:
        raise _Skip(
            f"sidecar says {plain_text(sidecar.get('period'))} "
            f"{plain_text(sidecar.get('partition'))}"
        )
    collected_at, window_end = _coverage_times(sidecar)
    window_end = window_end or window(period, key, tz).end
    covered_partial = collected_at is not None and collected_at < window_end
    partial: bool
    if isinstance(sidecar.get("partial"), bool):
        partial = sidecar["partial"]
    elif "partial" in front:
        partial = front["partial"]
    else:
        partial = covered_partial
    if front.get("updated") is not None:
        updated = _instant(front["updated"], "front matter 'updated'")
    elif partial and covered_partial and collected_at is not None:
        updated = collected_at
    else:
        updated = window_end
    return DigestEntry(
        period=period,
        key=key,
        updated=updated,
        summary=_headline(sidecar, body),
        partial=partial,
        heading=_str(sidecar.get("title")),
        first_screen=_lines(sidecar.get("first_screen")),
        quiet=sidecar.get("quiet") is True,
        markdown=body,
    )


def _str(value: Any) -> str:
    """A sidecar's string field, or "" when it is absent or not a string."""
    return value if isinstance(value, str) else ""


def _lines(value: Any) -> list[str]:
    """A sidecar's list of strings; anything in it that is not a string is left out."""
    return [line for line in value if isinstance(line, str)] if isinstance(value, list) else []


def scan_digests(
    output_dir: Path, *, tz: ZoneInfo, skipped: list[SkippedFile] | None = None
) -> list[DigestEntry]:
    """Every digest under `output_dir/{daily,weekly,monthly}/`, in period order (daily, weekly,
    monthly), oldest key first. `tz` is the org timezone, in which a window ends. Files whose
    names are not `<valid key>.md` are ignored; digest files that cannot be used are logged
    and, when `skipped` is given, appended to it."""
    entries: list[DigestEntry] = []
    for period in PERIODS:
        folder = output_dir / period
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix != ".md" or not valid_key(period, path.stem) or not path.is_file():
                continue
            try:
                entries.append(_read_entry(period, path.stem, path, tz))
            except _Skip as why:
                relative = f"{period}/{path.name}"
                log.warning("index: skipping %s: %s", relative, why)
                if skipped is not None:
                    skipped.append(SkippedFile(path=relative, reason=str(why)))
    return entries


# --- links ------------------------------------------------------------------------------------


def checked_site_url(site_url: str) -> str:
    """`site_url` without a trailing slash, percent-encoded so that it is one markdown link
    destination (no spaces, parentheses or angle brackets). ValueError unless it is an absolute
    http(s) URL: a `javascript:` or relative one must never become every entry's link."""
    parts = urlsplit(plain_text(site_url).rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"site_url {plain_text(site_url)!r} is not an http(s) URL")
    path = quote(parts.path, safe="/%-._~!$&*+,;=:@")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def entry_link(entry: DigestEntry, site_url: str | None) -> str:
    """Where a reader finds the digest: `<site_url>/<period>/<key>.html` (PUBLISHED_SUFFIX)
    when the site is known, else the relative path of the markdown next to the index."""
    if site_url is None:
        return entry.path
    return f"{checked_site_url(site_url)}/{entry.period}/{entry.key}{PUBLISHED_SUFFIX}"


# --- the index page ---------------------------------------------------------------------------


def day_span(first: dt.date, last: dt.date) -> str:
    """Dates from `first` to `last` (inclusive) as people write them, with an en dash: "5 Oct
    2026", "1-20 Oct 2026", "28 Sep - 3 Oct 2026", "28 Dec 2026 - 3 Jan 2027"."""

    def day(d: dt.date, year: bool = True) -> str:
        return f"{d.day} {MONTH_ABBR[d.month - 1]}" + (f" {d.year}" if year else "")

    if first == last:
        return day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{day(last)}"
    if first.year == last.year:
        return f"{day(first, year=False)} – {day(last)}"
    return f"{day(first)} – {day(last)}"


def month_span(first: dt.date, last: dt.date) -> str:
    """The months from `first`'s to `last`'s, with an en dash: "Oct 2026", "Oct-Dec 2026",
    "Nov 2026 - Jan 2027"."""

    def month(d: dt.date) -> str:
        return MONTH_ABBR[d.month - 1]

    if (first.year, first.month) == (last.year, last.month):
        return f"{month(first)} {first.year}"
    if first.year == last.year:
        return f"{month(first)}–{month(last)} {last.year}"
    return f"{month(first)} {first.year} – {month(last)} {last.year}"


def quiet_span(run: Sequence[DigestEntry]) -> str:
    """The dates a run of consecutive windows (oldest first) covers, in words."""
    first, _ = window_dates(run[0].period, run[0].key)
    _, after = window_dates(run[-1].period, run[-1].key)
    last = after - dt.timedelta(days=1)
    return month_span(first, last) if run[0].period == "monthly" else day_span(first, last)


def _foldable(entry: DigestEntry) -> bool:
    """A quiet, complete window. A partial one is not folded: its window may still see work."""
    return entry.quiet and not entry.partial


def fold_quiet(entries: Iterable[DigestEntry]) -> list[list[DigestEntry]]:
    """The entries of one period, oldest first, in groups: each run of foldable entries whose
    windows follow one another without a gap is one group (a missing digest breaks a run:
    Sparky cannot say that its window was quiet); every other entry is a group of its own."""
    groups: list[list[DigestEntry]] = []
    for entry in sorted(entries, key=lambda e: e.key):
        if groups and _foldable(entry) and _foldable(groups[-1][-1]):
            previous = groups[-1][-1]
            if window_dates(previous.period, previous.key)[1] == dt.date.fromisoformat(entry.key):
                groups[-1].append(entry)
                continue
        groups.append([entry])
    return groups


def _index_item(group: Sequence[DigestEntry], site_url: str | None) -> str:
    """One list item: a run of quiet windows as their dates and "no activity" (one quiet digest
    linked), any other digest as `[title](link)`, its **partial** mark and summary."""
    entry = group[0]
    if _foldable(entry):
        span = md_text(quiet_span(group))
        shown = span if len(group) > 1 else f"[{span}]({entry_link(entry, site_url)})"
        return f"- {shown}: {QUIET_TEXT}"
    item = f"- [{md_text(entry.title)}]({entry_link(entry, site_url)})"
    if entry.partial:
        item += " (**partial**)"
    if entry.summary:
        item += f": {md_text(entry.summary)}"
    return item


def render_index(entries: Iterable[DigestEntry], *, org: str, site_url: str | None = None) -> str:
    """`output/index.md`: a title, then Monthly, Weekly and Daily sections (empty ones left out),
    newest key first, each digest a list item `[title](link)`, its summary and a **partial**
    mark; runs of quiet windows fold into one line ("1-20 Oct 2026: no activity", an en dash).
    Links are `entry_link`s, built from validated keys only."""
    by_period: dict[Period, list[DigestEntry]] = {p: [] for p in PERIODS}
    for entry in entries:
        by_period[entry.period].append(entry)
    lines = [f"# Sparky digests: {md_text(org)}", ""]
    if not any(by_period.values()):
        lines += ["No digests yet.", ""]
    for period in INDEX_ORDER:
        if not by_period[period]:
            continue
        lines += [f"## {SECTION_TITLES[period]}", ""]
        lines += [_index_item(g, site_url) for g in reversed(fold_quiet(by_period[period]))]
        lines.append("")
    return "\n".join(lines)


# --- the Atom feed ----------------------------------------------------------------------------


def tag_uri(org: str, specific: str) -> str:
    """A `tag:` URI (RFC 4151): `tag:sparky,2025:<org>/<specific>`, percent-encoded. The date is
    fixed, never the clock's, so the same org and specific always give the same id."""
    return f"tag:{TAG_AUTHORITY},{TAG_DATE}:{quote(org, safe='')}/{quote(specific, safe='/')}"


def entry_id(org: str, period: Period, key: str) -> str:
    """An entry's id: from org, period and key only, so it survives content changes."""
    return tag_uri(org, f"{period}/{key}")


def rfc3339(instant: dt.datetime) -> str:
    """`2026-11-28T00:00:00Z`: UTC, whole seconds."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _url(site_url: str | None, path: str) -> str:
    if site_url is None:
        return path
    return checked_site_url(site_url) + "/" + path


# markdown-it-py's CommonMark with GFM tables. html=False: raw HTML in a digest is shown as text,
# never passed through (https://markdown-it-py.readthedocs.io/en/latest/security.html); its
# default validateLink drops javascript:, vbscript:, file: and data: (but images') links.
_HTML = MarkdownIt("commonmark", {"html": False}).enable("table")
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _published(href: str, base: str) -> str:
    """A relative link of a digest made absolute against the published digest's URL `base`,
    a `.md` target renamed to PUBLISHED_SUFFIX as the site serves it (`../metrics.md#x` ->
    `<site>/metrics.html#x`); absolute links unchanged."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return href
    path = parts.path
    if path.endswith(".md"):
        path = path.removesuffix(".md") + PUBLISHED_SUFFIX
    return urljoin(base, urlunsplit(("", "", path, parts.query, parts.fragment)))


def digest_html(markdown: str, *, base: str | None = None) -> str:
    """A digest's markdown (front matter removed) as HTML for an Atom `content type="html"`:
    CommonMark and tables by markdown-it-py, raw HTML escaped, characters XML forbids dropped.
    With `base` (the published digest's absolute URL), relative links and images point into
    the published site."""
    tokens = _HTML.parse(markdown)
    if base is not None:
        for token in tokens:
            for child in token.children or []:
                for attr in ("href", "src"):
                    value = child.attrGet(attr)
                    if isinstance(value, str):
                        child.attrSet(attr, _published(value, base))
    return _NOT_XML.sub("", _HTML.renderer.render(tokens, _HTML.options, {}))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def feed_order(entries: Iterable[DigestEntry]) -> list[DigestEntry]:
    """Newest `updated` first; ties: newer key first, then monthly, weekly, daily."""
    rank = {p: i for i, p in enumerate(PERIODS)}
    return sorted(entries, key=lambda e: (e.updated, e.key, rank[e.period]), reverse=True)


def render_feed(
    entries: Sequence[DigestEntry],
    *,
    org: str,
    feed_id: str,
    site_url: str | None,
    limit: int = FEED_LIMIT,
    feed_path: str = "feed.xml",
) -> str:
    """An Atom 1.0 feed of the newest `limit` digests, as UTF-8 XML text with its declaration.

    `feed_id` is the feed's permanent id (e.g. `tag_uri(org, "digests")`). `site_url` is where
    the output folder is published; with it, links are absolute (`entry_link`) and the feed has
    a `self` link to `site_url/feed_path`, without it links are the relative digest paths. Each
    entry's summary is the first screen's bullets (else the headline), its content the digest
    as HTML (`digest_html`).
    """
    if limit < 0:
        raise ValueError("limit must be 0 or more")
    newest = feed_order(entries)
    org_text = plain_text(org)
    # Unqualified tags under an explicit default namespace: no global register_namespace.
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", plain_text(feed_id))
    _sub(feed, "title", f"Sparky digests: {org_text}", type="text")
    _sub(feed, "updated", rfc3339(newest[0].updated if newest else EPOCH))
    author = _sub(feed, "author")
    _sub(author, "name", "Sparky")
    if site_url is not None:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=_url(site_url, feed_path))
    _sub(feed, "generator", "Sparky", version=__version__)
    for entry in newest[:limit]:
        item = _sub(feed, "entry")
        _sub(item, "id", entry_id(org, entry.period, entry.key))
        title = entry.title + (" (partial)" if entry.partial else "")
        _sub(item, "title", title, type="text")
        _sub(item, "updated", rfc3339(entry.updated))
        link = entry_link(entry, site_url)
        kind = "text/markdown" if site_url is None else "text/html"
        _sub(item, "link", rel="alternate", type=kind, href=link)
        summary = "\n".join(entry.first_screen) or entry.summary
        if summary:
            _sub(item, "summary", summary, type="text")
        if entry.markdown.strip():
            html = digest_html(entry.markdown, base=None if site_url is None else link)
            # xml:base (allowed on any Atom element, RFC 4287 section 2): a reader resolves the
            # digest's relative links against the digest's own address, also without site_url.
            _sub(item, "content", html, type="html", **{f"{{{XML_NS}}}base": link})
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True).decode("utf-8") + "\n"


_DIGEST_PATH = re.compile(r"(?:^|/)(daily|weekly|monthly)/(\d{4}-\d{2}-\d{2})\.(?:md|json)$")


def commit_message(changed: Sequence[str]) -> str:
    """`digest: <period> <key>` for the changed paths of a publish (several keys of a period
    are listed, a long run as FIRST...LAST); `digest: index` when only the index, feed or
    definitions changed."""
    keys: dict[str, set[str]] = {}
    for path in changed:
        m = _DIGEST_PATH.search(path)
        if m:
            keys.setdefault(m.group(1), set()).add(m.group(2))
    if not keys:
        return "digest: index"
    parts = []
    for period in PERIODS:
        found = sorted(keys.get(period, ()))
        if not found:
            continue
        listed = ", ".join(found) if len(found) <= 3 else f"{found[0]}...{found[-1]} ({len(found)})"
        parts.append(f"{period} {listed}")
    return "digest: " + "; ".join(parts)
