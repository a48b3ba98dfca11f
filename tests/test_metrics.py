"""compute_activity on the known repository and on hand-written records.

Every expected number is worked out by hand below (or by an independent `git log` parse),
never copied from a run of the code under test.

The known history (tests/gitrepo.py), day 2024-06-03 in America/New_York (UTC-4 in June),
i.e. [2024-06-03T04:00Z, 2024-06-04T04:00Z):
  alice_app    Alice Archer   +12 -0  2 files (src/app.py 10 lines, README.md +2)
  zoe_feature  Zoë            +1  -1  2 files (logo.png binary 0 lines, docs rename +1 -1)
  bob          Bob Builder    +3  -1  1 file  (mailmapped from BOB@Old.Example)
  merge        Alice Archer   merge commit, no lines
  bot          dependabot[bot] +1 -1  1 file
  empty        Carol Chen     +0  -0  0 files
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gitrepo import KnownHistory

from sparky_assets.lib.identity import bot_reason, identity_key
from sparky_assets.lib.metrics import (
    TOP_CONTRIBUTORS,
    compute_activity,
    contributor_absence_factor,
)
from sparky_resources.config import DEFAULT_BOTS
from sparky_resources.local_git import read_commits
from sparky_resources.models import CommitRecord

NY = ZoneInfo("America/New_York")
JUNE3 = (dt.datetime(2024, 6, 3, tzinfo=NY), dt.datetime(2024, 6, 4, tzinfo=NY))


def rec(
    repo: str,
    sha: str,
    name: str,
    email: str,
    added: int = 0,
    deleted: int = 0,
    files: int = 0,
    *,
    merge: bool = False,
) -> dict[str, Any]:
    """A hand-written commit with every CommitRecord field (validated by the model)."""
    when = "2024-06-03T12:00:00-04:00"
    return CommitRecord(
        repo=repo,
        sha=sha,
        parents=["p1", "p2"] if merge else ["p1"],
        author_name=name,
        author_email=email,
        committer_name=name,
        committer_email=email,
        authored_at=when,
        committed_at=when,
        subject=f"commit {sha}",
        additions=added,
        deletions=deleted,
        files_changed=files,
        binary_files=0,
        is_merge=merge,
    ).model_dump()


def known_june3(known: KnownHistory) -> list[dict[str, Any]]:
    return [r.model_dump() for r in read_commits(known.path, *JUNE3)]


# --- the known repository ----------------------------------------------------------------


def test_known_day_totals(known: KnownHistory) -> None:
    m = compute_activity("2024-06-03", known_june3(known), bots=DEFAULT_BOTS)
    assert m.partition == "2024-06-03"
    # Non-merge: alice_app, zoe_feature, bob, bot, empty = 5; merge = 1.
    assert m.commits == 5
    assert m.merges == 1
    # Added 12 + 1 + 3 + 1 + 0 = 17; deleted 0 + 1 + 1 + 1 + 0 = 3.
    assert m.lines_added == 17
    assert m.lines_deleted == 3
    # Files 2 + 2 + 1 + 1 + 0 = 6 (binary logo and the rename are one file each).
    assert m.files_changed == 6
    # alice, zoe, bob@example.com (mailmapped), dependabot, carol = 5; dependabot is the bot.
    assert m.active_contributors == 5
    assert m.human_contributors == 4
    assert m.bot_commits == 1
    assert m.active_repos == 1


def test_known_day_per_repo_and_top_contributors(known: KnownHistory) -> None:
    m = compute_activity("2024-06-03", known_june3(known), bots=DEFAULT_BOTS)
    assert [r.model_dump() for r in m.per_repo] == [
        {
            "repo": "known",
            "commits": 5,
            "merges": 1,
            "contributors": 5,
            "lines_added": 17,
            "lines_deleted": 3,
            "files_changed": 6,
            # Four humans with one commit each (the bot left out): two make half -> 2.
            "caf": 2,
        }
    ]
    # All have 1 commit; lines added+deleted: Alice 12, Bob 4, dependabot 2, Zoë 2, Carol 0.
    # dependabot and Zoë tie on 2 lines: "dependabot[bot]" sorts before "Zoë ...".
    top = [(c.name, c.identity, c.commits, c.lines_added, c.lines_deleted) for c in
           m.top_contributors]
    assert top == [
        ("Alice Archer", "alice@example.com", 1, 12, 0),
        ("Bob Builder", "bob@example.com", 1, 3, 1),
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", 1, 1, 1),
        ("Zoë Ünïcode-Łukasz", "zoe@example.com", 1, 1, 1),
        ("Carol Chen", "carol@example.com", 1, 0, 0),
    ]
    assert [c.is_bot for c in m.top_contributors] == [False, False, True, False, False]
    # The merge was Alice's, but it adds no commit to her count (1, not 2).
    assert all(c.repos == ["known"] for c in m.top_contributors)


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "-c", "core.quotePath=true", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        env={**os.environ, "LC_ALL": "C", "GIT_CONFIG_GLOBAL": os.devnull,
             "GIT_CONFIG_NOSYSTEM": "1"},
    ).stdout


def test_known_day_matches_an_independent_git_log_parse(known: KnownHistory) -> None:
    # June 3 New York = [04:00Z June 3, 04:00Z June 4). 2024-01-01T00:00Z is 1704067200;
    # Jan..May is 31+29+31+30+31 = 152 days, +2 days to June 3 = 154 days = 13,305,600 s,
    # +4 h = 14,400 s -> 1717387200; the end is one day (86,400 s) later.
    lo, hi = 1_717_387_200, 1_717_387_200 + 86_400
    # git's --since would stop at the skewed tip, so walk everything and pick by %ct here.
    picked: list[str] = []
    merges: list[str] = []
    for line in _git(known.path, "log", "--format=%H %ct %P", "HEAD").splitlines():
        sha, ts, *parents = line.split()
        if lo <= int(ts) < hi:
            (merges if len(parents) > 1 else picked).append(sha)
    s = known.shas
    assert set(picked) == {s["alice_app"], s["zoe_feature"], s["bob"], s["bot"], s["empty"]}
    assert merges == [s["merge"]]

    out = _git(
        known.path, "log", "--no-walk=unsorted", "--numstat", "-M", "--format=%x1e%aE", *picked
    )
    added = deleted = files = 0
    emails: set[str] = set()
    for line in out.split("\n"):  # not splitlines(): it also splits at \x1e
        if line.startswith("\x1e"):
            emails.add(line[1:].strip().lower())
        elif line.strip():
            a, d, _path = line.split("\t", 2)
            files += 1
            if a != "-":
                added += int(a)
                deleted += int(d)

    m = compute_activity("2024-06-03", known_june3(known), bots=DEFAULT_BOTS)
    assert (m.commits, m.merges) == (len(picked), len(merges))
    assert (m.lines_added, m.lines_deleted, m.files_changed) == (added, deleted, files)
    assert m.active_contributors == len(emails)
    assert {c.identity for c in m.top_contributors} == emails


# --- ordering, identities, bots ---------------------------------------------------------


def test_top_contributors_order_commits_then_lines_then_name() -> None:
    commits = [
        # Cy: 3 commits, 1 line -> first on commits alone.
        rec("r", "c1", "Cy", "cy@x.org", 1, 0, 1),
        rec("r", "c2", "Cy", "cy@x.org"),
        rec("r", "c3", "Cy", "cy@x.org"),
        # Ann: 2 commits, 5+5 = 10 lines; Bea: 2 commits, 20+10 = 30 lines -> Bea before Ann.
        rec("r", "a1", "Ann", "ann@x.org", 5, 0, 1),
        rec("r", "a2", "Ann", "ann@x.org", 0, 5, 1),
        rec("r", "b1", "Bea", "bea@x.org", 20, 0, 1),
        rec("r", "b2", "Bea", "bea@x.org", 0, 10, 1),
        # Dan and Eve: 1 commit, 4 lines each -> tie broken by name: Dan, then Eve.
        rec("r", "e1", "Eve", "eve@x.org", 2, 2, 1),
        rec("r", "d1", "Dan", "dan@x.org", 4, 0, 1),
        # Fay: 1 commit, 3 lines -> after Dan and Eve.
        rec("r", "f1", "Fay", "fay@x.org", 3, 0, 1),
    ]
    m = compute_activity("2024-06-03", commits)
    assert [c.name for c in m.top_contributors] == ["Cy", "Bea", "Ann", "Dan", "Eve", "Fay"]
    assert [c.commits for c in m.top_contributors] == [3, 2, 2, 1, 1, 1]


def test_top_contributors_keeps_only_the_first_ten() -> None:
    # Person k (k = 1..12) makes k commits: the top ten are 12 down to 3.
    commits = [
        rec("r", f"s{k}-{i}", f"P{k:02d}", f"p{k}@x.org")
        for k in range(1, 13)
        for i in range(k)
    ]
    m = compute_activity("2024-06-03", commits)
    assert TOP_CONTRIBUTORS == 10
    assert [c.commits for c in m.top_contributors] == list(range(12, 2, -1))
    # All twelve still count as contributors: 1 + 2 + ... + 12 = 78 commits.
    assert (m.active_contributors, m.commits) == (12, 78)


def test_aliases_merge_two_emails_into_one_identity_case_insensitively() -> None:
    # Config lowercases alias keys and targets; the records carry mixed case.
    aliases = {"alice@work.example": "alice@example.com"}
    commits = [
        rec("r", "1", "Alice A", "Alice@Work.EXAMPLE", 1, 0, 1),
        rec("r", "2", "Alice Archer", "ALICE@example.com", 2, 0, 1),
        rec("r", "3", "Alice Archer", "alice@example.com", 3, 0, 1),
        rec("r", "4", "Bob", "bob@example.com", 1, 0, 1),
    ]
    m = compute_activity("2024-06-03", commits, aliases=aliases)
    # alice (3 commits, via alias and case folding) + bob = 2 identities.
    assert m.active_contributors == 2
    assert m.per_repo[0].contributors == 2
    alice = m.top_contributors[0]
    assert alice.identity == "alice@example.com"
    assert (alice.commits, alice.lines_added) == (3, 1 + 2 + 3)
    # The most used name: "Alice Archer" (2 of 3 commits).
    assert alice.name == "Alice Archer"

    without = compute_activity("2024-06-03", commits)
    # Without the alias, Alice@Work.EXAMPLE stays its own identity: 3 in all.
    assert without.active_contributors == 3


def test_identity_key_lowercases_and_follows_aliases() -> None:
    assert identity_key("  Bob@Example.COM ", {}) == "bob@example.com"
    assert identity_key("Old@Example.com", {"old@example.com": "new@example.com"}) == (
        "new@example.com"
    )


def test_bot_detection_configured_list_bot_suffix_and_humans() -> None:
    bots = ["ci-robot", "Renovate"]
    commits = [
        # Listed by name (case-insensitive: "CI-Robot" vs "ci-robot").
        rec("r", "1", "CI-Robot", "ci@corp.example", 1, 0, 1),
        # Listed by the email's local part ("renovate"), name not listed.
        rec("r", "2", "Renovate Updater", "renovate@corp.example", 1, 0, 1),
        # Not listed, but a GitHub App: name ends in "[bot]".
        rec("r", "3", "my-app[bot]", "123+my-app[bot]@users.noreply.github.com", 1, 0, 1),
        # Humans, including ones whose names merely contain "bot"/"robot".
        rec("r", "4", "Abbot Robotham", "abbot@corp.example", 1, 0, 1),
        rec("r", "5", "Ada", "ada@corp.example", 1, 0, 1),
    ]
    m = compute_activity("2024-06-03", commits, bots=bots)
    # 5 identities, 3 of them bots (one commit each).
    assert m.active_contributors == 5
    assert m.human_contributors == 2
    assert m.bot_commits == 3
    flags = {c.name: c.is_bot for c in m.top_contributors}
    assert flags == {
        "CI-Robot": True,
        "Renovate Updater": True,
        "my-app[bot]": True,
        "Abbot Robotham": False,
        "Ada": False,
    }


def test_bot_reason_says_why() -> None:
    assert "listed" in (bot_reason("ci-robot", "ci@x.org", ["CI-Robot"]) or "")
    assert "email" in (bot_reason("Someone", "1+renovate@x.org", ["renovate"]) or "")
    assert "[bot]" in (bot_reason("x[bot]", "x@x.org", []) or "")
    assert "[bot]" in (bot_reason("X App", "9+x[bot]@users.noreply.github.com", []) or "")
    assert bot_reason("Abbot Robotham", "abbot@x.org", ["ci-robot"]) is None


# --- empty, quiet, several repos, merges -------------------------------------------------


def test_empty_day_is_all_zeros() -> None:
    m = compute_activity("2024-06-05", [])
    assert m.partition == "2024-06-05"
    numbers = (
        m.commits, m.merges, m.active_contributors, m.human_contributors, m.bot_commits,
        m.lines_added, m.lines_deleted, m.files_changed, m.active_repos,
    )
    assert numbers == (0,) * 9
    assert m.per_repo == []
    assert m.top_contributors == []


def test_quiet_repo_appears_with_zeros() -> None:
    commits = [rec("alpha", "1", "Ann", "ann@x.org", 2, 1, 1)]
    m = compute_activity("2024-06-03", commits, repos=["alpha", "quiet"])
    by_repo = {r.repo: r.model_dump(exclude={"repo"}) for r in m.per_repo}
    assert by_repo == {
        "alpha": {"commits": 1, "merges": 0, "contributors": 1, "lines_added": 2,
                  "lines_deleted": 1, "files_changed": 1, "caf": 1},
        "quiet": {"commits": 0, "merges": 0, "contributors": 0, "lines_added": 0,
                  "lines_deleted": 0, "files_changed": 0, "caf": None},
    }
    # A quiet repository is listed, but it is not active.
    assert m.active_repos == 1

    empty = compute_activity("2024-06-04", [], repos=["quiet"])
    assert [(r.repo, r.commits) for r in empty.per_repo] == [("quiet", 0)]
    assert empty.active_repos == 0


def test_per_repo_numbers_across_two_repos() -> None:
    commits = [
        rec("alpha", "a1", "Ann", "ann@x.org", 3, 1, 1),
        rec("alpha", "a2", "Ben", "ben@x.org", 10, 2, 3),
        rec("alpha", "am", "Ann", "ann@x.org", merge=True),
        rec("beta", "b1", "Ann", "ann@x.org", 1, 0, 1),
        rec("beta", "b2", "Ann", "ANN@x.org", 2, 2, 2),
        rec("beta", "b3", "Cid", "cid@x.org", 0, 5, 1),
    ]
    m = compute_activity("2024-06-03", commits)
    # alpha: 2 commits (Ann, Ben), +3+10 = 13, -1+2 = 3, 1+3 = 4 files, 1 merge.
    # beta:  3 commits (Ann twice, Cid), +1+2+0 = 3, -0+2+5 = 7, 1+2+1 = 4 files.
    # Sorted by commits: beta (3) before alpha (2).
    assert [r.model_dump() for r in m.per_repo] == [
        # caf: beta Ann 2 of 3 >= half -> 1; alpha Ann 1 + Ben 1, one of them is half -> 1.
        {"repo": "beta", "commits": 3, "merges": 0, "contributors": 2, "lines_added": 3,
         "lines_deleted": 7, "files_changed": 4, "caf": 1},
        {"repo": "alpha", "commits": 2, "merges": 1, "contributors": 2, "lines_added": 13,
         "lines_deleted": 3, "files_changed": 4, "caf": 1},
    ]
    # Totals: 2 + 3 = 5 commits; +13+3 = 16; -3+7 = 10; 4 + 4 = 8 files; Ann, Ben, Cid.
    assert (m.commits, m.merges, m.lines_added, m.lines_deleted, m.files_changed) == (
        5, 1, 16, 10, 8,
    )
    assert (m.active_contributors, m.active_repos) == (3, 2)
    # Ann: 3 commits in both repos, +3+1+2 = 6, -1+0+2 = 3.
    ann = m.top_contributors[0]
    assert (ann.name, ann.commits, ann.lines_added, ann.lines_deleted, ann.repos) == (
        "Ann", 3, 6, 3, ["alpha", "beta"],
    )
    # Ben (1 commit, 12 lines) before Cid (1 commit, 5 lines).
    assert [c.name for c in m.top_contributors] == ["Ann", "Ben", "Cid"]


def test_merges_count_no_lines_or_contributors() -> None:
    commits = [
        rec("alpha", "1", "Ann", "ann@x.org", 4, 1, 2),
        # Merges made by someone who made no other commit, carrying (made-up) line counts.
        rec("alpha", "m1", "Mia Merger", "mia@x.org", 100, 50, 7, merge=True),
        rec("gamma", "m2", "Mia Merger", "mia@x.org", 9, 9, 9, merge=True),
    ]
    m = compute_activity("2024-06-03", commits, bots=["mia merger"])
    assert (m.commits, m.merges) == (1, 2)
    # Only Ann's commit: +4 -1, 2 files.
    assert (m.lines_added, m.lines_deleted, m.files_changed) == (4, 1, 2)
    assert (m.active_contributors, m.human_contributors, m.bot_commits) == (1, 1, 0)
    assert [c.name for c in m.top_contributors] == ["Ann"]
    # gamma only had a merge: listed with its merge, not active.
    assert m.active_repos == 1
    gamma = next(r for r in m.per_repo if r.repo == "gamma")
    assert (gamma.commits, gamma.merges, gamma.contributors, gamma.lines_added) == (0, 1, 0, 0)


def test_an_identity_is_either_a_bot_or_a_human() -> None:
    # One identity (ci@corp.example): one commit under the listed bot name "Jenkins", one
    # under "CI User". Whatever it is, it is one contributor, counted once: either 1 human
    # and shown as a human, or 0 humans and shown as a bot.
    commits = [
        rec("r", "1", "Jenkins", "ci@corp.example", 1, 0, 1),
        rec("r", "2", "CI User", "ci@corp.example", 1, 0, 1),
    ]
    m = compute_activity("2024-06-03", commits, bots=["jenkins"])
    assert m.active_contributors == 1
    shown_as_humans = sum(not c.is_bot for c in m.top_contributors)
    assert m.human_contributors == shown_as_humans


def test_shallow_boundary_commits_count_as_commits_without_line_stats() -> None:
    boundary = {**rec("alpha", "b1", "Ann", "ann@example.com"), "shallow_boundary": True}
    normal = rec("alpha", "n1", "Ann", "ann@example.com", 4, 1, 2)
    m = compute_activity("2024-06-03", [boundary, normal])
    # By hand: two commits by one person; lines only from the normal one.
    assert (m.commits, m.commits_without_line_stats) == (2, 1)
    assert (m.lines_added, m.lines_deleted, m.files_changed) == (4, 1, 2)
    # Records of schema version 1 have no shallow_boundary field: read as False.
    legacy = {k: v for k, v in normal.items() if k != "shallow_boundary"}
    assert compute_activity("2024-06-03", [legacy]).commits_without_line_stats == 0


# --- Contributor Absence Factor and concentration ------------------------------------------


def test_caf_by_hand() -> None:
    # 10 commits: 4 + 3 + 2 + 1. Top 1 = 4 (< 5), top 2 = 7 (>= 5): 2.
    assert contributor_absence_factor([1, 4, 2, 3]) == 2
    # Exactly half counts: 5 + 5 -> top 1 = 5 of 10.
    assert contributor_absence_factor([5, 5]) == 1
    # Ties: six people with 2 commits each (12): three of them make 6, whichever three.
    assert contributor_absence_factor([2] * 6) == 3
    # A single contributor, and an empty window.
    assert contributor_absence_factor([7]) == 1
    assert contributor_absence_factor([]) is None
    assert contributor_absence_factor([0, 0]) is None
    # Odd totals: 3 + 2 + 2 = 7, half is 3.5: top 1 = 3 falls short, top 2 = 5 is enough.
    assert contributor_absence_factor([3, 2, 2]) == 2


def test_caf_and_top_share_count_humans_only() -> None:
    commits = [
        rec("r", f"b{i}", "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com",
            1, 1, 1)
        for i in range(10)
    ] + [
        rec("r", "a1", "Ann", "ann@x.org", 1, 0, 1),
        rec("r", "a2", "Ann", "ann@x.org", 1, 0, 1),
        rec("r", "c1", "Cid", "cid@x.org", 1, 0, 1),
        rec("r", "d1", "Dee", "dee@x.org", 1, 0, 1),
    ]
    m = compute_activity("2024-06-03", commits)
    # Humans: Ann 2, Cid 1, Dee 1 = 4; Ann alone is half -> 1; her share 2/4. The bot's 10
    # commits would make it 1 with share 10/14 if counted.
    assert (m.caf, m.top_contributor_share) == (1, 0.5)
    assert (m.human_commits, m.bot_commits, m.bot_contributors) == (4, 10, 1)
    assert m.per_repo[0].caf == 1
    empty = compute_activity("2024-06-03", [])
    assert (empty.caf, empty.top_contributor_share) == (None, None)
