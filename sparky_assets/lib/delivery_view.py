"""What a digest says about delivery: DORA's four keys with their bands, and the Teams table.

Weekly digests get one compact line per key; monthly ones a table with each band's bound and
a table per repository. Bands are DORA's Accelerate State of DevOps Report 2023 (`lib/dora.py`
cites it); a figure without data says so instead of showing a band.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sparky_assets.lib import dora
from sparky_assets.lib.delivery import DoraFigures, DoraRow
from sparky_assets.lib.digest_view import NOT_AVAILABLE, fmt_number, human_duration
from sparky_assets.lib.window import TeamRow, WindowMetrics

REPORT = "DORA's Accelerate State of DevOps Report 2023"
SOURCE_WORDS = {
    "deployments": "GitHub deployments to {environment}",
    "releases": "GitHub releases (pre-releases left out)",
    "tags": "tags matching [dora].tag_pattern",
}
REPO_ROWS = 10  # repositories listed in a monthly digest's table ("N of M")


class DoraLine(BaseModel):
    label: str
    value: str
    band: str  # "Elite", ..., or "" without a figure
    bound: str  # the band's bound in DORA 2023's terms


class DoraRepoLine(BaseModel):
    repo: str
    deployments: str
    lead_time: str
    failures: str
    restore: str


class DoraView(BaseModel):
    lines: list[DoraLine]
    compact: list[str]  # the weekly digest's lines, one per key
    source: str
    repos: list[DoraRepoLine] = Field(default_factory=list)
    repos_total: int = 0


class TeamLine(BaseModel):
    team: str
    prs_merged: str
    first_review: str
    merge: str
    attention: str
    deployments: str
    commits: str


def _band(row: DoraRow, metric: dora.Metric) -> tuple[str, str]:
    band = row.bands.get(metric)
    if band is None:
        return "", ""
    return band.capitalize(), dora.BAND_TABLE[metric][band]


def _frequency(row: DoraRow, period: str) -> str:
    if not row.deployments:
        return "none"
    count = f"{row.deployments:,} successful"
    return count if period == "weekly" else f"{count} ({row.per_week:.1f} a week)"


def _lead(row: DoraRow) -> str:
    lead = row.lead_time
    if not lead.count:
        return "no change deployed"
    return (
        f"{human_duration(lead.median_h)} median, 90% within {human_duration(lead.p90_h)} "
        f"({lead.count:,} change{'s' if lead.count != 1 else ''})"
    )


def _failures(row: DoraRow) -> str:
    f = row.failure
    if not f.deployments or f.rate is None:
        return "no deployment finished"
    return f"{f.rate * 100:.0f}% ({f.failed} of {f.deployments})"


def _restore(row: DoraRow) -> str:
    r = row.restore
    still = f"{r.open} not restored by the end" if r.open else ""
    if not r.timed.count:
        return still or "nothing to restore"
    text = f"{human_duration(r.timed.median_h)} median ({r.timed.count} restored"
    return text + (f", {still})" if still else ")")


def dora_view(figures: DoraFigures | None, period: str) -> DoraView | None:
    """The DORA section of a weekly or monthly digest; None when there are no figures."""
    if figures is None or period == "daily" or not figures.seen:
        return None
    row = figures.overall
    lines = []
    for metric, label, value in (
        ("deployment_frequency", "Deployment frequency", _frequency(row, period)),
        ("lead_time", "Lead time for changes", _lead(row)),
        ("change_failure_rate", "Change failure rate", _failures(row)),
        ("time_to_restore", "Time to restore service", _restore(row)),
    ):
        band, bound = _band(row, metric)  # type: ignore[arg-type]
        lines.append(DoraLine(label=label, value=value, band=band, bound=bound))
    compact = [
        f"{line.label}: {line.value}" + (f" · {line.band} ({line.bound})" if line.band else "")
        for line in lines
    ]
    source = SOURCE_WORDS[figures.source].format(environment=figures.environment)
    ranked = sorted(figures.by_repo.items(), key=lambda kv: (-kv[1].deployments, kv[0]))
    repos = [
        DoraRepoLine(
            repo=name,
            deployments=fmt_number(r.deployments),
            lead_time=human_duration(r.lead_time.median_h) if r.lead_time.count else NOT_AVAILABLE,
            failures=_failures(r) if r.failure.deployments else NOT_AVAILABLE,
            restore=human_duration(r.restore.timed.median_h)
            if r.restore.timed.count
            else NOT_AVAILABLE,
        )
        for name, r in ranked[:REPO_ROWS]
    ]
    return DoraView(
        lines=lines, compact=compact, source=source, repos=repos, repos_total=len(ranked)
    )


def team_lines(m: WindowMetrics) -> list[TeamLine]:
    """The org digest's Teams table, busiest team first (merged pull requests, then commits)."""

    def key(t: TeamRow) -> tuple[int, int, str]:
        return (-(t.prs_merged or 0), -t.commits, t.team)

    return [
        TeamLine(
            team=t.team,
            prs_merged=fmt_number(t.prs_merged),
            first_review=human_duration(t.first_review_median_h)
            if t.first_review_median_h is not None
            else NOT_AVAILABLE,
            merge=human_duration(t.merge_median_h)
            if t.merge_median_h is not None
            else NOT_AVAILABLE,
            attention=fmt_number(t.attention),
            deployments=fmt_number(t.deployments),
            commits=fmt_number(t.commits),
        )
        for t in sorted(m.teams, key=key)
    ]
