"""Jobs, schedules and sensors: what runs Sparky without anyone clicking.

- `daily_digest_job` (collection through the daily digest, and the index), `weekly_digest_job`
  and `monthly_digest_job` (metrics, insights and digest of a week or month; the digest
  refreshes the index). A week's or month's job reads the raw days the daily job collected.
  No job depends on an asset outside it that another period writes: the daily job never waits
  for (or warns about) a weekly or monthly digest that has not been written.
- Schedules in the org timezone, each for the window that just *ended*: daily at 00:30 for
  yesterday, weekly on Monday at 01:00 for last week, monthly on the 1st at 02:00 for last
  month. Today is a partition too (partial, marked so in its digest); no schedule refreshes it
  during the day: the 00:30 run re-materializes it once it is complete, and `just demo` or the
  UI refresh it on demand.
- `record_run_failures` writes every failed run to `data/alerts/<date>.jsonl` and the log: the
  run, its job, the failed steps and the error's first line.
- `notice_new_repositories` compares the org's repository list with the last one it saw and,
  when repositories appeared, logs them and collects today again so that they are in it.

Default status: STOPPED, so that a laptop's `dagster dev` does nothing behind its user's back;
`SPARKY_AUTOMATION=on` in the environment (the cluster sets it) makes them RUNNING. The publish
sensor (defs/publish.py) stays STOPPED either way.
"""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from filelock import FileLock

from sparky_assets.defs.github import BACKLOG, ENTITIES
from sparky_assets.lib.team_scope import OWNERSHIP
from sparky_resources import clock
from sparky_resources.clock import UNIT, Period
from sparky_resources.github import GitHubTokenMissing
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import first_line
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore, lock_file
from sparky_resources.text import one_line

AUTOMATION_ENV = "SPARKY_AUTOMATION"


def automation_status() -> dg.DefaultScheduleStatus:
    """RUNNING when `SPARKY_AUTOMATION=on` (the cluster), else STOPPED (local development)."""
    on = os.environ.get(AUTOMATION_ENV, "").strip().lower() in ("on", "1", "true", "yes")
    return dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED


def _sensor_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus(automation_status().value)


daily_digest_job = dg.define_asset_job(
    "daily_digest_job",
    selection=dg.AssetSelection.assets(
        *ENTITIES,
        OWNERSHIP,
        BACKLOG,
        "repositories",
        "raw_commits",
        "contributors",
        "daily_metrics",
        "daily_insights",
        "daily_digest",
        "digest_index",
    )
    # Whether yesterday's digest exists by 02:00 is asked at 02:05 (checks.py), not mid-run.
    - dg.AssetSelection.checks(
        dg.AssetCheckKey(dg.AssetKey("daily_digest"), "yesterday_digest_by_2am")
    ),
    description="Collect a day (local clones and GitHub), measure it, word it, write its "
    "digest and the index.",
)
weekly_digest_job = dg.define_asset_job(
    "weekly_digest_job",
    selection=dg.AssetSelection.assets("weekly_metrics", "weekly_insights", "weekly_digest"),
    description="A week's metrics, insights and digest (its days collected by the daily job); "
    "the digest refreshes the index.",
)
monthly_digest_job = dg.define_asset_job(
    "monthly_digest_job",
    selection=dg.AssetSelection.assets("monthly_metrics", "monthly_insights", "monthly_digest"),
    description="A month's metrics, insights and digest (its days collected by the daily job); "
    "the digest refreshes the index.",
)


def _schedule(
    job: Any, period: Period, cron: str, when: str, timezone: str
) -> dg.ScheduleDefinition:
    tz = ZoneInfo(timezone)

    @dg.schedule(
        name=f"{period}_digest_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=automation_status(),
        description=f"{when} (org timezone): the {period} digest of the {UNIT[period]} that "
        "just ended.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        key = clock.window_ended_at(period, tick, tz).key
        return dg.RunRequest(run_key=f"{period}-{key}", partition_key=key)

    return _tick


def build_schedules(timezone: str) -> list[dg.ScheduleDefinition]:
    """The digest schedules, ticking in the org timezone."""
    return [
        _schedule(daily_digest_job, "daily", "30 0 * * *", "Every day at 00:30", timezone),
        _schedule(weekly_digest_job, "weekly", "0 1 * * 1", "Mondays at 01:00", timezone),
        _schedule(
            monthly_digest_job, "monthly", "0 2 1 * *", "The 1st of each month at 02:00", timezone
        ),
    ]


def record_failure(
    data_dir: Path, alert: dict[str, object], when: dt.datetime, tz: ZoneInfo
) -> Path:
    """Append one alert line to `data/alerts/<date>.jsonl` (a lock per file, kept in
    `data/.locks/alerts/`: runs can fail at the same time; each line is written whole)."""
    relative = f"alerts/{clock.day_key(when, tz)}.jsonl"
    path, lock = data_dir / relative, lock_file(data_dir, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n"
    with FileLock(lock), path.open("a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())
    return path


def _first_error_line(event: dg.DagsterEvent) -> str:
    """The first line of the error a step raised: Dagster wraps user code's exception in its own
    step error, so the innermost cause is what the user needs to read."""
    data = event.event_specific_data
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return first_line(error.message) if error is not None else ""


@dg.run_failure_sensor(
    name="record_run_failures",
    default_status=_sensor_status(),
    description="Writes each failed run (run, job, steps, the error's first line) to "
    "data/alerts/{date}.jsonl and the log.",
)
def record_run_failures(
    context: dg.RunFailureSensorContext, store: DataStore, org: OrgResource
) -> None:
    run = context.dagster_run
    steps = [
        {"step": event.step_key, "error": _first_error_line(event)}
        for event in context.get_step_failure_events()
    ]
    message = context.failure_event.message or ""
    alert = {
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": run.tags.get("dagster/partition")
        or run.tags.get("dagster/asset_partition_range_start"),
        "steps": steps,
        "error": steps[0]["error"] if steps else one_line(message),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path = record_failure(Path(store.data_dir), alert, dt.datetime.now(dt.UTC), org.tz)
    context.log.error(
        f"run {run.run_id} ({run.job_name}) failed"
        + (f" in {steps[0]['step']}" if steps else "")
        + f": {alert['error']} (recorded in {path})"
    )


@dg.sensor(
    name="notice_new_repositories",
    job=daily_digest_job,
    minimum_interval_seconds=3600,
    default_status=_sensor_status(),
    description="Hourly: lists the org's repositories; when new ones appear, logs them and "
    "collects today again so they are in today's digest.",
)
def notice_new_repositories(
    context: dg.SensorEvaluationContext, github: GitHubResource, org: OrgResource
) -> dg.SensorResult:
    if not github.org:
        return dg.SensorResult(skip_reason="no [github].org configured")
    every = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # pushed since the epoch: all of them
    try:
        names = sorted(r.name for r in github.repositories(every))
    except GitHubTokenMissing as exc:
        return dg.SensorResult(skip_reason=str(exc))
    known = set(json.loads(context.cursor)) if context.cursor else None
    cursor = json.dumps(names)
    if known is None:
        return dg.SensorResult(skip_reason=f"first look: {len(names)} repositories", cursor=cursor)
    new = [n for n in names if n not in known]
    if not new:
        return dg.SensorResult(skip_reason="no new repositories", cursor=cursor)
    context.log.info(f"new repositories in {github.org}: {', '.join(new)}")
    today = org.today().isoformat()
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"new-repos-{today}-{'-'.join(new)}"[:200],
                partition_key=today,
                tags={"sparky/new_repositories": ", ".join(new)[:200]},
            )
        ],
        cursor=cursor,
    )
