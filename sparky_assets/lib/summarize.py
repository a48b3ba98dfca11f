"""One window's insights: one LLM call, a map-reduce when the facts overflow, or the fallback.

A small model has a small context (`num_ctx`, 8,192 tokens by default), so the fact sheet gets
`facts_budget` tokens: the context less the answer's room and the prompt's fixed text.

- **One call** when the whole sheet fits.
- **Map-reduce** when it does not (a busy week or month): the `map_repos` busiest repositories
  are summarized one by one from their own items (`repo_fact_sheet`), then the org from its
  figures, those summaries and the items they cite (`reduce_fact_sheet`). Every call is grounded
  against its own sheet, and the final answer against the reduce sheet.
- **The deterministic writer** when the LLM is off, unreachable or missing the model, or when
  nothing of the final answer survives grounding. The result says why.

Each call goes through `LlmWriter`, so each is cached on its own: a warm re-run makes no call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from sparky_assets.lib.facts import (
    REDUCE_TRIM_ORDER,
    FactSheetResult,
    active_repos,
    estimate_tokens,
    reduce_fact_sheet,
    repo_fact_sheet,
    trim_to_budget,
)
from sparky_assets.lib.grounding import GroundedInsights, Highlight
from sparky_assets.lib.insights import Insights
from sparky_assets.lib.llm_writer import LlmResult, LlmWriter, build_messages, prompt_tokens
from sparky_assets.lib.sanitize import md_text


class Trace(BaseModel):
    """How the text came about: for the materialization's metadata and the benchmark."""

    mode: str  # "one call", "map-reduce" or "off"
    calls: int = 0
    cached_calls: int = 0
    max_prompt_tokens: int = 0
    prompts: int = 0
    final_prompt: list[dict[str, str]] = Field(default_factory=list)
    final_answer: str | None = None
    map_results: list[dict[str, Any]] = Field(default_factory=list)


def _count(trace: Trace, result: LlmResult, messages: list[dict[str, str]]) -> None:
    trace.prompts += 1
    trace.max_prompt_tokens = max(trace.max_prompt_tokens, prompt_tokens(messages))
    trace.calls += result.llm_calls
    trace.cached_calls += int(result.cached)


def summarize(
    full: Mapping[str, Any],
    fallback: Insights,
    *,
    llm: LlmWriter | None,
    budget_tokens: int,
    map_repos: int,
    org: str | None,
    off_reason: str | None = None,
) -> tuple[Insights, Trace]:
    """Insights about the full fact sheet `full`; `fallback` is the deterministic writer's.

    `llm` None means the LLM is off (`off_reason` says why, None when switched off by config).
    `org` is the GitHub org whose repositories the text may link to (None: no links).
    """
    if llm is None:
        reason = off_reason or "the LLM is switched off ([llm].enabled = false)"
        return fallback.model_copy(update={"fallback_reason": reason}), Trace(mode="off")
    busiest = active_repos(full)
    repos = set(busiest)
    trace = Trace(mode="one call")
    map_names: list[str] = []
    if estimate_tokens(full) <= budget_tokens:
        sheet = trim_to_budget(full, budget_tokens)
    else:
        trace.mode = "map-reduce"
        summaries: list[dict[str, Any]] = []
        for repo in busiest[:map_repos]:
            part = trim_to_budget(repo_fact_sheet(full, repo), budget_tokens)
            messages = build_messages(part.facts)
            result = llm.write(part.facts, repos=repos, markdown=False)
            _count(trace, result, messages)
            trace.map_results.append(
                {
                    "repo": repo,
                    "writer": result.writer,
                    "dropped": len(result.dropped),
                    "reason": result.fallback_reason,
                }
            )
            if result.insights is None and result.raw_answer is None:
                # Unavailable or the call failed (not a bad answer): asking about the other
                # repositories would fail the same way.
                return _fallback(fallback, result, trace, sheet=None), trace
            if result.insights is not None:
                map_names.append(repo)
                summaries.append(_summary(repo, result.insights))
        sheet = trim_to_budget(reduce_fact_sheet(full, summaries), budget_tokens, REDUCE_TRIM_ORDER)
    messages = build_messages(sheet.facts)
    result = llm.write(sheet.facts, repos=repos)
    _count(trace, result, messages)
    trace.final_prompt = messages
    trace.final_answer = result.raw_answer
    common = {
        "llm_calls": trace.calls,
        "cached_calls": trace.cached_calls,
        "map_repos": map_names,
        "facts_tokens": sheet.tokens,
        "facts_trimmed": sheet.dropped,
        "dropped": result.dropped,
    }
    if result.insights is None:
        return _fallback(fallback, result, trace, sheet=sheet), trace
    text = result.insights
    return (
        Insights(
            headline=text.headline or md_text(fallback.headline),
            highlights=[
                _highlight_markdown(h, full, org=org, repos=repos) for h in text.highlights
            ],
            themes=list(text.themes),
            risks=list(text.risks),
            writer="ollama",
            model=llm.model,
            prompt_version=result.prompt_version,
            facts_hash=result.facts_hash,
            text_format="markdown",
            **common,
        ),
        trace,
    )


def _fallback(
    fallback: Insights, result: LlmResult, trace: Trace, *, sheet: FactSheetResult | None
) -> Insights:
    """The deterministic text, with why the LLM's was not used and what grounding dropped."""
    update: dict[str, Any] = {
        "fallback_reason": result.fallback_reason,
        "dropped": result.dropped,
        "llm_calls": trace.calls,
        "cached_calls": trace.cached_calls,
    }
    if sheet is not None:
        update |= {"facts_tokens": sheet.tokens, "facts_trimmed": sheet.dropped}
    return fallback.model_copy(update=update)


def _summary(repo: str, insights: GroundedInsights) -> dict[str, Any]:
    """A map answer as data for the reduce prompt (its text is fenced there like any title)."""
    return {
        "repo": repo,
        "headline": insights.headline or "",
        "highlights": [{"text": h.text, "refs": list(h.refs)} for h in insights.highlights],
    }


def _highlight_markdown(
    h: Highlight, facts: Mapping[str, Any], *, org: str | None, repos: set[str]
) -> str:
    """A grounded, markdown-safe highlight followed by its references, linked when they name
    a repository of the org (a pull request, or the commit a short sha belongs to)."""
    prs = {
        f"{item['repo']}#{item['number']}".lower()
        for name in ("merged_prs", "opened_prs")
        for item in facts.get(name, [])
    }
    commits = {str(c["sha"]).lower(): c["repo"] for c in facts.get("notable_commits", [])}
    links = []
    for ref in dict.fromkeys(h.refs):
        label = md_text(ref)
        target = None
        if "#" in ref:
            name, number = ref.rsplit("#", 1)
            repo = name.split("/")[-1]
            if org and repo in repos and (name == repo or name.lower() == f"{org}/{repo}".lower()):
                kind = "pull" if f"{repo}#{number}".lower() in prs else "issues"
                target = f"https://github.com/{org}/{repo}/{kind}/{number}"
        else:
            repo = next((r for sha, r in commits.items() if sha.startswith(ref.lower())), None)
            if org and repo in repos:
                target = f"https://github.com/{org}/{repo}/commit/{ref.lower()}"
        links.append(f"[{label}]({target})" if target else f"`{ref}`")
    return f"{h.text} ({', '.join(links)})" if links else h.text
