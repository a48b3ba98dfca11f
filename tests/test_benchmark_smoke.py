"""Smoke test: benchmarks/local_git.py builds a small synthetic repository and reports a ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "local_git.py"


def test_benchmark_runs_on_a_small_synthetic_repo() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--commits", "300", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    # The benchmark itself checks Sparky's count against `git rev-list --count HEAD` and its
    # line totals against git log's; here we pin the generator to exactly N commits.
    assert "commits: 300" in lines, proc.stdout
    match = re.fullmatch(r"ratio_vs_git_log=(\d+\.\d{3})", lines[-1])
    assert match, f"last line is {lines[-1]!r}"
    assert float(match.group(1)) > 0
