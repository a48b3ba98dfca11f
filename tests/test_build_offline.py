"""deploy/build-offline.sh, checked cheaply: it never builds the image here (minutes, root,
mmdebstrap and buildah). What it checks:

- the script parses (`bash -n`) and passes shellcheck where shellcheck is installed;
- it builds deploy/docker/Dockerfile as is, passing PYTHON_IMAGE and never pulling the base;
- the Dockerfile stays a normal multi-stage build on python:3.11-slim: its default PYTHON_IMAGE
  and every stage's FROM use it, so the offline base replaces both stages' base;
- the offline base (Containerfile.base) is FROM scratch + ADD rootfs.tar, and its rootfs
  provides the `python` the Dockerfile calls (python-is-python3; Debian has only python3);
- without arguments or without its tools it fails with one line that says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "build-offline.sh"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
BASE_CONTAINERFILE = ROOT / "deploy" / "docker" / "Containerfile.base"


def _script() -> str:
    return SCRIPT.read_text()


def _instructions(path: Path) -> list[str]:
    """The file's instructions, comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_script_syntax() -> None:
    bash = shutil.which("bash")
    assert bash, "bash is needed"
    result = subprocess.run([bash, "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_script_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck not installed")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_is_strict_and_builds_the_dockerfile() -> None:
    text = _script()
    assert "set -euo pipefail" in text
    assert "deploy/docker/Dockerfile" in text
    assert "deploy/docker/Containerfile.base" in text
    assert '--build-arg "PYTHON_IMAGE=' in text
    assert "--pull=never" in text
    assert "--isolation chroot" in text
    assert "--variant=minbase" in text
    # The smoke test inside the built image.
    assert "dagster --version" in text
    assert "dg check defs" in text


def test_justfile_recipe_runs_the_script() -> None:
    justfile = (ROOT / "justfile").read_text()
    assert re.search(r"^\s+bash deploy/build-offline\.sh .*\{\{\s*\w+\s*\}\}", justfile, re.M)


def test_dockerfile_stages_use_python_image() -> None:
    lines = _instructions(DOCKERFILE)
    assert lines[0] == "ARG PYTHON_IMAGE=python:3.11-slim", lines[0]
    froms = [line for line in lines if line.upper().startswith("FROM ")]
    assert [f.split()[1] for f in froms] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"], froms
    assert [f.split()[-1] for f in froms] == ["install", "runtime"], froms


def test_offline_base_is_scratch_plus_rootfs() -> None:
    lines = _instructions(BASE_CONTAINERFILE)
    assert lines[0] == "FROM scratch"
    assert "ADD rootfs.tar /" in lines


def test_offline_rootfs_provides_what_the_dockerfile_runs() -> None:
    match = re.search(r'^packages="([^"]+)"', _script(), re.MULTILINE)
    assert match, "the script names its mmdebstrap packages in packages=..."
    packages = set(match.group(1).split(","))
    assert {"python3", "python3-venv", "git", "ca-certificates"} <= packages
    dockerfile = DOCKERFILE.read_text()
    if re.search(r"(^|\s)python\s", dockerfile):  # Debian's python3 has no `python` without it
        assert "python-is-python3" in packages


def _run_script(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [bash, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=30
    )


def test_script_without_image_prints_usage() -> None:
    result = _run_script(path=os.environ.get("PATH", "/usr/bin:/bin"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "usage:" in lines[0], result.stderr


def test_script_says_how_to_install_missing_tools(tmp_path: Path) -> None:
    # A PATH with only what the script needs before its tool check: no mmdebstrap, no buildah.
    dirname = shutil.which("dirname")
    assert dirname
    (tmp_path / "dirname").symlink_to(dirname)
    result = _run_script("sparky:test", path=str(tmp_path))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "apt-get install -y mmdebstrap buildah" in lines[0]
    assert "--install-deps" in lines[0]
