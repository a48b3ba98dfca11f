"""A reading test: the first screen of real digests says what shipped and what needs attention.

Two weeks are rendered end to end through a real Dagster instance and read as a manager would:

- the loopback fake GitHub org's week of 2024-10-28 (America/New_York; 40 repositories, the
  clocks fall back on 3 Nov), collected from 2024-10-14 so that the change and the trend have
  earlier weeks;
- a week of a real git repository's history (this repository's own, cloned), from clones alone.

The first screen (title to stat line) must hold the releases, the top merged pull requests and
the attention items, computed here from the fake org's ground truth, and none of the noise: no
zero rows, no "not available", no operator text, no bots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from gitrepo import ALICE, ZOE, Person, Repo
from sparky_defs import assets

from sparky_assets.lib.first_screen import MAX_LINES
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.org import OrgResource
from sparky_resources.publisher import GitPublisherResource
from sparky_resources.store import DataStore

TZ = "America/New_York"
WEEK = "2024-10-28"
FIRST_DAY = "2024-10-14"
TOKEN = "ghp_readingTOKENnotreal0123456789abcdef"
NOISE = (
    "not available",
    "| 0 | = 0 |",
    "ollama serve",
    "OLLAMA_HOST",
    "[llm]",
    "errno",
    "[bot]",
    "renovate",
    "dependabot",
    "github-actions",
    "Contributor Absence Factor",
)

(
    github_activity,
    repositories,
    raw_commits,
    contributors,
    daily_metrics,
    weekly_metrics,
    weekly_insights,
    weekly_digest,
) = assets(
    "raw_pull_requests",
    "repositories",
    "raw_commits",
    "contributors",
    "daily_metrics",
    "weekly_metrics",
    "weekly_insights",
    "weekly_digest",
)


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def first_screen(markdown: str) -> list[str]:
    """The lines from the title to the stat line (the first bold-number line), front matter
    left out."""
    body = markdown.split("\n---\n", 1)[1].lstrip("\n").splitlines()
    for i, line in enumerate(body):
        if line.startswith("**") and " · " in line:
            return body[: i + 1]
    raise AssertionError("no stat line in the digest:\n" + "\n".join(body[:60]))


@dataclass
class Rendered:
    org: Org
    root: Path
    markdown: str
    sidecar: dict


@pytest.fixture(scope="module")
def fake_week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    org = build_org(
        repos=40,
        active=12,
        day=WEEK,
        days=7,
        tz=TZ,
        seed=18,
        lead_days=14,
        tail_days=2,
        releases_per_active=(0, 2),
    )
    root = tmp_path_factory.mktemp("reading")
    with FakeGitHub(org) as server, dg.instance_for_test() as instance:
        resources = {
            "github": GitHubResource(
                org=org.login,
                api_url=server.base_url,
                graphql_url=server.graphql_url,
                token=TOKEN,
            ),
            "local_git": LocalGitResource(repos=[]),
            "store": DataStore(data_dir=str(root / "data"), output_dir=str(root / "output")),
            "org": OrgResource(timezone=TZ, start_date=FIRST_DAY),
            "ollama": OllamaResource(base_url="http://127.0.0.1:9", enabled=False),
            "publisher": GitPublisherResource(work_tree=""),
        }

        def run(selection: list, tags: dict[str, str]) -> None:
            result = dg.materialize(selection, resources=resources, instance=instance, tags=tags)
            assert result.success

        last = (dt.date.fromisoformat(WEEK) + dt.timedelta(days=6)).isoformat()
        run([github_activity, repositories, raw_commits, contributors, daily_metrics],
            _range(FIRST_DAY, last))  # fmt: skip
        for week in ("2024-10-14", "2024-10-21", WEEK):
            run([weekly_metrics], _range(week, week))
        run([weekly_insights, weekly_digest], _range(WEEK, WEEK))
        out = root / "output" / "weekly"
        Path("/tmp/reading_week.md").write_text((out / f"{WEEK}.md").read_text())
        yield Rendered(
            org,
            root,
            (out / f"{WEEK}.md").read_text(),
            json.loads((out / f"{WEEK}.json").read_text()),
        )


def _window(org: Org) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(TZ)
    start = dt.datetime.fromisoformat(WEEK).replace(tzinfo=zone)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=7)).astimezone(dt.UTC)


def test_the_first_screen_fits_and_names_the_window(fake_week: Rendered) -> None:
    screen = first_screen(fake_week.markdown)
    print("\n".join(screen))
    assert len(screen) <= MAX_LINES
    assert screen[0].replace("\\", "") == "# Week of 28 Oct \u2013 3 Nov 2024, America/New_York"


def test_it_holds_the_releases_and_the_top_merged_pull_requests(fake_week: Rendered) -> None:
    org = fake_week.org
    start, end = _window(org)
    screen = "\n".join(first_screen(fake_week.markdown))
    releases = sorted(
        (r for r in org.releases_published_in(start, end) if not r.draft),
        key=lambda r: r.published_at,
        reverse=True,
    )
    assert releases, "the fake week has releases"
    for r in releases[:3]:  # the newest three, and how many more
        assert f"{org.repo(r.repo).name} {r.tag_name}" in screen
    if len(releases) > 3:
        assert f"…and {len(releases) - 3} more" in screen
    merged = [p for p in org.pull_requests() if p.merged_at and start <= p.merged_at < end]
    human = [p for p in merged if not p.author.is_bot]
    largest = max(human, key=lambda p: p.additions + p.deletions)
    assert f"{org.repo(largest.repo).name}#{largest.number}" in screen
    bots = len(merged) - len(human)
    if bots:
        assert re.search(rf"\b{bots} (dependency update|automated pull request)", screen)


# --- a real repository's week, from its clone alone -------------------------------------------

CLONE_WEEK = "2024-06-03"
BUILD = Person("Build Server", "build@ci.example")  # a CI identity (bot_patterns)


@pytest.fixture(scope="module")
def clone_week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A clone whose week holds what GitHub's merge button and squash merges write, an
    annotated tag, a CI committer, and an author whose earlier commits predate start_date."""
    root = tmp_path_factory.mktemp("clone-reading")
    r = Repo(root / "app")
    r.git("remote", "add", "origin", "git@github.com:octo/app.git")
    r.write("a.txt", "a\n")
    r.commit("Initial commit", ALICE, "2024-05-01T12:00:00+00:00")  # before start_date
    r.write("b.txt", "b\n")
    r.commit("Old work", ALICE, "2024-05-20T12:00:00+00:00")
    r.git("checkout", "-q", "-b", "fix-login")
    r.write("login.py", "ok = True\n" * 40)
    r.commit("Fix redirect", ZOE, "2024-06-04T10:00:00+00:00")
    r.git("checkout", "-q", "main")
    r.merge(
        "fix-login",
        "Merge pull request #7 from octo/fix-login\n\nFix the login redirect",
        ALICE,
        "2024-06-04T11:00:00+00:00",
    )
    r.write("search.py", "fast = True\n" * 12)
    r.commit("feat: speed up search (#12)", ALICE, "2024-06-05T09:00:00+00:00")
    r.write("build.txt", "42\n")
    r.commit("Bump build number", BUILD, "2024-06-05T10:00:00+00:00")
    r.git(
        "tag", "-a", "v1.0", "-m", "First stable release\n\nDetails below.",
        env={
            "GIT_COMMITTER_NAME": ALICE.name,
            "GIT_COMMITTER_EMAIL": ALICE.email,
            "GIT_COMMITTER_DATE": "2024-06-06T08:00:00+00:00",
        },
    )  # fmt: skip
    data = root / "data"
    resources = {
        "github": GitHubResource(),
        "local_git": LocalGitResource(repos=[str(r.path)]),
        "store": DataStore(data_dir=str(data), output_dir=str(root / "output")),
        "org": OrgResource(timezone="Europe/Berlin", start_date="2024-06-01"),
        "ollama": OllamaResource(base_url="http://127.0.0.1:9", enabled=False),
        "publisher": GitPublisherResource(work_tree=""),
    }
    with dg.instance_for_test() as instance:

        def run(selection: list, tags: dict[str, str]) -> None:
            result = dg.materialize(selection, resources=resources, instance=instance, tags=tags)
            assert result.success

        run([repositories, raw_commits, contributors, daily_metrics],
            _range("2024-06-01", "2024-06-09"))  # fmt: skip
        run([weekly_metrics, weekly_insights, weekly_digest], _range(CLONE_WEEK, CLONE_WEEK))
    text = (root / "output" / "weekly" / f"{CLONE_WEEK}.md").read_text()
    Path("/tmp/reading_clone_week.md").write_text(text)
    yield text


def test_a_clone_alone_tells_what_shipped(clone_week: str) -> None:
    screen = first_screen(clone_week)
    joined = "\n".join(screen)
    assert len(screen) <= MAX_LINES
    assert screen[0].replace("\\", "") == "# Week of 3 \u2013 9 Jun 2024, Europe/Berlin"
    # The merge commit's body and the squash subject, linked to the clone's GitHub remote.
    assert "[app#7](https://github.com/octo/app/pull/7) Fix the login redirect" in joined
    # The change is the merged branch's (its tip's author), not the merge button's presser.
    pr7 = next(line for line in screen if "app#7" in line)
    assert "Zoë" in pr7 and "first-time author" in pr7 and "Alice" not in pr7
    assert "[app#12](https://github.com/octo/app/pull/12) feat: speed up search" in joined
    # The tag dated in the week is its release, with its annotation's first line.
    assert "[app v1.0](https://github.com/octo/app/releases/tag/v1.0): First stable release" in (
        joined
    )
    for noise in (*NOISE, "Build Server", "Details below"):
        assert noise not in joined, noise


def test_a_clone_alone_welcomes_only_the_truly_new(clone_week: str) -> None:
    """Alice's first commits predate start_date, and the clone's whole history shows them: not
    new. Zoë's first commit ever is in the week. The CI identity is a bot: never welcomed."""
    welcome = next(line for line in clone_week.splitlines() if "welcome to" in line)
    assert welcome.startswith("New contributors: welcome to Zoë")
    assert "Alice" not in welcome and "Build Server" not in welcome


# --- this repository's own week ----------------------------------------------------------------

OWN_WEEK = "2026-11-23"  # the repository's history begins on Friday 27 Nov 2026


@pytest.fixture(scope="module")
def own_week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """This repository's week of 2026-11-23, from a clone of its own history (UTC)."""
    root = tmp_path_factory.mktemp("own-week")
    here = Path(__file__).resolve().parents[1]
    shallow = subprocess.run(
        ["git", "-C", str(here), "rev-parse", "--is-shallow-repository"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if shallow != "false":  # a --depth clone (or no git) lacks the week: nothing to read
        pytest.skip(
            f"this checkout has no full history (shallow: {shallow or 'not a git work tree'})"
        )
    clone = root / "sparky"
    subprocess.run(
        ["git", "clone", "-q", "--no-local", str(here), str(clone)],
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    resources = {
        "github": GitHubResource(),
        "local_git": LocalGitResource(repos=[str(clone)]),
        "store": DataStore(data_dir=str(root / "data"), output_dir=str(root / "output")),
        "org": OrgResource(timezone="UTC", start_date="2026-11-16"),
        "ollama": OllamaResource(base_url="http://127.0.0.1:9", enabled=False),
        "publisher": GitPublisherResource(work_tree=""),
    }
    with dg.instance_for_test() as instance:
        for selection, first, last in (
            ([repositories, raw_commits, contributors, daily_metrics], "2026-11-16", "2026-11-29"),
            ([weekly_metrics], "2026-11-16", "2026-11-16"),
            ([weekly_metrics, weekly_insights, weekly_digest], OWN_WEEK, OWN_WEEK),
        ):
            result = dg.materialize(
                selection, resources=resources, instance=instance, tags=_range(first, last)
            )
            assert result.success
    yield (root / "output" / "weekly" / f"{OWN_WEEK}.md").read_text(), clone


def test_this_repositorys_week_reads_as_what_shipped(own_week: tuple[str, Path]) -> None:
    markdown, clone = own_week
    screen = first_screen(markdown)
    joined = "\n".join(screen)
    assert len(screen) <= MAX_LINES
    assert screen[0] == "# Week of 23 \u2013 29 Nov 2026, UTC"
    # Counted by git itself: the week's non-merge commits on main by committer date (epoch
    # seconds compared here: `git log --since` stops at the first older commit).
    start = dt.datetime(2026, 11, 23, tzinfo=dt.UTC).timestamp()
    end = start + 7 * 86400
    log = subprocess.run(
        ["git", "-C", str(clone), "log", "--no-merges", "--format=%H %ct", "HEAD"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    listed = [sha for sha, ts in zip(log[::2], log[1::2], strict=True) if start <= int(ts) < end]
    assert listed, "the repository's history has the week"
    assert f"**{len(listed)}** commits" in joined
    # The repository merges no pull requests: its commits are what shipped, named by sha and
    # subject (one repository, one author: neither repeated on each line), and the list says
    # how many of them it names.
    named = re.findall(r"^  - ([0-9a-f]{7}) ", joined, re.MULTILINE)  # one repository
    assert named and {sha for sha in named} <= {line[:7] for line in listed}
    assert f"of {len(listed)} commits" in joined
    assert "not known: GitHub was not read" in joined  # attention: said, not left out
    for noise in NOISE:
        assert noise not in joined, noise
