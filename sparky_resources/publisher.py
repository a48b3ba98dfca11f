"""Publishing digests: commit them to a docs git repository and, optionally, push it.

Rules, and why:

- git runs through `local_git`'s argv and environment (`GitRunner.argv`, `git_env`): no
  inherited `GIT_DIR`/`GIT_WORK_TREE`/`GIT_INDEX_FILE` (a hook or `git bisect run` would redirect
  every command), `GIT_TERMINAL_PROMPT=0` (git never waits for a password, git(1)
  ENVIRONMENT), a timeout per command. GitPython is not used to run the commands: its
  `Git.execute` starts from a copy of `os.environ` and can add variables but never remove an
  inherited `GIT_DIR`.
- The target is prepared before anything is copied: an existing work tree is used as it is
  (its checked-out branch must be the configured one, except that an unborn branch, as
  `git clone` of an empty repository leaves git's default one, is renamed to the configured
  branch: it has no commit to lose); a missing one is made with
  `git init -b <branch>` and, with a remote, `git remote add origin <remote>` + `git fetch`:
  a clone of the branch that also works when the remote is empty or lacks the branch.
  With a remote, the branch is first brought up to date: fast-forwarded (`git merge
  --ff-only`), or, when local commits that were never pushed diverge from it, rebased onto it.
  Nothing is ever reset away.
- Files are written with temp file + rename (`store.atomic_write_bytes`), only when their bytes
  differ; nothing is deleted, so files Sparky did not write are never touched.
- Only Sparky's paths are staged (`git add --pathspec-from-file`) and committed
  (`git commit --only`, git-commit(1): "make a commit by taking the updated working tree
  contents of the paths specified", so whatever else someone staged stays staged, uncommitted).
  A commit is made only when the staged paths differ from HEAD: the test `git diff --cached
  --quiet` makes (exit 0: no differences, 1: differences, git-diff(1) `--exit-code`), read as
  the list of differing names, so re-publishing the same files makes no empty commit.
- Push is `git push origin refs/heads/<branch>:refs/heads/<branch>`: never `--force`, never a
  `+` refspec, so git refuses to replace remote history ("By default, the remote refuses a
  non-fast-forward update", git-push(1), NOTE ABOUT FAST-FORWARDS). `--porcelain` gives one
  status line per ref: `[rejected] (fetch first)` / `(non-fast-forward)` is a race with another
  pusher, retried after `git fetch` + `git rebase origin/<branch>` up to `max_push_attempts`;
  `[remote rejected] (... hook declined)` is the remote's decision, reported at once with the
  hook's `remote:` lines (retrying cannot change it). A rebase that conflicts is aborted
  (`git rebase --abort`), leaving the local commit in place for the next run.
- Credentials never reach disk, logs or errors: a remote URL with `user:token@` is refused (it
  would be written to `.git/config`); for an https remote the token comes from
  `SPARKY_PUBLISH_TOKEN`, read once per publish through `secrets` (surrounding whitespace
  stripped, any other control or non-ASCII character refused in one line), answered by a
  `GIT_ASKPASS` script that reads the variable (the script holds no secret, lives in a temp
  folder outside the repository and is removed after the command), with `credential.helper`
  emptied for that command so no helper stores it (gitcredentials(7)). Every error text has the
  token (in each form `secrets.redact` knows) and any URL userinfo redacted.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import dagster as dg
from filelock import FileLock
from pydantic import BaseModel, SecretStr

from sparky_resources import secrets
from sparky_resources.config import redact_userinfo, url_credentials
from sparky_resources.local_git import GitError, GitRunner, first_line, git_env
from sparky_resources.store import atomic_write_bytes

if TYPE_CHECKING:
    from sparky_resources.config import SparkyConfig

TOKEN_ENV = secrets.PUBLISH_TOKEN
REMOTE_NAME = "origin"
DEFAULT_TIMEOUT_S = 120.0
# What a digest folder publishes (relative to the output folder).
DIGEST_PATTERNS = (
    "daily/*.md",
    "daily/*.json",
    "weekly/*.md",
    "weekly/*.json",
    "monthly/*.md",
    "monthly/*.json",
    "index.md",
    "feed.xml",
    "metrics.md",
)
# Settings of the publishing commands a user's git config must not change (git-config(1)):
# the bytes committed are the bytes written, no signing prompt, no pager.
_PUBLISH_CONFIG = {
    "commit.gpgSign": "false",
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.pager": "cat",
    "advice.detachedHead": "false",
    "rebase.autoStash": "false",
    "gc.auto": "0",
}
_PUBLISH_ARGS = [a for k, v in _PUBLISH_CONFIG.items() for a in ("-c", f"{k}={v}")]
_RETRYABLE = ("(fetch first)", "(non-fast-forward)")
_ASKPASS = (
    "#!/bin/sh\n"
    "# Answers git's prompts for one command; the token is read from the environment.\n"
    'case "$1" in\n'
    "  Username*) printf '%s\\n' x-access-token ;;\n"
    f"  *) printf '%s\\n' \"${TOKEN_ENV}\" ;;\n"
    "esac\n"
)


class PublishError(GitError):
    """Publishing failed; one line, with credentials redacted."""


class PushRejected(PublishError):
    """The remote refused the push (a hook or a protected branch), or races outlasted retries."""


class PublishConflict(PublishError):
    """Rebasing local commits onto the remote branch conflicted; the rebase was aborted."""


class PublishResult(BaseModel):
    """What one publish did: the new commit (None: nothing changed), the paths it changed
    (relative to the work tree), whether the branch was pushed and in how many attempts."""

    commit: str | None
    changed: list[str]
    pushed: bool
    push_attempts: int
    target: str


def digest_files(output_dir: Path) -> dict[str, Path]:
    """The digests of an output folder (`DIGEST_PATTERNS`), by their path relative to it."""
    found: dict[str, Path] = {}
    for pattern in DIGEST_PATTERNS:
        for path in sorted(output_dir.glob(pattern)):
            if path.is_file() and not path.name.startswith("."):
                found[path.relative_to(output_dir).as_posix()] = path
    return found


def redact(text: str, token: str | SecretStr | None = None) -> str:
    """`text` without the token in any form (when given) and without any URL's userinfo."""
    return redact_userinfo(secrets.redact(text, [token], "<redacted>"))


def _uses_token(remote: str) -> bool:
    """Only an https remote gets the token (ssh has its own keys, a path needs none)."""
    return remote.lower().startswith("https://")


def _safe_relpath(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel.replace("\\", "/"))
    if not rel or path.is_absolute() or any(p in ("..", "") for p in rel.split("/")):
        raise PublishError(f"cannot publish {rel!r}: expected a relative path without '..'")
    if any(part.lower() == ".git" for part in path.parts):
        raise PublishError(f"cannot publish {rel!r}: a path inside .git")
    return path


@dataclass(frozen=True)
class _Proc:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class _Git:
    """git in the target work tree: local_git's argv and clean environment, per-command
    credentials, a timeout, and errors with secrets redacted."""

    path: Path
    timeout_s: float
    askpass: Path | None = None
    token: SecretStr | None = None

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> _Proc:
        argv = GitRunner(self.path).argv([*_PUBLISH_ARGS, *self._credential_args(), *args])
        full_env = {**git_env(self.path), **(env or {})}
        # The token reaches only the commands that talk to the remote (never a commit hook),
        # and only as `secrets` cleaned it, never the variable as inherited.
        full_env.pop(TOKEN_ENV, None)
        if self.askpass is not None and self.token and args[0] in ("fetch", "push"):
            full_env.update(
                {"GIT_ASKPASS": str(self.askpass), TOKEN_ENV: self.token.get_secret_value()}
            )
        try:
            proc = subprocess.run(
                argv,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=full_env,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PublishError(
                f"git {args[0]} took longer than {self.timeout_s:g} s (GitPublisherResource."
                "timeout_s)"
            ) from None
        result = _Proc(
            proc.returncode, redact(proc.stdout, self.token), redact(proc.stderr, self.token)
        )
        if check and result.returncode != 0:
            raise PublishError(
                f"git {args[0]} failed: "
                f"{first_line(result.stderr) or f'exit status {result.returncode}'}"
            )
        return result

    def _credential_args(self) -> list[str]:
        # No credential helper may store the token git got from the askpass script.
        return ["-c", "credential.helper="] if self.askpass is not None else []

    def text(self, args: Sequence[str]) -> str:
        return self.run(args).stdout

    def resolves(self, ref: str) -> str | None:
        out = self.run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def is_ancestor(self, a: str, b: str) -> bool:
        return self.run(["merge-base", "--is-ancestor", a, b], check=False).returncode == 0


@contextlib.contextmanager
def _askpass(remote: str, token: SecretStr | None) -> Iterator[Path | None]:
    """A GIT_ASKPASS script for an https remote when the token is set; removed afterwards."""
    if not _uses_token(remote) or token is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="sparky-askpass-"))
    try:
        script = folder / "askpass.sh"
        script.write_text(_ASKPASS, encoding="utf-8")
        script.chmod(0o700)
        yield script
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _lock_for(tree: Path) -> FileLock:
    """One publish per work tree at a time; the lock lives in the temp folder, not in the
    user's repository or next to it."""
    key = hashlib.sha256(str(tree).encode("utf-8")).hexdigest()[:16]
    return FileLock(str(Path(tempfile.gettempdir()) / f"sparky-publish-{key}.lock"))


class GitPublisherResource(dg.ConfigurableResource):
    """Commits digests to a git work tree and optionally pushes its branch (see module doc)."""

    work_tree: str
    remote: str = ""
    branch: str = "main"
    push: bool = False
    author_name: str = "Sparky"
    author_email: str = "sparky@localhost"
    subdir: str = ""
    max_push_attempts: int = 3
    timeout_s: float = DEFAULT_TIMEOUT_S
    # For an https remote: a Dagster `EnvVar(SPARKY_PUBLISH_TOKEN)` in the definitions, read at
    # run time, never a value in the config (no run or snapshot stores it).
    token: str | None = None

    # --- public --------------------------------------------------------------------------

    def publish(
        self, files: Mapping[str, Path | bytes], message: str | Callable[[list[str]], str]
    ) -> PublishResult:
        """Write `files` (relative path -> source file or bytes) under `<work_tree>/<subdir>/`,
        commit them if anything changed, and push when configured. Raises PublishError.
        `message` may be a function of the changed paths (relative to the work tree)."""
        if url_credentials(self.remote):
            raise PublishError(
                f"remote {redact(self.remote)!r} carries credentials; use a URL without "
                f"user:token@ and set {TOKEN_ENV} in the environment"
            )
        try:  # checked once, here; the inherited variable itself never reaches git
            token = (
                secrets.clean_secret(TOKEN_ENV, self.token) if _uses_token(self.remote) else None
            )
        except secrets.SecretError as exc:
            raise PublishError(str(exc)) from None
        if self.push and not self.remote:
            raise PublishError("push is set but there is no remote to push to")
        if isinstance(message, str) and not message.strip():
            raise PublishError("expected a commit message")
        base = _safe_relpath(self.subdir) if self.subdir else PurePosixPath()
        contents: dict[str, bytes] = {}
        for rel, source in sorted(files.items()):
            dest = (base / _safe_relpath(rel)).as_posix()
            try:
                contents[dest] = source if isinstance(source, bytes) else Path(source).read_bytes()
            except OSError as exc:
                raise PublishError(f"cannot read {source}: {exc.strerror or exc}") from None
        tree = Path(self.work_tree).expanduser().absolute()
        with _lock_for(tree), _askpass(self.remote, token) as askpass:
            git = _Git(tree, self.timeout_s, askpass, token)
            self._prepare(git)
            self._write(tree, contents)
            changed = self._stage(git, sorted(contents))
            text = message(changed) if callable(message) and changed else message
            commit = self._commit(git, changed, str(text)) if changed else None
            pushed, attempts = self._push(git) if self.push else (False, 0)
        return PublishResult(
            commit=commit, changed=changed, pushed=pushed, push_attempts=attempts, target=str(tree)
        )

    def publish_folder(
        self, output_dir: Path, message: str | Callable[[list[str]], str]
    ) -> PublishResult:
        """Publish an output folder's digests (`digest_files`)."""
        return self.publish(digest_files(Path(output_dir)), message)

    # --- steps ---------------------------------------------------------------------------

    def _prepare(self, git: _Git) -> None:
        tree = git.path
        created = False
        if not tree.exists() or (tree.is_dir() and not any(tree.iterdir())):
            created = not tree.exists()
            tree.mkdir(parents=True, exist_ok=True)
            try:
                git.run(["init", "-q", "-b", self.branch])
                if self.remote:
                    git.run(["remote", "add", REMOTE_NAME, self.remote])
                    self._sync(git)
            except BaseException:
                if created:  # a failed first clone leaves nothing behind, like `git clone`
                    shutil.rmtree(tree, ignore_errors=True)
                raise
            return
        if not tree.is_dir():
            raise PublishError(f"{tree} is not a folder")
        top = git.run(["rev-parse", "--show-toplevel"], check=False)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != tree.resolve():
            raise PublishError(f"{tree} is not the top folder of a git work tree")
        git_dir = Path(git.text(["rev-parse", "--absolute-git-dir"]).strip())
        for marker in ("rebase-merge", "rebase-apply", "MERGE_HEAD", "CHERRY_PICK_HEAD"):
            if (git_dir / marker).exists():
                raise PublishError(f"{tree}: a {marker} is in progress; finish or abort it first")
        head = git.run(["symbolic-ref", "--quiet", "HEAD"], check=False).stdout.strip()
        branch = f"refs/heads/{self.branch}"
        if head != branch and head and git.resolves("HEAD") is None and not git.resolves(branch):
            # An unborn branch (`git clone` of an empty repository leaves git's default one)
            # has no commit to lose: point HEAD at the configured branch instead, as
            # git-symbolic-ref(1) shows ("git symbolic-ref HEAD refs/heads/foo"); the index and
            # the work tree stay as they are.
            git.run(["symbolic-ref", "HEAD", branch])
            head = branch
        if head != branch:
            raise PublishError(
                f"{tree} has {head.removeprefix('refs/heads/') or 'a detached HEAD'} checked "
                f"out, not {self.branch}; check out {self.branch} there (or set "
                "[publish].branch)"
            )
        if self.remote:
            remotes = git.text(["remote"]).split()
            if REMOTE_NAME not in remotes:
                git.run(["remote", "add", REMOTE_NAME, self.remote])
            else:
                url = git.text(["remote", "get-url", REMOTE_NAME]).strip()
                if url != self.remote:
                    raise PublishError(
                        f"{tree}: remote {REMOTE_NAME} is {redact(url)!r}, not the configured "
                        f"{redact(self.remote)!r}"
                    )
            self._sync(git)

    def _fetch(self, git: _Git) -> str | None:
        git.run(["fetch", "--prune", "--no-tags", REMOTE_NAME])
        return git.resolves(f"refs/remotes/{REMOTE_NAME}/{self.branch}")

    def _sync(self, git: _Git) -> None:
        """Bring the local branch up to the remote's: fast-forward, or rebase unpushed commits."""
        upstream = self._fetch(git)
        if upstream is None:
            return
        local = git.resolves("HEAD")
        if local is None or git.is_ancestor(local, upstream):
            git.run(["merge", "-q", "--ff-only", upstream])
        elif not git.is_ancestor(upstream, local):
            self._rebase(git)

    def _rebase(self, git: _Git) -> None:
        upstream = f"{REMOTE_NAME}/{self.branch}"
        out = git.run(["rebase", "-q", upstream], check=False, env=self._identity())
        if out.returncode == 0:
            return
        git.run(["rebase", "--abort"], check=False)
        reason = first_line(out.stdout + "\n" + out.stderr)
        raise PublishConflict(
            f"local commits in {git.path} conflict with {upstream} (rebase aborted, local "
            f"commit kept): {reason}"
        )

    @staticmethod
    def _write(tree: Path, contents: Mapping[str, bytes]) -> None:
        root = tree.resolve()
        for rel, data in contents.items():
            dest = tree / rel
            if not dest.parent.resolve().is_relative_to(root) or dest.is_symlink():
                raise PublishError(f"cannot publish {rel}: it leads outside {tree} (a symlink)")
            if dest.is_file() and dest.read_bytes() == data:
                continue
            atomic_write_bytes(dest, data)

    @staticmethod
    def _stage(git: _Git, paths: list[str]) -> list[str]:
        if not paths:
            return []
        stdin = "".join(f"{p}\0" for p in paths)
        git.run(
            ["--literal-pathspecs", "add", "--pathspec-from-file=-", "--pathspec-file-nul"],
            stdin=stdin,
        )
        # `git diff --cached` lists what differs from HEAD (an unborn branch: everything).
        names = git.text(["diff", "--cached", "--no-renames", "--name-only", "-z"]).split("\0")
        ours = set(paths)
        return sorted(n for n in names if n in ours)

    def _identity(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.author_name,
            "GIT_AUTHOR_EMAIL": self.author_email,
            "GIT_COMMITTER_NAME": self.author_name,
            "GIT_COMMITTER_EMAIL": self.author_email,
        }

    def _commit(self, git: _Git, changed: list[str], message: str) -> str:
        git.run(
            [
                "--literal-pathspecs",
                "commit",
                "-q",
                "--only",
                "--no-edit",
                "--cleanup=strip",
                "-m",
                message,
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
            ],
            stdin="".join(f"{p}\0" for p in changed),
            env=self._identity(),
        )
        return git.text(["rev-parse", "HEAD"]).strip()

    def _push(self, git: _Git) -> tuple[bool, int]:
        """Push the branch when it has commits the remote lacks; (pushed, attempts)."""
        ref = f"refs/heads/{self.branch}"
        tracking = f"refs/remotes/{REMOTE_NAME}/{self.branch}"
        attempts = 0
        while True:
            local = git.resolves(ref)
            if local is None or local == git.resolves(tracking):
                return attempts > 0, attempts
            attempts += 1
            out = git.run(["push", "--porcelain", REMOTE_NAME, f"{ref}:{ref}"], check=False)
            if out.returncode == 0:
                git.run(["update-ref", tracking, local], check=False)
                return True, attempts
            status = next((ln for ln in out.stdout.splitlines() if ln.startswith("!\t")), "")
            if any(tag in status for tag in _RETRYABLE):
                if attempts >= max(1, self.max_push_attempts):
                    raise PushRejected(
                        f"push to {redact(self.remote)} still rejected after {attempts} "
                        "attempts: the remote branch keeps moving"
                    )
                self._fetch(git)
                self._rebase(git)
                continue
            raise PushRejected(self._push_reason(out, status))

    def _push_reason(self, out: _Proc, status: str) -> str:
        remote_lines = [
            ln.removeprefix("remote:").strip()
            for ln in out.stderr.splitlines()
            if ln.startswith("remote:") and ln.removeprefix("remote:").strip()
        ]
        verdict = status.split("\t")[-1].strip() if status else first_line(out.stderr)
        said = f": {'; '.join(remote_lines)}" if remote_lines else ""
        return f"push to {redact(self.remote)} refused: {verdict or 'unknown reason'}{said}"


def publisher_from_config(cfg: SparkyConfig) -> GitPublisherResource | None:
    """The resource for `[publish]`; None when publishing is not configured."""
    target = cfg.publish_target
    if target is None:
        return None
    p = cfg.publish
    remote = cfg.publish_remote
    return GitPublisherResource(
        work_tree=str(target),
        remote=remote,
        # Only when set (checked here, at load, in one line): unset, a public remote is read and
        # pushed without one, as before.
        token=dg.EnvVar(TOKEN_ENV)
        if _uses_token(remote) and secrets.read_secret(TOKEN_ENV)
        else None,
        branch=p.branch,
        push=p.push,
        author_name=p.author_name,
        author_email=p.author_email,
        subdir=p.subdir,
    )
