"""A window's facts have one producer: its metrics asset (issue 17, item 3).

Insights, digests and the `summary_grounded` check read the metrics file and the facts file
the metrics asset wrote next to it, never the window's raw files. Proven by deletion: after
the metrics are materialized, the same insights, digests and checks run on two copies of the
data, one of them without `data/raw` at all, and write the same bytes and verdicts. Before
the facts file, the copy without raw files failed ("needs raw_commits for ...").
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import dagster as dg
from fakes.github_org import build_org
from fakes.github_server import FakeGitHub
from fakes.ollama_answers import grounded_answer
from fakes.ollama_server import FakeOllama
from sparky_defs import assets, check
from test_insights_assets import World, _range, ollama

from sparky_assets.defs.checks import grounding_problems
from sparky_assets.lib.facts import WindowRefs, failed_repos
from sparky_assets.lib.insights import Insights
from sparky_resources.models import Coverage, RepoCoverage
from sparky_resources.ollama import OllamaResource

WEEK = "2024-06-03"
DAYS = [f"2024-06-0{d}" for d in range(3, 10)]


def _outputs(data: Path) -> dict[str, bytes]:
    """Every insights file, digest and sidecar written from `data`, by path under its root."""
    root = data.parent
    files = [*root.glob("data/processed/*_insights/*.json"), *root.glob("output/*/*.*")]
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(files)}


def _verdicts(results: list[dg.ExecuteInProcessResult]) -> dict[str, tuple[bool, str | None]]:
    return {
        f"{e.asset_key.to_user_string()} {e.partition}": (e.passed, e.description)
        for r in results
        for e in r.get_asset_check_evaluations()
        if e.check_name == "summary_grounded"
    }


def test_insights_digests_and_grounding_need_no_raw_file(tmp_path: Path) -> None:
    org = build_org(repos=10, active=4, day=WEEK, days=7, tz="America/New_York", seed=5)
    collect = assets(
        "raw_pull_requests", "repositories", "raw_commits", "contributors", "daily_metrics"
    )
    later = {
        "daily": [
            *assets("daily_insights", "daily_digest"),
            check("daily_digest", "summary_grounded"),
        ],
        "weekly": [
            *assets("weekly_insights", "weekly_digest"),
            check("weekly_digest", "summary_grounded"),
        ],
    }
    with FakeGitHub(org) as server, dg.instance_for_test() as instance:
        world = World(org, tmp_path, server, instance)
        off = OllamaResource(base_url="http://127.0.0.1:9")
        world.materialize(collect, _range("2024-06-01", "2024-06-30"), off)
        world.materialize(assets("weekly_metrics"), _range(WEEK, WEEK), off)
        whole, bare = world.fork("whole"), world.fork("bare")
        shutil.rmtree(bare / "raw")
        assert not (bare / "raw").exists() and (whole / "raw/raw_commits").is_dir()

        outputs, verdicts = {}, {}
        for data in (whole, bare):
            # A fresh fake and an empty answer cache for each copy: the same calls are made.
            with FakeOllama(answer_fn=grounded_answer) as fake:
                results = [
                    world.materialize(
                        later["daily"], _range(DAYS[0], DAYS[-1]), ollama(fake), data
                    ),
                    world.materialize(later["weekly"], _range(WEEK, WEEK), ollama(fake), data),
                ]
            outputs[data], verdicts[data] = _outputs(data), _verdicts(results)

    # Every window's insights, digest and sidecar, byte for byte.
    expected = {f"data/processed/daily_insights/{d}.json" for d in DAYS}
    expected |= {f"output/daily/{d}.md" for d in DAYS} | {f"output/weekly/{WEEK}.md"}
    assert expected <= set(outputs[whole])
    assert outputs[bare] == outputs[whole]
    # The same verdicts, all passed: 7 days and the week.
    assert len(verdicts[whole]) == len(DAYS) + 1
    assert verdicts[bare] == verdicts[whole]
    assert all(passed for passed, _ in verdicts[bare].values()), verdicts[bare]

    # The check verified links, from the stored link targets: the LLM's summaries link to the
    # window's pull requests and commits, which a check knowing no target would refuse.
    unverified = 0
    for day in DAYS:
        markdown = (bare.parent / "output/daily" / f"{day}.md").read_text(encoding="utf-8")
        insights = Insights.model_validate(
            json.loads((bare / "processed/daily_insights" / f"{day}.json").read_text())
        )
        if re.search(r"\]\(https://github\.com/[^)]+/(pull|issues|commit)/", markdown):
            unverified += bool(grounding_problems(markdown, insights, WindowRefs(org=org.login)))
    assert unverified > 0


def _coverage(day: str, *repos: tuple[str, str]) -> Coverage:
    return Coverage(
        partition=day,
        window_start=f"{day}T00:00:00-04:00",
        window_end=f"{day}T23:59:59-04:00",
        collected_at=f"{day}T23:59:59-04:00",
        repos=[
            RepoCoverage(repo=r, status=s, error="gone" if s == "failed" else None)  # type: ignore[arg-type]
            for r, s in repos
        ],
    )


def test_failed_repos_are_those_failed_on_any_day_once_each() -> None:
    days = [
        _coverage("2024-06-03", ("b", "failed"), ("a", "ok")),
        _coverage("2024-06-04", ("a", "failed"), ("b", "failed"), ("c", "ok")),
    ]
    assert failed_repos(days) == ["a", "b"]  # by hand: a failed on the 4th, b on both days
    assert failed_repos([]) == []


def test_link_targets_are_stored_sorted_without_the_org() -> None:
    refs = WindowRefs.from_records(
        "acme",
        commits=[
            {"repo": "acme/Zed", "sha": "ABCDEF0123"},
            {"repo": "app", "sha": "0123456789"},
        ],
        pull_requests=[{"repo": "acme/app", "number": 12}, {"repo": "app", "number": 3}],
        issues=[{"repo": "tools", "number": 7}],
    )
    stored = refs.model_dump(mode="json")
    assert stored == {
        "repos": ["app", "tools", "zed"],
        "numbers": [["app", 3], ["app", 12], ["tools", 7]],
        "shas": [["app", "0123456789"], ["zed", "abcdef0123"]],
        # No releases, clone tags or clone remotes were given: stored empty, still sorted lists.
        "tags": [],
        "sites": [],
    }
    back = WindowRefs.model_validate(json.loads(json.dumps(stored)))
    assert back.org is None and back.model_copy(update={"org": "acme"}) == refs
