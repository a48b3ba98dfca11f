"""Sparky on Dagster's PostgreSQL storage, as the cluster runs it, against a real server.

A throwaway PostgreSQL (tests/postgres.py) holds the instance's runs, event log and schedules;
`dg launch` runs the daily chain in a subprocess with that DAGSTER_HOME, and a fresh
`DagsterInstance` on the same home reads back what it recorded. The second test kills a run
midway (SIGKILL to its process group, as the node dying or the OOM killer would) and checks
that the database and Sparky's files are consistent and that a re-run completes.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy
import yaml
from dagster_postgres.utils import get_conn_string
from gitrepo import KnownHistory
from postgres import PostgresParams, create_database
from postgres import postgres as postgres  # the module-scoped server fixture
from test_cli import sparky_env, write_config

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
CLUSTER_CONFIG = ROOT / "deploy" / "k8s" / "base"
CLUSTER_INSTANCE = CLUSTER_CONFIG / "dagster.yaml"
# The justfile's `quiet` run config: INFO logs, the chain's steps in one process.
QUIET = json.dumps(
    {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "execution": {"config": {"in_process": {}}},
    }
)
JOB = "daily_digest_job"
DAY = "2024-06-03"
RANGE = ("2024-05-01", "2024-05-30")
# Sparky's temp files (sparky_resources/store.py): `.<target name>.<mkstemp's random>.tmp`.
SPARKY_TEMP = re.compile(r"^\.(?P<target>.+)\.[^./]+\.tmp$")


def cluster_storage() -> dict[str, Any]:
    """The `storage` section of the cluster's dagster.yaml: deploy/k8s/base/dagster.yaml (the
    file kustomize turns into the `dagster-instance` ConfigMap), or a ConfigMap manifest under
    deploy/k8s/base/ that carries it."""
    candidates: list[Any] = []
    if CLUSTER_INSTANCE.is_file():
        candidates.append(yaml.safe_load(CLUSTER_INSTANCE.read_text(encoding="utf-8")))
    for manifest in sorted(CLUSTER_CONFIG.glob("*.y*ml")) if CLUSTER_CONFIG.is_dir() else []:
        for document in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                text = (document.get("data") or {}).get("dagster.yaml")
                if text:
                    candidates.append(yaml.safe_load(text))
    for instance in candidates:
        if isinstance(instance, dict) and instance.get("storage"):
            return copy.deepcopy(instance["storage"])
    # TODO(deploy/k8s): only while deploy/k8s/base/ has no dagster.yaml; the shape the
    # cluster's instance uses.
    return {"postgres": {"postgres_db": {"username": "dagster", "db_name": "dagster"}}}


def cluster_db() -> dict[str, Any]:
    """The cluster's `postgres_db` settings (whose `username` the test database belongs to)."""
    db = cluster_storage().get("postgres", {}).get("postgres_db")
    assert isinstance(db, dict), (
        f"{CLUSTER_INSTANCE}: expected storage: postgres: postgres_db: ..., got {cluster_storage()}"
    )
    return db


def storage_section(server: PostgresParams) -> dict[str, Any]:
    """The cluster's storage section, pointed at the test server: its host, port and password
    (the cluster reads the password from a Secret) and the test's database; the rest (user,
    scheme, params) as the cluster has it."""
    storage = cluster_storage()
    db = storage["postgres"]["postgres_db"]
    db.update(
        hostname=server.hostname, port=server.port, password=server.password, db_name=server.db_name
    )
    assert db["username"] == server.username
    # The driver the cluster's settings select must be installed: SQLAlchemy 2.1 maps a bare
    # `postgresql://` (no `scheme`) to psycopg 3, while dagster-postgres installs psycopg2.
    url = get_conn_string(**db)
    try:
        sqlalchemy.create_engine(url).dispose()
    except ModuleNotFoundError as exc:
        pytest.fail(
            f"{CLUSTER_INSTANCE.relative_to(ROOT)}: storage.postgres.postgres_db selects the "
            f"driver of {url.split('://')[0]}:// (SQLAlchemy {sqlalchemy.__version__}), which "
            f"is not installed ({exc}); the cluster's Dagster cannot reach Postgres either. "
            "Add `scheme: postgresql+psycopg2` to postgres_db (dagster-postgres installs "
            "psycopg2-binary), or pin sqlalchemy<2.1 / add psycopg[binary] in pyproject.toml"
        )
    return storage


def dagster_home(folder: Path, server: PostgresParams) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"telemetry": {"enabled": False}, "storage": storage_section(server)}
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return folder


def launch_args(*target: str) -> list[str]:
    return [str(BIN / "dg"), "launch", "--job", JOB, *target, "--config-json", QUIET]


def launch(env: dict[str, str], *target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        launch_args(*target), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def day_keys(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def database_runs(server: PostgresParams) -> list[tuple[str, str, str]]:
    """(run_id, job, status) straight from PostgreSQL: the instance really is using it."""
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, pipeline_name, status FROM runs ORDER BY id")
        rows = cur.fetchall()
    conn.close()
    return rows


@pytest.fixture
def server(postgres: PostgresParams, request: pytest.FixtureRequest) -> PostgresParams:
    """A database of its own for each test, on the module's server."""
    name = re.sub(r"\W", "_", request.node.name)[:60].lower()
    return create_database(postgres, name, owner=cluster_db().get("username"))


def test_a_day_on_postgres_reads_back_from_a_fresh_instance(
    server: PostgresParams, known: KnownHistory, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "cfg", [known.path], timezone="America/New_York")
    home = dagster_home(tmp_path / "home", server)
    proc = launch(sparky_env(config, home), "--partition", DAY)
    assert proc.returncode == 0, proc.stderr[-3000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == JOB
        assert run.tags["dagster/partition"] == DAY
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_digest"), asset_partitions=[DAY]),
            limit=10,
        ).records
        assert len(records) == 1 and records[0].run_id == run.run_id
        preview = records[0].asset_materialization.metadata["preview"].value
        assert preview.startswith("# Monday 3 Jun 2024, America/New\\_York\n")  # DAY, by hand
        assert instance.get_materialized_partitions(dg.AssetKey("raw_commits")) == {DAY}
    assert database_runs(server) == [(run.run_id, JOB, "SUCCESS")]
    assert not list(home.rglob("*.db"))  # nothing went to SQLite

    digest = tmp_path / "cfg/output/daily" / f"{DAY}.md"
    assert digest.exists() and digest.read_text(encoding="utf-8").endswith(preview)
    assert "| Commits | 5 |" in digest.read_text(encoding="utf-8")


def assert_files_whole(*folders: Path) -> list[Path]:
    """Every JSON file parses, and the only temp files are Sparky's (next to their target's
    folder, named after a file name); returns those temp files."""
    temps: list[Path] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            name = path.name
            temp = SPARKY_TEMP.match(name)
            if temp:
                temps.append(path)
                continue
            assert "tmp" not in name.lower(), f"a temp file that is not Sparky's: {path}"
            if name.endswith(".json"):
                json.loads(path.read_text(encoding="utf-8"))  # raises on half a file
            elif name.endswith(".md"):
                assert path.read_text(encoding="utf-8").strip(), path
    return temps


def test_a_run_killed_midway_leaves_a_consistent_instance_and_whole_files(
    server: PostgresParams, known: KnownHistory, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "cfg", [known.path], timezone="America/New_York")
    home = dagster_home(tmp_path / "home", server)
    env = sparky_env(config, home)
    target = ("--partition-range", "...".join(RANGE))
    days = day_keys(*RANGE)
    data, output = tmp_path / "cfg/data", tmp_path / "cfg/output"

    # The instance creates its tables first, so the run and this reader never race to.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        log = tmp_path / "killed.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                launch_args(*target),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed whole below
            )
        try:
            deadline = time.monotonic() + 120
            while not instance.fetch_materializations(dg.AssetKey("raw_commits"), limit=1).records:
                assert proc.poll() is None, (
                    "the run ended before it could be killed midway:\n"
                    + log.read_text(errors="replace")[-3000:]
                )
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(0.05)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the run worker and anything it started
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED  # nobody told the instance
        done = instance.get_materialized_partitions(dg.AssetKey("daily_digest"))
        assert done != set(days), "killed after the last digest: not midway"
        # What run monitoring does for a run whose worker is gone: mark it failed.
        instance.report_run_failed(run, "run worker killed (SIGKILL) midway")

    with dg.DagsterInstance.from_config(str(home)) as fresh:
        killed = fresh.get_run_by_id(run.run_id)
        assert killed.status == dg.DagsterRunStatus.FAILURE
        assert killed.tags["dagster/asset_partition_range_start"] == RANGE[0]
        failures = fresh.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert len(failures) == 1

    # A write the kill interrupted leaves only its temp file (the next write of that file
    # removes it once stale): named after a real target, which is whole or absent.
    for temp in assert_files_whole(data, output):
        target_name = SPARKY_TEMP.match(temp.name)["target"]
        assert Path(target_name).suffix in {".json", ".md", ".xml", ".bin", ".mailmap"}, temp

    proc2 = launch(env, *target)
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as fresh:
        runs = fresh.get_runs()  # newest first
        assert [r.status for r in runs] == [
            dg.DagsterRunStatus.SUCCESS,
            dg.DagsterRunStatus.FAILURE,
        ]
        assert fresh.get_materialized_partitions(dg.AssetKey("daily_digest")) == set(days)
    statuses = {run_id: status for run_id, _, status in database_runs(server)}
    assert statuses == {runs[0].run_id: "SUCCESS", runs[1].run_id: "FAILURE"}
    for day in days:
        assert (output / "daily" / f"{day}.md").exists(), day
        assert (output / "daily" / f"{day}.json").exists(), day
    assert_files_whole(data, output)
    may20 = json.loads((data / "raw/raw_commits/2024-05-20.json").read_text(encoding="utf-8"))
    assert len(may20["records"]) == 1  # the skewed clock's commit, in the re-run's files
