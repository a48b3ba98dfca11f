"""Cutting a collected window into daily partitions, and keeping what a failed repo had."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sparky_resources import clock


def split_by_day(
    records: Iterable[Mapping[str, Any]], keys: Sequence[str], tz: ZoneInfo
) -> dict[str, list[Mapping[str, Any]]]:
    """Group commit records by the day of their committer epoch; every key gets a list.

    By the epoch (`committed_ts`), not the ISO text: git accepts offsets such as `+9900` that
    no datetime library does, and one such commit must not fail the others. The days are the
    clock's windows (`clock.window`): DST days are 23 or 25 hours, a skipped date is empty.
    """
    days: dict[str, list[Mapping[str, Any]]] = {k: [] for k in keys}
    windows = [clock.window("daily", k, tz) for k in sorted(days)]
    starts = [w.start_ts for w in windows]
    for record in records:
        i = bisect.bisect_right(starts, record["committed_ts"]) - 1
        if i >= 0 and windows[i].contains(record["committed_ts"]):
            days[windows[i].key].append(record)
    return days


def kept_from_previous(
    previous: Sequence[Mapping[str, Any]],
    failed_repos: Iterable[str],
    fresh_shas: Iterable[str] = (),
) -> list[Mapping[str, Any]]:
    """Records an earlier run collected for repos that failed now: re-running loses nothing.

    A kept record whose commit was collected again now (another clone of the same repository)
    is dropped: a commit counts once across kept and fresh records.
    """
    failed = set(failed_repos)
    fresh = set(fresh_shas)
    return [r for r in previous if r.get("repo") in failed and r.get("sha") not in fresh]


def merge_sources(
    local: Sequence[Mapping[str, Any]], github: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One record per sha from the local clones and GitHub.

    Local numstat wins for line and file counts (git counts renames and binary files the way
    the metrics define them); the accounts (logins) come from GitHub; `sources` says who saw it.
    """
    by_sha = {g["sha"]: g for g in github}
    merged: list[dict[str, Any]] = []
    for record in local:
        seen = by_sha.pop(record["sha"], None)
        out = {**record, "sources": sorted({*record.get("sources", ["local"]), "local"})}
        if seen is not None:
            out |= {
                "author_login": seen.get("author_login"),
                "committer_login": seen.get("committer_login"),
                "sources": sorted({*out["sources"], "github"}),
            }
        merged.append(out)
    merged.extend(dict(g) for g in by_sha.values())
    return merged
