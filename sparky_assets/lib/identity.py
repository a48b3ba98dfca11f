"""Who is who: canonical identities over commits, pull requests and issues, and who is a bot.

Pure and Dagster-free. `IdentityBuilder` streams raw records (plain dicts shaped like
`CommitRecord`, `PullRequestRecord` and `IssueRecord`) into a union-find over string handles,
`email:<lowercased email>` and `login:<lowercased login>`, so a year of commits sits in memory
as per-handle tallies only. `build()` turns each connected group into one `Contributor`.

Merging rules (each links two handles; a group is everything linked, transitively):

1. Git's `.mailmap` is applied at collection (`author_email` is already mapped).
2. A commit's email and the GitHub account GitHub links it to (`author_login`) are one person.
3. GitHub's noreply addresses `ID+login@users.noreply.github.com` and
   `login@users.noreply.github.com` belong to the account `login`, bots included
   (`49699333+dependabot[bot]@users.noreply.github.com` is `dependabot[bot]`):
   https://docs.github.com/en/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-email-preferences/setting-your-commit-email-address
4. `[identity].aliases` (email -> email) merges what `.mailmap` does not; chains are followed.
5. Emails compare lowercased, logins case-insensitively (both are stored lowercased).

The canonical id of a group is its primary login: among the logins GitHub itself reported on
records (`author_login` of a commit, pull request or issue), the one with the most such
contributions (ties: alphabetically first). A login known only from a noreply address links
emails but does not name the group: without GitHub collection an identity keeps its email id,
the same id the metrics gave it before GitHub was collected. Without a reported login the id
is the primary email: the one with the most commits (ties: alphabetically first). Every choice
breaks ties by sorting, so the table does not depend on the order records arrive in.

A contribution is a non-merge commit (on its org-timezone day of `committed_ts`), a pull
request opened or an issue opened (at `created_at`; each (repo, number) once, however many day
files repeat it). Reviews and comments are not. `repos` and `active_days` cover all three.

Bot rules, per group, the first that applies gives the recorded reason:

1. a login, an author name or an email's local part (less an `ID+` prefix) is listed in
   `[identity].bots` (case-insensitive);
2. a login, an author name or an email's local part ends in `[bot]` (GitHub Apps);
3. a login, an author name (whitespace collapsed) or an email's local part is matched WHOLE,
   case-insensitively, by a regular expression of `[identity].bot_patterns`: CI and automation
   accounts that are neither GitHub Apps nor Bot accounts ("Build Server" <build@...>,
   "GitHub Action" <action@github.com>, "Jenkins", Azure Pipelines' "... Build Service (org)").
   The defaults and their sources are `config.DEFAULT_BOT_PATTERNS`; the reason names the
   pattern that matched; `bot_patterns = []` turns the rule off. A whole match only: "ci"
   marks "CI" and ci@corp.example, never "Chris";
4. GitHub reported the account's type as Bot (`author_is_bot` on a pull request or issue);
5. at least 2 non-merge commits and every one matches `AUTOMATED_SUBJECTS` (a human who once
   writes "Bump version from 1.0 to 1.1" among other commits stays human).

The rules are configuration applied at build time (`IdentityBuilder.config_key` covers
`bots`, `bot_patterns` and `aliases`): a table cached under other settings is rebuilt whole.

`suggested_mailmap` and `unresolved` list human identities that share a name (casefolded,
whitespace collapsed; short and generic names such as "root" ignored) but were not merged:
likely one person under two addresses. The lines follow https://git-scm.com/docs/gitmailmap
(`Proper Name <proper@email> <commit@email>`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import marshal
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, Field

from sparky_resources import clock
from sparky_resources.config import DEFAULT_BOT_PATTERNS

_escape = json.encoder.encode_basestring  # the C escaper json.dumps uses (ensure_ascii off)
_ONLY_STR = {str}

# GitHub Apps commit as "<name>[bot]" with a users.noreply address ending in "[bot]@...".
_BOT_EMAIL_MARK = "[bot]@"
# `[identity].bot_patterns` when a caller passes none: the config's defaults.
DEFAULT_PATTERNS: tuple[str, ...] = tuple(DEFAULT_BOT_PATTERNS)


def identity_key(email: str, aliases: Mapping[str, str]) -> str:
    """The canonical identity of an author: the lowercased (aliased) email."""
    email = email.strip().lower()
    return aliases.get(email, email)


def bot_reason(name: str, email: str, bots: Iterable[str]) -> str | None:
    """Why an identity counts as a bot, or None for a human."""
    lowered = {b.lower() for b in bots}
    if name.lower() in lowered:
        return f"name {name!r} is listed in [identity].bots"
    local = email.lower().split("@", 1)[0].split("+", 1)[-1]
    if local in lowered:
        return f"email {email!r} is listed in [identity].bots"
    if name.lower().endswith("[bot]") or _BOT_EMAIL_MARK in email.lower():
        return "GitHub App identity ([bot])"
    return None


# ---------------------------------------------------------------------------------------------
# Constants

# Subjects that dependency and hook updaters write. Matched case-insensitively from the start
# of the subject, after an optional conventional-commit prefix ("build(deps): ",
# "chore(deps-dev): ", "deps: "), up to an optional squash-merge suffix " (#123)".
#   Dependabot: "Bump <pkg> from <v> to <v>" (" in /path"), "Bump the <group> group ..."
#   Renovate:   "Update dependency <x> to <v>", "Update <x> to <v>", "Lock file maintenance",
#               "Pin dependencies" / "Pin dependency <x> to <v>"
#   pre-commit: "[pre-commit.ci] ...", "pre-commit autoupdate"
AUTOMATED_SUBJECTS: tuple[str, ...] = (
    r"bump \S+ from \S+ to \S+(?: in \S+)?",
    r"bump the \S+ group\b.*",
    r"update dependency \S+ to v?\d\S*",
    r"update .+? to v?\d\S*",
    r"lock file maintenance\b.*",
    r"pin dependenc(?:y|ies)\b.*",
    r"\[pre-commit\.ci\].*",
    r"pre-commit autoupdate\b.*",
)
_AUTOMATED = re.compile(
    r"\s*(?:[a-z]+(?:\([^)]*\))?!?:\s*)?(?:"
    + "|".join(AUTOMATED_SUBJECTS)
    + r")(?:\s+\(#\d+\))?\s*$",
    re.IGNORECASE,
)

# Names too common to say two identities are one person.
GENERIC_NAMES: frozenset[str] = frozenset(
    {
        "root",
        "admin",
        "administrator",
        "user",
        "unknown",
        "ubuntu",
        "github",
        "ci",
        "git",
        "test",
        "runner",
        "builder",
        "jenkins",
        "your name",
        "github actions",
    }
)

_NOREPLY = re.compile(r"^(?:\d+\+)?([a-z0-9][a-z0-9-]*(?:\[bot\])?)@users\.noreply\.github\.com$")
_ID_PREFIX = re.compile(r"^\d+\+")
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL = "email:"
_LOGIN = "login:"
_ID_NODE = "\x00id:"  # extend_table: a stored contributor, linking its stored handles
_BUCKET = 900  # seconds: every UTC offset in use is a multiple of 15 minutes
_VARIES = object()
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
# The format of `day_tally`: a stored tally of another version is made again from the raw files.
TALLY_VERSION = 1
# The format of `IdentityBuilder.state` and the table cache beside it (`dump_state`): a state of
# another version is rebuilt from the day tallies, never misread.
STATE_VERSION = 2
# The contributors table's text: each contributor is an item of `table.contributors`, three
# levels into the document `DataStore.write` writes, so its text is the same wherever it sits.
_ITEM_NEWLINE = "\n      "
_ITEM_SEPARATOR = ("," + _ITEM_NEWLINE).encode()
_PLACEHOLDER = "\x00contributors\x00"  # where the contributors go in the document's text
_STATE_MAGIC = b"sparky contributors state\n"


# ---------------------------------------------------------------------------------------------
# Models


class Contributor(BaseModel):
    """One person (or bot) over every handle merged into it. Instants are ISO 8601 UTC."""

    id: str
    name: str
    logins: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    is_bot: bool = False
    bot_reason: str | None = None
    first_contribution: str | None = None
    last_contribution: str | None = None
    first_commit: str | None = None
    first_pull_request: str | None = None
    first_issue: str | None = None
    commits: int = 0
    pull_requests: int = 0
    issues: int = 0
    repos: list[str] = Field(default_factory=list)
    active_days: list[str] = Field(default_factory=list)


class UnresolvedIdentity(BaseModel):
    """Identities that share a name but share no email, login or alias."""

    name: str
    ids: list[str]
    reason: str


class ContributorsTable(BaseModel):
    """Every identity, and every handle (`email:...`, `login:...`) -> its canonical id."""

    contributors: list[Contributor] = Field(default_factory=list)
    handles: dict[str, str] = Field(default_factory=dict)
    suggested_mailmap: list[str] = Field(default_factory=list)
    unresolved: list[UnresolvedIdentity] = Field(default_factory=list)

    def resolve(self, email: str | None = None, login: str | None = None) -> str | None:
        """The canonical id of a known login or email (the login decides when both are given).

        An email the table never saw still resolves when it is a noreply address of a known
        login.
        """
        if login and login.strip():
            found = self.handles.get(_LOGIN + login.strip().lower())
            if found is not None:
                return found
        if email and email.strip():
            address = email.strip().lower()
            found = self.handles.get(_EMAIL + address)
            if found is not None:
                return found
            owner = noreply_login(address)
            if owner is not None:
                return self.handles.get(_LOGIN + owner)
        return None

    def by_id(self) -> dict[str, Contributor]:
        return {c.id: c for c in self.contributors}


@dataclass
class TableParts:
    """A built table as `table_document` writes it: each contributor either built now
    (`fresh`) or left as it was, its text at `kept[id]` (a byte span) in the previous file."""

    ids: list[str]  # every contributor, in the table's order
    fresh: dict[str, Contributor]
    kept: dict[str, tuple[int, int]]
    named: dict[str, _Named]
    handles: dict[str, str]
    suggested_mailmap: list[str]
    unresolved: list[UnresolvedIdentity]
    config: str  # IdentityBuilder.config_key of the build

    def bots(self) -> int:
        return sum(1 for person in self.named.values() if person.is_bot)


# ---------------------------------------------------------------------------------------------
# Helpers


def noreply_login(email: str) -> str | None:
    """The login a GitHub noreply address belongs to (lowercased), or None for any other."""
    match = _NOREPLY.match(email.strip().lower())
    return match.group(1) if match else None


def is_automated_subject(subject: str) -> bool:
    """Whether a commit subject is one an updater bot writes (`AUTOMATED_SUBJECTS`)."""
    return _AUTOMATED.match(subject.strip()) is not None


def display_name(name: str) -> str:
    """An author name for people to read: an email address in it shows only its local part."""
    return _EMAIL_IN_TEXT.sub(lambda m: m.group(0).split("@", 1)[0], name).strip()


def _name_key(name: str) -> str | None:
    """The form in which two names count as the same; None for names too weak to say so."""
    key = " ".join(display_name(name).casefold().split())
    if len(key) < 3 or key in GENERIC_NAMES:
        return None
    return key


def _local_part(email: str) -> str:
    return _ID_PREFIX.sub("", email.split("@", 1)[0])


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@functools.cache
def _day_name(day: int) -> str:
    """A day number (days since 1970-01-01) as an ISO date."""
    return dt.date.fromordinal(day + _EPOCH_DAY).isoformat()


def _pick_iso(values: Iterable[str | None], *, latest: bool = False) -> str | None:
    """The earliest (or latest) of ISO instants, compared as instants, not as text."""
    present = [v for v in values if v]
    if not present:
        return None
    return (max if latest else min)(present, key=clock.parse_instant)  # type: ignore[arg-type]


def _first(ranked: Mapping[str, int]) -> str | None:
    """The key with the highest count; ties go to the alphabetically first."""
    best: tuple[int, str] | None = None
    for key, count in ranked.items():
        if best is None or count > best[0] or (count == best[0] and key < best[1]):
            best = (count, key)
    return best[1] if best else None


class _Tally:
    """What one handle did, kept as counts and bitmaps (never the records themselves).

    Repositories and active days are bitmaps (Python ints), so that a stored tally is a few
    numbers and groups join with `|`: `repos` over the builder's repository index, `days`
    with bit i for org-timezone day `day_base + i` (days since 1970-01-01).
    """

    __slots__ = (
        "automated",
        "commits",
        "day_base",
        "days",
        "first_commit",
        "first_issue",
        "first_pull",
        "issues",
        "last",
        "names",
        "pulls",
        "repos",
        "sample",
    )

    def __init__(self) -> None:
        self.commits = 0
        self.automated = 0
        self.sample: str | None = None
        self.pulls = 0
        self.issues = 0
        self.names: dict[str, int] = {}
        self.repos = 0
        self.day_base = 0
        self.days = 0
        self.first_commit: float | None = None
        self.first_pull: float | None = None
        self.first_issue: float | None = None
        self.last: float | None = None


class _Group:
    """The tallies of every handle of one group, added up."""

    def __init__(self) -> None:
        self.logins: set[str] = set()
        self.emails: set[str] = set()
        self.email_commits: dict[str, int] = {}
        self.reported: dict[str, int] = {}  # login -> contributions GitHub attributed to it
        self.github_bots: set[str] = set()
        self.total = _Tally()


def _add_day(tally: _Tally, day: int) -> None:
    if not tally.days:
        tally.day_base, tally.days = day, 1
    elif day >= tally.day_base:
        tally.days |= 1 << (day - tally.day_base)
    else:
        tally.days = (tally.days << (tally.day_base - day)) | 1
        tally.day_base = day


def _join_days(into: _Tally, other: _Tally) -> None:
    """`into`'s days become the union of both tallies' days."""
    if not other.days:
        return
    if not into.days:
        into.day_base, into.days = other.day_base, other.days
        return
    base = min(into.day_base, other.day_base)
    into.days = (into.days << (into.day_base - base)) | (other.days << (other.day_base - base))
    into.day_base = base


def _merge(tally: _Tally, fields: list[Any], repo_bit: Callable[[str], int]) -> None:
    """Add a tally stored by `IdentityBuilder._fields` into `tally`: counts add, sets join,
    instants extend."""
    (
        commits,
        automated,
        sample,
        pulls,
        issues,
        names,
        repos,
        days,
        first_c,
        first_p,
        first_i,
        last,
    ) = fields
    tally.commits += commits
    tally.automated += automated
    if sample is not None and (tally.sample is None or sample < tally.sample):
        tally.sample = sample
    tally.pulls += pulls
    tally.issues += issues
    mine = tally.names
    for name, count in names.items():
        mine[name] = mine.get(name, 0) + count
    for repo in repos:
        tally.repos |= repo_bit(repo)
    for day in days:
        _add_day(tally, day)
    tally.first_commit = _min(tally.first_commit, first_c)
    tally.first_pull = _min(tally.first_pull, first_p)
    tally.first_issue = _min(tally.first_issue, first_i)
    tally.last = _max(tally.last, last)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _members(base: int, bits: int) -> list[int]:
    """The integers of a bitmap (bit i set: `base + i` is in), in ascending order."""
    data = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    found: list[int] = (np.flatnonzero(np.unpackbits(data, bitorder="little")) + base).tolist()
    return found


class _Named(NamedTuple):
    """What `_same_names` needs of a contributor (kept in the table cache for each one)."""

    id: str
    name: str
    keys: tuple[str, ...]  # its names as `_name_key` compares them
    is_bot: bool
    commits: int
    emails: tuple[str, ...]
    primary_email: str | None


class BotPatterns:
    """`[identity].bot_patterns` compiled: which pattern, if any, matches a value WHOLE
    (case-insensitive). One alternation answers "none" for most values in one scan."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.sources: tuple[str, ...] = tuple(p for p in (p.strip() for p in patterns) if p)
        self._each = [(src, re.compile(src, re.IGNORECASE)) for src in self.sources]
        self._any: re.Pattern[str] | None = None
        if self.sources:
            try:
                self._any = re.compile("|".join(f"(?:{src})" for src in self.sources), re.I)
            except re.error:  # a pattern with its own global flags: tried one by one
                self._any = None

    def match(self, value: str) -> str | None:
        """The first pattern (in configured order) matching all of `value`, or None."""
        if not self._each or (self._any is not None and self._any.fullmatch(value) is None):
            return None
        return next((src for src, rx in self._each if rx.fullmatch(value)), None)


def _listed_or_suffix(
    logins: Iterable[str],
    names: Iterable[str],
    emails: Iterable[str],
    bots: frozenset[str],
    patterns: BotPatterns | None = None,
) -> str | None:
    """Bot rules 1 to 3, which need nothing but the identity's handles and names."""
    candidates = [
        *(("login", x, x) for x in sorted(logins)),
        *(("name", x, x.strip().casefold()) for x in sorted(names)),
        *(("email", x, _local_part(x)) for x in sorted(emails)),
    ]
    for kind, shown, value in candidates:
        if value in bots:
            return f"listed in [identity].bots ({kind} {shown!r})"
    for kind, shown, value in candidates:
        if value.endswith("[bot]"):
            return f"[bot] suffix ({kind} {shown!r})"
    if patterns is not None:
        for kind, shown, value in candidates:
            found = patterns.match(" ".join(value.split()))
            if found is not None:
                return f"matches [identity].bot_patterns {found!r} ({kind} {shown!r})"
    return None


def _automation_reason(commits: int, automated: int, sample: str | None) -> str | None:
    if commits >= 2 and automated == commits:
        return f"all {commits} commits are automated messages (e.g. {sample!r})"
    return None


# ---------------------------------------------------------------------------------------------
# The builder


class IdentityBuilder:
    """Streams raw records into per-handle tallies and links; `build()` makes the table."""

    def __init__(
        self,
        *,
        tz: ZoneInfo,
        bots: Iterable[str] = (),
        bot_patterns: Iterable[str] = DEFAULT_PATTERNS,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.tz = tz
        self.bots = frozenset(b.strip().casefold() for b in bots)
        self.patterns = BotPatterns(bot_patterns)
        self.aliases = {k.strip().lower(): v.strip().lower() for k, v in (aliases or {}).items()}
        self._parent: dict[str, str] = {}
        self._tallies: dict[str, _Tally] = {}
        self._reported: dict[str, int] = {}  # login handle -> contributions naming it
        self._github_bots: set[str] = set()  # login handles GitHub said are Bots
        # (kind, repo) -> numbers counted (a tuple: as stored, not looked up since)
        self._seen: dict[tuple[str, Any], set[Any] | tuple[Any, ...]] = {}
        self._linked: set[tuple[str, str]] = set()
        # Tallies as `state` stored them, unpacked only when a handle is used again: resuming
        # costs what the new days touch, not the whole history.
        self._packed: dict[str, bytes] = {}
        self._repos: list[str] = []  # repositories by their bit in `_Tally.repos`
        self._repo_bits: dict[str, int] = {}
        # Handles `add_tally` touched since `from_state`; None: any may have changed (a fresh
        # builder, or raw records added), so `build_parts` rebuilds every contributor.
        self._touched: set[str] | None = None
        self._email_handles: dict[str, str] = {}  # raw author_email -> handle
        self._login_handles: dict[str, str] = {}  # raw login -> handle
        self._offsets: dict[int, Any] = {}

    # -- union-find ----------------------------------------------------------------------------

    def _node(self, handle: str) -> None:
        if handle not in self._parent:
            self._parent[handle] = handle
            if handle.startswith(_EMAIL):
                owner = noreply_login(handle[len(_EMAIL) :])
                if owner is not None:
                    self._union(handle, _LOGIN + owner)

    def _find(self, handle: str) -> str:
        parent = self._parent
        while parent[handle] != handle:
            parent[handle] = parent[parent[handle]]
            handle = parent[handle]
        return handle

    def _union(self, a: str, b: str) -> None:
        self._node(a)
        self._node(b)
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # Deterministic: the smaller handle becomes the root (no effect on the result).
            if rb < ra:
                ra, rb = rb, ra
            self._parent[rb] = ra

    # -- handles -------------------------------------------------------------------------------

    def _email(self, raw: str) -> str | None:
        handle = self._email_handles.get(raw)
        if handle is None:
            address = raw.strip().lower()
            if not address:
                return None
            handle = _EMAIL + address
            self._email_handles[raw] = handle
            self._node(handle)
        return handle

    def _login(self, raw: str) -> str | None:
        handle = self._login_handles.get(raw)
        if handle is None:
            login = raw.strip().lower()
            if not login:
                return None
            handle = _LOGIN + login
            self._login_handles[raw] = handle
            self._node(handle)
        return handle

    def _tally(self, handle: str) -> _Tally:
        tally = self._tallies.get(handle)
        if tally is None:
            packed = self._packed.pop(handle, None)
            tally = self._tallies[handle] = _Tally() if packed is None else self._unpack(packed)
        return tally

    def _tally_if_any(self, handle: str) -> _Tally | None:
        """A handle's tally to read: a packed one stays packed, for `state` to store as is."""
        tally = self._tallies.get(handle)
        if tally is None:
            packed = self._packed.get(handle)
            if packed is not None:
                tally = self._unpack(packed)
        return tally

    def _repo_bit(self, repo: str) -> int:
        """A repository's bit in `_Tally.repos` (the next free one the first time)."""
        bit = self._repo_bits.get(repo)
        if bit is None:
            bit = self._repo_bits[repo] = 1 << len(self._repos)
            self._repos.append(repo)
        return bit

    def _repo_names(self, bits: int) -> list[str]:
        repos = self._repos
        return sorted(repos[i] for i in _members(0, bits))

    def _fields(self, tally: _Tally) -> list[Any]:
        """A tally as a JSON list, for `day_tally` (the order `_merge` reads)."""
        return [
            tally.commits,
            tally.automated,
            tally.sample,
            tally.pulls,
            tally.issues,
            tally.names,
            self._repo_names(tally.repos),
            _members(tally.day_base, tally.days),
            tally.first_commit,
            tally.first_pull,
            tally.first_issue,
            tally.last,
        ]

    @staticmethod
    def _pack(tally: _Tally) -> bytes:
        """A tally as `state` stores it, in marshal's bytes: one object per handle to store
        and load, unpacked only when used."""
        return marshal.dumps(tuple(getattr(tally, field) for field in _Tally.__slots__))

    @staticmethod
    def _unpack(packed: bytes) -> _Tally:
        tally = _Tally()
        for field, value in zip(_Tally.__slots__, marshal.loads(packed), strict=True):
            setattr(tally, field, value)
        return tally

    def _day(self, ts: float) -> int:
        """The org-timezone date of an instant (days since 1970-01-01), through a per-15-minute
        cache of UTC offsets."""
        whole = math.floor(ts)
        bucket = whole // _BUCKET
        offset = self._offsets.get(bucket)
        if offset is None:
            start = bucket * _BUCKET
            a = dt.datetime.fromtimestamp(start, self.tz).utcoffset()
            b = dt.datetime.fromtimestamp(start + _BUCKET - 1, self.tz).utcoffset()
            offset = int(a.total_seconds()) if a == b and a is not None else _VARIES
            self._offsets[bucket] = offset
        if offset is _VARIES:  # an offset change inside the bucket: ask zoneinfo directly
            return dt.datetime.fromtimestamp(ts, self.tz).date().toordinal() - _EPOCH_DAY
        return (whole + offset) // 86400

    # -- input ---------------------------------------------------------------------------------

    def add_commits(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Non-merge commits are contributions (at `committed_ts`); merges are ignored."""
        self._touched = None
        linked = self._linked
        reported = self._reported
        automated = _AUTOMATED.match
        email_handles = self._email_handles
        tallies = self._tallies
        offsets = self._offsets
        repo_bits = self._repo_bits
        for record in records:
            if record.get("is_merge"):
                continue
            raw_email = record.get("author_email") or ""
            email = email_handles.get(raw_email) or self._email(raw_email)
            raw_login = record.get("author_login")
            login = self._login(raw_login) if raw_login else None
            if login is not None:
                reported[login] = reported.get(login, 0) + 1
                if email is not None and (email, login) not in linked:
                    linked.add((email, login))
                    self._union(email, login)
            handle = email or login
            if handle is None:
                continue  # neither an email nor a login: nobody to attribute it to
            tally = tallies.get(handle) or self._tally(handle)
            tally.commits += 1
            subject = record.get("subject") or ""
            if automated(subject):
                subject = subject.strip()
                tally.automated += 1
                if tally.sample is None or subject < tally.sample:
                    tally.sample = subject
            name = record.get("author_name") or ""
            names = tally.names
            names[name] = names.get(name, 0) + 1
            repo = record.get("repo") or ""
            tally.repos |= repo_bits.get(repo) or self._repo_bit(repo)
            ts = record["committed_ts"]
            # The offset cache inlined for whole-second epochs (the common case); else `_day`.
            offset = offsets.get(ts // _BUCKET) if type(ts) is int else None
            day = self._day(ts) if offset is None or offset is _VARIES else (ts + offset) // 86400
            if tally.days and day >= tally.day_base:
                tally.days |= 1 << (day - tally.day_base)
            else:
                _add_day(tally, day)
            if tally.first_commit is None or ts < tally.first_commit:
                tally.first_commit = ts
            if tally.last is None or ts > tally.last:
                tally.last = ts

    def _first_sight(self, kind: str, repo: Any, number: Any) -> bool:
        """Whether this pull request or issue is counted now (not seen in an earlier file)."""
        seen = self._seen.get((kind, repo))
        if seen is None:
            self._seen[(kind, repo)] = {number}
            return True
        if seen.__class__ is tuple:
            seen = self._seen[(kind, repo)] = set(seen)
        if number in seen:
            return False
        seen.add(number)  # type: ignore[union-attr]
        return True

    def _add_opened(self, records: Iterable[Mapping[str, Any]], kind: str) -> None:
        self._touched = None
        for record in records:
            repo = record.get("repo")
            if not self._first_sight(kind, repo, record.get("number")):
                continue  # the same item is in several day files
            raw_login = record.get("author_login")
            login = self._login(raw_login) if raw_login else None
            self._add_item(
                kind, repo, login, record.get("created_at"), bool(record.get("author_is_bot"))
            )

    def _add_item(
        self, kind: str, repo: str | None, login: str | None, created: str | None, bot: bool
    ) -> None:
        """One pull request or issue opened, counted the first time its (repo, number) is seen."""
        if login is None or not created:
            return  # a deleted account ("ghost"): nobody to attribute it to
        self._reported[login] = self._reported.get(login, 0) + 1
        if bot:
            self._github_bots.add(login)
        ts = clock.epoch(created)
        tally = self._tally(login)
        if kind == "pull":
            tally.pulls += 1
            tally.first_pull = _min(tally.first_pull, ts)
        else:
            tally.issues += 1
            tally.first_issue = _min(tally.first_issue, ts)
        tally.last = _max(tally.last, ts)
        tally.repos |= self._repo_bit(repo or "")
        _add_day(tally, self._day(ts))

    def add_pull_requests(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Opening a pull request is a contribution (at `created_at`), once per (repo, number)."""
        self._add_opened(records, "pull")

    def add_issues(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Opening an issue is a contribution (at `created_at`), once per (repo, number)."""
        self._add_opened(records, "issue")

    # -- per-day tallies (see `day_tally`) --------------------------------------------------------

    def add_tally(self, tally: Mapping[str, Any]) -> None:
        """Merge what one day contributed (`day_tally`), as `add_commits` and friends would have.

        Days must come in date order, as `build_table` reads them: a pull request or issue in
        several day files counts on the first of them (the tallies of later days skip it).
        """
        if tally.get("tz") != self.tz.key:
            raise ValueError(f"a tally made in {tally.get('tz')!r} merged into {self.tz.key!r}")
        touched = self._touched if self._touched is not None else set()
        for handle, fields in tally["handles"].items():
            self._node(handle)
            _merge(self._tally(handle), fields, self._repo_bit)
            touched.add(handle)
        for email, login in tally["links"]:
            touched.add(email)
            touched.add(login)
            if (email, login) not in self._linked:
                self._linked.add((email, login))
                self._union(email, login)
        for login, count in tally["reported"].items():
            self._reported[login] = self._reported.get(login, 0) + count
            touched.add(login)
        for kind, repo, number, login, created, bot in tally["items"]:
            if not self._first_sight(kind, repo, number):
                continue
            handle = None
            if login is not None:
                handle = _LOGIN + login
                self._node(handle)
                touched.add(handle)
            self._add_item(kind, repo, handle, created, bot)

    def state(self) -> dict[str, Any]:
        """Everything the builder has seen, as JSON: `from_state` resumes from it.

        Plain values only (`dump_state` stores it with marshal). Taken before `build()`, which
        links `[identity].aliases` into the union-find: the aliases are configuration, applied
        afresh to every build. Tallies not used since `from_state` are kept as they came.
        """
        tallies = dict(self._packed)
        for handle, tally in self._tallies.items():
            tallies[handle] = self._pack(tally)
        return {
            "tz": self.tz.key,
            "parent": dict(self._parent),
            "tallies": tallies,
            "repos": list(self._repos),
            "reported": dict(self._reported),
            "github_bots": sorted(self._github_bots),
            "seen": {key: tuple(numbers) for key, numbers in self._seen.items()},
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        *,
        tz: ZoneInfo,
        bots: Iterable[str] = (),
        bot_patterns: Iterable[str] = DEFAULT_PATTERNS,
        aliases: Mapping[str, str] | None = None,
    ) -> IdentityBuilder:
        """A builder that has seen what the builder behind `state` had seen."""
        if state.get("tz") != tz.key:
            raise ValueError(f"a state made in {state.get('tz')!r} resumed in {tz.key!r}")
        builder = cls(tz=tz, bots=bots, bot_patterns=bot_patterns, aliases=aliases)
        builder._parent = dict(state["parent"])
        builder._packed = dict(state["tallies"])
        builder._repos = list(state["repos"])
        builder._repo_bits = {repo: 1 << i for i, repo in enumerate(builder._repos)}
        builder._reported = dict(state["reported"])
        builder._github_bots = set(state["github_bots"])
        builder._seen = dict(state["seen"])
        builder._touched = set()
        return builder

    def config_key(self) -> str:
        """A digest of the configuration a build applies (`[identity].bots`, `.bot_patterns`
        and `.aliases`): a cached table built under another one is not reused. The patterns
        keep their order, which decides the reason recorded when two match."""
        text = json.dumps(
            [sorted(self.bots), sorted(self.aliases.items()), list(self.patterns.sources)]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    # -- output --------------------------------------------------------------------------------

    def _link_aliases(self) -> None:
        """Follow `[identity].aliases` from every email seen (chains too, cycles stop)."""
        if not self.aliases:
            return
        for handle in list(self._parent):
            if not handle.startswith(_EMAIL):
                continue
            address, hops = handle[len(_EMAIL) :], 0
            while address in self.aliases and hops < len(self.aliases):
                target = self.aliases[address]
                self._union(_EMAIL + address, _EMAIL + target)
                address, hops = target, hops + 1

    def _components(self) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for handle in self._parent:
            groups.setdefault(self._find(handle), []).append(handle)
        return [sorted(handles) for _, handles in sorted(groups.items())]

    def _aggregate(self, handles: Iterable[str]) -> _Group:
        group = _Group()
        total = group.total
        for handle in handles:
            if handle.startswith(_LOGIN):
                login = handle[len(_LOGIN) :]
                group.logins.add(login)
                if handle in self._reported:
                    group.reported[login] = self._reported[handle]
                if handle in self._github_bots:
                    group.github_bots.add(login)
            elif handle.startswith(_EMAIL):
                group.emails.add(handle[len(_EMAIL) :])
            tally = self._tally_if_any(handle)
            if tally is None:
                continue
            if handle.startswith(_EMAIL):
                group.email_commits[handle[len(_EMAIL) :]] = tally.commits
            total.commits += tally.commits
            total.automated += tally.automated
            if tally.sample is not None and (total.sample is None or tally.sample < total.sample):
                total.sample = tally.sample
            total.pulls += tally.pulls
            total.issues += tally.issues
            for name, count in tally.names.items():
                total.names[name] = total.names.get(name, 0) + count
            total.repos |= tally.repos
            _join_days(total, tally)
            total.first_commit = _min(total.first_commit, tally.first_commit)
            total.first_pull = _min(total.first_pull, tally.first_pull)
            total.first_issue = _min(total.first_issue, tally.first_issue)
            total.last = _max(total.last, tally.last)
        return group

    @staticmethod
    def _canonical(group: _Group) -> str:
        """The primary reported login, else the primary email (see the module docstring)."""
        login = _first(group.reported)
        if login is not None:
            return login
        email = _first(group.email_commits) or _first(dict.fromkeys(group.emails, 0))
        if email is not None:
            return email
        return sorted(group.logins)[0]

    def _contributor(self, ident: str, group: _Group, *, automation: bool = True) -> Contributor:
        total = group.total
        names = {n: c for n, c in total.names.items() if display_name(n)}
        reason = _listed_or_suffix(group.logins, names, group.emails, self.bots, self.patterns)
        if reason is None and group.github_bots:
            reason = f"GitHub account type Bot (login {sorted(group.github_bots)[0]!r})"
        if reason is None and automation:
            reason = _automation_reason(total.commits, total.automated, total.sample)
        first = _min(_min(total.first_commit, total.first_pull), total.first_issue)
        # Built from values of the fields' own types: pydantic's check of a year's active days
        # and repositories would cost more than the rest of an incremental run's work.
        return Contributor.model_construct(
            id=ident,
            name=_display(names, ident, group.logins),
            logins=sorted(group.logins),
            emails=sorted(group.emails),
            names=sorted(names),
            is_bot=reason is not None,
            bot_reason=reason,
            first_contribution=_iso(first),
            last_contribution=_iso(total.last),
            first_commit=_iso(total.first_commit),
            first_pull_request=_iso(total.first_pull),
            first_issue=_iso(total.first_issue),
            commits=total.commits,
            pull_requests=total.pulls,
            issues=total.issues,
            repos=self._repo_names(total.repos),
            active_days=list(map(_day_name, _members(total.day_base, total.days))),
        )

    def build(self) -> ContributorsTable:
        """Merge, name, classify and cross-check every identity seen so far."""
        self._link_aliases()
        people: list[Contributor] = []
        named: list[_Named] = []
        handles: dict[str, str] = {}
        for members in self._components():
            person, primary_email = self._person(members)
            people.append(person)
            named.append(_named(person, primary_email))
            handles.update(dict.fromkeys(members, person.id))
        people.sort(key=lambda c: c.id)
        mailmap, unresolved = _same_names(sorted(named))
        return ContributorsTable(
            contributors=people,
            handles=dict(sorted(handles.items())),
            suggested_mailmap=mailmap,
            unresolved=unresolved,
        )

    def _person(self, members: Iterable[str]) -> tuple[Contributor, str | None]:
        """One group's contributor, and its primary email (for suggested .mailmap lines)."""
        group = self._aggregate(members)
        ident = self._canonical(group)
        return self._contributor(ident, group), _first(group.email_commits)

    def build_parts(self, previous: Mapping[str, Any] | None = None) -> TableParts:
        """What `build()` makes, rebuilding only the contributors new tallies touched.

        `previous` is the `table_cache` of the build this builder's state was taken with (the
        caller vouches that its file is unchanged). Since `from_state`, unions only joined
        groups that hold a handle `add_tally` touched, and only those handles' tallies changed:
        every other group is the contributor it was, so its text is copied from the previous
        file. Without `previous`, with other `[identity]` settings, or when raw records were
        added, every contributor is built.
        """
        self._link_aliases()
        reuse = (
            previous is not None
            and self._touched is not None
            and previous.get("config") == self.config_key()
        )
        handles: dict[str, str] = {}
        kept: dict[str, tuple[int, int]] = {}
        named: dict[str, _Named] = {}
        if reuse and previous is not None and self._touched is not None:
            find = self._find
            roots = {find(handle) for handle in self._touched if handle in self._parent}
            touched: dict[str, list[str]] = {}
            for handle in self._parent:
                root = find(handle)
                if root in roots:
                    touched.setdefault(root, []).append(handle)
            groups = [sorted(members) for _, members in sorted(touched.items())]
            old: Mapping[str, str] = previous["handles"]
            gone = {old[handle] for members in groups for handle in members if handle in old}
            for ident, (start, end, *facts) in previous["people"].items():
                if ident not in gone:
                    kept[ident] = (start, end)
                    named[ident] = _Named(ident, *facts)
            handles.update((h, ident) for h, ident in old.items() if ident not in gone)
        else:
            groups = self._components()
        fresh: dict[str, Contributor] = {}
        for members in groups:
            person, primary_email = self._person(members)
            fresh[person.id] = person
            named[person.id] = _named(person, primary_email)
            handles.update(dict.fromkeys(members, person.id))
        ids = sorted(named)
        mailmap, unresolved = _same_names([named[ident] for ident in ids])
        return TableParts(
            ids=ids,
            fresh=fresh,
            kept=kept,
            named=named,
            handles=dict(sorted(handles.items())),
            suggested_mailmap=mailmap,
            unresolved=unresolved,
            config=self.config_key(),
        )

    def extend(self, table: ContributorsTable) -> ContributorsTable:
        """`table` plus what these records add: see `extend_table`."""
        self._link_aliases()
        stored = table.by_id()
        for handle in list(self._parent):
            ident = table.handles.get(handle)
            if ident is not None:
                self._union(handle, _ID_NODE + ident)
        people = dict(stored)
        renamed: dict[str, str] = {}
        handles: dict[str, str] = {}
        for members in self._components():
            ids = [m[len(_ID_NODE) :] for m in members if m.startswith(_ID_NODE)]
            real = [m for m in members if not m.startswith(_ID_NODE)]
            group = self._aggregate(real)
            if not ids:
                fresh = self._canonical(group)
                if fresh not in stored:
                    people[fresh] = self._contributor(fresh, group)
                    handles.update(dict.fromkeys(real, fresh))
                    continue
                ids = [fresh]
            olds = sorted(
                (stored[i] for i in ids if i in stored),
                key=lambda c: (-(c.commits + c.pull_requests + c.issues), c.id),
            )
            chosen = olds[0].id if olds else sorted(ids)[0]
            for ident in ids:
                people.pop(ident, None)
                renamed[ident] = chosen
            people[chosen] = self._merged(chosen, olds, group)
            handles.update(dict.fromkeys(real, chosen))
        for handle, ident in table.handles.items():
            handles.setdefault(handle, renamed.get(ident, ident))
        return ContributorsTable(
            contributors=sorted(people.values(), key=lambda c: c.id),
            handles=dict(sorted(handles.items())),
            suggested_mailmap=list(table.suggested_mailmap),
            unresolved=list(table.unresolved),
        )

    def _merged(self, ident: str, olds: list[Contributor], group: _Group) -> Contributor:
        """Stored contributors joined with what new records say about them.

        Sets and first/last instants are unions, idempotent whether or not the stored table
        already saw these records; counts are the larger of the stored and the new ones (a
        lower bound: records cannot be matched to a table that keeps no shas). The bot verdict
        follows the current configuration first, then the stored verdict; the automation rule
        needs commit history, so it is only applied where the table knew no commits.
        """
        here = self._contributor(ident, group, automation=not any(c.commits for c in olds))
        everyone = [*olds, here]
        logins = sorted({x for c in everyone for x in c.logins})
        emails = sorted({x for c in everyone for x in c.emails})
        names = sorted({x for c in everyone for x in c.names})
        reason = _listed_or_suffix(logins, names, emails, self.bots, self.patterns)
        if reason is None:
            reason = next((c.bot_reason or "bot" for c in olds if c.is_bot), None)
        if reason is None:
            reason = here.bot_reason
        named = next((c for c in olds if c.names), None)
        return Contributor(
            id=ident,
            name=named.name if named is not None else here.name,
            logins=logins,
            emails=emails,
            names=names,
            is_bot=reason is not None,
            bot_reason=reason,
            first_contribution=_pick_iso(c.first_contribution for c in everyone),
            last_contribution=_pick_iso((c.last_contribution for c in everyone), latest=True),
            first_commit=_pick_iso(c.first_commit for c in everyone),
            first_pull_request=_pick_iso(c.first_pull_request for c in everyone),
            first_issue=_pick_iso(c.first_issue for c in everyone),
            commits=max(sum(c.commits for c in olds), here.commits),
            pull_requests=max(sum(c.pull_requests for c in olds), here.pull_requests),
            issues=max(sum(c.issues for c in olds), here.issues),
            repos=sorted({x for c in everyone for x in c.repos}),
            active_days=sorted({x for c in everyone for x in c.active_days}),
        )


def _display(names: Mapping[str, int], ident: str, logins: Iterable[str]) -> str:
    """The most used author name, without email addresses; else the login, else a local part."""
    best = _first(names)
    if best is not None:
        return display_name(best)
    if "@" not in ident:
        return ident
    logins = sorted(logins)
    if logins:
        return logins[0]
    return _local_part(ident) or ident


def _named(person: Contributor, primary_email: str | None) -> _Named:
    keys = {_name_key(name) for name in [*person.names, person.name]}
    return _Named(
        person.id,
        person.name,
        tuple(sorted(key for key in keys if key is not None)),
        person.is_bot,
        person.commits,
        tuple(person.emails),
        primary_email,
    )


def _same_names(people: Sequence[_Named]) -> tuple[list[str], list[UnresolvedIdentity]]:
    """Human identities that share a name: suggested `.mailmap` lines and one entry per group.

    `people` in id order, as the table lists them.
    """
    by_key: dict[str, list[str]] = {}
    for person in people:
        if person.is_bot:
            continue
        for key in person.keys:
            by_key.setdefault(key, []).append(person.id)
    # Identities linked through any shared name form one group (a small union-find on ids).
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in by_key.values():
        for other in ids[1:]:
            a, b = find(ids[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for ident in sorted(parent):
        groups.setdefault(find(ident), []).append(ident)
    known = {p.id: p for p in people}
    lines: set[str] = set()
    unresolved: list[UnresolvedIdentity] = []
    for ids in groups.values():
        if len(ids) < 2:
            continue
        members = sorted((known[i] for i in ids), key=lambda p: (-p.commits, p.id))
        proper = members[0]
        proper_email = proper.primary_email
        proper_name = re.sub(r"[<>]", "", proper.name).strip()
        mapped, unmappable = [], []
        for other in members[1:]:
            if proper_email is None or not other.emails:
                unmappable.append(other.id)
                continue
            mapped.append(other.id)
            lines.update(f"{proper_name} <{proper_email}> <{email}>" for email in other.emails)
        reason = f"{len(ids)} identities named {proper_name!r} share no email, login or alias"
        if mapped:
            reason += f"; the suggested .mailmap maps {', '.join(sorted(mapped))} onto {proper.id}"
        if unmappable:
            reason += (
                f"; {', '.join(sorted(unmappable))} cannot be mapped by .mailmap "
                "(no email on one side): check by hand"
            )
        unresolved.append(UnresolvedIdentity(name=proper_name, ids=sorted(ids), reason=reason))
    unresolved.sort(key=lambda u: (u.name.casefold(), u.ids))
    return sorted(lines), unresolved


# ---------------------------------------------------------------------------------------------
# Entry points


def day_tally(
    commits: Iterable[Mapping[str, Any]],
    pull_requests: Iterable[Mapping[str, Any]],
    issues: Iterable[Mapping[str, Any]],
    *,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """What one day's records contribute, as JSON, for `IdentityBuilder.add_tally`.

    So that a run reads only the days it has not seen: the commits as per-handle tallies
    (emails, names, logins, counts, instants, repositories, active days) and the email-login
    links they make; the pull requests and issues as one entry each (the first in the day's
    files), since only the first day that holds an item counts it. Configuration
    (`[identity].bots` and `.aliases`) is applied at build time, so only the timezone is in it.
    """
    builder = IdentityBuilder(tz=tz)
    builder.add_commits(commits)
    items: list[list[Any]] = []
    seen: set[tuple[str, Any, Any]] = set()
    for kind, records in (("pull", pull_requests), ("issue", issues)):
        for record in records:
            key = (kind, record.get("repo"), record.get("number"))
            if key in seen:
                continue
            seen.add(key)
            raw_login = record.get("author_login")
            login = (raw_login.strip().lower() or None) if raw_login else None
            created = record.get("created_at") or None
            items.append([*key, login, created, bool(record.get("author_is_bot"))])
    return {
        "version": TALLY_VERSION,
        "tz": tz.key,
        "handles": {handle: builder._fields(tally) for handle, tally in builder._tallies.items()},
        "links": sorted([email, login] for email, login in builder._linked),
        "reported": builder._reported,
        "items": items,
    }


def dumps_indented(value: Any, pad: str = "") -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, the text `DataStore.write` writes,
    as it reads nested at indentation `pad` (the benchmark's generator writes records so).

    The same text, several times faster for the contributors table: `json` falls back to its
    pure-Python encoder when asked to indent, and the table's long lists of strings (active
    days, repositories) are joined here by C-level escaping instead.
    """
    return _indented(value, "\n" + pad)


def _indented(value: Any, newline: str) -> str:
    cls = value.__class__
    if cls is str:
        return _escape(value)
    if cls is dict and all(key.__class__ is str for key in value):
        if not value:
            return "{}"
        inner = newline + "  "
        body = ("," + inner).join(
            f"{_escape(key)}: {_indented(item, inner)}" for key, item in value.items()
        )
        return f"{{{inner}{body}{newline}}}"
    if cls is list or cls is tuple:
        if not value:
            return "[]"
        inner = newline + "  "
        if {*map(type, value)} == _ONLY_STR:
            body = ("," + inner).join(map(_escape, value))
        else:
            body = ("," + inner).join(_indented(item, inner) for item in value)
        return f"[{inner}{body}{newline}]"
    if cls is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    # Floats, subclasses, keys json converts: json's own text, at this depth.
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)


def contributor_text(person: Contributor) -> str:
    """One contributor's text in the table's file (an item of `table.contributors`):
    `_indented` of its `model_dump(mode="json")`, read straight from the model's fields."""
    inner = _ITEM_NEWLINE + "  "
    item = "," + inner + "  "
    fields = []
    for key, name in _CONTRIBUTOR_KEYS:
        value = getattr(person, name)
        cls = value.__class__
        if cls is str:
            text = _escape(value)
        elif cls is list and value and {*map(type, value)} == _ONLY_STR:
            text = f"[{item[1:]}{item.join(map(_escape, value))}{inner}]"
        else:
            text = _indented(value, inner)
        fields.append(key + text)
    return f"{{{inner}{(',' + inner).join(fields)}{_ITEM_NEWLINE}}}"


# Each field of a contributor and its key as the table's file writes it.
_CONTRIBUTOR_KEYS = tuple((f"{_escape(name)}: ", name) for name in Contributor.model_fields)


def table_document(
    header: Mapping[str, Any], parts: TableParts, previous: bytes | None = None
) -> tuple[list[bytes | memoryview], dict[str, tuple[int, int]]]:
    """The contributors file, `dumps_indented({**header, "table": table}) + "\n"` as UTF-8,
    in pieces, and where each contributor's text lies in it.

    Kept contributors are copied from `previous` (the file `parts.kept` points into), runs of
    neighbours in one piece; only fresh ones are encoded.
    """
    table = {
        "contributors": [_PLACEHOLDER] if parts.ids else [],
        "handles": parts.handles,
        "suggested_mailmap": parts.suggested_mailmap,
        "unresolved": [u.model_dump(mode="json") for u in parts.unresolved],
    }
    text = dumps_indented({**header, "table": table}) + "\n"
    if not parts.ids:
        return [text.encode()], {}
    # The placeholder's first occurrence is the list's item: only days precede it.
    head, _, tail = text.partition(_escape(_PLACEHOLDER))
    view = memoryview(previous) if previous is not None else None
    pieces: list[bytes | memoryview] = [head.encode()]
    position = len(pieces[0])
    spans: dict[str, tuple[int, int]] = {}
    run: list[int] = []  # [start, end) of the previous file being copied, if any
    step = len(_ITEM_SEPARATOR)
    for n, ident in enumerate(parts.ids):
        span = parts.kept.get(ident)
        if n:
            position += step
        if span is not None and view is not None:
            start, end = span
            if run and n and start == run[1] + step:
                run[1] = end  # its neighbour there too: the separator between them is copied
            else:
                if run:
                    pieces.append(view[run[0] : run[1]])
                if n:
                    pieces.append(_ITEM_SEPARATOR)
                run = [start, end]
            spans[ident] = (position, position + end - start)
            position += end - start
            continue
        if span is not None:
            raise ValueError(f"contributor {ident!r} is kept but no previous file was given")
        if run:
            pieces.append(view[run[0] : run[1]])  # type: ignore[index]
            run = []
        data = contributor_text(parts.fresh[ident]).encode()
        if n:
            pieces.append(_ITEM_SEPARATOR)
        pieces.append(data)
        spans[ident] = (position, position + len(data))
        position += len(data)
    if run:
        pieces.append(view[run[0] : run[1]])  # type: ignore[index]
    pieces.append(tail.encode())
    return pieces, spans


def table_cache(parts: TableParts, spans: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """What `build_parts` needs of this build next time: the configuration it applied, each
    contributor's span in the file written and what `_same_names` reads, and the handles."""
    return {
        "config": parts.config,
        "people": {ident: (*spans[ident], *parts.named[ident][1:]) for ident in parts.ids},
        "handles": parts.handles,
    }


def dump_state(state: Mapping[str, Any]) -> bytes:
    """A state (`resume_builder`'s, plus anything plain) as bytes, for a private cache file.

    marshal, not JSON: a year of handles loads in milliseconds. Its format belongs to the
    Python version, which the header names: `load_state` refuses another's.
    """
    return _STATE_MAGIC + marshal.dumps((_state_format(), dict(state)))


def load_state(data: bytes) -> dict[str, Any] | None:
    """A state `dump_state` wrote, or None for anything else (another version, damage)."""
    if not data.startswith(_STATE_MAGIC):
        return None
    try:
        form, state = marshal.loads(data[len(_STATE_MAGIC) :])
    except (EOFError, ValueError, TypeError):
        return None
    if form != _state_format() or not isinstance(state, dict):
        return None
    return state


def _state_format() -> tuple[Any, ...]:
    """What a stored state's layout depends on: a state of another layout starts over."""
    return (STATE_VERSION, marshal.version, *sys.version_info[:2], _Tally.__slots__)


def resume_builder(
    state: Mapping[str, Any] | None,
    days: Mapping[str, Any],
    tally_of: Callable[[str], Mapping[str, Any]],
    *,
    tz: ZoneInfo,
    bots: Iterable[str] = (),
    bot_patterns: Iterable[str] = DEFAULT_PATTERNS,
    aliases: Mapping[str, str] | None = None,
) -> tuple[IdentityBuilder, dict[str, Any]]:
    """A builder over `days` (day -> fingerprint of its raw files), and the state to store.

    So that a run costs what its new days cost: when `state` (what an earlier call returned)
    covered days that are all still there with the same fingerprints, and every other day
    comes after them, the builder resumes from it and adds only the new days' tallies.
    Otherwise (a day re-collected, removed or added before the last one, another timezone,
    another `STATE_VERSION`) it starts over from every day's tally; `tally_of(day)` gives a
    day's tally as its files are now. Either way the builder has seen what `build_table`
    reads from the raw files of `days`, in the same order, so it builds the same table.
    """
    order = sorted(days)
    known = dict(state["days"]) if state and state.get("version") == STATE_VERSION else None
    resumable = (
        known is not None
        and state is not None
        and state["builder"].get("tz") == tz.key
        and all(day in days and days[day] == mark for day, mark in known.items())
        and all(day > max(known, default="") for day in order if day not in known)
    )
    if resumable and state is not None:
        builder = IdentityBuilder.from_state(
            state["builder"], tz=tz, bots=bots, bot_patterns=bot_patterns, aliases=aliases
        )
        new = [day for day in order if day not in (known or {})]
    else:
        builder = IdentityBuilder(tz=tz, bots=bots, bot_patterns=bot_patterns, aliases=aliases)
        new = order
    for day in new:
        builder.add_tally(tally_of(day))
    covered = {day: days[day] for day in order}
    return builder, {"version": STATE_VERSION, "days": covered, "builder": builder.state()}


def build_contributors(
    commits: Iterable[Mapping[str, Any]],
    pull_requests: Iterable[Mapping[str, Any]],
    issues: Iterable[Mapping[str, Any]],
    *,
    tz: ZoneInfo,
    bots: Iterable[str] = (),
    bot_patterns: Iterable[str] = DEFAULT_PATTERNS,
    aliases: Mapping[str, str] | None = None,
) -> ContributorsTable:
    """The contributors table of these records in one call."""
    builder = IdentityBuilder(tz=tz, bots=bots, bot_patterns=bot_patterns, aliases=aliases)
    builder.add_commits(commits)
    builder.add_pull_requests(pull_requests)
    builder.add_issues(issues)
    return builder.build()


def extend_table(
    table: ContributorsTable | None,
    commits: Iterable[Mapping[str, Any]],
    pull_requests: Iterable[Mapping[str, Any]] = (),
    issues: Iterable[Mapping[str, Any]] = (),
    *,
    tz: ZoneInfo,
    bots: Iterable[str] = (),
    bot_patterns: Iterable[str] = DEFAULT_PATTERNS,
    aliases: Mapping[str, str] | None = None,
) -> ContributorsTable:
    """A table whose handles also cover everyone in these records, by the same rules.

    For window metrics, whose stored table may be missing or older than the window. Without a
    table this is `build_contributors`. With one, every stored contributor's handles stay
    linked and keep their id; a new handle that links (by login, noreply address or alias) to
    a stored one joins that contributor; records that join two stored contributors merge them
    under the one with the most contributions. The stored `suggested_mailmap` and `unresolved`
    are kept as they are (suggesting is the contributors asset's job).
    """
    builder = IdentityBuilder(tz=tz, bots=bots, bot_patterns=bot_patterns, aliases=aliases)
    builder.add_commits(commits)
    builder.add_pull_requests(pull_requests)
    builder.add_issues(issues)
    return builder.build() if table is None else builder.extend(table)
