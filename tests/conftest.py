"""Session setup: a real git repository with known history and a config that points at it.

Importing Sparky reads no config: `build_definitions(config)` builds the graph for any config
(tests/test_definitions_per_config.py builds two side by side). The session config written here
is the one `sparky_defs.session_defs()`, the CLI and Dagster's code location load, through
`SPARKY_CONFIG`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gitrepo import KnownHistory, build_known_history

TZ = "America/New_York"
START = "2024-05-01"
_SESSION: dict[str, Path] = {}


MEMORY_TMP = Path("/dev/shm")
MEMORY_TMP_MIN_FREE = 4 << 30


def _temp_in_memory() -> None:
    """Put the session's temp files (git repositories, Dagster's SQLite instances, data folders)
    on tmpfs when the machine has one with room and TMPDIR is not chosen already: SQLite syncs
    on every Dagster event, ~50 ms each on this machine's disk, nothing in memory (the e2e's
    90-day backfill: 89 s instead of 120 s). Set once, by the first process (xdist's workers
    inherit it); whoever made the folder removes it."""
    if os.environ.get("TMPDIR") or not MEMORY_TMP.is_dir() or not os.access(MEMORY_TMP, os.W_OK):
        return
    if shutil.disk_usage(MEMORY_TMP).free < MEMORY_TMP_MIN_FREE:
        return
    base = Path(tempfile.mkdtemp(prefix="sparky-tmp-", dir=MEMORY_TMP))
    base.chmod(0o1777)  # as /tmp: the PostgreSQL tests hand a folder in it to the postgres user
    _SESSION["tmpdir"] = base
    os.environ["TMPDIR"] = str(base)
    tempfile.tempdir = None  # recomputed from TMPDIR at the next use


def pytest_configure(config: pytest.Config) -> None:
    _temp_in_memory()
    root = Path(tempfile.mkdtemp(prefix="sparky-tests-"))
    _SESSION["root"] = root
    build_known_history(root / "known")
    cfg = root / "sparky.toml"
    cfg.write_text(
        f'[sparky]\ntimezone = "{TZ}"\nstart_date = {START}\n'
        f'data_dir = "data"\noutput_dir = "output"\n'
        f'[local]\nrepos = ["known", "missing-clone"]\n'
        # No test may talk to an Ollama that happens to run here: the discard port refuses.
        f'[llm]\nbase_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    os.environ["SPARKY_CONFIG"] = str(cfg)
    os.environ.pop("OLLAMA_HOST", None)


# The slowest test files, slowest first (seconds on 2 cores in the comments). `just test` runs
# a file per worker (`--dist loadfile --no-loadscope-reorder`); a long file handed out
# last becomes the run's tail, so they start first and the many short files fill in around
# them (longest processing time first).
SLOW_FIRST = (
    "test_e2e_dagster.py",  # ~170: dagster dev, a 90-day and a weekly backfill by the daemon
    "test_recipes.py",  # ~55: just day, then a re-execution from a real dagster dev
    "test_postgres.py",  # ~60: a real PostgreSQL server, a run killed midway
    "test_cli.py",  # ~100: sparky and just in subprocesses
    "test_secrets.py",  # ~70: dagster runs in subprocesses
    "test_window.py",
    "test_insights_assets.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep order


def pytest_unconfigure(config: pytest.Config) -> None:
    root = _SESSION.get("root")
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
    tmpdir = _SESSION.get("tmpdir")
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION["root"]


@pytest.fixture(scope="session")
def known(tmp_path_factory: pytest.TempPathFactory) -> KnownHistory:
    """A fresh copy of the known history for tests that read it (never modified)."""
    return build_known_history(tmp_path_factory.mktemp("known") / "known")
