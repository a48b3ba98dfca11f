"""DORA's four keys over one window `[start, end)`, from deployments, changes and incidents (pure).

The four keys (https://dora.dev/guides/dora-metrics-four-keys/) measure delivery throughput
(deployment frequency, lead time for changes) and stability (change failure rate, time to
restore service). Sparky derives all four from GitHub alone; the collector turns GitHub
deployments with their statuses, releases or tags into `Deployment`s, commits into `Change`s,
reverts into `Revert`s and issues/PRs with an incident label into `Incident`s.

Definitions (docs/metrics.md, "DORA", copies them):
- A window is `[start, end)` with aware instants: an event exactly at `end` is in the next one.
- One deployment is one `key` (its GitHub id, else repo, environment, sha and created_at).
  GitHub keeps every status a deployment was given; duplicate records of one key keep the one
  with the latest `status_at` (ties: the later record). `inactive` is ignored: GitHub sets it
  on a deployment that a newer one superseded, which says nothing of whether it worked
  (docs.github.com/rest/deployments/statuses, "auto_inactive"). A deployment whose latest
  status is `pending`, `queued` or `in_progress` has not finished and counts nowhere.
- A deployment happens at `status_at` (when it reached its latest status), else `created_at`;
  that instant puts it in a window. Deployments before the window count only as the earlier
  deployment of a change (lead time) or of a revert (failure).
- `environment`: when given, only deployments to that environment count (releases and tags
  carry the environment the collector gave them). Incidents have no environment.
- deployment_frequency: successful deployments in the window; `per_day` over the window's
  local calendar days (7 in a week, 23-hour DST days included), `per_week` = per_day x 7;
  per repository and overall. No deployment in the window gives count 0 and rates None: no
  deployment is no evidence of a frequency.
- lead_time_for_changes: for each change whose first successful deployment containing it
  (`Deployment.contains`, in the change's repository, earliest in time) falls in the window,
  hours from `first_commit_at` to that deployment. A change first deployed before the window,
  or never, does not count. A negative time (a commit date after its deployment: commit dates
  are set by the committer's clock) counts as 0.
- change_failure_rate: failed over finished deployments in the window. A deployment failed when
  its status is `failure` or `error`; or it is the first successful deployment containing the
  sha a `Revert` reverted, and the revert happened at or after it; or an `Incident` is linked
  to it: the deployment of the incident's `sha` when given, else the latest successful
  deployment in the incident's repository at or before the incident opened. Reverts and
  incidents count only before the window's end, so a past window's rate never changes. None
  when no deployment finished in the window.
- time_to_restore: incidents opened in the window, opened -> closed; and failed (`failure`/
  `error`) deployments in the window, -> the next successful deployment of the same repository
  and environment. Only restorations before the window's end are timed; the others are counted
  in `open`, so a past window's figure never changes. Median and p90 as `durations`.
- Bands: `band(metric, value)` per DORA's Accelerate State of DevOps Report 2023 (`BANDS`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sparky_assets.lib.github_metrics import Durations, durations

Status = Literal["success", "failure", "error", "inactive", "pending", "queued", "in_progress"]
Source = Literal["deployment", "release", "tag"]
Metric = Literal["deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"]
Band = Literal["elite", "high", "medium", "low"]

FAILED: frozenset[str] = frozenset({"failure", "error"})
UNFINISHED: frozenset[str] = frozenset({"pending", "queued", "in_progress"})


class Deployment(BaseModel):
    """One deployment (or release, or tag) of `sha` to `environment`, with its latest status.

    `changes` are the shas it ships besides `sha` (the collector's `git rev-list prev..sha`, or
    every ancestor: the earliest containing deployment is the same either way).
    """

    model_config = ConfigDict(frozen=True)

    repo: str
    environment: str
    sha: str
    created_at: dt.datetime
    status: Status
    source: Source
    status_at: dt.datetime | None = None
    id: str | None = None
    changes: frozenset[str] = frozenset()

    @property
    def at(self) -> dt.datetime:
        """When it reached its status: the instant that places it in a window."""
        return self.status_at or self.created_at

    @property
    def key(self) -> tuple[str, ...]:
        if self.id is not None:
            return (self.repo, self.id)
        return (self.repo, self.environment, self.sha, self.created_at.isoformat())

    def contains(self, repo: str, sha: str) -> bool:
        return repo == self.repo and (sha == self.sha or sha in self.changes)


class Change(BaseModel):
    """A commit, timed from its first commit (the earliest commit of its pull request)."""

    model_config = ConfigDict(frozen=True)

    repo: str
    sha: str
    first_commit_at: dt.datetime


class Revert(BaseModel):
    """A revert commit or pull request in `repo` that reverted `reverted_sha` at `at`."""

    model_config = ConfigDict(frozen=True)

    repo: str
    reverted_sha: str
    at: dt.datetime


class Incident(BaseModel):
    """An issue or pull request with an incident label; `sha`: the deployment it names."""

    model_config = ConfigDict(frozen=True)

    repo: str
    number: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    labels: tuple[str, ...] = ()
    sha: str | None = None


class Frequency(BaseModel):
    count: int = 0
    per_day: float | None = None
    per_week: float | None = None


class DeploymentFrequency(BaseModel):
    overall: Frequency
    by_repo: dict[str, Frequency]


class FailureRate(BaseModel):
    deployments: int = 0
    failed: int = 0
    rate: float | None = None  # failed / deployments, 3 decimals


class Restore(BaseModel):
    timed: Durations
    open: int = 0


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"window bounds must carry a UTC offset, got {moment.isoformat()}")
    return moment


def _inside(moment: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    return start <= moment < end  # aware datetimes compare as instants


def local_days(start: dt.datetime, end: dt.datetime) -> int:
    """Calendar days of `[start, end)` in start's timezone (a DST week is still 7)."""
    tz = _aware(start).tzinfo
    return (_aware(end).astimezone(tz).date() - start.date()).days


def latest(deployments: Iterable[Deployment], environment: str | None = None) -> list[Deployment]:
    """One record per deployment: its latest finished status, `inactive` ignored (see module)."""
    kept: dict[tuple[str, ...], Deployment] = {}
    for deployment in deployments:
        if deployment.status == "inactive":
            continue
        if environment is not None and deployment.environment != environment:
            continue
        held = kept.get(deployment.key)
        if held is None or deployment.at >= held.at:
            kept[deployment.key] = deployment
    finished = [d for d in kept.values() if d.status not in UNFINISHED]
    return sorted(finished, key=lambda d: d.at)


def _frequency(count: int, days: int) -> Frequency:
    if count == 0 or days <= 0:
        return Frequency(count=count)
    per_day = count / days
    return Frequency(count=count, per_day=round(per_day, 3), per_week=round(per_day * 7, 3))


def deployment_frequency(
    deployments: Iterable[Deployment],
    start: dt.datetime,
    end: dt.datetime,
    environment: str | None = None,
) -> DeploymentFrequency:
    """Successful deployments in the window, per local calendar day and week (module doc)."""
    days = local_days(start, end)
    done = [
        d
        for d in latest(deployments, environment)
        if d.status == "success" and _inside(d.at, start, end)
    ]
    by_repo: dict[str, int] = {}
    for deployment in done:
        by_repo[deployment.repo] = by_repo.get(deployment.repo, 0) + 1
    return DeploymentFrequency(
        overall=_frequency(len(done), days),
        by_repo={repo: _frequency(n, days) for repo, n in sorted(by_repo.items())},
    )


def first_deployment(successes: Sequence[Deployment], repo: str, sha: str) -> Deployment | None:
    """The earliest of `successes` (sorted by time) that contains `sha` of `repo`."""
    return next((d for d in successes if d.contains(repo, sha)), None)


def lead_time_for_changes(
    changes: Iterable[Change],
    deployments: Iterable[Deployment],
    start: dt.datetime,
    end: dt.datetime,
    environment: str | None = None,
) -> Durations:
    """Hours from first commit to first successful deployment, for changes deployed in window."""
    successes = [d for d in latest(deployments, environment) if d.status == "success"]
    hours: list[float] = []
    for change in changes:
        shipped = first_deployment(successes, change.repo, change.sha)
        if shipped is None or not _inside(shipped.at, start, end):
            continue
        seconds = (shipped.at - change.first_commit_at).total_seconds()
        hours.append(max(0.0, seconds) / 3600)
    return durations(hours)


def failed_deployments(
    deployments: Iterable[Deployment],
    reverts: Iterable[Revert] = (),
    incidents: Iterable[Incident] = (),
    environment: str | None = None,
) -> tuple[list[Deployment], set[tuple[str, ...]]]:
    """Finished deployments (by time) and the keys of the failed ones (module doc)."""
    finished = latest(deployments, environment)
    successes = [d for d in finished if d.status == "success"]
    failed = {d.key for d in finished if d.status in FAILED}
    for revert in reverts:
        shipped = first_deployment(successes, revert.repo, revert.reverted_sha)
        if shipped is not None and revert.at >= shipped.at:
            failed.add(shipped.key)
    for incident in incidents:
        linked = _linked(successes, incident)
        if linked is not None:
            failed.add(linked.key)
    return finished, failed


def _linked(successes: Sequence[Deployment], incident: Incident) -> Deployment | None:
    if incident.sha is not None:
        return first_deployment(successes, incident.repo, incident.sha)
    before = [d for d in successes if d.repo == incident.repo and d.at <= incident.opened_at]
    return before[-1] if before else None


def change_failure_rate(
    deployments: Iterable[Deployment],
    start: dt.datetime,
    end: dt.datetime,
    reverts: Iterable[Revert] = (),
    incidents: Iterable[Incident] = (),
    environment: str | None = None,
) -> FailureRate:
    """Failed over finished deployments in the window; rate None when there were none."""
    # Only reverts and incidents before the window's end: a past window's rate never changes.
    reverts = [r for r in reverts if r.at < end]
    incidents = [i for i in incidents if i.opened_at < end]
    finished, failed = failed_deployments(deployments, reverts, incidents, environment)
    inside = [d for d in finished if _inside(d.at, start, end)]
    bad = sum(1 for d in inside if d.key in failed)
    rate = round(bad / len(inside), 3) if inside else None
    return FailureRate(deployments=len(inside), failed=bad, rate=rate)


def time_to_restore(
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    start: dt.datetime,
    end: dt.datetime,
    environment: str | None = None,
) -> Restore:
    """Hours to restore incidents and failed deployments of the window (module doc)."""
    hours: list[float] = []
    still_open = 0

    def restored(at: dt.datetime, fixed: dt.datetime | None) -> None:
        nonlocal still_open
        if fixed is None or fixed >= end:
            still_open += 1
        else:
            hours.append(max(0.0, (fixed - at).total_seconds()) / 3600)

    for incident in incidents:
        if _inside(incident.opened_at, start, end):
            restored(incident.opened_at, incident.closed_at)
    finished = latest(deployments, environment)
    for i, deployment in enumerate(finished):
        if deployment.status not in FAILED or not _inside(deployment.at, start, end):
            continue
        after = (
            d
            for d in finished[i + 1 :]
            if d.status == "success"
            and d.repo == deployment.repo
            and d.environment == deployment.environment
        )
        restored(deployment.at, next((d.at for d in after), None))
    return Restore(timed=durations(hours), open=still_open)


# DORA, "Accelerate State of DevOps Report 2023" (Google Cloud), "Software delivery
# performance" clusters (https://dora.dev/research/2023/dora-report/):
#   deployment frequency: elite on demand (multiple per day); high between once per day and
#     once per week; medium between once per week and once per month; low the same as medium.
#   change lead time: elite less than one day; high one day to one week; medium and low one
#     week to one month.
#   change failure rate: elite 5%, high 10%, medium 15%, low 64%.
#   failed deployment recovery time: elite less than one hour; high less than one day; medium
#     one day to one week; low one month to six months.
# Encoded per metric as (band, bound) from best to worst: the first band whose bound the value
# meets wins, the rest is low. A shared edge ("once per day" ends high's range and starts
# elite's) goes to the better band; "less than" is strict. A month is 30 days. Values past
# every cluster (fewer than one deployment a month, lead time over a month, recovery between
# a week and a month) are low: the report's low cluster is its slowest one.
HOUR = 1.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
Bound = tuple[Band, Callable[[float], bool]]
BANDS: dict[Metric, tuple[Bound, ...]] = {
    # deployments per day
    "deployment_frequency": (
        ("elite", lambda v: v >= 1),
        ("high", lambda v: v >= 1 / 7),
        ("medium", lambda v: v >= 1 / 30),
    ),
    # hours
    "lead_time": (
        ("elite", lambda v: v < DAY),
        ("high", lambda v: v <= WEEK),
        ("medium", lambda v: v <= MONTH),
    ),
    # a fraction, 0..1
    "change_failure_rate": (
        ("elite", lambda v: v <= 0.05),
        ("high", lambda v: v <= 0.10),
        ("medium", lambda v: v <= 0.15),
    ),
    # hours
    "time_to_restore": (
        ("elite", lambda v: v < HOUR),
        ("high", lambda v: v < DAY),
        ("medium", lambda v: v <= WEEK),
    ),
}
BAND_TABLE: dict[Metric, dict[Band, str]] = {  # each band's bound, in words
    "deployment_frequency": {
        "elite": "at least once a day",
        "high": "at least once a week",
        "medium": "at least once a month",
        "low": "less than once a month",
    },
    "lead_time": {
        "elite": "under a day",
        "high": "a week or less",
        "medium": "30 days or less",
        "low": "more than 30 days",
    },
    "change_failure_rate": {
        "elite": "5% or less",
        "high": "10% or less",
        "medium": "15% or less",
        "low": "more than 15%",
    },
    "time_to_restore": {
        "elite": "under an hour",
        "high": "under a day",
        "medium": "a week or less",
        "low": "more than a week",
    },
}


def band(metric: Metric, value: float | None) -> Band | None:
    """DORA 2023's band of a figure (units as in `BANDS`); None for no figure."""
    if value is None:
        return None
    if metric not in BANDS:
        raise ValueError(f"metric must be one of {', '.join(BANDS)}, got {metric!r}")
    return next((name for name, meets in BANDS[metric] if meets(value)), "low")
