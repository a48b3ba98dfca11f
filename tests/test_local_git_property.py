"""Property: whatever names, emails, subjects and file names git accepts come through as data.

Hypothesis writes commits with arbitrary text into a real repository; every field and count
Sparky reads is checked against git read independently: `git cat-file -p` for identities,
dates and messages, `git diff-tree --numstat -z` for the line counts.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparky_resources.local_git import read_commits

# Anything but NUL (argv and environment cannot carry it) and newline (git's `%s` joins the
# subject's lines, and ident lines cannot hold one).
_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\0\n", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)
_FILE = st.text(
    alphabet=st.characters(blacklist_characters="\0/", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
).filter(lambda n: n not in {".", "..", ".git", ".mailmap"} and not n.lower().startswith(".git"))
# git's crud rule (ident.c): names and emails lose leading/trailing crud; keep one solid char.
_IDENT = _TEXT.map(lambda t: f"x{t}x")

_COMMIT = st.fixed_dictionaries(
    {
        "name": _IDENT,
        "email": _IDENT,
        "committer": _IDENT,
        "subject": _TEXT.map(lambda t: f"s{t}s"),
        "files": st.dictionaries(
            _FILE, st.integers(min_value=0, max_value=5), min_size=1, max_size=3
        ),
        "epoch": st.integers(min_value=86_400, max_value=4_000_000_000),  # git: local time >= 0
        "offset": st.sampled_from(["+0000", "-0430", "+0545", "+1400", "-1200", "+0100"]),
    }
)


def _git(path: Path, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None):
    full = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        **(env or {}),
    }
    return subprocess.run(
        ["git", "-C", str(path), *args], input=stdin, capture_output=True, check=True, env=full
    ).stdout


def _ident(raw: bytes) -> tuple[str, str, int, str]:
    """`NAME <EMAIL> EPOCH OFFSET` from a commit object's author/committer line."""
    m = re.fullmatch(rb"(.*) <(.*)> (-?\d+) ([+-]\d{4})", raw, re.DOTALL)
    assert m, raw
    return (
        m.group(1).decode("utf-8", "replace"),
        m.group(2).decode("utf-8", "replace"),
        int(m.group(3)),
        m.group(4).decode(),
    )


def _numstat(path: Path, sha: str) -> tuple[int, int]:
    out = _git(path, "diff-tree", "--root", "--no-commit-id", "-r", "--numstat", "-z", sha)
    entries = [e for e in out.split(b"\0") if e]
    added = sum(int(e.split(b"\t")[0]) for e in entries)
    return added, len(entries)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commits=st.lists(_COMMIT, min_size=1, max_size=3))
def test_any_text_git_accepts_comes_through_as_data(commits: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "prop"
        repo.mkdir()
        _git(repo, "init", "-q", "-b", "main")
        written: list[tuple[str, dict]] = []
        for i, c in enumerate(commits):
            for j, (name, lines) in enumerate(c["files"].items()):
                (repo / f"{i}-{j}-{name}").write_text(
                    "".join(f"{i}.{j}.{k}\n" for k in range(lines)), encoding="utf-8"
                )
            _git(repo, "add", "-A")
            date = f"@{c['epoch']} {c['offset']}"
            _git(
                repo,
                "commit",
                "-q",
                "--allow-empty",
                "--cleanup=verbatim",
                "-m",
                c["subject"],
                env={
                    "GIT_AUTHOR_NAME": c["name"],
                    "GIT_AUTHOR_EMAIL": c["email"],
                    "GIT_AUTHOR_DATE": date,
                    "GIT_COMMITTER_NAME": c["committer"],
                    "GIT_COMMITTER_EMAIL": c["email"],
                    "GIT_COMMITTER_DATE": date,
                },
            )
            written.append((_git(repo, "rev-parse", "HEAD").decode().strip(), c))

        records = {r.sha: r for r in read_commits(repo)}
        rev_list = _git(repo, "rev-list", "HEAD").decode().split()
        assert sorted(records) == sorted(rev_list)
        for sha, c in written:
            r = records[sha]
            obj = _git(repo, "cat-file", "-p", sha)
            header, _, message = obj.partition(b"\n\n")
            lines = dict(line.split(b" ", 1) for line in header.split(b"\n"))
            a_name, a_email, a_ts, a_off = _ident(lines[b"author"])
            c_name, c_email, c_ts, _ = _ident(lines[b"committer"])
            assert (r.author_name, r.author_email, r.authored_ts) == (a_name, a_email, a_ts)
            assert (r.committer_name, r.committer_email, r.committed_ts) == (c_name, c_email, c_ts)
            assert r.committed_ts == c["epoch"]
            assert r.committed_at.endswith(f"{a_off[:3]}:{a_off[3:]}")
            assert r.subject == message.decode("utf-8", "replace").removesuffix("\n")
            added, files = _numstat(repo, sha)
            assert (r.additions, r.deletions, r.files_changed) == (added, 0, files)
            assert added == sum(c["files"].values())
