"""Smoke test: benchmarks/local_git.py checks itself against git and prints both figures.

Timings are not asserted (they belong to the benchmark's report); what is asserted can fail:
the benchmark exits non-zero when Sparky's commit count or line totals differ from git's, or
when the day run reads a different number of commits than git's own listing holds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "local_git.py"


def test_benchmark_agrees_with_git_and_prints_both_figures() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--commits",
            "300",
            "--day-commits",
            "1500",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "commits: 300" in lines, proc.stdout
    # The generator makes a commit every 10 minutes: a full day of the large repository holds
    # 144 commits, the last (partial) day fewer, never none.
    day = next(line for line in lines if line.startswith("day run: "))
    commits = int(re.search(r": (\d+) commits \(git agrees\)$", day).group(1))
    assert 1 <= commits <= 144
    assert re.fullmatch(r"day_run_s=\d+\.\d{3}", lines[-2]), lines[-2]
    assert re.fullmatch(r"ratio_vs_git_log=\d+\.\d{3}", lines[-1]), lines[-1]


def test_benchmark_stops_with_one_error_line_on_a_path_that_is_not_a_repository(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), str(tmp_path), "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "ratio_vs_git_log" not in proc.stdout
    assert proc.stderr.strip() == "error: not a git repository"


GITHUB_BENCHMARK = BENCHMARK.parent / "github_collect.py"


def test_github_benchmark_is_cheap_by_construction() -> None:
    """Request counts are deterministic (the fake counts them): the goals hold on a small org."""
    proc = subprocess.run(
        [
            sys.executable,
            str(GITHUB_BENCHMARK),
            "--repos",
            "60",
            "--active",
            "10",
            "--latency-ms",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = dict(line.split("=", 1) for line in proc.stdout.strip().splitlines() if "=" in line)
    assert proc.stdout.strip().splitlines()[-1].startswith("requests_per_active_repo=")
    assert int(figures["active_repos"]) == 10
    assert float(figures["requests_per_active_repo"]) <= 0.5
    assert int(figures["backfill_30d_requests"]) < 5 * int(figures["requests"])


METRICS_BENCHMARK = BENCHMARK.parent / "metrics.py"


def test_metrics_benchmark_counts_every_generated_record_once() -> None:
    """A small year in Sparky's raw layout: the twelve monthly windows count each generated
    commit and pull request exactly once (merges apart), and the figures are all printed."""
    proc = subprocess.run(
        [
            sys.executable,
            str(METRICS_BENCHMARK),
            "--commits",
            "2000",
            "--pull-requests",
            "200",
            "--repos",
            "10",
            "--contributors",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"monthly_metrics_s=\d+\.\d{3}", lines[-1]), lines[-1]
    figures = dict(line.split("=", 1) for line in lines if "=" in line)
    assert int(figures["commits"]) == 2000
    assert int(figures["pull_requests"]) == 200
    assert int(figures["year_commits"]) + int(figures["year_merges"]) == 2000
    assert int(figures["year_prs_opened"]) == 200
    assert 0 < int(figures["month_commits"]) < 2000
    assert int(figures["peak_rss_mb"]) > 0
    for name in ("generate_s", "contributors_s", "daily_metrics_s", "weekly_metrics_s"):
        assert float(figures[name]) >= 0
    assert float(figures["year_monthly_s"]) >= 0
    assert float(figures["raw_mb"]) > 0


INSIGHTS_BENCHMARK = BENCHMARK.parent / "insights.py"


def test_insights_benchmark_keeps_prompts_within_num_ctx_and_calls_nothing_when_warm() -> None:
    """A small busy month through the insights layer against the fake Ollama: the benchmark
    exits non-zero when a prompt overflows num_ctx or a warm (cached) run calls the LLM."""
    proc = subprocess.run(
        [
            sys.executable,
            str(INSIGHTS_BENCHMARK),
            "--repos",
            "20",
            "--pull-requests",
            "200",
            "--commits",
            "600",
            "--contributors",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    last = re.fullmatch(r"max_prompt_tokens=(\d+)", lines[-1])
    assert last, lines[-1]
    assert 0 < int(last.group(1)) <= 8192
    figures = dict(line.split("=", 1) for line in lines if "=" in line)
    assert int(figures["num_ctx"]) == 8192
    assert int(figures["cold_calls"]) > 0
    assert int(figures["cold_chat_requests"]) == int(figures["cold_calls"])
    assert int(figures["warm_calls"]) == 0
    assert int(figures["warm_chat_requests"]) == 0
    assert figures["within_num_ctx"] == "yes"
    assert figures["goal"] == "met"
    # The month and its full weeks overflow one prompt at this size: map-reduce is exercised.
    assert "map-reduce" in figures["monthly_modes"]
