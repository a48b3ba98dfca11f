"""Insights: words about the computed facts, from a writer behind one interface.

The LLM writer (Ollama) will implement `InsightWriter` too; whatever writes, the input is a
`FactSheet` of computed numbers and the output only paraphrases it. The deterministic writer
here is the fallback that always works offline.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from sparky_assets.lib.metrics import ActivityMetrics
from sparky_resources.models import Coverage

PROMPT_VERSION = "deterministic-1"


class FactSheet(BaseModel):
    """Everything a writer may say something about, and nothing else."""

    period: Literal["daily", "weekly", "monthly"]
    partition: str
    metrics: ActivityMetrics
    failed_repos: list[str] = Field(default_factory=list)

    def content_hash(self) -> str:
        """Stable hash of the facts: the cache key of generated text."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Insights(BaseModel):
    """What a writer produced, and how (shown in the digest and its metadata)."""

    headline: str
    highlights: list[str]
    generator: str
    prompt_version: str
    facts_hash: str


class InsightWriter(Protocol):
    name: str

    def write(self, facts: FactSheet) -> Insights: ...


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
        if facts.failed_repos:
            highlights.append(
                "Not collected: " + ", ".join(sorted(facts.failed_repos)) + " (see coverage)."
            )
        return Insights(
            headline=headline,
            highlights=highlights,
            generator=self.name,
            prompt_version=PROMPT_VERSION,
            facts_hash=facts.content_hash(),
        )


def failed_repo_names(coverage: Coverage | None) -> list[str]:
    return sorted(r.repo for r in coverage.failed) if coverage else []
