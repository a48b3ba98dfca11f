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
below 5x one day's requests). Pull requests' changed files are always collected: a pull
request with more than 100 files costs a further page (the fake's 150-file one falls in the
benchmark's day: one request of the 8). `backlog_requests=` and `backlog_30d_requests=` are what the
`raw_backlog` snapshots of the same day and 30 days cost on top: a fixed price per day (one
query per five days' ends with the whole org selected) that does not grow with the activity,
so it is counted apart from the per-repository figure.

Delivery (issue 20): the same day and backfill collected again with production deployments,
teams and CODEOWNERS on (`collect_window(deployments_environment="production", teams=True,
codeowners_known=...)`), first with no CODEOWNERS oid known (every file's text is read), then
with the oids the first run found (the steady state: no text is read). Prints
`delivery_requests=`, `delivery_known_requests=`, the 30-day `delivery_backfill_30d_requests=`
and the differences per active repository per day, `delivery_extra_per_active_repo_day=`
(first run) and `delivery_extra_known_per_active_repo_day=` (goal: at most 0.2 each).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from typing import Any

from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub

from sparky_resources.github import GitHubClient
from sparky_resources.github_collect import GitHubWindow, collect_backlog, collect_window
from sparky_resources.github_records import BacklogSnapshot


def collect(
    gh: FakeGitHub, login: str, start: dt.datetime, end: dt.datetime, **options: Any
) -> GitHubWindow:
    """One collection of the window (counters reset first), `options` as `collect_window`'s."""
    gh.counters.reset()
    client = GitHubClient(gh.base_url, gh.graphql_url, SecretStr("benchmark-token"))
    with client:
        window = collect_window(
            client, login, start, end, now=end + dt.timedelta(days=30), **options
        )
    if window.failed:
        sys.exit(f"error: collection failed: {window.failed[0]}")
    return window


def run(gh: FakeGitHub, login: str, start: dt.datetime, end: dt.datetime) -> tuple[int, int, int]:
    """Requests the fake answered, GraphQL points it charged, active repositories found."""
    window = collect(gh, login, start, end)
    active = len({c.repo for c in window.commits} | {p.repo for p in window.pull_requests})
    return gh.counters.total, gh.counters.graphql_points, active


def run_delivery(
    gh: FakeGitHub, login: str, start: dt.datetime, end: dt.datetime
) -> tuple[int, int, int]:
    """Requests with production deployments, teams and CODEOWNERS on: with no oid known, with
    the oids that run found, and the GraphQL points of the first."""
    options: dict[str, Any] = {"deployments_environment": "production", "teams": True}
    first = collect(gh, login, start, end, codeowners_known={}, **options)
    requests, points = gh.counters.total, gh.counters.graphql_points
    known = {name: c.oid for name, c in first.codeowners.items() if c}
    collect(gh, login, start, end, codeowners_known=known, **options)
    return requests, gh.counters.total, points


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
        delivery, delivery_known, delivery_points = run_delivery(gh, day_org.login, start, end)
    month_org = org_of(30)
    with FakeGitHub(month_org, latency_s=latency) as gh:
        start30, end30 = month_org.window()
        t0 = time.perf_counter()
        backfill, _, active30 = run(gh, month_org.login, start30, end30)
        backlog30 = run_backlog(gh, month_org)
        took = time.perf_counter() - t0
        print(f"30-day backfill in one run (activity on all 30 days): {took:.2f} s")
        delivery30, delivery30_known, _ = run_delivery(gh, month_org.login, start30, end30)
    print(f"requests={requests}")
    print(f"graphql_points={points}")
    print(f"active_repos={active}")
    print(f"backfill_30d_requests={backfill}")
    print(f"backlog_requests={backlog}")
    print(f"backlog_30d_requests={backlog30}")
    per_day = max(active, 1)
    per_month = max(active30, 1) * 30
    print(f"delivery_requests={delivery}")
    print(f"delivery_known_requests={delivery_known}")
    print(f"delivery_graphql_points={delivery_points}")
    print(f"delivery_backfill_30d_requests={delivery30}")
    print(f"delivery_backfill_30d_known_requests={delivery30_known}")
    print(f"delivery_requests_per_active_repo_day={delivery / per_day:.3f}")
    print(f"delivery_extra_per_active_repo_day={(delivery - requests) / per_day:.3f}")
    print(f"delivery_extra_known_per_active_repo_day={(delivery_known - requests) / per_day:.3f}")
    print(
        f"delivery_backfill_30d_extra_per_active_repo_day={(delivery30 - backfill) / per_month:.3f}"
    )
    print(f"requests_per_active_repo={requests / max(active, 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
