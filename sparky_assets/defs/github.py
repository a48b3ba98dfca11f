"""Collect layer, GitHub: pull requests, issues, releases (and GitHub's view of commits).

One step collects the whole range once (`BackfillPolicy.single_run()`) and writes one file per
day and entity. An item is in a day's file when one of its own events falls in that day, so a
pull request reviewed on Monday and merged on Tuesday is in both days. Without `[github].org`
the files are written empty and the coverage says GitHub is not configured.

`raw_backlog` is one snapshot per day: what was open at the day's end, as GitHub's search
answers for that instant. A file that says `"collected": false` tells readers there is no
count (GitHub not configured, or the day not over yet); a day whose search failed keeps the
file an earlier run wrote, and its coverage records the failure.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from sparky_assets.defs.common import partitioned, range_label
from sparky_assets.lib.team_scope import OWNERSHIP
from sparky_assets.partitions import TEAMS
from sparky_resources.clock import Window
from sparky_resources.github import GitHubTokenMissing, GitHubUnreachable
from sparky_resources.github_collect import EntityCoverage, GitHubResource, GitHubWindow
from sparky_resources.github_records import BacklogSnapshot
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore

GITHUB_COVERAGE = "_coverage/github"
ENTITIES = (
    "raw_pull_requests",
    "raw_issues",
    "raw_releases",
    "raw_github_commits",
    "raw_deployments",
)
BACKLOG = "raw_backlog"

# The coverage entity of each file, and what identifies one record in it (one per key).
_ENTITY = {
    "raw_pull_requests": "pull_requests",
    "raw_issues": "issues",
    "raw_releases": "releases",
    "raw_github_commits": "commits",
    "raw_deployments": "deployments",
}
RECORD_KEYS: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
    "raw_pull_requests": lambda r: (r["repo"], r["number"]),
    "raw_issues": lambda r: (r["repo"], r["number"]),
    "raw_releases": lambda r: (r["repo"], r["kind"], r["tag_name"]),
    "raw_github_commits": lambda r: (r["repo"], r["sha"]),
    "raw_deployments": lambda r: (r["repo"], r["id"]),
}
# A run tag: "<run id> <error>" once GitHub was found unreachable in that run (see below).
UNREACHABLE_TAG = "sparky/github_unreachable"
_DESCRIPTIONS = {
    "raw_pull_requests": "Pull requests created, merged, closed or otherwise active in the day "
    "(updated, reviewed, commented). Stored in data/raw/raw_pull_requests/{day}.json.",
    "raw_issues": "Issues (never pull requests) created, closed or active in the day. "
    "Stored in data/raw/raw_issues/{day}.json.",
    "raw_releases": "Releases published in the day (drafts excluded) and tags created in it. "
    "Stored in data/raw/raw_releases/{day}.json.",
    "raw_github_commits": "Default-branch commits as GitHub reports them (with the accounts "
    "behind the identities), committed in the day. Stored in "
    "data/raw/raw_github_commits/{day}.json.",
    "raw_deployments": "GitHub deployments to [dora].environment created in the day or given "
    "a status in it, with every status (oldest first), when [dora].source is deployments. "
    "Stored in data/raw/raw_deployments/{day}.json.",
    OWNERSHIP: "With [teams].from_github: the org's GitHub teams (their repositories) and each "
    "repository's CODEOWNERS, as known when the day was collected (a CODEOWNERS file is read "
    "again only when its blob changed). Stored in data/raw/raw_ownership/{day}.json.",
    BACKLOG: "Pull requests and issues open at each day's end (counts and the oldest ten of "
    "each), as GitHub's search answers for that instant. Stored in "
    "data/raw/raw_backlog/{day}.json.",
}


def build_github_activity(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The one step that collects GitHub for a range of days (see the module's docstring)."""
    policy = partitioned(partitions_def)

    @dg.multi_asset(
        name="github_activity",
        specs=[
            dg.AssetSpec(
                name,
                group_name="collect",
                kinds={"github", "json"},
                description=_DESCRIPTIONS[name],
                owners=policy["owners"],
                partitions_def=partitions_def,
            )
            for name in (*ENTITIES, OWNERSHIP, BACKLOG)
        ],
        backfill_policy=policy["backfill_policy"],
        pool="github",
        can_subset=False,
    )
    def github_activity(
        context: dg.AssetExecutionContext,
        github: GitHubResource,
        store: DataStore,
        org: OrgResource,
    ) -> Iterator[dg.MaterializeResult]:
        yield from collect_github(context, github, store, org)

    return github_activity


def collect_github(
    context: dg.AssetExecutionContext, github: GitHubResource, store: DataStore, org: OrgResource
) -> Iterator[dg.MaterializeResult]:
    keys = list(context.partition_keys)
    now = dt.datetime.now(dt.UTC)
    days = {key: org.window("daily", key) for key in keys}
    unreachable = unreachable_in_run(context) if github.configured else None
    if unreachable is None:
        known = store.read_or("cache", OWNERSHIP, "latest", {})
        try:
            collected, counters = github.collect(
                days[keys[0]].start,
                days[keys[-1]].end,
                now=now,
                bots=org.bots,
                day_ends=[day.end for day in days.values()],
                deployments_environment=(
                    org.dora_environment if org.dora_source == "deployments" else None
                ),
                teams=org.teams_from_github,
                codeowners_known=(
                    {r: c["oid"] for r, c in (known.get("codeowners") or {}).items() if c}
                    if org.teams_from_github
                    else None
                ),
            )
        except GitHubUnreachable as exc:
            unreachable = str(exc)
            note_unreachable(context, unreachable)
        except GitHubTokenMissing as exc:
            raise dg.Failure(description=str(exc)) from None
    if unreachable is not None:
        yield from _not_collected(context, store, keys, days, unreachable, now)
        return
    # A day's backlog failing costs that day's snapshot only (written below), not the run.
    # Teams failing keeps the teams an earlier run collected (ownership_snapshot), not the day.
    org_wide = [
        c for c in collected.failed if c.repo is None and c.entity not in ("backlog", "teams")
    ]
    if org_wide:
        # Without the listing or a search stream the day would be wrong, not just smaller:
        # fail the partition in one line and keep what earlier runs wrote.
        raise dg.Failure(
            description="GitHub collection failed: "
            + "; ".join(f"{c.entity}: {c.error}" for c in org_wide)
        )
    # Pull requests come from one org-wide search: a repository's failed "pull_requests" entry
    # is a pull request whose further files could not be read (kept, with `files` None).
    failed_repos = {
        asset: {c.repo for c in collected.failed if c.entity == entity}
        for asset, entity in _ENTITY.items()
        if asset != "raw_pull_requests"
    }
    for problem in collected.failed:
        context.log.warning(f"GitHub {problem.entity} {problem.repo}: {problem.error}")
    snapshot = ownership_snapshot(github.org, known, collected, org.teams_from_github)
    if snapshot["collected"]:
        store.write("cache", OWNERSHIP, "latest", snapshot)
        names = sorted({*org.teams, *(t["slug"] for t in snapshot["teams"])})
        context.instance.add_dynamic_partitions(TEAMS, names)
    per_day: dict[str, dict[str, Any]] = {}
    backlog_meta: dict[str, dict[str, Any]] = {}
    for key in keys:
        day = days[key]
        files = split_day(collected, day)
        per_day[key] = {}
        for asset, records in files.items():
            with store.locked("raw", asset, key):
                # A repository that failed now keeps what an earlier run collected for it, and
                # nothing of this run (the pages read before it failed), so nothing doubles.
                lost = failed_repos.get(asset, set())
                if lost:
                    previous = store.read_or("raw", asset, key, [])
                    records = [r for r in records if r.get("repo") not in lost]
                    records += [r for r in previous if r.get("repo") in lost]
                records = unique(records, RECORD_KEYS[asset])
                store.write("raw", asset, key, records)
            per_day[key][asset] = len(records)  # what the file holds, kept records included
        with store.locked("raw", OWNERSHIP, key):
            store.write("raw", OWNERSHIP, key, snapshot)
        backlog = collected.backlog_at(day.end)
        backlog_meta[key] = write_backlog(store, key, day.end, backlog, github.configured, now)
        if isinstance(backlog, EntityCoverage):
            context.log.warning(f"GitHub backlog at {backlog.at}: {backlog.error}")
        at = day.end.isoformat(timespec="seconds")
        store.write(
            "raw",
            GITHUB_COVERAGE,
            key,
            {
                "partition": key,
                "configured": github.configured,
                "org": github.org,
                "entities": [
                    dataclasses.asdict(c)
                    for c in collected.coverage
                    if c.entity != "backlog" or c.at == at  # only this day's snapshot
                ],
            },
        )
    for name in ENTITIES:
        # Each asset of the step gets its own figure on each day (see partition_metadata).
        for key in keys:
            context.add_asset_metadata(
                {"records": per_day[key][name]}, asset_key=dg.AssetKey(name), partition_key=key
            )
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={"range": range_label(keys), "requests": dg.MetadataValue.json(counters)},
        )
    for key in keys:
        context.add_asset_metadata(
            backlog_meta[key], asset_key=dg.AssetKey(BACKLOG), partition_key=key
        )
    yield dg.MaterializeResult(
        asset_key=OWNERSHIP,
        metadata={
            "range": range_label(keys),
            "collected": snapshot["collected"],
            "teams": len(snapshot["teams"]),
            "codeowners_files": sum(1 for c in snapshot["codeowners"].values() if c),
        },
    )
    yield dg.MaterializeResult(
        asset_key=BACKLOG,
        metadata={"range": range_label(keys), "requests": dg.MetadataValue.json(counters)},
    )


def unreachable_in_run(context: dg.AssetExecutionContext) -> str | None:
    """The error of a GitHub found unreachable earlier in this run, or None.

    Kept as a run tag: every step of the run sees it whatever the executor (in-process or one
    process per step) and it is in the run's record in the UI. The value starts with the run's
    id, so a re-execution, which may copy its parent's tags, tries GitHub again.
    """
    this = context.run.run_id
    run = context.instance.get_run_by_id(this)  # fresh: another step may have tagged it
    value = run.tags.get(UNREACHABLE_TAG, "") if run is not None else ""
    run_id, _, error = value.partition(" ")
    return error if run_id == this and error else None


def note_unreachable(context: dg.AssetExecutionContext, error: str) -> None:
    """Tell the run's later steps that GitHub is unreachable, so that none waits for it again."""
    this = context.run.run_id
    context.instance.add_run_tags(this, {UNREACHABLE_TAG: f"{this} {error}"})


def _not_collected(
    context: dg.AssetExecutionContext,
    store: DataStore,
    keys: list[str],
    days: Mapping[str, Window],
    error: str,
    now: dt.datetime,
) -> Iterator[dg.MaterializeResult]:
    """GitHub unreachable: a degraded day, not a failed one, so that the local clones are
    still collected (raw_commits follows this step). Every file an earlier run wrote is kept,
    the day's GitHub coverage too (without one, the metrics count the day as not collected
    from GitHub), and raw_commits' coverage names the error."""
    context.log.warning(f"GitHub was not collected: {error}; earlier files are kept")
    for key in keys:
        failure = EntityCoverage(
            "backlog", None, "failed", error=error, at=days[key].end.isoformat(timespec="seconds")
        )
        backlog = write_backlog(store, key, days[key].end, failure, True, now)
        context.add_asset_metadata(backlog, asset_key=dg.AssetKey(BACKLOG), partition_key=key)
        for name in ENTITIES:
            kept = store.path("raw", name, key).exists()
            context.add_asset_metadata(
                {"github_unreachable": True, "kept_previous": kept},
                asset_key=dg.AssetKey(name),
                partition_key=key,
            )
    for name in (*ENTITIES, OWNERSHIP, BACKLOG):
        yield dg.MaterializeResult(
            asset_key=name, metadata={"range": range_label(keys), "github_error": error}
        )


def unique(
    records: Iterable[dict[str, Any]], key: Callable[[Mapping[str, Any]], tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """One record per key, in first-seen order, the last one seen winning (a REST list read
    page by page can show an item twice when it moves between pages)."""
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        by_key[key(record)] = record
    return list(by_key.values())


def write_backlog(
    store: DataStore,
    key: str,
    end: dt.datetime,
    backlog: BacklogSnapshot | EntityCoverage | None,
    configured: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write one day's `raw_backlog` file and return the day's metadata.

    A snapshot is written as is. A failed search keeps the file an earlier run wrote (a count
    that was right stays right); without one, and when nothing was asked (GitHub not
    configured, the day not over), the file says `"collected": false` and why.
    """
    at = end.isoformat(timespec="seconds")
    with store.locked("raw", BACKLOG, key):
        if isinstance(backlog, BacklogSnapshot):
            store.write("raw", BACKLOG, key, backlog.model_dump(mode="json"))
            return {
                "pull_requests_open": backlog.pull_requests_open,
                "issues_open": backlog.issues_open,
            }
        if isinstance(backlog, EntityCoverage):
            previous = store.read_or("raw", BACKLOG, key, None)
            if isinstance(previous, dict):
                counts = ("pull_requests_open", "issues_open")
                return {"kept_previous": True} | {k: previous[k] for k in counts if k in previous}
            reason = f"GitHub's search failed: {backlog.error}"
        elif not configured:
            reason = "GitHub is not configured"
        elif end > now:
            reason = f"the day had not ended when it was collected ({now.isoformat()})"
        else:
            reason = "not collected"
        store.write("raw", BACKLOG, key, {"at": at, "collected": False, "reason": reason})
        return {"collected": False}


def split_day(collected: GitHubWindow, day: Window) -> dict[str, list[dict[str, Any]]]:
    """The records of one day, by their own events (an item may be in several days)."""
    start, end = day.start, day.end
    return {
        "raw_pull_requests": [
            pr.model_dump(mode="json")
            for pr in collected.pull_requests
            if collected.active_on("pr", pr.repo, pr.number, start, end)
        ],
        "raw_issues": [
            issue.model_dump(mode="json")
            for issue in collected.issues
            if collected.active_on("issue", issue.repo, issue.number, start, end)
        ],
        "raw_releases": [
            r.model_dump(mode="json") for r in collected.releases if day.contains(r.published_at)
        ],
        "raw_github_commits": [
            c.model_dump(mode="json") for c in collected.commits if day.contains(c.committed_ts)
        ],
        "raw_deployments": [
            d.model_dump(mode="json")
            for d in collected.deployments
            if any(day.contains(t) for t in [d.created_at, *(s.created_at for s in d.statuses)])
        ],
    }


def ownership_snapshot(
    github_org: str | None,
    known: Mapping[str, Any],
    collected: GitHubWindow,
    from_github: bool,
) -> dict[str, Any]:
    """Teams and CODEOWNERS as known after this run: the run's answers over what earlier runs
    knew (a repository not pushed since, or whose CODEOWNERS blob did not change, keeps its
    file; a repository whose CODEOWNERS is gone has None)."""
    if not from_github:
        return {"collected": False, "org": github_org, "teams": [], "codeowners": {}}
    codeowners = dict(known.get("codeowners") or {})
    for repo, record in collected.codeowners.items():
        codeowners[repo] = record.model_dump(mode="json") if record is not None else None
    teams = (
        [t.model_dump(mode="json") for t in collected.teams]
        if collected.teams is not None
        else list(known.get("teams") or [])
    )
    return {"collected": True, "org": github_org, "teams": teams, "codeowners": codeowners}
