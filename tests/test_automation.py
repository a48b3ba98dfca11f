"""Jobs, schedules and sensors, evaluated the way the daemon evaluates them.

The session's org timezone is America/New_York (tests/conftest.py). Expected partitions are
worked out by hand from the calendar.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from fakes.github_org import build_org
from fakes.github_server import FakeGitHub
from sparky_defs import session_org

from sparky_assets.definitions import defs as load_defs
from sparky_assets.defs import automation
from sparky_assets.partitions import OrgPartitions
from sparky_resources import clock
from sparky_resources.config import get_config
from sparky_resources.github_collect import GitHubResource
from sparky_resources.store import DataStore

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("period", "moment", "key"),
    [
        # 00:30 New York on Tuesday 2024-06-04 is the tick for Monday 06-03.
        ("daily", dt.datetime(2024, 6, 4, 0, 30, tzinfo=NY), "2024-06-03"),
        # 23:30 New York on 06-03 is already 06-04 in UTC: still the 2nd for New York.
        ("daily", dt.datetime(2024, 6, 4, 3, 30, tzinfo=dt.UTC), "2024-06-02"),
        # Monday 2024-06-10 01:00: the week of Monday 06-03 just ended.
        ("weekly", dt.datetime(2024, 6, 10, 1, 0, tzinfo=NY), "2024-06-03"),
        # 2024-07-01 02:00: June just ended; 2025-01-01: December of the year before.
        ("monthly", dt.datetime(2024, 7, 1, 2, 0, tzinfo=NY), "2024-06-01"),
        ("monthly", dt.datetime(2025, 1, 1, 2, 0, tzinfo=NY), "2024-12-01"),
    ],
)
def test_ended_window_is_the_one_that_just_ended(period: str, moment, key: str) -> None:
    assert clock.window_ended_at(period, moment, NY).key == key


def test_each_schedule_requests_the_window_that_just_ended() -> None:
    defs = load_defs()
    cases = {
        "daily_digest_schedule": (dt.datetime(2024, 6, 4, 0, 30, tzinfo=NY), "2024-06-03"),
        "weekly_digest_schedule": (dt.datetime(2024, 6, 10, 1, 0, tzinfo=NY), "2024-06-03"),
        "monthly_digest_schedule": (dt.datetime(2024, 7, 1, 2, 0, tzinfo=NY), "2024-06-01"),
    }
    cron_days = {
        "daily_digest_schedule": "* * *",
        "weekly_digest_schedule": "* * 1",  # Mondays
        "monthly_digest_schedule": "1 * *",  # the 1st
    }
    for name, (when, key) in cases.items():
        schedule = defs.resolve_schedule_def(name)
        assert schedule.execution_timezone == "America/New_York"
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # no SPARKY_AUTOMATION
        context = dg.build_schedule_context(
            scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        (request,) = schedule.evaluate_tick(context).run_requests
        assert request.partition_key == key, name
        # The cron fires at that local time (minute hour day-of-month month day-of-week).
        assert schedule.cron_schedule == f"{when.minute} {when.hour} {cron_days[name]}", name


def test_automation_is_stopped_unless_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(automation.AUTOMATION_ENV, raising=False)
    assert automation.automation_status() == dg.DefaultScheduleStatus.STOPPED
    for value in ("on", "ON", "1", "true"):
        monkeypatch.setenv(automation.AUTOMATION_ENV, value)
        assert automation.automation_status() == dg.DefaultScheduleStatus.RUNNING
    monkeypatch.setenv(automation.AUTOMATION_ENV, "off")
    assert automation.automation_status() == dg.DefaultScheduleStatus.STOPPED


@dg.asset
def broken() -> None:
    raise RuntimeError("the clone vanished\nsecond line of the traceback")


def test_a_failed_run_is_recorded_as_one_alert_line(tmp_path: Path, monkeypatch) -> None:
    store = DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "output"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            e
            for e in instance.all_logs(result.run_id)
            if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE
        )
        context = dg.build_run_status_sensor_context(
            sensor_name="record_run_failures",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure.dagster_event,
        ).for_run_failure()
        automation.record_run_failures._run_status_sensor_fn(
            context, store=store, org=session_org()
        )
    (path,) = (tmp_path / "data" / "alerts").glob("*.jsonl")
    (line,) = path.read_text().splitlines()
    alert = json.loads(line)
    assert alert["run_id"] == result.run_id and alert["job"] == "__ephemeral_asset_job__"
    assert alert["steps"] == [{"step": "broken", "error": "RuntimeError: the clone vanished"}]
    assert alert["error"] == "RuntimeError: the clone vanished"
    # The file is named by the day in the org's timezone.
    assert path.name == f"{dt.datetime.now(NY).date().isoformat()}.jsonl"
    # Its lock is kept apart from the alerts (data/.locks/alerts/), not next to them.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert (tmp_path / "data" / ".locks" / "alerts" / f"{path.name}.lock").is_file()


def test_every_schedule_is_built_on_its_partitioned_job_and_asks_for_the_ended_window() -> None:
    """Each digest schedule targets its period's partitioned job (whose partition set the UI's
    job page and backfills use) and requests a partition of it: the window that just ended,
    never the current (partial) one that `end_offset=1` makes the job's last partition."""
    from dagster._core.remote_representation.external_data import RepositorySnap

    defs = load_defs()
    parts = OrgPartitions.from_config(get_config())
    snapshot = RepositorySnap.from_def(defs.get_repository_def())
    partition_sets = {p.name: p.job_name for p in snapshot.partition_sets}
    ticks = {
        "daily": dt.datetime(2024, 6, 4, 0, 30, tzinfo=NY),
        "weekly": dt.datetime(2024, 6, 10, 1, 0, tzinfo=NY),
        "monthly": dt.datetime(2024, 7, 1, 2, 0, tzinfo=NY),
    }
    for period, when in ticks.items():
        schedule = defs.resolve_schedule_def(f"{period}_digest_schedule")
        job = defs.resolve_job_def(schedule.job_name)
        assert job.name == f"{period}_digest_job"
        assert job.partitions_def == parts.of(period), period
        assert partition_sets[f"{job.name}_partition_set"] == job.name
        context = dg.build_schedule_context(
            scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        (request,) = schedule.evaluate_tick(context).run_requests
        key = clock.window_ended_at(period, when, NY).key
        assert request.partition_key == key and request.run_key == f"{period}-{key}"
        with dg.partition_loading_context(effective_dt=when):
            keys = job.partitions_def.get_partition_keys()
        assert key in keys and keys[-1] != key  # the last key is the window still running


def test_new_repositories_are_noticed_once(tmp_path: Path) -> None:
    org = build_org(repos=6, active=2, day="2024-06-03", days=1, tz="America/New_York", seed=3)
    with FakeGitHub(org) as server:
        github = GitHubResource(
            org=org.login,
            api_url=server.base_url,
            graphql_url=server.graphql_url,
            token="ghp_autoTOKENnotreal0123456789abcdefgh",
        )
        sensor = automation.notice_new_repositories
        first = sensor(dg.build_sensor_context(cursor=None), github=github, org=session_org())
        assert (
            not first.run_requests
            and "first look: 6 repositories" in first.skip_reason.skip_message
        )
        same = sensor(
            dg.build_sensor_context(cursor=first.cursor), github=github, org=session_org()
        )
        assert not same.run_requests
        # A repository the sensor has not seen (as if created since): it is named and today
        # is collected again.
        known = json.loads(first.cursor)
        gone = known.pop()
        later = sensor(
            dg.build_sensor_context(cursor=json.dumps(known)), github=github, org=session_org()
        )
        (request,) = later.run_requests
        assert request.tags["sparky/new_repositories"] == gone
        assert request.partition_key == dt.datetime.now(NY).date().isoformat()
    off = sensor(dg.build_sensor_context(cursor=None), github=GitHubResource(), org=session_org())
    assert not off.run_requests and "no [github].org" in off.skip_reason.skip_message
