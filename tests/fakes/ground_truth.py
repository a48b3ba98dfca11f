"""DORA figures and team ownership of the fake org, worked out independently of Sparky.

Plain Python over `github_org.Org` (no Sparky imports, no numpy): the figures a test expects
Sparky's DORA metrics to reach from what the fake GitHub serves. Definitions as
docs/metrics.md "DORA" (https://dora.dev/guides/dora-metrics-four-keys/); a window is
`[start, end)`: an instant exactly at `end` belongs to the next window.

- A deployment's state is its newest status that is not `inactive` (GitHub adds `inactive` to
  an older deployment a newer one superseded: docs.github.com/en/rest/deployments/statuses,
  "auto_inactive"); it happens at that status's time. `pending`, `queued`, `in_progress` or no
  status: unfinished, counted nowhere. Only deployments to `environment` count.
- A change is a non-merge commit on the default branch; it starts at its author date and is
  deployed by the earliest (in time) successful deployment whose sha reaches it.
- Failed: state `failure`/`error`; or the earliest successful deployment containing a commit a
  revert commit ("This reverts commit <sha>.", git revert's message) reverted, when the revert
  was committed at or after that deployment; or the latest successful deployment of an
  incident's repository at or before the incident opened.
- Restore: incidents opened in the window, opened -> closed; failed (`failure`/`error`)
  deployments in the window -> the next successful one of the same repository and environment.
  Not restored before `end`: `restore_open`.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from fakes.github_org import Deployment, Issue, Org, PullRequest, Repository

UNFINISHED = frozenset({"pending", "queued", "in_progress"})
FAILED = frozenset({"failure", "error"})
# git revert writes "This reverts commit <full sha>." into the message body.
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})\.")


@dataclass
class DoraTruth:
    """DORA's four keys over one window, by hand. Hours are floats; medians/p90 2 decimals."""

    deployments: int = 0  # successful deployments happening in the window
    by_repo: dict[str, int] = field(default_factory=dict)  # only repositories with one or more
    per_day: float | None = None
    lead_times_h: list[float] = field(default_factory=list)
    lead_time_median_h: float | None = None
    lead_time_p90_h: float | None = None
    finished: int = 0
    failed: int = 0
    failure_rate: float | None = None
    restore_h: list[float] = field(default_factory=list)
    restore_median_h: float | None = None
    restore_p90_h: float | None = None
    restore_open: int = 0


@dataclass(frozen=True)
class _Done:
    """A finished deployment: its outcome and when it happened."""

    dep: Deployment
    state: str  # success | failure | error
    at: datetime


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def p90(values: list[float]) -> float:
    """numpy's default (linear) percentile 90: position (n-1)*0.9, interpolated."""
    xs = sorted(values)
    h = (len(xs) - 1) * 0.9
    lo = math.floor(h)
    if lo + 1 >= len(xs):
        return xs[lo]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def _median_p90(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(statistics.median(values), 2), round(p90(values), 2)


def deployment_state(dep: Deployment) -> tuple[str, datetime] | None:
    """(state, time) of its newest status that is not `inactive`; None while unfinished."""
    real = [s for s in dep.statuses if s.state != "inactive"]
    if not real:
        return None
    last = max(real, key=lambda s: (s.created_at, s.id))
    if last.state in UNFINISHED:
        return None
    return last.state, last.created_at


def _finished(repo: Repository, environment: str) -> list[_Done]:
    out = []
    for d in repo.deployments:
        if d.environment != environment:
            continue
        st = deployment_state(d)
        if st is not None:
            out.append(_Done(d, st[0], st[1]))
    return sorted(out, key=lambda x: (x.at, x.dep.id))


def is_incident(item: Issue | PullRequest, labels: Collection[str]) -> bool:
    """Labels match case-insensitively, as GitHub's `label:` search does."""
    want = {x.lower() for x in labels}
    return any(x.lower() in want for x in item.labels)


def incidents(org: Org, labels: Collection[str] = ("incident",)) -> list[Issue | PullRequest]:
    """Every issue and pull request carrying one of `labels`, all repositories."""
    items: list[Issue | PullRequest] = [*org.issues(), *org.pull_requests()]
    return [x for x in items if is_incident(x, labels)]


def dora_truth(
    org: Org,
    start: datetime,
    end: datetime,
    environment: str = "production",
    incident_labels: Collection[str] = ("incident",),
) -> DoraTruth:
    """The four keys over `[start, end)`, from every deployment, commit and incident of `org`."""
    out = DoraTruth()
    incs = incidents(org, incident_labels)
    failed_ids: set[int] = set()
    finished_in: list[_Done] = []
    succ_in: list[_Done] = []
    for repo in org.repos:
        done = _finished(repo, environment)
        succ = [x for x in done if x.state == "success"]
        # The deployments that shipped each commit (its sha reaches the commit).
        first: dict[str, _Done] = {}
        for x in succ:  # oldest first: the first one to reach a commit is its deployment
            for c in repo.reachable(x.dep.sha):
                first.setdefault(c.sha, x)
        for c in repo.commits:
            x = first.get(c.sha)
            if x is not None and not c.is_merge and start <= x.at < end:
                out.lead_times_h.append(max(0.0, _hours(c.authored_at, x.at)))
        # Failed: by status; by a revert committed at or after the first deployment of what
        # it reverted; by an incident (latest success at or before it opened).
        failed_ids |= {x.dep.id for x in done if x.state in FAILED}
        # Only what happened before the window's end: a window's figure never changes later.
        failed_ids |= _reverted(repo, first, end)
        for item in incs:
            if org.repo(item.repo) is not repo or item.created_at >= end:
                continue
            before = [x for x in succ if x.at <= item.created_at]
            if before:
                failed_ids.add(before[-1].dep.id)
        # Restore: a failed deployment -> the next success of the same repo and environment.
        for x in done:
            if not (start <= x.at < end):
                continue
            finished_in.append(x)
            if x.state == "success":
                succ_in.append(x)
            elif x.state in FAILED:
                nxt = next((y for y in succ if y.at > x.at), None)
                if nxt is None or nxt.at >= end:
                    out.restore_open += 1
                else:
                    out.restore_h.append(_hours(x.at, nxt.at))
    for item in incs:
        if not (start <= item.created_at < end):
            continue
        if item.closed_at is None or item.closed_at >= end:
            out.restore_open += 1
        else:
            out.restore_h.append(_hours(item.created_at, item.closed_at))

    out.deployments = len(succ_in)
    for x in succ_in:
        out.by_repo[x.dep.repo] = out.by_repo.get(x.dep.repo, 0) + 1
    days = local_days(org.tz, start, end)
    out.per_day = round(out.deployments / days, 3) if out.deployments else None
    out.lead_times_h.sort()
    out.lead_time_median_h, out.lead_time_p90_h = _median_p90(out.lead_times_h)
    out.finished = len(finished_in)
    out.failed = sum(1 for x in finished_in if x.dep.id in failed_ids)
    out.failure_rate = round(out.failed / out.finished, 3) if out.finished else None
    out.restore_h.sort()
    out.restore_median_h, out.restore_p90_h = _median_p90(out.restore_h)
    return out


def _reverted(repo: Repository, first: dict[str, _Done], end: datetime) -> set[int]:
    """Ids of first deployments of reverted commits, where the revert came at or after them
    and before `end`."""
    hit: set[int] = set()
    for c in repo.commits:
        if c.committed_at >= end:
            continue
        for sha in _REVERTS.findall(c.message):
            x = first.get(sha)
            if x is not None and c.committed_at >= x.at:
                hit.add(x.dep.id)
    return hit


def local_days(tz: str, start: datetime, end: datetime) -> int:
    """Calendar days of `[start, end)` in `tz` (a DST week is 7 days, not 167 or 169 hours)."""
    zone = ZoneInfo(tz)
    n = (end.astimezone(zone).date() - start.astimezone(zone).date()).days
    if n <= 0:
        raise ValueError(f"not a window of whole local days: {start} .. {end}")
    return n


def team_repos(org: Org, slug: str) -> list[str]:
    """Names of the repositories the team has access to (`Team.repos`), in org order."""
    team = org.team(slug)
    if team is None:
        raise KeyError(slug)
    names = set(team.repos)
    return [r.name for r in org.repos if r.name in names]


def team_pull_requests(org: Org, slug: str) -> list[PullRequest]:
    """Pull requests (merged or not) the team owns: in one of its repositories, or touching a
    file whose CODEOWNERS owners name `@org/slug`."""
    mine = set(team_repos(org, slug))
    out = []
    for pr in org.pull_requests():
        repo = org.repo(pr.repo)
        assert repo is not None
        if repo.name in mine or slug in org.teams_of_pull_request(pr):
            out.append(pr)
    return out
