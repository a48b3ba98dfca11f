"""Collect layer: what repositories there are, and their commits, one file per day."""

import datetime as dt
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from sparky_assets.defs.check_evaluations import partition_checks
from sparky_assets.defs.common import (
    COVERAGE,
    partition_metadata,
    partitioned,
    range_label,
    read_upstream,
)
from sparky_assets.defs.github import note_unreachable, unique, unreachable_in_run
from sparky_assets.lib.daily import kept_from_previous, merge_sources, split_by_day
from sparky_assets.lib.sanitize import md_text
from sparky_resources.clock import Window, parse_instant
from sparky_resources.github import GitHubError, GitHubUnreachable
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.models import (
    CommitRecord,
    Coverage,
    FirstCommits,
    LocalTagRecord,
    RepoCoverage,
    RepoInfo,
)
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore, StoreError

ALL_COLLECTED = "all_repositories_collected"
# The clones' tags dated in each day (releases): data/raw/raw_local_tags/<day>.json, written by
# raw_commits. Each clone's first commit per identity: data/cache/first_commits/<repo>.json.
LOCAL_TAGS = "raw_local_tags"
FIRST_COMMITS = "first_commits"


def build_collect_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """`repositories` and `raw_commits` on the daily partitions."""
    with warnings.catch_warnings():
        # A partitioned check (one result per day) is a preview feature in Dagster 1.13.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        check = dg.AssetCheckSpec(
            ALL_COLLECTED,
            asset="raw_commits",
            partitions_def=partitions_def,
            description="Every configured repository was read for the day.",
        )

    @dg.asset(
        name="repositories",
        group_name="collect",
        kinds={"git", "json"},
        description=REPOSITORIES_DESCRIPTION,
        **partitioned(partitions_def),
    )
    def repositories(
        context: dg.AssetExecutionContext,
        local_git: LocalGitResource,
        github: GitHubResource,
        store: DataStore,
        org: OrgResource,
    ) -> dg.MaterializeResult:
        keys = list(context.partition_keys)
        windows = [org.window("daily", k) for k in keys]
        per_clone = local_git.inspect_at([w.end for w in windows])  # per clone, one per day
        # GitHub keeps no history of pushes: its repositories are listed as GitHub reports them
        # now, each day holding those pushed since that day began (`pushed_at` is the last push).
        org_repos, github_error = _org_repositories(context, github, windows[0].start)
        per_day: dict[str, dict[str, Any]] = {}
        infos: list[RepoInfo] = []
        for i, key in enumerate(keys):
            infos = [states[i] for states in per_clone]
            day_start = windows[i].start
            from_github = [
                r.model_dump(mode="json")
                for r in org_repos
                if (pushed := parse_instant(r.pushed_at)) and pushed >= day_start
            ]
            rows = [r.model_dump(mode="json") for r in infos] + from_github
            store.write("raw", "repositories", key, rows)
            per_day[key] = {
                "github_repositories": len(from_github),
                "repositories": len(infos),
                "unreadable": sum(1 for r in infos if r.error),
                "table": dg.MetadataValue.md(_table(infos)),
            }
        for info in infos:
            if info.error:
                context.log.warning(f"repository {info.name} ({info.path}): {info.error}")
            elif info.default_branch_fallback:
                context.log.warning(f"repository {info.name}: {info.default_branch_reason}")
        partition_metadata(context, per_day)
        github_meta = {"github_error": github_error} if github_error else {}
        return dg.MaterializeResult(metadata={"range": range_label(keys), **github_meta})

    @dg.asset(
        name="raw_commits",
        group_name="collect",
        deps=["repositories", "raw_github_commits"],
        kinds={"git", "json"},
        description=RAW_COMMITS_DESCRIPTION,
        check_specs=[check],
        **partitioned(partitions_def),
    )
    def raw_commits(
        context: dg.AssetExecutionContext,
        local_git: LocalGitResource,
        github: GitHubResource,
        store: DataStore,
        org: OrgResource,
    ) -> Iterator[Any]:
        yield from collect_commits(context, local_git, github, store, org, check)

    return [repositories, raw_commits]


REPOSITORIES_DESCRIPTION = (
    "The clones Sparky reads, as they stood at each day's end: default branch and why it "
    "was chosen, shallow or not, the newest commit committed before the day ended, and "
    "the error when a clone cannot be read; with [github].org, next to them the org's "
    "repositories pushed since the day began (source github, as GitHub reports them when "
    "collected). raw_commits reads the clones listed here. Stored in "
    "data/raw/repositories/{day}.json."
)
RAW_COMMITS_DESCRIPTION = (
    "Commits on the default branches of the clones listed in repositories and, with "
    "[github].org, of the org's repositories (raw_github_commits), one record per sha: "
    "local numstat for lines, GitHub's logins. Windowed by committer time in the org "
    "timezone, stored in data/raw/raw_commits/{day}.json. A backfill reads each clone once "
    "for the whole range and writes one file per day. A clone that fails is reported in "
    "data/raw/_coverage/raw_commits/{day}.json and the others are collected. Also the clones' "
    "tags dated in the day (releases) in data/raw/raw_local_tags/{day}.json, and each clone's "
    "first commit per identity over its whole history in data/cache/first_commits/{repo}.json."
)


def _org_repositories(
    context: dg.AssetExecutionContext, github: GitHubResource, pushed_since: dt.datetime
) -> tuple[list[Any], str | None]:
    """The org's repositories pushed since an instant, and why GitHub was not asked or did
    not answer. Unreachable, the day keeps its clones (and the run's later steps do not wait
    for GitHub again); any other GitHub error fails the step in one line."""
    if not github.configured:
        return [], None
    error = unreachable_in_run(context)
    if error is None:
        try:
            return github.repositories(pushed_since), None
        except GitHubUnreachable as exc:
            error = str(exc)
            note_unreachable(context, error)
        except GitHubError as exc:
            raise dg.Failure(description=f"GitHub's repositories: {exc}") from None
    context.log.warning(f"GitHub's repositories were not listed: {error}")
    return [], error


def _table(infos: list[RepoInfo]) -> str:
    rows = [
        f"| {md_text(i.name)} | {md_text(i.default_branch or '')} | "
        f"{md_text(i.default_branch_reason or '')} | {(i.head_sha or '')[:12]} | "
        f"{'shallow' if i.shallow else 'full'} | {md_text(i.error or 'ok')} |"
        for i in infos
    ]
    header = "| repo | branch | why | head at day end | history | status |"
    return "\n".join([header, "|---" * 6 + "|", *rows])


def collect_commits(
    context: dg.AssetExecutionContext,
    local_git: LocalGitResource,
    github: GitHubResource,
    store: DataStore,
    org: OrgResource,
    check: dg.AssetCheckSpec,
) -> Iterator[Any]:
    keys = list(context.partition_keys)
    start, end = org.window("daily", keys[0]).start, org.window("daily", keys[-1]).end
    github_error = unreachable_in_run(context) if github.configured else None
    listed = [
        RepoInfo.model_validate(r)
        for r in read_upstream(store, "raw", "repositories", keys[-1])
        if r.get("source", "local") == "local"
    ]
    cached = {i.name: read_first_commits(store, i.name) for i in listed}
    result = local_git.collect(
        start, end, paths=[i.path for i in listed], cached_first_commits=cached
    )
    if result.coverage and len(result.failed) == len(result.coverage):
        problems = "; ".join(f"{c.repo}: {c.error}" for c in result.failed)
        raise dg.Failure(description=f"no repository could be read ({problems})")

    failed = [c.repo for c in result.failed]
    fresh_shas = {c.sha for c in result.commits}
    by_day = split_by_day((c.model_dump() for c in result.commits), keys, org.tz)
    collected_at = dt.datetime.now(org.tz).isoformat(timespec="seconds")
    per_day: dict[str, dict[str, Any]] = {}
    checks: dict[str, tuple[bool, Mapping[str, Any]]] = {}
    for key in keys:
        with store.locked("raw", "raw_commits", key):
            # Through the record model: files of older schema versions are upgraded on read.
            previous = [
                CommitRecord.model_validate(r).model_dump()
                for r in store.read_or("raw", "raw_commits", key, [])
            ]
            kept = kept_from_previous(previous, failed, fresh_shas)
            # With GitHub configured its commits must have been collected for the day (or, when
            # GitHub was unreachable in this run, kept from an earlier one, if any); without it
            # there is nothing to merge.
            if not github.configured:
                from_github = []
            elif github_error:
                from_github = store.read_or("raw", "raw_github_commits", key, [])
            else:
                from_github = read_upstream(store, "raw", "raw_github_commits", key)
            local = [dict(r) for r in [*by_day[key], *kept]]
            merged = unique(merge_sources(local, from_github), _commit_key)
            records = sorted(merged, key=_commit_order)
            store.write("raw", "raw_commits", key, records)
            coverage = _coverage(
                org.window("daily", key),
                collected_at,
                result.coverage,
                by_day[key],
                kept,
                github_error,
            )
            store.write("raw", COVERAGE, key, coverage.model_dump(mode="json"))
        tags = _write_tags(store, org.window("daily", key), result.tags, failed)
        per_day[key] = {
            "commits": len(records),
            "repositories_ok": len(result.coverage) - len(failed),
            "repositories_failed": len(failed),
            "kept_from_earlier_run": len(kept),
            "tags": len(tags),
        }
        checks[key] = (
            not failed and not github_error,
            {
                "failed": dg.MetadataValue.json({c.repo: c.error for c in result.failed}),
                "collected": len(result.coverage) - len(failed),
                **({"github_error": github_error} if github_error else {}),
            },
        )

    for name, firsts in result.first_commits.items():
        store.write("cache", FIRST_COMMITS, name, firsts.model_dump(mode="json"))
    for c in result.failed:
        context.log.warning(f"repository {c.repo} was not collected: {c.error}")
    partition_metadata(context, per_day)
    yield dg.MaterializeResult(
        metadata={
            "range": range_label(keys),
            "range_commits": sum(d["commits"] for d in per_day.values()),
        }
    )
    yield from partition_checks(context, check, checks)


def _write_tags(
    store: DataStore, day: Window, tags: list[LocalTagRecord], failed: list[str]
) -> list[dict[str, Any]]:
    """The day's tags file, written whole (a re-run writes the same file); a clone that failed
    keeps the tags an earlier run found for it."""
    lo, hi = day.start.timestamp(), day.end.timestamp()
    with store.locked("raw", LOCAL_TAGS, day.key):
        previous = store.read_or("raw", LOCAL_TAGS, day.key, [])
        fresh = [t for t in tags if lo <= t.date_ts < hi]
        known = {(t.repo, t.name) for t in fresh}
        kept = [
            LocalTagRecord.model_validate(t)
            for t in previous
            if t.get("repo") in failed and (t.get("repo"), t.get("name")) not in known
        ]
        records = sorted([*fresh, *kept], key=lambda t: (t.date_ts, t.repo, t.name))
        rows = [t.model_dump(mode="json") for t in records]
        store.write("raw", LOCAL_TAGS, day.key, rows)
    return rows


def read_first_commits(store: DataStore, repo: str) -> FirstCommits | None:
    """A clone's cached first commit per identity (raw_commits writes it), or None where
    there is none or it cannot be read (raw_commits then lists the history again)."""
    try:
        data = store.read_or("cache", FIRST_COMMITS, repo, None)
        return None if data is None else FirstCommits.model_validate(data)
    except (StoreError, ValueError):
        return None


def read_local_tags(store: DataStore, days: Sequence[str]) -> list[LocalTagRecord]:
    """The clones' tags dated in the given days (raw_commits writes one file per day), oldest
    first; a day not collected has none."""
    return [
        LocalTagRecord.model_validate(t)
        for day in days
        for t in store.read_or("raw", LOCAL_TAGS, day, [])
    ]


def _coverage(
    day: Window,
    collected_at: str,
    repos: list[RepoCoverage],
    fresh: list[Mapping[str, Any]],
    kept: list[Mapping[str, Any]],
    github_error: str | None = None,
) -> Coverage:
    return Coverage(
        partition=day.key,
        window_start=day.start.isoformat(),
        window_end=day.end.isoformat(),
        collected_at=collected_at,
        repos=[
            c.model_copy(
                update={
                    "commits": sum(1 for r in fresh if r["repo"] == c.repo),
                    "kept_previous": sum(1 for r in kept if r["repo"] == c.repo),
                }
            )
            for c in repos
        ],
        github_error=github_error,
    )


def _commit_key(record: Mapping[str, Any]) -> tuple[str, str]:
    return record["repo"], record["sha"]


def _commit_order(record: Mapping[str, Any]) -> tuple[int, str]:
    """Files list commits by committer instant (the epoch: offsets differ, some are invalid)."""
    return record["committed_ts"], record["sha"]
