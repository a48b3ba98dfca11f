"""What a digest shows, worked out in Python so the templates only lay it out.

Numbers are formatted here (thousands separators, durations as people read them, "not
available" for a figure whose source was not collected: never 0), changes get their arrow (▲ up,
▼ down, = unchanged), links are only ever GitHub item URLs that match the shape GitHub gives
them, and the coverage of a week or month is summed up from its days' coverage files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from sparky_assets.lib.first_screen import FirstScreen, first_screen, window_title
from sparky_assets.lib.github_metrics import SIZE_NAMES, Durations
from sparky_assets.lib.insights import FactSheet
from sparky_assets.lib.sanitize import md_text
from sparky_assets.lib.shipped import search_url
from sparky_assets.lib.window import Change, WindowMetrics
from sparky_resources.clock import Period, window
from sparky_resources.models import Coverage, ListField

NOT_AVAILABLE = "not available"
LISTED = 10  # items per highlight or attention list
# A GitHub item URL as GitHub returns it: https://<host>/<owner>/<repo>/<kind>/<id>. Anything
# else (another scheme, quotes, spaces, parentheses) is not linked.
_ITEM_URL = re.compile(
    r"^https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/"
    r"(?:pull|issues|commit|releases/tag)/[A-Za-z0-9_.%+-]+$"
)
# Headline figures and how they read in the table, in order.
KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("commits", "Commits"),
    ("human_commits", "Commits by people (not bots)"),
    ("merges", "Merge commits"),
    ("active_contributors", "Active contributors"),
    ("human_contributors", "Active contributors, people"),
    ("new_contributors", "New contributors"),
    ("quiet_contributors", "Gone quiet"),
    ("lines_added", "Lines added"),
    ("lines_deleted", "Lines deleted"),
    ("files_changed", "Files changed"),
    ("active_repos", "Active repositories"),
    ("prs_opened", "Pull requests opened"),
    ("prs_merged", "Pull requests merged"),
    ("prs_closed_unmerged", "Pull requests closed unmerged"),
    ("prs_open_at_end", "Pull requests open at the end"),
    ("issues_opened", "Issues opened"),
    ("issues_closed", "Issues closed"),
    ("issues_open_at_end", "Issues open at the end"),
    ("releases", "Releases"),
    ("caf", "People who made half the commits (Contributor Absence Factor)"),
)
# docs/metrics.md section of each figure (the digest links every figure to its definition).
DOC_SECTION = {
    "commits": "activity",
    "human_commits": "activity",
    "merges": "activity",
    "active_contributors": "activity",
    "human_contributors": "activity",
    "lines_added": "activity",
    "lines_deleted": "activity",
    "files_changed": "activity",
    "active_repos": "activity",
    "new_contributors": "new-and-gone-quiet-contributors",
    "quiet_contributors": "new-and-gone-quiet-contributors",
    "prs_opened": "pull-requests",
    "prs_merged": "pull-requests",
    "prs_closed_unmerged": "pull-requests",
    "prs_open_at_end": "pull-requests",
    "issues_opened": "issues",
    "issues_closed": "issues",
    "issues_open_at_end": "issues",
    "releases": "releases",
    "caf": "risk",
}
GITHUB_FIGURES = frozenset(
    name
    for name, section in DOC_SECTION.items()
    if section in ("pull-requests", "issues", "releases")
)
METRICS_DOC = "../metrics.md"  # docs/metrics.md, published next to the digest folders


def metrics_doc(m: WindowMetrics) -> str:
    """The definitions' path from a digest: output/<period>/ or output/teams/<team>/<period>/."""
    return f"../../{METRICS_DOC}" if m.team else METRICS_DOC


def safe_url(url: str | None) -> str | None:
    return url if url and _ITEM_URL.match(url) else None


def fmt_number(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    return f"{text}{unit}"


def fmt_change(change: Change | None) -> str:
    """▲ +3 (+20.0%), ▼ \u22122 (\u221210.0%), = 0, ▲ +4 (was 0), or not available."""
    if change is None or change.absolute is None:
        return NOT_AVAILABLE
    if change.absolute == 0:
        return "= 0"
    arrow, sign = ("▲", "+") if change.absolute > 0 else ("▼", "\u2212")
    magnitude = fmt_number(abs(change.absolute))
    if change.percent is None:
        return f"{arrow} {sign}{magnitude} (was 0)"
    return f"{arrow} {sign}{magnitude} ({sign}{abs(change.percent):.1f}%)"


class Row(BaseModel):
    label: str
    value: str
    change: str


class Item(BaseModel):
    """One line of a list: a linked reference and plain text around it (escaped later)."""

    ref: str
    url: str | None
    text: str
    note: str = ""


class Duration(BaseModel):
    label: str
    count: int
    median: str
    p90: str


class RepoLine(BaseModel):
    repo: str
    status: str  # "collected", "not collected", or "collected on N of M days"
    detail: str = ""


class TrendRow(BaseModel):
    label: str  # the window, in words
    values: list[str]  # the trend's figures, in TREND order


# Figures of the trend table (weekly and monthly digests): name, column heading.
TREND: tuple[tuple[str, str], ...] = (
    ("commits", "Commits"),
    ("prs_merged", "Pull requests merged"),
    ("human_contributors", "People active"),
)
TREND_WINDOWS = 8
UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}


class DigestView(BaseModel):
    title: str
    first: FirstScreen
    window: str
    quiet: bool  # nothing happened: a short digest
    partial: str | None  # why the window is not complete, or None
    # Re-running the partition later completes it (False when what is missing are days before
    # [sparky].start_date: no run ever collects those).
    rematerialize: bool = True
    # A source this window should have come from and did not (GitHub unreachable, a clone that
    # could not be read): said above the headline, since "no commits" may only mean "not read".
    incomplete: str | None = None
    rows: list[Row]
    newcomers: ListField[str]
    review: ListField[Duration]
    stale_prs: ListField[Item]
    old_issues: ListField[Item]
    chart_labels: ListField[str]
    chart_values: ListField[int]
    chart_missing: ListField[str]
    repos: ListField[RepoLine]
    days_collected: str
    github: str  # how GitHub was collected for the window, in words
    doc_links: ListField[tuple[str, str]]  # definitions shown
    newcomers_label: str = "New contributors"  # or "New since <date>" where history is short
    review_signals: ListField[str]  # merged without review, reviewers, size mix, close reasons
    trend_columns: ListField[str]
    trend: ListField[TrendRow]
    contributors_total: int = 0  # top contributors: "N of M"


def digest_title(period: Period, key: str, timezone: str | None = None) -> str:
    """A digest's title from its period and key, the same in the digest and the index: the
    window in plain words ("Week of 28 Oct \u2013 3 Nov 2024, America/New_York")."""
    return window_title(period, key, timezone)  # ValueError for a key not of `period`


def human_duration(hours: float | None) -> str:
    """A duration as people read it: "45 min", "3 h 20 min", "2 d 7 h" (a p90 of 14,644.3 h
    reads "610 d 4 h"). Minutes are rounded under a day, hours from a day on."""
    if hours is None:
        return NOT_AVAILABLE
    minutes = round(hours * 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(round(hours), 24)
    return f"{d:,} d {h} h" if h else f"{d:,} d"


def _durations(m: WindowMetrics) -> list[Duration]:
    """Review health: pull requests' and issues' response and completion times."""
    pairs: list[tuple[str, Durations]] = []
    if m.pull_requests is not None:
        p = m.pull_requests
        pairs += [
            ("Pull requests: time to first response", p.time_to_first_response),
            ("Pull requests: time to first review", p.time_to_first_review),
            ("Pull requests: time to merge", p.time_to_merge),
        ]
    if m.issues is not None:
        pairs += [
            ("Issues: time to first response", m.issues.time_to_first_response),
            ("Issues: time to close", m.issues.time_to_close),
        ]
    return [
        Duration(
            label=label,
            count=d.count,
            median=human_duration(d.median_h),
            p90=human_duration(d.p90_h),
        )
        for label, d in pairs
    ]


def _open_items(items: Sequence[Any]) -> list[Item]:
    return [
        Item(
            ref=f"{i.repo}#{i.number}",
            url=safe_url(i.url),
            text=i.title,
            note=f"open {i.age_days:,.0f} days",
        )
        for i in items[:LISTED]
    ]


def _coverage_lines(coverages: Sequence[Coverage]) -> list[RepoLine]:
    """Per repository: collected on every collected day, or which days failed and why."""
    seen: dict[str, dict[str, Any]] = {}
    for c in coverages:
        for r in c.repos:
            entry = seen.setdefault(r.repo, {"ok": 0, "failed": [], "error": None, "cov": r})
            if r.status == "ok":
                entry["ok"] += 1
                entry["cov"] = r
            else:
                entry["failed"].append(c.partition)
                entry["error"] = r.error
    lines = []
    for repo in sorted(seen):
        e = seen[repo]
        if not e["failed"]:
            lines.append(RepoLine(repo=repo, status="collected"))
        elif not e["ok"]:
            lines.append(RepoLine(repo=repo, status="not collected", detail=e["error"] or ""))
        else:
            lines.append(
                RepoLine(
                    repo=repo,
                    status=f"collected on {e['ok']} of {e['ok'] + len(e['failed'])} days",
                    detail=f"not on {', '.join(e['failed'])}: {e['error'] or 'unknown error'}",
                )
            )
    return lines


def _incomplete(period: str, coverages: Sequence[Coverage]) -> str | None:
    """What the window's figures leave out because a source failed when its days were
    collected, in words; None when every source was read."""
    parts = []
    github_days = sorted({c.partition for c in coverages if c.github_error})
    if github_days:
        when = (
            "when this day was collected"
            if period == "daily"
            else f"when {len(github_days)} of its days were collected ({', '.join(github_days)})"
        )
        parts.append(
            f"GitHub could not be reached {when}, so its pull requests, issues, releases and "
            "commits are missing"
        )
    failed = sorted({r.repo for c in coverages for r in c.failed})
    if failed:
        more = f" and {len(failed) - LISTED} more" if len(failed) > LISTED else ""
        shown = ", ".join(failed[:LISTED]) + more
        parts.append(f"{len(failed)} local clone(s) could not be read ({shown})")
    if not parts:
        return None
    return "; ".join(parts) + ". Re-materialize this partition once that is fixed"


def _partial(
    period: str,
    days: Sequence[str],
    collected: int,
    coverages: Sequence[Coverage],
    start_date: dt.date | None,
) -> tuple[str | None, bool]:
    """Why the window is not complete (None when it is), and whether a later re-run helps."""
    early = [c for c in coverages if c.is_partial]
    if early:
        return f"collected at {early[-1].collected_at}, before the window ended", True
    total = len(days) or 1
    if period == "daily" or collected >= total:
        return None, True
    start = f"{start_date:%Y-%m-%d}" if start_date else ""
    before = sorted(d for d in days if start and d < start)
    if not before:
        return f"{collected} of {total} days collected so far", True
    span = before[0] if len(before) == 1 else f"{before[0]} ... {before[-1]}"
    never = (
        f"{span} {'is' if len(before) == 1 else 'are'} before [sparky].start_date {start} "
        "and will never be collected"
    )
    if collected + len(before) < total:  # some days after start_date are still to come
        return f"{collected} of {total} days collected so far; {never}", True
    return f"{collected} of {total} days collected: {never}", False


def digest_view(
    facts: FactSheet,
    m: WindowMetrics,
    coverages: Sequence[Coverage],
    *,
    github_org: str | None = None,
    start_date: dt.date | None = None,
    timezone: str | None = None,
    trend: Sequence[tuple[str, WindowMetrics | None]] = (),
) -> DigestView:
    """The digest's content for `facts`' window; `m` is its metrics as `WindowMetrics` (the
    caller upgrades a daily file written before the window metrics). `start_date` is
    `[sparky].start_date`: a window's days before it are never collected, and the digest says so
    instead of advising a later re-run. `trend` is the previous windows' (key, metrics), oldest
    first (None where a window was not measured), for the trend table."""
    # GitHub's rows are left out where GitHub was not collected at all (the coverage says so);
    # where it was collected for only some days they read "not available".
    github_rows = m.github_available or (m.github_note or "").startswith("GitHub was collected")
    rows = [
        Row(
            label=label,
            value=fmt_number(getattr(m, name, None)),
            change=fmt_change(m.change.get(name)),
        )
        for name, label in KEY_FIGURES
        if (github_rows or name not in GITHUB_FIGURES)
        and not _idle(m, name)
        # a team's digest has no org-wide figures (open at the end, gone quiet): left out
        and not (m.team and getattr(m, name, None) is None)
    ]
    newcomers = [p.name for p in m.new_contributor_list if not p.is_bot][: LISTED * 2]
    newcomers_label = f"New since {m.new_since}" if m.new_since else "New contributors"
    activity = (
        m.commits
        + m.merges
        + (m.prs_opened or 0)
        + (m.prs_merged or 0)
        + (m.issues_opened or 0)
        + (m.issues_closed or 0)
        + (m.releases or 0)
    )
    days = len(m.days) or 1
    collected = m.days_collected if m.days_collected is not None else len(coverages)
    partial, rematerialize = _partial(facts.period, m.days, collected, coverages, start_date)
    chart = m.commits_per_day if facts.period != "daily" else {}
    title = digest_title(facts.period, facts.partition, timezone)
    if m.team:  # a team digest (defs/teams.py)
        title = f"Team {m.team} · {title}"
    notices = _notices(facts.period, partial, rematerialize, _incomplete(facts.period, coverages))
    scope = f"org:{github_org}" if github_org and m.github_available else None
    w = window(facts.period, facts.partition, ZoneInfo(timezone or "UTC"))
    first = first_screen(
        title=title,
        notices=notices,
        m=m,
        unit=UNITS[facts.period],
        quiet=activity == 0,
        safe_url=safe_url,
        search_url=search_url(w, scope) if scope else None,
    )
    return DigestView(
        title=title,
        first=first,
        newcomers_label=newcomers_label,
        review_signals=review_signals(m),
        trend_columns=[label for _, label in TREND if _trend_known(m, _)],
        trend=_trend(facts.period, [*trend, (facts.partition, m)], m),
        contributors_total=m.active_contributors,
        window=f"{m.start} to {m.end}" if m.start and m.end else facts.partition,
        quiet=activity == 0,
        partial=partial,
        rematerialize=rematerialize,
        incomplete=_incomplete(facts.period, coverages),
        rows=rows,
        newcomers=newcomers,
        review=_durations(m),
        stale_prs=_open_items(m.oldest_open_prs),
        old_issues=_open_items(m.oldest_open_issues),
        chart_labels=[d[5:] for d in chart],
        chart_values=[v or 0 for v in chart.values()],
        chart_missing=[d for d, v in chart.items() if v is None],
        repos=_coverage_lines(coverages),
        days_collected=f"{collected} of {days}",
        doc_links=[
            (section.replace("-", " "), f"{metrics_doc(m)}#{section}")
            for section in dict.fromkeys(DOC_SECTION[r] for r, _ in KEY_FIGURES)
            if github_rows or section not in ("pull-requests", "issues", "releases")
        ]
        + ([("DORA", f"{metrics_doc(m)}#dora")] if m.dora and m.dora.seen else [])
        + ([("teams", f"{metrics_doc(m)}#teams")] if m.teams else []),
        github=(
            f"GitHub organization {github_org}"
            if m.github_available and github_org
            else m.github_note or "GitHub was not collected (no [github].org configured)"
        ),
    )


def _idle(m: WindowMetrics, name: str) -> bool:
    """A key figure that is 0 and was 0 before: a row of nothing, left out."""
    value = getattr(m, name, None)
    change = m.change.get(name)
    return value == 0 and (change is None or change.previous in (0, None))


def _notices(
    period: str, partial: str | None, rematerialize: bool, incomplete: str | None
) -> list[str]:
    """Markdown lines under the title: a window not over or not complete, a source not read."""
    out = []
    if partial:
        again = (
            " Re-materialize this partition once it has ended for the full figures."
            if rematerialize
            else ""
        )
        out.append(f"> **Partial {UNITS[period]}**: {md_text(partial)}.{again}")
    if incomplete:
        out.append(f"> **Incomplete**: {md_text(incomplete)}.")
    return out


SIZE_KEY = "lines changed: XS under 10, S under 30, M under 100, L under 500, XL under 1,000"


def review_signals(m: WindowMetrics) -> list[str]:
    """Review health in one line each: merged without review, reviewers, size mix, and how
    issues were closed."""
    out = []
    p = m.pull_requests
    if p is not None and p.merged:
        without = p.merged - p.merged_with_review
        share = 100 * without / p.merged
        out.append(
            f"Merged without review: {share:.0f}% ({without:,} of {p.merged:,}); "
            f"{p.reviewers:,} reviewer{'s' if p.reviewers != 1 else ''} gave "
            f"{p.reviews:,} review{'s' if p.reviews != 1 else ''}"
        )
        mix = ", ".join(
            f"{n} {p.size.buckets.get(n, 0)}" for n in SIZE_NAMES if p.size.buckets.get(n)
        )
        unknown = f", unknown {p.size.unknown}" if p.size.unknown else ""
        if mix or unknown:
            out.append(f"Size of merged pull requests: {mix}{unknown} ({SIZE_KEY})")
    if m.issues is not None and m.issues.closed:
        r = m.issues.closed_by_reason
        parts = [
            f"{r.get('completed', 0):,} completed",
            f"{r.get('not_planned', 0):,} not planned",
        ]
        if r.get("duplicate"):
            parts.append(f"{r['duplicate']:,} duplicate")
        if r.get("unspecified"):
            parts.append(f"{r['unspecified']:,} without a reason")
        out.append(f"Issues closed: {', '.join(parts)}")
    return out


def _trend_known(m: WindowMetrics, name: str) -> bool:
    return name != "prs_merged" or m.prs_merged is not None


def _trend(
    period: str, windows: Sequence[tuple[str, WindowMetrics | None]], m: WindowMetrics
) -> list[TrendRow]:
    """The last TREND_WINDOWS windows (this one last) of the trend's figures; weekly and monthly
    digests only."""
    if period == "daily" or len(windows) < 2:
        return []
    rows = []
    for key, metrics in list(windows)[-TREND_WINDOWS:]:
        label = window_title(period, key)  # type: ignore[arg-type]
        values = [
            fmt_number(getattr(metrics, name, None)) if metrics is not None else "not measured"
            for name, _ in TREND
            if _trend_known(m, name)
        ]
        rows.append(TrendRow(label=label, values=values))
    return rows
