"""Team digests: a weekly and a monthly digest per team, partitioned by window and team.

A team digest is the org digest's definitions over what the team owns (`lib/team_scope.py`):
the same first screen, figures, trend and DORA's four keys, written to
`output/teams/<team>/<period>/<key>.md` with its JSON sidecar. The team dimension is static from
`[teams.<name>]`, or dynamic with `[teams].from_github` (each GitHub collection adds the org's
teams), so a user materializes or backfills one team's weeks from the UI. Its text comes from
the built-in writer: the org digest's LLM insights are the org's, not a team's.
"""

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from sparky_assets.defs.common import OWNERS
from sparky_assets.defs.digests import previous_metrics, render_and_write
from sparky_assets.defs.identity import load_contributors
from sparky_assets.defs.metrics import (
    MissingDaysError,
    dora_settings,
    load_delivery_records,
    load_window_inputs,
    measure_team,
    window_coverage,
    window_ownership,
)
from sparky_assets.lib.delivery import dora_figures
from sparky_assets.lib.facts import window_facts
from sparky_assets.lib.insights import DeterministicWriter
from sparky_assets.lib.team_scope import covered_repos
from sparky_assets.lib.window import WindowMetrics, change_against
from sparky_assets.partitions import OrgPartitions
from sparky_resources import clock
from sparky_resources.clock import UNIT, Period, previous_window
from sparky_resources.github_collect import GitHubResource
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore

TEAM = "team"
DIMENSION: dict[Period, str] = {"weekly": "week", "monthly": "month"}
_SAFE = re.compile(r"[a-z0-9][a-z0-9_-]*")  # a team key as a folder name (GitHub slug form)


def team_metrics_name(period: Period) -> str:
    return f"team_{period}_metrics"


def write_team_digest(
    store: DataStore, org: OrgResource, github_org: str | None, period: Period, key: str, team: str
) -> dict[str, Any]:
    """Measure one team's window, keep its metrics, write its digest and sidecar."""
    if not _SAFE.fullmatch(team):
        raise dg.Failure(description=f"team {team!r} is not a team slug (a-z, 0-9, '-', '_')")
    table, history = load_contributors(store)
    window = org.window(period, key)
    owner, names = window_ownership(store, org, window)
    if team not in names:
        raise dg.Failure(
            description=f"team {team!r} is not in [teams] nor among the org's GitHub teams "
            f"collected for {key} (known: {', '.join(names) or 'none'})"
        )
    try:
        inputs = load_window_inputs(store, org, window)
    except MissingDaysError as exc:
        raise dg.Failure(description=str(exc)) from None
    metrics, cut = measure_team(org, window, inputs, owner, team, table=table, history=history)
    before = previous_window(window)
    try:
        previous, _ = measure_team(
            org, before, load_window_inputs(store, org, before), owner, team,
            table=table, history=history,
        )  # fmt: skip
    except MissingDaysError:
        previous = None
    if previous is not None and previous.days_collected:
        metrics.previous_partition = before.key
        metrics.change = change_against(metrics, previous)
    else:
        metrics.change = change_against(metrics, None)
    settings = dora_settings(org)
    records = load_delivery_records(store, org, window, settings)
    if records.github or settings.source != "deployments":
        metrics.dora = dora_figures(
            records, settings, window.start, window.end, repos=covered_repos(cut)
        )
    stored = metrics.model_dump(mode="json")
    folder = f"teams/{team}/{period}"
    store.write("processed", team_metrics_name(period), f"{team}-{key}", stored)
    coverages = window_coverage(store, window)
    facts = window_facts(WindowMetrics.model_validate(stored), cut, coverages)
    plain = facts.plain_sheet(metrics)
    _, meta = render_and_write(
        store,
        org,
        github_org,
        plain,
        DeterministicWriter().write(plain),
        coverages,
        folder=folder,
        trend=previous_metrics(
            store, period, key, asset=team_metrics_name(period), prefix=f"{team}-"
        ),
        extra={"team": team},
    )
    return {
        **meta,
        "prs_merged": metrics.prs_merged if metrics.prs_merged is not None else "n/a",
        "commits": metrics.human_commits,
    }


def team_digest_asset(period: Period, parts: OrgPartitions) -> dg.AssetsDefinition:
    assert parts.teams is not None
    dimension = DIMENSION[period]
    partitions = dg.MultiPartitionsDefinition({dimension: parts.of(period), TEAM: parts.teams})

    @dg.asset(
        name=f"team_{period}_digest",
        group_name="digests",
        partitions_def=partitions,
        deps=[
            dg.AssetDep(
                f"{period}_metrics",
                partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                    partition_dimension_name=dimension
                ),
            )
        ],
        kinds={"markdown"},
        owners=OWNERS,
        description=(
            f"Each team's digest of the {UNIT[period]}: output/teams/<team>/{period}/{{key}}.md "
            "and its JSON sidecar. The org digest's first screen, figures, trend and DORA's "
            "four keys over what the team owns: its repositories ([teams.<name>].repos, the "
            "org's GitHub teams) and the paths it owns ([teams.<name>].paths, CODEOWNERS) in "
            "the pull requests' files and the commits' paths. Materialize or backfill one "
            "team by choosing it in the team dimension."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        store: DataStore,
        org: OrgResource,
        github: GitHubResource,
    ) -> dg.MaterializeResult:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        meta = write_team_digest(store, org, github.org, period, keys[dimension], keys[TEAM])
        return dg.MaterializeResult(metadata=meta)

    return _asset


def build_team_assets(parts: OrgPartitions) -> list[dg.AssetsDefinition]:
    """The weekly and monthly team digests; none when the config has no team."""
    if parts.teams is None:
        return []
    return [team_digest_asset(period, parts) for period in ("weekly", "monthly")]


TEAM_SCHEDULES: dict[Period, tuple[str, str]] = {
    # After the org's digest of the same window (automation.py: Mondays 01:00, the 1st 02:00).
    "weekly": ("30 1 * * 1", "Mondays at 01:30"),
    "monthly": ("30 2 1 * *", "The 1st of each month at 02:30"),
}


def build_team_automation(
    parts: OrgPartitions,
) -> tuple[list[Any], list[dg.ScheduleDefinition]]:
    """A job per team digest and a schedule that asks, for the window that just ended, one run
    per team (the teams known then: the config's, or the dynamic partitions)."""
    from sparky_assets.defs.automation import automation_status

    if parts.teams is None:
        return [], []
    jobs, schedules = [], []
    for period in ("weekly", "monthly"):
        job = dg.define_asset_job(
            f"team_{period}_digest_job",
            selection=dg.AssetSelection.assets(f"team_{period}_digest"),
            description=f"Each team's digest of a {UNIT[period]} (its days and the org's "
            f"{period}_metrics first).",
        )
        jobs.append(job)
        schedules.append(_team_schedule(job, period, parts, automation_status()))
    return jobs, schedules


def _team_schedule(
    job: Any,
    period: Period,
    parts: OrgPartitions,
    status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    cron, when = TEAM_SCHEDULES[period]
    tz = ZoneInfo(parts.timezone)
    teams = parts.teams
    assert teams is not None

    @dg.schedule(
        name=f"team_{period}_digest_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone=parts.timezone,
        default_status=status,
        description=f"{when} (org timezone): every team's digest of the {UNIT[period]} that "
        "just ended.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        key = clock.window_ended_at(period, tick, tz).key
        names = teams.get_partition_keys(dynamic_partitions_store=context.instance)
        return [
            dg.RunRequest(
                run_key=f"team-{period}-{key}-{team}",
                partition_key=dg.MultiPartitionKey({DIMENSION[period]: key, TEAM: team}),
            )
            for team in names
        ]

    return _tick
