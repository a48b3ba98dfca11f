"""The first screen of a digest: its title, what shipped, what needs attention, one stat line.

Written as markdown lines here (not in the template) so that its length is known: it must fit
`MAX_LINES` whatever the window held, so themes name fewer items, then fewer themes, until it
does. The same content as plain sentences is the sidecar's `first_screen`, which the feed and
delivery targets show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from sparky_assets.lib.sanitize import md_text, plain_text
from sparky_assets.lib.shipped import AttentionItem, Shipped, ShippedChange, ShippedRelease
from sparky_assets.lib.window import Change, WindowMetrics
from sparky_resources.clock import Period, window_dates

MAX_LINES = 40  # the first screen, title to stat line
MAX_RELEASES = 3
MAX_ATTENTION = 5
TITLE_CHARS = 100  # a change's title on the first screen (the full one is a click away)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)  # fmt: skip  (English from a table: strftime's %B follows the machine's locale)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


SafeUrl = Callable[[str | None], str | None]  # a URL as it may be linked, or None


class FirstScreen(BaseModel):
    markdown: list[str]  # lines, title first
    bullets: list[str] = Field(default_factory=list)  # plain text, for the feed and chat


def _day(d: dt.date, *, month: bool = True, year: bool = True) -> str:
    text = f"{d.day}"
    if month:
        text += f" {MONTHS[d.month - 1][:3]}"
    if year:
        text += f" {d.year}"
    return text


def window_title(period: Period, key: str, timezone: str | None = None) -> str:
    """The window in plain words: "Monday 28 Oct 2024", "Week of 28 Oct \u2013 3 Nov 2024",
    "October 2024", with ", <timezone>" when given."""
    first, end = window_dates(period, key)
    last = end - dt.timedelta(days=1)
    if period == "daily":
        text = f"{DAYS[first.weekday()]} {_day(first)}"
    elif period == "weekly":
        same_year = first.year == last.year
        same_month = same_year and first.month == last.month
        text = f"Week of {_day(first, month=not same_month, year=not same_year)} – {_day(last)}"
    else:
        text = f"{MONTHS[first.month - 1]} {first.year}"
    return f"{text}, {timezone}" if timezone else text


def _link(text: str, url: str | None) -> str:
    return f"[{md_text(text)}]({url})" if url else md_text(text)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _days(age: float | None) -> str:
    if age is None:
        return ""
    n = max(int(age), 1) if age >= 1 else 0
    return "under a day" if n == 0 else _plural(n, "day")


def _change_notes(c: ShippedChange, *, author: bool) -> list[str]:
    notes = []
    if c.author and author:
        notes.append(c.author)
    if c.lines is not None:
        notes.append(_plural(c.lines, "line"))
    if c.breaking:
        notes.append("breaking change")
    if c.revert:
        notes.append("revert")
    if c.first_time:
        notes.append("first-time author")
    return notes


def _change(
    c: ShippedChange, safe_url: SafeUrl, *, author: bool = True, repo: bool = True
) -> tuple[str, str]:
    """A change's line: its reference (a commit's repository left out where the window has
    one), title, and notes (the author left out where one person made every change named)."""
    sha = (c.sha or "")[:7]
    ref = f"{c.repo}#{c.number}" if c.number else (f"{c.repo} {sha}" if repo else sha)
    url = safe_url(c.url)
    notes = _change_notes(c, author=author)
    joined = " · ".join(notes)
    title = _short(c.title)
    return (
        f"{_link(ref, url)} {md_text(title)}" + (f" · {md_text(joined)}" if notes else ""),
        f"{ref} {plain_text(title)}" + (f" · {plain_text(joined)}" if notes else ""),
    )


def _short(text: str, limit: int = TITLE_CHARS) -> str:
    """A title cut at a word to fit one line of the first screen."""
    text = plain_text(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _release(r: ShippedRelease, safe_url: SafeUrl) -> tuple[str, str]:
    ref = f"{r.repo} {r.tag}"
    url = safe_url(r.url)
    words = r.notes or (r.name if r.name and r.name != r.tag else None)
    pre = " (pre-release)" if r.prerelease else ""
    md_tail = f": {md_text(words)}" if words else ""
    plain_tail = f": {plain_text(words)}" if words else ""
    return f"{_link(ref, url)}{pre}{md_tail}", f"Released {ref}{pre}{plain_tail}"


def _attention(a: AttentionItem, safe_url: SafeUrl) -> tuple[str, str]:
    ref = f"{a.repo}#{a.number}"
    url = safe_url(a.url)
    if a.kind == "review":
        why = f"waiting {_days(a.age_days)} for a first review"
    elif a.kind == "answer":
        why = f"no answer after {_days(a.age_days)}"
    else:
        why = "merged: a change was taken back"
    return (
        f"{_link(ref, url)} {md_text(a.title)}: {why}",
        f"{ref} {plain_text(a.title)}: {why}",
    )


def fmt_delta(change: Change | None) -> str:
    """ "▲ 12", "▼ 3", "= 0", "" when unknown."""
    if change is None or change.absolute is None:
        return ""
    if change.absolute == 0:
        return "="
    arrow = "▲" if change.absolute > 0 else "▼"
    value = abs(change.absolute)
    shown = f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{arrow} {shown}"


def stat_line(m: WindowMetrics, unit: str) -> tuple[str, str]:
    """Commits, pull requests merged, issues closed and people active, each with its change
    against the previous window; GitHub's figures only where GitHub was collected."""
    parts: list[tuple[int, str, str]] = [(m.commits, "commit", "commits")]
    if m.prs_merged is not None:
        parts.append((m.prs_merged, "pull request merged", "prs_merged"))
    if m.issues_closed is not None:
        parts.append((m.issues_closed, "issue closed", "issues_closed"))
    people = m.human_contributors
    parts.append((people, "person active", "human_contributors"))
    md_parts, plain_parts = [], []
    for value, words, name in parts:
        label = words if value == 1 else _plural_words(words)
        delta = fmt_delta(m.change.get(name))
        tail = f" ({delta})" if delta else ""
        md_parts.append(f"**{value:,}** {label}{tail}")
        plain_parts.append(f"{value:,} {label}{tail}")
    since = f" · change against the previous {unit}" if m.previous_partition else ""
    return " · ".join(md_parts) + since, " · ".join(plain_parts)


def _plural_words(words: str) -> str:
    return {
        "commit": "commits",
        "pull request merged": "pull requests merged",
        "issue closed": "issues closed",
        "person active": "people active",
    }[words]


def _themes_lines(
    shipped: Shipped, per_theme: int, max_themes: int, safe_url: SafeUrl
) -> tuple[list[str], list[str], int]:
    """Markdown and plain lines of the themes, and how many changes they name."""
    md_lines: list[str] = []
    plain: list[str] = []
    named = 0
    shown = shipped.themes[:max_themes]
    named_items = [c for t in shown for c in t.items[:per_theme]]
    many_authors = len({c.author for c in named_items}) > 1
    many_repos = len({r for t in shipped.themes for r in t.repos}) > 1
    for t in shown:
        repos = ", ".join(f"{r} {n}" for r, n in list(t.repos.items())[:3])
        more_repos = f", {len(t.repos) - 3} more" if len(t.repos) > 3 else ""
        if len(t.repos) > 1:
            where = f" ({repos}{more_repos})"
        else:  # one repository: named only where the window has others
            where = f" ({next(iter(t.repos))})" if many_repos else ""
        md_lines.append(
            f"- **{md_text(t.name)}** · {t.count:,}{' ' + md_text(where.strip()) if where else ''}"
        )
        items = t.items[:per_theme]
        named += len(items)
        lines = [_change(c, safe_url, author=many_authors, repo=many_repos) for c in items]
        md_lines += [f"  - {md}" for md, _ in lines]
        plain.append(f"{t.name}: {t.count:,}{where}: " + "; ".join(p for _, p in lines))
    rest = shipped.themes[max_themes:]
    if rest:
        summary = ", ".join(f"{t.name} {t.count:,}" for t in rest)
        md_lines.append(f"- Also: {md_text(summary)}")
        plain.append(f"Also: {summary}")
    return md_lines, plain, named


def first_screen(
    *,
    title: str,
    notices: Sequence[str],
    m: WindowMetrics,
    unit: str,
    quiet: bool,
    safe_url: SafeUrl,
    search_url: str | None,
) -> FirstScreen:
    """The first screen's lines (markdown) and bullets (plain). `notices` are markdown lines
    (partial or incomplete window) shown under the title."""
    head = [f"# {md_text(title)}", ""]
    for n in notices:
        head += [n, ""]
    if quiet:
        words = "No activity: no commits" + (
            ", pull requests, issues or releases." if m.prs_opened is not None else "."
        )
        return FirstScreen(markdown=[*head, words], bullets=[words])
    shipped = m.shipped
    stat_md, stat_plain = stat_line(m, unit)
    tail = ["", stat_md]
    attention_md: list[str] = []
    attention_plain: list[str] = []
    if shipped is not None and shipped.source == "clones" and not shipped.attention:
        # Said, not left out: a reader must not take silence for "nothing is waiting".
        attention_md = ["", "_Pull requests waiting for review and unanswered issues are not "
                        "known: GitHub was not read for this digest._"]  # fmt: skip
    if shipped is not None and (shipped.source == "github" or shipped.attention):
        attention_md = ["", "## Needs attention", ""]
        if shipped.attention:
            items = [_attention(a, safe_url) for a in shipped.attention[:MAX_ATTENTION]]
            attention_md += [f"- {md}" for md, _ in items]
            attention_plain = [f"Needs attention: {p}" for _, p in items]
            if shipped.attention_total > len(items):
                attention_md.append(f"- …and {shipped.attention_total - len(items):,} more")
        else:
            attention_md.append("Nothing new needs attention.")

    shipped_md = ["## What shipped", ""]
    plain: list[str] = []
    if shipped is None or (not shipped.merged and not shipped.releases):
        shipped_md.append(
            f"No {shipped.unit} was merged and nothing was released."
            if shipped is not None
            else "Not known: this window was measured before Sparky read what shipped."
        )
        lines = [*head, *shipped_md, *attention_md, *tail]
        return FirstScreen(markdown=lines, bullets=[*attention_plain, stat_plain])

    rel_md: list[str] = []
    if shipped.releases:
        rels = [_release(r, safe_url) for r in shipped.releases[:MAX_RELEASES]]
        rel_md.append("- **Releases**")
        rel_md += [f"  - {md}" for md, _ in rels]
        plain += [p for _, p in rels]
        if len(shipped.releases) > MAX_RELEASES:
            rel_md.append(f"  - …and {len(shipped.releases) - MAX_RELEASES:,} more")
    bots_md: list[str] = []
    a = shipped.automated
    if a.count:
        what = (
            "dependency update" if a.dependency_updates == a.count else f"automated {shipped.unit}"
        )
        who = _names(a.bots)
        line = f"{_plural(a.count, what)} by {who}"
        bots_md.append(f"- {md_text(line)}")
        plain.append(line)

    people = sum(t.count for t in shipped.themes)
    fixed = len(head) + len(shipped_md) + len(rel_md) + len(bots_md) + 1  # + the N-of-M line
    fixed += len(attention_md) + len(tail)
    chosen: tuple[list[str], list[str], int] = ([], [], 0)
    for max_themes in (len(shipped.themes), 5, 4, 3, 2, 1):
        for per_theme in (3, 2, 1):
            chosen = _themes_lines(shipped, per_theme, max_themes, safe_url)
            if fixed + len(chosen[0]) <= MAX_LINES:
                break
        else:
            continue
        break
    themes_md, themes_plain, named = chosen
    plain = plain[:MAX_RELEASES] + themes_plain + plain[MAX_RELEASES:]
    listed = named
    count_md: list[str] = []
    if shipped.merged:
        whole = listed + a.count >= shipped.merged and people == listed
        if not whole:
            merged = "commit" if shipped.unit == "commit" else "merged pull request"
            link = f": [all on GitHub]({search_url})" if search_url else ""
            count_md.append(f"- Named here: {listed:,} of {_plural(shipped.merged, merged)}{link}")
    lines = [*head, *shipped_md, *rel_md, *themes_md, *bots_md, *count_md, *attention_md, *tail]
    return FirstScreen(markdown=lines, bullets=[*plain, *attention_plain, stat_plain])


def _names(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names) or "bots"
    return f"{', '.join(names[:2])} and {len(names) - 2} more"
