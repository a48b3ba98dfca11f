"""The just recipes as a user runs them: real `just`, a temp DAGSTER_HOME, a real webserver.

A run that `just day` starts is a run of the code location `sparky`, so the UI can re-execute
it: the test re-executes it through the UI's own GraphQL mutation (`launchRunReexecution`, what
"Re-execute all" sends) against a real `dagster dev` on the same instance, and the re-execution
succeeds. `just pools` sets the instance's pool limits; `just weekly` for a week that starts
before `[sparky].start_date` says, on the console and in the digest, that those days will
never be collected; every recipe the README names exists.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from dagster_server import LOCATION, REPOSITORY, DagsterDev
from gitrepo import KnownHistory
from test_cli import BIN, ROOT, sparky_env, write_config

DAY = "2024-06-03"  # the known history's busy day (America/New_York)
RUN_TIMEOUT = 240.0  # seconds for the re-executed run (daemon, run worker, the day's chain)

RUN_QUERY = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId
      status
      parentRunId
      rootRunId
      jobName
      repositoryOrigin { repositoryLocationName repositoryName }
      tags { key value }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

# The UI's "Re-execute all" (ui-core's LAUNCH_PIPELINE_REEXECUTION_MUTATION, the same shape as
# dagster_graphql/client/query.py's): re-execute a parent run, all steps.
REEXECUTE_MUTATION = """
mutation($reexecutionParams: ReexecutionParams) {
  launchRunReexecution(reexecutionParams: $reexecutionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status parentRunId rootRunId } }
    ... on PythonError { message className stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def config_for(folder: Path, known: KnownHistory) -> Path:
    """A config reading the known history (America/New_York, start 2024-05-01); the LLM on a
    closed port, so the deterministic writer answers at once and no Ollama is ever asked."""
    path = write_config(folder, [known.path], timezone="America/New_York")
    path.write_text(
        path.read_text(encoding="utf-8") + '[llm]\nbase_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    return path


def just(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "just"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def instance_runs(home: Path) -> list[Any]:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        return list(instance.get_runs())


def wait_for_run(server: DagsterDev, run_id: str) -> dict[str, Any]:
    """Poll until the run is done (the daemon dequeues it, a run worker executes it)."""
    began = time.monotonic()
    while True:
        run = server.gql(RUN_QUERY, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        if time.monotonic() - began > RUN_TIMEOUT:
            raise AssertionError(f"run {run_id} still {run['status']}:\n{server.log_tail()}")
        time.sleep(2)


def test_a_run_just_day_started_is_re_executed_from_the_ui(
    known: KnownHistory, tmp_path: Path
) -> None:
    config = config_for(tmp_path / "cfg", known)
    home = tmp_path / "home"
    server = DagsterDev(home, config, tmp_path / "dagster-dev.log")  # writes dagster.yaml
    env = sparky_env(config, home)

    proc = just(env, "day", DAY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = instance_runs(home)
    assert run.is_success and run.job_name == "daily_digest_job"
    assert run.tags["dagster/partition"] == DAY
    # The run names its code location: the one workspace.yaml and [tool.dg] call `sparky`.
    origin = run.remote_job_origin
    assert origin is not None, "the run has no code location: the UI cannot re-execute it"
    assert (origin.location_name, origin.repository_origin.repository_name) == (
        LOCATION,
        REPOSITORY,
    )
    assert run.tags["dagster/code_location"] == LOCATION
    assert run.job_code_origin is not None
    # `just day` ends with the digest's path, as `just demo` does, and logs at INFO.
    digest = tmp_path / "cfg/output/daily" / f"{DAY}.md"
    assert proc.stdout.splitlines()[-2:] == ["Daily digest:", str(digest)], proc.stdout
    assert digest.is_file()
    assert " - daily_digest_job - " in proc.stderr and " - DEBUG - " not in proc.stderr

    digest.unlink()  # the re-execution must write it again
    try:
        server.start()
        shown = server.gql(RUN_QUERY, {"runId": run.run_id})["runOrError"]
        assert shown["repositoryOrigin"] == {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
        }
        data = server.gql(
            REEXECUTE_MUTATION,
            {"reexecutionParams": {"parentRunId": run.run_id, "strategy": "ALL_STEPS"}},
        )
        launched = data["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        again = wait_for_run(server, launched["run"]["runId"])
        assert again["status"] == "SUCCESS", (again, server.log_tail())
        assert (again["parentRunId"], again["rootRunId"]) == (run.run_id, run.run_id)
        assert again["jobName"] == "daily_digest_job"
        assert {"key": "dagster/partition", "value": DAY} in again["tags"]
        assert again["repositoryOrigin"]["repositoryLocationName"] == LOCATION
    finally:
        server.stop()
    assert digest.is_file()


def test_just_pools_sets_the_instance_pool_limits(tmp_path: Path) -> None:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    home = tmp_path / "home"
    proc = just(sparky_env(tmp_path / "unused.toml", home), "pools", "2", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Set concurrency limit for github to 2." in proc.stdout
    assert "Set concurrency limit for ollama to 1." in proc.stdout
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        storage = instance.event_log_storage
        assert storage.get_concurrency_info("github").slot_count == 2
        assert storage.get_concurrency_info("ollama").slot_count == 1


def test_just_weekly_before_start_date_says_those_days_are_never_collected(
    known: KnownHistory, tmp_path: Path
) -> None:
    # start_date 2024-05-01 is a Wednesday: the week of Monday 2024-04-29 has 5 daily partitions.
    config = config_for(tmp_path / "cfg", known)
    proc = just(sparky_env(config, tmp_path / "home"), "weekly", "2024-04-29")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "sparky: the weekly window 2024-04-29 starts before [sparky].start_date 2024-05-01: "
        "2024-04-29 ... 2024-04-30 will never be collected"
    ) in proc.stderr
    digest = tmp_path / "cfg/output/weekly/2024-04-29.md"
    assert proc.stdout.splitlines()[-2:] == ["Weekly digest:", str(digest)], proc.stdout
    text = digest.read_text(encoding="utf-8")
    assert (
        "> **Partial week**: 5 of 7 days collected: 2024-04-29 ... 2024-04-30 are before "
        r"\[sparky\].start\_date 2024-05-01 and will never be collected." + "\n"
    ) in text
    assert "Re-materialize" not in text  # a later re-run would not collect them either


def test_the_start_date_message_of_a_window_still_running() -> None:
    """Days before start_date and days still to come: both said, and the re-run advice kept."""
    import datetime as dt

    from sparky_assets.lib.digest_view import _partial

    week = [f"2024-04-{d}" for d in (29, 30)] + [f"2024-05-0{d}" for d in range(1, 6)]
    start = dt.date(2024, 5, 1)
    assert _partial("weekly", week, 3, [], start) == (
        "3 of 7 days collected so far; 2024-04-29 ... 2024-04-30 are before "
        "[sparky].start_date 2024-05-01 and will never be collected",
        True,
    )
    assert _partial("weekly", week, 6, [], dt.date(2024, 4, 30)) == (
        "6 of 7 days collected: 2024-04-29 is before [sparky].start_date 2024-04-30 and will "
        "never be collected",
        False,
    )
    assert _partial("weekly", week, 5, [], None) == ("5 of 7 days collected so far", True)
    assert _partial("weekly", week, 7, [], start) == (None, True)


def test_every_recipe_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?:\.venv/bin/|`)just ([a-z][a-z0-9-]*)", readme))
    assert {"demo", "day", "weekly", "pools", "dev"} <= named, named
    listed = subprocess.run(
        [str(BIN / "just"), "--summary"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert named <= set(listed), named - set(listed)
    # Dagster's instance commands need the venv and DAGSTER_HOME: the README goes through just.
    assert not re.search(r"(?<!/)dagster instance concurrency set \w+ \d", readme)


@pytest.mark.parametrize("command", ["sparky", "dagster"])
def test_readme_command_lines_name_the_venv(command: str) -> None:
    """Every command line in the README's shell blocks runs as written from a fresh shell: the
    venv's binaries by path (nothing on PATH but Python and git)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    for line in (line for block in blocks for line in block.splitlines()):
        words = line.split("#", 1)[0].split()
        assert command not in words, line
