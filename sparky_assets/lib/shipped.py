"""What shipped in a window and what needs attention: the first screen of a digest (pure).

**What shipped** is the window's merged pull requests and releases, for people:

- Pull requests come from GitHub when it was collected for the whole window. From local clones
  alone they are read from the default branch's commits: a merge commit whose subject is GitHub's
  "Merge pull request #N from owner/branch" (its body's first line is the title), or a squash
  merge whose subject ends in " (#N)", GitHub's default squash subject. Each (repo, number) once.
- Themes: the conventional-commit type of the title (https://www.conventionalcommits.org/en/v1.0.0/:
  `type(scope)!: description`, `!` or a `BREAKING CHANGE` footer marks a breaking change), else
  the first of its labels that names a kind of change, else its leading verb ("Fix …", "Add …",
  the way git-cliff's default parsers group commit messages), else "Other changes".
- Bot authors' pull requests fold into one line ("14 dependency updates by renovate").
- Notable first: breaking changes, reverts, first-time authors, then the largest.
- Releases: GitHub's published releases with the first line of their notes; from clones alone,
  the tags dated in the window.

**Needs attention** is what is new, or crossed a threshold, in this window (never the same
backlog in every digest): pull requests by people, not drafts, still open and without a first
review at the window's end whose wait reached `review_wait_days` inside the window; issues by
people still open and unanswered whose wait reached `answer_wait_days` inside it; and the
reverts merged in it (a change that had to be taken back).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from sparky_assets.lib.github_metrics import latest_records, qualifying_reviews, size_class
from sparky_assets.lib.identity import is_automated_subject
from sparky_resources.clock import Window, parse_instant
from sparky_resources.models import ListField

NOTABLE = 3  # items named per theme
ATTENTION = 8  # attention items listed (the count is complete)

# Conventional-commit types and the kinds of change a label or a leading verb names, as themes.
THEMES: dict[str, str] = {
    "feat": "Features",
    "feature": "Features",
    "fix": "Fixes",
    "bugfix": "Fixes",
    "perf": "Performance",
    "docs": "Documentation",
    "doc": "Documentation",
    "refactor": "Refactoring",
    "test": "Tests",
    "tests": "Tests",
    "build": "Build and CI",
    "ci": "Build and CI",
    "deps": "Dependencies",
    "chore": "Maintenance",
    "style": "Maintenance",
    "revert": "Reverts",
}
LABEL_THEMES: dict[str, str] = {
    "bug": "Fixes",
    "fix": "Fixes",
    "bugfix": "Fixes",
    "regression": "Fixes",
    "enhancement": "Features",
    "feature": "Features",
    "new feature": "Features",
    "documentation": "Documentation",
    "docs": "Documentation",
    "performance": "Performance",
    "perf": "Performance",
    "dependencies": "Dependencies",
    "deps": "Dependencies",
    "refactor": "Refactoring",
    "refactoring": "Refactoring",
    "tests": "Tests",
    "test": "Tests",
    "ci": "Build and CI",
    "build": "Build and CI",
    "chore": "Maintenance",
    "maintenance": "Maintenance",
}
VERB_THEMES: tuple[tuple[str, str], ...] = (
    (r"fix(?:es|ed)?|resolve[sd]?|correct(?:s|ed)?", "Fixes"),
    (r"add(?:s|ed)?|implement(?:s|ed)?|introduce[sd]?|support(?:s|ed)?|allow(?:s|ed)?"
     r"|enable[sd]?|new", "Features"),
    (r"speed up|optimi[sz]e[sd]?|faster", "Performance"),
    (r"docs?|document(?:s|ed)?|readme", "Documentation"),
    (r"refactor(?:s|ed)?|clean ?up|simplif(?:y|ies|ied)|rename[sd]?|move[sd]?", "Refactoring"),
    (r"tests?|testing", "Tests"),
    (r"remove[sd]?|drop(?:s|ped)?|delete[sd]?|deprecate[sd]?", "Removals"),
    (r"bump(?:s|ed)?|upgrade[sd]?", "Dependencies"),
)  # fmt: skip
_CONVENTIONAL = re.compile(r"^\s*(?P<type>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*\S")
_VERB = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    + "|".join(f"(?P<v{i}>{p})" for i, (p, _) in enumerate(VERB_THEMES))
    + r")\b",
    re.IGNORECASE,
)
# A tracker reference before the subject ("Issue 12: ", "#12 ", "JIRA-12: "): not its kind.
# A tracked piece of work the subject names first ("Issue 18.2: ...", "PROJ-12: ..."): the
# changes of one issue are one theme, which is what a reader follows.
_TRACKED = re.compile(
    r"^\s*(?:(?P<issue>issue)\s*#?(?P<number>\d+)|(?P<key>[A-Z][A-Z0-9]+-\d+))"
    r"(?:[./]\d+)*(?:\s*[,/&]\s*\d+(?:[./]\d+)*)*\s*:\s+\S",
    re.IGNORECASE,
)
_TRACKER_PREFIX = re.compile(r"^\s*(?:issue\s*)?#?[A-Z]*-?\d+(?:[./]\d+)*[:)]?\s+", re.IGNORECASE)
_REVERT = re.compile(r'^\s*(?:revert(?:\([^)]*\))?!?:\s*|revert\s+")', re.IGNORECASE)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
# GitHub's merge-button subject, and its default squash-merge subject "Title (#N)".
_MERGE_PR = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<branch>\S+)")
_SQUASH_PR = re.compile(r"^(?P<title>.+?)\s+\(#(?P<number>\d+)\)\s*$")


# ---------------------------------------------------------------------------------------------
# Models


class ShippedChange(BaseModel):
    """One merged pull request (or, in a clone merged to without pull requests, one commit)
    as the digest names it."""

    repo: str
    number: int  # 0 for a commit
    sha: str | None = None  # a commit's
    title: str
    url: str | None
    author: str | None  # display name of the author's identity (people, not accounts)
    lines: int | None = None
    size: str | None = None  # Kubernetes' size class of `lines`
    theme: str
    breaking: bool = False
    revert: bool = False
    first_time: bool = False  # the author's first contribution Sparky has seen


class Theme(BaseModel):
    name: str
    count: int
    repos: dict[str, int]  # merged pull requests per repository, most first
    items: ListField[ShippedChange]  # the most notable first, NOTABLE of `count`


class Automated(BaseModel):
    """Bot authors' merged pull requests, folded into one line."""

    count: int = 0
    dependency_updates: int = 0  # those whose title is an updater's (Bump x from a to b ...)
    bots: ListField[str]


class ShippedRelease(BaseModel):
    repo: str
    tag: str
    name: str | None = None
    notes: str | None = None  # the first line of the release notes (a tag's annotation)
    url: str | None = None
    prerelease: bool = False


class AttentionItem(BaseModel):
    kind: str  # "review" (waiting for a first review), "answer" (issue unanswered), "revert"
    repo: str
    number: int
    title: str
    url: str | None
    age_days: float | None = None  # how long it has waited at the window's end


class Shipped(BaseModel):
    """The first screen's content of one window."""

    source: str  # "github" or "clones": where the merged pull requests were read
    # What the changes are: pull requests, or commits where a clone's window merged none (a
    # trunk-based repository: its commits are what shipped).
    unit: str = "pull request"
    merged: int = 0  # every merged pull request (or commit), bots included
    themes: ListField[Theme]
    automated: Automated = Field(default_factory=Automated)
    releases: ListField[ShippedRelease]
    attention: ListField[AttentionItem]
    attention_total: int = 0
    review_wait_days: float | None = None
    answer_wait_days: float | None = None


# ---------------------------------------------------------------------------------------------
# Classification


def theme_of(title: str, labels: Iterable[str] = ()) -> str:
    """A change's theme: conventional-commit type, else a label, else the tracked issue the
    subject names ("Issue 18"), else the leading verb."""
    m = _CONVENTIONAL.match(title)
    if m and m.group("type").lower() in THEMES:
        return THEMES[m.group("type").lower()]
    for label in labels:
        key = label.strip().lower().removeprefix("type:").removeprefix("kind/").strip()
        if key in LABEL_THEMES:
            return LABEL_THEMES[key]
    tracked = _TRACKED.match(title)
    if tracked:
        if tracked.group("issue"):
            return f"Issue {int(tracked.group('number'))}"
        return tracked.group("key").upper()
    if _REVERT.match(title):
        return "Reverts"
    v = _VERB.match(_TRACKER_PREFIX.sub("", title, count=1))
    if v:
        index = next(int(k[1:]) for k, val in v.groupdict().items() if val)
        return VERB_THEMES[index][1]
    return "Other changes"


def is_breaking(title: str, body: str | None, labels: Iterable[str] = ()) -> bool:
    m = _CONVENTIONAL.match(title)
    if m and m.group("bang"):
        return True
    if body and _BREAKING_FOOTER.search(body):
        return True
    return any("breaking" in label.lower() for label in labels)


def is_revert(title: str) -> bool:
    return bool(_REVERT.match(title))


def pr_from_commit(commit: Mapping[str, Any]) -> tuple[int, str] | None:
    """(number, title) of the pull request a default-branch commit merged, or None: GitHub's
    merge commit (title from the body's first line, `merge_title`) or a squash merge."""
    subject = commit.get("subject") or ""
    if commit.get("is_merge"):
        m = _MERGE_PR.match(subject)
        if m:
            title = (commit.get("merge_title") or "").strip() or m.group("branch")
            return int(m.group("number")), title
        return None
    m = _SQUASH_PR.match(subject)
    if m:
        return int(m.group("number")), m.group("title").strip()
    return None


def _notable_key(c: ShippedChange) -> tuple[Any, ...]:
    return (not c.breaking, not c.revert, not c.first_time, -(c.lines or 0), c.repo, c.number)


def _themes(changes: Sequence[ShippedChange]) -> list[Theme]:
    by_theme: dict[str, list[ShippedChange]] = {}
    for c in changes:
        by_theme.setdefault(c.theme, []).append(c)
    themes = []
    for name, items in by_theme.items():
        repos = Counter(c.repo for c in items)
        themes.append(
            Theme(
                name=name,
                count=len(items),
                repos=dict(sorted(repos.items(), key=lambda kv: (-kv[1], kv[0]))),
                items=sorted(items, key=_notable_key)[:NOTABLE],
            )
        )
    # The largest first, so the screen opens with where the work went; "Other changes" last.
    themes.sort(key=lambda t: (t.name == "Other changes", -t.count, t.name))
    return themes


# ---------------------------------------------------------------------------------------------
# Assembly


Names = Callable[[str | None], str | None]  # login -> display name
IsBot = Callable[[str | None], bool]


def _bot_name(login: str) -> str:
    return login.removesuffix("[bot]")


def _ranked(bots: Counter[str]) -> list[str]:
    """Bot names, most changes first."""
    return [name for name, _ in sorted(bots.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass(frozen=True)
class CommitPeople:
    """What a clone's commits need besides themselves: the clones' GitHub web URLs and who their
    authors are (bot, display name, first contribution in the window)."""

    web_urls: Mapping[str, str]
    is_bot: Callable[[Mapping[str, Any]], bool]
    name: Callable[[Mapping[str, Any]], str | None]
    first_time: Callable[[Mapping[str, Any]], bool]


def shipped_from_github(
    window: Window,
    pull_requests: Iterable[Mapping[str, Any]],
    *,
    is_bot: IsBot,
    name_of: Names,
    first_timers: frozenset[str],
) -> tuple[list[ShippedChange], Automated, int]:
    """Merged pull requests of the window from GitHub's records: people's changes, the bots'
    folded, and the total. `first_timers` holds the logins (lowercased) of new contributors."""
    changes: list[ShippedChange] = []
    bots: Counter[str] = Counter()
    automated = Automated()
    total = 0
    for record in latest_records(pull_requests):
        merged_at = parse_instant(record.get("merged_at"))
        if merged_at is None or not window.contains(merged_at):
            continue
        total += 1
        login = record.get("author_login")
        title = record.get("title") or ""
        labels = record.get("labels") or []
        if is_bot(login) or record.get("author_is_bot"):
            automated.count += 1
            # "By default, Dependabot raises all pull requests with the dependencies label"
            # (docs.github.com/code-security/dependabot/dependabot-version-updates/
            # customizing-dependabot-prs)
            automated.dependency_updates += is_automated_subject(title) or any(
                label.lower() in ("dependencies", "deps") for label in labels
            )
            bots[_bot_name(login or "a bot")] += 1
            continue
        additions, deletions = record.get("additions"), record.get("deletions")
        lines = additions + deletions if additions is not None and deletions is not None else None
        changes.append(
            ShippedChange(
                repo=record["repo"],
                number=int(record["number"]),
                title=title,
                url=record.get("url") or None,
                author=name_of(login),
                lines=lines,
                size=size_class(lines) if lines is not None else None,
                theme=theme_of(title, labels),
                breaking=is_breaking(title, record.get("body"), labels),
                revert=is_revert(title),
                first_time=bool(login) and login.lower() in first_timers,
            )
        )
    automated.bots = _ranked(bots)
    return changes, automated, total


def shipped_from_commits(
    window: Window,
    commits: Iterable[Mapping[str, Any]],
    by: CommitPeople,
) -> tuple[list[ShippedChange], Automated, int]:
    """Merged pull requests read from the clones' default-branch commits in the window."""
    seen: dict[tuple[str, int], ShippedChange] = {}
    automated = Automated()
    bots: Counter[str] = Counter()
    total = 0
    commits = sorted(commits, key=lambda c: (c["committed_ts"], c["sha"]))
    by_sha = {(c["repo"], c["sha"]): c for c in commits}
    for merge in commits:
        if not window.contains(merge["committed_ts"]):
            continue
        found = pr_from_commit(merge)
        if found is None or (merge["repo"], found[0]) in seen:
            continue
        number, title = found
        total += 1
        # A merge commit is written by whoever pressed the button; the change is the merged
        # branch's: its tip (the second parent) names the author, where it was collected.
        parents = merge.get("parents") or []
        tip = by_sha.get((merge["repo"], parents[1])) if len(parents) > 1 else None
        c = tip or merge
        if by.is_bot(c):
            automated.count += 1
            automated.dependency_updates += is_automated_subject(title)
            bots[_bot_name(c.get("author_name") or "a bot")] += 1
            seen[(c["repo"], number)] = ShippedChange(
                repo=c["repo"], number=number, title=title, url=None, author=None, theme=""
            )
            continue
        lines = None if merge.get("is_merge") else c["additions"] + c["deletions"]
        base = by.web_urls.get(c["repo"])
        seen[(c["repo"], number)] = ShippedChange(
            repo=c["repo"],
            number=number,
            title=title,
            url=f"{base}/pull/{number}" if base else None,
            author=by.name(c),
            lines=lines,
            size=size_class(lines) if lines is not None else None,
            theme=theme_of(title),
            breaking=is_breaking(title, None),
            revert=is_revert(title),
            first_time=by.first_time(c),
        )
    automated.bots = _ranked(bots)
    return [s for s in seen.values() if s.theme], automated, total


def commits_as_changes(
    window: Window,
    commits: Iterable[Mapping[str, Any]],
    by: CommitPeople,
) -> tuple[list[ShippedChange], Automated, int]:
    """The window's non-merge commits as changes, for a clone whose window merged no pull
    request: people's themed, the bots' and updaters' folded."""
    changes: list[ShippedChange] = []
    automated = Automated()
    bots: Counter[str] = Counter()
    total = 0
    for c in commits:
        if c.get("is_merge") or not window.contains(c["committed_ts"]):
            continue
        total += 1
        subject = c.get("subject") or ""
        if by.is_bot(c) or is_automated_subject(subject):
            automated.count += 1
            automated.dependency_updates += is_automated_subject(subject)
            bots[_bot_name(c.get("author_name") or "a bot")] += 1
            continue
        lines = c["additions"] + c["deletions"]
        base = by.web_urls.get(c["repo"])
        changes.append(
            ShippedChange(
                repo=c["repo"],
                number=0,
                sha=c["sha"],
                title=subject,
                url=f"{base}/commit/{c['sha']}" if base else None,
                author=by.name(c),
                lines=lines,
                size=size_class(lines),
                theme=theme_of(subject),
                breaking=is_breaking(subject, None),
                revert=is_revert(subject),
                first_time=by.first_time(c),
            )
        )
    automated.bots = _ranked(bots)
    return changes, automated, total


def releases_from_github(
    window: Window, records: Iterable[Mapping[str, Any]]
) -> list[ShippedRelease]:
    out: list[tuple[dt.datetime, ShippedRelease]] = []
    for r in latest_records(records):
        published = parse_instant(r.get("published_at"))
        if r.get("kind") == "tag" or published is None or not window.contains(published):
            continue
        out.append(
            (
                published,
                ShippedRelease(
                    repo=r["repo"],
                    tag=r["tag_name"],
                    name=r.get("name") or None,
                    notes=r.get("notes") or None,
                    url=r.get("url") or None,
                    prerelease=bool(r.get("is_prerelease")),
                ),
            )
        )
    out.sort(key=lambda x: (-x[0].timestamp(), x[1].repo, x[1].tag))
    return [r for _, r in out]


def releases_from_tags(window: Window, tags: Iterable[Mapping[str, Any]]) -> list[ShippedRelease]:
    """Tags of the clones dated in the window (`raw_local_tags`), newest first."""
    out = []
    seen: set[tuple[str, str]] = set()
    for t in tags:
        ts = t.get("date_ts")
        if ts is None or not window.contains(ts) or (t["repo"], t["name"]) in seen:
            continue
        seen.add((t["repo"], t["name"]))
        out.append(
            (
                ts,
                ShippedRelease(
                    repo=t["repo"], tag=t["name"], notes=t.get("message"), url=t.get("url")
                ),
            )
        )
    out.sort(key=lambda x: (-x[0], x[1].repo, x[1].tag))
    return [r for _, r in out]


def _reviewed_before(record: Mapping[str, Any], end: dt.datetime, is_bot: IsBot) -> bool:
    """A qualifying review (as the pull-request metrics count them) submitted before `end`."""
    return any(when < end for when, _ in qualifying_reviews(record, is_bot))


def _open_at(record: Mapping[str, Any], end: dt.datetime) -> bool:
    for name in ("closed_at", "merged_at"):
        when = parse_instant(record.get(name))
        if when is not None and when < end:
            return False
    return True


def attention(
    window: Window,
    pull_requests: Iterable[Mapping[str, Any]],
    issues: Iterable[Mapping[str, Any]],
    reverts: Sequence[ShippedChange],
    *,
    review_wait_days: float,
    answer_wait_days: float,
    is_bot: IsBot,
) -> list[AttentionItem]:
    """What crossed a threshold in the window (module docstring), the longest waits first.

    The records must reach back `max(wait)` days before the window: a pull request opened then
    crosses its threshold inside the window, and its later events are in later days' files."""
    start, end = window.start, window.end
    items: list[tuple[float, AttentionItem]] = []

    def crossed(clock: dt.datetime, wait_days: float) -> bool:
        reached = clock + dt.timedelta(days=wait_days)
        return start <= reached < end

    for r in latest_records(pull_requests):
        created = parse_instant(r.get("created_at"))
        if created is None or is_bot(r.get("author_login")) or r.get("author_is_bot"):
            continue
        ready = parse_instant(r.get("ready_for_review_at"))
        if r.get("is_draft") or (ready is not None and ready >= end):
            continue
        clock = ready if ready is not None and ready > created else created
        if not crossed(clock, review_wait_days) or not _open_at(r, end):
            continue
        if _reviewed_before(r, end, is_bot):
            continue
        age = (end - clock).total_seconds() / 86400
        items.append((age, _item("review", r, age)))
    for r in latest_records(issues):
        created = parse_instant(r.get("created_at"))
        if created is None or is_bot(r.get("author_login")) or r.get("author_is_bot"):
            continue
        if not crossed(created, answer_wait_days) or not _open_at(r, end):
            continue
        responded = parse_instant(r.get("first_response_at"))
        if responded is not None and responded < end:
            continue
        age = (end - created).total_seconds() / 86400
        items.append((age, _item("answer", r, age)))
    ordered = [i for _, i in sorted(items, key=lambda x: (-x[0], x[1].repo, x[1].number))]
    ordered += [
        AttentionItem(kind="revert", repo=c.repo, number=c.number, title=c.title, url=c.url)
        for c in reverts
    ]
    return ordered


def _item(kind: str, record: Mapping[str, Any], age: float) -> AttentionItem:
    return AttentionItem(
        kind=kind,
        repo=record["repo"],
        number=int(record["number"]),
        title=record.get("title") or "",
        url=record.get("url") or None,
        age_days=round(age, 1),
    )


def assemble(
    source: str,
    changes: list[ShippedChange],
    automated: Automated,
    total: int,
    releases: list[ShippedRelease],
    needs: list[AttentionItem],
    *,
    review_wait_days: float | None,
    answer_wait_days: float | None,
    unit: str = "pull request",
) -> Shipped:
    """The first screen's content; a first-time author is marked on their first change only."""
    seen: set[str] = set()
    for c in changes:
        if c.first_time:
            c.first_time = (c.author or "") not in seen
            seen.add(c.author or "")
    return Shipped(
        source=source,
        unit=unit,
        merged=total,
        themes=_themes(changes),
        automated=automated,
        releases=releases,
        attention=needs[:ATTENTION],
        attention_total=len(needs),
        review_wait_days=review_wait_days,
        answer_wait_days=answer_wait_days,
    )


# ---------------------------------------------------------------------------------------------
# GitHub search links: the whole list behind an "N of M"


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def search_url(window: Window, scope: str) -> str:
    """GitHub's web search for the window's merged pull requests, e.g. `is:pr is:merged
    merged:START..END org:acme`. Dates carry the org's offset, which GitHub's search syntax
    accepts ("YYYY-MM-DDTHH:MM:SS+00:00", https://docs.github.com/en/search-github/
    getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates);
    a range is inclusive, so it ends a second before the window does."""
    last = window.end - dt.timedelta(seconds=1)
    query = f"merged:{_iso(window.start)}..{_iso(last)} {scope}"
    q = f"is:pr is:merged {query}"
    return "https://github.com/search?" + urllib.parse.urlencode({"q": q, "type": "pullrequests"})
