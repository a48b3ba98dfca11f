"""Daily, weekly and monthly partitions in the org's timezone, from `[sparky].start_date`.

`end_offset=1` makes today (and this week, and this month) a partition too: its digest is
marked partial until the window ends, so the demo and the UI show today's work without
waiting for midnight.

Weeks start on Monday (Dagster's weekly default is Sunday: `day_offset=1`) and are keyed by
their Monday; months by their first day (Dagster's default keys, written `YYYY-MM-DD`). The
first week and month are the ones that contain `start_date`: their days before it have no
daily partition, which the window's metrics state ("days collected") rather than hide.

These are the only configuration Dagster needs when the definitions load: everything a run
needs comes through resources. `OrgPartitions.from_config` builds them for any config, so a
test builds the whole graph for another timezone in process (`build_definitions`). The window
arithmetic itself lives in `sparky_resources/clock.py`; these definitions agree with it
(tests/test_clock.py).

"Today" is always the org's today (`[sparky].timezone`), never the machine's: every helper
here takes an optional `now` (an aware instant) so tests and reruns can pin the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import dagster as dg

from sparky_resources import clock
from sparky_resources.clock import DAY_FORMAT, Period
from sparky_resources.config import SparkyConfig

_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def build_daily_partitions(config: SparkyConfig) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=config.sparky.start_date.strftime(DAY_FORMAT),
        timezone=config.sparky.timezone,
        fmt=DAY_FORMAT,
        end_offset=1,
    )


def build_weekly_partitions(config: SparkyConfig) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(day_offset=1, **_window_args("weekly", config))


def build_monthly_partitions(config: SparkyConfig) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(**_window_args("monthly", config))


def _window_args(period: Period, config: SparkyConfig) -> dict[str, Any]:
    """What weekly and monthly partitions share: they start with the window holding
    start_date, in the org timezone, keyed `YYYY-MM-DD`, the current window included."""
    return dict(
        start_date=clock.key_of(period, config.sparky.start_date),
        timezone=config.sparky.timezone,
        fmt=DAY_FORMAT,
        end_offset=1,
    )


TEAMS = "teams"  # the dynamic partitions' name, filled by the GitHub collection


def build_team_partitions(config: SparkyConfig) -> dg.PartitionsDefinition | None:
    """One partition per team: the config's teams (static), or with `[teams].from_github`
    dynamic ones that each GitHub collection fills with GitHub's teams and the config's.
    None when there is no team at all."""
    if config.teams.from_github:
        return dg.DynamicPartitionsDefinition(name=TEAMS)
    if config.teams.teams:
        return dg.StaticPartitionsDefinition(sorted(config.teams.teams))
    return None


@dataclass(frozen=True)
class OrgPartitions:
    """The three partitions definitions of one config, and its timezone."""

    daily: dg.DailyPartitionsDefinition
    weekly: dg.WeeklyPartitionsDefinition
    monthly: dg.MonthlyPartitionsDefinition
    timezone: str
    # The team dimension of the team digests; None without teams (no team digests).
    teams: dg.PartitionsDefinition | None = None

    @classmethod
    def from_config(cls, config: SparkyConfig) -> OrgPartitions:
        return cls(
            daily=build_daily_partitions(config),
            weekly=build_weekly_partitions(config),
            monthly=build_monthly_partitions(config),
            timezone=config.sparky.timezone,
            teams=build_team_partitions(config),
        )

    def of(self, period: Period) -> dg.TimeWindowPartitionsDefinition:
        return {"daily": self.daily, "weekly": self.weekly, "monthly": self.monthly}[period]


def org_today(config: SparkyConfig, now: dt.datetime | None = None) -> dt.date:
    """Today in the org's timezone: the last daily partition (`end_offset=1`)."""
    return clock.local_date(now or dt.datetime.now(dt.UTC), config.tz)


def recent_range(
    config: SparkyConfig, days: int, now: dt.datetime | None = None
) -> tuple[str, str]:
    """First and last partition key of the last `days` days up to today, clamped to start_date."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    today = org_today(config, now)
    first = max(today - dt.timedelta(days=days - 1), config.sparky.start_date)
    if first > today:
        raise ValueError(f"[sparky].start_date {config.sparky.start_date} is after today ({today})")
    return first.strftime(DAY_FORMAT), today.strftime(DAY_FORMAT)


def check_partition_key(config: SparkyConfig, key: str, now: dt.datetime | None = None) -> str:
    """`key` if it is one of the daily partitions (start_date ... today, in the org timezone).

    Otherwise raise ValueError with one line that names the key, the range and the timezone.
    """
    start = config.sparky.start_date
    today = org_today(config, now)
    span = (
        f"{start:{DAY_FORMAT}} ... {today:{DAY_FORMAT}}, timezone {config.sparky.timezone}"
        if start <= today
        else f"none yet: start_date {start:{DAY_FORMAT}} is after today {today:{DAY_FORMAT}}, "
        f"timezone {config.sparky.timezone}"
    )
    try:
        day = dt.datetime.strptime(key, DAY_FORMAT).date() if _KEY.fullmatch(key) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(
            f"partition {key!r} is not a date written as YYYY-MM-DD (daily partitions {span})"
        )
    if not start <= day <= today:
        raise ValueError(f"partition {key} is outside the daily partitions ({span})")
    return key


def window_day_range(
    config: SparkyConfig, period: str, key: str, now: dt.datetime | None = None
) -> tuple[str, str]:
    """The daily partitions of the weekly or monthly window `key`: its first and last day,
    clamped to start_date ... today. One line (ValueError) when the key or window is wrong."""
    if period not in ("weekly", "monthly"):
        raise ValueError(f"period must be weekly or monthly, got {period!r}")
    first, after = clock.window_dates(period, key)  # type: ignore[arg-type]
    today = org_today(config, now)
    lo = max(first, config.sparky.start_date)
    hi = min(after - dt.timedelta(days=1), today)
    if lo > hi:
        raise ValueError(
            f"the {period} window {key} has no daily partitions (start_date "
            f"{config.sparky.start_date:{DAY_FORMAT}}, today {today:{DAY_FORMAT}})"
        )
    return lo.strftime(DAY_FORMAT), hi.strftime(DAY_FORMAT)
