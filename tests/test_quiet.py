"""What a first-time user sees besides the digests: no Dagster warnings, descriptions that read
well in the UI, and no lock files among the data.

The run goes through the real definitions (the same `daily_digest_job` that `just demo` and
the README's `sparky launch` lines start) on a real Dagster instance, over the session's known git
history, with warnings recorded "always" (every occurrence, not once per place).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import dagster as dg
import pytest
from dagster_shared.record import replace
from sparky_defs import session_org

from sparky_assets.definitions import defs as load_defs
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.publisher import GitPublisherResource
from sparky_resources.store import DataStore

ROOT = Path(__file__).resolve().parents[1]
DAY = "2024-06-03"
# Dagster's API-lifecycle warnings, and deprecations.
LIFECYCLE = (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning, DeprecationWarning)
DATA_KINDS = ("raw", "processed", "cache", "alerts")


def _lifecycle(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted(
        {
            f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
            for w in caught
            if issubclass(w.category, LIFECYCLE)
        }
    )


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory: pytest.TempPathFactory, session_root: Path):
    """`daily_digest_job` for one day, loaded and run with every warning recorded."""
    root = tmp_path_factory.mktemp("quiet")
    data, output = root / "data", root / "output"
    # A lock file where Sparky used to keep it (next to the day's file), from an older run.
    legacy = data / "raw" / "raw_commits" / f".{DAY}.json.lock"
    legacy.parent.mkdir(parents=True)
    legacy.touch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        defs = load_defs()
        ran = replace(
            defs,
            resources={
                **(defs.resources or {}),
                "local_git": LocalGitResource(
                    repos=[str(session_root / "known")], cache_dir=str(data / "cache" / "git")
                ),
                "github": GitHubResource(),  # no org: local clones only
                "org": session_org(),
                "store": DataStore(data_dir=str(data), output_dir=str(output)),
                "ollama": OllamaResource(base_url="http://127.0.0.1:9"),  # refused: offline
                "publisher": GitPublisherResource(work_tree=""),
            },
        )
        with dg.DagsterInstance.ephemeral() as instance:
            result = ran.resolve_job_def("daily_digest_job").execute_in_process(
                partition_key=DAY, instance=instance
            )
    assert result.success
    return caught, data, output


def test_loading_and_running_the_definitions_raises_no_lifecycle_warning(quiet_run) -> None:
    caught, _, output = quiet_run
    assert (output / "daily" / f"{DAY}.md").is_file() and (output / "index.md").is_file()
    assert _lifecycle(caught) == []


def test_a_launch_prints_no_warning_line(
    tmp_path: Path, session_root: Path, request: pytest.FixtureRequest
) -> None:
    """The README's `sparky launch` (what the recipes run), as a user runs it: every warning
    shown."""
    config = tmp_path / "sparky.toml"
    config.write_text(
        '[sparky]\ntimezone = "America/New_York"\nstart_date = 2024-05-01\n'
        f'[local]\nrepos = ["{session_root / "known"}"]\n'
        '[llm]\nbase_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    # The instance's SQLite files in memory where the machine has it (an fsync per event on disk).
    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {
        **os.environ,
        "SPARKY_CONFIG": str(config),
        "DAGSTER_HOME": str(home),
        "PYTHONWARNINGS": "always",
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("sparky")),
            "launch",
            "--job",
            "daily_digest_job",
            "--partition-range",
            f"2024-06-01...{DAY}",  # three days in one run, as `just demo` runs a week
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for day in ("2024-06-01", "2024-06-02", DAY):
        assert (tmp_path / "output" / "daily" / f"{day}.md").is_file()
    lines = (proc.stdout + proc.stderr).splitlines()
    warned = [line for line in lines if re.search(r"\w+Warning\b", line)]
    assert warned == [], f"{len(warned)} warning lines, e.g. {warned[:3]}"
    # No Ollama here: one line says so for the range, not one per day.
    fallback = [line for line in lines if "written by the deterministic writer" in line]
    assert len(fallback) == 1, fallback
    assert f"daily_insights 2024-06-01...{DAY} (3 of 3 windows): written by" in fallback[0]


def test_no_lock_file_is_left_among_the_data(quiet_run) -> None:
    _, data, _ = quiet_run
    kinds = [data / kind for kind in DATA_KINDS if (data / kind).exists()]
    assert data / "raw" in kinds  # the run wrote raw files
    assert [p for kind in kinds for p in kind.rglob("*.lock")] == []
    # The locks were taken, in their own folder.
    assert (data / ".locks" / "raw" / "raw_commits" / f"{DAY}.json.lock").is_file()


def _descriptions(defs: dg.Definitions) -> dict[str, str]:
    graph = defs.resolve_asset_graph()
    shown: dict[str, str] = {}
    for key in graph.get_all_asset_keys():
        shown[f"asset {key.to_user_string()}"] = graph.get(key).description or ""
    for check in graph.asset_check_keys:
        shown[f"check {check.to_user_string()}"] = graph.get_check_spec(check).description or ""
    for job in defs.resolve_all_job_defs():
        if not job.name.startswith("__"):
            shown[f"job {job.name}"] = job.description or ""
    for schedule in defs.schedules or []:
        shown[f"schedule {schedule.name}"] = schedule.description or ""
    for sensor in defs.sensors or []:
        shown[f"sensor {sensor.name}"] = sensor.description or ""
    return shown


def test_descriptions_read_well_in_the_ui() -> None:
    """The UI shows descriptions as text: a code span's backticks stay literal, and `<day>`
    is eaten as an HTML tag. Every asset, check, job, schedule and sensor says it in words."""
    shown = _descriptions(load_defs())
    assert len([name for name in shown if name.startswith("check ")]) >= 10
    bad = {
        name: text
        for name, text in shown.items()
        if "`" in text or re.search(r"<[^<>]*>", text) or not text.strip()
    }
    assert bad == {}
