"""The digests' index page (`output/index.md`) and Atom feed, from the digests on disk.

Pure functions, no Dagster: `scan_digests` reads `output/{daily,weekly,monthly}/<key>.md` (and
the `.json` sidecar next to each), `render_index` writes the markdown index, `render_feed` an
Atom 1.0 feed (RFC 4287).

Choices, so that the outputs are stable and safe:

- Files. Only `<period>/<key>.md` whose key is a valid partition key for the period (any date
  for daily, a Monday for weekly, the first of a month for monthly) is a digest; anything else
  in those folders (`.gitkeep`, temp files, `index.md`, `notes.md`) is ignored silently. A digest
  file that cannot be used (unreadable, no or invalid YAML front matter, front matter whose
  `period`/`date` disagree with the file's place, an unparseable `updated`) is skipped: the
  reason is logged at WARNING and, when the caller passes a `skipped` list, appended to it.
- Title, path, link target and Atom ids are built from the validated period and key only, never
  from text inside a digest.
- `updated` is never a file's mtime (it differs between clones and checkouts). In order: the
  front matter's `updated`; for a partial digest, the sidecar's `coverage.collected_at`; the
  sidecar's `coverage.window_end` (the window's real end in the org's timezone); else the end of
  the window at 00:00 UTC (the day after a daily key, the Monday after a weekly key, the first
  of the next month). Re-running on unchanged digests therefore gives the same index and feed,
  and a partial day (collected before the window ended) is older than its full re-run.
- `partial`: the front matter's `partial` when present; else true when the sidecar's coverage
  was collected before its window ended (the daily template shows this as a note, not in the
  front matter); else false.
- `summary`: the sidecar's `insights.headline` (reduced from inert markdown to plain text when
  `insights.text_format` is "markdown"), else the page's first bold line, as one line of plain
  text (`sanitize.plain_text`) of at most SUMMARY_MAX characters.
- Index order: Monthly, Weekly, Daily (the broad view first; empty periods left out), newest
  key first within each. Every text from a digest goes through `sanitize.md_text`.
- Feed: built with `xml.etree.ElementTree` (escaping by the library); ids are `tag:` URIs
  (RFC 4151) with a fixed date, `tag:sparky,2025:<org>/<period>/<key>`, so an entry keeps its
  id when its content changes. Entries newest `updated` first (ties: newer key, then Monthly,
  Weekly, Daily), at most `limit`. Text is plain text (`type="text"`): no HTML reaches a reader.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from xml.etree import ElementTree as ET

import yaml
from pydantic import AwareDatetime, BaseModel, computed_field, field_validator, model_validator

from sparky_assets import __version__
from sparky_assets.lib.sanitize import md_text, plain_text
from sparky_assets.lib.window import window_dates

log = logging.getLogger(__name__)

Period = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly")
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
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def valid_key(period: str, key: str) -> bool:
    """Whether `key` is a partition key of `period` (YYYY-MM-DD; Monday; first of month)."""
    if period not in PERIODS or not _KEY.fullmatch(key):
        return False
    try:
        window_dates(period, key)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def digest_title(period: Period, key: str) -> str:
    """A digest's title from its period and key: "Daily digest: 2026-11-27", "Weekly digest:
    week of 2026-11-23", "Monthly digest: November 2026" (English month names, any locale)."""
    if period == "daily":
        return f"Daily digest: {key}"
    if period == "weekly":
        return f"Weekly digest: week of {key}"
    day = dt.date.fromisoformat(key)
    return f"Monthly digest: {_MONTHS[day.month - 1]} {day.year}"


def window_end_utc(period: Period, key: str) -> dt.datetime:
    """The first day after the window, at 00:00 UTC."""
    _, after = window_dates(period, key)
    return dt.datetime.combine(after, dt.time(), tzinfo=dt.UTC)


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


# --- inline markdown to plain text ------------------------------------------------------------

_ASCII_PUNCT = re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_INLINE = re.compile(
    rf"\\(?P<esc>[{_ASCII_PUNCT}])"  # backslash escape
    r"|!?\[(?P<label>(?:\\.|[^\]\\])*)\]\((?P<dest>[^)\s]*)\)"  # link or image
    r"|<(?P<auto>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*)>"  # autolink
    r"|(?P<mark>\*+|_+|`+)"  # emphasis or code span markers
)


def markdown_plain(text: str) -> str:
    """Inline markdown as the plain text it shows: escapes undone, links reduced to their text,
    autolinks to their URL, emphasis and code markers dropped, then `sanitize.plain_text`
    (which also drops the word joiners that md_text inserts)."""

    def repl(m: re.Match[str]) -> str:
        if m.group("esc") is not None:
            return m.group("esc")
        if m.group("label") is not None:
            return markdown_plain(m.group("label")) or m.group("dest")
        if m.group("auto") is not None:
            return m.group("auto")
        return ""

    return plain_text(_INLINE.sub(repl, text))


# --- scanning ---------------------------------------------------------------------------------

_BOLD_LINE = re.compile(r"\*\*(.+)\*\*")


class _Skip(Exception):
    pass


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (a mapping) and the body after it."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise _Skip("no front matter (the file does not start with '---')")
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n") == "---":
            block, body = "".join(lines[1:i]), "".join(lines[i + 1 :])
            break
    else:
        raise _Skip("front matter is not closed by '---'")
    try:
        loaded = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise _Skip(f"front matter is not valid YAML: {plain_text(exc)}") from None
    if not isinstance(loaded, dict):
        raise _Skip("front matter is not a mapping")
    return loaded, body


def _instant(value: Any, what: str) -> dt.datetime:
    """An aware datetime from YAML (a timestamp) or JSON (an ISO string); naive means UTC (as
    YAML's timestamps without an offset do)."""
    if isinstance(value, dt.datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _Skip(f"{what} is not an ISO 8601 date-time: {plain_text(value)!r}") from None
    else:
        raise _Skip(f"{what} is not a date-time")
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


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
    for line in body.splitlines():
        bold = _BOLD_LINE.fullmatch(line.strip())
        if bold:
            return markdown_plain(bold.group(1))
    return ""


def _coverage_times(sidecar: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The sidecar's coverage (collected_at, window_end), each None when absent or invalid."""
    coverage = sidecar.get("coverage")
    times: list[dt.datetime | None] = []
    for name in ("collected_at", "window_end"):
        value = coverage.get(name) if isinstance(coverage, dict) else None
        try:
            times.append(_instant(value, name) if value is not None else None)
        except _Skip:
            times.append(None)
    return times[0], times[1]


def _read_entry(period: Period, key: str, path: Path) -> DigestEntry:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Skip(f"unreadable: {plain_text(exc)}") from None
    front, body = _front_matter(text)
    if "period" in front and front["period"] != period:
        raise _Skip(f"front matter says period {plain_text(front['period'])!r}")
    if "date" in front and str(front["date"]) != key:
        raise _Skip(f"front matter says date {plain_text(front['date'])!r}")
    sidecar = _sidecar(path)
    collected_at, window_end = _coverage_times(sidecar)
    covered_partial = (
        collected_at is not None and window_end is not None and collected_at < window_end
    )
    if "partial" in front:
        if not isinstance(front["partial"], bool):
            raise _Skip("front matter 'partial' is not true or false")
        partial: bool = front["partial"]
    else:
        partial = covered_partial
    if front.get("updated") is not None:
        updated = _instant(front["updated"], "front matter 'updated'")
    elif partial and covered_partial and collected_at is not None:
        updated = collected_at
    elif window_end is not None:
        updated = window_end
    else:
        updated = window_end_utc(period, key)
    return DigestEntry(
        period=period,
        key=key,
        updated=updated,
        summary=_headline(sidecar, body),
        partial=partial,
    )


def scan_digests(
    output_dir: Path, *, skipped: list[SkippedFile] | None = None
) -> list[DigestEntry]:
    """Every digest under `output_dir/{daily,weekly,monthly}/`, in period order (daily, weekly,
    monthly), oldest key first. Files whose names are not `<valid key>.md` are ignored; digest
    files that cannot be used are logged and, when `skipped` is given, appended to it."""
    entries: list[DigestEntry] = []
    for period in PERIODS:
        folder = output_dir / period
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix != ".md" or not valid_key(period, path.stem) or not path.is_file():
                continue
            try:
                entries.append(_read_entry(period, path.stem, path))
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
    for period in ("daily", "weekly", "monthly"):
        found = sorted(keys.get(period, ()))
        if not found:
            continue
        listed = ", ".join(found) if len(found) <= 3 else f"{found[0]}...{found[-1]} ({len(found)})"
        parts.append(f"{period} {listed}")
    return "digest: " + "; ".join(parts)
