"""The fact sheet an LLM may paraphrase: a window's computed figures and notable items, compact.

Everything a model could cite is here and nothing else; the grounding check compares the
model's answer against exactly this JSON. It is kept within a token budget for the model's
context: the least important items go first (notable commits, then opened pull requests, the
quieter repositories, merged pull requests ...), and what was dropped is recorded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from sparky_assets.lib.window import HEADLINE, WindowMetrics

TITLE_CHARS = 120
# Characters per token, conservatively low: code-ish JSON tokenizes at about 3 to 4.
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
NOTABLE_COMMITS = 10


class FactSheetResult(BaseModel):
    facts: dict[str, Any]
    tokens: int
    dropped: dict[str, int] = Field(default_factory=dict)  # list name -> items dropped


def estimate_tokens(data: Any) -> int:
    """A conservative token estimate of JSON as the prompt carries it (compact separators)."""
    return math.ceil(len(compact_json(data)) / CHARS_PER_TOKEN)


def compact_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _title(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def notable_commits(commits: Sequence[Mapping[str, Any]], limit: int = NOTABLE_COMMITS) -> list:
    """The window's largest non-merge commits (by lines changed), for the model to mention."""
    work = [c for c in commits if not c.get("is_merge")]
    work.sort(key=lambda c: (-(c["additions"] + c["deletions"]), c["repo"], c["sha"]))
    return [
        {
            "repo": c["repo"],
            "sha": c["sha"][:12],
            "subject": _title(c.get("subject")),
            "lines": c["additions"] + c["deletions"],
        }
        for c in work[:limit]
    ]


def build_fact_sheet(
    metrics: WindowMetrics,
    commits: Sequence[Mapping[str, Any]] = (),
    *,
    failed_repos: Sequence[str] = (),
    budget_tokens: int = 6000,
) -> FactSheetResult:
    """The window's facts within `budget_tokens` (estimated), least important dropped first."""
    figures = {name: get(metrics) for name, get in HEADLINE.items()}
    change = {
        name: c.model_dump()
        for name, c in metrics.change.items()
        if c.absolute is not None and figures.get(name) is not None
    }
    prs = metrics.pull_requests
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
        "merged_prs": [
            {"repo": p.repo, "number": p.number, "title": _title(p.title), "lines": p.lines}
            for p in (prs.merged_list if prs else [])
        ],
        "opened_prs": [
            {"repo": p.repo, "number": p.number, "title": _title(p.title)}
            for p in (prs.opened_list if prs else [])
        ],
        "releases": [
            {"repo": r.repo, "tag": r.tag_name, "name": _title(r.name)}
            for r in (metrics.release_metrics.items if metrics.release_metrics else [])
        ],
        "notable_commits": notable_commits(commits),
    }
    dropped: dict[str, int] = {}
    for name in TRIM_ORDER:
        # Halve the list until the sheet fits or the list is empty, then the next list.
        while estimate_tokens(facts) > budget_tokens and facts[name]:
            keep = len(facts[name]) // 2
            dropped[name] = dropped.get(name, 0) + len(facts[name]) - keep
            facts[name] = facts[name][:keep]
    return FactSheetResult(facts=facts, tokens=estimate_tokens(facts), dropped=dropped)
