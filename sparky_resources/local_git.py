"""LocalGitResource: commits with line stats from local clones, exact on hostile repositories.

Why not one GitPython object per commit: that costs about 14x more than parsing
`git log --numstat` once. Every git call goes through `GitRunner`, which runs git with a clean
environment (no inherited `GIT_DIR`/`GIT_WORK_TREE`/`GIT_INDEX_FILE` from a hook or
`git bisect run`), output settings pinned with `-c`, and a timeout.

Parsing is over bytes with NUL-delimited fields (`-z`, `%x00`): any byte git allows in a
name, email or message (`\\r`, `\\x1f`, tabs, "100000\\t0\\tinjected") is data, never structure.
Each commit's fields end with its sha again, so a record that does not parse is an error
naming the commit, never a silent shift.

Windowing is by the committer epoch (`%ct`), not by `git log --since`: git stops walking
shortly after it meets commits older than `--since`, so a commit whose date is older than its
parent's can hide commits behind it. The `%H %ct` listing of the default branch is cached per
clone and extended incrementally (`old..new`), so a day's run costs what the day's commits
cost; then one `git log --numstat` pass reads exactly the window's commits.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import urllib.parse
from array import array
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from sparky_resources.config import repo_name, work_tree_path
from sparky_resources.github_records import reverted_sha
from sparky_resources.models import (
    CommitRecord,
    FirstCommit,
    FirstCommits,
    LocalTagRecord,
    RepoCoverage,
    RepoInfo,
)
from sparky_resources.store import atomic_write_bytes

DEFAULT_TIMEOUT_S = 300.0
# Parallel numstat passes for large windows: at most this many, each with at least this many
# commits (below that, starting another git costs more than it saves).
MAX_JOBS = 8
MIN_SHAS_PER_JOB = 32
# Where a remote has no usable `HEAD`, the names its default branch most likely has, in order.
FALLBACK_BRANCHES = ("main", "master", "trunk")

# Settings a user's git config could change and that would change what Sparky parses or counts
# (git-config(1)). Defaults are git's own where a user setting would alter the numbers.
_PINNED_CONFIG = {
    "i18n.logOutputEncoding": "UTF-8",
    "log.showRoot": "true",
    "log.showSignature": "false",
    "log.mailmap": "true",
    "log.follow": "false",
    "color.ui": "false",
    "core.quotePath": "false",
    "core.bigFileThreshold": "512m",
    "diff.renames": "true",
    "diff.renameLimit": "1000",
    "diff.relative": "false",
    "diff.algorithm": "myers",
    "diff.ignoreSubmodules": "none",
}
_STABLE = [arg for key, value in _PINNED_CONFIG.items() for arg in ("-c", f"{key}={value}")]
# Placeholders with N/E respect .mailmap (for bare clones git reads HEAD:.mailmap). `%b` is the
# body (after the subject's paragraph): a merge's title and a revert's "This reverts commit"
# line are read from it in this same pass. git prints a message only up to a NUL byte, so a
# body cannot shift the fields; the sha is repeated last to prove they did not shift.
_FIELDS = ["%H", "%P", "%aN", "%aE", "%cN", "%cE", "%at", "%ct", "%aI", "%cI", "%s", "%b", "%H"]
_FORMAT = "%x00".join(_FIELDS)
# NUL-terminated fields, and a diff as git itself computes it: no colour, no textconv filters,
# no external diff driver (a repository's .gitattributes cannot change what is counted).
_PLAIN = ["-z", "--no-color", "--no-textconv", "--no-ext-diff"]
# Lines added and deleted per file (`--numstat`), renames as one file (`-M`), no merge diffs.
_LOG_OPTS = [*_PLAIN, "--diff-merges=off", "--numstat", "-M"]
_SHA = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_STAT = re.compile(rb"(\d+|-)\t(\d+|-)\t")
# A merge title is one line of the body, kept short (it is a heading, not the notes).
MERGE_TITLE_MAX = 200


class GitError(RuntimeError):
    """A git command failed; the message is git's own first line of complaint."""


class GitTimeout(GitError):
    """A git command ran longer than the configured timeout and was stopped."""


class UnparseableCommit(GitError):
    """git printed a commit record Sparky cannot read; names the commit."""


def git_env(path: Path) -> dict[str, str]:
    """The environment git runs in: the caller's, minus every `GIT_*` variable.

    An inherited `GIT_DIR` (git hooks, `git bisect run`) would make every clone read the same
    repository; `GIT_CEILING_DIRECTORIES` stops discovery at the configured folder, so a plain
    folder inside some other repository is "not a git repository", not that other one.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_PAGER="cat",
        PAGER="cat",
        LC_ALL="C",
        LANG="C",
        GIT_CEILING_DIRECTORIES=str(path.parent),
    )
    return env


def first_line(text: str) -> str:
    """git's complaint in one line: the first fatal/error line, else the first line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal: ", "error: "))]
    line = (errors or lines or [""])[0]
    return line.removeprefix("fatal: ").removeprefix("error: ")


@dataclass(frozen=True)
class GitRunner:
    """Runs git in one repository folder: clean environment, pinned config, a timeout."""

    path: Path
    timeout_s: float = DEFAULT_TIMEOUT_S

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["git", "-C", str(self.path), *_STABLE, *args]

    def run(self, args: Sequence[str], stdin: bytes | None = None) -> bytes:
        try:
            proc = subprocess.run(
                self.argv(args),
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                env=git_env(self.path),
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitTimeout(
                f"git {args[0]} took longer than {self.timeout_s:g} s "
                "(raise [local].git_timeout_s for very large repositories)"
            ) from None
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace")
            raise GitError(first_line(stderr) or f"git {args[0]} exited with {proc.returncode}")
        return proc.stdout

    def text(self, args: Sequence[str]) -> str:
        return self.run(args).decode("utf-8", "replace")

    def resolves(self, ref: str) -> str | None:
        """The commit a ref points at, or None."""
        try:
            return self.text(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"]).strip()
        except GitError:
            return None

    def resolves_blob(self, spec: str) -> str | None:
        """The blob a `rev:path` names, or None."""
        try:
            return self.text(["rev-parse", "--verify", "--quiet", f"{spec}^{{blob}}"]).strip()
        except GitError:
            return None


# ---------------------------------------------------------------------------------------------
# Which branch is "the default branch"
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultBranch:
    """The refs Sparky reads for a clone, the branch's name, and why these."""

    refs: list[str]
    branch: str | None
    reason: str
    fallback: bool = False


def _branch_of(git: GitRunner) -> str | None:
    try:
        head = git.text(["symbolic-ref", "--quiet", "HEAD"]).strip()
    except GitError:
        return None
    return head.removeprefix("refs/heads/") or None


def resolve_default_branch(git: GitRunner, *, count_unpushed: bool = False) -> DefaultBranch:
    """The clone's default branch, whatever branch is checked out.

    Rule: with a remote (`origin`, else the only remote), the remote's default branch as last
    fetched: `<remote>/HEAD`; where that is missing or dangling (the remote renamed its branch
    and the clone was pruned), the remote's `main`, `master` or `trunk`. Local commits that
    were never pushed count only with `count_unpushed` (the local branch of the same name is
    read too); otherwise a stale local branch whose work was squash-merged upstream would
    count twice. Without a remote, or a remote with no fetched branches (bare mirrors), `HEAD`.
    """
    remotes = git.text(["remote"]).split()
    remote = "origin" if "origin" in remotes else (remotes[0] if len(remotes) == 1 else None)
    local_head = _branch_of(git)
    if remote is not None:
        prefix = f"refs/remotes/{remote}/"
        fetched = git.text(["for-each-ref", "--format=%(refname)", prefix]).split()
        target = None
        with contextlib.suppress(GitError):
            target = git.text(["symbolic-ref", "--quiet", f"{prefix}HEAD"]).strip() or None
        chosen, why, fallback = None, "", False
        if target and git.resolves(target):
            chosen, why = target, f"{remote}/HEAD points at it"
        elif fetched:
            missing = (
                f"{remote}/HEAD points at {target.removeprefix('refs/remotes/')}, which is gone"
                if target
                else f"{remote}/HEAD is not set"
            )
            for name in FALLBACK_BRANCHES:
                if f"{prefix}{name}" in fetched and git.resolves(f"{prefix}{name}"):
                    chosen, why, fallback = f"{prefix}{name}", f"{missing}; using {name}", True
                    break
            else:
                why = f"{missing} and the remote has none of {', '.join(FALLBACK_BRANCHES)}"
        if chosen is not None:
            branch = chosen.removeprefix(prefix)
            refs = [chosen]
            local = f"refs/heads/{branch}"
            if count_unpushed and git.resolves(local):
                refs.append(local)
                why += "; unpushed local commits counted ([local].count_unpushed)"
            return DefaultBranch(refs, branch, f"{remote}/{branch}: {why}", fallback)
        if fetched:  # a remote with branches, none of them the default: say so, read HEAD
            return _head(git, local_head, f"{why}; reading HEAD", fallback=True)
        return _head(git, local_head, f"remote {remote} has no fetched branches; reading HEAD")
    return _head(git, local_head, "no remote; reading HEAD")


def _head(git: GitRunner, branch: str | None, why: str, *, fallback: bool = False) -> DefaultBranch:
    if git.resolves("HEAD"):
        return DefaultBranch(["HEAD"], branch, f"{branch or 'detached HEAD'}: {why}", fallback)
    # "No commits yet" has no refs at all; refs that do not resolve mean a broken repository.
    if git.text(["for-each-ref", "--count=1", "--format=%(refname)"]).strip():
        raise GitError("the default branch does not point at a readable commit")
    return DefaultBranch([], branch, f"{branch or 'HEAD'}: no commits yet", fallback)


# ---------------------------------------------------------------------------------------------
# Opening a clone
# ---------------------------------------------------------------------------------------------


def _public(message: str, path: Path, name: str) -> str:
    """An error for coverage files and digests: the server's paths replaced by the repo's name."""
    for p in sorted({str(path), str(path / ".git")}, key=len, reverse=True):
        message = message.replace(p, f"<{name}>")
    return message


@dataclass(frozen=True)
class CloneState:
    """An opened clone: its runner, default branch and shallow boundary."""

    name: str
    git: GitRunner
    bare: bool
    default: DefaultBranch
    shallow: bool
    shallow_boundary: frozenset[str]
    git_dir: Path


def open_clone(
    path: str | Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    count_unpushed: bool = False,
    name: str | None = None,
) -> CloneState:
    """Open a clone (work tree, bare, or its `.git` folder); GitError says why it cannot be read."""
    p = work_tree_path(path)
    name = name or repo_name(p)
    if not p.exists():
        raise GitError("the configured path does not exist")
    if not os.access(p, os.R_OK | os.X_OK):
        raise GitError("permission denied")
    git = GitRunner(p, timeout_s)
    try:
        out = git.text(
            ["rev-parse", "--is-bare-repository", "--is-shallow-repository", "--absolute-git-dir"]
        ).split("\n")
    except GitError as exc:
        if "not a git repository" in str(exc):
            raise GitError("not a git repository") from None
        raise GitError(_public(str(exc), p, name)) from None
    bare, shallow, git_dir = out[0] == "true", out[1] == "true", Path(out[2])
    boundary: frozenset[str] = frozenset()
    if shallow:
        common = Path(git.text(["rev-parse", "--path-format=absolute", "--git-common-dir"]).strip())
        shallow_file = common / "shallow"
        if shallow_file.exists():
            boundary = frozenset(shallow_file.read_text(encoding="ascii").split())
    try:
        default = resolve_default_branch(git, count_unpushed=count_unpushed)
    except GitError as exc:
        raise GitError(_public(str(exc), p, name)) from None
    return CloneState(name, git, bare, default, shallow, boundary, git_dir)


# ---------------------------------------------------------------------------------------------
# The clone's place on GitHub
# ---------------------------------------------------------------------------------------------

# GitHub's names: an owner is letters, digits and hyphens, starting with a letter or digit; a
# repository name is letters, digits, `.`, `_` and `-`. Anything else is not a GitHub repository
# (and never reaches a link).
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# git's scp-like form `[user@]host:path` (git-clone(1), "GIT URLS"): no scheme, a colon before
# any slash.
_SCP = re.compile(r"(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>[^/].*)")


def github_web_url(remote: str) -> str | None:
    """`https://github.com/<owner>/<repo>` for a remote URL on github.com, else None.

    Forms (git-clone(1), "GIT URLS"): `https://github.com/o/r(.git)`, `ssh://git@github.com/o/r`,
    `git://`, and the scp-like `git@github.com:o/r.git`. The result is rebuilt from the owner
    and repository alone, so credentials in an https remote (`https://user:token@github.com/`)
    never appear in it.
    """
    remote = remote.strip()
    if "://" in remote:
        try:
            parts = urllib.parse.urlsplit(remote)
            host = parts.hostname
        except ValueError:  # a malformed port or bracketed host
            return None
        if parts.scheme.lower() not in {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}:
            return None
        path = parts.path
    elif match := _SCP.fullmatch(remote):
        host, path = match["host"], match["path"]
    else:
        return None
    if (host or "").lower() not in {"github.com", "www.github.com"}:
        return None
    segments = path.strip("/").split("/")
    if len(segments) != 2:
        return None
    owner, repo = segments[0], segments[1].removesuffix(".git")
    if not _OWNER.fullmatch(owner) or not _REPO.fullmatch(repo) or repo in {".", ".."}:
        return None
    return f"https://github.com/{owner}/{repo}"


def origin_web_url(git: GitRunner) -> str | None:
    """The GitHub web URL of the clone's `origin` remote (as git would fetch it, `insteadOf`
    applied: git-remote(1) `get-url`), or None without one or off GitHub."""
    try:
        url = git.text(["remote", "get-url", "origin"])
    except GitError:  # no remote called origin
        return None
    return github_web_url(url)


# ---------------------------------------------------------------------------------------------
# The cached `%H %ct` listing of the default branch
# ---------------------------------------------------------------------------------------------


@dataclass
class Listing:
    """Every commit of the refs with its committer epoch, sorted by epoch, and the tips.

    Compact on purpose (epochs in an `array`, shas as one bytes blob): a day's run on a
    100,000-commit history loads and searches it in milliseconds.
    """

    tips: list[str]
    cts: array  # int64 epochs, ascending
    shas: bytes  # raw shas, `width` bytes each, in the order of `cts`
    width: int = 20

    @classmethod
    def build(cls, tips: list[str], pairs: Sequence[tuple[int, bytes]], width: int) -> Listing:
        ordered = sorted(pairs)
        return cls(
            tips, array("q", (t for t, _ in ordered)), b"".join(s for _, s in ordered), width
        )

    def __len__(self) -> int:
        return len(self.cts)

    def _sha(self, i: int) -> str:
        return self.shas[i * self.width : (i + 1) * self.width].hex()

    def window(self, lo: float, hi: float) -> list[str]:
        """Shas with committer epoch in [lo, hi)."""
        i, j = bisect.bisect_left(self.cts, lo), bisect.bisect_left(self.cts, hi)
        return [self._sha(k) for k in range(i, j)]

    def newest_before(self, limit: float) -> tuple[int, str] | None:
        """(epoch, sha) of the commit with the latest committer epoch before `limit`."""
        i = bisect.bisect_left(self.cts, limit) - 1
        return (self.cts[i], self._sha(i)) if i >= 0 else None

    def epochs_of(self, shas: frozenset[str]) -> list[int]:
        wanted = {bytes.fromhex(s) for s in shas}
        w = self.width
        return [self.cts[i] for i in range(len(self)) if self.shas[i * w : (i + 1) * w] in wanted]

    def pairs(self) -> list[tuple[int, bytes]]:
        w = self.width
        return [(t, self.shas[i * w : (i + 1) * w]) for i, t in enumerate(self.cts)]


def _list(git: GitRunner, args: Sequence[str]) -> list[tuple[int, bytes]]:
    out = git.run(["log", "--format=%ct %H", *args])
    pairs = []
    for line in out.split(b"\n"):
        if line:
            ct, _, sha = line.partition(b" ")
            pairs.append((int(ct), bytes.fromhex(sha.decode("ascii"))))
    return pairs


class ListingCache:
    """`%H %ct` listings per clone on disk, keyed by the refs and the tips they were made at.

    A new tip that descends from the cached tips is listed incrementally (`new --not old`);
    anything else (a force-push, other refs, a corrupt file) is listed again in full. The file
    is one JSON header line, then the epochs (int64) and the raw shas.
    """

    VERSION = 2

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        # Listings already made through this instance (one run), by clone, refs and tips.
        self._memo: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Listing] = {}

    def _file(self, clone: CloneState) -> Path | None:
        if self.folder is None:
            return None
        key = hashlib.sha256(str(clone.git_dir).encode("utf-8")).hexdigest()[:16]
        return self.folder / f"{clone.name}-{key}.bin"

    def _load(self, file: Path, refs: list[str]) -> Listing | None:
        try:
            blob = file.read_bytes()
            header, _, body = blob.partition(b"\n")
            meta = json.loads(header)
            if meta.get("version") != self.VERSION or meta.get("refs") != refs:
                return None
            count, width = int(meta["count"]), int(meta["width"])
            cts = array("q")
            cts.frombytes(body[: 8 * count])
            shas = body[8 * count :]
            if len(cts) != count or len(shas) != count * width:
                return None
            return Listing(list(meta["tips"]), cts, shas, width)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save(self, file: Path, refs: list[str], listing: Listing) -> None:
        header = json.dumps(
            {
                "version": self.VERSION,
                "refs": refs,
                "tips": listing.tips,
                "count": len(listing),
                "width": listing.width,
            }
        )
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            atomic_write_bytes(file, header.encode() + b"\n" + listing.cts.tobytes() + listing.shas)

    def listing(self, clone: CloneState) -> Listing:
        refs = clone.default.refs
        tips = [clone.git.resolves(r) or "" for r in refs]
        if not all(tips):
            raise GitError("the default branch does not point at a readable commit")
        memo_key = (str(clone.git_dir), tuple(refs), tuple(tips))
        if memo_key in self._memo:
            return self._memo[memo_key]
        self._memo[memo_key] = listing = self._make(clone, refs, tips)
        return listing

    def _make(self, clone: CloneState, refs: list[str], tips: list[str]) -> Listing:
        width = len(tips[0]) // 2
        file = self._file(clone)
        cached = self._load(file, refs) if file is not None else None
        if cached is not None and cached.tips == tips:
            return cached
        if (
            cached is not None
            and cached.width == width
            and self._descends(clone.git, cached.tips, tips)
        ):
            new = sorted(_list(clone.git, [*tips, "--not", *cached.tips]))
            if not new or not len(cached) or new[0][0] >= cached.cts[-1]:
                fresh = Listing(
                    tips,
                    cached.cts + array("q", (t for t, _ in new)),
                    cached.shas + b"".join(sha for _, sha in new),
                    width,
                )
            else:  # new commits dated among the old ones (skewed clocks): re-sort
                fresh = Listing.build(tips, cached.pairs() + new, width)
        else:
            fresh = Listing.build(tips, _list(clone.git, tips), width)
        if file is not None:
            self._save(file, refs, fresh)
        return fresh

    @staticmethod
    def _descends(git: GitRunner, old: list[str], new: list[str]) -> bool:
        """Whether every old tip is reachable from the new tips (no force-push in between)."""
        try:
            out = git.text(["rev-list", "--count", *old, "--not", *new])
        except GitError:  # an old tip was garbage-collected
            return False
        return out.strip() == "0"


# ---------------------------------------------------------------------------------------------
# Reading commits
# ---------------------------------------------------------------------------------------------


def log_argv(path: Path, *args: str) -> list[str]:
    """The `git log --numstat` command line Sparky parses (the benchmark's baseline runs it too)."""
    return GitRunner(path).argv(["log", f"--format={_FORMAT}", *_LOG_OPTS, *args])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_log(out: bytes, repo: str, boundary: frozenset[str] = frozenset()) -> list[CommitRecord]:
    """Records from `git log -z --format=<_FORMAT> --numstat` output (bytes).

    Layout (git-log(1), `-z`): each commit's fields NUL-separated and NUL-terminated; if it has
    a diff, a newline, then per file `added TAB deleted TAB path NUL`, or for a rename
    `added TAB deleted TAB NUL old NUL new NUL`. Commits in `boundary` (a shallow clone's cut)
    get no line stats: git diffs them against an empty tree, counting their whole tree as added.

    Paths: git-diff(1), "--numstat": "When -z output option is in effect ... a NUL (only exists
    if renamed), pathname in preimage, a NUL (only exists if renamed), pathname in postimage
    (only exists if renamed)"; and `-z`: "do not munge pathnames" (no core.quotePath quoting,
    no `dir/{a => b}/f` notation). So each path is the repository-relative name verbatim, a
    rename's the new one (the postimage, as `--name-only` lists it). Names that are not UTF-8
    keep their structure, the undecodable bytes becoming U+FFFD (the JSON files hold text).
    Merges (`--diff-merges=off`) and boundary commits get `paths=None`: not computed, which is
    not "changed nothing" (an empty commit's `[]`). `reverts` is read from the body as GitHub's
    commits are (`github_records.reverted_sha`), so both sources agree on what a revert is.
    """
    tokens = out.split(b"\0")
    n, i, width = len(tokens), 0, len(_FIELDS)
    records: list[CommitRecord] = []
    while i < n:
        if i == n - 1 and not tokens[i]:
            break
        head = tokens[i : i + width]
        sha = head[0].decode("ascii", "replace")
        if not _SHA.fullmatch(head[0]):
            after = f"after {records[-1].sha}" if records else "at the start"
            raise UnparseableCommit(f"unreadable git log output {after}: {head[0][:60]!r}")
        if len(head) < width or head[-1] != head[0]:
            raise UnparseableCommit(f"commit {sha}: its fields did not parse (NUL in a field?)")
        i += width
        adds = dels = files = binary = 0
        paths: list[str] = []
        if i < n and tokens[i].startswith(b"\n"):
            tokens[i] = tokens[i][1:]
            while i < n and (stat := _STAT.match(tokens[i])):
                if len(tokens[i]) == stat.end():  # a rename: old and new follow as tokens
                    if i + 2 >= n:
                        raise UnparseableCommit(f"commit {sha}: its file list did not parse")
                    paths.append(_text(tokens[i + 2]))
                    i += 3
                else:
                    paths.append(_text(tokens[i][stat.end() :]))
                    i += 1
                files += 1
                if stat.group(1) == b"-":
                    binary += 1
                else:
                    adds += int(stat.group(1))
                    dels += int(stat.group(2))
        try:
            parents = head[1].decode("ascii").split()
            authored_ts, committed_ts = int(head[6]), int(head[7])
        except (UnicodeDecodeError, ValueError):
            raise UnparseableCommit(f"commit {sha}: unreadable parents or dates") from None
        cut = sha in boundary
        is_merge = len(parents) > 1
        subject, body = _text(head[10]), _text(head[11])
        records.append(
            CommitRecord(
                repo=repo,
                sha=sha,
                parents=parents,
                author_name=_text(head[2]),
                author_email=_text(head[3]),
                committer_name=_text(head[4]),
                committer_email=_text(head[5]),
                authored_ts=authored_ts,
                committed_ts=committed_ts,
                authored_at=_text(head[8]),
                committed_at=_text(head[9]),
                subject=subject,
                additions=0 if cut else adds,
                deletions=0 if cut else dels,
                files_changed=0 if cut else files,
                binary_files=0 if cut else binary,
                is_merge=is_merge,
                shallow_boundary=cut,
                merge_title=merge_title(body) if is_merge else None,
                paths=None if cut or is_merge else paths,
                reverts=reverted_sha(body),
            )
        )
    return records


def merge_title(body: str) -> str | None:
    """The first non-empty line of a merge commit's body, where GitHub's merge button writes
    the pull request's title (subject "Merge pull request #N from owner/branch"); capped."""
    for line in body.split("\n"):  # git's lines (str.splitlines would also split at \x85)
        if line := line.strip():
            return line[:MERGE_TITLE_MAX]
    return None


def _epoch(when: dt.datetime | None, default: float) -> float:
    return when.timestamp() if when is not None else default


def read_clone(
    clone: CloneState,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    cache: ListingCache | None = None,
) -> list[CommitRecord]:
    """Commits on the clone's default branch with committer epoch in [start, end)."""
    refs = clone.default.refs
    if not refs:
        return []
    if start is None and end is None:
        out = clone.git.run(["log", f"--format={_FORMAT}", *_LOG_OPTS, *refs])
        return parse_log(out, clone.name, clone.shallow_boundary)
    listing = (cache or ListingCache(None)).listing(clone)
    shas = listing.window(_epoch(start, float("-inf")), _epoch(end, float("inf")))
    if not shas:
        return []
    # The diffs are the cost (git's, not the parser's): a large window is split among
    # parallel `git log --no-walk` passes, one per core, each over its share of the shas.
    jobs = min(MAX_JOBS, os.cpu_count() or 1, max(1, len(shas) // MIN_SHAS_PER_JOB))
    chunks = [shas[i::jobs] for i in range(jobs)]
    argv = ["log", f"--format={_FORMAT}", *_LOG_OPTS, "--no-walk=unsorted", "--stdin"]

    def numstat(chunk: list[str]) -> bytes:
        return clone.git.run(argv, stdin=("\n".join(chunk) + "\n").encode("ascii"))

    if jobs == 1:
        outputs = [numstat(shas)]
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outputs = list(pool.map(numstat, chunks))
    return [r for out in outputs for r in parse_log(out, clone.name, clone.shallow_boundary)]


def read_commits(
    path: str | Path,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    name: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    count_unpushed: bool = False,
    cache_dir: Path | None = None,
) -> list[CommitRecord]:
    """Commits on a clone's default branch with committer date in [start, end).

    `start`/`end` must be timezone-aware; None means unbounded. Raises GitError.
    """
    clone = open_clone(path, timeout_s=timeout_s, count_unpushed=count_unpushed, name=name)
    return read_clone(clone, start, end, cache=ListingCache(cache_dir))


def history_complete_since(clone: CloneState, listing: Listing) -> str | None:
    """For a shallow clone: the instant after which its history is complete (UTC ISO 8601)."""
    if not clone.shallow:
        return None
    cut = listing.epochs_of(clone.shallow_boundary)
    if not cut:
        return None
    return _iso_utc(max(cut) + 1)


def _iso_utc(epoch: int) -> str:
    """An epoch as UTC ISO 8601; git allows dates past year 9999, so those stay as `@epoch`."""
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return f"@{epoch}"


def inspect_repo(
    path: str | Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    count_unpushed: bool = False,
    cache_dir: Path | None = None,
    as_of: dt.datetime | None = None,
) -> RepoInfo:
    """What Sparky reads in a clone, with its newest commit before `as_of`; never raises."""
    (info,) = inspect_repo_at(
        path, [as_of], timeout_s=timeout_s, count_unpushed=count_unpushed, cache_dir=cache_dir
    )
    return info


def inspect_repo_at(
    path: str | Path,
    instants: Sequence[dt.datetime | None],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    count_unpushed: bool = False,
    cache_dir: Path | None = None,
) -> list[RepoInfo]:
    """`inspect_repo` at several instants (a range's day ends), opening the clone once."""
    p = work_tree_path(path)
    name = repo_name(p)
    try:
        clone = open_clone(p, timeout_s=timeout_s, count_unpushed=count_unpushed)
    except GitError as exc:
        return [RepoInfo(name=name, path=str(p), error=str(exc)) for _ in instants]
    info = RepoInfo(
        name=name,
        path=str(p),
        bare=clone.bare,
        refs=clone.default.refs,
        default_branch=clone.default.branch,
        default_branch_reason=clone.default.reason,
        default_branch_fallback=clone.default.fallback,
        shallow=clone.shallow,
        web_url=origin_web_url(clone.git),
    )
    if not clone.default.refs:
        return [info for _ in instants]
    try:
        listing = ListingCache(cache_dir).listing(clone)
    except GitError as exc:
        return [info.model_copy(update={"error": _public(str(exc), p, name)}) for _ in instants]
    complete_since = history_complete_since(clone, listing)
    infos = []
    for as_of in instants:
        # The branch at the day's end: the newest commit committed before then (git keeps no
        # record of when a remote branch moved). Without `as_of`, the branch's tip.
        if as_of is None:
            tip = listing.tips[0]
            best = next(((t, tip) for t in listing.epochs_of(frozenset([tip]))), None)
        else:
            best = listing.newest_before(as_of.timestamp())
        infos.append(
            info.model_copy(
                update={
                    "head_sha": best[1] if best else None,
                    "head_committed_at": (_iso_utc(best[0]) if best else None),
                    "history_complete_since": complete_since,
                }
            )
        )
    return infos


# ---------------------------------------------------------------------------------------------
# Tags as releases
# ---------------------------------------------------------------------------------------------

# git-for-each-ref(1): `creatordate` is the tagger date (`taggerdate`) of an annotated tag and the
# committer date of the commit a lightweight tag points at; a `*` field is read from the object
# an annotated tag points at; `contents:lines=1` is the message's first line. Ref names and that
# line hold no newline or NUL (git-check-ref-format(1)), so one line per tag, NUL between fields,
# the objectname repeated last to prove the fields did not shift.
_TAG_FIELDS = [
    "%(objectname)",
    "%(objecttype)",
    "%(*objectname)",
    "%(*objecttype)",
    "%(creatordate:unix)",
    "%(creatordate:iso-strict)",
    "%(contents:lines=1)",
    "%(refname)",
    "%(objectname)",
]
_TAG_FORMAT = "%00".join(_TAG_FIELDS)


def read_tags(
    clone: CloneState,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    web_url: str | None = None,
) -> list[LocalTagRecord]:
    """The clone's tags on commits dated (creatordate) in [start, end), in one `for-each-ref`.

    Tags on a tree or blob are not releases and are left out.
    """
    out = clone.git.run(["for-each-ref", f"--format={_TAG_FORMAT}", "refs/tags/"])
    lo, hi = _epoch(start, float("-inf")), _epoch(end, float("inf"))
    tags: list[LocalTagRecord] = []
    for line in out.split(b"\n"):
        if not line:
            continue
        fields = line.split(b"\0")
        if len(fields) != len(_TAG_FIELDS) or fields[0] != fields[-1]:
            raise UnparseableCommit(f"a tag did not parse: {line[:80]!r}")
        oid, kind, peeled, peeled_kind, unix, iso, first, ref = fields[:8]
        annotated = kind == b"tag"
        if (peeled_kind if annotated else kind) != b"commit" or not unix:
            continue
        date_ts = int(unix)
        if not lo <= date_ts < hi:
            continue
        name = _text(ref).removeprefix("refs/tags/")
        message = _text(first).strip() if annotated else ""
        tags.append(
            LocalTagRecord(
                repo=clone.name,
                name=name,
                sha=(peeled if annotated else oid).decode("ascii"),
                date=_text(iso),
                date_ts=date_ts,
                message=message or None,
                url=(
                    f"{web_url}/releases/tag/{urllib.parse.quote(name, safe='/')}"
                    if web_url
                    else None
                ),
            )
        )
    return sorted(tags, key=lambda t: (t.date_ts, t.name))


# ---------------------------------------------------------------------------------------------
# Each identity's first commit
# ---------------------------------------------------------------------------------------------

_FIRST_FIELDS = ["%H", "%aE", "%aN", "%at", "%H"]
_FIRST_FORMAT = "%x00".join(_FIRST_FIELDS)


def _first_of(git: GitRunner, args: Sequence[str]) -> dict[str, FirstCommit]:
    """Per lowercased mailmapped email, its earliest authored commit among `git log <args>`.

    Earliest by author date (when the work was done); on a tie the commit git lists later
    (older in the walk) wins.
    """
    out = git.run(["log", "--use-mailmap", f"--format={_FIRST_FORMAT}", "-z", *args])
    tokens = out.split(b"\0")
    if tokens and not tokens[-1]:
        tokens.pop()
    width = len(_FIRST_FIELDS)
    if len(tokens) % width:
        raise UnparseableCommit("unreadable author listing (a NUL in a name?)")
    first: dict[str, FirstCommit] = {}
    for k in range(0, len(tokens), width):
        sha, email, name, at, again = tokens[k : k + width]
        if again != sha or not _SHA.fullmatch(sha):
            raise UnparseableCommit(f"commit {_text(sha[:64])}: its author did not parse")
        try:
            authored_ts = int(at)
        except ValueError:
            raise UnparseableCommit(f"commit {_text(sha)}: unreadable author date") from None
        key = _text(email).lower()
        known = first.get(key)
        if known is None or authored_ts <= known.authored_ts:
            first[key] = FirstCommit(
                name=_text(name), sha=sha.decode("ascii"), authored_ts=authored_ts
            )
    return first


def _mailmap_id(clone: CloneState) -> str | None:
    """What the clone's `.mailmap` is now (gitmailmap(5): the work tree's file, or HEAD's in a
    bare repository), so identities keyed under another mailmap are computed again."""
    if clone.bare:
        return clone.git.resolves_blob("HEAD:.mailmap")
    try:
        data = (clone.git.path / ".mailmap").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest()


def first_commits(
    clone: CloneState,
    previous: FirstCommits | None = None,
    *,
    complete_since: str | None = None,
) -> FirstCommits:
    """Each identity's first commit over the whole default branch, from `previous` if it helps.

    `previous` computed at tips the branch still descends from (the `git merge-base
    --is-ancestor` question, asked for all tips at once) under the same mailmap: only the new
    commits (`new --not old`) are listed and merged, the earlier commit winning. Anything else
    (a force-push, other refs, a changed mailmap) is listed again in full.
    """
    refs = clone.default.refs
    tips = [clone.git.resolves(r) or "" for r in refs]
    if not all(tips):
        raise GitError("the default branch does not point at a readable commit")
    mailmap = _mailmap_id(clone)
    fresh = FirstCommits(
        repo=clone.name,
        refs=refs,
        heads=tips,
        mailmap=mailmap,
        complete=not clone.shallow,
        history_complete_since=complete_since,
    )
    if not refs:
        return fresh
    usable = (
        previous is not None
        and previous.refs == refs
        and previous.mailmap == mailmap
        and previous.complete == fresh.complete
        and bool(previous.heads)
    )
    if usable and previous is not None and previous.heads == tips:
        identities = dict(previous.identities)
    elif (
        usable and previous is not None and ListingCache._descends(clone.git, previous.heads, tips)
    ):
        identities = dict(previous.identities)
        for key, commit in _first_of(clone.git, [*tips, "--not", *previous.heads]).items():
            known = identities.get(key)
            if known is None or commit.authored_ts < known.authored_ts:
                identities[key] = commit
    else:
        identities = _first_of(clone.git, tips)
    return fresh.model_copy(update={"identities": identities})


@dataclass
class CollectionResult:
    """Commits of a window across clones (deduplicated by sha) and how each clone went."""

    commits: list[CommitRecord] = field(default_factory=list)
    coverage: list[RepoCoverage] = field(default_factory=list)
    # The clones' tags dated in the window (releases), and, where asked for, each clone's
    # first commit per identity (by clone name).
    tags: list[LocalTagRecord] = field(default_factory=list)
    first_commits: dict[str, FirstCommits] = field(default_factory=dict)

    @property
    def failed(self) -> list[RepoCoverage]:
        return [c for c in self.coverage if c.status == "failed"]


class LocalGitResource(dg.ConfigurableResource):
    """Any number of local clones (work trees or bare), read with one `git log` pass each."""

    repos: list[str]
    timeout_s: float = DEFAULT_TIMEOUT_S
    count_unpushed: bool = False
    cache_dir: str | None = None

    def _cache_dir(self) -> Path | None:
        return Path(self.cache_dir) if self.cache_dir else None

    def inspect(self, as_of: dt.datetime | None = None) -> list[RepoInfo]:
        return [infos[0] for infos in self.inspect_at([as_of])]

    def inspect_at(self, instants: Sequence[dt.datetime | None]) -> list[list[RepoInfo]]:
        """Per clone, its state at each instant (each clone opened and listed once)."""
        return [
            inspect_repo_at(
                p,
                instants,
                timeout_s=self.timeout_s,
                count_unpushed=self.count_unpushed,
                cache_dir=self._cache_dir(),
            )
            for p in self.repos
        ]

    def collect(
        self,
        start: dt.datetime | None,
        end: dt.datetime | None,
        paths: Sequence[str] | None = None,
        *,
        cached_first_commits: Mapping[str, FirstCommits | None] | None = None,
    ) -> CollectionResult:
        """Read every clone (or `paths`); one that fails is reported, the others still collected.

        Commits and tags of the window; with `cached_first_commits` (the listings by clone
        name, None where there is none) also each clone's first commit per identity, brought
        up to date. Only git's failures (GitError, including timeouts and unparseable records,
        which name the commit) mark a clone as failed; any other exception is a bug and fails
        the run.
        """
        result = CollectionResult()
        seen: set[str] = set()
        seen_tags: set[tuple[str, str]] = set()  # a clone configured twice lists its tags once
        cache = ListingCache(self._cache_dir())
        for raw in self.repos if paths is None else paths:
            p = work_tree_path(raw)
            name = repo_name(p)
            try:
                clone = open_clone(p, timeout_s=self.timeout_s, count_unpushed=self.count_unpushed)
                commits = read_clone(clone, start, end, cache=cache)
                listing = cache.listing(clone) if clone.shallow and clone.default.refs else None
                since = history_complete_since(clone, listing) if listing else None
                tags = read_tags(clone, start, end, web_url=origin_web_url(clone.git))
                firsts = (
                    first_commits(clone, cached_first_commits.get(name), complete_since=since)
                    if cached_first_commits is not None
                    else None
                )
            except GitError as exc:
                result.coverage.append(
                    RepoCoverage(repo=name, status="failed", error=_public(str(exc), p, name))
                )
                continue
            except OSError as exc:
                error = f"cannot read the clone: {exc.strerror or exc.__class__.__name__}"
                result.coverage.append(RepoCoverage(repo=name, status="failed", error=error))
                continue
            fresh = [c for c in commits if c.sha not in seen]
            seen.update(c.sha for c in fresh)
            result.commits.extend(fresh)
            result.tags.extend(t for t in tags if (t.repo, t.name) not in seen_tags)
            seen_tags.update((t.repo, t.name) for t in tags)
            if firsts is not None:
                result.first_commits[name] = firsts
            result.coverage.append(
                RepoCoverage(
                    repo=name,
                    status="ok",
                    commits=len(fresh),
                    default_branch=clone.default.branch,
                    default_branch_reason=clone.default.reason,
                    shallow=clone.shallow,
                    history_complete_since=since,
                )
            )
        return result
