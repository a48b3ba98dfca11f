"""`sparky launch`: run a job in this process as a run of the workspace's code location.

`dg launch --job` executes in process through `dagster job execute`'s path (`execute_job`),
whose run records no remote job origin: the UI cannot re-execute such a run ("Re-execute all"
fails with `CheckError: Expected non-None value: None`, as `launchRunReexecution` needs
`run.remote_job_origin`) and leaves it out of the Overview timeline, which groups runs by code
location. `dagster job launch -w workspace.yaml` records the origin, but hands the run to the
instance's run launcher: a code server and a run worker process, seconds of start-up each.

This does what `dagster job execute` does (`_logged_execute_job`: `create_run_for_job`, then
`execute_run` in this process) and passes the origin `dagster job launch` would record for the
workspace's code location: the location `workspace.yaml` names (`sparky`, the same name as
`[tool.dg.project].code_location_name`, which `dg dev` serves), so the webserver finds the
location and job by name. Partition keys, a partition range (one run, the assets'
`BackfillPolicy.single_run()`) and their tags are checked and set as `dagster job execute` does
(dagster/_cli/job.py in dagster 1.13.27).

The run logs at INFO to the console (warnings and what each step did, not Dagster's DEBUG
event stream) and runs its steps in one process (a day's chain: about 5 s instead of 35 s of
subprocess start-up); the UI's re-execution keeps that run config.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CODE_LOCATION = "sparky"  # workspace.yaml's location_name; [tool.dg.project].code_location_name
RUN_CONFIG: Mapping[str, Any] = {
    "loggers": {"console": {"config": {"log_level": "INFO"}}},
    "execution": {"config": {"in_process": {}}},
}


class LaunchError(Exception):
    """A launch that cannot start; the message is one line."""


def _location_origin(workspace: Path, location: str) -> Any:
    """The code location origin `workspace.yaml` declares under `location`, as Dagster's own
    workspace loading (`dagster dev -w`, `dagster job launch -w`) reads it."""
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    if not workspace.is_file():
        raise LaunchError(f"{workspace}: workspace file not found (run from Sparky's folder)")
    origins = location_origins_from_yaml_paths([str(workspace)])
    named = [o for o in origins if o.location_name == location]
    if not named:
        found = ", ".join(sorted(o.location_name for o in origins)) or "none"
        raise LaunchError(f"{workspace}: no code location {location!r} (found: {found})")
    origin = named[0]
    target = getattr(origin, "loadable_target_origin", None)
    if target is None or not target.module_name:
        raise LaunchError(f"{workspace}: code location {location!r} is not a python_module")
    return origin


def _ensure_home(home: Path) -> None:
    """Make the instance folder as the justfile's `_home` does: telemetry off on a new one."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    except OSError as exc:
        raise LaunchError(f"DAGSTER_HOME {home}: {exc.strerror or exc}") from None


def _partition_tags(job_def: Any, instance: Any, partition: str | None, rng: str | None) -> dict:
    """The tags `dagster job execute --partition/--partition-range` puts on the run, after the
    same checks (a range runs as one run only where every asset has a single-run policy)."""
    from dagster import PartitionKeyRange
    from dagster._core.definitions.backfill_policy import BackfillPolicyType
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.errors import DagsterUnknownPartitionError
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    if partition is None and rng is None:
        return {}
    if job_def.partitions_def is None:
        raise LaunchError(f"{job_def.name} has no partitions: launch it without a partition")
    with partition_loading_context(dynamic_partitions_store=instance) as context:
        try:
            if partition is not None:
                job_def.validate_partition_key(partition, selected_asset_keys=None, context=context)
                return dict(job_def.get_tags_for_partition_key(partition, selected_asset_keys=None))
            first, sep, last = (rng or "").partition("...")
            if not sep or not first or not last or "..." in last:
                raise LaunchError(f"partition range {rng!r} is not written FIRST...LAST")
            for key in job_def.asset_layer.executable_asset_keys:
                policy = job_def.asset_layer.get(key).backfill_policy
                if policy is None or policy.policy_type != BackfillPolicyType.SINGLE_RUN:
                    raise LaunchError(
                        f"{job_def.name}: asset {key.to_user_string()} has no single-run "
                        "backfill policy, so a range cannot be one run"
                    )
            for bound in (first, last):
                job_def.validate_partition_key(bound, selected_asset_keys=None, context=context)
            # A reversed range would start a run that fails in its first step (IndexError).
            if not job_def.partitions_def.get_partition_keys_in_range(
                PartitionKeyRange(first, last)
            ):
                raise LaunchError(f"partition range {rng} is empty: {first} is after {last}")
        except DagsterUnknownPartitionError as exc:
            raise LaunchError(f"{job_def.name}: {str(exc).splitlines()[0]}") from None
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def _config_problem(exc: BaseException) -> BaseException | None:
    """The ConfigError (a bad setting or secret) behind `exc`, if one caused it."""
    from sparky_resources.config import ConfigError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConfigError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def launch(
    job_name: str,
    *,
    partition: str | None = None,
    partition_range: str | None = None,
    workspace: Path = Path("workspace.yaml"),
    location: str = CODE_LOCATION,
    run_config: Mapping[str, Any] = RUN_CONFIG,
) -> Any:
    """Create the run with the code location's remote origin and execute it here; the
    finished `DagsterRun`. Needs `DAGSTER_HOME`: a throwaway instance is one no UI shows."""
    from dagster import DagsterInstance
    from dagster._cli.workspace.cli_target import get_repository_python_origin_from_cli_opts
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._utils.hosted_user_process import recon_repository_from_origin
    from dagster._utils.interrupts import capture_interrupts
    from dagster_shared.cli import PythonPointerOpts

    if partition is not None and partition_range is not None:
        raise LaunchError("give --partition or --partition-range, not both")
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise LaunchError(
            "DAGSTER_HOME is not set: the run would go to a throwaway instance that no UI shows "
            "(the just recipes set it to .dagster/)"
        )
    _ensure_home(Path(home))
    origin = _location_origin(workspace, location)
    target = origin.loadable_target_origin
    try:
        # The same python origin `dg launch` / `dagster job execute -m MODULE` builds.
        repo_origin = get_repository_python_origin_from_cli_opts(
            PythonPointerOpts(
                python_file=None,
                module_name=target.module_name,
                package_name=None,
                working_directory=target.working_directory,
                attribute=target.attribute,
                autoload_defs_module_name=None,
            )
        )
        recon_repo = recon_repository_from_origin(repo_origin)
        repo_def = recon_repo.get_definition()
    except Exception as exc:
        # A bad sparky.toml or secret stops the definitions from loading; Dagster wraps the
        # error in its own (a component tree and two tracebacks): say the user's one line.
        problem = _config_problem(exc)
        if problem is None:
            raise
        raise LaunchError(str(problem)) from None
    if job_name not in repo_def.job_names:
        raise LaunchError(
            f"no job {job_name!r} in code location {location!r} "
            f"(jobs: {', '.join(sorted(repo_def.job_names))})"
        )
    load_data = repo_def.repository_load_data
    recon_job = recon_repo.get_reconstructable_job(job_name).with_repository_load_data(load_data)
    job_def = recon_job.get_definition()
    remote_origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=origin, repository_name=repo_def.name
        ),
        job_name=job_name,
    )
    with capture_interrupts(), DagsterInstance.get() as instance:
        tags = _partition_tags(job_def, instance, partition, partition_range)
        run = instance.create_run_for_job(
            job_def=job_def,
            run_config=run_config,
            tags={**job_def.run_tags, **tags},
            remote_job_origin=remote_origin,
            job_code_origin=recon_job.get_python_origin(),
            repository_load_data=load_data,
        )
        return execute_run(recon_job, run, instance).dagster_run


def main(job_name: str, partition: str | None, partition_range: str | None) -> int:
    """The CLI's `launch`: exit 0 when the run succeeded, 1 when it failed, 2 when it could not
    start (one line on stderr)."""
    try:
        run = launch(job_name, partition=partition, partition_range=partition_range)
    except LaunchError as exc:
        print(f"sparky launch: {exc}", file=sys.stderr)
        return 2
    if not run.is_success:
        print(
            f"sparky launch: run {run.run_id} of {job_name} ended {run.status.value} "
            "(its steps' errors are above, and on the run's page in the UI)",
            file=sys.stderr,
        )
        return 1
    return 0
