"""Benchmark: the LLM-insights layer of a busy month, its prompt sizes and its LLM calls.

Why it exists: a small local model has a small context (`[llm].num_ctx`, 8,192 tokens by
default). A busy org's week or month holds far more facts than that, so `lib/summarize.py`
sends the whole fact sheet in one call only when it fits `facts_budget`, and otherwise
map-reduces: the `map_repos` busiest repositories one call each, then one reduce call. Ollama
silently cuts a prompt that overflows the context, so a sheet that slipped past the budget
would not fail: the model would just answer about half of the facts. And every call is cached
by its facts, so re-running a window (a retry, a re-materialization) must ask nothing.

This script writes one month of raw files for `--repos` repositories (default 200 active
repositories, 2,000 pull requests, 6,000 commits and 300 contributors in one month) with
`benchmarks/metrics.py`'s generator, in the layout Sparky's collectors write, computes every
daily window of the month, every week lying fully in it and the month with Sparky's own
`window_metrics`, writes the metrics files, then runs Sparky's `write_window_insights` on each
window against the loopback fake Ollama (`tests/fakes/ollama_server.py`) answering as a
well-behaved model (`grounded_answer`: it cites only items of the FACTS block it was sent).
It runs every window twice against the same cache: cold (every call a miss), then warm.

Goal: every prompt sent within `num_ctx` (estimated tokens, `prompt_tokens`), and no LLM call
when warm (the fake's chat counter does not move either). Exits 1 when either is missed.

Usage: python benchmarks/insights.py [--repos 200] [--pull-requests 2000] [--commits 6000]
       [--contributors 300] [--month 2025-06] [--seed S] [--num-ctx 8192] [--map-repos 10]

Prints `key=value` lines: sizes and `generate_s=`, a few figures of the month, `metrics_s=`;
per period (`daily_`, `weekly_`, `monthly_`): `windows=`, the estimated tokens of the full fact
sheets (`full_facts_tokens_max=`, `_mean=`) and of the largest prompt sent per window
(`prompt_tokens_max=`, `_mean=`), `modes=`, `writers=`, `final_sheet_trimmed=` (items the
final prompts left out, by list) and `cold_calls=`; then `cold_calls=`, `cold_chat_requests=`
(what the fake counted), `cold_s=`, `warm_calls=`, `warm_chat_requests=`, `warm_s=` (times are
information, not goals), `num_ctx=`, the checks `within_num_ctx=`, `warm_no_calls=` and
`goal=`, and as the last line `max_prompt_tokens=` (over every prompt the fake received in the
cold run; the traces must agree with it).
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the generator of benchmarks/metrics.py
sys.path.insert(0, str(HERE.parent / "tests"))  # the fake Ollama

import metrics as raw_data  # noqa: E402
from fakes.ollama_answers import grounded_answer  # noqa: E402
from fakes.ollama_server import FakeOllama  # noqa: E402

from sparky_resources.clock import PERIODS  # noqa: E402

MODEL = "qwen2.5-coder:1.5b"


class MonthGenerator(raw_data.Generator):
    """`metrics.py`'s generator, its days cut to one month: every commit, pull request and
    issue of the sizes is created in that month (events after it are not written)."""

    def __init__(self, sizes: raw_data.Sizes, data_dir: Path, month: dt.date) -> None:
        super().__init__(sizes, data_dir)
        rng = self.rng
        last = calendar.monthrange(month.year, month.month)[1]
        self.days = [month + dt.timedelta(days=i) for i in range(last)]
        self.keys = [d.isoformat() for d in self.days]
        self.day_ts = [calendar.timegm(d.timetuple()) for d in self.days]
        self.year_end = self.day_ts[-1] + raw_data.DAY_S  # the end of the generated span
        self.people = raw_data.build_people(rng, sizes.contributors, len(self.days))
        self.person_weights = [1 / (rank + 1) ** 0.6 for rank in range(len(self.people))]
        rng.shuffle(self.person_weights)
        weights = [self._day_weight(d) for d in self.days]
        self.commits_per_day = raw_data._spread(sizes.commits, weights)
        self.prs_per_day = raw_data._spread(sizes.pull_requests, weights)
        self.issues_per_day = raw_data._spread(sizes.issues, weights)


def write_config(root: Path, month: dt.date) -> Path:
    """sparky.toml for the generated org: partitions start on the month's first day."""
    path = root / "sparky.toml"
    path.write_text(
        "[sparky]\n"
        'timezone = "UTC"\n'
        f"start_date = {month.isoformat()}\n"
        f'data_dir = "{(root / "data").as_posix()}"\n'
        f'output_dir = "{(root / "output").as_posix()}"\n'
        "\n[github]\n"
        f'org = "{raw_data.ORG}"\n',
        encoding="utf-8",
    )
    return path


def windows(month: dt.date) -> dict[str, list[str]]:
    """Every day of the month, the weeks (Mondays) lying fully inside it, and the month."""
    last = calendar.monthrange(month.year, month.month)[1]
    days = [month + dt.timedelta(days=i) for i in range(last)]
    mondays = [d for d in days if d.weekday() == 0 and d.day + 6 <= last]
    return {
        "daily": [d.isoformat() for d in days],
        "weekly": [d.isoformat() for d in mondays],
        "monthly": [month.isoformat()],
    }


@dataclass
class PeriodRun:
    """One period's windows through the insights layer."""

    calls: int = 0
    cached_calls: int = 0
    prompts: int = 0
    prompt_tokens: list[int] = field(default_factory=list)  # the largest prompt per window
    modes: Counter[str] = field(default_factory=Counter)
    writers: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    trimmed: Counter[str] = field(default_factory=Counter)  # items left out of final sheets


def run_insights(
    store: Any, keys: dict[str, list[str]], *, chat: Any, settings: Any, cache_dir: Path
) -> tuple[dict[str, PeriodRun], float]:
    """Every window's insights through Sparky's own `write_window_insights` (one fresh
    writer over `cache_dir`, as a new materialization would have), and the wall time."""
    from sparky_assets.defs.insights import write_window_insights
    from sparky_assets.lib.llm_writer import LlmWriter

    writer = LlmWriter(
        model=MODEL,
        cache_dir=cache_dir,
        chat=chat,  # a new client per call: the writer closes each one
        available=lambda: None,
        org=raw_data.ORG,
    )
    runs = {period: PeriodRun() for period in PERIODS}
    t0 = time.perf_counter()
    for period in PERIODS:
        run = runs[period]
        for key in keys[period]:
            insights, trace = write_window_insights(
                store, period, key, llm=writer, ollama=settings, github_org=raw_data.ORG
            )
            run.calls += trace.calls
            run.cached_calls += trace.cached_calls
            run.prompts += trace.prompts
            run.prompt_tokens.append(trace.max_prompt_tokens)
            run.modes[trace.mode] += 1
            run.writers[insights.writer] += 1
            if insights.fallback_reason:
                run.fallbacks[insights.fallback_reason] += 1
            run.trimmed.update(insights.facts_trimmed)
    return runs, time.perf_counter() - t0


def full_facts_tokens(store: Any, period: str, key: str) -> int:
    """Estimated tokens of the window's untrimmed fact sheet, built as `write_window_insights`
    builds it (from the stored metrics and facts files)."""
    from sparky_assets.defs.insights import window_facts
    from sparky_assets.lib.facts import estimate_tokens

    full, _ = window_facts(store, period, key)  # type: ignore[arg-type]
    return estimate_tokens(full)


def _counts(counter: Counter[str]) -> str:
    return ",".join(f"{name}:{n}" for name, n in sorted(counter.items())) or "none"


def _mean(values: list[int]) -> int:
    return math.ceil(statistics.fmean(values)) if values else 0


def measure(root: Path, month: dt.date, num_ctx: int, map_repos: int) -> int:
    warnings.filterwarnings("ignore", message=r".* is currently in beta")
    from sparky_assets.defs.identity import build_table, collected_days
    from sparky_assets.defs.metrics import write_window
    from sparky_assets.defs.resources import build_resources
    from sparky_assets.lib.llm_writer import facts_budget, prompt_tokens
    from sparky_resources.config import load_config
    from sparky_resources.ollama import OllamaClient, OllamaResource
    from sparky_resources.store import DataStore

    settings = OllamaResource(model=MODEL, num_ctx=num_ctx, map_repos=map_repos)
    org = build_resources(load_config(root / "sparky.toml"))["org"]
    store = DataStore(data_dir=str(root / "data"), output_dir=str(root / "output"))
    keys = windows(month)

    t0 = time.perf_counter()
    history = collected_days(store, org)
    table = build_table(store, history, org)
    for period in PERIODS:
        for key in keys[period]:
            # The metrics file and the window's facts file, as the metrics asset writes them.
            m = write_window(store, org, period, key, table=table, history=history)  # type: ignore[arg-type]
    print(f"month_active_repos={m.active_repos}")  # the last window computed: the month
    print(f"month_prs_opened={m.prs_opened}")
    print(f"month_prs_merged={m.prs_merged}")
    print(f"metrics_s={time.perf_counter() - t0:.3f}")
    full_tokens = {
        period: [full_facts_tokens(store, period, key) for key in keys[period]]
        for period in PERIODS
    }

    cache_dir = root / "data" / "cache" / "llm"
    with FakeOllama(models=[MODEL], answer_fn=grounded_answer) as fake:

        def chat() -> OllamaClient:
            return OllamaClient(
                OllamaResource(
                    base_url=fake.base_url,
                    model=MODEL,
                    num_ctx=settings.num_ctx,
                    num_predict=settings.num_predict,
                    max_retries=0,
                )
            )

        cold, cold_s = run_insights(store, keys, chat=chat, settings=settings, cache_dir=cache_dir)
        cold_requests = fake.calls["POST /api/chat"]
        sent = [prompt_tokens(body["messages"]) for body in fake.bodies()]
        warm, warm_s = run_insights(store, keys, chat=chat, settings=settings, cache_dir=cache_dir)
        warm_requests = fake.calls["POST /api/chat"] - cold_requests
        if fake.internal_errors:
            print(fake.internal_errors[0], file=sys.stderr)
            return 1

    print(f"num_predict={settings.num_predict}")
    print(f"map_repos={settings.map_repos}")
    print(f"facts_budget={facts_budget(settings.num_ctx, settings.num_predict)}")
    for period in PERIODS:
        run = cold[period]
        print(f"{period}_windows={len(keys[period])}")
        print(f"{period}_full_facts_tokens_max={max(full_tokens[period], default=0)}")
        print(f"{period}_full_facts_tokens_mean={_mean(full_tokens[period])}")
        print(f"{period}_prompt_tokens_max={max(run.prompt_tokens, default=0)}")
        print(f"{period}_prompt_tokens_mean={_mean(run.prompt_tokens)}")
        print(f"{period}_modes={_counts(run.modes)}")
        print(f"{period}_writers={_counts(run.writers)}")
        print(f"{period}_final_sheet_trimmed={_counts(run.trimmed)}")
        for reason, n in sorted(run.fallbacks.items()):
            print(f"{period}_fallback: {n} x {reason}")
        print(f"{period}_cold_calls={run.calls}")
    cold_calls = sum(r.calls for r in cold.values())
    warm_calls = sum(r.calls for r in warm.values())
    traced_max = max((max(r.prompt_tokens, default=0) for r in cold.values()), default=0)
    max_prompt = max(sent, default=0)
    print(f"cold_calls={cold_calls}")
    print(f"cold_cached_calls={sum(r.cached_calls for r in cold.values())}")
    print(f"cold_chat_requests={cold_requests}")
    print(f"cold_s={cold_s:.3f}")
    print(f"warm_calls={warm_calls}")
    print(f"warm_cached_calls={sum(r.cached_calls for r in warm.values())}")
    print(f"warm_chat_requests={warm_requests}")
    print(f"warm_s={warm_s:.3f}")
    print(f"num_ctx={settings.num_ctx}")
    # With the answer's room (num_predict) too: what facts_budget promises (information).
    roomy = max_prompt + settings.num_predict <= settings.num_ctx
    print(f"prompt_plus_answer_within_num_ctx={'yes' if roomy else 'no'}")
    within = max_prompt <= settings.num_ctx
    no_calls = warm_calls == 0 and warm_requests == 0
    consistent = cold_requests == cold_calls and traced_max == max_prompt
    print(f"within_num_ctx={'yes' if within else 'no'}")
    print(f"warm_no_calls={'yes' if no_calls else 'no'}")
    print(f"goal={'met' if within and no_calls and consistent else 'missed'}")
    if not consistent:
        print(
            f"error: the traces count {cold_calls} calls and a largest prompt of {traced_max} "
            f"tokens, the fake saw {cold_requests} requests and {max_prompt}",
            file=sys.stderr,
        )
    print(f"max_prompt_tokens={max_prompt}")
    return 0 if within and no_calls and consistent else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--pull-requests", type=int, default=2_000)
    parser.add_argument("--commits", type=int, default=6_000)
    parser.add_argument("--contributors", type=int, default=300)
    parser.add_argument("--month", default="2025-06", help="YYYY-MM, a past month")
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--num-ctx", type=int, default=8192)
    parser.add_argument("--map-repos", type=int, default=10)
    args = parser.parse_args(argv)
    for name in ("commits", "pull_requests", "repos", "contributors"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        month = dt.date.fromisoformat(f"{args.month}-01")
    except ValueError:
        parser.error(f"--month {args.month!r} is not YYYY-MM")
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    if last >= dt.datetime.now(dt.UTC).date():
        parser.error(f"--month {args.month} has not ended: every day must be a past partition")
    sizes = raw_data.Sizes(
        commits=args.commits,
        pull_requests=args.pull_requests,
        repos=args.repos,
        contributors=args.contributors,
        year=month.year,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="sparky-bench-insights-") as tmp:
        root = Path(tmp)
        write_config(root, month)
        os.environ["SPARKY_CONFIG"] = str(root / "sparky.toml")
        t0 = time.perf_counter()
        gen = MonthGenerator(sizes, root / "data", month)
        gen.run()
        print(f"month={month.isoformat()}")
        print(f"repos={len(gen.repos)}")
        print(f"commits={sum(gen.commits_per_day)}")
        print(f"pull_requests={sum(gen.prs_per_day)}")
        print(f"issues={sum(gen.issues_per_day)}")
        print(f"releases={gen.counts['releases']}")
        print(f"contributors={len(gen.people)}")
        print(f"generate_s={time.perf_counter() - t0:.3f}")
        return measure(root, month, args.num_ctx, args.map_repos)


if __name__ == "__main__":
    sys.exit(main())
