"""The graph for any sparky.toml, built in process: two timezones in one test, no subprocess.

Sparky's configuration reaches Dagster at load time only as the partitions (start date and
timezone); everything else arrives through resources. So `build_definitions(config)` is the
whole graph for a config, and a test compares two of them side by side.
"""

import ast
from pathlib import Path

import dagster as dg
from gitrepo import ALICE, Repo

from sparky_assets.definitions import build_definitions
from sparky_resources.config import load_config

DAY = "2024-06-03"
DEFS_DIR = Path(__file__).resolve().parents[1] / "sparky_assets" / "defs"


def _config(root: Path, timezone: str, clone: Path):
    path = root / f"{timezone.replace('/', '_')}.toml"
    path.write_text(
        f'[sparky]\ntimezone = "{timezone}"\nstart_date = 2024-05-01\n'
        f'data_dir = "data-{timezone.replace("/", "_")}"\noutput_dir = "out"\n'
        f'[local]\nrepos = ["{clone}"]\n[llm]\nbase_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    return load_config(path)


def _commits(defs: dg.Definitions, instance: dg.DagsterInstance, key: str) -> list[str]:
    """The shas of a day's raw_commits after materializing the day under `defs`."""
    # raw_pull_requests: the GitHub step (no [github].org here: it writes empty days).
    names = ["raw_pull_requests", "repositories", "raw_commits", "daily_metrics"]
    result = dg.materialize(
        [defs.get_assets_def(n) for n in names],
        partition_key=key,
        resources=defs.resources,
        instance=instance,
    )
    assert result.success
    raw = defs.resources["store"].read("raw", "raw_commits", key)
    return sorted(r["sha"] for r in raw)


def test_two_timezones_build_and_run_side_by_side(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "clone")
    # 09:00 UTC on June 3 is 23:00 on June 3 at UTC+14 (Pacific/Kiritimati); 11:00 UTC is
    # already 01:00 on June 4 there. Worked out by hand from the offsets.
    repo.write("a.txt", "a\n")
    early = repo.commit("early", ALICE, "2024-06-03T09:00:00+00:00")
    repo.write("b.txt", "b\n")
    late = repo.commit("late", ALICE, "2024-06-03T11:00:00+00:00")

    utc = build_definitions(_config(tmp_path, "UTC", repo.path))
    kiritimati = build_definitions(_config(tmp_path, "Pacific/Kiritimati", repo.path))
    for defs, tz in ((utc, "UTC"), (kiritimati, "Pacific/Kiritimati")):
        daily = defs.get_assets_def("raw_commits").partitions_def
        assert isinstance(daily, dg.DailyPartitionsDefinition) and daily.timezone == tz
        assert defs.resources["org"].timezone == tz
        assert defs.resolve_schedule_def("daily_digest_schedule").execution_timezone == tz

    with dg.instance_for_test() as instance:
        assert _commits(utc, instance, DAY) == sorted([early, late])
        assert _commits(kiritimati, instance, DAY) == [early]
        assert _commits(kiritimati, instance, "2024-06-04") == [late]


def test_no_asset_check_or_sensor_body_reads_the_config_file() -> None:
    """Configuration reaches bodies only through resources: nothing under defs/ calls
    get_config() or load_config() (`resources.build_resources` takes the config it is given)."""
    offenders = []
    for path in sorted(DEFS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("get_config", "load_config"):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
