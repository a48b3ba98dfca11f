"""Session setup: a real git repository with known history and a config that points at it.

Sparky's definitions read `sparky.toml` when they are imported (partitions need the start date
and timezone), so the session config is written and `SPARKY_CONFIG` set before any test
imports `sparky_assets`.
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


def pytest_configure(config: pytest.Config) -> None:
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


def pytest_unconfigure(config: pytest.Config) -> None:
    root = _SESSION.get("root")
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION["root"]


@pytest.fixture(scope="session")
def known(tmp_path_factory: pytest.TempPathFactory) -> KnownHistory:
    """A fresh copy of the known history for tests that read it (never modified)."""
    return build_known_history(tmp_path_factory.mktemp("known") / "known")
