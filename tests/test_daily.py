"""Daily partitions from instants: the org-local day, splitting a window, keeping records.

Which day an instant falls on is asked of `split_by_day` itself (the epoch of the instant
against the day before, the day, and the day after).

Every expected day below is worked out by hand from the zone's offset on that date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sparky_assets.lib.daily import kept_from_previous, merge_sources, split_by_day

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("instant", "tz", "day"),
    [
        # New York in June is UTC-4: June 3 is [04:00Z June 3, 04:00Z June 4).
        ("2024-06-03T00:15:00+02:00", NY, "2024-06-02"),  # 22:15Z June 2 = 18:15 June 2
        ("2024-06-04T03:59:59+00:00", NY, "2024-06-03"),  # 23:59:59 June 3
        ("2024-06-04T04:00:00Z", NY, "2024-06-04"),  # 00:00:00 June 4
        ("2024-06-03T23:59:59-04:00", NY, "2024-06-03"),
        ("2024-06-04T00:00:01-04:00", NY, "2024-06-04"),
        ("2024-06-04T01:30:00+02:00", NY, "2024-06-03"),  # 23:30Z June 3 = 19:30 June 3
        # Tokyo is UTC+9 all year: 15:00Z is midnight.
        ("2024-06-02T15:00:00+00:00", TOKYO, "2024-06-03"),
        ("2024-06-02T14:59:59+00:00", TOKYO, "2024-06-02"),
        ("2024-06-02T20:00:00-04:00", TOKYO, "2024-06-03"),  # 00:00Z June 3 = 09:00 June 3
        # Kolkata is UTC+5:30: 18:30Z is midnight.
        ("2024-06-02T18:30:00+00:00", KOLKATA, "2024-06-03"),
        ("2024-06-02T18:29:59+00:00", KOLKATA, "2024-06-02"),
        # UTC: the instant's own UTC date, whatever offset it was written with.
        ("2024-06-03T23:30:00-05:00", UTC, "2024-06-04"),  # 04:30Z June 4
        ("2024-06-04T00:30:00+01:00", UTC, "2024-06-03"),  # 23:30Z June 3
    ],
)
def test_day_of_near_midnight(instant: str, tz: ZoneInfo, day: str) -> None:
    assert day_of(instant, tz) == day


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        # 2024-11-03 in New York has 25 hours: EDT (UTC-4) until 02:00 local = 06:00Z, then
        # EST (UTC-5). The day is [04:00Z Nov 3, 05:00Z Nov 4).
        ("2024-11-03T03:59:59+00:00", "2024-11-02"),  # 23:59:59 EDT Nov 2
        ("2024-11-03T04:00:00+00:00", "2024-11-03"),  # 00:00 EDT Nov 3
        ("2024-11-03T01:30:00-04:00", "2024-11-03"),  # the first 01:30 (EDT) ...
        ("2024-11-03T01:30:00-05:00", "2024-11-03"),  # ... and the second (EST)
        ("2024-11-03T23:30:00-05:00", "2024-11-03"),
        ("2024-11-04T04:30:00+00:00", "2024-11-03"),  # 23:30 EST Nov 3
        ("2024-11-04T04:59:59+00:00", "2024-11-03"),  # 23:59:59 EST Nov 3, hour 25
        ("2024-11-04T05:00:00+00:00", "2024-11-04"),  # 00:00 EST Nov 4
        # 2024-03-10 has 23 hours: EST until 02:00 local = 07:00Z, then EDT.
        # The day is [05:00Z Mar 10, 04:00Z Mar 11).
        ("2024-03-10T04:59:59+00:00", "2024-03-09"),  # 23:59:59 EST Mar 9
        ("2024-03-10T05:00:00+00:00", "2024-03-10"),
        ("2024-03-11T03:59:59+00:00", "2024-03-10"),  # 23:59:59 EDT Mar 10
        ("2024-03-11T04:00:00+00:00", "2024-03-11"),
    ],
)
def test_day_of_on_new_york_dst_changes(instant: str, day: str) -> None:
    assert day_of(instant, NY) == day


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        # Berlin leaves summer time on 2024-10-27 at 03:00 CEST = 01:00Z; the day is
        # [22:00Z Oct 26, 23:00Z Oct 27) (CEST UTC+2 at its start, CET UTC+1 at its end).
        ("2024-10-26T21:59:59+00:00", "2024-10-26"),
        ("2024-10-26T22:00:00+00:00", "2024-10-27"),
        ("2024-10-27T22:59:59+00:00", "2024-10-27"),  # 23:59:59 CET
        ("2024-10-27T23:00:00+00:00", "2024-10-28"),
        ("2024-10-27T23:30:00+01:00", "2024-10-27"),
    ],
)
def test_day_of_on_berlin_dst_change(instant: str, day: str) -> None:
    assert day_of(instant, BERLIN) == day


def day_of(instant: str, tz: ZoneInfo) -> str:
    """The one key of three candidate days whose list `split_by_day` put the instant in."""
    utc = dt.datetime.fromisoformat(instant).astimezone(dt.UTC).date()
    keys = [str(utc + dt.timedelta(days=d)) for d in (-1, 0, 1)]
    days = split_by_day([record("x", instant)], keys, tz)
    (found,) = [k for k, records in days.items() if records]
    return found


def record(sha: str, committed_at: str, repo: str = "alpha") -> dict[str, Any]:
    epoch = int(dt.datetime.fromisoformat(committed_at).timestamp())
    return {"repo": repo, "sha": sha, "committed_at": committed_at, "committed_ts": epoch}


def test_split_by_day_gives_every_key_a_list_and_drops_the_rest() -> None:
    records = [
        record("a", "2024-06-02T12:00:00-04:00"),  # June 2: not a key -> dropped
        record("b", "2024-06-03T00:15:00+02:00"),  # 18:15 June 2 NY -> dropped
        record("c", "2024-06-03T09:00:00-04:00"),  # June 3
        record("d", "2024-06-04T01:30:00+02:00"),  # 19:30 June 3 NY
        record("e", "2024-06-04T00:00:01-04:00"),  # June 4 (quiet key is June 5)
        record("f", "2024-06-06T00:00:00-04:00"),  # June 6: not a key -> dropped
    ]
    keys = ["2024-06-03", "2024-06-04", "2024-06-05"]
    days = split_by_day(records, keys, NY)
    assert list(days) == keys
    assert [r["sha"] for r in days["2024-06-03"]] == ["c", "d"]
    assert [r["sha"] for r in days["2024-06-04"]] == ["e"]
    assert days["2024-06-05"] == []


def test_split_by_day_with_no_records_or_no_keys() -> None:
    assert split_by_day([], ["2024-06-03", "2024-06-04"], NY) == {
        "2024-06-03": [],
        "2024-06-04": [],
    }
    assert split_by_day([record("a", "2024-06-03T12:00:00Z")], [], NY) == {}


def test_split_by_day_on_the_25_hour_day() -> None:
    records = [
        record("late", "2024-11-04T04:30:00+00:00"),  # 23:30 EST Nov 3
        record("next", "2024-11-04T05:00:00+00:00"),  # 00:00 EST Nov 4
    ]
    days = split_by_day(records, ["2024-11-03", "2024-11-04"], NY)
    assert [r["sha"] for r in days["2024-11-03"]] == ["late"]
    assert [r["sha"] for r in days["2024-11-04"]] == ["next"]


def test_kept_from_previous_keeps_only_failed_repos() -> None:
    previous = [
        record("1", "2024-06-03T09:00:00-04:00", repo="alpha"),
        record("2", "2024-06-03T10:00:00-04:00", repo="beta"),
        record("3", "2024-06-03T11:00:00-04:00", repo="gamma"),
        record("4", "2024-06-03T12:00:00-04:00", repo="beta"),
        {"sha": "5", "committed_at": "2024-06-03T13:00:00-04:00"},  # no repo at all
    ]
    kept = kept_from_previous(previous, ["beta", "gamma"])
    assert [r["sha"] for r in kept] == ["2", "3", "4"]
    assert kept_from_previous(previous, []) == []
    assert kept_from_previous([], ["beta"]) == []
    assert kept_from_previous(previous, ["delta"]) == []


def test_a_kept_record_collected_again_by_another_clone_counts_once() -> None:
    previous = [
        record("1", "2024-06-03T09:00:00-04:00", repo="alpha"),
        record("2", "2024-06-03T10:00:00-04:00", repo="alpha"),
    ]
    # alpha failed now; another clone of the same repository brought commit 2 again.
    kept = kept_from_previous(previous, ["alpha"], fresh_shas={"2", "9"})
    assert [r["sha"] for r in kept] == ["1"]


def test_split_by_day_uses_the_epoch_not_the_text() -> None:
    # git accepts "+9900" (99 hours); Python cannot parse "+99:00". The epoch decides the day:
    # 1717416000 is 2024-06-03T12:00:00Z, 08:00 in New York.
    odd = {
        "repo": "alpha",
        "sha": "x",
        "committed_at": "2024-06-07T15:00:00+99:00",
        "committed_ts": 1717416000,
    }
    days = split_by_day([odd], ["2024-06-03", "2024-06-05"], NY)
    assert [r["sha"] for r in days["2024-06-03"]] == ["x"]
    assert days["2024-06-05"] == []


def test_split_by_day_with_a_gap_between_keys() -> None:
    records = [
        record("gap", "2024-06-04T12:00:00-04:00"),  # June 4 is not a key
        record("five", "2024-06-05T00:00:00-04:00"),
    ]
    days = split_by_day(records, ["2024-06-03", "2024-06-05"], NY)
    assert days == {"2024-06-03": [], "2024-06-05": [records[1]]}


def test_merge_sources_one_record_per_sha_local_lines_github_logins() -> None:
    local = [
        {**record("a", "2024-06-03T09:00:00-04:00", repo="clone"), "additions": 5},
        {**record("b", "2024-06-03T10:00:00-04:00", repo="clone"), "additions": 1},
    ]
    github = [
        {
            **record("a", "2024-06-03T09:00:00-04:00", repo="api"),
            "additions": 7,
            "author_login": "ann",
            "committer_login": None,
            "sources": ["github"],
        },
        {
            **record("c", "2024-06-03T11:00:00-04:00", repo="api"),
            "additions": 3,
            "author_login": "bob",
            "committer_login": "web-flow",
            "sources": ["github"],
        },
    ]
    merged = {r["sha"]: r for r in merge_sources(local, github)}
    assert sorted(merged) == ["a", "b", "c"]
    # By hand: a is in both (local numstat and repo name win, GitHub's login joins).
    assert (merged["a"]["repo"], merged["a"]["additions"]) == ("clone", 5)
    assert merged["a"]["author_login"] == "ann" and merged["a"]["sources"] == ["github", "local"]
    assert merged["b"]["sources"] == ["local"] and "author_login" not in merged["b"]
    assert (merged["c"]["repo"], merged["c"]["sources"]) == ("api", ["github"])
