"""The one clock (sparky_resources/clock.py): windows tile time and agree with Dagster.

Windows are checked three ways: against each other (no gap, no overlap, a week or month is
exactly its days), against Dagster's own daily, weekly (`day_offset=1`) and monthly partition
time windows in the same timezone, and against which local dates exist, worked out here by
sampling UTC instants every 15 minutes (every offset in these zones since 1990 is a multiple
of 15 minutes), not by the code under test. Zones: DST in both hemispheres, a 30-minute DST
(Lord Howe), zones whose midnight does not exist on the DST day (Santiago, Beirut, Havana),
and zones that skipped a whole date (Apia 2011-12-30, Kiritimati 1994-12-31).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparky_resources import clock
from sparky_resources.clock import Period, Window

UTC = dt.UTC
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Beirut",
    "America/Havana",
    "Pacific/Apia",
    "Pacific/Kiritimati",
)
FIRST = dt.date(1990, 1, 1)  # a Monday: Dagster's weekly partitions start on it
LAST = dt.date(2035, 12, 31)
PROPERTY = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def exists_locally(day: dt.date, tz: ZoneInfo) -> bool:
    """Whether some instant has the local date `day` in `tz`: UTC instants every 15 minutes
    from 15 hours before `day` 00:00 UTC to 15 hours after its end (offsets are within ±14 h)."""
    base = dt.datetime.combine(day, dt.time(), tzinfo=UTC) - dt.timedelta(hours=15)
    return any(
        (base + dt.timedelta(minutes=15 * i)).astimezone(tz).date() == day
        for i in range((24 + 30) * 4)
    )


@functools.cache
def offset_changes(zone: str) -> tuple[dt.date, ...]:
    """Local dates around every UTC-offset change of `zone` in FIRST..LAST (the offset at UTC
    noon compared day to day): where DST and skipped dates are, so that examples hit them."""
    tz = ZoneInfo(zone)
    out: list[dt.date] = []
    day = FIRST
    before = dt.datetime.combine(day, dt.time(12), tzinfo=UTC).astimezone(tz).utcoffset()
    while day < LAST:
        day += dt.timedelta(days=1)
        now = dt.datetime.combine(day, dt.time(12), tzinfo=UTC).astimezone(tz).utcoffset()
        if now != before:
            out += [day + dt.timedelta(days=d) for d in (-2, -1, 0, 1)]
        before = now
    return tuple(d for d in out if FIRST <= d <= LAST) or (FIRST,)


def first_of(period: Period, day: dt.date) -> dt.date:
    """The key date of the window holding `day`, by the calendar (not by the clock)."""
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=day.weekday())
    return dt.date(day.year, day.month, 1)


def after_of(period: Period, first: dt.date) -> dt.date:
    """The first date after the window keyed `first`, by the calendar."""
    if period == "daily":
        return first + dt.timedelta(days=1)
    if period == "weekly":
        return first + dt.timedelta(days=7)
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


@functools.cache
def dagster_partitions(period: Period, zone: str) -> dg.TimeWindowPartitionsDefinition:
    common = {"start_date": FIRST.isoformat(), "timezone": zone, "fmt": clock.DAY_FORMAT}
    if period == "daily":
        return dg.DailyPartitionsDefinition(**common)
    if period == "weekly":
        return dg.WeeklyPartitionsDefinition(day_offset=1, **common)  # Monday
    return dg.MonthlyPartitionsDefinition(**common)


def dagster_window(period: Period, zone: str, key: str) -> tuple[float, float]:
    tw = dagster_partitions(period, zone).time_window_for_partition_key(key)
    return tw.start.timestamp(), tw.end.timestamp()


@st.composite
def cases(draw: st.DrawFn, periods: tuple[Period, ...] = clock.PERIODS) -> tuple:
    """A period, a zone and a key of that period: half near an offset change of the zone."""
    period = draw(st.sampled_from(periods))
    zone = draw(st.sampled_from(ZONES))
    day = draw(
        st.one_of(
            st.dates(FIRST + dt.timedelta(days=40), LAST - dt.timedelta(days=40)),
            st.sampled_from(offset_changes(zone)),
        )
    )
    key = first_of(period, day).isoformat()
    return period, zone, key


def same(a: Window, b: Window) -> bool:
    """Equal as windows: key, period and instants (aware datetimes of one zone compare by
    wall time in Python, so instants are compared as epoch seconds)."""
    return (a.period, a.key, a.start_ts, a.end_ts, a.days) == (
        b.period,
        b.key,
        b.start_ts,
        b.end_ts,
        b.days,
    )


# --- properties -------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_windows_tile_time_without_gap_or_overlap(case: tuple) -> None:
    period, zone, key = case
    tz = ZoneInfo(zone)
    w = clock.window(period, key, tz)
    nxt = after_of(period, dt.date.fromisoformat(key)).isoformat()
    assert clock.next_key(period, key) == nxt
    assert clock.previous_key(period, nxt) == key
    assert w.start_ts <= w.end_ts
    assert w.end_ts == clock.window(period, nxt, tz).start_ts  # no gap, no overlap
    assert w.tz == tz and w.start.tzinfo == tz and w.end.tzinfo == tz
    # Each bound is local midnight of its date, or (where that midnight does not exist) the
    # first instant after it: the instant just before is on an earlier local date.
    first, after = dt.date.fromisoformat(key), dt.date.fromisoformat(nxt)
    for bound, day in ((w.start, first), (w.end, after)):
        assert bound.astimezone(tz).date() >= day
        just_before = bound.astimezone(UTC) - dt.timedelta(microseconds=1)  # real time
        assert just_before.astimezone(tz).date() < day
    # Empty exactly when the window's dates never happened locally.
    happened = any(exists_locally(first + dt.timedelta(days=i), tz) for i in range(len(w.days)))
    assert (w.start_ts < w.end_ts) == happened


@PROPERTY
@given(cases(periods=("weekly", "monthly")))
def test_a_week_or_month_is_exactly_its_days(case: tuple) -> None:
    period, zone, key = case
    tz = ZoneInfo(zone)
    w = clock.window(period, key, tz)
    first, after = dt.date.fromisoformat(key), after_of(period, dt.date.fromisoformat(key))
    expected = [(first + dt.timedelta(days=i)).isoformat() for i in range((after - first).days)]
    assert list(w.days) == expected
    days = [clock.window("daily", d, tz) for d in w.days]
    assert days[0].start_ts == w.start_ts and days[-1].end_ts == w.end_ts
    for a, b in itertools.pairwise(days):
        assert a.end_ts == b.start_ts
    assert sum(d.hours for d in days) == pytest.approx(w.hours)


@PROPERTY
@given(cases(), st.floats(0, 1, exclude_max=True))
def test_containing_ended_and_previous_agree(case: tuple, fraction: float) -> None:
    period, zone, key = case
    tz = ZoneInfo(zone)
    w = clock.window(period, key, tz)
    previous = clock.previous_key(period, key)
    assert clock.next_key(period, previous) == key
    assert same(clock.previous_window(w), clock.window(period, previous, tz))
    assert clock.previous_key(period, key, 3) == clock.previous_key(
        period, clock.previous_key(period, clock.previous_key(period, key))
    )
    if w.start_ts == w.end_ts:  # a date that did not happen: no instant is in it
        return
    inside = dt.datetime.fromtimestamp(w.start_ts + int((w.end_ts - w.start_ts) * fraction), UTC)
    assert w.contains(inside) and w.contains(w.start) and not w.contains(w.end)
    assert same(clock.window_containing(period, inside, tz), w)
    assert clock.key_of(period, clock.local_date(inside, tz)) == key
    if period == "daily":
        assert clock.day_key(inside, tz) == key == clock.day_key(inside.timestamp(), tz)
    # At the window's end, and at any instant of the next non-empty window, `w` is the last
    # window that has ended.
    assert same(clock.window_ended_at(period, w.end, tz), w)
    nxt = clock.window(period, clock.next_key(period, key), tz)
    if nxt.start_ts < nxt.end_ts:
        later = dt.datetime.fromtimestamp(
            nxt.start_ts + int((nxt.end_ts - nxt.start_ts) * fraction), UTC
        )
        assert same(clock.window_ended_at(period, later, tz), w)


@PROPERTY
@given(cases())
def test_windows_agree_with_dagster_where_the_date_exists(case: tuple) -> None:
    period, zone, key = case
    if not exists_locally(dt.date.fromisoformat(key), ZoneInfo(zone)):
        return  # Kiritimati 1994-12-31, Apia 2011-12-30: see the test below
    w = clock.window(period, key, ZoneInfo(zone))
    assert (w.start_ts, w.end_ts) == dagster_window(period, zone, key)


@pytest.mark.parametrize("period", clock.PERIODS)
@pytest.mark.parametrize("zone", ZONES)
def test_every_offset_change_agrees_with_dagster(period: Period, zone: str) -> None:
    """Not left to chance: every window around every offset change of every zone."""
    tz = ZoneInfo(zone)
    keys = sorted({first_of(period, d).isoformat() for d in offset_changes(zone)})
    for key in keys:
        if exists_locally(dt.date.fromisoformat(key), tz):
            w = clock.window(period, key, tz)
            assert (w.start_ts, w.end_ts) == dagster_window(period, zone, key), key


# --- the dates that never happened --------------------------------------------------------


def test_kiritimati_skipped_1994_12_31_and_sparky_counts_nothing_twice() -> None:
    """Kiribati moved its Line Islands across the date line: on Kiritimati, 1994-12-30 23:59:59
    at UTC-10 was followed by 1995-01-01 00:00:00 at UTC+14 (tz database, "Pacific/Kiritimati").
    The instant is 1994-12-31 10:00 UTC.

    Dagster 1.13 still lists the key 1994-12-31 and gives it the window of 1995-01-01: two keys,
    one window, so a commit of 1995-01-01 would count in both, and twice in their week. Sparky's
    window for the date that never happened is empty, so every instant is in exactly one day
    and a week is the sum of its days. Sparky's windows are the ones that bucket records."""
    zone = "Pacific/Kiritimati"
    tz = ZoneInfo(zone)
    jump = dt.datetime(1994, 12, 31, 10, tzinfo=UTC).timestamp()
    day_s = 86400.0
    assert not exists_locally(dt.date(1994, 12, 31), tz)
    assert exists_locally(dt.date(1994, 12, 30), tz) and exists_locally(dt.date(1995, 1, 1), tz)

    # What Dagster does.
    listed = dg.DailyPartitionsDefinition(
        start_date="1994-12-29", end_date="1995-01-03", timezone=zone, fmt=clock.DAY_FORMAT
    ).get_partition_keys()
    assert listed == ["1994-12-29", "1994-12-30", "1994-12-31", "1995-01-01", "1995-01-02"]
    assert dagster_window("daily", zone, "1994-12-31") == (jump, jump + day_s)
    assert dagster_window("daily", zone, "1995-01-01") == (jump, jump + day_s)
    assert dagster_window("daily", zone, "1994-12-30") == (jump - day_s, jump)

    # What Sparky does.
    assert (clock.window("daily", "1994-12-31", tz).start_ts,) * 2 == (jump, jump)
    assert clock.window("daily", "1994-12-31", tz).hours == 0
    assert clock.window("daily", "1995-01-01", tz).start_ts == jump
    assert clock.window("daily", "1994-12-30", tz).end_ts == jump
    moment = dt.datetime(1994, 12, 31, 12, tzinfo=UTC)  # 1995-01-01 02:00 local
    holding = [d for d in listed if clock.window("daily", d, tz).contains(moment)]
    assert holding == ["1995-01-01"]
    assert clock.day_key(moment, tz) == "1995-01-01"

    # Why Sparky's: the week of 1994-12-26 (Monday) to 1995-01-01 (Sunday) lasted 6 days,
    # and Sparky's days add up to it; Dagster's days add up to 7.
    week = clock.window("weekly", "1994-12-26", tz)
    assert dagster_window("weekly", zone, "1994-12-26") == (week.start_ts, week.end_ts)
    assert week.hours == 6 * 24
    assert sum(clock.window("daily", d, tz).hours for d in week.days) == 6 * 24
    dagster_days = [dagster_window("daily", zone, d) for d in week.days]
    assert sum(end - start for start, end in dagster_days) / 3600 == 7 * 24
    # The tick after the skip: the last day that had ended is 1994-12-30, not the empty day.
    assert clock.window_ended_at("daily", moment, tz).key == "1994-12-30"


def test_a_midnight_that_does_not_exist_starts_the_day_at_its_first_instant() -> None:
    """Santiago, 2022-09-11: clocks went from 00:00 (UTC-4) to 01:00 (UTC-3). The day starts
    at 01:00 local, 04:00 UTC, and lasts 23 hours, as Dagster's daily window does."""
    tz = ZoneInfo("America/Santiago")
    day = clock.window("daily", "2022-09-11", tz)
    assert day.start_ts == dt.datetime(2022, 9, 11, 4, tzinfo=UTC).timestamp()
    assert day.start.isoformat() == "2022-09-11T01:00:00-03:00"
    assert day.hours == 23
    assert clock.window("daily", "2022-09-10", tz).end_ts == day.start_ts
    assert dagster_window("daily", "America/Santiago", "2022-09-11") == (day.start_ts, day.end_ts)


def test_lord_howe_has_a_half_hour_dst() -> None:
    """Lord Howe Island: +10:30 to +11:00 at 02:00 on 2020-10-04, back on 2021-04-04."""
    tz = ZoneInfo("Australia/Lord_Howe")
    assert clock.window("daily", "2020-10-04", tz).hours == 23.5
    assert clock.window("daily", "2021-04-04", tz).hours == 24.5
    assert clock.window("daily", "2020-10-05", tz).hours == 24


# --- window keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "key", "message"),
    [
        ("weekly", "2026-11-24", "not a Monday"),
        ("monthly", "2026-11-02", "not the first day of a month"),
        ("daily", "2026-13-01", "not a date"),
        ("daily", "../../etc", "not a date"),
        ("yearly", "2026-01-01", "period must be one of"),
    ],
)
def test_bad_keys_are_one_line_errors(period: str, key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clock.window(period, key, ZoneInfo("UTC"))  # type: ignore[arg-type]


def test_previous_key_steps_over_years_and_month_lengths() -> None:
    assert clock.previous_key("monthly", "2026-01-01") == "2025-12-01"
    assert clock.previous_key("monthly", "2026-03-01", 14) == "2025-01-01"
    assert clock.previous_key("weekly", "2026-01-05") == "2025-12-29"
    assert clock.previous_key("daily", "2024-03-01") == "2024-02-29"
    assert clock.next_key("monthly", "2024-12-01") == "2025-01-01"
    assert clock.next_key("daily", "2024-02-28") == "2024-02-29"


# --- parse_instant ----------------------------------------------------------------------------


def test_parse_instant_honours_an_offset_and_reads_none_as_utc() -> None:
    noon = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert clock.parse_instant("2026-11-27T12:00:00Z") == noon
    assert clock.parse_instant("2026-11-27T17:30:00+05:30") == noon
    assert clock.parse_instant("2026-11-27T07:00:00-05:00") == noon
    naive = clock.parse_instant("2026-11-27T12:00:00")
    assert naive == noon and naive is not None and naive.utcoffset() == dt.timedelta(0)
    kept = clock.parse_instant("2026-11-27T17:30:00+05:30")
    assert kept is not None and kept.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert clock.parse_instant(None) is None and clock.parse_instant("") is None
    assert clock.epoch("2026-11-27T12:00:00Z") == 1_795_780_800.0
    assert clock.epoch(None) is None


@pytest.mark.parametrize("text", ["yesterday", "2026-11-27T25:00:00Z", "27/11/2026", "2026-02-30"])
def test_parse_instant_refuses_text_that_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError):
        clock.parse_instant(text)


# --- in_window --------------------------------------------------------------------------------


def test_in_window_holds_the_start_and_not_the_end() -> None:
    ny = ZoneInfo("America/New_York")
    w = clock.window("daily", "2024-11-03", ny)  # 25 hours: clocks fall back
    start = dt.datetime(2024, 11, 3, 4, tzinfo=UTC)  # 00:00 EDT
    end = dt.datetime(2024, 11, 4, 5, tzinfo=UTC)  # 00:00 EST
    assert (w.start_ts, w.end_ts, w.hours) == (start.timestamp(), end.timestamp(), 25)
    tick = dt.timedelta(microseconds=1)
    for when, inside in (
        (start - tick, False),
        (start, True),
        (end - tick, True),
        (end, False),
    ):
        forms = [
            when,
            when.astimezone(ny),
            when.timestamp(),
            when.isoformat(),
            when.astimezone(ny).isoformat(),
        ]
        assert [w.contains(f) for f in forms] == [inside] * len(forms), when
        assert clock.in_window(when, w.start, w.end) is inside
        assert clock.in_window(when.timestamp(), w.start_ts, w.end_ts) is inside
    assert clock.in_window(None, w.start, w.end) is False
    assert w.contains(None) is False and w.contains("") is False
    # ISO text without an offset is UTC (parse_instant's rule).
    assert w.contains("2024-11-03T04:00:00") and not w.contains("2024-11-03T03:59:59")


def test_a_naive_time_is_refused_not_read_in_the_machine_zone() -> None:
    w = clock.window("daily", "2024-11-03", ZoneInfo("UTC"))
    with pytest.raises(ValueError, match="UTC offset"):
        w.contains(dt.datetime(2024, 11, 3, 12))
    with pytest.raises(ValueError, match="UTC offset"):
        clock.window_containing("daily", dt.datetime(2024, 11, 3, 12), ZoneInfo("UTC"))
