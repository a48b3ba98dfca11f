"""DORA's four keys of a window from Sparky's raw records (pure): what `lib/dora.py` measures.

`lib/dora.py` holds the definitions over deployments, changes, reverts and incidents; this
module turns the stored records into those, by `[dora]`:

* `source = "deployments"`: GitHub deployments to `[dora].environment` with their statuses
  (`raw_deployments`, as the collector read them: every status, oldest first).
* `source = "releases"`: each published GitHub release (not a pre-release: a pre-release is
  not what users run) is a successful deployment at its publication, of the commit its tag
  points at.
* `source = "tags"`: each tag whose name matches `[dora].tag_pattern` (GitHub's tags and the
  clones' tags) is a successful deployment at its date, of the commit it points at.

A change is a non-merge commit of the default branch (GitHub's, or a clone's), timed from its
author date: when its work was first committed (a rebase or a cherry-pick keeps it, the
committer date moves). A deployment contains the commits its sha reaches through parents
among the commits read (the window and `LOOKBACK_DAYS` before it). A revert is a commit whose
message says "This reverts commit <sha>." (git revert's message). An incident is an issue or
pull request carrying one of `[dora].incident_labels`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from sparky_assets.lib import dora
from sparky_assets.lib.github_metrics import Durations
from sparky_resources.clock import parse_instant

SourceName = Literal["deployments", "releases", "tags"]
# Changes and deployments read before a window: a change committed this long before its first
# deployment still has its lead time measured (longer ones are not seen: docs/metrics.md).
LOOKBACK_DAYS = 60
_SOURCE: dict[str, dora.Source] = {
    "deployments": "deployment",
    "releases": "release",
    "tags": "tag",
}


@dataclass(frozen=True)
class DoraSettings:
    """`[dora]` as the metrics need it."""

    source: SourceName = "releases"
    environment: str = "production"
    tag_pattern: str = r"^v?\d+(\.\d+)*$"
    incident_labels: tuple[str, ...] = ("incident",)


@dataclass
class DeliveryRecords:
    """Raw records of a window and of the `LOOKBACK_DAYS` before it (dicts as stored)."""

    deployments: list[Mapping[str, Any]] = field(default_factory=list)
    releases: list[Mapping[str, Any]] = field(default_factory=list)
    local_tags: list[Mapping[str, Any]] = field(default_factory=list)
    commits: list[Mapping[str, Any]] = field(default_factory=list)
    items: list[Mapping[str, Any]] = field(default_factory=list)  # pull requests and issues
    github: bool = False  # GitHub was collected (deployments, releases and labels are known)


@dataclass
class DoraInputs:
    deployments: list[dora.Deployment] = field(default_factory=list)
    changes: list[dora.Change] = field(default_factory=list)
    reverts: list[dora.Revert] = field(default_factory=list)
    incidents: list[dora.Incident] = field(default_factory=list)

    def of_repos(self, repos: Collection[str]) -> DoraInputs:
        """Only what happened in `repos` (a team's repositories)."""
        return DoraInputs(
            [d for d in self.deployments if d.repo in repos],
            [c for c in self.changes if c.repo in repos],
            [r for r in self.reverts if r.repo in repos],
            [i for i in self.incidents if i.repo in repos],
        )


class DoraRow(BaseModel):
    """The four keys of one scope (the org, a repository, a team) in one window, with bands."""

    deployments: int = 0
    per_day: float | None = None
    per_week: float | None = None
    lead_time: Durations = Field(default_factory=Durations)
    failure: dora.FailureRate = Field(default_factory=dora.FailureRate)
    restore: dora.Restore = Field(default_factory=lambda: dora.Restore(timed=Durations()))
    bands: dict[str, dora.Band | None] = Field(default_factory=dict)


class DoraFigures(BaseModel):
    """A window's DORA figures: overall and per repository (per team: in the team's digest)."""

    source: SourceName
    environment: str | None = None  # deployments only
    overall: DoraRow
    by_repo: dict[str, DoraRow] = Field(default_factory=dict)
    lookback_days: int = LOOKBACK_DAYS
    # Deployments read, the window and its lookback together: 0 means the source is not in use
    # (no release, tag or deployment at all), and digests leave the section out.
    seen: int = 0


def _when(value: Any) -> dt.datetime | None:
    return parse_instant(value) if value else None


def _unique(records: Iterable[Mapping[str, Any]], *key: str) -> list[Mapping[str, Any]]:
    """One record per key, the last one read winning (later days hold later states)."""
    out: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for record in records:
        out[tuple(record.get(k) for k in key)] = record
    return list(out.values())


def _deployments_from_github(
    records: Iterable[Mapping[str, Any]], environment: str
) -> list[dora.Deployment]:
    """One `dora.Deployment` per GitHub deployment: its latest status that is not `inactive`
    (GitHub adds `inactive` to a superseded deployment: it says nothing of whether it worked;
    docs.github.com/en/rest/deployments/statuses, "auto_inactive")."""
    out: list[dora.Deployment] = []
    for record in _unique(records, "repo", "id"):
        if record.get("environment") != environment:
            continue
        created = _when(record.get("created_at"))
        if created is None:
            continue
        statuses = sorted(
            (
                (at, str(s.get("state", "")).lower())
                for s in record.get("statuses") or []
                if (at := _when(s.get("created_at"))) is not None
            ),
            key=lambda pair: pair[0],
        )
        meaningful = [(at, state) for at, state in statuses if state != "inactive"]
        at, state = meaningful[-1] if meaningful else (None, "pending")
        if state == "waiting":  # waiting for an approval: not finished
            state = "pending"
        if state not in dora.FAILED | dora.UNFINISHED | {"success"}:
            continue
        out.append(
            dora.Deployment(
                repo=record["repo"],
                environment=environment,
                sha=record["sha"],
                created_at=created,
                status=state,  # type: ignore[arg-type]
                status_at=at,
                source="deployment",
                id=str(record["id"]),
            )
        )
    return out


def _deployments_from_releases(
    releases: Iterable[Mapping[str, Any]],
    local_tags: Iterable[Mapping[str, Any]],
    settings: DoraSettings,
) -> list[dora.Deployment]:
    """Releases (not pre-releases) or matching tags as successful deployments at their date."""
    pattern = re.compile(settings.tag_pattern)
    source = _SOURCE[settings.source]
    out: list[dora.Deployment] = []
    seen: set[tuple[str, str]] = set()
    for record in _unique(releases, "repo", "kind", "tag_name"):
        at = _when(record.get("published_at"))
        if at is None or not record.get("sha"):
            continue
        if settings.source == "releases":
            if record.get("kind") != "release" or record.get("is_prerelease"):
                continue
        elif record.get("kind") != "tag" or not pattern.search(record["tag_name"]):
            continue
        seen.add((record["repo"], record["tag_name"]))
        out.append(_released(record["repo"], record["sha"], at, source, record["tag_name"]))
    if settings.source == "tags":
        for tag in _unique(local_tags, "repo", "name"):
            at = _when(tag.get("date"))
            if at is None or (tag["repo"], tag["name"]) in seen or not pattern.search(tag["name"]):
                continue
            out.append(_released(tag["repo"], tag["sha"], at, source, tag["name"]))
    return out


def _released(
    repo: str, sha: str, at: dt.datetime, source: dora.Source, name: str
) -> dora.Deployment:
    return dora.Deployment(
        repo=repo,
        environment="",
        sha=sha,
        created_at=at,
        status="success",
        status_at=at,
        source=source,
        id=f"{source}:{name}",
    )


def _with_changes(
    deployments: Sequence[dora.Deployment], commits: Sequence[Mapping[str, Any]]
) -> list[dora.Deployment]:
    """Each deployment with the commits its sha reaches through parents (among `commits`)."""
    parents: dict[tuple[str, str], list[str]] = {
        (c["repo"], c["sha"]): list(c.get("parents") or []) for c in commits
    }
    memo: dict[tuple[str, str], frozenset[str]] = {}

    def reach(repo: str, sha: str) -> frozenset[str]:
        if (repo, sha) in memo:
            return memo[(repo, sha)]
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s in seen or (repo, s) not in parents:
                continue
            seen.add(s)
            stack.extend(parents[(repo, s)])
        memo[(repo, sha)] = frozenset(seen)
        return memo[(repo, sha)]

    return [d.model_copy(update={"changes": reach(d.repo, d.sha)}) for d in deployments]


def deployments_of(records: DeliveryRecords, settings: DoraSettings) -> list[dora.Deployment]:
    """The deployments `settings.source` finds in `records` (without their changes)."""
    if settings.source == "deployments":
        return _deployments_from_github(records.deployments, settings.environment)
    return _deployments_from_releases(records.releases, records.local_tags, settings)


# What DORA reads of a commit and of an issue or pull request: the rest is not kept, so that a
# window's 60 days of lookback cost little memory.
COMMIT_FIELDS = ("repo", "sha", "parents", "authored_at", "committed_at", "is_merge", "reverts")
ITEM_FIELDS = ("repo", "number", "labels", "created_at", "closed_at")


def slim_commit(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in COMMIT_FIELDS}


def incident_item(record: Mapping[str, Any], labels: Collection[str]) -> dict[str, Any] | None:
    """The fields DORA reads of an issue or pull request with an incident label, else None."""
    wanted = {label.lower() for label in labels}
    if not wanted & {str(x).lower() for x in record.get("labels") or []}:
        return None
    return {k: record.get(k) for k in ITEM_FIELDS}


def dora_inputs(records: DeliveryRecords, settings: DoraSettings) -> DoraInputs:
    """Deployments (with the changes they contain), changes, reverts and incidents."""
    commits = _unique(records.commits, "repo", "sha")
    deployments = deployments_of(records, settings)
    changes = [
        dora.Change(repo=c["repo"], sha=c["sha"], first_commit_at=at)
        for c in commits
        if not c.get("is_merge") and (at := _when(c.get("authored_at"))) is not None
    ]
    reverts = [
        dora.Revert(repo=c["repo"], reverted_sha=c["reverts"], at=at)
        for c in commits
        if c.get("reverts") and (at := _when(c.get("committed_at"))) is not None
    ]
    labels = {label.lower() for label in settings.incident_labels}
    incidents = []
    for item in _unique(records.items, "repo", "number"):
        opened = _when(item.get("created_at"))
        if opened is None or not labels & {str(x).lower() for x in item.get("labels") or []}:
            continue
        incidents.append(
            dora.Incident(
                repo=item["repo"],
                number=int(item["number"]),
                opened_at=opened,
                closed_at=_when(item.get("closed_at")),
                labels=tuple(item.get("labels") or ()),
            )
        )
    return DoraInputs(_with_changes(deployments, commits), changes, reverts, incidents)


def dora_row(
    inputs: DoraInputs, start: dt.datetime, end: dt.datetime, environment: str | None
) -> DoraRow:
    """The four keys of `inputs` over `[start, end)`, with DORA 2023's bands."""
    frequency = dora.deployment_frequency(inputs.deployments, start, end, environment).overall
    lead = dora.lead_time_for_changes(inputs.changes, inputs.deployments, start, end, environment)
    failure = dora.change_failure_rate(
        inputs.deployments, start, end, inputs.reverts, inputs.incidents, environment
    )
    restore = dora.time_to_restore(inputs.deployments, inputs.incidents, start, end, environment)
    return DoraRow(
        deployments=frequency.count,
        per_day=frequency.per_day,
        per_week=frequency.per_week,
        lead_time=lead,
        failure=failure,
        restore=restore,
        bands={
            "deployment_frequency": dora.band("deployment_frequency", frequency.per_day),
            "lead_time": dora.band("lead_time", lead.median_h),
            "change_failure_rate": dora.band("change_failure_rate", failure.rate),
            "time_to_restore": dora.band("time_to_restore", restore.timed.median_h),
        },
    )


def dora_figures(
    records: DeliveryRecords | DoraInputs,
    settings: DoraSettings,
    start: dt.datetime,
    end: dt.datetime,
    repos: Collection[str] | None = None,
) -> DoraFigures:
    """The window's figures, overall and per repository with a deployment or an incident;
    `repos` limits them to those repositories (a team's). `records` may be `dora_inputs`'
    result already, so that many teams share one reading of the records."""
    inputs = dora_inputs(records, settings) if isinstance(records, DeliveryRecords) else records
    if repos is not None:
        inputs = inputs.of_repos(set(repos))
    environment = settings.environment if settings.source == "deployments" else None
    active = sorted(
        {d.repo for d in inputs.deployments if start <= d.at < end}
        | {i.repo for i in inputs.incidents if start <= i.opened_at < end}
    )
    return DoraFigures(
        source=settings.source,
        environment=environment,
        overall=dora_row(inputs, start, end, environment),
        seen=len(inputs.deployments),
        by_repo={r: dora_row(inputs.of_repos({r}), start, end, environment) for r in active},
    )
