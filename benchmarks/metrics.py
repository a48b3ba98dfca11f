"""Benchmark: one month's metrics of a large org, computed from Sparky's raw files.

Why it exists: the metrics of a window are computed from the window's own raw records (never
added up from shorter windows), so a month reads a month of raw files, and the previous
month's for the change. This script measures what that costs for a large org: it writes a
year of raw files for `--repos` repositories and `--contributors` people (default 1,000,000
commits and 100,000 pull requests over 500 repositories and 5,000 contributors) in the layout
Sparky's collectors write, then times Sparky's own functions on them in a child process, so
that the peak memory printed is the computation's, not the generator's.

Goal: `monthly_metrics_s` (one mid-year month, reading its raw files included) under 10 s and
`peak_rss_mb` under 4 GiB (4096) on a 2-core machine.

What is generated, day by day (never the whole year in memory; deterministic with `--seed`):
- `raw_commits/<day>.json`: `CommitRecord`s as the local collector merged with GitHub's view
  writes them (`sources: ["github", "local"]`, logins set for most authors), weekends quieter,
  ~5% bot commits (dependabot, renovate, pre-commit-ci, github-actions), ~3% merges, some
  authors on GitHub noreply addresses, skewed line counts; `_coverage/raw_commits/<day>.json`
  lists every repository as collected.
- `raw_pull_requests/<day>.json`: each pull request in the file of every day it had an event
  (created, ready for review, first response, reviews, merged or closed, updated), as the
  collector writes them from one run over the year; ~20% were drafts, ~80% merged within
  0-10 days, ~5% opened by bots. `raw_issues`, `raw_releases`, `raw_backlog` and
  `_coverage/github` alongside.

Usage: python benchmarks/metrics.py [--commits N] [--pull-requests N] [--repos N]
       [--contributors N] [--year 2025] [--seed S] [--keep DIR]

Prints `key=value` lines: sizes (`commits=`, `pull_requests=`, `raw_mb=`), `generate_s=`,
then the measured figures: `contributors_s=` (the identity table over the year, rebuilt from
the raw files), `contributors_first_run_s=` (the contributors asset's first run over all days
but the last: day tallies and state written), `contributors_add_day_s=` and
`contributors_add_day_cpu_s=` (its next run, the last day added: wall and CPU seconds),
`contributors_add_day_rebuilt=` (the identities that run built; the others' text is copied),
`contributors_add_day_vs_rebuild=` (that run over the full rebuild; the stored table and
suggested.mailmap must equal the full rebuild's),
`daily_metrics_s=`, `weekly_metrics_s=`, `year_monthly_s=` (all twelve months),
`peak_rss_mb=` (the measuring process's peak), a few figures of the month to sanity-check, and
as the last line `monthly_metrics_s=`. `--keep DIR` writes the data under DIR and keeps it;
run again with the same DIR and sizes, it is reused instead of generated.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import datetime as dt
import itertools
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparky_assets.lib.identity import dumps_indented  # the text DataStore.write writes, fast

ORG = "bench"
SCHEMA_VERSION = 2  # sparky_resources.store.SCHEMA_VERSION; checked against it on day one
MANIFEST = "bench.json"
DAY_S = 86_400

_FIRST = [
    "Ada", "Alan", "Alice", "Amara", "Ana", "Anders", "Aoife", "Arjun", "Bea", "Björn",
    "Carla", "Chen", "Chloé", "Dmitri", "Diego", "Elena", "Emeka", "Erik", "Fatima", "Femi",
    "Grace", "Hana", "Hiroshi", "Ingrid", "Ivan", "Jamal", "Jana", "José", "Julia", "Kai",
    "Kenji", "Lars", "Lena", "Li", "Lucía", "Mads", "Maria", "Mateo", "Mei", "Mohammed",
    "Nadia", "Nils", "Noor", "Olga", "Omar", "Paula", "Priya", "Rafael", "Rosa", "Sami",
    "Sara", "Sofia", "Søren", "Tariq", "Thomas", "Uma", "Valentina", "Wei", "Yuki", "Zoë",
]  # fmt: skip
_LAST = [
    "Abe", "Adeyemi", "Alvarez", "Andersen", "Bauer", "Becker", "Bianchi", "Brown", "Castro",
    "Chen", "Costa", "Das", "Dubois", "Eriksson", "Fernández", "Fischer", "García", "Gupta",
    "Hansen", "Hoffmann", "Ibrahim", "Ito", "Jansen", "Jensen", "Johansson", "Kim", "Kowalski",
    "Kumar", "Larsen", "Lee", "Lopez", "Łukasz", "Martin", "Meyer", "Moreau", "Müller",
    "Nakamura", "Nguyen", "Nielsen", "Novak", "Okafor", "Olsen", "Park", "Patel", "Pereira",
    "Petrov", "Popescu", "Quinn", "Rossi", "Russo", "Sato", "Schmidt", "Schneider", "Silva",
    "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thomas", "Tran", "Vargas", "Wagner",
    "Wang", "Weber", "Williams", "Wilson", "Wong", "Yamamoto", "Yilmaz", "Zhang", "Zimmermann",
    "Ødegaard", "Ünal", "Baptiste", "Cohen", "Dimitrov", "Evans", "Fontaine", "Gallo",
]  # fmt: skip
_REPO_WORDS = [
    "api", "auth", "billing", "cache", "catalog", "cli", "config", "core", "data", "deploy",
    "docs", "events", "gateway", "infra", "ingest", "jobs", "ledger", "mail", "metrics",
    "mobile", "notify", "orders", "payments", "portal", "queue", "search", "sdk", "store",
    "sync", "ui", "users", "web",
]  # fmt: skip
_VERBS = ["Fix", "Add", "Refactor", "Update", "Remove", "Improve", "Document", "Test", "Tidy"]
_THINGS = [
    "retry logic", "config loader", "login flow", "cache invalidation", "error messages",
    "pagination", "rate limiter", "CSV export", "date parsing", "timeouts", "logging",
    "feature flag", "migrations", "health check", "null handling", "unicode names",
]  # fmt: skip
_PACKAGES = [
    "requests", "urllib3", "pytest", "ruff", "lodash", "react", "webpack", "eslint", "axios",
    "django", "flask", "numpy", "pandas", "golang.org/x/net", "serde", "tokio", "jackson",
]  # fmt: skip
_LABELS = ["bug", "enhancement", "documentation", "performance", "refactor", "tests"]
_ZONES = [(0, 0.35), (3600, 0.2), (7200, 0.1), (-18000, 0.1), (-28800, 0.1), (19800, 0.08),
          (28800, 0.05), (32400, 0.02)]  # fmt: skip
_WEB_FLOW = ("GitHub", "noreply@github.com", "web-flow")
_REASON = "origin/main: origin/HEAD points at it"


# --- exact JSON text of DataStore.write, fast ---------------------------------------------------


def _record_text(record: dict[str, Any]) -> str:
    """One record as it sits in a list file's `records` (indented 4)."""
    return "    " + dumps_indented(record, "    ")


def _list_document(texts: Sequence[str]) -> str:
    """The text `DataStore.write` puts on disk for a list, from its records' texts."""
    body = "[]" if not texts else "[\n" + ",\n".join(texts) + "\n  ]"
    return f'{{\n  "schema_version": {SCHEMA_VERSION},\n  "records": {body}\n}}\n'


def _object_document(data: dict[str, Any]) -> str:
    return dumps_indented({"schema_version": SCHEMA_VERSION, **data}) + "\n"


def _write(root: Path, asset: str, day: str, text: str) -> int:
    path = root / "raw" / asset / f"{day}.json"
    data = text.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(data)
    return len(data)


def _check_layout(root: Path, asset: str, day: str, expected: Any) -> None:
    """The file written for `day` is byte for byte what `DataStore.write(expected)` writes."""
    from sparky_resources.store import SCHEMA_VERSION as STORE_VERSION
    from sparky_resources.store import DataStore

    if STORE_VERSION != SCHEMA_VERSION:
        sys.exit(f"error: the store writes schema_version {STORE_VERSION}, not {SCHEMA_VERSION}")
    with tempfile.TemporaryDirectory(prefix="sparky-bench-check-") as tmp:
        store = DataStore(data_dir=tmp, output_dir=tmp)
        reference = store.write("raw", asset, day, expected).read_bytes()
    written = (root / "raw" / asset / f"{day}.json").read_bytes()
    if written != reference:
        sys.exit(f"error: raw/{asset}/{day}.json differs from what DataStore.write writes")


# --- the org ------------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    login: str
    emails: list[str]
    linked: bool  # GitHub links the commit emails to the account (author_login is set)
    offset: int  # UTC offset of their commits' times, seconds
    offset_text: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class Bot:
    name: str
    email: str
    weight: float
    subjects: Callable[[random.Random], str]


def _version(rng: random.Random) -> tuple[str, str]:
    major, minor, patch = rng.randrange(0, 9), rng.randrange(0, 30), rng.randrange(0, 20)
    return f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch + 1 + rng.randrange(3)}"


def _bump(rng: random.Random) -> str:
    old, new = _version(rng)
    return f"Bump {rng.choice(_PACKAGES)} from {old} to {new}"


def _renovate(rng: random.Random) -> str:
    return f"chore(deps): update dependency {rng.choice(_PACKAGES)} to v{_version(rng)[1]}"


def _precommit(rng: random.Random) -> str:
    return rng.choice(
        ["[pre-commit.ci] pre-commit autoupdate", "[pre-commit.ci] auto fixes from hooks"]
    )


def _actions(rng: random.Random) -> str:
    return rng.choice(["Update CHANGELOG.md", "chore: regenerate API docs", "Sync labels"])


BOTS = [
    Bot("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", 0.6, _bump),
    Bot("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", 0.25, _renovate),
    Bot("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com", 0.1,
        _precommit),
    Bot("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com", 0.05,
        _actions),
]  # fmt: skip
_BOT_CUM = list(itertools.accumulate(b.weight for b in BOTS))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).replace("ø", "o").replace("Ø", "O")
    folded = folded.replace("ł", "l").replace("Ł", "L")
    return re.sub(r"[^a-z0-9]", "", folded.encode("ascii", "ignore").decode().lower())


def _offset_text(offset: int) -> str:
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def build_people(rng: random.Random, count: int, days: int) -> list[Person]:
    people: list[Person] = []
    logins: set[str] = set()
    zone_cum = list(itertools.accumulate(w for _, w in _ZONES))
    for i in range(count):
        first = _FIRST[i % len(_FIRST)]
        last = _LAST[(i // len(_FIRST)) % len(_LAST)]
        lap = i // (len(_FIRST) * len(_LAST))
        name = f"{first} {chr(65 + lap % 26)}. {last}" if lap else f"{first} {last}"
        login = f"{_ascii(first)}-{_ascii(last)}"
        if rng.random() < 0.3:
            login = f"{_ascii(first)[:1]}{_ascii(last)}"
        while login in logins:
            login = f"{login}{rng.randrange(10, 100)}"
        logins.add(login)
        uid = 1_000_000 + 7919 * i
        roll = rng.random()
        if roll < 0.1:  # commits with GitHub's private address
            emails = [f"{uid}+{login}@users.noreply.github.com"]
        elif roll < 0.6:
            emails = [f"{_ascii(first)}.{_ascii(last)}{lap or ''}@bench.example"]
        else:
            emails = [f"{login}@mail.example"]
        if rng.random() < 0.2:  # a second address (work and personal), linked by GitHub
            emails.append(f"{login}@home.example")
        offset = _ZONES[bisect.bisect(zone_cum, rng.random() * zone_cum[-1])][0]
        # Most people are there all year; some join, some leave (new and quiet contributors).
        first_day = 0 if rng.random() < 0.6 else rng.randrange(days)
        last_day = days - 1 if rng.random() < 0.75 else rng.randrange(first_day, days)
        people.append(
            Person(
                name=name,
                login=login,
                emails=emails,
                # Some commit addresses are linked to no account (a noreply one always is).
                linked=rng.random() >= 0.07 or "@users.noreply." in emails[0],
                offset=offset,
                offset_text=_offset_text(offset),
                first_day=first_day,
                last_day=last_day,
            )
        )
    return people


def _spread(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights`, exactly (largest remainders)."""
    whole = sum(weights)
    raw = [w * total / whole for w in weights]
    counts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _git_time(ts: int, offset: int, offset_text: str) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts + offset)) + offset_text


def _gh_time(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class Sizes:
    commits: int
    pull_requests: int
    repos: int
    contributors: int
    year: int
    seed: int

    @property
    def issues(self) -> int:
        return max(1, self.pull_requests // 20)


class Generator:
    """Writes the year day by day; pull requests and issues wait for their later days' files."""

    def __init__(self, sizes: Sizes, data_dir: Path) -> None:
        self.sizes = sizes
        self.data = data_dir
        self.rng = rng = random.Random(sizes.seed)
        first = dt.date(sizes.year, 1, 1)
        self.days = [
            first + dt.timedelta(days=i)
            for i in range((dt.date(sizes.year + 1, 1, 1) - first).days)
        ]
        self.keys = [d.isoformat() for d in self.days]
        self.day_ts = [calendar.timegm(d.timetuple()) for d in self.days]
        self.year_end = self.day_ts[-1] + DAY_S
        self.people = build_people(rng, sizes.contributors, len(self.days))
        self.person_weights = [1 / (rank + 1) ** 0.6 for rank in range(len(self.people))]
        rng.shuffle(self.person_weights)
        self.repos = self._repo_names(sizes.repos)
        self.repo_cum = list(
            itertools.accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(self.repos)))
        )
        self.tips = {repo: f"{rng.getrandbits(160):040x}" for repo in self.repos}
        self.numbers = dict.fromkeys(self.repos, 0)
        self.releases_seen = dict.fromkeys(self.repos, 0)
        weights = [self._day_weight(d) for d in self.days]
        self.commits_per_day = _spread(sizes.commits, weights)
        self.prs_per_day = _spread(sizes.pull_requests, weights)
        self.issues_per_day = _spread(sizes.issues, weights)
        self.pending_prs: dict[int, list[str]] = defaultdict(list)
        self.pending_issues: dict[int, list[str]] = defaultdict(list)
        self.closing_prs: dict[int, int] = defaultdict(int)
        self.closing_issues: dict[int, int] = defaultdict(int)
        self.open_prs = max(0, sizes.pull_requests // 400)  # the backlog the year starts with
        self.open_issues = max(0, sizes.issues // 10)
        self.samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.bytes = 0
        self.snapshots = 0
        self.counts = {"releases": 0, "bot_commits": 0, "merges": 0, "pr_bots": 0}

    def _repo_names(self, count: int) -> list[str]:
        names = [f"{a}-{b}" for a in _REPO_WORDS for b in _REPO_WORDS if a != b]
        self.rng.shuffle(names)
        return [
            names[i % len(names)] + (f"-{i // len(names) + 1}" if i >= len(names) else "")
            for i in range(count)
        ]

    def _day_weight(self, day: dt.date) -> float:
        weight = 1.0 if day.weekday() < 5 else 0.25
        if (day.month, day.day) >= (12, 22) or (day.month, day.day) <= (1, 2):
            weight *= 0.35
        return weight * self.rng.uniform(0.75, 1.25)

    def _moment(self) -> int:
        """Seconds into a day, busiest in the (UTC) afternoon."""
        return min(DAY_S - 1, int(self.rng.triangular(0, DAY_S, 52_000)))

    def _pool(self, index: int) -> tuple[list[Person], list[float]]:
        active = [
            (p, w)
            for p, w in zip(self.people, self.person_weights, strict=True)
            if p.first_day <= index <= p.last_day
        ] or list(zip(self.people, self.person_weights, strict=True))
        return [p for p, _ in active], list(itertools.accumulate(w for _, w in active))

    @staticmethod
    def _pick(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
        return items[bisect.bisect(cum, rng.random() * cum[-1])]

    def _repo(self) -> str:
        return self._pick(self.rng, self.repos, self.repo_cum)

    def _next_number(self, repo: str) -> int:
        self.numbers[repo] += 1
        return self.numbers[repo]

    # -- commits ---------------------------------------------------------------------------------

    def commits(self, index: int, people: list[Person], cum: list[float]) -> list[dict[str, Any]]:
        rng = self.rng
        start = self.day_ts[index]
        out = []
        for _ in range(self.commits_per_day[index]):
            repo = self._repo()
            committed = start + self._moment()
            sha = f"{rng.getrandbits(160):040x}"
            parents = [self.tips[repo]]
            self.tips[repo] = sha
            roll = rng.random()
            additions = deletions = files = binary = 0
            if roll < 0.05:
                self.counts["bot_commits"] += 1
                bot = self._pick(rng, BOTS, _BOT_CUM)
                author_name, author_email, login = bot.name, bot.email, bot.name
                offset, offset_text = 0, "+00:00"
                subject = bot.subjects(rng)
                committer = _WEB_FLOW if rng.random() < 0.7 else (bot.name, bot.email, bot.name)
                authored = committed - rng.randrange(0, 3600)
                additions, deletions = rng.randrange(1, 60), rng.randrange(1, 60)
                files = rng.randrange(1, 4)
                is_merge = False
                merge_title = None
            else:
                person = self._pick(rng, people, cum)
                author_name = person.name
                author_email = person.emails[-1 if rng.random() < 0.3 else 0]
                login = person.login if person.linked else None
                offset, offset_text = person.offset, person.offset_text
                authored = committed - int(rng.expovariate(1 / 20_000))
                if roll < 0.08:
                    self.counts["merges"] += 1
                    parents.append(f"{rng.getrandbits(160):040x}")
                    number = rng.randrange(1, 5000)
                    thing = rng.choice(_THINGS)  # the same draws, in the same order, as before
                    subject = (
                        f"Merge pull request #{number} from "
                        f"{ORG}/{person.login}/{thing.replace(' ', '-')}"
                    )
                    merge_title = f"Update {thing}"  # GitHub puts the title in the body
                    committer = _WEB_FLOW
                    is_merge = True
                else:
                    merge_title = None
                    subject = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)}"
                    if rng.random() < 0.4:  # squash-merged on GitHub
                        subject += f" (#{rng.randrange(1, 5000)})"
                        committer = _WEB_FLOW
                    else:
                        committer = (author_name, author_email, login)
                    additions = min(50_000, int(rng.lognormvariate(2.6, 1.6)))
                    deletions = min(50_000, int(additions * rng.random() * 0.9))
                    files = 1 + min(400, int(rng.lognormvariate(0.3, 1.0)))
                    binary = 1 if rng.random() < 0.02 else 0
                    is_merge = False
            web = committer is _WEB_FLOW
            out.append(
                {
                    "repo": repo,
                    "sha": sha,
                    "parents": parents,
                    "author_name": author_name,
                    "author_email": author_email,
                    "committer_name": committer[0],
                    "committer_email": committer[1],
                    "authored_at": _git_time(authored, offset, offset_text),
                    "committed_at": (
                        _gh_time(committed)[:-1] + "+00:00"
                        if web
                        else _git_time(committed, offset, offset_text)
                    ),
                    "authored_ts": authored,
                    "committed_ts": committed,
                    "subject": subject,
                    "additions": additions,
                    "deletions": deletions,
                    "files_changed": files,
                    "binary_files": binary,
                    "is_merge": is_merge,
                    "shallow_boundary": False,
                    "merge_title": merge_title,
                    "author_login": login,
                    "committer_login": committer[2],
                    "sources": ["github", "local"],
                    "line_stats_known": True,
                    "files_changed_known": True,
                    # Paths and reverts (teams, DORA) are not generated: the year's figures
                    # do not read them, and the data stays as it was.
                    "paths": None,
                    "reverts": None,
                }
            )
        out.sort(key=lambda r: (r["committed_ts"], r["sha"]))
        return out

    # -- pull requests and issues ----------------------------------------------------------------

    def _schedule(self, pending: dict[int, list[str]], text: str, moments: list[int]) -> None:
        for day in {(m - self.day_ts[0]) // DAY_S for m in moments}:
            if 0 <= day < len(self.days):
                pending[day].append(text)

    def _closing(self, counter: dict[int, int], moment: int | None) -> None:
        if moment is not None and moment < self.year_end:
            counter[(moment - self.day_ts[0]) // DAY_S] += 1

    def _others(self, people: list[Person], cum: list[float], author: str, k: int) -> list[str]:
        out: list[str] = []
        for _ in range(4 * k):
            if len(out) == k:
                break
            login = self._pick(self.rng, people, cum).login
            if login != author and login not in out:
                out.append(login)
        return out

    def pull_requests(self, index: int, people: list[Person], cum: list[float]) -> None:
        rng = self.rng
        for _ in range(self.prs_per_day[index]):
            repo = self._repo()
            number = self._next_number(repo)
            created = self.day_ts[index] + self._moment()
            bot = rng.random() < 0.05
            if bot:
                self.counts["pr_bots"] += 1
                author = "dependabot[bot]" if rng.random() < 0.7 else "renovate[bot]"
                title = _bump(rng) if author.startswith("dependabot") else _renovate(rng)
                labels = ["dependencies"]
                additions, deletions, changed = rng.randrange(1, 40), rng.randrange(1, 40), 1
            else:
                author = self._pick(rng, people, cum).login
                title = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)}"
                labels = rng.sample(_LABELS, k=rng.choice([0, 0, 1, 1, 2]))
                additions = min(20_000, int(rng.lognormvariate(3.2, 1.5)))
                deletions = min(20_000, int(additions * rng.random() * 0.7))
                changed = 1 + min(300, int(rng.lognormvariate(0.8, 1.0)))
            draft = not bot and rng.random() < 0.2
            ready = created + int(rng.lognormvariate(9.5, 1.2)) if draft else None
            clock = ready or created
            roll = rng.random()
            state = "merged" if roll < 0.8 else "closed" if roll < 0.9 else "open"
            merged = closed = None
            if state == "merged":
                wait = int(rng.lognormvariate(10.8, 1.4))  # median ~14 h
                merged = clock + (wait if wait < 10 * DAY_S else rng.randrange(10 * DAY_S))
                closed = merged
            elif state == "closed":
                closed = clock + int(rng.lognormvariate(11.5, 1.3))
            end = closed or clock + int(rng.lognormvariate(11.5, 1.3))
            reviewers = self._others(people, cum, author, rng.choice([0, 1, 1, 1, 2, 2, 3]))
            if state == "merged" and not reviewers and rng.random() < 0.7:
                reviewers = self._others(people, cum, author, 1)
            reviews = []
            for i, login in enumerate(reviewers):
                last = i == len(reviewers) - 1
                when = clock + int((end - clock) * (0.2 + 0.75 * rng.random()))
                review_state = (
                    "approved"
                    if last and state == "merged"
                    else rng.choice(["commented", "changes_requested", "approved"])
                )
                reviews.append({"author_login": login, "state": review_state, "submitted_at": when})
            reviews.sort(key=lambda r: r["submitted_at"])
            responses = [r["submitted_at"] for r in reviews]
            if rng.random() < 0.6:  # a comment by someone else, often before any review
                responses.append(clock + int((end - clock) * rng.random() * 0.5))
            first_response = min(responses) if responses else None
            if ready is not None and state == "open" and rng.random() < 0.5:
                ready = None  # still a draft
            moments = [created, ready, first_response, merged, closed]
            moments += [r["submitted_at"] for r in reviews]
            updated = max(m for m in moments if m is not None)
            for r in reviews:
                r["submitted_at"] = _gh_time(r["submitted_at"])
            merged_by = None
            if merged is not None:
                approvers = [r["author_login"] for r in reviews if r["state"] == "approved"]
                merged_by = approvers[-1] if approvers else None if bot else author
            record = {
                "repo": repo,
                "number": number,
                "title": title,
                "url": f"https://github.com/{ORG}/{repo}/pull/{number}",
                "author_login": author,
                "author_is_bot": bot,
                "state": state,
                "is_draft": state == "open" and draft and ready is None,
                "created_at": _gh_time(created),
                "updated_at": _gh_time(updated),
                "merged_at": _gh_time(merged) if merged else None,
                "closed_at": _gh_time(closed) if closed else None,
                "merged_by_login": merged_by,
                "additions": additions,
                "deletions": deletions,
                "changed_files": changed,
                "labels": labels,
                "requested_reviewers": (
                    self._others(people, cum, author, 1) if state == "open" else []
                ),
                "reviews": reviews,
                "ready_for_review_at": _gh_time(ready) if ready else None,
                "first_response_at": _gh_time(first_response) if first_response else None,
                "closing_issues": [rng.randrange(1, 500)] if rng.random() < 0.1 else [],
                # A description of 0 to about 1,600 characters, from the number alone (no draw
                # from rng, so every other generated value stays as it was).
                "body": (
                    f"{title}.\n\n"
                    + "Explains the change, how it was tested and why. " * (number % 35)
                    if number % 7
                    else None
                ),
                "files": None,  # changed paths (teams) are not generated
            }
            self._schedule(
                self.pending_prs, _record_text(record), [m for m in moments if m is not None]
            )
            self._closing(self.closing_prs, closed)
            self._sample("raw_pull_requests", record)

    def issues(self, index: int, people: list[Person], cum: list[float]) -> None:
        rng = self.rng
        for _ in range(self.issues_per_day[index]):
            repo = self._repo()
            number = self._next_number(repo)
            created = self.day_ts[index] + self._moment()
            bot = rng.random() < 0.03
            author = "github-actions[bot]" if bot else self._pick(rng, people, cum).login
            roll = rng.random()
            closed = created + int(rng.lognormvariate(12, 1.5)) if roll < 0.75 else None
            reason = None
            if closed is not None:
                reason = "completed" if roll < 0.6 else "not_planned"
            comments = rng.choice([0, 0, 1, 1, 2, 3, 5, 8])
            responders = self._others(people, cum, author, 1) if comments else []
            first_response = created + int(rng.lognormvariate(9, 1.5)) if responders else None
            moments = [m for m in (created, closed, first_response) if m is not None]
            record = {
                "repo": repo,
                "number": number,
                "title": f"{rng.choice(_THINGS).capitalize()} is broken",
                "url": f"https://github.com/{ORG}/{repo}/issues/{number}",
                "author_login": author,
                "author_is_bot": bot,
                "state": "closed" if closed is not None else "open",
                "state_reason": reason,
                "created_at": _gh_time(created),
                "updated_at": _gh_time(max(moments)),
                "closed_at": _gh_time(closed) if closed else None,
                "labels": rng.sample(["bug", "question", "enhancement"], k=rng.choice([0, 1])),
                "comments": comments,
                "first_response_at": _gh_time(first_response) if first_response else None,
            }
            self._schedule(self.pending_issues, _record_text(record), moments)
            self._closing(self.closing_issues, closed)
            self._sample("raw_issues", record)

    def releases(self, index: int, people: list[Person], cum: list[float]) -> list[dict]:
        rng = self.rng
        out = []
        chance = 0.6 if self.days[index].weekday() < 5 else 0.1
        while rng.random() < chance and len(out) < 3:
            repo = self._repo()
            self.releases_seen[repo] += 1
            n = self.releases_seen[repo]
            tag = f"v{1 + n // 40}.{n // 8 % 5}.{n % 8}"
            kind = "tag" if rng.random() < 0.15 else "release"
            out.append(
                {
                    "repo": repo,
                    "tag_name": tag,
                    "name": tag if kind == "release" else None,
                    "url": f"https://github.com/{ORG}/{repo}/releases/tag/{tag}",
                    "author_login": self._pick(rng, people, cum).login,
                    "published_at": _gh_time(self.day_ts[index] + self._moment()),
                    "is_prerelease": kind == "release" and rng.random() < 0.1,
                    "kind": kind,
                    # The notes' first line (a tag has none); no draw, so the data is unchanged.
                    "notes": f"Changes in {tag}" if kind == "release" else None,
                    "sha": None,
                }
            )
            chance *= 0.5
        self.counts["releases"] += len(out)
        return out

    def _sample(self, asset: str, record: dict[str, Any]) -> None:
        kept = self.samples[asset]
        if len(kept) < 3 or self.rng.random() < 0.0005:
            kept.append(json.loads(_record_text(record)))

    # -- one day ---------------------------------------------------------------------------------

    def day(self, index: int) -> None:
        key = self.keys[index]
        people, cum = self._pool(index)
        commits = self.commits(index, people, cum)
        self.pull_requests(index, people, cum)
        self.issues(index, people, cum)
        releases = self.releases(index, people, cum)
        start, end = self.day_ts[index], self.day_ts[index] + DAY_S
        per_repo: dict[str, int] = defaultdict(int)
        for c in commits:
            per_repo[c["repo"]] += 1
        coverage = {
            "partition": key,
            "window_start": _gh_time(start)[:-1] + "+00:00",
            "window_end": _gh_time(end)[:-1] + "+00:00",
            "collected_at": _gh_time(self.year_end + 6 * 3600)[:-1] + "+00:00",
            "repos": [
                {
                    "repo": repo,
                    "status": "ok",
                    "commits": per_repo.get(repo, 0),
                    "error": None,
                    "kept_previous": 0,
                    "default_branch": "main",
                    "default_branch_reason": _REASON,
                    "shallow": False,
                    "history_complete_since": None,
                }
                for repo in self.repos
            ],
            "github_error": None,  # GitHub was reachable (raw_commits writes it either way)
        }
        self.open_prs += self.prs_per_day[index] - self.closing_prs.pop(index, 0)
        self.open_issues += self.issues_per_day[index] - self.closing_issues.pop(index, 0)
        backlog = {
            "at": _gh_time(end)[:-1] + "+00:00",
            "collected": True,
            "pull_requests_open": self.open_prs,
            "issues_open": self.open_issues,
            "oldest_pull_requests": [],
            "oldest_issues": [],
            "scope": "org",
        }
        github = {"partition": key, "configured": True, "org": ORG, "entities": []}
        prs = self.pending_prs.pop(index, [])
        issues = self.pending_issues.pop(index, [])
        self.snapshots += len(prs)
        files = [
            ("raw_commits", _list_document([_record_text(c) for c in commits])),
            ("_coverage/raw_commits", _object_document(coverage)),
            ("_coverage/github", _object_document(github)),
            ("raw_pull_requests", _list_document(prs)),
            ("raw_issues", _list_document(issues)),
            ("raw_releases", _list_document([_record_text(r) for r in releases])),
            ("raw_backlog", _object_document(backlog)),
        ]
        for asset, text in files:
            self.bytes += _write(self.data, asset, key, text)
        if index == 0 or (commits and not self.samples["raw_commits"]):
            self.samples["raw_commits"].extend(commits[:3])
            _check_layout(self.data, "raw_commits", key, commits)
            _check_layout(self.data, "_coverage/raw_commits", key, coverage)
            _check_layout(self.data, "raw_backlog", key, backlog)
        if prs and "checked_prs" not in self.samples:
            self.samples["checked_prs"] = []
            _check_layout(self.data, "raw_pull_requests", key, [json.loads(t) for t in prs])
        if index % 30 == 0:
            self.samples["raw_commits"].extend(commits[-1:])
            self.samples["_coverage/raw_commits"].append(coverage)
            self.samples["raw_backlog"].append(backlog)
        self.samples["raw_releases"].extend(releases[:1] if index % 20 == 0 else [])

    def run(self) -> None:
        for asset in (
            "raw_commits",
            "_coverage/raw_commits",
            "_coverage/github",
            "raw_pull_requests",
            "raw_issues",
            "raw_releases",
            "raw_backlog",
        ):
            (self.data / "raw" / asset).mkdir(parents=True, exist_ok=True)
        for index in range(len(self.days)):
            self.day(index)
        self.validate()

    def validate(self) -> None:
        """A sample of every kind of record through the pydantic models of the contract."""
        from sparky_resources.github_records import (
            BacklogSnapshot,
            IssueRecord,
            PullRequestRecord,
            ReleaseRecord,
        )
        from sparky_resources.models import CommitRecord, Coverage

        models = {
            "raw_commits": CommitRecord,
            "_coverage/raw_commits": Coverage,
            "raw_pull_requests": PullRequestRecord,
            "raw_issues": IssueRecord,
            "raw_releases": ReleaseRecord,
            "raw_backlog": BacklogSnapshot,
        }
        for asset, model in models.items():
            for record in self.samples.get(asset, []):
                valid = model.model_validate(record).model_dump(mode="json")
                if valid != record:
                    sys.exit(f"error: a generated {asset} record does not round-trip: {record}")


# --- measuring (a child process: its peak memory is the computation's) --------------------------


def _keys(year: int) -> tuple[str, str, str]:
    """A mid-year month, its first Monday, and the day after (a Tuesday)."""
    month = dt.date(year, 6, 1)
    monday = month + dt.timedelta(days=(7 - month.weekday()) % 7)
    return month.isoformat(), monday.isoformat(), (monday + dt.timedelta(days=1)).isoformat()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0: `5` to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _hwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _update_contributors(
    store: Any, days: list[str], org: Any, update: Callable[..., Any], write: Callable[..., Any]
) -> tuple[float, float, Any]:
    """One contributors run over `days` (update the table, write it, suggested.mailmap and the
    state): wall and CPU seconds (this machine may be shared), and what it built."""
    wall, cpu = time.perf_counter(), time.process_time()
    built = update(store, days, org)
    write(store, days, built)
    return time.perf_counter() - wall, time.process_time() - cpu, built


def _stored_as_rebuilt(store: Any, days: list[str], table: Any) -> bool:
    """The stored contributors.json and suggested.mailmap are the full rebuild's (the parsed
    file, a year of strings, is freed on return: the monthly peak memory is measured later)."""
    stored = store.read("processed", "contributors", "contributors")
    mailmap = store.path("processed", "contributors", "suggested").with_suffix(".mailmap")
    return stored == {"days": days, "table": table.model_dump(mode="json")} and mailmap.read_text(
        encoding="utf-8"
    ) == "".join(f"{line}\n" for line in table.suggested_mailmap)


def measure(root: Path, year: int) -> int:
    os.environ["SPARKY_CONFIG"] = str(root / "sparky.toml")
    warnings.filterwarnings("ignore", message=r".* is currently in beta")
    from sparky_assets.defs.identity import build_table, collected_days, update_table, write_table
    from sparky_assets.defs.metrics import measure_window
    from sparky_resources.org import OrgResource
    from sparky_resources.store import DataStore

    store = DataStore(data_dir=str(root / "data"), output_dir=str(root / "output"))
    org = OrgResource(timezone="UTC", start_date=f"{year}-01-01")  # as _config writes it
    month, week, day = _keys(year)

    t0 = time.perf_counter()
    days = collected_days(store, org)
    table = build_table(store, days, org)
    contributors_s = time.perf_counter() - t0

    # The contributors asset's run when one day is added to the rest of the year: the state
    # and day tallies of every day but the last first (untimed), then the run with all.
    update_s = _update_contributors(store, days[:-1], org, update_table, write_table)[0]
    add_day_s, add_day_cpu_s, added = _update_contributors(
        store, days, org, update_table, write_table
    )
    rebuilt = len(added.parts.fresh)
    del added  # the previous file's text and the rebuilt contributors: not the months' memory
    if not _stored_as_rebuilt(store, days, table):
        print("error: the incremental contributors table differs from the full rebuild")
        return 1

    def timed(period: str, key: str) -> tuple[float, Any]:
        t = time.perf_counter()
        result = measure_window(store, org, period, key, table=table, history=days)[0]  # type: ignore[arg-type]
        return time.perf_counter() - t, result

    daily_s, _ = timed("daily", day)
    weekly_s, _ = timed("weekly", week)
    resettable = _reset_peak()
    monthly_s, m = timed("monthly", month)
    month_peak = _hwm_mb() if resettable else None
    t0 = time.perf_counter()
    year_commits = year_merges = year_prs = 0
    for n in range(1, 13):
        result = measure_window(
            store, org, "monthly", dt.date(year, n, 1).isoformat(), table=table, history=days
        )[0]
        year_commits += result.commits
        year_merges += result.merges
        year_prs += result.prs_opened or 0
    year_s = time.perf_counter() - t0

    people = table.contributors
    print(f"identities={len(people)}")
    print(f"bot_identities={sum(1 for p in people if p.is_bot)}")
    print(f"contributors_s={contributors_s:.3f}")
    print(f"contributors_first_run_s={update_s:.3f}")
    print(f"contributors_add_day_s={add_day_s:.3f}")
    print(f"contributors_add_day_cpu_s={add_day_cpu_s:.3f}")
    print(f"contributors_add_day_rebuilt={rebuilt}")
    print(f"contributors_add_day_vs_rebuild={add_day_s / contributors_s:.4f}")
    print(f"daily_metrics_s={daily_s:.3f}")
    print(f"weekly_metrics_s={weekly_s:.3f}")
    print(f"year_monthly_s={year_s:.3f}")
    print(f"year_commits={year_commits}")
    print(f"year_merges={year_merges}")
    print(f"year_prs_opened={year_prs}")
    print(f"month={month}")
    print(f"month_commits={m.commits}")
    print(f"month_contributors={m.active_contributors}")
    print(f"month_new_contributors={m.new_contributors}")
    print(f"month_quiet_contributors={m.quiet_contributors}")
    print(f"month_prs_opened={m.prs_opened}")
    print(f"month_prs_merged={m.prs_merged}")
    merge = m.pull_requests.time_to_merge.median_h if m.pull_requests else None
    print(f"month_pr_merge_median_h={merge}")
    print(f"month_caf={m.caf}")
    if month_peak is not None:
        print(f"monthly_peak_rss_mb={month_peak:.0f}")
    print(f"peak_rss_mb={_peak_mb():.0f}")
    print(f"monthly_metrics_s={monthly_s:.3f}")
    return 0


# --- main ---------------------------------------------------------------------------------------


def _config(root: Path, year: int) -> None:
    text = (
        "[sparky]\n"
        'timezone = "UTC"\n'
        f"start_date = {year}-01-01\n"
        f"data_dir = {json.dumps(str(root / 'data'))}\n"
        f"output_dir = {json.dumps(str(root / 'output'))}\n"
        "\n[github]\n"
        f'org = "{ORG}"\n'
    )
    (root / "sparky.toml").write_text(text, encoding="utf-8")


def generate(root: Path, sizes: Sizes) -> dict[str, Any]:
    """Write the year under root/data (or reuse what an earlier run with the same sizes left)."""
    manifest = root / MANIFEST
    wanted = vars(sizes)
    if manifest.exists():
        stored = json.loads(manifest.read_text())
        if stored.get("sizes") == wanted:
            return {**stored["figures"], "generate_s": 0.0, "reused": True}
        shutil.rmtree(root / "data", ignore_errors=True)
        manifest.unlink()
    root.mkdir(parents=True, exist_ok=True)
    _config(root, sizes.year)
    t0 = time.perf_counter()
    gen = Generator(sizes, root / "data")
    gen.run()
    figures = {
        "commits": sum(gen.commits_per_day),
        "bot_commits": gen.counts["bot_commits"],
        "merge_commits": gen.counts["merges"],
        "pull_requests": sum(gen.prs_per_day),
        "bot_pull_requests": gen.counts["pr_bots"],
        "pull_request_snapshots": gen.snapshots,
        "issues": sum(gen.issues_per_day),
        "releases": gen.counts["releases"],
        "repos": len(gen.repos),
        "contributors": len(gen.people),
        "days": len(gen.days),
        "raw_mb": round(gen.bytes / 2**20, 1),
    }
    manifest.write_text(json.dumps({"sizes": wanted, "figures": figures}, indent=2) + "\n")
    return {**figures, "generate_s": time.perf_counter() - t0, "reused": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=1_000_000)
    parser.add_argument("--pull-requests", type=int, default=100_000)
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--contributors", type=int, default=5_000)
    parser.add_argument("--year", type=int, default=2025, help="a past calendar year")
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--keep", type=Path, help="write the data here and keep it (reused)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:
        return measure(args.measure, args.year)
    for name in ("commits", "pull_requests", "repos", "contributors"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if dt.date(args.year, 12, 31) >= dt.datetime.now(dt.UTC).date():
        parser.error(f"--year {args.year} has not ended: every day must be a past partition")
    sizes = Sizes(
        commits=args.commits,
        pull_requests=args.pull_requests,
        repos=args.repos,
        contributors=args.contributors,
        year=args.year,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="sparky-bench-metrics-") as tmp:
        root = args.keep.expanduser().resolve() if args.keep else Path(tmp)
        figures = generate(root, sizes)
        if figures["reused"]:
            print(f"reused the data in {root}")
        for name in (
            "commits",
            "bot_commits",
            "merge_commits",
            "pull_requests",
            "bot_pull_requests",
            "pull_request_snapshots",
            "issues",
            "releases",
            "repos",
            "contributors",
            "raw_mb",
        ):
            print(f"{name}={figures[name]}")
        print(f"generate_s={figures['generate_s']:.3f}")
        sys.stdout.flush()
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--measure",
                str(root),
                "--year",
                str(args.year),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout)
            print(f"error: measuring failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        lines = proc.stdout.strip().splitlines()
        last = [line for line in lines if line.startswith("monthly_metrics_s=")]
        for line in [line for line in lines if line not in last] + last:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
