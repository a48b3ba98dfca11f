"""Tests for `sparky_assets.partitions`: "today" is the org's today, worked out from a pinned clock.

Every instant here is fixed (never the wall clock) and sits on one side of a midnight in the
org's timezone; the expected keys were worked out by hand and are checked against Dagster's own
`DailyPartitionsDefinition` at the same instant.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from sparky_assets.partitions import (
    build_daily_partitions,
    check_partition_key,
    org_today,
    recent_range,
)
from sparky_resources.config import SparkyConfig

UTC = dt.UTC


def config(timezone: str, start_date: dt.date | None = None) -> SparkyConfig:
    """A config in `timezone` starting 2024-05-01, or on `start_date` (set after validation,
    so a start date that is in the future by the wall clock can be used with a pinned `now`)."""
    cfg = SparkyConfig.model_validate(
        {"sparky": {"timezone": timezone, "start_date": "2024-05-01"}, "local": {"repos": ["."]}}
    )
    if start_date is None:
        return cfg
    return cfg.model_copy(
        update={"sparky": cfg.sparky.model_copy(update={"start_date": start_date})}
    )


def at(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    assert value.utcoffset() is not None
    return value


# (org timezone, instant, the org's today at that instant), worked out by hand.
MIDNIGHTS = [
    # UTC+14 all year: 10:00Z is midnight there, while UTC is still on the 27th.
    ("Pacific/Kiritimati", "2026-11-27T09:59:59+00:00", "2026-11-27"),
    ("Pacific/Kiritimati", "2026-11-27T10:00:00+00:00", "2026-11-28"),
    # UTC-12 all year: 12:00Z is midnight there, while UTC has been on the 28th for 12 hours.
    ("Etc/GMT+12", "2026-11-28T11:59:59+00:00", "2026-11-27"),
    ("Etc/GMT+12", "2026-11-28T12:00:00+00:00", "2026-11-28"),
    # UTC+12 (the POSIX sign is inverted: Etc/GMT-12 is twelve hours *ahead*).
    ("Etc/GMT-12", "2026-11-27T11:59:59+00:00", "2026-11-27"),
    ("Etc/GMT-12", "2026-11-27T12:00:00+00:00", "2026-11-28"),
    # UTC+05:30: a half-hour offset.
    ("Asia/Kolkata", "2026-11-27T18:29:59+00:00", "2026-11-27"),
    ("Asia/Kolkata", "2026-11-27T18:30:00+00:00", "2026-11-28"),
    # New York after the spring change (2026-03-08): midnight is 04:00Z (EDT, UTC-4), not 05:00Z.
    ("America/New_York", "2026-03-09T03:59:59+00:00", "2026-03-08"),
    ("America/New_York", "2026-03-09T04:00:00+00:00", "2026-03-09"),
    # The 25-hour day of the autumn change (2026-11-01): it starts at 04:00Z (EDT) and ends at
    # 05:00Z on the 2nd (EST, UTC-5).
    ("America/New_York", "2026-11-01T03:59:59+00:00", "2026-10-31"),
    ("America/New_York", "2026-11-01T04:00:00+00:00", "2026-11-01"),
    ("America/New_York", "2026-11-02T04:59:59+00:00", "2026-11-01"),
    ("America/New_York", "2026-11-02T05:00:00+00:00", "2026-11-02"),
    # The instant's own offset does not matter: 23:30 at UTC-12 on the 27th is 11:30Z on the 28th.
    ("UTC", "2026-11-27T23:30:00-12:00", "2026-11-28"),
    ("UTC", "2026-11-28T00:30:00+14:00", "2026-11-27"),
]
MIDNIGHT_IDS = [f"{tz}@{now}" for tz, now, _ in MIDNIGHTS]


@pytest.mark.parametrize(("timezone", "now", "today"), MIDNIGHTS, ids=MIDNIGHT_IDS)
def test_today_is_the_orgs_today_and_dagsters_last_partition(
    timezone: str, now: str, today: str
) -> None:
    cfg = config(timezone)

    assert org_today(cfg, at(now)) == dt.date.fromisoformat(today)
    with dg.partition_loading_context(effective_dt=at(now)):
        assert build_daily_partitions(cfg).get_last_partition_key() == today


@pytest.mark.parametrize(("timezone", "now", "today"), MIDNIGHTS, ids=MIDNIGHT_IDS)
def test_recent_range_ends_on_the_orgs_today(timezone: str, now: str, today: str) -> None:
    last = dt.date.fromisoformat(today)
    week_start = (last - dt.timedelta(days=6)).isoformat()

    assert recent_range(config(timezone), 1, now=at(now)) == (today, today)
    assert recent_range(config(timezone), 7, now=at(now)) == (week_start, today)


def test_recent_range_by_hand_around_kiritimati_midnight() -> None:
    cfg = config("Pacific/Kiritimati")
    assert recent_range(cfg, 3, now=at("2026-11-27T09:59:59Z")) == ("2026-11-25", "2026-11-27")
    assert recent_range(cfg, 3, now=at("2026-11-27T10:00:00Z")) == ("2026-11-26", "2026-11-28")
    # A month boundary and a leap day.
    assert recent_range(cfg, 2, now=at("2028-02-29T10:00:00Z")) == ("2028-02-29", "2028-03-01")


def test_recent_range_is_clamped_to_start_date() -> None:
    cfg = config("Pacific/Kiritimati", start_date=dt.date(2026, 11, 26))
    assert recent_range(cfg, 7, now=at("2026-11-27T10:00:00Z")) == ("2026-11-26", "2026-11-28")
    # One second earlier it is still the 27th there: two days, not three.
    assert recent_range(cfg, 7, now=at("2026-11-27T09:59:59Z")) == ("2026-11-26", "2026-11-27")


def test_recent_range_start_date_only_just_reached() -> None:
    # start_date 2026-11-28 in UTC-12 exists from 12:00Z on the 28th.
    late = config("Etc/GMT+12", start_date=dt.date(2026, 11, 28))
    assert recent_range(late, 3, now=at("2026-11-28T12:00:00Z")) == ("2026-11-28", "2026-11-28")
    with pytest.raises(ValueError, match=r"start_date 2026-11-28 is after today \(2026-11-27\)"):
        recent_range(late, 3, now=at("2026-11-28T11:59:59Z"))


def test_recent_range_rejects_bad_arguments() -> None:
    cfg = config("UTC")
    with pytest.raises(ValueError, match="days must be at least 1, got 0"):
        recent_range(cfg, 0, now=at("2026-11-27T12:00:00Z"))
    # A naive time would be read in the machine's timezone: refused rather than guessed.
    with pytest.raises(ValueError, match="UTC offset"):
        recent_range(cfg, 1, now=dt.datetime(2026, 11, 27, 12, 0))


def test_default_now_is_the_clock_in_the_org_timezone() -> None:
    cfg = config("Pacific/Kiritimati")
    before = dt.datetime.now(UTC)
    first, last = recent_range(cfg, 1)
    after = dt.datetime.now(UTC)
    # Either side of a midnight that fell between the two readings.
    assert last in {org_today(cfg, before).isoformat(), org_today(cfg, after).isoformat()}
    assert first == last


# --- check_partition_key --------------------------------------------------------------------


def test_check_partition_key_accepts_start_date_through_the_orgs_today() -> None:
    cfg = config("Pacific/Kiritimati")
    now = at("2026-11-27T10:00:00Z")  # 2026-11-28 00:00 in Kiritimati, 2026-11-27 in UTC
    for key in ("2024-05-01", "2025-06-03", "2026-11-27", "2026-11-28"):
        assert check_partition_key(cfg, key, now=now) == key


@pytest.mark.parametrize(
    ("timezone", "now", "key", "today"),
    [
        ("UTC", "2026-11-27T12:00:00Z", "2024-04-30", "2026-11-27"),  # the day before start
        ("UTC", "2026-11-27T12:00:00Z", "1999-01-01", "2026-11-27"),
        ("UTC", "2026-11-27T12:00:00Z", "2026-11-28", "2026-11-27"),  # tomorrow
        ("UTC", "2026-11-27T12:00:00Z", "2099-01-01", "2026-11-27"),
        # Kiritimati one second before its midnight: the 28th is still tomorrow there.
        ("Pacific/Kiritimati", "2026-11-27T09:59:59Z", "2026-11-28", "2026-11-27"),
        # UTC-12 at 11:59Z on the 28th: UTC's today is tomorrow there.
        ("Etc/GMT+12", "2026-11-28T11:59:59Z", "2026-11-28", "2026-11-27"),
    ],
)
def test_check_partition_key_refuses_keys_outside_the_range(
    timezone: str, now: str, key: str, today: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        check_partition_key(config(timezone), key, now=at(now))
    assert str(excinfo.value) == (
        f"partition {key} is outside the daily partitions "
        f"(2024-05-01 ... {today}, timezone {timezone})"
    )
    with dg.partition_loading_context(effective_dt=at(now)):
        assert not build_daily_partitions(config(timezone)).has_partition_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "2024-13-45",
        "2024-02-30",
        "2024-6-3",
        "20240603",
        "2024/06/03",
        " 2024-06-03",
        "",
        "today",
        "\uff12\uff10\uff12\uff14-\uff10\uff16-\uff10\uff13",  # fullwidth digits
        "2024-06-03T00:00",
    ],
)
def test_check_partition_key_refuses_malformed_keys(key: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        check_partition_key(config("UTC"), key, now=at("2026-11-27T12:00:00Z"))
    assert str(excinfo.value) == (
        f"partition {key!r} is not a date written as YYYY-MM-DD "
        "(daily partitions 2024-05-01 ... 2026-11-27, timezone UTC)"
    )
    with dg.partition_loading_context(effective_dt=at("2026-11-27T12:00:00Z")):
        assert not build_daily_partitions(config("UTC")).has_partition_key(key)


def test_check_partition_key_before_any_partition_exists() -> None:
    cfg = config("UTC", start_date=dt.date(2026, 11, 27))
    with pytest.raises(ValueError) as excinfo:
        check_partition_key(cfg, "2026-11-27", now=at("2026-11-26T23:59:59Z"))
    assert str(excinfo.value) == (
        "partition 2026-11-27 is outside the daily partitions "
        "(none yet: start_date 2026-11-27 is after today 2026-11-26, timezone UTC)"
    )
    assert check_partition_key(cfg, "2026-11-27", now=at("2026-11-27T00:00:00Z")) == "2026-11-27"
