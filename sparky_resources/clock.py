"""One clock: the org's windows, instants read from text, and what lies inside a window.

Every window in Sparky (a day, a Monday-to-Sunday week, a calendar month) is `[start, end)` in
the org timezone, from local midnight to local midnight, whatever DST does: a day is 23, 24 or
25 hours, and a zone that skipped a date (Pacific/Kiritimati skipped 1994-12-31) has no window
for it. These are the windows of Dagster's daily, weekly (`day_offset=1`) and monthly time
partitions in the same timezone; `tests/test_clock.py` checks that property against Dagster.

Instants are compared as instants, never as text: an ISO time is parsed by `parse_instant`
(one rule, below), a commit's time is its epoch seconds, and `Window.contains` takes either.
Nothing here reads the machine's timezone.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, get_args
from zoneinfo import ZoneInfo

Period = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[Period, ...] = get_args(Period)
DAY_FORMAT = "%Y-%m-%d"  # partition keys: a window is keyed by its first day
UNIT: dict[Period, str] = {"daily": "day", "weekly": "week", "monthly": "month"}


def parse_instant(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time as an aware instant; None for None or "".

    The one rule: a time that carries an offset (`Z`, `+02:00`) is that instant; a time without
    one is UTC. GitHub returns every timestamp in UTC, ISO 8601 ("All timestamps return in UTC
    time, ISO 8601 format": docs.github.com/rest, "Timezones"), and Sparky writes its own with
    an offset, so an offset-less time only ever comes from a UTC source. Raises ValueError for
    text that is not an ISO time.
    """
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)  # 3.11: accepts "Z"
    # fromisoformat gives a fixed-offset tzinfo exactly when the text has an offset.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def epoch(text: str | None) -> float | None:
    """`parse_instant` as epoch seconds."""
    moment = parse_instant(text)
    return None if moment is None else moment.timestamp()


def require_aware(now: dt.datetime) -> dt.datetime:
    """`now` when it carries an offset: a naive time would be read in the machine's timezone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must carry a UTC offset, got {now.isoformat()}")
    return now


def _seconds(when: dt.datetime | float | int) -> float:
    # Called for every record of a window: the common cases first, no extra calls.
    kind = type(when)
    if kind is float or kind is int:
        return when  # type: ignore[return-value]
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            require_aware(when)  # raises, in one line
        return when.timestamp()
    return float(when)


def in_window(
    when: dt.datetime | float | int | None,
    start: dt.datetime | float,
    end: dt.datetime | float,
) -> bool:
    """`start <= when < end`, as instants (aware datetimes or epoch seconds); None is outside."""
    if when is None:
        return False
    return _seconds(start) <= _seconds(when) < _seconds(end)


@dataclass(frozen=True)
class Window:
    """`[start, end)` in the org timezone; `days` are its calendar days (daily partition keys)."""

    period: Period
    key: str
    start: dt.datetime
    end: dt.datetime
    days: tuple[str, ...] = field(default=())

    @property
    def tz(self) -> ZoneInfo:
        tz = self.start.tzinfo
        assert isinstance(tz, ZoneInfo), "windows are built in the org's ZoneInfo"
        return tz

    @cached_property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @cached_property
    def end_ts(self) -> float:
        return self.end.timestamp()

    @property
    def hours(self) -> float:
        """23 or 25 on DST days: the instants are aware, so the difference is real time."""
        return (self.end_ts - self.start_ts) / 3600

    def contains(self, when: dt.datetime | float | int | str | None) -> bool:
        """Whether an instant (aware datetime, epoch seconds or ISO text) is in the window."""
        if isinstance(when, str):
            when = parse_instant(when)
        if when is None:
            return False
        return self.start_ts <= _seconds(when) < self.end_ts


def calendar_days(first: dt.date, after: dt.date) -> tuple[str, ...]:
    """Every date in `[first, after)` as a partition key."""
    return tuple(
        (first + dt.timedelta(days=i)).strftime(DAY_FORMAT) for i in range((after - first).days)
    )


def window_dates(period: Period, key: str) -> tuple[dt.date, dt.date]:
    """The first date of the window keyed `key` and the first date after it.

    ValueError (one line) for a key that is not a date, a weekly key that is not a Monday, a
    monthly key that is not the first of a month, or an unknown period.
    """
    try:
        first = dt.date.fromisoformat(key)
    except (TypeError, ValueError):
        raise ValueError(f"{period} key {key!r} is not a date written as YYYY-MM-DD") from None
    if period == "daily":
        return first, first + dt.timedelta(days=1)
    if period == "weekly":
        if first.weekday() != 0:
            raise ValueError(f"weekly key {key} is not a Monday")
        return first, first + dt.timedelta(days=7)
    if period == "monthly":
        if first.day != 1:
            raise ValueError(f"monthly key {key} is not the first day of a month")
        return first, first + dt.timedelta(days=calendar.monthrange(first.year, first.month)[1])
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


def midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of a local date in `tz`.

    Where midnight does not exist (a DST change or a skipped date at 00:00), zoneinfo reads the
    wall time with the offset before the change (`fold=0`), which is the first instant of the
    day after the gap: the instant the previous day ends. Normalised through UTC so that the
    result shows the wall time that really happened (01:00 on a day whose 00:00 was skipped).
    Python adds a timedelta to an aware datetime in wall time: add in UTC for real time.
    """
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def window(period: Period, key: str, tz: ZoneInfo) -> Window:
    """The window keyed `key`, as instants in `tz`."""
    first, after = window_dates(period, key)
    return Window(
        period, key, midnight(first, tz), midnight(after, tz), calendar_days(first, after)
    )


def first_day(period: Period, day: dt.date) -> dt.date:
    """The first date of the window of `period` that holds the date `day`."""
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


def key_of(period: Period, day: dt.date) -> str:
    """The key of the window of `period` that holds the date `day`."""
    return first_day(period, day).strftime(DAY_FORMAT)


def previous_key(period: Period, key: str, steps: int = 1) -> str:
    """The key of the window `steps` windows before `key`, of the same kind."""
    first, _ = window_dates(period, key)
    if period == "daily":
        return (first - dt.timedelta(days=steps)).strftime(DAY_FORMAT)
    if period == "weekly":
        return (first - dt.timedelta(days=7 * steps)).strftime(DAY_FORMAT)
    month = first.year * 12 + (first.month - 1) - steps
    return dt.date(month // 12, month % 12 + 1, 1).strftime(DAY_FORMAT)


def next_key(period: Period, key: str) -> str:
    """The key of the window right after `key`: the day its window ends on."""
    _, after = window_dates(period, key)
    return after.strftime(DAY_FORMAT)


def previous_window(current: Window, steps: int = 1) -> Window:
    return window(current.period, previous_key(current.period, current.key, steps), current.tz)


def local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The date in `tz` at an aware instant."""
    return require_aware(moment).astimezone(tz).date()


def window_containing(period: Period, moment: dt.datetime, tz: ZoneInfo) -> Window:
    """The window of `period` in `tz` that holds the instant `moment`."""
    return window(period, key_of(period, local_date(moment, tz)), tz)


def window_ended_at(period: Period, tick: dt.datetime, tz: ZoneInfo) -> Window:
    """The last window of `period` that had ended by the instant `tick`: at 00:30 on a
    Tuesday, yesterday, last week (Monday to Sunday) and, on the 1st, last month.

    A date the zone skipped has an empty window, which "ends" when the next day starts; it is
    passed over: on Kiritimati at 1995-01-01 00:30 the day that just ended is 1994-12-30 (no
    daily tick ever ran on 1994-12-31, and its window holds nothing).
    """
    ended = previous_window(window_containing(period, tick, tz))
    while ended.start_ts == ended.end_ts:
        ended = previous_window(ended)
    return ended


def day_key(moment: dt.datetime | float, tz: ZoneInfo) -> str:
    """The daily key (org date) of an instant given as an aware datetime or epoch seconds."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return local_date(moment, tz).strftime(DAY_FORMAT)
