"""The digests' index page (`output/index.md`) and Atom feed, from the digests on disk.

Pure functions, no Dagster: `scan_digests` reads what Sparky wrote next to each
`output/{daily,weekly,monthly}/<key>.md`, its `.json` sidecar (`render.digest_sidecar`), and
the YAML front matter at the top of the markdown; `render_index` writes the markdown index,
`render_feed` an Atom 1.0 feed (RFC 4287). The rendered markdown itself is read only for a
digest whose sidecar has no headline (one written by hand, or before sidecars had one).

Choices, so that the outputs are stable and safe:

- Files. Only `<period>/<key>.md` whose key is a valid partition key for the period (any date
  for daily, a Monday for weekly, the first of a month for monthly) is a digest; anything else
  in those folders (`.gitkeep`, temp files, `index.md`, `notes.md`) is ignored silently. A digest
  file that cannot be used (unreadable, no or invalid YAML front matter, front matter or a
  sidecar whose `period`/`date`/`partition` disagree with the file's place, an unparseable
  `updated`) is skipped: the reason is logged at WARNING and, when the caller passes a `skipped`
  list, appended to it.
- Title, path, link target and Atom ids are built from the validated period and key only, never
  from text inside a digest. The title is `digest_view.digest_title`, the digest's own.
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
  read with markdown-it-py (CommonMark), never with regular expressions.
- Index order: Monthly, Weekly, Daily (the broad view first; empty periods left out), newest
  key first within each. Every text from a digest goes through `sanitize.md_text`.
- Feed: built with `xml.etree.ElementTree` (escaping by the library); ids are `tag:` URIs
  (RFC 4151) with a fixed date, `tag:sparky,2025:<org>/<period>/<key>`, so an entry keeps its
  id when its content changes. Entries newest `updated` first (ties: newer key, then Monthly,
  Weekly, Daily), at most `limit`. Text is plain text (`type="text"`): no HTML reaches a reader.
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
from urllib.parse import quote
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import AwareDatetime, BaseModel, computed_field, field_validator, model_validator

from sparky_assets import __version__
from sparky_assets.lib.digest_view import digest_title
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

_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    """One digest on disk. `title` and `path` are derived from the validated period and key."""

    period: Period
    key: str
    updated: AwareDatetime
    summary: str = ""
    partial: bool = False

    @field_validator("summary")
    @classmethod
    def _plain(cls, value: str) -> str:
        return shorten(plain_text(value))

    @model_validator(mode="after")
    def _valid_key(self) -> DigestEntry:
        if not valid_key(self.period, self.key):
            raise ValueError(f"{self.key!r} is not a {self.period} partition key")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def title(self) -> str:
        return digest_title(self.period, self.key)

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
    )


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


# --- the index page ---------------------------------------------------------------------------


def render_index(entries: Iterable[DigestEntry], *, org: str) -> str:
    """`output/index.md`: a title, then Monthly, Weekly and Daily sections (empty ones left out),
    newest key first, each digest a list item `[title](relative path)`, its summary and a
    **partial** mark. Link targets are `<period>/<key>.md`, from validated keys only."""
    by_period: dict[Period, list[DigestEntry]] = {p: [] for p in PERIODS}
    for entry in entries:
        by_period[entry.period].append(entry)
    lines = [f"# Sparky digests: {md_text(org)}", ""]
    if not any(by_period.values()):
        lines += ["No digests yet.", ""]
    for period in INDEX_ORDER:
        listed = sorted(by_period[period], key=lambda e: e.key, reverse=True)
        if not listed:
            continue
        lines += [f"## {SECTION_TITLES[period]}", ""]
        for entry in listed:
            item = f"- [{md_text(entry.title)}]({entry.period}/{entry.key}.md)"
            if entry.partial:
                item += " (**partial**)"
            if entry.summary:
                item += f": {md_text(entry.summary)}"
            lines.append(item)
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
    return plain_text(site_url).rstrip("/") + "/" + path


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
    the output folder is published; with it, links are absolute and the feed has a `self` link
    to `site_url/feed_path`, without it links are the relative digest paths.
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
        _sub(item, "link", rel="alternate", type="text/markdown", href=_url(site_url, entry.path))
        if entry.summary:
            _sub(item, "summary", plain_text(entry.summary), type="text")
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
