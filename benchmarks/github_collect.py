"""Benchmark: how many requests Sparky's GitHub collection costs, against the loopback fake.

Why it exists: collection must stay cheap as an org grows (DESIGN §5 "cheap on the API"): it
lists repositories newest-push first and stops at the window, batches 20 repositories per
GraphQL query and finds pull requests and issues with one org-wide search stream. This script
counts every request the fake GitHub answers (listing included) for one day of an org of
`--repos` repositories of which `--active` were active that day, then for a 30-day backfill in
one run of an org whose `--active` repositories were active on all 30 days.

Usage: python benchmarks/github_collect.py [--repos 200] [--active 20] [--latency-ms 30]

Prints `requests=`, `graphql_points=`, `active_repos=`, `backfill_30d_requests=` and, as the
last line, `requests_per_active_repo=` for the single day (goal: at most 0.5; the backfill
below 5x one day's requests). `backlog_requests=` and `backlog_30d_requests=` are what the
`raw_backlog` snapshots of the same day and 30 days cost on top: a fixed price per day (one
query per five days' ends with the whole org selected) that does not grow with the activity,
so it is counted apart from the per-repository figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub

from sparky_resources.github import GitHubClient
from sparky_resources.github_collect import collect_backlog, collect_window
from sparky_resources.github_records import BacklogSnapshot


def run(gh: FakeGitHub, login: str, start: dt.datetime, end: dt.datetime) -> tuple[int, int, int]:
    """Requests the fake answered, GraphQL points it charged, active repositories found."""
    gh.counters.reset()
    client = GitHubClient(gh.base_url, gh.graphql_url, SecretStr("benchmark-token"))
    with client:
        window = collect_window(client, login, start, end, now=end + dt.timedelta(days=30))
    if window.failed:
        sys.exit(f"error: collection failed: {window.failed[0]}")
    active = len({c.repo for c in window.commits} | {p.repo for p in window.pull_requests})
    return gh.counters.total, gh.counters.graphql_points, active


def run_backlog(gh: FakeGitHub, org: Org) -> int:
    """Requests for the backlog at the end of each of the org's days (as the asset asks)."""
    ends = [org.window(day=org.day + dt.timedelta(days=d), days=1)[1] for d in range(org.days)]
    gh.counters.reset()
    with GitHubClient(gh.base_url, gh.graphql_url, SecretStr("benchmark-token")) as client:
        results = collect_backlog(client, org.login, ends)
    failed = [r for r in results if not isinstance(r, BacklogSnapshot)]
    if failed:
        sys.exit(f"error: backlog failed: {failed[0]}")
    return gh.counters.total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--active", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args(argv)

    def org_of(days: int):
        # Activity of the `active` repositories spread over `days` days (a commit, pull
        # request and issue count per repository drawn up to 100, 10 and 10).
        return build_org(
            repos=args.repos,
            active=args.active,
            commits_per_active=(1, 100),
            prs_per_active=(1, 10),
            issues_per_active=(1, 10),
            days=days,
        )

    latency = args.latency_ms / 1000
    day_org = org_of(1)
    with FakeGitHub(day_org, latency_s=latency) as gh:
        start, end = day_org.window()
        t0 = time.perf_counter()
        requests, points, active = run(gh, day_org.login, start, end)
        backlog = run_backlog(gh, day_org)
        print(
            f"one day ({day_org.day}), {args.repos} repositories: {time.perf_counter() - t0:.2f} s"
        )
    month_org = org_of(30)
    with FakeGitHub(month_org, latency_s=latency) as gh:
        start30, end30 = month_org.window()
        t0 = time.perf_counter()
        backfill, _, _ = run(gh, month_org.login, start30, end30)
        backlog30 = run_backlog(gh, month_org)
        took = time.perf_counter() - t0
        print(f"30-day backfill in one run (activity on all 30 days): {took:.2f} s")
    print(f"requests={requests}")
    print(f"graphql_points={points}")
    print(f"active_repos={active}")
    print(f"backfill_30d_requests={backfill}")
    print(f"backlog_requests={backlog}")
    print(f"backlog_30d_requests={backlog30}")
    print(f"requests_per_active_repo={requests / max(active, 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
