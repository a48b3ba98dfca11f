"""Benchmark: Sparky's commit collection against plain `git log --numstat`, and a day's run.

Why it exists: Sparky's windowed collection (the `%H %ct` listing, then one `git log --numstat`
pass over the window's commits) promises to cost little more than the one `git log --numstat
-M` pass it is built on. This script measures that promise over the whole history as
`ratio_vs_git_log` (Sparky's seconds over git's seconds for the same work, lower is better),
checking on the way that Sparky's commit count and line totals match git's own.

Second figure, `day_run_s`: what a daily run costs on a large history (default 100,000
commits) once the listing cache is warm: `repositories` + `raw_commits` for the last day
(inspect the clone, extend the cached listing, window, diff the day's commits). The day's
commit count is checked against git's own listing. Goal: under 0.25 s, whatever the history.

Usage: python benchmarks/local_git.py [PATH] [--commits N] [--day-commits M] [--repeat R]

Without PATH it builds synthetic repositories of exactly N and M commits (merges included)
with one `git fast-import` stream each in a temporary directory. The last two lines printed
are always `day_run_s=<float>` and `ratio_vs_git_log=<float>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sparky_resources.local_git import (
    GitError,
    ListingCache,
    LocalGitResource,
    log_argv,
    open_clone,
    read_clone,
)

_FIELD_COUNT = 13  # fields of Sparky's log format, NUL-separated (sparky_resources.local_git)

_AUTHORS = [
    ("Alice Archer", "alice@example.com", "+0000"),
    ("Zoë Ünïcode-Łukasz", "zoe@example.com", "+0200"),
    ("Bob Builder", "bob@example.com", "-0400"),
    ("Carol Chen", "carol@example.com", "+0800"),
    ("Dave Doe", "dave@example.com", "-0700"),
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "+0000"),
]
_WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta",
    "eta", "theta", "iota", "kappa", "lambda", "mu",
]  # fmt: skip
_START_TS = 1_600_000_000  # 2020-09-13; every commit is 10 minutes after the one before it


def _isolate_git_config() -> None:
    """Make every git command here, Sparky's included, ignore the user's and system config."""
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"


def _git(path: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


# --- synthetic repository -------------------------------------------------------------------


@dataclass
class _Stream:
    """Writes one `git fast-import` stream; marks are the 1-based commit numbers."""

    out: IO[bytes]
    rng: random.Random
    commits: int = 0

    def data(self, payload: bytes) -> None:
        self.out.write(b"data %d\n" % len(payload))
        self.out.write(payload)
        self.out.write(b"\n")

    def commit(
        self,
        ref: str,
        message: str,
        changes: list[tuple[str, str, bytes | None]],
        parents: list[int],
    ) -> int:
        """Emit a commit; changes are ("M", path, content), ("D", path, None), ("R", old, new)."""
        self.commits += 1
        mark = self.commits
        name, email, tz = self.rng.choice(_AUTHORS)
        committed = _START_TS + 600 * mark
        authored = committed - self.rng.randrange(0, 3 * 86_400)
        committer = (name, email) if self.rng.random() < 0.8 else _AUTHORS[0][:2]
        w = self.out.write
        w(f"commit {ref}\nmark :{mark}\n".encode())
        w(f"author {name} <{email}> {authored} {tz}\n".encode())
        w(f"committer {committer[0]} <{committer[1]}> {committed} {tz}\n".encode())
        self.data(message.encode())
        if parents:
            w(b"from :%d\n" % parents[0])
        for extra in parents[1:]:
            w(b"merge :%d\n" % extra)
        for op, path, content in changes:
            if op == "M":
                assert content is not None
                w(f"M 100644 inline {path}\n".encode())
                self.data(content)
            elif op == "D":
                w(f"D {path}\n".encode())
            else:
                assert content is not None
                w(f"R {path} {content.decode()}\n".encode())
        w(b"\n")
        return mark


class _Tree:
    """The main branch's text files as lists of lines, edited with varying line counts."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.files: dict[str, list[str]] = {}
        self.serial = 0
        self.phrases = [" ".join(rng.choices(_WORDS, k=rng.randrange(1, 8))) for _ in range(512)]

    def line(self) -> str:
        self.serial += 1
        return f"{self.serial:06d} {self.rng.choice(self.phrases)}\n"

    def new_path(self) -> str:
        self.serial += 1
        return f"src/pkg{self.serial % 7}/module_{self.serial}.py"

    def add(self) -> tuple[str, str, bytes]:
        path = self.new_path()
        self.files[path] = [self.line() for _ in range(self.rng.randrange(5, 120))]
        return ("M", path, "".join(self.files[path]).encode())

    def edit(self, path: str) -> tuple[str, str, bytes]:
        lines = self.files[path]
        for _ in range(self.rng.randrange(1, 4)):
            at = self.rng.randrange(0, len(lines) + 1)
            # Shrink large files, grow small ones, so sizes stay realistic.
            drop = self.rng.randrange(0, 4 if len(lines) < 150 else 40)
            del lines[at : at + drop]
            lines[at:at] = [self.line() for _ in range(self.rng.randrange(0, 25))]
        if not lines:
            lines.append(self.line())
        return ("M", path, "".join(lines).encode())


def generate_repo(path: Path, commits: int, seed: int = 20240601) -> None:
    """A bare repository whose `main` has exactly `commits` commits, with merges and renames."""
    if commits < 1:
        sys.exit("error: --commits must be at least 1")
    path.mkdir(parents=True)
    _git(path, "init", "-q", "--bare", "-b", "main")
    rng = random.Random(seed)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ["git", "-C", str(path), "fast-import", "--quiet", "--done"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert proc.stdin is not None
        try:
            _write_history(_Stream(out=proc.stdin, rng=rng), _Tree(rng), rng, commits)
            proc.stdin.write(b"done\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        if proc.wait() != 0:
            errors.seek(0)
            detail = errors.read().decode(errors="replace").strip()
            sys.exit(f"error: git fast-import exited with {proc.returncode}: {detail}")


def _write_history(out: _Stream, tree: _Tree, rng: random.Random, commits: int) -> None:
    root = [tree.add() for _ in range(8)]
    tip = out.commit("refs/heads/main", "Initial commit\n", root, [])
    while out.commits < commits:
        n = out.commits + 1
        if n % 97 == 0 and out.commits + 3 <= commits:
            # A feature branch: one commit on the side, one on main, then a --no-ff merge.
            feature = f"features/feature_{n}.md"
            body = "".join(tree.line() for _ in range(rng.randrange(3, 30))).encode()
            side = out.commit("refs/heads/side", f"Feature {n}\n", [("M", feature, body)], [tip])
            main = out.commit("refs/heads/main", f"Main work {n}\n", _changes(tree, rng), [tip])
            message = f"Merge branch 'feature-{n}'\n\nBrings in {feature}.\n"
            tip = out.commit("refs/heads/main", message, [("M", feature, body)], [main, side])
            continue
        message = f"{rng.choice(['Fix', 'Add', 'Refactor', 'Tweak'])} {rng.choice(_WORDS)} #{n}\n"
        tip = out.commit("refs/heads/main", message, _changes(tree, rng), [tip])


def _changes(tree: _Tree, rng: random.Random) -> list[tuple[str, str, bytes | None]]:
    changes: list[tuple[str, str, bytes | None]] = []
    roll = rng.random()
    if roll < 0.04 and len(tree.files) > 10:
        # A rename with a small edit: numstat -M reports it as one file.
        old = rng.choice(list(tree.files))
        new = tree.new_path()
        tree.files[new] = tree.files.pop(old)
        changes.append(("R", old, new.encode()))
        changes.append(tree.edit(new))
    elif roll < 0.08:
        # A binary blob (NUL bytes): numstat prints "-\t-".
        blob = bytes([0, 1, 2, 0]) + rng.randbytes(rng.randrange(64, 2048))
        changes.append(("M", f"assets/image_{rng.randrange(40)}.bin", blob))
    elif roll < 0.10 and len(tree.files) > 30:
        gone = rng.choice(list(tree.files))
        del tree.files[gone]
        changes.append(("D", gone, None))
    if rng.random() < 0.15 or len(tree.files) < 20:
        changes.append(tree.add())
    pool = list(tree.files)
    touched = {c[1] for c in changes} | {c[2].decode() for c in changes if c[0] == "R" and c[2]}
    for file in rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 2, 2, 3, 4, 6]))):
        if file not in touched:
            changes.append(tree.edit(file))
    return changes


# --- measurement ----------------------------------------------------------------------------


def run_git_log(path: Path, refs: list[str]) -> bytes:
    """The baseline: git computes the same numstat output and we consume it through a pipe."""
    proc = subprocess.run(log_argv(path, *refs), capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"error: git log failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def count_git_log(output: bytes) -> tuple[int, int, int]:
    """Commits, additions and deletions from raw `git log -z --numstat` output, counted without
    Sparky's parser: each numstat entry is the one token holding two tab-separated counts
    (binary files print "-"), and each commit's field group ends with its sha again."""
    additions = deletions = 0
    for token in output.split(b"\0"):
        token = token.removeprefix(b"\n")
        fields = token.split(b"\t", 2)
        if len(fields) == 3 and fields[0] != b"-" and fields[0].isdigit():
            additions += int(fields[0])
            deletions += int(fields[1])
    # Every commit prints its sha (and its parents', also commits of the history): the distinct
    # 40-hex tokens are the commits. (The synthetic repository has no 40-hex file names.)
    commits = len({t for t in output.split(b"\0") if len(t) == 40 and t.isalnum()})
    return commits, additions, deletions


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """One warm-up run, then the fastest of `repeat` timed runs, in seconds."""
    work()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return min(times)


def _whole_history(path: Path) -> list:
    """Sparky's windowed path over all of history: listing (cold), window, numstat pass."""
    clone = open_clone(path)
    return read_clone(
        clone,
        dt.datetime(1970, 1, 2, tzinfo=dt.UTC),
        dt.datetime(2200, 1, 1, tzinfo=dt.UTC),
        cache=ListingCache(None),
    )


def benchmark(path: Path, repeat: int) -> tuple[int, float]:
    records = _whole_history(path)
    expected = int(_git(path, "rev-list", "--count", "HEAD").strip())
    refs = open_clone(path).default.refs
    git_commits, git_add, git_del = count_git_log(run_git_log(path, refs))
    sparky_add = sum(c.additions for c in records)
    sparky_del = sum(c.deletions for c in records)
    problems = []
    if len(records) != expected:
        problems.append(f"Sparky read {len(records)} commits, git rev-list --count says {expected}")
    if git_commits != expected:
        problems.append(f"git log printed {git_commits} commits, rev-list --count says {expected}")
    if (sparky_add, sparky_del) != (git_add, git_del):
        problems.append(
            f"Sparky totals +{sparky_add} -{sparky_del} differ from git log's +{git_add} -{git_del}"
        )
    if problems:
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        return 1, 0.0

    sparky_s = best_of(repeat, lambda: _whole_history(path))
    git_s = best_of(repeat, lambda: run_git_log(path, refs))
    print(f"repo: {path}")
    print(f"commits: {expected}")
    print(f"lines: +{git_add} -{git_del} (Sparky and git log agree)")
    print(f"best of {repeat} after one warm-up run each:")
    print(f"sparky windowed collection: {sparky_s:.3f} s ({expected / sparky_s:,.0f} commits/s)")
    print(f"git log --numstat:          {git_s:.3f} s ({expected / git_s:,.0f} commits/s)")
    return 0, sparky_s / git_s


def day_run(path: Path, repeat: int, cache_dir: Path) -> tuple[int, float]:
    """Seconds of a warm one-day run over the last day of `path`'s history."""
    last = int(_git(path, "log", "-1", "--format=%ct", "HEAD").strip())
    start = dt.datetime.fromtimestamp(last, dt.UTC).replace(hour=0, minute=0, second=0)
    end = start + dt.timedelta(days=1)
    resource = LocalGitResource(repos=[str(path)], cache_dir=str(cache_dir))

    def one_day() -> int:
        resource.inspect(as_of=end)
        result = resource.collect(start, end)
        if result.failed:
            sys.exit(f"error: day run failed: {result.failed[0].error}")
        return len(result.commits)

    commits = one_day()  # the cold run that fills the listing cache
    lo, hi = int(start.timestamp()), int(end.timestamp())
    by_git = sum(
        1
        for line in _git(path, "log", "--format=%ct", "HEAD").split()
        if lo <= int(line) < hi
    )
    if commits != by_git:
        print(f"MISMATCH: day run read {commits}, git's listing has {by_git}", file=sys.stderr)
        return 1, 0.0
    seconds = best_of(repeat, one_day)
    print(f"day run: {start.date()} on {path.name}: {commits} commits (git agrees)")
    return 0, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", nargs="?", type=Path, help="a clone; default: a synthetic one")
    parser.add_argument("--commits", type=int, default=10_000, help="synthetic repo size")
    parser.add_argument(
        "--day-commits", type=int, default=100_000, help="size of the day-run synthetic repo"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side (best kept)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    _isolate_git_config()
    with tempfile.TemporaryDirectory(prefix="sparky-bench-") as tmp:
        if args.path is not None:
            repo = day_repo = args.path.expanduser().resolve()
        else:
            repo, day_repo = Path(tmp) / "synthetic.git", Path(tmp) / "large.git"
            for target, size in ((repo, args.commits), (day_repo, args.day_commits)):
                t0 = time.perf_counter()
                generate_repo(target, size)
                print(f"generated {size} commits in {time.perf_counter() - t0:.2f} s")
        try:
            code, ratio = benchmark(repo, args.repeat)
            if code:
                return code
            code, day_s = day_run(day_repo, args.repeat, Path(tmp) / "cache")
            if code:
                return code
        except GitError as exc:
            sys.exit(f"error: {exc}")
        print(f"day_run_s={day_s:.3f}")
        print(f"ratio_vs_git_log={ratio:.3f}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
