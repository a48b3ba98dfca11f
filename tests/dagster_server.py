"""A real `dagster dev` (webserver + daemon) in its own process group, and its GraphQL API.

Used by the end-to-end test: the server runs Sparky's `workspace.yaml` (code location `sparky`)
as `just dev` does, on a free loopback port, with its own DAGSTER_HOME and Sparky config.
`stop()` ends the whole process group (webserver, daemon, code server, run workers): SIGTERM,
then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
LOCATION = "sparky"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # Dagster's name for a `Definitions` object's repository

DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GraphQLError(AssertionError):
    pass


class DagsterDev:
    """`dagster dev -w workspace.yaml` on 127.0.0.1:<port>; its output goes to `log`."""

    def __init__(self, home: Path, config: Path, log: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
        self.home = home
        self.config = config
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(timeout=120)

    def start(self, timeout: float = 240) -> float:
        """Start the server and wait until `/server_info` answers; the seconds that took."""
        env = {**os.environ, "SPARKY_CONFIG": str(self.config), "DAGSTER_HOME": str(self.home)}
        env.pop("SPARKY_AUTOMATION", None)  # schedules and sensors keep their STOPPED default
        began = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "dagster"),
                    "dev",
                    "-w",
                    str(ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get(f"{self.url}/server_info", timeout=5).status_code == 200:
                    break
            if time.monotonic() - began > timeout:
                raise AssertionError(
                    f"dagster dev not up after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(1)
        # The webserver answers before the code location is loaded: wait for the repository.
        while True:
            data = self.gql(
                "{ repositoriesOrError { __typename ... on RepositoryConnection"
                " { nodes { name } } ... on PythonError { message } } }"
            )
            nodes = data["repositoriesOrError"].get("nodes")
            if nodes:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise AssertionError(f"no repository loaded: {data}\n{self.log_tail()}")
            time.sleep(1)

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to `dagster dev` (it shuts its webserver and daemon down), then SIGKILL to
        whatever is left of its process group (code servers, run workers) after `grace` s."""
        self.client.close()
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
