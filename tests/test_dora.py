"""DORA's four keys (sparky_assets/lib/dora.py) against hand-worked cases.

Every expected number is worked out in the comments, not read from the code under test.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sparky_assets.lib import dora
from sparky_assets.lib.dora import Change, Deployment, Incident, Revert
from sparky_resources.clock import window

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
# US clocks fell back on Sunday 2024-11-03 02:00 EDT -> 01:00 EST: the week keyed 2024-10-28
# runs Mon 2024-10-28 00:00 EDT (04:00 UTC) to Mon 2024-11-04 00:00 EST (05:00 UTC), 169 hours.
WEEK = window("weekly", "2024-10-28", NY)
START, END = WEEK.start, WEEK.end


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def deploy(sha: str, at: str, status: str = "success", **extra) -> Deployment:
    fields = {"repo": "org/api", "environment": "production", "source": "deployment"}
    fields.update(extra)
    return Deployment(sha=sha, created_at=utc(at), status=status, **fields)


def test_the_window_is_the_dst_week():
    assert utc("2024-10-28T04:00:00") == START
    assert utc("2024-11-04T05:00:00") == END
    assert WEEK.hours == 169
    assert dora.local_days(START, END) == 7


def test_deployment_frequency_counts_successes_inside_the_local_week():
    records = [
        deploy("a", "2024-10-28T03:59:59"),  # Sun 23:59:59 EDT: the week before
        deploy("b", "2024-10-28T04:00:00"),  # Mon 00:00 EDT: the start, inside
        deploy("c", "2024-11-03T06:30:00"),  # Sun 01:30 EST, after the fall-back: inside
        deploy("d", "2024-11-04T04:30:00"),  # Sun 23:30 EST (a UTC-minded 04:00 cut drops it)
        deploy("e", "2024-11-04T05:00:00"),  # Mon 00:00 EST: the end, next week
        deploy("f", "2024-10-30T12:00:00", status="failure"),  # not a success
        deploy("g", "2024-10-30T12:00:00", repo="org/web"),
        deploy("h", "2024-10-30T13:00:00", environment="staging"),
    ]
    result = dora.deployment_frequency(records, START, END, environment="production")
    # inside, successful, production: b, c, d (org/api) and g (org/web) = 4 in 7 days
    assert result.overall.count == 4
    assert result.overall.per_day == pytest.approx(0.571)  # 4 / 7 = 0.5714
    assert result.overall.per_week == pytest.approx(4.0)  # 4 / 7 * 7
    assert result.by_repo["org/api"].count == 3
    assert result.by_repo["org/api"].per_day == pytest.approx(0.429)  # 3 / 7 = 0.4286
    assert result.by_repo["org/web"].per_week == pytest.approx(1.0)
    # without the environment filter staging's h counts too: 5
    assert dora.deployment_frequency(records, START, END).overall.count == 5


def test_no_deployment_is_none_not_zero():
    result = dora.deployment_frequency([deploy("a", "2024-10-01T00:00:00")], START, END)
    assert result.overall.count == 0
    assert result.overall.per_day is None and result.overall.per_week is None
    assert result.by_repo == {}
    assert dora.change_failure_rate([], START, END).rate is None
    assert dora.lead_time_for_changes([], [], START, END).median_h is None


def test_duplicate_statuses_keep_the_latest_and_ignore_inactive():
    created = "2024-10-29T10:00:00"
    records = [
        deploy("a", created, status="pending", id="1", status_at=utc("2024-10-29T10:01:00")),
        deploy("a", created, status="failure", id="1", status_at=utc("2024-10-29T10:05:00")),
        deploy("a", created, status="success", id="1", status_at=utc("2024-10-29T10:03:00")),
        # superseded later: inactive says nothing of whether it worked
        deploy("a", created, status="inactive", id="1", status_at=utc("2024-10-30T00:00:00")),
        # still running at the end: counts nowhere
        deploy("b", "2024-10-29T11:00:00", status="in_progress", id="2"),
    ]
    # id 1's latest finished status is failure (10:05 > 10:03); id 2 is unfinished
    cfr = dora.change_failure_rate(records, START, END)
    assert (cfr.deployments, cfr.failed, cfr.rate) == (1, 1, 1.0)
    assert dora.deployment_frequency(records, START, END).overall.count == 0


def test_lead_time_is_first_commit_to_first_containing_success_across_dst():
    records = [
        deploy("p", "2024-10-27T12:00:00", changes=frozenset({"old"})),  # before the window
        # Sun 03:30 EST = 08:30 UTC, just after the fall-back
        deploy("q", "2024-11-03T08:30:00", changes=frozenset({"x", "old"})),
        deploy("r", "2024-11-03T09:00:00", status="failure", changes=frozenset({"y"})),
        deploy("s", "2024-11-04T02:00:00", changes=frozenset({"x", "y", "old"})),
    ]
    changes = [
        # 00:30 EDT = 04:30 UTC -> q at 08:30 UTC: 4 real hours (3 on the wall clock)
        Change(repo="org/api", sha="x", first_commit_at=utc("2024-11-03T04:30:00")),
        # r failed, so y ships in s: 2024-11-01 02:00 UTC -> 2024-11-04 02:00 UTC = 72 h
        Change(repo="org/api", sha="y", first_commit_at=utc("2024-11-01T02:00:00")),
        # old first shipped in p, before the window: not counted
        Change(repo="org/api", sha="old", first_commit_at=utc("2024-10-20T00:00:00")),
        # never deployed: not counted
        Change(repo="org/api", sha="z", first_commit_at=utc("2024-10-29T00:00:00")),
        # its own deployment's sha; commit clock ahead of the deploy: 0 h, not negative
        Change(repo="org/api", sha="s", first_commit_at=utc("2024-11-04T03:00:00")),
    ]
    result = dora.lead_time_for_changes(changes, records, START, END)
    # hours [4, 72, 0] sorted [0, 4, 72]: median 4; p90 rank 0.9 * 2 = 1.8 -> 4 + 0.8 * 68 = 58.4
    assert result.count == 3
    assert result.median_h == 4.0
    assert result.p90_h == 58.4


def test_change_failure_rate_counts_statuses_reverts_and_incidents():
    records = [
        deploy("a", "2024-10-25T12:00:00", changes=frozenset({"a0"})),  # before the window
        deploy("b", "2024-10-28T12:00:00", changes=frozenset({"b1"})),
        deploy("c", "2024-10-29T12:00:00", changes=frozenset({"b1", "c1"})),
        deploy("d", "2024-10-30T12:00:00", status="error"),
        deploy("e", "2024-10-31T12:00:00"),
        deploy("f", "2024-11-01T12:00:00"),
        deploy("g", "2024-11-02T12:00:00", repo="org/web"),
    ]
    reverts = [
        # b1 first shipped in b (c contains it too, but b was first): b failed
        Revert(repo="org/api", reverted_sha="b1", at=utc("2024-10-30T00:00:00")),
        # a0 shipped in a, before the window: a failed, but a is not in the window
        Revert(repo="org/api", reverted_sha="a0", at=utc("2024-10-28T06:00:00")),
        # a revert in another repository does not touch org/api's c1
        Revert(repo="org/web", reverted_sha="c1", at=utc("2024-11-01T00:00:00")),
    ]
    incidents = [
        # opened after e (Oct 31 12:00) and before f: linked to e
        Incident(repo="org/api", number=7, opened_at=utc("2024-10-31T18:00:00")),
        # names f's sha: linked to f
        Incident(repo="org/api", number=8, opened_at=utc("2024-11-03T00:00:00"), sha="f"),
    ]
    result = dora.change_failure_rate(records, START, END, reverts, incidents)
    # in the window: b c d e f g = 6; failed: b (revert), d (error), e (#7), f (#8) = 4
    assert result.deployments == 6
    assert result.failed == 4
    assert result.rate == 0.667  # 4 / 6 = 0.6667


def test_a_revert_before_the_deployment_does_not_fail_it():
    records = [deploy("b", "2024-10-29T12:00:00", changes=frozenset({"b1"}))]
    early = [Revert(repo="org/api", reverted_sha="b1", at=utc("2024-10-29T11:00:00"))]
    assert dora.change_failure_rate(records, START, END, early).failed == 0


def test_time_to_restore_times_closed_incidents_and_failed_deployments():
    records = [
        deploy("a", "2024-10-29T10:00:00", status="failure"),
        deploy("w", "2024-10-29T11:00:00", environment="staging"),  # other environment
        deploy("b", "2024-10-29T12:30:00"),  # restores a: 2.5 h
        deploy("c", "2024-11-04T03:00:00", status="error"),  # Sun 22:00 EST, nothing after
        deploy("d", "2024-11-04T06:00:00"),  # the fix lands after the end: open
    ]
    incidents = [
        # opened 2024-11-03 05:30 UTC (01:30 EDT, before the fall-back), closed 07:30 UTC
        # (02:30 EST): 2 real hours although the wall clock moved 1 hour
        Incident(
            repo="org/api",
            number=1,
            opened_at=utc("2024-11-03T05:30:00"),
            closed_at=utc("2024-11-03T07:30:00"),
            labels=("incident",),
        ),
        # open past the window's end: counted, not timed
        Incident(
            repo="org/api",
            number=2,
            opened_at=utc("2024-11-02T00:00:00"),
            closed_at=utc("2024-11-06T00:00:00"),
        ),
        Incident(repo="org/api", number=3, opened_at=utc("2024-11-01T00:00:00")),
        # opened before the window: another window's
        Incident(
            repo="org/api",
            number=4,
            opened_at=utc("2024-10-27T00:00:00"),
            closed_at=utc("2024-10-29T00:00:00"),
        ),
    ]
    result = dora.time_to_restore(records, incidents, START, END, environment="production")
    # timed: #1 2 h, a -> b 2.5 h; open: #2, #3, c = 3
    # [2, 2.5]: median 2.25; p90 = 2 + 0.9 * 0.5 = 2.45
    assert result.open == 3
    assert result.timed.count == 2
    assert result.timed.median_h == 2.25
    assert result.timed.p90_h == 2.45


def test_naive_bounds_are_refused():
    with pytest.raises(ValueError, match="UTC offset"):
        dora.deployment_frequency([], dt.datetime(2024, 10, 28), END)


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        # deployments per day: 1 a day is elite; 1/7 a day (once a week) high; 1/30 medium
        ("deployment_frequency", 3.0, "elite"),
        ("deployment_frequency", 1.0, "elite"),
        ("deployment_frequency", 0.99, "high"),
        ("deployment_frequency", 1 / 7, "high"),
        ("deployment_frequency", 0.14, "medium"),  # 0.14 < 1/7 = 0.1429
        ("deployment_frequency", 1 / 30, "medium"),
        ("deployment_frequency", 0.033, "low"),  # 0.033 < 1/30 = 0.0333
        # lead time, hours: < 24 elite, <= 168 high, <= 720 medium
        ("lead_time", 23.99, "elite"),
        ("lead_time", 24.0, "high"),
        ("lead_time", 168.0, "high"),
        ("lead_time", 168.01, "medium"),
        ("lead_time", 720.0, "medium"),
        ("lead_time", 720.01, "low"),
        # change failure rate, fraction: <= 5% elite, <= 10% high, <= 15% medium
        ("change_failure_rate", 0.0, "elite"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.051, "high"),
        ("change_failure_rate", 0.10, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.151, "low"),
        # time to restore, hours: < 1 elite, < 24 high, <= 168 medium
        ("time_to_restore", 0.99, "elite"),
        ("time_to_restore", 1.0, "high"),
        ("time_to_restore", 23.99, "high"),
        ("time_to_restore", 24.0, "medium"),
        ("time_to_restore", 168.0, "medium"),
        ("time_to_restore", 169.0, "low"),
    ],
)
def test_band_boundaries(metric, value, expected):
    assert dora.band(metric, value) == expected


def test_band_of_no_figure_is_none_and_unknown_metric_fails():
    assert dora.band("lead_time", None) is None
    with pytest.raises(ValueError, match="metric"):
        dora.band("mttr", 1.0)  # type: ignore[arg-type]
