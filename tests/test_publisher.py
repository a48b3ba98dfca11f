"""Tests for `sparky_resources.publisher` against real git repositories (a bare one as remote).

Expected values come from `git log`/`git rev-parse` run here, never from the code under test.
A race is staged with a `post-commit` hook in the publishing clone: it pushes another clone's
prepared commit right after Sparky commits, i.e. after Sparky fetched and before it pushes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from gitrepo import ALICE, Repo

from sparky_resources.config import load_config
from sparky_resources.publisher import (
    GitPublisherResource,
    PublishConflict,
    PublishError,
    PushRejected,
    digest_files,
    publisher_from_config,
)

AUTHOR = ("Digest Bot", "digest-bot@example.com")
TOKEN = "s3cr3t-token"


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user git config reaches the publisher (it drops GIT_*, so point HOME elsewhere)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("SPARKY_PUBLISH_TOKEN", raising=False)


def bare(path: Path) -> Repo:
    return Repo(path, bare=True)


def clone(remote: Path, path: Path) -> Repo:
    Repo.open(remote.parent).git("clone", "-q", str(remote), str(path))
    repo = Repo.open(path)
    repo.git("config", "user.name", "Other Person")
    repo.git("config", "user.email", "other@example.com")
    return repo


def publisher(work_tree: Path, remote: Path | str = "", **kw: object) -> GitPublisherResource:
    return GitPublisherResource(
        work_tree=str(work_tree),
        remote=str(remote),
        author_name=AUTHOR[0],
        author_email=AUTHOR[1],
        **kw,  # type: ignore[arg-type]
    )


def output(folder: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return digest_files(folder)


def log(repo: Repo, *args: str) -> list[str]:
    return repo.git("log", "--format=%H%x09%an <%ae>%x09%cn <%ce>%x09%s", *args).splitlines()


def race_hook(work_tree: Path, other: Repo) -> Path:
    """A post-commit hook in `work_tree` that pushes `other`'s main once; returns its marker."""
    marker = work_tree.parent / "raced"
    hook = work_tree / ".git" / "hooks" / "post-commit"
    hook.write_text(
        "#!/bin/sh\n"
        f'[ -e "{marker}" ] && exit 0\n'
        f'touch "{marker}"\n'
        'for v in $(env | sed -n "s/^\\(GIT_[A-Za-z_]*\\)=.*/\\1/p"); do unset "$v"; done\n'
        f'exec git -C "{other.path}" push -q origin main\n',
        encoding="utf-8",
    )
    hook.chmod(0o755)
    return marker


def test_first_publish_into_empty_remote_creates_the_branch(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    files = output(tmp_path / "out", {"daily/2026-11-27.md": "# day\n", "index.md": "# idx\n"})

    result = publisher(tmp_path / "site", remote.path, push=True).publish(
        files, "digest: daily 2026-11-27"
    )

    commits = log(remote, "main")
    assert len(commits) == 1
    sha, author, committer, subject = commits[0].split("\t")
    assert result.commit == sha
    assert author == committer == f"{AUTHOR[0]} <{AUTHOR[1]}>"
    assert subject == "digest: daily 2026-11-27"
    assert sorted(remote.git("ls-tree", "-r", "--name-only", "main").split()) == [
        "daily/2026-11-27.md",
        "index.md",
    ]
    assert result.changed == ["daily/2026-11-27.md", "index.md"]
    assert result.pushed and result.push_attempts == 1
    assert result.target == str(tmp_path / "site")
    url = Repo.open(tmp_path / "site").git("remote", "get-url", "origin").strip()
    assert url == str(remote.path)


def test_same_files_again_make_no_commit_and_no_push(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    files = output(tmp_path / "out", {"daily/2026-11-27.md": "# day\n"})
    pub = publisher(tmp_path / "site", remote.path, push=True)
    pub.publish(files, "digest: daily 2026-11-27")
    before = remote.git("rev-parse", "main").strip()

    again = pub.publish(files, "digest: daily 2026-11-27")

    assert again.commit is None
    assert again.changed == []
    assert not again.pushed and again.push_attempts == 0
    assert remote.git("rev-parse", "main").strip() == before
    assert len(log(Repo.open(tmp_path / "site"))) == 1


def test_changed_content_makes_exactly_one_commit(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    out = tmp_path / "out"
    pub = publisher(tmp_path / "site", remote.path, push=True)
    pub.publish(output(out, {"daily/a.md": "1\n", "daily/b.md": "1\n"}), "digest: daily one")
    first = remote.git("rev-parse", "main").strip()

    result = pub.publish(output(out, {"daily/b.md": "2\n"}), "digest: daily 2026-11-28")

    commits = log(remote, f"{first}..main")
    assert len(commits) == 1
    assert commits[0].split("\t")[3] == "digest: daily 2026-11-28"
    assert result.commit == commits[0].split("\t")[0]
    shown = remote.git("show", "--name-only", "--format=", "main").split()
    assert shown == ["daily/b.md"] == result.changed
    assert remote.git("show", "main:daily/b.md") == "2\n"


def test_files_sparky_did_not_write_are_kept(tmp_path: Path) -> None:
    site = Repo(tmp_path / "site")
    site.write("README.md", "# docs\n")
    site.write("digests/daily/old-by-hand.md", "hand-written\n")
    site.commit("docs", ALICE, "2026-01-01T00:00:00+00:00")
    site.write("notes.txt", "untracked\n")
    site.write("README.md", "# docs, edited and staged\n")
    site.git("add", "README.md")

    result = publisher(site.path, subdir="digests").publish(
        output(tmp_path / "out", {"daily/2026-11-27.md": "# day\n"}), "digest: daily x"
    )

    assert (site.path / "notes.txt").read_text() == "untracked\n"
    assert (site.path / "digests/daily/old-by-hand.md").read_text() == "hand-written\n"
    tree = site.git("ls-tree", "-r", "--name-only", "HEAD").split()
    assert sorted(tree) == [
        "README.md",
        "digests/daily/2026-11-27.md",
        "digests/daily/old-by-hand.md",
    ]
    assert site.git("show", "HEAD:README.md") == "# docs\n"  # someone's staged edit: not ours
    assert site.git("diff", "--cached", "--name-only").split() == ["README.md"]
    assert result.changed == ["digests/daily/2026-11-27.md"]


def test_race_is_fetched_rebased_and_pushed_without_force(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    out = tmp_path / "out"
    site = tmp_path / "site"
    pub = publisher(site, remote.path, push=True)
    pub.publish(output(out, {"daily/a.md": "1\n"}), "digest: daily a")
    other = clone(remote.path, tmp_path / "other")
    other.write("other.md", "theirs\n")
    other.git("add", "other.md")
    other.git("commit", "-q", "-m", "other: unrelated")
    theirs = other.git("rev-parse", "HEAD").strip()
    marker = race_hook(site, other)

    result = pub.publish(output(out, {"daily/a.md": "2\n"}), "digest: daily b")

    assert marker.exists()  # the race happened between our fetch and our push
    assert result.pushed and result.push_attempts == 2
    tip = remote.git("rev-parse", "main").strip()
    assert (
        subprocess.run(
            ["git", "-C", str(remote.path), "merge-base", "--is-ancestor", theirs, tip]
        ).returncode
        == 0
    )
    subjects = [c.split("\t")[3] for c in log(remote, "main")]
    assert subjects == ["digest: daily b", "other: unrelated", "digest: daily a"]
    assert result.commit is not None
    assert tip == Repo.open(site).git("rev-parse", "HEAD").strip()


def test_hook_rejection_is_reported_once_and_changes_nothing(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    out = tmp_path / "out"
    pub = publisher(tmp_path / "site", remote.path, push=True, max_push_attempts=3)
    pub.publish(output(out, {"daily/a.md": "1\n"}), "digest: daily a")
    before = remote.git("rev-parse", "main").strip()
    calls = tmp_path / "hook-calls"
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text(
        f'#!/bin/sh\necho called >> "{calls}"\necho "digests are frozen today" >&2\nexit 1\n'
    )
    hook.chmod(0o755)

    with pytest.raises(PushRejected) as excinfo:
        pub.publish(output(out, {"daily/a.md": "2\n"}), "digest: daily b")

    message = str(excinfo.value)
    assert "digests are frozen today" in message
    assert "pre-receive hook declined" in message
    assert "\n" not in message
    assert remote.git("rev-parse", "main").strip() == before
    assert calls.read_text().splitlines() == ["called"]


def test_conflicting_race_aborts_the_rebase_and_keeps_the_commit(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    out = tmp_path / "out"
    site = tmp_path / "site"
    pub = publisher(site, remote.path, push=True)
    pub.publish(output(out, {"daily/a.md": "1\n"}), "digest: daily a")
    base = remote.git("rev-parse", "main").strip()
    other = clone(remote.path, tmp_path / "other")
    other.write("daily/a.md", "theirs\n")
    other.git("commit", "-q", "-am", "other: same file")
    theirs = other.git("rev-parse", "HEAD").strip()
    race_hook(site, other)

    with pytest.raises(PublishConflict) as excinfo:
        pub.publish(output(out, {"daily/a.md": "ours\n"}), "digest: daily b")

    assert "rebase aborted" in str(excinfo.value)
    ours = Repo.open(site)
    assert ours.git("status", "--porcelain") == ""
    git_dir = site / ".git"
    assert not (git_dir / "rebase-merge").exists() and not (git_dir / "rebase-apply").exists()
    assert ours.git("log", "-1", "--format=%s").strip() == "digest: daily b"
    assert ours.git("rev-parse", "HEAD~1").strip() == base
    assert ours.git("show", "HEAD:daily/a.md") == "ours\n"
    assert remote.git("rev-parse", "main").strip() == theirs


def test_token_never_reaches_errors_or_the_git_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKY_PUBLISH_TOKEN", TOKEN)
    site = Repo(tmp_path / "site")
    files = output(tmp_path / "out", {"daily/a.md": "1\n"})

    with pytest.raises(PublishError) as excinfo:
        publisher(
            site.path, "https://127.0.0.1:9/x.git", push=True, timeout_s=30, token=TOKEN
        ).publish(files, "digest: daily a")
    with pytest.raises(PublishError) as with_userinfo:
        publisher(site.path, f"https://user:{TOKEN}@127.0.0.1:9/x.git").publish(files, "d")

    for message in (str(excinfo.value), str(with_userinfo.value)):
        assert TOKEN not in message
        assert "\n" not in message
    assert "127.0.0.1" in str(excinfo.value)
    leaked = [
        p
        for p in (site.path / ".git").rglob("*")
        if p.is_file() and TOKEN.encode() in p.read_bytes()
    ]
    assert leaked == []
    assert "@" not in site.git("config", "--get", "remote.origin.url")
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("sparky-askpass-*/askpass.sh"))


def test_remote_only_config_clones_under_data_cache(tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    cfg_file = tmp_path / "app" / "sparky.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(
        '[sparky]\nstart_date = 2024-01-01\n[local]\nrepos = ["."]\n'
        f'[publish]\nremote = "{remote.path}"\npush = true\nauthor_name = "{AUTHOR[0]}"\n'
        f'author_email = "{AUTHOR[1]}"\nsubdir = "sparky"\n',
        encoding="utf-8",
    )
    cfg = load_config(cfg_file)
    pub = publisher_from_config(cfg)
    assert pub is not None

    result = pub.publish(output(tmp_path / "out", {"index.md": "# i\n"}), "digest: index")

    target = Path(result.target)
    assert target.parent == (tmp_path / "app" / "data" / "cache" / "publish").resolve()
    assert target == cfg.publish_target
    assert (target / ".git").is_dir()
    assert (target / "sparky" / "index.md").read_text() == "# i\n"
    assert remote.git("log", "-1", "--format=%an <%ae>", "main").strip() == (
        f"{AUTHOR[0]} <{AUTHOR[1]}>"
    )
    assert remote.git("ls-tree", "-r", "--name-only", "main").split() == ["sparky/index.md"]


def test_unconfigured_publish_gives_no_resource(tmp_path: Path) -> None:
    cfg_file = tmp_path / "sparky.toml"
    cfg_file.write_text('[sparky]\nstart_date = 2024-01-01\n[local]\nrepos = ["."]\n')
    assert publisher_from_config(load_config(cfg_file)) is None


@pytest.mark.parametrize("bad", ["../x.md", "/etc/passwd", ".git/config", "a/../../b"])
def test_paths_outside_the_target_are_refused(tmp_path: Path, bad: str) -> None:
    src = tmp_path / "f.md"
    src.write_text("x")
    with pytest.raises(PublishError):
        publisher(tmp_path / "site").publish({bad: src}, "digest: x")
    assert not (tmp_path / "x.md").exists()


# --- a fresh clone of an empty docs repository (issue 16, item 5) -----------------------------


def empty_remote_and_clone(tmp_path: Path) -> tuple[Repo, Repo]:
    """An empty bare remote whose HEAD names `master` (git's default before 3.0, and what
    GitHub's empty repository gave the user), and a `git clone` of it: an unborn `master`."""
    remote = Repo.open(tmp_path / "remote.git")
    (tmp_path / "remote.git").mkdir()
    remote.git("init", "-q", "--bare", "-b", "master")
    return remote, clone(remote.path, tmp_path / "docs")


def test_fresh_clone_of_an_empty_remote_publishes_to_the_configured_branch(
    tmp_path: Path,
) -> None:
    remote, docs = empty_remote_and_clone(tmp_path)
    assert docs.git("symbolic-ref", "HEAD").strip() == "refs/heads/master"
    unborn = subprocess.run(["git", "-C", str(docs.path), "rev-parse", "--verify", "-q", "HEAD"])
    assert unborn.returncode != 0  # no commit yet: an unborn branch
    files = output(tmp_path / "out", {"daily/2026-11-27.md": "# day\n"})

    result = publisher(docs.path, remote.path, push=True, branch="main").publish(
        files, "digest: daily 2026-11-27"
    )

    assert result.pushed and result.push_attempts == 1
    assert docs.git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert remote.git("rev-parse", "main").strip() == result.commit
    assert remote.git("show", "main:daily/2026-11-27.md") == "# day\n"
    assert remote.git("for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]


def test_clone_with_commits_on_another_branch_is_still_refused(tmp_path: Path) -> None:
    remote, docs = empty_remote_and_clone(tmp_path)
    docs.write("README.md", "# docs\n")
    docs.git("add", "README.md")
    docs.git("commit", "-q", "-m", "docs: start")
    before = docs.git("rev-parse", "HEAD").strip()

    with pytest.raises(PublishError) as excinfo:
        publisher(docs.path, remote.path, push=True, branch="main").publish(
            output(tmp_path / "out", {"index.md": "# i\n"}), "digest: index"
        )

    message = str(excinfo.value)
    assert f"{docs.path} has master checked out, not main" in message
    assert "\n" not in message
    assert docs.git("symbolic-ref", "HEAD").strip() == "refs/heads/master"
    assert docs.git("rev-parse", "HEAD").strip() == before
    assert not (docs.path / "index.md").exists()
    assert remote.git("for-each-ref").strip() == ""
