"""LocalGitResource: commits with line stats from local clones, in one `git log` pass each.

Why not one GitPython object per commit: that costs about 14x more than parsing
`git log --numstat` once. GitPython is used where it is cheap and clear: opening a clone and
resolving its default branch.

Windowing is by committer date and done here, not by `git log --since`: git stops walking
shortly after it meets commits older than `--since`, so a commit whose date is older than its
parent's can hide commits behind it. A cheap walk without diffs (`%H %ct`) picks the commits
of the window; then one `git log --numstat` pass reads exactly those commits.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import git

from sparky_resources.config import repo_name
from sparky_resources.models import CommitRecord, RepoCoverage, RepoInfo

_RS, _US = "\x1e", "\x1f"
# Placeholders with N/E respect .mailmap (for bare clones git reads HEAD:.mailmap).
_FORMAT = _US.join(["%H", "%P", "%aN", "%aE", "%cN", "%cE", "%aI", "%cI", "%s"])
_FIELDS = 9
# Options that pin down output a user's git config could otherwise change.
_STABLE = [
    "-c",
    "log.showRoot=true",
    "-c",
    "log.showSignature=false",
    "-c",
    "core.quotePath=true",
    "-c",
    "diff.renames=true",
]
_LOG_OPTS = ["--no-color", "--no-textconv", "--no-ext-diff", "--numstat", "-M"]


class GitError(RuntimeError):
    """A git command failed; the message is git's own first line of complaint."""


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANG="C", GIT_PAGER="cat", PAGER="cat")
    return env


def _run_git(path: Path, args: Sequence[str], stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(path), *_STABLE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=git_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise GitError(_first_line(proc.stderr) or f"git {args[0]} exited with {proc.returncode}")
    return proc.stdout


def _first_line(text: str) -> str:
    """git's complaint in one line: the first fatal/error line, else the first line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal: ", "error: "))]
    line = (errors or lines or [""])[0]
    return line.removeprefix("fatal: ").removeprefix("error: ")


def inspect_repo(path: str | Path) -> RepoInfo:
    """Open a clone (work tree or bare) and find the branch Sparky reads; never raises."""
    p = Path(path).expanduser().resolve()
    name = repo_name(p)
    try:
        if not p.exists():
            raise GitError(f"no such path: {p}")
        if not os.access(p, os.R_OK | os.X_OK):
            raise GitError(f"cannot read {p}: permission denied")
        repo = git.Repo(p)
    except git.InvalidGitRepositoryError:
        return RepoInfo(name=name, path=str(p), error=f"not a git repository: {p}")
    except (git.NoSuchPathError, GitError, OSError) as exc:
        return RepoInfo(name=name, path=str(p), error=str(exc) or exc.__class__.__name__)
    try:
        with repo:
            refs = default_refs(p)
            head = _run_git(p, ["log", "-1", "--format=%H%x1f%cI", *refs]).strip() if refs else ""
            sha, _, committed = head.partition(_US)
            return RepoInfo(
                name=name,
                path=str(p),
                bare=repo.bare,
                refs=refs,
                head_sha=sha or None,
                head_committed_at=committed or None,
            )
    except (GitError, git.GitCommandError, OSError) as exc:
        return RepoInfo(name=name, path=str(p), error=f"cannot read {p}: {exc}")


def _resolves(path: Path, ref: str) -> bool:
    try:
        _run_git(path, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
    except GitError:
        return False
    return True


def default_refs(path: Path) -> list[str]:
    """The refs of the clone's default branch, whatever branch is checked out.

    With an `origin/HEAD` (a clone): the remote's default branch as last fetched, plus the local
    branch of the same name, so both fetched and pulled (or not yet pushed) work count. Without
    one: `HEAD` (for a bare repository, its default branch). Empty for a repository without
    commits yet; GitError for one whose refs do not resolve.
    """
    if _resolves(path, "refs/remotes/origin/HEAD"):
        target = _run_git(path, ["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"]).strip()
        target = target or "refs/remotes/origin/HEAD"
        local = "refs/heads/" + target.removeprefix("refs/remotes/origin/")
        return [target, local] if _resolves(path, local) else [target]
    if _resolves(path, "HEAD"):
        return ["HEAD"]
    # "No commits yet" has no refs at all; refs that do not resolve mean a broken repository.
    if _run_git(path, ["for-each-ref", "--count=1", "--format=%(refname)"]).strip():
        raise GitError("the default branch does not point at a readable commit")
    return []


def _select_window(
    path: Path, refs: Sequence[str], start: dt.datetime | None, end: dt.datetime | None
) -> tuple[list[str], bool]:
    """Shas of the refs' history with committer date in [start, end), and whether that is all."""
    out = _run_git(path, ["log", "--format=%H %ct", *refs])
    lo = start.timestamp() if start else float("-inf")
    hi = end.timestamp() if end else float("inf")
    chosen, total = [], 0
    for line in out.splitlines():
        sha, _, ts = line.partition(" ")
        total += 1
        if lo <= int(ts) < hi:
            chosen.append(sha)
    return chosen, len(chosen) == total


def log_argv(path: Path, *args: str) -> list[str]:
    """The `git log --numstat` command line Sparky parses (the benchmark's baseline runs it too)."""
    return ["git", "-C", str(path), *_STABLE, "log", f"--format={_RS}{_FORMAT}", *_LOG_OPTS, *args]


def _stream_log(argv: Sequence[str], stdin: str | None) -> Iterator[str]:
    """Yield git log's stdout line by line, feeding stdin from a thread (no pipe deadlock)."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=git_env(),
        bufsize=1 << 20,
    )
    errors: list[str] = []

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin or "")
            proc.stdin.close()
        except BrokenPipeError:
            pass

    def drain() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    threads = [threading.Thread(target=drain, daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()
    assert proc.stdout is not None
    try:
        yield from proc.stdout
    finally:
        proc.stdout.close()
        code = proc.wait()
        for t in threads:
            t.join()
    if code != 0:
        raise GitError(_first_line("".join(errors)) or f"git log exited with {code}")


@dataclass
class _Pending:
    header: list[str]
    additions: int = 0
    deletions: int = 0
    files: int = 0
    binary: int = 0


def parse_log(lines: Iterable[str], repo: str) -> Iterator[CommitRecord]:
    """Parse `git log --format=<_FORMAT with RS prefix> --numstat` output into records."""
    pending: _Pending | None = None
    for line in lines:
        if line.startswith(_RS):
            if pending is not None:
                yield _record(pending, repo)
            header = line[1:].rstrip("\n").split(_US, _FIELDS - 1)
            if len(header) != _FIELDS:
                raise GitError(f"unexpected git log output: {line[:80]!r}")
            pending = _Pending(header)
            continue
        if pending is None or line == "\n" or not line.strip():
            continue
        added, _, rest = line.partition("\t")
        deleted, _, _ = rest.partition("\t")
        pending.files += 1
        if added == "-":
            pending.binary += 1
        else:
            pending.additions += int(added)
            pending.deletions += int(deleted)
    if pending is not None:
        yield _record(pending, repo)


def _record(p: _Pending, repo: str) -> CommitRecord:
    sha, parents, an, ae, cn, ce, ai, ci, subject = p.header
    parent_list = parents.split()
    return CommitRecord(
        repo=repo,
        sha=sha,
        parents=parent_list,
        author_name=an,
        author_email=ae,
        committer_name=cn,
        committer_email=ce,
        authored_at=ai,
        committed_at=ci,
        subject=subject,
        additions=p.additions,
        deletions=p.deletions,
        files_changed=p.files,
        binary_files=p.binary,
        is_merge=len(parent_list) > 1,
    )


def read_commits(
    path: str | Path,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    name: str | None = None,
    refs: Sequence[str] | None = None,
) -> list[CommitRecord]:
    """Commits on the clone's default branch with committer date in [start, end).

    `start`/`end` must be timezone-aware; None means unbounded. Raises GitError.
    """
    p = Path(path).expanduser().resolve()
    name = name or repo_name(p)
    refs = default_refs(p) if refs is None else refs
    if not refs:
        return []
    if start is not None or end is not None:
        shas, everything = _select_window(p, refs, start, end)
        if not shas:
            return []
        if not everything:
            argv = log_argv(p, "--no-walk=unsorted", "--stdin")
            return list(parse_log(_stream_log(argv, "\n".join(shas) + "\n"), name))
    return list(parse_log(_stream_log(log_argv(p, *refs), None), name))


@dataclass
class CollectionResult:
    """Commits of a window across clones (deduplicated by sha) and how each clone went."""

    commits: list[CommitRecord] = field(default_factory=list)
    coverage: list[RepoCoverage] = field(default_factory=list)

    @property
    def failed(self) -> list[RepoCoverage]:
        return [c for c in self.coverage if c.status == "failed"]


class LocalGitResource(dg.ConfigurableResource):
    """Any number of local clones (work trees or bare), read with one `git log` pass each."""

    repos: list[str]

    def inspect(self) -> list[RepoInfo]:
        return [inspect_repo(p) for p in self.repos]

    def collect(self, start: dt.datetime | None, end: dt.datetime | None) -> CollectionResult:
        """Read every clone; a clone that fails is reported and the others still collected."""
        result = CollectionResult()
        seen: set[str] = set()
        for info in self.inspect():
            if info.error:
                result.coverage.append(
                    RepoCoverage(repo=info.name, status="failed", error=info.error)
                )
                continue
            try:
                commits = read_commits(info.path, start, end, name=info.name, refs=info.refs)
            except (GitError, OSError, ValueError) as exc:
                result.coverage.append(
                    RepoCoverage(repo=info.name, status="failed", error=f"{info.path}: {exc}")
                )
                continue
            fresh = [c for c in commits if c.sha not in seen]
            seen.update(c.sha for c in fresh)
            result.commits.extend(fresh)
            result.coverage.append(RepoCoverage(repo=info.name, status="ok", commits=len(fresh)))
        return result
