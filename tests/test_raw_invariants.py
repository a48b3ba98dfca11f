"""An invariant of every raw file Sparky writes: one record per key, whatever GitHub did.

Real Dagster runs of the collect steps (a real local clone, the loopback fake GitHub) for one
day: a clean run, then runs with faults GitHub really has (a repository deleted between two
pages of its history; in-band GraphQL timeouts on a search's second page and on batched
history queries). After each run every file of every raw kind is checked.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fakes.github_org import build_org
from fakes.github_server import FakeGitHub
from gitrepo import KnownHistory
from sparky_defs import assets, session_org

TOKEN = "ghp_invariantsTOKENnotreal012345"
DAY = "2024-06-03"
Key = Callable[[Mapping[str, Any]], tuple[Any, ...]]
# What identifies one record in each raw kind's day file. A kind missing here fails the test:
# a new kind must say what its key is.
RECORD_KEYS: dict[str, Key] = {
    "raw_commits": lambda r: (r["repo"], r["sha"]),
    "raw_github_commits": lambda r: (r["repo"], r["sha"]),
    "raw_pull_requests": lambda r: (r["repo"], r["number"]),
    "raw_issues": lambda r: (r["repo"], r["number"]),
    "raw_releases": lambda r: (r["repo"], r["kind"], r["tag_name"]),
    "repositories": lambda r: (r.get("source", "local"), r.get("path") or r["name"]),
    # One snapshot a day; its lists of oldest items hold each item once.
    "raw_backlog": lambda r: (r["repo"], r["number"]),
    "raw_local_tags": lambda r: (r["repo"], r["name"]),
    "raw_deployments": lambda r: (r["repo"], r["id"]),
    # One snapshot a day: its teams each once (its CODEOWNERS are a mapping by repository).
    "raw_ownership": lambda r: (r["slug"],),
}
HISTORY_PAGE_2 = r'query CommitHistory[\s\S]*"after\d+":\s*"'
PR_PAGE_2 = r'query SearchPullRequests[\s\S]*"after":\s*"'
BATCH = r'query CommitHistory[\s\S]*"name1":\s*"'


def _records(kind: str, document: Any) -> list[list[Mapping[str, Any]]]:
    """The lists of records of one file whose keys must be unique."""
    if kind == "raw_backlog":
        return [document.get("oldest_pull_requests", []), document.get("oldest_issues", [])]
    if kind == "raw_ownership":
        return [document.get("teams", [])]
    return [document["records"] if isinstance(document, dict) else document]


def assert_keys_unique(raw: Path) -> int:
    """Every record key of every raw file appears once; returns how many files were checked."""
    kinds = sorted(p.name for p in raw.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert set(kinds) <= set(RECORD_KEYS), f"no key known for {set(kinds) - set(RECORD_KEYS)}"
    checked = 0
    for kind in kinds:
        for path in sorted((raw / kind).glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            for records in _records(kind, document):
                counts = Counter(RECORD_KEYS[kind](r) for r in records)
                doubled = {key: n for key, n in counts.items() if n > 1}
                assert not doubled, f"{kind}/{path.name}: {len(doubled)} keys twice or more"
            checked += 1
    return checked


def test_every_raw_file_holds_each_key_once_after_faults(
    known: KnownHistory, tmp_path: Path
) -> None:
    import dagster as dg

    raw_commits, repositories = assets("raw_commits", "repositories")
    (github_activity,) = assets("raw_pull_requests")
    from sparky_resources.github_collect import GitHubResource
    from sparky_resources.local_git import LocalGitResource
    from sparky_resources.store import DataStore

    # Enough commits that the busiest repositories have a second history page (100 a page),
    # and enough pull requests for a second search page.
    org = build_org(
        tz="America/New_York", seed=5, commits_per_active=(400, 500), prs_per_active=(50, 70)
    )
    start, end = org.window()
    history = Counter(
        org.repo(c.repo).name for c in org.commits_in(start - dt.timedelta(days=1), end)
    )
    day = Counter(org.repo(c.repo).name for c in org.commits_in(start, end))
    victim = next(name for name, n in history.most_common() if n > 100 and day[name])
    raw = tmp_path / "data/raw"
    day_file = raw / "raw_github_commits" / f"{DAY}.json"

    def github_commits(repo: str) -> list[dict[str, Any]]:
        records = json.loads(day_file.read_text(encoding="utf-8"))["records"]
        return sorted((r for r in records if r["repo"] == repo), key=lambda r: r["sha"])

    with FakeGitHub(org) as gh, dg.instance_for_test() as instance:
        resources = {
            "github": GitHubResource(
                org=org.login,
                api_url=gh.base_url,
                graphql_url=gh.graphql_url,
                token=TOKEN,
                max_wait_s=60,
                backoff_s=0.01,  # the retries' waits are not what is tested here
            ),
            "local_git": LocalGitResource(repos=[str(known.path)]),
            "org": session_org(),
            "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
        }

        def run() -> dg.ExecuteInProcessResult:
            return dg.materialize(
                [repositories, github_activity, raw_commits],
                partition_key=DAY,
                resources=resources,
                instance=instance,
                raise_on_error=False,
            )

        assert run().success
        assert assert_keys_unique(raw) >= 7
        earlier = github_commits(victim)
        assert earlier  # the victim had commits in the day

        # Deleted between the first and the second page of its history.
        deleted = gh.faults.add(r"/graphql", "delete_repository", repo=victim, body=HISTORY_PAGE_2)
        result = run()
        assert deleted.fired == 1
        assert_keys_unique(raw)
        assert result.success
        # Its earlier records are kept as they were; none of this run's first page is added.
        assert github_commits(victim) == earlier
        coverage = json.loads((raw / "_coverage/github" / f"{DAY}.json").read_text())
        failed = {(e["entity"], e["repo"]) for e in coverage["entities"] if e["status"] != "ok"}
        assert ("commits", victim) in failed  # and its releases, asked after it was deleted
        assert failed <= {("commits", victim), ("releases", victim)}

        # In-band timeouts: once on the search's second page, and on every batched history
        # query (split down to one repository a query).
        gh.faults.clear()
        search = gh.faults.add(r"/graphql", "graphql_timeout", body=PR_PAGE_2)
        batch = gh.faults.add(r"/graphql", "graphql_timeout", times=None, body=BATCH)
        result = run()
        assert search.fired == 1 and batch.fired > 0
        assert_keys_unique(raw)
        assert result.success
    assert gh.internal_errors == []
