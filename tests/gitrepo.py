"""Build real git repositories with a known history, for tests and benchmarks.

Every commit sets its author/committer identity and dates through git's environment, so the
history is the same on every machine whatever the user's git config.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# A 1x1 PNG: git's binary detection sees the NUL bytes and numstat prints "-\t-".
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass
class Person:
    name: str
    email: str


ALICE = Person("Alice Archer", "alice@example.com")
ZOE = Person("Zoë Ünïcode-Łukasz", "zoe@example.com")
BOB_OLD = Person("bob", "BOB@Old.Example")  # mailmapped to Bob Builder <bob@example.com>
CAROL = Person("Carol Chen", "carol@example.com")
DAVE = Person("Dave Doe", "dave@example.com")
ERIN = Person("Erin Early", "erin@example.com")
DEPENDABOT = Person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


class Repo:
    """A thin driver around the `git` command line for one repository."""

    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    @classmethod
    def open(cls, path: Path) -> Repo:
        """Drive an existing repository (a clone made by a test)."""
        repo = cls.__new__(cls)
        repo.path = path
        return repo

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            **(env or {}),
        }
        return subprocess.run(
            ["git", "-C", str(self.path), *args],
            check=True,
            capture_output=True,
            text=True,
            env=full_env,
        ).stdout

    def write(self, rel: str, content: str | bytes) -> None:
        file = self.path / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            file.write_bytes(content)
        else:
            file.write_text(content, encoding="utf-8")

    def commit(
        self,
        message: str,
        who: Person,
        committed: str,
        *,
        authored: str | None = None,
        committer: Person | None = None,
        allow_empty: bool = False,
    ) -> str:
        """Stage everything and commit with fixed identities and ISO 8601 dates."""
        by = committer or who
        env = {
            "GIT_AUTHOR_NAME": who.name,
            "GIT_AUTHOR_EMAIL": who.email,
            "GIT_AUTHOR_DATE": authored or committed,
            "GIT_COMMITTER_NAME": by.name,
            "GIT_COMMITTER_EMAIL": by.email,
            "GIT_COMMITTER_DATE": committed,
        }
        self.git("add", "-A")
        self.git(
            "commit", "-q", "-m", message, *(["--allow-empty"] if allow_empty else []), env=env
        )
        return self.git("rev-parse", "HEAD").strip()

    def merge(self, branch: str, message: str, who: Person, committed: str) -> str:
        env = {
            "GIT_AUTHOR_NAME": who.name,
            "GIT_AUTHOR_EMAIL": who.email,
            "GIT_AUTHOR_DATE": committed,
            "GIT_COMMITTER_NAME": who.name,
            "GIT_COMMITTER_EMAIL": who.email,
            "GIT_COMMITTER_DATE": committed,
        }
        self.git("merge", "-q", "--no-ff", "-m", message, branch, env=env)
        return self.git("rev-parse", "HEAD").strip()


@dataclass
class KnownHistory:
    """The shas of `build_known_history`, by role."""

    path: Path
    shas: dict[str, str]


def build_known_history(path: Path) -> KnownHistory:
    """A repository whose numbers are worked out by hand in tests/test_local_git.py.

    Org timezone for the tests: America/New_York (UTC-4 in June). The day 2024-06-03 there
    is [2024-06-03T04:00Z, 2024-06-04T04:00Z).
    """
    r = Repo(path)
    s: dict[str, str] = {}
    r.write("README.md", "# Demo\n\nA test repository.\n")
    r.write("docs/old.md", "one\ntwo\nthree\nfour\nfive\n")
    r.write(".mailmap", "Bob Builder <bob@example.com> <bob@old.example>\n")
    # 2024-06-01 12:00 UTC -> 2024-06-01 NY. 3 files, 3+5+1 = 9 lines.
    s["root"] = r.commit("Initial commit", ALICE, "2024-06-01T12:00:00+00:00")

    r.write("zoe.txt", "hello\nworld\n")
    # 00:15 at +02:00 on June 3 is 22:15Z June 2, so 18:15 on June 2 in New York.
    s["zoe_midnight"] = r.commit("Add zoe.txt", ZOE, "2024-06-03T00:15:00+02:00")

    r.write("src/app.py", "".join(f"line {i}\n" for i in range(1, 11)))
    r.write("README.md", "# Demo\n\nA test repository.\nMore.\nEven more.\n")
    # June 3 NY: +12 -0, 2 files.
    s["alice_app"] = r.commit("Add app", ALICE, "2024-06-03T09:00:00-04:00")

    r.git("checkout", "-q", "-b", "feature")
    r.write("logo.png", PNG)
    r.git("mv", "docs/old.md", "docs/new.md")
    r.write("docs/new.md", "one\ntwo\nTHREE\nfour\nfive\n")
    # June 3 NY: binary logo (1 file, 0 lines) + rename with one changed line (1 file, +1 -1).
    s["zoe_feature"] = r.commit("Logo and docs rename", ZOE, "2024-06-03T10:00:00-04:00")

    r.git("checkout", "-q", "main")
    r.write("src/app.py", "".join(f"line {i}\n" for i in range(1, 10)) + "line ten\nx\ny\n")
    # Authored June 1, committed 01:30 +02:00 on June 4 = 23:30Z June 3 = 19:30 June 3 NY.
    # Mailmap turns BOB@Old.Example into Bob Builder <bob@example.com>. +3 -1, 1 file.
    s["bob"] = r.commit(
        "Tweak app", BOB_OLD, "2024-06-04T01:30:00+02:00", authored="2024-06-01T08:00:00+00:00"
    )

    s["merge"] = r.merge("feature", "Merge feature", ALICE, "2024-06-03T20:00:00-04:00")

    r.write("README.md", "# Demo\n\nA test repository, updated.\nMore.\nEven more.\n")
    # A bot: +1 -1, 1 file, June 3 NY.
    s["bot"] = r.commit("Bump deps", DEPENDABOT, "2024-06-03T21:00:00-04:00")

    # Last second of June 3 in New York; no files.
    s["empty"] = r.commit("Empty", CAROL, "2024-06-03T23:59:59-04:00", allow_empty=True)

    r.write("dave.txt", "dave\n")
    # First second of June 4 in New York.
    s["dave"] = r.commit("Add dave.txt", DAVE, "2024-06-04T00:00:01-04:00")

    r.write("erin.txt", "erin\n")
    # Committer date older than its parent's (a skewed clock): belongs to 2024-05-20.
    s["skewed"] = r.commit(
        "Skewed clock", ERIN, "2024-05-20T12:00:00+00:00", authored="2024-06-04T09:00:00-04:00"
    )
    return KnownHistory(path=path, shas=s)
