"""Teams and DORA end to end: the fake org collected through Dagster, measured, and compared with
the fake's own ground truth (tests/fakes/ground_truth.py, written without Sparky's code).

The week of 2024-10-28 in America/New_York holds the end of DST (3 Nov, a 169-hour week). The
graph is built from a config with `[teams].from_github` and `[dora].source = "deployments"`, so
the team digests are partitioned by week and by the teams the collection found (dynamic
partitions), as a user sees them in the UI.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from fakes.chat_receivers import ChatReceivers
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from fakes.ground_truth import dora_truth, team_pull_requests, team_repos

from sparky_assets.definitions import build_definitions
from sparky_assets.partitions import TEAMS
from sparky_resources.config import load_config
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.store import DataStore

TOKEN = "ghp_teamsTOKENnotreal0123456789abcdef"
TZ = "America/New_York"
NY = ZoneInfo(TZ)
WEEK = "2024-10-28"
FIRST_DAY = "2024-10-14"  # two weeks before: deployments and changes before the window are read
MONTH = "2024-10-01"  # collected from the 14th: a partial month, rendered all the same
START = dt.datetime(2024, 10, 28, tzinfo=NY)
END = dt.datetime(2024, 11, 4, tzinfo=NY)


@dataclass
class Measured:
    org: Org
    root: Path
    metrics: dict
    instance: dg.DagsterInstance
    defs: dg.Definitions
    delivered: list  # what the team's webhook target received


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    org = build_org(repos=14, active=7, day=WEEK, days=7, tz=TZ, seed=20, lead_days=14, tail_days=2)
    root = tmp_path_factory.mktemp("teams")
    config_file = root / "sparky.toml"
    config_file.write_text(
        f'[sparky]\ntimezone = "{TZ}"\nstart_date = {FIRST_DAY}\n'
        f'data_dir = "data"\noutput_dir = "output"\n'
        f'[github]\norg = "{org.login}"\n'
        '[local]\nrepos = []\n[llm]\nenabled = false\nbase_url = "http://127.0.0.1:9"\n'
        '[teams]\nfrom_github = true\n[dora]\nsource = "deployments"\n'
        '[publish]\nsite_url = "https://acme.example/digests"\n'
        '[[deliver]]\nkind = "webhook"\nname = "team-hook"\nurl_env = "T_TEAM_HOOK"\n'
        'periods = ["weekly"]\nteams = ["web-frontend"]\n'
    )
    defs = build_definitions(load_config(config_file))
    with (
        FakeGitHub(org) as server,
        dg.instance_for_test() as instance,
        ChatReceivers() as rx,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("T_TEAM_HOOK", rx.url_for("/hook/team"))
        resources = {
            "github": GitHubResource(
                org=org.login,
                api_url=server.base_url,
                graphql_url=server.graphql_url,
                token=TOKEN,
            ),
            "local_git": LocalGitResource(repos=[]),
            "store": DataStore(data_dir=str(root / "data"), output_dir=str(root / "output")),
        }

        def asset(name: str) -> dg.AssetsDefinition:
            return defs.get_assets_def(name)

        def run(names: list[str], tags: dict[str, str] | None = None, **kw) -> None:
            result = dg.materialize(
                [asset(n) for n in names],
                resources={**defs.resources, **resources},
                instance=instance,
                tags=tags or {},
                **kw,
            )
            assert result.success

        last = (dt.date.fromisoformat(WEEK) + dt.timedelta(days=6)).isoformat()
        run(["raw_pull_requests", "repositories", "raw_commits", "contributors"],
            _range(FIRST_DAY, last))  # fmt: skip
        for week in ("2024-10-21", WEEK):
            run(["weekly_metrics"], _range(week, week))
        run(["weekly_insights", "weekly_digest"], _range(WEEK, WEEK))
        run(["monthly_metrics", "monthly_insights", "monthly_digest"], _range(MONTH, MONTH))
        Path("/tmp/teams_org_week.md").write_text(
            (root / "output" / "weekly" / f"{WEEK}.md").read_text()
        )
        run(
            ["team_weekly_digest"],
            partition_key=dg.MultiPartitionKey({"team": "web-frontend", "week": WEEK}),
        )
        run(["weekly_delivered_digests"], partition_key=WEEK)
        metrics = resources["store"].read("processed", "weekly_metrics", WEEK)
        yield Measured(org, root, metrics, instance, defs, rx.bodies("/hook/"))


def test_dora_figures_equal_the_fakes_ground_truth(measured: Measured) -> None:
    truth = dora_truth(measured.org, START, END, "production", ("incident",))
    dora = measured.metrics["dora"]
    overall = dora["overall"]
    assert truth.deployments > 0 and truth.failed > 0, "the fake week deploys and fails"
    assert overall["deployments"] == truth.deployments
    assert overall["per_day"] == truth.per_day
    assert {r: row["deployments"] for r, row in dora["by_repo"].items() if row["deployments"]} == (
        truth.by_repo
    )
    assert overall["lead_time"]["count"] == len(truth.lead_times_h)
    assert overall["lead_time"]["median_h"] == truth.lead_time_median_h
    assert overall["lead_time"]["p90_h"] == truth.lead_time_p90_h
    assert overall["failure"]["deployments"] == truth.finished
    assert overall["failure"]["failed"] == truth.failed
    assert overall["failure"]["rate"] == truth.failure_rate
    assert overall["restore"]["timed"]["count"] == len(truth.restore_h)
    assert overall["restore"]["timed"]["median_h"] == truth.restore_median_h
    assert overall["restore"]["open"] == truth.restore_open


def _in(when: dt.datetime | None) -> bool:
    return when is not None and START <= when < END


def _hours(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 3600


def test_the_teams_table_equals_each_teams_pull_requests(measured: Measured) -> None:
    org = measured.org
    rows = {row["team"]: row for row in measured.metrics["teams"]}
    assert sorted(rows) == sorted(t.slug for t in org.teams)
    for team in org.teams:
        owned = team_pull_requests(org, team.slug)
        merged = [p for p in owned if _in(p.merged_at)]
        row = rows[team.slug]
        assert row["prs_merged"] == len(merged), team.slug
        # time to merge: opened (or ready for review, for a draft) -> merged, hours
        hours = []
        for p in merged:
            ready = p.ready_for_review_at
            clock = ready if ready is not None and ready > p.created_at else p.created_at
            hours.append(_hours(clock, p.merged_at))
        median = round(statistics.median(hours), 2) if hours else None
        assert row["merge_median_h"] == median, team.slug
    # the teams differ: ownership is not the whole org for every team
    assert len({rows[t]["prs_merged"] for t in rows}) > 1


def test_one_teams_week_is_materialized_from_its_partition(measured: Measured) -> None:
    teams = measured.instance.get_dynamic_partitions(TEAMS)
    assert sorted(teams) == sorted(t.slug for t in measured.org.teams)
    out = measured.root / "output" / "teams" / "web-frontend" / "weekly" / f"{WEEK}.md"
    assert out.exists()
    text = out.read_text()
    Path("/tmp/team_week.md").write_text(text)
    title = "# Team web-frontend · Week of 28 Oct \u2013 3 Nov 2024, America/New_York"
    assert title in text.replace("\\", "")
    org = measured.org
    merged = [p for p in team_pull_requests(org, "web-frontend") if _in(p.merged_at)]
    unit = "pull request" if len(merged) == 1 else "pull requests"
    assert f"**{len(merged)}** {unit} merged" in text
    # the definitions are three folders up: output/teams/<team>/weekly/
    assert "[DORA](../../../metrics.md#dora)" in text


def test_the_team_schedule_asks_one_run_per_team_for_the_week_that_ended(
    measured: Measured,
) -> None:
    schedule = measured.defs.get_schedule_def("team_weekly_digest_schedule")
    assert measured.defs.resolve_job_def("team_weekly_digest_job").partitions_def is not None
    tick = dt.datetime(2024, 11, 4, 1, 30, tzinfo=NY)  # Monday after the week
    with dg.build_schedule_context(
        instance=measured.instance,
        scheduled_execution_time=tick,
        repository_def=measured.defs.get_repository_def(),
    ) as context:
        requests = schedule.evaluate_tick(context).run_requests or []
    keys = sorted(str(r.partition_key) for r in requests)
    assert keys == sorted(f"{t.slug}|{WEEK}" for t in measured.org.teams)


def test_a_teams_dora_covers_its_repositories(measured: Measured) -> None:
    """web-frontend's deployments: its GitHub repositories and those of its pull requests active
    in the week (GitHub's commits carry no paths: their repository decides)."""
    org = measured.org
    owned = team_pull_requests(org, "web-frontend")
    active = {p.repo for p in org.pull_requests_active_in(START, END) if p in owned}
    repos = set(team_repos(org, "web-frontend")) | active
    truth = dora_truth(org, START, END, "production", ("incident",))
    store = DataStore(
        data_dir=str(measured.root / "data"), output_dir=str(measured.root / "output")
    )
    team = store.read("processed", "team_weekly_metrics", f"web-frontend-{WEEK}")
    expected = sum(n for repo, n in truth.by_repo.items() if repo in repos)
    assert team["dora"]["overall"]["deployments"] == expected > 0
    row = {r["team"]: r for r in measured.metrics["teams"]}["web-frontend"]
    assert row["deployments"] == expected


def test_the_monthly_digest_shows_each_key_with_its_band(measured: Measured) -> None:
    text = (measured.root / "output" / "monthly" / f"{MONTH}.md").read_text()
    Path("/tmp/teams_org_month.md").write_text(text)
    section = text.split("## Delivery (DORA)", 1)[1].split("\n## ", 1)[0]
    for key in (
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore service",
    ):
        assert f"| {key} |" in section
    assert "| Key | This month | Band | Band's bound |" in section
    assert "| Repository | Deployments |" in section
    assert "Accelerate State of DevOps Report 2023" in section
    assert "## Teams" in text


def test_a_teams_digest_is_delivered_to_the_target_that_asks_for_it(measured: Measured) -> None:
    [body] = measured.delivered  # the org's weekly digest is not this target's
    assert body["team"] == "web-frontend" and body["partition"] == WEEK
    assert body["url"] == f"https://acme.example/digests/teams/web-frontend/weekly/{WEEK}.html"
    assert body["title"].startswith("Team web-frontend")
