"""The fact sheet an LLM may paraphrase: a window's computed figures and notable items, compact.

Everything a model could cite is here and nothing else; the grounding check compares the
model's answer against exactly this JSON. It is kept within a token budget for the model's
context: the least important items go first (notable commits, then opened pull requests, the
quieter repositories, merged pull requests ...), and what was dropped is recorded.

A window too busy for one prompt is map-reduced (`lib/summarize.py`): `repo_fact_sheet` cuts
the full sheet to one repository's items for the map calls, and `reduce_fact_sheet` keeps the
org's figures plus what the repository summaries cite, for the final call.

`WindowFacts` is everything later assets and checks need of a window beyond its metrics, built
once (`window_facts`) by the window's metrics asset from the raw records it read.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from sparky_assets.lib.github_metrics import latest_records, size_class
from sparky_assets.lib.insights import FactSheet, failed_repo_names
from sparky_assets.lib.metrics import ActivityMetrics
from sparky_assets.lib.shipped import pr_from_commit
from sparky_assets.lib.window import HEADLINE, WindowInputs, WindowMetrics
from sparky_resources.clock import Period, in_window, parse_instant
from sparky_resources.models import Coverage

TITLE_CHARS = 120
BODY_CHARS = 300  # of a pull request's description: what the change is, not its checklist
LABELS = 5
# ASCII characters per token, conservatively low: code-ish JSON tokenizes at about 3 to 4.
# Any other character counts as a whole token (CJK, emoji: BPE vocabularies of small models
# often spend one or more tokens on each).
CHARS_PER_TOKEN = 3.0
# Lists trimmed first to last when the sheet is over budget (least important first).
TRIM_ORDER = (
    "notable_commits",
    "opened_prs",
    "repos",
    "merged_prs",
    "top_contributors",
    "new_contributors",
    "releases",
)
# The reduce sheet (map-reduce): the repository summaries are what the map calls were for, and
# the items they cite back them; per-repository figures of a busy org go first.
REDUCE_TRIM_ORDER = (
    "repos",
    "top_contributors",
    "new_contributors",
    "opened_prs",
    "notable_commits",
    "repo_summaries",
    "merged_prs",
    "releases",
)
NOTABLE_COMMITS = 10  # per repository
ITEM_LISTS = ("merged_prs", "opened_prs", "releases", "notable_commits")
REDUCED_AWAY = frozenset({"body", "labels", "author", "bot"})  # of cited items, reduce sheet


class FactSheetResult(BaseModel):
    facts: dict[str, Any]
    tokens: int
    dropped: dict[str, int] = Field(default_factory=dict)  # list name -> items dropped


def estimate_tokens(data: Any) -> int:
    """A conservative token estimate of JSON as the prompt carries it (compact separators)."""
    return text_tokens(compact_json(data))


def text_tokens(text: str) -> int:
    """ASCII at CHARS_PER_TOKEN characters a token, every other character a token."""
    other = sum(1 for c in text if ord(c) > 127)
    return math.ceil((len(text) - other) / CHARS_PER_TOKEN) + other


def compact_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _title(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def _body(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    if not text:
        return None
    return text if len(text) <= BODY_CHARS else text[: BODY_CHARS - 1] + "…"


def notable_commits(commits: Sequence[Mapping[str, Any]], limit: int = NOTABLE_COMMITS) -> list:
    """Each repository's `limit` largest non-merge commits (by lines changed), largest first."""
    work = [c for c in commits if not c.get("is_merge")]
    work.sort(key=lambda c: (-(c["additions"] + c["deletions"]), c["repo"], c["sha"]))
    per_repo: dict[str, int] = {}
    kept = []
    for c in work:
        if per_repo.get(c["repo"], 0) < limit:
            per_repo[c["repo"]] = per_repo.get(c["repo"], 0) + 1
            kept.append(c)
    return [
        {
            "repo": c["repo"],
            "sha": c["sha"][:12],
            "subject": _title(c.get("subject")),
            "lines": c["additions"] + c["deletions"],
        }
        for c in kept
    ]


def pull_request_items(
    records: Sequence[Mapping[str, Any]], start: str, end: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(merged, opened) pull requests of the window from raw records, every one of them.

    Merged: merged in [start, end), largest first. Opened: created in the window and not merged
    in it, newest first. Each carries its title and the start of its description (both data
    written by people, fenced in the prompt), labels and size.
    """
    lo, hi = parse_instant(start), parse_instant(end)
    if lo is None or hi is None:
        raise ValueError(f"a window needs a start and an end, got {start!r} to {end!r}")
    merged: list[tuple[Any, dict[str, Any]]] = []
    opened: list[tuple[Any, dict[str, Any]]] = []
    for r in latest_records(records):
        lines = (
            r["additions"] + r["deletions"]
            if r.get("additions") is not None and r.get("deletions") is not None
            else None
        )
        item = {
            "repo": r["repo"],
            "number": int(r["number"]),
            "title": _title(r.get("title")),
            "body": _body(r.get("body")),
            "labels": list(r.get("labels") or [])[:LABELS],
            "size": size_class(lines) if lines is not None else None,
            "lines": lines,
            "author": r.get("author_login"),
            "bot": bool(r.get("author_is_bot")),
        }
        item = {k: v for k, v in item.items() if v not in (None, [])}
        merged_at = parse_instant(r.get("merged_at"))
        created_at = parse_instant(r.get("created_at"))
        if in_window(merged_at, lo, hi):
            merged.append(((lines is None, -(lines or 0), r["repo"], item["number"]), item))
        elif created_at is not None and in_window(created_at, lo, hi):
            opened.append(((-created_at.timestamp(), r["repo"], item["number"]), item))
    merged.sort(key=lambda x: x[0])
    opened.sort(key=lambda x: x[0])
    return [i for _, i in merged], [i for _, i in opened]


def build_fact_sheet(
    metrics: WindowMetrics,
    commits: Sequence[Mapping[str, Any]] = (),
    *,
    pull_requests: Sequence[Mapping[str, Any]] | None = None,
    failed_repos: Sequence[str] = (),
    budget_tokens: float = 6000,
) -> FactSheetResult:
    """The window's facts within `budget_tokens` (estimated), least important dropped first.

    `pull_requests` (the window's raw records) lists every merged and opened pull request with
    its description; without them the metrics' own top lists are used.
    """
    full = full_fact_sheet(metrics, commits, pull_requests=pull_requests, failed_repos=failed_repos)
    return trim_to_budget(full, budget_tokens)


def full_fact_sheet(
    metrics: WindowMetrics,
    commits: Sequence[Mapping[str, Any]] = (),
    *,
    pull_requests: Sequence[Mapping[str, Any]] | None = None,
    failed_repos: Sequence[str] = (),
) -> dict[str, Any]:
    """Every fact of the window, untrimmed."""
    figures = {name: get(metrics) for name, get in HEADLINE.items()}
    change = {
        name: c.model_dump()
        for name, c in metrics.change.items()
        if c.absolute is not None and figures.get(name) is not None
    }
    prs = metrics.pull_requests
    if pull_requests is not None and metrics.start and metrics.end:
        merged, opened = pull_request_items(pull_requests, metrics.start, metrics.end)
    else:
        merged = [
            {"repo": p.repo, "number": p.number, "title": _title(p.title), "lines": p.lines}
            for p in (prs.merged_list if prs else [])
        ]
        opened = [
            {"repo": p.repo, "number": p.number, "title": _title(p.title)}
            for p in (prs.opened_list if prs else [])
        ]
    facts: dict[str, Any] = {
        "window": {
            "period": metrics.period,
            "key": metrics.partition,
            "start": metrics.start,
            "end": metrics.end,
        },
        "figures": {k: v for k, v in figures.items() if v is not None},
        "change": change,
        "github_collected": metrics.github_available,
        "not_collected": sorted(failed_repos),
        "repos": [
            {
                "repo": r.repo,
                "commits": r.commits,
                "contributors": r.contributors,
                "lines_added": r.lines_added,
                "lines_deleted": r.lines_deleted,
            }
            for r in metrics.per_repo
            if r.commits or r.merges
        ],
        "top_contributors": [
            {"name": c.name, "commits": c.commits, "bot": c.is_bot}
            for c in metrics.top_contributors
        ],
        "new_contributors": [p.name for p in metrics.new_contributor_list],
        "merged_prs": merged,
        "opened_prs": opened,
        "releases": [
            {"repo": r.repo, "tag": r.tag_name, "name": _title(r.name)}
            for r in (metrics.release_metrics.items if metrics.release_metrics else [])
        ],
        "notable_commits": notable_commits(commits),
    }
    return facts


def trim_to_budget(
    facts: Mapping[str, Any], budget_tokens: float, order: Sequence[str] = TRIM_ORDER
) -> FactSheetResult:
    """A copy of `facts` within the budget: lists in `order` halved until it fits."""
    facts = dict(facts)
    dropped: dict[str, int] = {}
    for name in order:
        # Halve the list until the sheet fits or the list is empty, then the next list.
        while name in facts and estimate_tokens(facts) > budget_tokens and facts[name]:
            keep = len(facts[name]) // 2
            dropped[name] = dropped.get(name, 0) + len(facts[name]) - keep
            facts[name] = facts[name][:keep]
    return FactSheetResult(facts=facts, tokens=estimate_tokens(facts), dropped=dropped)


def repo_fact_sheet(full: Mapping[str, Any], repo: str) -> dict[str, Any]:
    """One repository's part of a full sheet: the map step's input."""
    figures = next((r for r in full["repos"] if r["repo"] == repo), {"repo": repo})
    sheet: dict[str, Any] = {"window": full["window"], "repo": figures}
    for name in ITEM_LISTS:
        sheet[name] = [item for item in full[name] if item.get("repo") == repo]
    return sheet


def active_repos(full: Mapping[str, Any]) -> list[str]:
    """Repositories with anything to say, busiest first: commits, then items, then name."""
    weight: dict[str, list[int]] = {}
    for r in full["repos"]:
        weight.setdefault(r["repo"], [0, 0])[0] += r["commits"]
    for name in ITEM_LISTS:
        for item in full[name]:
            weight.setdefault(item["repo"], [0, 0])[1] += 1
    return sorted(weight, key=lambda repo: (-weight[repo][0], -weight[repo][1], repo))


def reduce_fact_sheet(
    full: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The reduce step's input: the org's figures and people, the repository summaries (model
    text, fenced as data like any other text) and the items they cite, so that the final
    answer can cite them too. Other items are left to the summaries."""
    cited = {str(ref).lower() for s in summaries for h in s["highlights"] for ref in h["refs"]}

    def is_cited(item: Mapping[str, Any]) -> bool:
        if "number" in item and f"{item['repo']}#{item['number']}".lower() in cited:
            return True
        sha = str(item.get("sha", "")).lower()
        return bool(sha) and any(sha.startswith(c) or c.startswith(sha) for c in cited)

    sheet = {k: v for k, v in full.items() if k not in ITEM_LISTS}
    for name in ITEM_LISTS:
        # Cited items without their descriptions: the summaries already said what they are.
        sheet[name] = [
            {k: v for k, v in item.items() if k not in REDUCED_AWAY}
            for item in full[name]
            if is_cited(item)
        ]
    sheet["releases"] = list(full["releases"])  # few, and each one news
    sheet["repo_summaries"] = list(summaries)
    return sheet


# --- a window's facts, computed once ---------------------------------------------------------

_GITHUB_LINK = re.compile(
    r"(?i)^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)"
    r"(?:/(?P<kind>pull|issues)/(?P<number>\d+)|/commit/(?P<sha>[0-9a-f]{7,40})"
    r"|/releases/tag/(?P<tag>[A-Za-z0-9_.%+/-]+))?/?$"
)
_SEARCH = "https://github.com/search?"


def _short(repo: Any) -> str:
    return str(repo or "").rsplit("/", 1)[-1].lower()


class WindowRefs(BaseModel):
    """What the window's raw data lets a digest link to: repositories (short names, lower case),
    pull request and issue numbers, commit shas. `org` is whose links they are; it is the
    reader's (the `github` resource's), not the window's, so it is not stored."""

    org: str | None = Field(default=None, exclude=True)
    repos: set[str] = Field(default_factory=set)
    numbers: set[tuple[str, int]] = Field(default_factory=set)  # pull requests and issues
    shas: set[tuple[str, str]] = Field(default_factory=set)
    tags: set[tuple[str, str]] = Field(default_factory=set)  # releases and clones' tags
    # "owner/repo" (lower case) of the clones' GitHub remotes: where a clone's items link.
    sites: set[str] = Field(default_factory=set)

    @field_serializer("repos", "numbers", "shas", "tags", "sites")
    def _sorted(self, values: set[Any]) -> list[Any]:
        """Sorted: a set's order changes with the interpreter's hash seed, the file must not."""
        return sorted(values)

    @classmethod
    def from_records(
        cls,
        org: str | None,
        commits: Iterable[Mapping[str, Any]],
        pull_requests: Iterable[Mapping[str, Any]] = (),
        issues: Iterable[Mapping[str, Any]] = (),
        *,
        releases: Iterable[Mapping[str, Any]] = (),
        local_tags: Iterable[Mapping[str, Any]] = (),
        web_urls: Mapping[str, str] | None = None,
    ) -> WindowRefs:
        refs = cls(org=org)
        for c in commits:
            repo = _short(c.get("repo"))
            refs.repos.add(repo)
            refs.shas.add((repo, str(c.get("sha", "")).lower()))
            merged = pr_from_commit(c)  # a pull request the clone's history names
            if merged is not None:
                refs.numbers.add((repo, merged[0]))
        for r in releases:
            if r.get("kind", "release") == "release":
                refs.tags.add((_short(r.get("repo")), str(r.get("tag_name", "")).lower()))
        for t in local_tags:
            refs.tags.add((_short(t.get("repo")), str(t.get("name", "")).lower()))
        for url in (web_urls or {}).values():
            refs.sites.add(url.removeprefix("https://github.com/").lower())
        for item in [*pull_requests, *issues]:
            repo = _short(item.get("repo"))
            refs.repos.add(repo)
            refs.numbers.add((repo, int(item["number"])))
        return refs

    def problem(self, url: str) -> str | None:
        """Why `url` is not a link to this window's data; None when it is."""
        if url.startswith(_SEARCH):  # the whole list behind an "N of M": the org's items only
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("q", [""])[0]
            if self.org and f"org:{self.org}".lower() in query.lower().split():
                return None
            return f"{url} searches outside the org {self.org or '(none configured)'}"
        m = _GITHUB_LINK.match(url)
        if m is None:
            return f"{url} is not a link to a GitHub repository, pull request or commit"
        site = f"{m['owner']}/{m['repo']}".lower()
        in_org = bool(self.org) and m["owner"].lower() == (self.org or "").lower()
        if not in_org and site not in self.sites:
            return f"{url} is outside the org {self.org or '(no [github].org configured)'}"
        repo = m["repo"].lower()
        if m["tag"] is not None:
            tag = urllib.parse.unquote(m["tag"]).lower()
            if (repo, tag) not in self.tags:
                return f"{url}: {repo} {tag} is not a release or tag of the window"
        elif m["number"] is not None:
            if (repo, int(m["number"])) not in self.numbers:
                return f"{url}: {repo}#{m['number']} is not in the window's pull requests or issues"
        elif m["sha"] is not None:
            sha = m["sha"].lower()
            if not any(r == repo and s.startswith(sha) for r, s in self.shas):
                return f"{url}: commit {sha} of {repo} is not in the window's commits"
        elif repo not in self.repos:
            return f"{url}: {repo} has no commit, pull request or issue in the window"
        return None


def failed_repos(coverages: Iterable[Coverage]) -> list[str]:
    """The repositories that failed to collect on any day of the window, by name: the one
    definition the digest, the deterministic writer and the LLM's facts share."""
    return sorted({name for c in coverages for name in failed_repo_names(c)})


class WindowFacts(BaseModel):
    """Everything insights, digests and checks need of a window beyond its metrics file.

    Written once per window by its metrics asset, from the raw records it already read, so that
    no later asset or check reads the window's raw files again: the LLM's untrimmed fact sheet,
    the repositories that failed to collect, the coverage of the window's collected days
    (oldest first) and what a digest may link to.
    """

    period: Period
    partition: str
    fact_sheet: dict[str, Any]
    failed_repos: list[str] = Field(default_factory=list)
    coverages: list[Coverage] = Field(default_factory=list)
    refs: WindowRefs = Field(default_factory=WindowRefs)

    def plain_sheet(self, metrics: ActivityMetrics) -> FactSheet:
        """The deterministic writer's and the digest's facts: the metrics and failed repos."""
        return FactSheet(
            period=self.period,
            partition=self.partition,
            metrics=metrics,
            failed_repos=self.failed_repos,
        )


def window_facts(
    metrics: WindowMetrics, inputs: WindowInputs, coverages: Sequence[Coverage]
) -> WindowFacts:
    """A window's facts from its metrics (as stored: read back from their JSON), the raw
    records they were computed from and the coverage of the window's days."""
    failed = failed_repos(coverages)
    sheet = full_fact_sheet(
        metrics,
        inputs.commits,
        pull_requests=inputs.pull_requests if metrics.github_available else None,
        failed_repos=failed,
    )
    refs = WindowRefs.from_records(
        None,
        inputs.commits,
        inputs.pull_requests,
        inputs.issues,
        releases=inputs.releases,
        local_tags=inputs.local_tags,
        web_urls=inputs.web_urls,
    )
    # What the first screen and the backlog link to beyond the window's own records: items that
    # crossed an attention threshold in it, and the oldest open ones at its end.
    shown = [*(metrics.shipped.attention if metrics.shipped else []), *metrics.oldest_open_prs,
             *metrics.oldest_open_issues]  # fmt: skip
    refs.numbers.update((_short(i.repo), i.number) for i in shown)
    refs.repos.update(_short(i.repo) for i in shown)
    return WindowFacts(
        period=metrics.period,
        partition=metrics.partition,
        fact_sheet=sheet,
        failed_repos=failed,
        coverages=list(coverages),
        refs=refs,
    )
