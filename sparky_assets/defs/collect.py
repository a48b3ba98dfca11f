"""Collect layer: what repositories there are, and their commits, one file per day."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dagster as dg

from sparky_assets.defs.common import COVERAGE, DAILY
from sparky_assets.lib.daily import kept_from_previous, split_by_day
from sparky_assets.partitions import ORG_TZ, daily_partitions
from sparky_resources.local_git import LocalGitResource
from sparky_resources.models import Coverage, RepoCoverage
from sparky_resources.store import DataStore

ALL_COLLECTED = "all_repositories_collected"


@dg.asset(
    group_name="collect",
    kinds={"git", "json"},
    description=(
        "The repositories Sparky reads: each configured local clone with its default branch, "
        "head commit, and the error when it cannot be read. data/raw/repositories/<day>.json"
    ),
    **DAILY,
)
def repositories(
    context: dg.AssetExecutionContext, local_git: LocalGitResource, store: DataStore
) -> dg.MaterializeResult:
    infos = local_git.inspect()
    rows = [info.model_dump(mode="json") for info in infos]
    for key in context.partition_keys:
        store.write("raw", "repositories", key, rows)
    broken = [i for i in infos if i.error]
    for info in broken:
        context.log.warning(f"repository {info.name}: {info.error}")
    table = "\n".join(
        f"| {i.name} | {' + '.join(i.refs)} | {(i.head_sha or '')[:12]} | {i.error or 'ok'} |"
        for i in infos
    )
    return dg.MaterializeResult(
        metadata={
            "repositories": len(infos),
            "unreadable": len(broken),
            "table": dg.MetadataValue.md(
                "| repo | refs | head | status |\n|---|---|---|---|\n" + table
            ),
        }
    )


@dg.asset(
    group_name="collect",
    deps=[repositories],
    kinds={"git", "json"},
    description=(
        "Commits on the default branches, windowed by committer date in the org timezone: "
        "data/raw/raw_commits/<day>.json (a JSON array of commit records). A backfill reads "
        "each clone once for the whole range and writes one file per day. A clone that fails "
        "is reported in data/raw/_coverage/raw_commits/<day>.json and the others are collected."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            ALL_COLLECTED,
            asset="raw_commits",
            description="Every configured repository was read for the window.",
        )
    ],
    **DAILY,
)
def raw_commits(
    context: dg.AssetExecutionContext, local_git: LocalGitResource, store: DataStore
) -> dg.MaterializeResult:
    window = context.partition_time_window
    keys = context.partition_keys
    result = local_git.collect(window.start, window.end)
    if result.coverage and len(result.failed) == len(result.coverage):
        problems = "; ".join(f"{c.repo}: {c.error}" for c in result.failed)
        raise dg.Failure(description=f"no repository could be read ({problems})")

    failed = [c.repo for c in result.failed]
    by_day = split_by_day((c.model_dump() for c in result.commits), keys, ORG_TZ)
    collected_at = dt.datetime.now(ORG_TZ).isoformat(timespec="seconds")
    per_day_counts = {}
    for key in keys:
        kept = kept_from_previous(store.read_or("raw", "raw_commits", key, []), failed)
        records = sorted([*by_day[key], *kept], key=_commit_order)
        store.write("raw", "raw_commits", key, records)
        day_window = daily_partitions.time_window_for_partition_key(key)
        coverage = Coverage(
            partition=key,
            window_start=day_window.start.isoformat(),
            window_end=day_window.end.isoformat(),
            collected_at=collected_at,
            repos=[
                c.model_copy(
                    update={
                        "commits": sum(1 for r in by_day[key] if r["repo"] == c.repo),
                        "kept_previous": sum(1 for r in kept if r["repo"] == c.repo),
                    }
                )
                for c in result.coverage
            ],
        )
        store.write("raw", COVERAGE, key, coverage.model_dump(mode="json"))
        per_day_counts[key] = len(records)

    for c in result.failed:
        context.log.warning(f"repository {c.repo} was not collected: {c.error}")
    return dg.MaterializeResult(
        metadata={
            "commits": sum(per_day_counts.values()),
            "days": len(keys),
            "repositories_ok": len(result.coverage) - len(failed),
            "repositories_failed": len(failed),
            "per_day": dg.MetadataValue.json(per_day_counts),
        },
        check_results=[_coverage_check(result.coverage)],
    )


def _coverage_check(coverage: list[RepoCoverage]) -> dg.AssetCheckResult:
    failed = [c for c in coverage if c.status == "failed"]
    return dg.AssetCheckResult(
        check_name=ALL_COLLECTED,
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": dg.MetadataValue.json({c.repo: c.error for c in failed}),
            "collected": len(coverage) - len(failed),
        },
    )


def _commit_order(record: Mapping[str, Any]) -> tuple[dt.datetime, str]:
    """Files list commits by committer instant (offsets differ, so not by the text)."""
    return dt.datetime.fromisoformat(record["committed_at"]), record["sha"]
