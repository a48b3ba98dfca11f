"""Insights layer: words about each window's computed facts, from the local LLM or the fallback.

`daily_insights`, `weekly_insights` and `monthly_insights` read the window's metrics file and
the facts its metrics asset wrote with it (never the raw records), ask Ollama through
`lib/summarize.py` (one call, or a map-reduce when the facts overflow the model's context),
ground and sanitize the answer, and write `data/processed/<period>_insights/<key>.json`.
Without a reachable Ollama and model the deterministic writer's text is written instead and
the `written_by_llm` check warns; the run does not fail. The `ollama` pool lets the instance
cap concurrent LLM work (README).
"""

import functools
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from sparky_assets.defs.check_evaluations import partition_checks
from sparky_assets.defs.common import (
    partition_metadata,
    partitioned,
    range_label,
    read_upstream,
)
from sparky_assets.defs.metrics import upstream_facts
from sparky_assets.lib.insights import DeterministicWriter, FactSheet, Insights
from sparky_assets.lib.llm_writer import LlmWriter, facts_budget
from sparky_assets.lib.summarize import Trace, summarize
from sparky_assets.lib.window import WindowMetrics
from sparky_assets.partitions import OrgPartitions
from sparky_resources.clock import PERIODS, UNIT, Period
from sparky_resources.github_collect import GitHubResource
from sparky_resources.ollama import OllamaResource, is_transient
from sparky_resources.store import DataStore

RETRIES = 2  # a transient Ollama failure retries the step; the last attempt falls back
CHECK = "written_by_llm"


def llm_writer(
    store: DataStore,
    ollama: OllamaResource,
    *,
    org: str | None,
    reraise: Callable[[Exception], bool],
) -> LlmWriter | None:
    """The writer; None when the LLM is switched off. Ollama's health is asked once, on the
    first cache miss of the run."""
    if not ollama.enabled:
        return None

    @functools.cache
    def available() -> str | None:
        health = ollama.health()
        if health.reachable and not health.model_present and ollama.pull_missing:
            try:
                with ollama.client() as client:
                    client.ensure_model()
                return None
            except Exception as exc:
                return str(exc)
        return None if health.ok else health.reason

    writer = LlmWriter(
        model=ollama.model,
        cache_dir=Path(store.data_dir) / "cache" / "llm",
        chat=ollama.client,
        available=available,
        org=org or "",
        reraise=reraise,
    )
    return writer


def window_facts(store: DataStore, period: Period, key: str) -> tuple[dict, FactSheet]:
    """The window's full LLM fact sheet and the deterministic writer's, from its stored metrics
    and the facts its metrics asset wrote."""
    metrics = WindowMetrics.model_validate(
        read_upstream(store, "processed", f"{period}_metrics", key)
    )
    facts = upstream_facts(store, period, key)
    return facts.fact_sheet, facts.plain_sheet(metrics)


def write_window_insights(
    store: DataStore,
    period: Period,
    key: str,
    *,
    llm: LlmWriter | None,
    ollama: OllamaResource,
    github_org: str | None,
) -> tuple[Insights, Trace]:
    """One window's insights from its stored metrics and facts (see the module doc)."""
    full, plain = window_facts(store, period, key)
    return summarize(
        full,
        DeterministicWriter().write(plain),
        llm=llm,
        budget_tokens=facts_budget(ollama.num_ctx, ollama.num_predict),
        map_repos=ollama.map_repos,
        org=github_org,
    )


def _prompt_markdown(trace: Trace) -> str:
    parts = [f"**{m['role']}**\n\n```text\n{m['content']}\n```" for m in trace.final_prompt]
    return "\n\n".join(parts) or "(no prompt: the LLM was not asked)"


def insights_asset(
    period: Period,
    partitions: dg.PartitionsDefinition,
    *,
    retry_policy: dg.RetryPolicy | None = None,
) -> dg.AssetsDefinition:
    """The insights asset of `period`; `retry_policy` replaces the default (tests shorten it)."""
    name = f"{period}_insights"
    unit = UNIT[period]
    check = dg.AssetCheckSpec(
        name=CHECK,
        asset=name,
        description=(
            "Warns when the deterministic writer wrote the text because the LLM was unreachable, "
            "lacked the model, failed, or gave nothing that could be grounded in the facts. "
            "Passes when the LLM is switched off in sparky.toml."
        ),
    )

    @dg.asset(
        name=name,
        group_name="insights",
        deps=[f"{period}_metrics"],
        kinds={"ollama", "json"},
        pool="ollama",
        **partitioned(partitions),
        retry_policy=retry_policy
        or dg.RetryPolicy(max_retries=RETRIES, delay=10, backoff=dg.Backoff.EXPONENTIAL),
        check_specs=[check],
        description=(
            f"A headline, highlights, themes and risks about the {unit}, written by the local "
            "LLM (Ollama) from the computed facts only: every cited pull request, sha and "
            "number is checked against the facts, the rest dropped. Falls back to the "
            "deterministic writer and says so. "
            f"Stored in data/processed/{name}/{{key}}.json; answers cached in data/cache/llm."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        store: DataStore,
        ollama: OllamaResource,
        github: GitHubResource,
    ):
        policy = context.op_def.retry_policy
        last_try = context.retry_number >= (policy.max_retries if policy else 0)
        writer = llm_writer(
            store,
            ollama,
            org=github.org,
            # A transient failure retries the step (cached answers make no new call) until
            # the last attempt, which falls back instead of failing the run.
            reraise=lambda exc: is_transient(exc) and not last_try,
        )
        per_key: dict[str, dict[str, object]] = {}
        checks: dict[str, tuple[bool, dict[str, object]]] = {}
        calls = cached = 0
        fallbacks: dict[str, list[str]] = {}
        for key in context.partition_keys:
            insights, trace = write_window_insights(
                store, period, key, llm=writer, ollama=ollama, github_org=github.org
            )
            store.write("processed", name, key, insights.model_dump(mode="json"))
            calls += trace.calls
            cached += trace.cached_calls
            per_key[key] = {
                "writer": insights.writer,
                "model": insights.model or "none",
                "mode": trace.mode,
                "llm_calls": trace.calls,
                "cached_calls": trace.cached_calls,
                "dropped": len(insights.dropped),
                "max_prompt_tokens": trace.max_prompt_tokens,
                "facts_hash": insights.facts_hash,
                "prompt": dg.MetadataValue.md(_prompt_markdown(trace)),
                "raw_answer": dg.MetadataValue.text(trace.final_answer or "(none)"),
            }
            if insights.fallback_reason:
                per_key[key]["fallback_reason"] = insights.fallback_reason
            if insights.dropped:
                per_key[key]["dropped_items"] = dg.MetadataValue.json(
                    [d.model_dump(mode="json") for d in insights.dropped]
                )
            passed = insights.writer == "ollama" or not ollama.enabled
            checks[key] = (
                passed,
                {
                    "writer": insights.writer,
                    "reason": insights.fallback_reason or "",
                    "dropped": len(insights.dropped),
                },
            )
            if not passed:
                fallbacks.setdefault(insights.fallback_reason or "no LLM answer", []).append(key)
        # One line per reason, not per window: a week's range run with no Ollama said the same
        # line seven times on the demo's first screen.
        for reason, keys in fallbacks.items():
            total = len(context.partition_keys)
            count = f" ({len(keys)} of {total} windows)" if len(keys) > 1 else ""
            context.log.warning(
                f"{name} {range_label(keys)}{count}: written by the deterministic writer: {reason}"
            )
        partition_metadata(context, per_key)
        yield dg.MaterializeResult(
            metadata={
                "range": range_label(list(context.partition_keys)),
                "llm_calls": calls,
                "cached_calls": cached,
            }
        )
        yield from partition_checks(context, check, checks)

    return _asset


def build_insights_assets(parts: OrgPartitions) -> list[dg.AssetsDefinition]:
    return [insights_asset(period, parts.of(period)) for period in PERIODS]
