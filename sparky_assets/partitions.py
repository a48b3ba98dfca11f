"""Daily partitions in the org's timezone, from `[sparky].start_date`.

`end_offset=1` makes today a partition too: its digest is marked partial until the day ends,
so the demo and the UI show today's work without waiting for midnight.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from sparky_assets.lib.daily import DAY_FORMAT
from sparky_resources.config import SparkyConfig, get_config


def build_daily_partitions(config: SparkyConfig) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=config.sparky.start_date.strftime(DAY_FORMAT),
        timezone=config.sparky.timezone,
        fmt=DAY_FORMAT,
        end_offset=1,
    )


def recent_range(
    config: SparkyConfig, days: int, now: dt.datetime | None = None
) -> tuple[str, str]:
    """First and last partition key of the last `days` days up to today, clamped to start_date."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    today = (now or dt.datetime.now(dt.UTC)).astimezone(config.tz).date()
    first = max(today - dt.timedelta(days=days - 1), config.sparky.start_date)
    if first > today:
        raise ValueError(f"[sparky].start_date {config.sparky.start_date} is after today ({today})")
    return first.strftime(DAY_FORMAT), today.strftime(DAY_FORMAT)


daily_partitions = build_daily_partitions(get_config())
ORG_TZ = get_config().tz

