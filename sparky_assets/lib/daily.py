"""Cutting a collected window into daily partitions, and keeping what a failed repo had."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

DAY_FORMAT = "%Y-%m-%d"  # partition keys


def day_of(iso_instant: str, tz: ZoneInfo) -> str:
    """The org-local day (partition key) an ISO 8601 instant with offset falls on."""
    return dt.datetime.fromisoformat(iso_instant).astimezone(tz).strftime(DAY_FORMAT)


def split_by_day(
    records: Iterable[Mapping[str, Any]], keys: Sequence[str], tz: ZoneInfo
) -> dict[str, list[Mapping[str, Any]]]:
    """Group commit records by the day of their committer date; every key gets a list."""
    days: dict[str, list[Mapping[str, Any]]] = {k: [] for k in keys}
    for record in records:
        day = day_of(record["committed_at"], tz)
        if day in days:
            days[day].append(record)
    return days


def kept_from_previous(
    previous: Sequence[Mapping[str, Any]], failed_repos: Iterable[str]
) -> list[Mapping[str, Any]]:
    """Records an earlier run collected for repos that failed now: re-running loses nothing."""
    failed = set(failed_repos)
    return [r for r in previous if r.get("repo") in failed]
