"""Local collection on hostile repositories: each test reproduces a case that gave wrong
numbers, crashed or misled before, on a real repository built here.

Expected values come from what the test wrote, or from git read independently
(`git cat-file`, `git rev-list`), never from Sparky's own output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gitrepo import ALICE, CAROL, Person, Repo

from sparky_resources.config import repo_name
from sparky_resources.local_git import (
    GitError,
    GitRunner,
    ListingCache,
    LocalGitResource,
    UnparseableCommit,
    inspect_repo,
    open_clone,
    parse_log,
    read_clone,
    read_commits,
)

UTC = ZoneInfo("UTC")


def utc_day(d: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(d).replace(tzinfo=UTC)
    return start, start + dt.timedelta(days=1)


def git(path: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", "-C", str(path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout


def clone(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["git", "clone", "-q", *args, str(src), str(dst)], check=True)
    return dst


# --- 1. Commit text is data -------------------------------------------------------------------


def test_carriage_returns_and_injected_numstat_in_subjects_are_data(tmp_path: Path) -> None:
    r = Repo(tmp_path / "cr")
    r.write("a.txt", "one\ntwo\n")
    plain = r.commit("fix\rthing", ALICE, "2024-06-03T10:00:00+00:00")
    r.write("b.txt", "three\n")
    injected = r.commit("fix\r100000\t0\tinjected", ALICE, "2024-06-03T11:00:00+00:00")
    by_sha = {c.sha: c for c in read_commits(r.path, *utc_day("2024-06-03"))}
    assert by_sha[plain].subject == "fix\rthing"
    assert (by_sha[plain].additions, by_sha[plain].files_changed) == (2, 1)
    assert by_sha[injected].subject == "fix\r100000\t0\tinjected"
    # b.txt's one line, not 100,001.
    assert (by_sha[injected].additions, by_sha[injected].files_changed) == (1, 1)


def test_control_characters_in_names_do_not_shift_fields(tmp_path: Path) -> None:
    r = Repo(tmp_path / "names")
    r.write("a.txt", "x\n")
    cr = Person("Ann\rOnymous", "ann@example.com")
    us = Person("Spoof\x1fmallory@evil.example\x1f2099-01-01T00:00:00+00:00", "us@example.com")
    first = r.commit("a", cr, "2024-06-03T09:00:00+00:00")
    r.write("b.txt", "y\n")
    second = r.commit("b", us, "2024-06-03T10:00:00+00:00", committer=CAROL)
    by_sha = {c.sha: c for c in read_commits(r.path, *utc_day("2024-06-03"))}
    assert set(by_sha) == {first, second}
    assert by_sha[first].author_name == "Ann\rOnymous"
    spoof = by_sha[second]
    assert spoof.author_name == us.name
    assert spoof.author_email == "us@example.com"
    assert spoof.committer_email == CAROL.email
    assert spoof.committed_at == "2024-06-03T10:00:00+00:00"


def test_file_names_with_tabs_newlines_and_digits_count_once(tmp_path: Path) -> None:
    r = Repo(tmp_path / "paths")
    r.write("5\t7\tfake", "a\nb\n")
    r.write("line\nbreak.txt", "c\n")
    r.write("plain.txt", "d\n")
    sha = r.commit("odd paths", ALICE, "2024-06-03T09:00:00+00:00")
    r.git("mv", "5\t7\tfake", "renamed\tagain")
    renamed = r.commit("rename", ALICE, "2024-06-03T10:00:00+00:00")
    by_sha = {c.sha: c for c in read_commits(r.path, *utc_day("2024-06-03"))}
    assert (by_sha[sha].additions, by_sha[sha].files_changed) == (4, 3)
    assert (by_sha[renamed].additions, by_sha[renamed].files_changed) == (0, 1)


def test_a_record_that_does_not_parse_names_the_commit() -> None:
    sha = "a" * 40
    fields = [sha, "", "n", "e", "n", "e", "1", "2", "t", "t", "subject", "body", "b" * 40]
    with pytest.raises(UnparseableCommit, match=f"commit {sha}"):
        parse_log(b"\0".join(f.encode() for f in fields) + b"\0", "repo")
    with pytest.raises(UnparseableCommit, match="unreadable git log output at the start"):
        parse_log(b"not a sha\0", "repo")
    good = [sha, "", "n", "e", "n", "e", "x", "2", "t", "t", "s", "body", sha]
    with pytest.raises(UnparseableCommit, match=f"commit {sha}: unreadable parents or dates"):
        parse_log(b"\0".join(f.encode() for f in good) + b"\0", "repo")


# --- 2. Offsets git accepts and Python does not -----------------------------------------------


def _commit_object(path: Path, parent: str, message: str, epoch: int, offset: str) -> str:
    tree = git(path, "write-tree").strip()
    body = (
        f"tree {tree}\nparent {parent}\n"
        f"author Odd Clock <odd@example.com> {epoch} {offset}\n"
        f"committer Odd Clock <odd@example.com> {epoch} {offset}\n\n{message}\n"
    )
    sha = git(path, "hash-object", "-t", "commit", "-w", "--stdin", stdin=body).strip()
    git(path, "update-ref", "refs/heads/main", sha)
    return sha


def test_an_offset_out_of_pythons_range_is_windowed_by_the_epoch(tmp_path: Path) -> None:
    r = Repo(tmp_path / "odd")
    r.write("a.txt", "x\n")
    base = r.commit("base", ALICE, "2024-06-03T08:00:00+00:00")
    odd = _commit_object(r.path, base, "odd tz", 1717416000, "+9900")  # 12:00Z June 3
    other = Repo(tmp_path / "other")
    other.write("b.txt", "y\n")
    fine = other.commit("fine", ALICE, "2024-06-03T09:00:00+00:00")

    result = LocalGitResource(repos=[str(r.path), str(other.path)]).collect(*utc_day("2024-06-03"))
    assert not result.failed
    by_sha = {c.sha: c for c in result.commits}
    assert set(by_sha) == {base, odd, fine}
    assert by_sha[odd].committed_ts == 1717416000
    assert by_sha[odd].committed_at.endswith("+99:00")  # git's text, kept as recorded
    assert read_commits(r.path, *utc_day("2024-06-07")) == []


# --- 4. The remote's default branch, not a stale local one ------------------------------------


def test_squash_merged_local_work_counts_once(tmp_path: Path) -> None:
    upstream = Repo(tmp_path / "upstream")
    upstream.write("a.txt", "a\n")
    upstream.commit("base", ALICE, "2024-06-02T09:00:00+00:00")
    local = Repo.open(clone(upstream.path, tmp_path / "local"))
    local.write("b.txt", "b\n")
    local.commit("part 1", ALICE, "2024-06-03T09:00:00+00:00")
    local.write("c.txt", "c\n")
    local.commit("part 2", ALICE, "2024-06-03T10:00:00+00:00")
    # Upstream squash-merged the same work as one commit; local main is behind and diverged.
    upstream.write("b.txt", "b\n")
    upstream.write("c.txt", "c\n")
    upstream.write("d.txt", "d\n")
    squash = upstream.commit("parts 1 and 2 (#7)", ALICE, "2024-06-03T12:00:00+00:00")
    local.git("fetch", "-q", "origin")
    commits = read_commits(local.path, *utc_day("2024-06-03"))
    assert [c.sha for c in commits] == [squash]
    assert (commits[0].additions, commits[0].files_changed) == (3, 3)


# --- 5. Shallow clones -------------------------------------------------------------------------


def test_a_shallow_clones_boundary_diff_is_never_counted(tmp_path: Path) -> None:
    up = Repo(tmp_path / "up")
    up.write("big.txt", "".join(f"{i}\n" for i in range(6000)))
    up.commit("six thousand", ALICE, "2024-06-01T09:00:00+00:00")
    up.write("more.txt", "".join(f"{i}\n" for i in range(3000)))
    boundary = up.commit("three thousand", ALICE, "2024-06-02T09:00:00+00:00")
    up.write("last.txt", "".join(f"{i}\n" for i in range(4000)))
    tip = up.commit("four thousand", ALICE, "2024-06-03T09:00:00+00:00")
    shallow = clone(up.path, tmp_path / "shallow", "--depth", "2", "--no-local")
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"

    commits = {c.sha: c for c in read_commits(shallow)}
    assert set(commits) == {tip, boundary}
    assert commits[tip].additions == 4000 and not commits[tip].shallow_boundary
    # git diffs the boundary against an empty tree: +9,000 lines that were not its work.
    assert commits[boundary].shallow_boundary
    assert (commits[boundary].additions, commits[boundary].files_changed) == (0, 0)

    info = inspect_repo(shallow)
    assert info.shallow and info.history_complete_since == "2024-06-02T09:00:01+00:00"
    result = LocalGitResource(repos=[str(shallow)]).collect(*utc_day("2024-06-03"))
    (cov,) = result.coverage
    assert cov.shallow and cov.history_complete_since == "2024-06-02T09:00:01+00:00"


# --- 6. A dangling origin/HEAD -----------------------------------------------------------------


def test_a_dangling_origin_head_falls_back_to_the_remotes_main_and_says_so(
    tmp_path: Path,
) -> None:
    up = Repo(tmp_path / "up")
    up.write("a.txt", "a\n")
    up.commit("base", ALICE, "2024-06-02T09:00:00+00:00")
    up.git("branch", "-m", "main", "master")
    local = Repo.open(clone(up.path, tmp_path / "local"))
    local.git("checkout", "-q", "-b", "topic")
    local.write("t.txt", "t\n")
    local.commit("topic work", ALICE, "2024-06-03T08:00:00+00:00")
    # The remote renames master to main and gets new work; the clone fetches with --prune.
    up.git("branch", "-m", "master", "main")
    up.write("b.txt", "b\n")
    new = up.commit("on main", ALICE, "2024-06-03T09:00:00+00:00")
    local.git("fetch", "-q", "--prune", "origin")
    assert local.git("symbolic-ref", "refs/remotes/origin/HEAD").strip().endswith("/master")

    info = inspect_repo(local.path)
    assert info.refs == ["refs/remotes/origin/main"]
    assert info.default_branch == "main" and info.default_branch_fallback
    assert "origin/HEAD points at origin/master, which is gone; using main" in (
        info.default_branch_reason or ""
    )
    assert [c.sha for c in read_commits(local.path, *utc_day("2024-06-03"))] == [new]


# --- 7. An inherited GIT_DIR and a user's git config ------------------------------------------


def test_inherited_git_environment_and_user_config_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Repo(tmp_path / "a")
    a.write("a.txt", "a\n")
    sha_a = a.commit("in a", Person("Zoë", "zoe@example.com"), "2024-06-03T09:00:00+00:00")
    b = Repo(tmp_path / "b")
    b.write("b.txt", "b\nb\n")
    sha_b = b.commit("in b", ALICE, "2024-06-03T10:00:00+00:00")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[i18n]\n\tlogOutputEncoding = ISO-8859-1\n[diff]\n\trelative = true\n"
        "\trenames = false\n[log]\n\tshowSignature = true\n\tmailmap = false\n",
        encoding="utf-8",
    )
    # As inside a git hook or `git bisect run` in repository b.
    monkeypatch.setenv("GIT_DIR", str(b.path / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(b.path))
    monkeypatch.setenv("GIT_INDEX_FILE", str(b.path / ".git" / "index"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    plain = tmp_path / "plain"  # a plain folder must not be read as b either
    plain.mkdir()

    result = LocalGitResource(repos=[str(a.path), str(b.path), str(plain)]).collect(
        *utc_day("2024-06-03")
    )
    by_repo = {c.repo: c for c in result.commits}
    assert by_repo["a"].sha == sha_a and by_repo["a"].author_name == "Zoë"
    assert by_repo["b"].sha == sha_b and by_repo["b"].additions == 2
    status = {c.repo: c for c in result.coverage}
    assert status["plain"].error == "not a git repository"


# --- 8. A path ending in /.git ---------------------------------------------------------------


def test_a_path_to_the_dot_git_folder_is_named_after_its_work_tree(tmp_path: Path) -> None:
    for hour, name in enumerate(("alpha", "beta"), start=9):
        r = Repo(tmp_path / name)
        r.write(".mailmap", "Ann Real <ann@example.com> <old@example.com>\n")
        r.commit("mailmap", Person("old", "old@example.com"), f"2024-06-03T{hour}:00:00+00:00")
    assert repo_name(tmp_path / "alpha" / ".git") == "alpha"
    result = LocalGitResource(
        repos=[str(tmp_path / "alpha" / ".git"), str(tmp_path / "beta" / ".git")]
    ).collect(*utc_day("2024-06-03"))
    assert {c.repo for c in result.commits} == {"alpha", "beta"}
    assert {(c.author_name, c.author_email) for c in result.commits} == {
        ("Ann Real", "ann@example.com")
    }


# --- 13. Timeouts and failures name the repository ---------------------------------------------


def test_a_slow_git_times_out_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = Repo(tmp_path / "slow")
    r.write("a.txt", "a\n")
    r.commit("a", ALICE, "2024-06-03T09:00:00+00:00")
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    # Real git, started late: as a huge repository or a hung network filesystem would behave.
    wrapper.write_text(f'#!/bin/sh\nsleep 5\nexec {real_git} "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    result = LocalGitResource(repos=[str(r.path)], timeout_s=0.5).collect(*utc_day("2024-06-03"))
    (cov,) = result.coverage
    assert cov.status == "failed" and cov.repo == "slow"
    assert "took longer than 0.5 s" in (cov.error or "")
    assert "[local].git_timeout_s" in (cov.error or "")


def test_errors_carry_no_server_paths(tmp_path: Path) -> None:
    r = Repo(tmp_path / "broken")
    r.write("a.txt", "a\n")
    r.commit("a", ALICE, "2024-06-03T09:00:00+00:00")
    for obj in (r.path / ".git" / "objects").rglob("*"):
        if obj.is_file():
            obj.write_bytes(b"garbage")
    result = LocalGitResource(repos=[str(r.path)]).collect(*utc_day("2024-06-03"))
    (cov,) = result.coverage
    assert cov.status == "failed" and cov.error
    assert str(tmp_path) not in cov.error


# --- 14. The cached listing -------------------------------------------------------------------


def _read_with_cache(path: Path, cache: Path, d: str) -> list[str]:
    c = open_clone(path)
    return [x.sha for x in read_clone(c, *utc_day(d), cache=ListingCache(cache))]


def test_the_listing_cache_extends_incrementally_and_survives_force_pushes(
    tmp_path: Path,
) -> None:
    r = Repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    r.write("a.txt", "a\n")
    first = r.commit("one", ALICE, "2024-06-03T09:00:00+00:00")
    assert _read_with_cache(r.path, cache, "2024-06-03") == [first]
    (cached,) = cache.glob("repo-*.bin")

    r.write("b.txt", "b\n")
    second = r.commit("two", ALICE, "2024-06-03T10:00:00+00:00")
    assert sorted(_read_with_cache(r.path, cache, "2024-06-03")) == sorted([first, second])
    header = json.loads(cached.read_bytes().partition(b"\n")[0])
    assert header["count"] == 2 and header["tips"] == [second]

    # A force-push drops `second`: the cache must not keep it.
    r.git("reset", "-q", "--hard", first)
    r.write("c.txt", "c\n")
    third = r.commit("three", ALICE, "2024-06-03T11:00:00+00:00")
    got = _read_with_cache(r.path, cache, "2024-06-03")
    assert sorted(got) == sorted([first, third])
    rev_list = git(r.path, "rev-list", "HEAD").split()
    assert sorted(got) == sorted(rev_list)

    # A new commit dated before the cached ones (a skewed clock) extends the cache too.
    r.write("d.txt", "d\n")
    skewed = r.commit("skewed", ALICE, "2024-06-03T08:00:00+00:00")
    assert sorted(_read_with_cache(r.path, cache, "2024-06-03")) == sorted([first, third, skewed])
    header = json.loads(cached.read_bytes().partition(b"\n")[0])
    assert header["count"] == 3 and header["tips"] == [skewed]

    # A corrupt cache file is read as no cache.
    cached.write_bytes(b"{not json\n")
    assert sorted(_read_with_cache(r.path, cache, "2024-06-03")) == sorted([first, third, skewed])


def test_runner_uses_the_configured_path_even_with_git_dir_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Repo(tmp_path / "a")
    b = Repo(tmp_path / "b")
    b.write("x", "x\n")
    b.commit("b", ALICE, "2024-06-03T09:00:00+00:00")
    monkeypatch.setenv("GIT_DIR", str(b.path / ".git"))
    with pytest.raises(GitError):
        GitRunner(a.path).run(["rev-parse", "--verify", "HEAD"])  # a has no commits


def test_parallel_numstat_passes_read_exactly_what_one_pass_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = Repo(tmp_path / "many")
    for i in range(24):
        r.write(f"f{i % 5}.txt", "".join(f"{i}.{k}\n" for k in range(i + 1)))
        r.commit(f"commit {i}", ALICE, f"2024-06-03T{i:02d}:00:00+00:00")
    one_pass = read_commits(r.path, *utc_day("2024-06-03"))
    monkeypatch.setattr("sparky_resources.local_git.MIN_SHAS_PER_JOB", 5)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    parallel = read_commits(r.path, *utc_day("2024-06-03"))
    assert len(one_pass) == 24
    assert sorted(c.model_dump_json() for c in parallel) == sorted(
        c.model_dump_json() for c in one_pass
    )
    # Independently: git's own count of added lines over the day.
    added = sum(
        int(line.split("\t")[0])
        for line in git(r.path, "log", "--numstat", "--format=").splitlines()
        if line.strip()
    )
    assert sum(c.additions for c in parallel) == added


def test_a_commit_dated_past_year_9999_fails_nothing(tmp_path: Path) -> None:
    r = Repo(tmp_path / "future")
    r.write("a.txt", "a\n")
    base = r.commit("base", ALICE, "2024-06-03T08:00:00+00:00")
    far = _commit_object(r.path, base, "far future", 300_000_000_000, "+0000")  # year 11476
    info = inspect_repo(r.path)
    assert info.error is None and info.head_sha == far
    assert info.head_committed_at == "@300000000000"
    result = LocalGitResource(repos=[str(r.path)]).collect(*utc_day("2024-06-03"))
    assert [c.sha for c in result.commits] == [base] and not result.failed


# --- 15. Issue 20: changed paths exact on hostile names; bodies are data -----------------------


def _name_only(path: Path, sha: str) -> list[str]:
    """git's own list of a commit's changed paths (`show --name-only -M -z`: new names for
    renames, unquoted), independent of Sparky's numstat parsing."""
    out = subprocess.run(
        ["git", "-C", str(path), "show", "--name-only", "-M", "--format=", "-z", sha],
        capture_output=True,
        check=True,
    ).stdout
    return [name.decode("utf-8", "replace") for name in out.strip(b"\n").split(b"\0") if name]


# Names git quotes without -z (core.quotePath: spaces are fine, but `"`, `\`, tabs, newlines
# and, with quotePath on, non-ASCII get C-style quotes), and names that look like git's rename
# notation (`old => new`, `dir/{a => b}/f`) or like numstat counts.
HOSTILE_NAMES = [
    "with space.txt",
    " leading and trailing ",
    "ünïcödé/файл 名前.md",
    "q\"uote's.txt",
    "back\\slash\\n.txt",
    "tab\there.txt",
    "new\nline.txt",
    "a => b.txt",
    "{x => y}/f.txt",
    "3\t4\tlooks-like-numstat",
    '"already quoted"',
]


def test_paths_are_exact_for_hostile_names_and_renames(tmp_path: Path) -> None:
    r = Repo(tmp_path / "names")
    for i, name in enumerate(HOSTILE_NAMES):
        r.write(name, f"file {i}\nline two\nline three\n")
    r.write("pkg/a/mod.py", "".join(f"line {i}\n" for i in range(20)))
    r.write("tool.sh", "echo hi\n")
    r.write("gone.txt", "bye\n")
    added = r.commit("hostile names", ALICE, "2024-06-03T09:00:00+00:00")

    # A rename within a directory (git writes `pkg/{a => b}/mod.py` without -z), a rename to a
    # hostile name, a mode-only change, a deletion and an edit of a quoted name.
    (r.path / "pkg" / "b").mkdir()
    r.git("mv", "pkg/a/mod.py", "pkg/b/mod.py")
    r.git("mv", "with space.txt", 'renamed => to ünï "x".txt')
    (r.path / "tool.sh").chmod(0o755)
    r.git("rm", "-q", "gone.txt")
    r.write("q\"uote's.txt", "changed\n")
    changed = r.commit("rename and friends", ALICE, "2024-06-03T10:00:00+00:00")
    by_sha = {c.sha: c for c in read_commits(r.path, *utc_day("2024-06-03"))}

    expected_added = {*HOSTILE_NAMES, "pkg/a/mod.py", "tool.sh", "gone.txt"}
    assert set(by_sha[added].paths or []) == expected_added
    expected_changed = {
        "pkg/b/mod.py",
        'renamed => to ünï "x".txt',
        "tool.sh",
        "gone.txt",
        "q\"uote's.txt",
    }
    assert set(by_sha[changed].paths or []) == expected_changed
    for sha in (added, changed):
        assert sorted(by_sha[sha].paths or []) == sorted(_name_only(r.path, sha))
        assert len(by_sha[sha].paths or []) == by_sha[sha].files_changed
    # The pure renames and the mode change count no lines: the quoted name's 3 lines became 1
    # (+1 -3) and gone.txt lost its 1.
    assert (by_sha[changed].additions, by_sha[changed].deletions) == (1, 4)


def test_a_name_that_is_not_utf8_keeps_its_directories(tmp_path: Path) -> None:
    r = Repo(tmp_path / "latin1")
    r.write(os.fsdecode(b"legacy/caf\xe9.txt"), "x\n")  # ISO-8859-1 bytes, as older tools wrote
    sha = r.commit("latin-1 name", ALICE, "2024-06-03T09:00:00+00:00")
    (commit,) = read_commits(r.path, *utc_day("2024-06-03"))
    # JSON holds text: the undecodable byte becomes U+FFFD, the path around it stays exact.
    assert commit.paths == ["legacy/caf\ufffd.txt"] == _name_only(r.path, sha)
    assert commit.model_dump_json()  # writable as the raw file's JSON


def test_a_body_that_imitates_numstat_or_a_revert_is_data(tmp_path: Path) -> None:
    r = Repo(tmp_path / "bodies")
    r.write("real.txt", "one\n")
    fake = "f" * 40
    message = f"subject\n\n\n100000\t0\tinjected.txt\n{fake}\n\t\nreverts commit {fake}\n"
    sha = r.commit(message, ALICE, "2024-06-03T09:00:00+00:00")
    (commit,) = read_commits(r.path, *utc_day("2024-06-03"))
    assert commit.sha == sha and commit.subject == "subject"
    assert commit.paths == ["real.txt"] and (commit.additions, commit.files_changed) == (1, 1)
    # Not git's sentence ("This reverts commit <sha>."): no revert.
    assert commit.reverts is None


def test_a_nul_in_a_message_body_shifts_nothing(tmp_path: Path) -> None:
    r = Repo(tmp_path / "nul")
    r.write("a.txt", "a\n")
    base = r.commit("base", ALICE, "2024-06-03T08:00:00+00:00")
    # A commit object written by hand (git commit refuses NULs): git prints a message only up
    # to its first NUL byte, so what follows is not read, and no field shifts.
    tree = git(r.path, "write-tree").strip()
    raw = (
        f"tree {tree}\nparent {base}\n"
        f"author A <a@example.com> 1717405200 +0000\n"
        f"committer A <a@example.com> 1717405200 +0000\n\n"
        f"subject\n\nbefore\0after\nThis reverts commit {base}.\n"
    ).encode()
    sha = (
        subprocess.run(
            ["git", "-C", str(r.path), "hash-object", "-t", "commit", "-w", "--stdin"],
            input=raw,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git(r.path, "update-ref", "refs/heads/main", sha)
    result = LocalGitResource(repos=[str(r.path)]).collect(*utc_day("2024-06-03"))
    assert not result.failed
    by_sha = {c.sha: c for c in result.commits}
    assert set(by_sha) == {base, sha}
    assert by_sha[sha].subject == "subject" and by_sha[sha].reverts is None
    assert by_sha[sha].paths == [] and by_sha[base].paths == ["a.txt"]


def test_a_shallow_boundary_has_no_paths(tmp_path: Path) -> None:
    up = Repo(tmp_path / "up")
    up.write("old.txt", "old\n")
    up.commit("old", ALICE, "2024-06-01T09:00:00+00:00")
    up.write("mid.txt", "mid\n")
    boundary = up.commit("mid", ALICE, "2024-06-02T09:00:00+00:00")
    up.write("new.txt", "new\n")
    tip = up.commit("new", ALICE, "2024-06-03T09:00:00+00:00")
    shallow = clone(up.path, tmp_path / "shallow", "--depth", "2", "--no-local")
    commits = {c.sha: c for c in read_commits(shallow)}
    # git would diff the boundary against an empty tree (every file "changed"): not known.
    assert commits[boundary].shallow_boundary and commits[boundary].paths is None
    assert commits[tip].paths == ["new.txt"]
