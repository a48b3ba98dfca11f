"""What local clones say shipped: merge titles, the clone's GitHub URL, tags as releases, and
each identity's first commit over the whole history (issue 18, items 2 and 3).

Every expected value is worked out by hand from the history the test builds, or asked of git
itself with a command of its own (never through Sparky's parsing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from gitrepo import ALICE, BOB_OLD, CAROL, DAVE, ZOE, Person, Repo
from sparky_defs import assets, session_org

from sparky_assets.defs.collect import read_first_commits, read_local_tags
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import (
    LocalGitResource,
    first_commits,
    github_web_url,
    inspect_repo,
    merge_title,
    open_clone,
    read_commits,
)
from sparky_resources.models import FirstCommits
from sparky_resources.store import DataStore

TOKYO = ZoneInfo("Asia/Tokyo")  # +09:00, no DST


def _env(who: Person, when: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": who.name,
        "GIT_AUTHOR_EMAIL": who.email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": who.name,
        "GIT_COMMITTER_EMAIL": who.email,
        "GIT_COMMITTER_DATE": when,
    }


def epoch(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


def tokyo_day(d: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(d).replace(tzinfo=TOKYO)
    return start, start + dt.timedelta(days=1)


# --- merge titles ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def merges(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    r = Repo(tmp_path_factory.mktemp("merges") / "merges")
    s: dict[str, str] = {}
    r.write("a.txt", "a\n")
    s["root"] = r.commit("Initial commit", ALICE, "2024-06-03T09:00:00+00:00")
    r.git("checkout", "-q", "-b", "fix-login")
    r.write("login.py", "ok = True\n")
    r.commit("Fix redirect", ZOE, "2024-06-03T10:00:00+00:00")
    r.git("checkout", "-q", "main")
    # What GitHub's merge button writes: the subject names the PR, the body's first line is its
    # title (after blank lines and indentation, which are not part of it).
    s["pr_merge"] = r.merge(
        "fix-login",
        "Merge pull request #7 from octo/fix-login\n\n\n   Fix the login redirect  \n\nDetails.",
        ALICE,
        "2024-06-03T11:00:00+00:00",
    )
    r.write("b.txt", "b\n")
    # A squash merge: one commit, subject "Title (#N)", a body of squashed subjects.
    s["squash"] = r.commit(
        "Speed up search (#12)\n\n* first try\n* second try", ZOE, "2024-06-03T12:00:00+00:00"
    )
    r.git("checkout", "-q", "-b", "plain")
    r.write("c.txt", "c\n")
    r.commit("On a branch", CAROL, "2024-06-03T13:00:00+00:00")
    r.git("checkout", "-q", "main")
    s["bare_merge"] = r.merge("plain", "Merge branch 'plain'", ALICE, "2024-06-03T14:00:00+00:00")
    r.git("checkout", "-q", "-b", "long")
    r.write("d.txt", "d\n")
    r.commit("Long one", CAROL, "2024-06-03T15:00:00+00:00")
    r.git("checkout", "-q", "main")
    s["long_merge"] = r.merge(
        "long",
        "Merge pull request #9 from o/long\n\n" + "x" * 250,
        ALICE,
        "2024-06-03T16:00:00+00:00",
    )
    return r.path, s


@pytest.mark.parametrize("windowed", [True, False], ids=["window", "whole-history"])
def test_merge_titles_come_from_the_body_and_only_for_merges(
    merges: tuple[Path, dict[str, str]], windowed: bool
) -> None:
    path, s = merges
    bounds = (
        (dt.datetime(2024, 6, 3, tzinfo=dt.UTC), dt.datetime(2024, 6, 4, tzinfo=dt.UTC))
        if windowed
        else (None, None)
    )
    by_sha = {r.sha: r for r in read_commits(path, *bounds)}
    pr = by_sha[s["pr_merge"]]
    assert pr.is_merge and pr.subject == "Merge pull request #7 from octo/fix-login"
    assert pr.merge_title == "Fix the login redirect"
    # The squash merge keeps its subject whole (the lead parses "(#12)"); it is no merge.
    squash = by_sha[s["squash"]]
    assert squash.subject == "Speed up search (#12)" and squash.merge_title is None
    assert by_sha[s["bare_merge"]].is_merge and by_sha[s["bare_merge"]].merge_title is None
    assert by_sha[s["long_merge"]].merge_title == "x" * 200
    titled = {sha for sha, r in by_sha.items() if r.merge_title is not None}
    assert titled == {s["pr_merge"], s["long_merge"]}


# --- the clone's GitHub URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/octo/widgets", "https://github.com/octo/widgets"),
        ("https://github.com/octo/widgets.git", "https://github.com/octo/widgets"),
        ("https://github.com/octo/widgets.git/", "https://github.com/octo/widgets"),
        ("git@github.com:octo/widgets.git", "https://github.com/octo/widgets"),
        ("git@github.com:octo/widgets", "https://github.com/octo/widgets"),
        ("ssh://git@github.com/octo/widgets.git", "https://github.com/octo/widgets"),
        ("ssh://git@github.com:22/octo/my.repo_x-1.git", "https://github.com/octo/my.repo_x-1"),
        ("https://user:ghp_s3cret@github.com/octo/widgets.git", "https://github.com/octo/widgets"),
        (
            "https://x-access-token:ghs_abc@GitHub.com/octo/widgets",
            "https://github.com/octo/widgets",
        ),
        ("https://gitlab.com/octo/widgets.git", None),
        ("git@gitlab.com:octo/widgets.git", None),
        ("https://github.com.evil.example/octo/widgets", None),
        ("https://evil.example/github.com/octo/widgets", None),
        ("https://github.com/octo", None),
        ("https://github.com/octo/widgets/tree/main", None),
        ("/srv/git/widgets.git", None),
        ("file:///srv/github.com/octo/widgets", None),
        ("https://github.com/octo/<script>", None),
        ("", None),
    ],
)
def test_github_web_url_forms(remote: str, expected: str | None) -> None:
    assert github_web_url(remote) == expected


def test_repo_info_web_url_from_origin_without_credentials(tmp_path: Path) -> None:
    r = Repo(tmp_path / "widgets")
    r.commit("Initial commit", ALICE, "2024-06-03T09:00:00+00:00", allow_empty=True)
    assert inspect_repo(r.path).web_url is None  # no remote
    r.git("remote", "add", "origin", "https://bot:ghp_s3cret@github.com/octo/widgets.git")
    info = inspect_repo(r.path)
    assert info.web_url == "https://github.com/octo/widgets"
    assert "s3cret" not in info.model_dump_json()
    r.git("remote", "set-url", "origin", "git@git.example.org:octo/widgets.git")
    assert inspect_repo(r.path).web_url is None
    # Only `origin` counts: another remote on GitHub is someone else's fork.
    r.git("remote", "add", "fork", "https://github.com/someone/widgets")
    assert inspect_repo(r.path).web_url is None


# --- tags as releases ------------------------------------------------------------------------


@pytest.fixture
def tagged(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    """Tags around the Tokyo day 2024-06-03 = [2024-06-02T15:00Z, 2024-06-03T15:00Z)."""
    r = Repo(tmp_path / "tagged")
    r.git("remote", "add", "origin", "git@github.com:octo/tagged.git")
    s: dict[str, str] = {}
    r.write("a.txt", "a\n")
    s["old"] = r.commit("Old work", ALICE, "2024-05-01T12:00:00+00:00")
    r.write("b.txt", "b\n")
    # 16:00Z June 2 is 01:00 June 3 in Tokyo: a lightweight tag here is dated in the day.
    s["early"] = r.commit("Early work", ZOE, "2024-06-02T16:00:00+00:00")
    r.write("c.txt", "c\n")
    s["late"] = r.commit("Late work", CAROL, "2024-06-03T12:00:00+00:00")
    # Lightweight tags carry the commit's committer date.
    r.git("tag", "old-light", s["old"])
    r.git("tag", "v0.9", s["early"])
    tagger = _env(DAVE, "2024-06-03T10:00:00+09:00")
    # An annotated tag dated in the day on a commit from May: the tagger date counts.
    r.git("tag", "-a", "v1.0", "-m", "Release 1.0\n\nNotes for everyone.", s["old"], env=tagger)
    # An annotated tag on a commit of the day, but tagged at 01:00 June 4 in Tokyo: not in it.
    late_tagger = _env(DAVE, "2024-06-03T16:00:00+00:00")
    r.git("tag", "-a", "v1.1", "-m", "Release 1.1", s["late"], env=late_tagger)
    # An annotated tag with an empty message, and a tag on a tree: no release notes / no release.
    r.git("tag", "-a", "release/2.0#rc", "-m", "", s["late"], env=tagger)
    tree = r.git("rev-parse", f"{s['late']}^{{tree}}").strip()
    r.git("tag", "-a", "a-tree", "-m", "a tree", tree, env=tagger)
    return r, s


def test_tags_in_the_window_dated_as_git_dates_them(tagged: tuple[Repo, dict[str, str]]) -> None:
    r, s = tagged
    result = LocalGitResource(repos=[str(r.path)]).collect(*tokyo_day("2024-06-03"))
    by_name = {t.name: t for t in result.tags}
    assert set(by_name) == {"v0.9", "v1.0", "release/2.0#rc"}
    v09, v10, rc = by_name["v0.9"], by_name["v1.0"], by_name["release/2.0#rc"]
    assert (v09.sha, v09.date_ts, v09.message) == (s["early"], epoch("2024-06-02T16:00:00Z"), None)
    assert (v10.sha, v10.date_ts) == (s["old"], epoch("2024-06-03T01:00:00Z"))
    assert dt.datetime.fromisoformat(v10.date) == dt.datetime(2024, 6, 3, 10, tzinfo=TOKYO)
    assert v10.date.endswith("+09:00")  # the offset the tagger recorded
    assert v10.message == "Release 1.0"
    assert rc.message is None and rc.sha == s["late"]
    assert v10.url == "https://github.com/octo/tagged/releases/tag/v1.0"
    assert rc.url == "https://github.com/octo/tagged/releases/tag/release/2.0%23rc"
    # The same tags, asked of git directly: creatordate is the date each one is dated by.
    listed = r.git("for-each-ref", "--format=%(refname:strip=2) %(creatordate:unix)", "refs/tags")
    dated = {name: int(ts) for name, ts in (line.split() for line in listed.splitlines())}
    lo, hi = (int(b.timestamp()) for b in tokyo_day("2024-06-03"))
    in_day = {n for n, ts in dated.items() if lo <= ts < hi and n != "a-tree"}
    assert in_day == set(by_name)
    # The neighbouring Tokyo days hold the others.
    june4 = LocalGitResource(repos=[str(r.path)]).collect(*tokyo_day("2024-06-04")).tags
    assert [t.name for t in june4] == ["v1.1"]


def test_tags_without_a_github_remote_have_no_url(tagged: tuple[Repo, dict[str, str]]) -> None:
    r, _ = tagged
    r.git("remote", "set-url", "origin", "https://git.example.org/octo/tagged.git")
    tags = LocalGitResource(repos=[str(r.path)]).collect(*tokyo_day("2024-06-03")).tags
    assert tags and all(t.url is None for t in tags)


# --- the raw_commits asset writes the tags and the first commits ------------------------------

raw_commits, repositories = assets("raw_commits", "repositories")


def _materialize(repos: list[Path], tmp: Path, partition: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [repositories, raw_commits],
            partition_key=partition,
            resources={
                "local_git": LocalGitResource(
                    repos=[str(p) for p in repos], cache_dir=str(tmp / "data/cache/git")
                ),
                "github": GitHubResource(),
                "org": session_org(),
                "store": DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "out")),
            },
            instance=instance,
        )


def test_raw_commits_writes_the_days_tags_and_first_commits(
    tagged: tuple[Repo, dict[str, str]], tmp_path: Path
) -> None:
    r, s = tagged
    store = DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"))
    # The session's org day 2024-06-02 in New York is [04:00Z June 2, 04:00Z June 3): v0.9
    # (16:00Z June 2), then v1.0 and release/2.0#rc (both 01:00Z June 3), by date then name.
    gone = tmp_path / "gone"
    assert _materialize([r.path, gone], tmp_path, "2024-06-02").success
    file = tmp_path / "data/raw/raw_local_tags/2024-06-02.json"
    first_text = file.read_text(encoding="utf-8")
    assert [t.name for t in read_local_tags(store, ["2024-06-02"])] == [
        "v0.9",
        "release/2.0#rc",
        "v1.0",
    ]
    coverage = json.loads((tmp_path / "data/raw/_coverage/raw_commits/2024-06-02.json").read_text())
    assert {c["repo"]: c["status"] for c in coverage["repos"]} == {"tagged": "ok", "gone": "failed"}
    # A re-run of the partition writes the same file.
    assert _materialize([r.path, gone], tmp_path, "2024-06-02").success
    assert file.read_text(encoding="utf-8") == first_text
    firsts = read_first_commits(store, "tagged")
    assert firsts is not None and firsts.heads == [s["late"]] and firsts.complete
    assert {k: v.sha for k, v in firsts.identities.items()} == {
        ALICE.email: s["old"],
        ZOE.email: s["early"],
        CAROL.email: s["late"],
    }
    assert read_first_commits(store, "gone") is None


# --- first commits ---------------------------------------------------------------------------


def git_first_commits(path: Path) -> dict[str, tuple[str, str]]:
    """Independently of Sparky: git's own oldest-first listing, first sighting of each email."""
    out = subprocess.run(
        ["git", "-C", str(path), "log", "--reverse", "--use-mailmap", "--format=%aE%x09%aN%x09%H"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    ).stdout
    first: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        email, name, sha = line.split("\t")
        first.setdefault(email.lower(), (name, sha))
    return first


def as_pairs(listing: FirstCommits) -> dict[str, tuple[str, str]]:
    return {k: (v.name, v.sha) for k, v in listing.identities.items()}


@pytest.fixture
def history(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "history")
    r.write(".mailmap", "Bob Builder <bob@example.com> <bob@old.example>\n")
    r.commit("Initial commit", ALICE, "2023-01-01T12:00:00+00:00")
    r.write("z.txt", "z\n")
    r.commit("Zoe's first", ZOE, "2023-02-01T12:00:00+02:00")
    r.write("b.txt", "b\n")
    r.commit("Bob's first, under an old address", BOB_OLD, "2023-03-01T12:00:00-04:00")
    r.git("checkout", "-q", "-b", "side")
    r.write("c.txt", "c\n")
    r.commit("Carol on a branch", CAROL, "2023-03-05T12:00:00+00:00")
    r.git("checkout", "-q", "main")
    r.write("z.txt", "z2\n")
    r.commit("Zoe again", ZOE, "2023-03-10T12:00:00+00:00")
    r.merge(
        "side",
        "Merge pull request #1 from carol/side\n\nCarol's work",
        ALICE,
        "2023-04-01T00:00:00+00:00",
    )
    return r


def test_first_commits_match_gits_own_listing(history: Repo) -> None:
    listing = first_commits(open_clone(history.path))
    expected = git_first_commits(history.path)
    assert as_pairs(listing) == expected
    assert "bob@example.com" in expected and "bob@old.example" not in expected  # mailmapped
    assert listing.complete and listing.history_complete_since is None
    head = history.git("rev-parse", "HEAD").strip()
    assert listing.heads == [head]
    sha = expected[ZOE.email][1]
    assert listing.identities[ZOE.email].authored_ts == epoch("2023-02-01T12:00:00+02:00")
    assert sha == history.git("log", "--format=%H", "--author=zoe@", "--reverse").split()[0]


def test_incremental_update_equals_a_full_recompute(history: Repo) -> None:
    before = first_commits(open_clone(history.path))
    history.write("d.txt", "d\n")
    history.commit("Dave arrives", DAVE, "2023-05-01T12:00:00+00:00")
    history.write("z.txt", "z3\n")
    history.commit("Zoe once more", ZOE, "2023-05-02T12:00:00+00:00")
    erin = Person("Erin Early", "Erin@Example.com")  # upper case: keys are lowercased
    history.write("e.txt", "e\n")
    history.commit("Erin, late", erin, "2023-05-03T12:00:00+00:00")
    clone = open_clone(history.path)
    full = first_commits(clone)
    incremental = first_commits(clone, before)
    assert incremental == full
    assert as_pairs(full) == git_first_commits(history.path)
    assert set(full.identities) - set(before.identities) == {DAVE.email, "erin@example.com"}
    # Proof that only the new commits were read: an identity only the cache knows survives.
    ghost = before.model_copy(
        update={
            "identities": {**before.identities, "ghost@example.com": full.identities[ZOE.email]}
        }
    )
    assert "ghost@example.com" in first_commits(clone, ghost).identities


def test_rewritten_history_or_mailmap_is_listed_again(history: Repo) -> None:
    clone = open_clone(history.path)
    cached = first_commits(clone)
    ghost = cached.model_copy(
        update={
            "identities": {**cached.identities, "ghost@example.com": cached.identities[ZOE.email]}
        }
    )
    assert "ghost@example.com" in first_commits(clone, ghost).identities  # same head: reused
    # A force-push: the cached head is no ancestor of the new one.
    history.git("reset", "-q", "--hard", "HEAD~1")
    history.commit("Rewritten", CAROL, "2023-06-01T12:00:00+00:00", allow_empty=True)
    rewritten = first_commits(open_clone(history.path), ghost)
    assert "ghost@example.com" not in rewritten.identities
    assert as_pairs(rewritten) == git_first_commits(history.path)
    # A new mailmap entry (work tree file): keys made under the old one are not reused.
    mapped = rewritten.model_copy(
        update={
            "identities": {
                **rewritten.identities,
                "ghost@example.com": cached.identities[ZOE.email],
            }
        }
    )
    history.write(".mailmap", "Zoe Z <zoe@new.example> <zoe@example.com>\n")
    remapped = first_commits(open_clone(history.path), mapped)
    assert "ghost@example.com" not in remapped.identities
    assert as_pairs(remapped) == git_first_commits(history.path)
    assert "zoe@new.example" in remapped.identities and ZOE.email not in remapped.identities


def test_earliest_authored_wins_over_walk_order(tmp_path: Path) -> None:
    r = Repo(tmp_path / "skewed")
    r.commit("Carol, 2023-06", CAROL, "2023-06-01T12:00:00+00:00", allow_empty=True)
    # A later commit authored earlier (a rebased old patch): Carol's first work is this one.
    old = r.commit(
        "Carol's old patch",
        CAROL,
        "2023-07-01T12:00:00+00:00",
        authored="2022-01-01T12:00:00+00:00",
        allow_empty=True,
    )
    got = first_commits(open_clone(r.path)).identities[CAROL.email]
    assert (got.sha, got.authored_ts) == (old, epoch("2022-01-01T12:00:00+00:00"))


def test_shallow_clone_says_first_since_its_cut(history: Repo, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{history.path}", str(shallow)],
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    result = LocalGitResource(repos=[str(shallow)]).collect(None, None, cached_first_commits={})
    listing = result.first_commits["shallow"]
    assert not listing.complete
    # Depth 1: only the merge (authored 2023-04-01 by Alice) is visible; history is complete
    # from the second after its committer date.
    assert set(listing.identities) == {ALICE.email}
    assert listing.history_complete_since == "2023-04-01T00:00:01+00:00"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("\n  \n  Fix the build\r\nmore\n", "Fix the build"),
        ("Title\x85with a NEL inside\nnext", "Title\x85with a NEL inside"),  # one line to git
        ("   \n\n", None),
        ("", None),
    ],
)
def test_merge_title_is_the_first_non_empty_body_line(body: str, expected: str | None) -> None:
    assert merge_title(body) == expected
