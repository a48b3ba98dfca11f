"""Insights: words about the computed facts, from a writer behind one interface.

The LLM writer (Ollama, `lib/llm_writer.py` and `lib/summarize.py`) and the deterministic
writer here both end in an `Insights`; whatever writes, the input is computed numbers and the
output only paraphrases them. The deterministic writer is the fallback that always works
offline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field

from sparky_assets.lib.grounding import Dropped
from sparky_assets.lib.metrics import ActivityMetrics
from sparky_resources.clock import Period
from sparky_resources.models import Coverage

PROMPT_VERSION = "deterministic-1"


class FactSheet(BaseModel):
    """Everything a writer may say something about, and nothing else."""

    period: Period
    partition: str
    metrics: ActivityMetrics
    failed_repos: list[str] = Field(default_factory=list)

    def content_hash(self) -> str:
        """Stable hash of the facts: the cache key of generated text."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Insights(BaseModel):
    """What a writer produced, and how (shown in the digest and its metadata).

    `text_format` says how the text reaches markdown: "text" is plain and escaped when
    rendered (the deterministic writer, and files written before the LLM landed); "markdown"
    is already inert inline markdown (the LLM's grounded answer after `to_markdown_safe`, with
    links to the org's repositories), rendered as is.
    """

    headline: str
    highlights: list[str]
    themes: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    # Files before version 0.8 call it "generator".
    writer: Literal["ollama", "deterministic"] = Field(
        validation_alias=AliasChoices("writer", "generator")
    )
    model: str | None = None  # the LLM that wrote the text; None for the deterministic writer
    prompt_version: str
    facts_hash: str
    text_format: Literal["text", "markdown"] = "text"
    fallback_reason: str | None = None  # why the deterministic writer wrote instead of the LLM
    dropped: list[Dropped] = Field(default_factory=list)  # what grounding took out, and why
    llm_calls: int = 0  # made by the materialization that wrote this file (0: cached or none)
    cached_calls: int = 0  # answers read from data/cache/llm instead
    map_repos: list[str] = Field(default_factory=list)  # summarized one by one (map-reduce)
    facts_tokens: int | None = None  # estimated tokens of the final fact sheet
    facts_trimmed: dict[str, int] = Field(default_factory=dict)  # list -> items left out


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


class DeterministicWriter:
    """Plain sentences built from the numbers: always grounded, always available."""

    name = "deterministic"

    def write(self, facts: FactSheet) -> Insights:
        m = facts.metrics
        if m.commits == 0 and m.merges == 0:
            headline = "No commits landed on the default branches."
        elif m.commits == 0:
            headline = f"No new commits; {_plural(m.merges, 'merge commit')} landed."
        else:
            headline = (
                f"{_plural(m.commits, 'commit')} by {_plural(m.active_contributors, 'contributor')}"
                f" in {_plural(m.active_repos, 'repository', 'repositories')}, "
                f"+{m.lines_added:,}/-{m.lines_deleted:,} lines."
            )
        highlights: list[str] = []
        busiest = next((r for r in m.per_repo if r.commits), None)
        if busiest is not None and m.active_repos > 1:
            highlights.append(
                f"Busiest repository: {busiest.repo} with {_plural(busiest.commits, 'commit')}."
            )
        humans = [c for c in m.top_contributors if not c.is_bot]
        top = humans[0] if humans else None
        if top is not None and (len(humans) == 1 or humans[1].commits < top.commits):
            highlights.append(
                f"Most commits: {top.name} ({_plural(top.commits, 'commit')}, "
                f"+{top.lines_added:,}/-{top.lines_deleted:,} lines)."
            )
        if m.merges:
            highlights.append(f"{_plural(m.merges, 'merge commit')} integrated other branches.")
        if m.bot_commits:
            highlights.append(f"Bots made {_plural(m.bot_commits, 'commit')}.")
        if m.prs_merged is not None and m.prs_opened is not None and (m.prs_merged or m.prs_opened):
            highlights.append(f"Pull requests: {m.prs_merged:,} merged, {m.prs_opened:,} opened.")
        if m.releases:
            highlights.append(f"{_plural(m.releases, 'release')} published.")
        if facts.failed_repos:
            highlights.append(
                "Not collected: " + ", ".join(sorted(facts.failed_repos)) + " (see coverage)."
            )
        return Insights(
            headline=headline,
            highlights=highlights,
            writer="deterministic",
            prompt_version=PROMPT_VERSION,
            facts_hash=facts.content_hash(),
        )


def failed_repo_names(coverage: Coverage | None) -> list[str]:
    return sorted(r.repo for r in coverage.failed) if coverage else []
