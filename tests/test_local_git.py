"""Local collection against real repositories whose numbers were worked out by hand.

The known history (tests/gitrepo.py), org timezone America/New_York (UTC-4 in June):
day 2024-06-03 is [04:00Z June 3, 04:00Z June 4).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gitrepo import ALICE, KnownHistory, Repo

from sparky_resources.local_git import (
    GitError,
    LocalGitResource,
    inspect_repo,
    read_commits,
)
from sparky_resources.models import CommitRecord
from sparky_resources.store import DataStore

NY = ZoneInfo("America/New_York")


def day(d: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(d).replace(tzinfo=NY)
    return start, start + dt.timedelta(days=1)


def test_window_holds_exactly_the_days_commits(known: KnownHistory) -> None:
    records = read_commits(known.path, *day("2024-06-03"))
    s = known.shas
    # By hand: app, feature, bob (01:30+02:00 next day is 19:30 here), merge, bot, empty.
    expected = {s["alice_app"], s["zoe_feature"], s["bob"], s["merge"], s["bot"], s["empty"]}
    assert {r.sha for r in records} == expected


def test_midnight_commits_land_on_the_org_local_day(known: KnownHistory) -> None:
    s = known.shas
    june2 = {r.sha for r in read_commits(known.path, *day("2024-06-02"))}
    june4 = {r.sha for r in read_commits(known.path, *day("2024-06-04"))}
    # 00:15 at +02:00 on June 3 is 18:15 on June 2 in New York.
    assert june2 == {s["zoe_midnight"]}
    # 00:00:01 on June 4; the skewed commit (authored June 4) belongs to its committer day.
    assert june4 == {s["dave"]}


def test_commit_older_than_its_parent_is_not_lost(known: KnownHistory) -> None:
    s = known.shas
    # git's own --since stops at the skewed tip and finds nothing for June 3 ...
    since = subprocess.run(
        [
            "git",
            "-C",
            str(known.path),
            "log",
            "--format=%H",
            "--since=2024-06-03T04:00:00Z",
            "--until=2024-06-04T04:00:00Z",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert s["alice_app"] not in since
    # ... Sparky windows after the walk, so June 3 is complete and the skewed commit is on May 20.
    assert len(read_commits(known.path, *day("2024-06-03"))) == 6
    may20 = read_commits(known.path, *day("2024-05-20"))
    assert [r.sha for r in may20] == [s["skewed"]]
    assert may20[0].authored_at == "2024-06-04T09:00:00-04:00"
    assert may20[0].committed_at == "2024-05-20T12:00:00+00:00"


def test_records_carry_mailmapped_identities_and_numstat(known: KnownHistory) -> None:
    by_sha = {r.sha: r for r in read_commits(known.path, *day("2024-06-03"))}
    s = known.shas

    bob = by_sha[s["bob"]]
    assert (bob.author_name, bob.author_email) == ("Bob Builder", "bob@example.com")
    assert (bob.additions, bob.deletions, bob.files_changed) == (3, 1, 1)
    assert bob.authored_at == "2024-06-01T08:00:00+00:00"
    assert bob.committed_at == "2024-06-04T01:30:00+02:00"

    feature = by_sha[s["zoe_feature"]]
    assert feature.author_name == "Zoë Ünïcode-Łukasz"
    # logo.png is binary (1 file, 0 lines); docs/old.md -> docs/new.md is one file, +1 -1.
    assert (feature.additions, feature.deletions, feature.files_changed) == (1, 1, 2)
    assert feature.binary_files == 1

    app = by_sha[s["alice_app"]]
    assert (app.additions, app.deletions, app.files_changed) == (12, 0, 2)
    assert app.subject == "Add app"
    assert app.repo == "known"

    merge = by_sha[s["merge"]]
    assert merge.is_merge and len(merge.parents) == 2
    assert (merge.additions, merge.deletions, merge.files_changed) == (0, 0, 0)

    empty = by_sha[s["empty"]]
    assert not empty.is_merge
    assert (empty.additions, empty.deletions, empty.files_changed) == (0, 0, 0)
    assert empty.committer_name == "Carol Chen"


def test_full_history_matches_git_rev_list(known: KnownHistory) -> None:
    records = read_commits(known.path)
    count = subprocess.run(
        ["git", "-C", str(known.path), "rev-list", "--count", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(records) == int(count) == 10
    # Root commit: README (3) + docs/old.md (5) + .mailmap (1) lines, 3 files.
    root = next(r for r in records if r.sha == known.shas["root"])
    assert (root.additions, root.files_changed, root.parents) == (9, 3, [])


def test_bare_clone_reads_the_same_and_applies_mailmap(known: KnownHistory, tmp_path: Path) -> None:
    bare = tmp_path / "known-mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(known.path), str(bare)], check=True)
    info = inspect_repo(bare)
    assert info.bare is True and info.error is None and info.name == "known-mirror"
    records = read_commits(bare, *day("2024-06-03"))
    work = read_commits(known.path, *day("2024-06-03"))
    strip = [r.model_dump(exclude={"repo"}) for r in work]
    assert [r.model_dump(exclude={"repo"}) for r in records] == strip
    assert any(r.author_email == "bob@example.com" for r in records)


def test_default_branch_is_read_not_the_checked_out_branch(
    known: KnownHistory, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(known.path), str(clone)], check=True)
    repo = Repo.open(clone)
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("topic.txt", "x\n")
    repo.commit("topic work", ALICE, "2024-06-03T11:00:00-04:00")
    info = inspect_repo(clone)
    assert info.refs == ["refs/remotes/origin/main"]
    assert info.default_branch == "main"
    assert info.default_branch_reason == "origin/main: origin/HEAD points at it"
    assert not info.default_branch_fallback
    assert len(read_commits(clone, *day("2024-06-03"))) == 6  # not 7: topic is not default


def test_fetched_work_counts_and_unpushed_work_only_when_asked(
    known: KnownHistory, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(known.path), str(clone)], check=True)
    local = Repo.open(clone)
    local.write("local.txt", "x\n")
    unpushed = local.commit("local work", ALICE, "2024-06-03T11:00:00-04:00")
    # The fixture repository is shared by tests: new upstream work goes to a copy of it.
    shutil.copytree(known.path, tmp_path / "upstream")
    upstream = Repo.open(tmp_path / "upstream")
    local.git("remote", "set-url", "origin", str(upstream.path))
    upstream.write("upstream.txt", "y\n")
    fetched = upstream.commit("upstream work", ALICE, "2024-06-03T12:00:00-04:00")
    local.git("fetch", "-q", "origin")
    shas = {r.sha for r in read_commits(clone, *day("2024-06-03"))}
    # The default branch is the remote's: the day's 6 commits and the fetched one.
    assert fetched in shas and unpushed not in shas
    assert len(shas) == 7
    # [local].count_unpushed reads the local branch of the same name too.
    shas = {r.sha for r in read_commits(clone, *day("2024-06-03"), count_unpushed=True)}
    assert {unpushed, fetched} <= shas
    assert len(shas) == 8


def test_one_failing_repository_does_not_stop_the_others(
    known: KnownHistory, tmp_path: Path
) -> None:
    not_a_repo = tmp_path / "plain-folder"
    not_a_repo.mkdir()
    corrupt = tmp_path / "corrupt"
    shutil.copytree(known.path, corrupt)
    shutil.rmtree(corrupt / ".git" / "objects")
    (corrupt / ".git" / "objects").mkdir()
    empty = tmp_path / "empty"
    Repo(empty)

    resource = LocalGitResource(
        repos=[
            str(not_a_repo),
            str(known.path),
            str(tmp_path / "missing"),
            str(corrupt),
            str(empty),
        ]
    )
    result = resource.collect(*day("2024-06-03"))

    status = {c.repo: c for c in result.coverage}
    assert status["known"].status == "ok" and status["known"].commits == 6
    assert status["empty"].status == "ok" and status["empty"].commits == 0
    assert status["plain-folder"].error == "not a git repository"
    assert status["missing"].error == "the configured path does not exist"
    assert status["corrupt"].status == "failed" and status["corrupt"].error
    assert "\n" not in status["corrupt"].error
    assert len(result.commits) == 6


def test_two_clones_of_one_repository_count_each_commit_once(
    known: KnownHistory, tmp_path: Path
) -> None:
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(known.path), str(bare)], check=True)
    result = LocalGitResource(repos=[str(known.path), str(bare)]).collect(*day("2024-06-03"))
    assert len(result.commits) == 6
    assert {c.repo: c.commits for c in result.coverage} == {"known": 6, "mirror": 0}


def test_read_commits_raises_a_clear_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError):
        read_commits(tmp_path)


def test_default_branch_with_a_slash_in_its_name(known: KnownHistory, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    shutil.copytree(known.path, upstream)
    Repo.open(upstream).git("checkout", "-q", "-b", "release/2024")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True)
    info = inspect_repo(clone)
    assert info.refs == ["refs/remotes/origin/release/2024"]
    assert info.head_sha == known.shas["skewed"]


# --- Issue 20: changed paths and reverts per commit -------------------------------------------


def _name_only(path: Path, sha: str) -> list[str]:
    """The paths a commit changed, by git's own `show --name-only` (new names for renames),
    a method independent of Sparky's numstat parsing; `-z` so names come unquoted."""
    out = subprocess.run(
        ["git", "-C", str(path), "show", "--name-only", "-M", "--format=", "-z", sha],
        capture_output=True,
        check=True,
    ).stdout
    return [name.decode("utf-8", "replace") for name in out.strip(b"\n").split(b"\0") if name]


@pytest.mark.parametrize("windowed", [True, False], ids=["window", "whole-history"])
def test_paths_are_the_files_each_commit_changed(known: KnownHistory, windowed: bool) -> None:
    records = read_commits(known.path, *day("2024-06-03")) if windowed else read_commits(known.path)
    by_sha = {r.sha: r for r in records}
    s = known.shas
    # By hand, from build_known_history: the rename counts under its new name.
    assert by_sha[s["zoe_feature"]].paths == ["docs/new.md", "logo.png"]
    assert by_sha[s["alice_app"]].paths == ["README.md", "src/app.py"]
    assert by_sha[s["bob"]].paths == ["src/app.py"]
    assert by_sha[s["empty"]].paths == []  # known: it changed nothing
    # A merge's diff is not computed (--diff-merges=off): its paths are not known, not "none".
    assert by_sha[s["merge"]].is_merge and by_sha[s["merge"]].paths is None
    for record in records:
        if not record.is_merge:
            assert sorted(record.paths or []) == sorted(_name_only(known.path, record.sha))
            assert len(record.paths or []) == record.files_changed
    if not windowed:
        assert sorted(by_sha[s["root"]].paths or []) == [".mailmap", "README.md", "docs/old.md"]


def _revert(r: Repo, when: str, *args: str) -> str:
    """`git revert --no-edit <args>` as Alice at `when`; the new commit's sha by rev-parse."""
    env = {
        "GIT_AUTHOR_NAME": ALICE.name,
        "GIT_AUTHOR_EMAIL": ALICE.email,
        "GIT_COMMITTER_NAME": ALICE.name,
        "GIT_COMMITTER_EMAIL": ALICE.email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
    }
    r.git("revert", "--no-edit", *args, env=env)
    return r.git("rev-parse", "HEAD").strip()


def test_a_git_revert_names_the_reverted_commit(tmp_path: Path) -> None:
    r = Repo(tmp_path / "reverts")
    r.write("a.txt", "a\n")
    r.commit("base", ALICE, "2024-06-03T08:00:00+00:00")
    r.write("b.txt", "b\n")
    r.commit("add b", ALICE, "2024-06-03T09:00:00+00:00")
    bad = r.git("rev-parse", "HEAD").strip()
    revert = _revert(r, "2024-06-03T10:00:00+00:00", bad)
    # Reverting the revert: its message names the first revert, not the original commit.
    reapply = _revert(r, "2024-06-03T11:00:00+00:00", revert)
    by_sha = {c.sha: c for c in read_commits(r.path, *day("2024-06-03"))}
    assert by_sha[revert].reverts == bad
    assert by_sha[revert].paths == ["b.txt"]
    assert by_sha[reapply].reverts == revert
    assert by_sha[bad].reverts is None


def test_reverting_a_merge_names_the_merge(tmp_path: Path) -> None:
    r = Repo(tmp_path / "merge-revert")
    r.write("a.txt", "a\n")
    r.commit("base", ALICE, "2024-06-03T08:00:00+00:00")
    r.git("checkout", "-q", "-b", "topic")
    r.write("t.txt", "t\n")
    r.commit("topic", ALICE, "2024-06-03T09:00:00+00:00")
    r.git("checkout", "-q", "main")
    merge = r.merge("topic", "Merge pull request #3 from o/topic", ALICE, "2024-06-03T10:00:00Z")
    # git writes "This reverts commit <merge>, reversing\nchanges made to <parent>."
    revert = _revert(r, "2024-06-03T11:00:00+00:00", "-m", "1", merge)
    by_sha = {c.sha: c for c in read_commits(r.path, *day("2024-06-03"))}
    assert by_sha[revert].reverts == merge
    assert by_sha[revert].paths == _name_only(r.path, revert) == ["t.txt"]
    assert by_sha[merge].paths is None and by_sha[merge].reverts is None


def test_records_without_the_new_fields_still_load(tmp_path: Path, known: KnownHistory) -> None:
    (record,) = [r for r in read_commits(known.path) if r.sha == known.shas["bob"]]
    old = record.model_dump(exclude={"paths", "reverts"})
    # A version-1 raw file (a bare JSON list, as older Sparky wrote it) without the fields.
    folder = tmp_path / "data" / "raw" / "raw_commits"
    folder.mkdir(parents=True)
    (folder / "2024-06-03.json").write_text(json.dumps([old]), encoding="utf-8")
    store = DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"))
    (loaded,) = [
        CommitRecord.model_validate(r) for r in store.read("raw", "raw_commits", "2024-06-03")
    ]
    assert loaded.paths is None and loaded.reverts is None
    assert loaded.model_dump(exclude={"paths", "reverts"}) == old
    # New files keep the paths exactly through a write and a read.
    store.write("raw", "raw_commits", "2024-06-04", [record.model_dump()])
    (again,) = store.read("raw", "raw_commits", "2024-06-04")
    assert CommitRecord.model_validate(again) == record
