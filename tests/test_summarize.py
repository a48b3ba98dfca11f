"""summarize against the loopback fake Ollama: one call, map-reduce, links and every fallback."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from fakes.ollama_answers import facts_of, grounded_answer, hostile_answer
from fakes.ollama_server import FakeOllama

from sparky_assets.lib.facts import estimate_tokens
from sparky_assets.lib.insights import DeterministicWriter, FactSheet, Insights
from sparky_assets.lib.llm_writer import LlmWriter, build_messages, prompt_tokens
from sparky_assets.lib.sanitize import WORD_JOINER
from sparky_assets.lib.summarize import summarize
from sparky_assets.lib.window import WindowMetrics
from sparky_resources.ollama import OllamaClient, OllamaResource

MODEL = "qwen2.5-coder:1.5b"
WINDOW = {
    "period": "daily",
    "key": "2024-06-03",
    "start": "2024-06-03T04:00:00Z",
    "end": "2024-06-04T04:00:00Z",
}


def repo_figures(repo: str, commits: int) -> dict:
    return {
        "repo": repo,
        "commits": commits,
        "contributors": 2,
        "lines_added": 7,
        "lines_deleted": 3,
    }


def sheet(**extra) -> dict:
    base = {
        "window": WINDOW,
        "figures": {"commits": 57, "prs_merged": 2},
        "change": {},
        "github_collected": True,
        "not_collected": [],
        "repos": [repo_figures("api", 40), repo_figures("web", 17)],
        "top_contributors": [],
        "new_contributors": [],
        "merged_prs": [
            {"repo": "api", "number": 12, "title": "Faster queries", "lines": 40},
            {"repo": "web", "number": 7, "title": "Faster builds", "lines": 15},
        ],
        "opened_prs": [],
        "releases": [],
        "notable_commits": [{"repo": "api", "sha": "0123456789ab", "subject": "fix", "lines": 9}],
    }
    return base | extra


SMALL = sheet()


def fallback() -> Insights:
    metrics = WindowMetrics(
        partition="2024-06-03",
        commits=57,
        merges=0,
        active_contributors=4,
        human_contributors=4,
        bot_commits=0,
        lines_added=14,
        lines_deleted=6,
        files_changed=5,
        active_repos=2,
        per_repo=[],
        top_contributors=[],
        period="daily",
    )
    return DeterministicWriter().write(
        FactSheet(period="daily", partition="2024-06-03", metrics=metrics)
    )


@pytest.fixture
def fake():
    with FakeOllama() as f:
        yield f
    assert not f.internal_errors, f.internal_errors


def settings(fake: FakeOllama) -> OllamaResource:
    return OllamaResource(base_url=fake.base_url, model=MODEL, max_retries=0)


def writer(fake: FakeOllama, cache_dir: Path, *, org: str = "acme") -> LlmWriter:
    def available() -> str | None:
        with OllamaClient(settings(fake)) as c:
            health = c.health()
        return None if health.reachable and health.model_present else health.reason or "no"

    return LlmWriter(
        model=MODEL,
        cache_dir=cache_dir,
        chat=lambda: OllamaClient(settings(fake)),
        available=available,
        org=org,
    )


def run(full: dict, llm: LlmWriter | None, *, budget: int = 6000, org: str | None = "acme"):
    return summarize(full, fallback(), llm=llm, budget_tokens=budget, map_repos=3, org=org)


def counters_aside(insights: Insights) -> dict:
    return insights.model_dump(exclude={"llm_calls", "cached_calls"})


def sha256_of_compact(facts: dict) -> str:
    text = json.dumps(facts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kept_texts(insights: Insights) -> list[str]:
    return [insights.headline, *insights.highlights, *insights.themes, *insights.risks]


# --- one call -------------------------------------------------------------------------------


def test_a_small_sheet_is_one_call_and_a_warm_rerun_makes_none(fake, tmp_path) -> None:
    fake.answer_fn = grounded_answer
    insights, trace = run(SMALL, writer(fake, tmp_path / "llm"))
    assert trace.mode == "one call"
    assert fake.calls["POST /api/chat"] == 1
    (body,) = fake.bodies("POST /api/chat")
    sent = facts_of(body)
    assert sent == SMALL  # it fits: nothing trimmed
    assert insights.writer == "ollama" and insights.text_format == "markdown"
    assert insights.model == MODEL
    assert insights.facts_hash == sha256_of_compact(sent)
    assert (insights.llm_calls, insights.cached_calls) == (1, 0)
    assert insights.map_repos == [] and insights.fallback_reason is None
    # grounded_answer: headline from figures.commits (57), then api#12, web#7, commit 0123456.
    assert insights.headline == "57 commits landed in the daily window."
    assert len(insights.highlights) == 3

    again, trace2 = run(SMALL, writer(fake, tmp_path / "llm"))
    assert fake.calls["POST /api/chat"] == 1  # no new request
    assert (again.llm_calls, again.cached_calls) == (0, 1)
    assert (trace2.calls, trace2.cached_calls) == (0, 1)
    assert counters_aside(again) == counters_aside(insights)


# --- map-reduce -----------------------------------------------------------------------------

REPOS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def busy_sheet() -> dict:
    """Six repositories, busiest first by commits (60, 50, ... 10), 20 merged PRs each."""
    merged = [
        {
            "repo": repo,
            "number": 100 * i + n,
            "title": f"Change {n} of the {repo} service",
            "lines": 10 + n,
            "author": "alice",
        }
        for i, repo in enumerate(REPOS)
        for n in range(1, 21)
    ]
    return sheet(
        figures={"commits": 210, "prs_merged": 120},
        repos=[repo_figures(repo, 60 - 10 * i) for i, repo in enumerate(REPOS)],
        merged_prs=merged,
        notable_commits=[],
    )


BUDGET = 1200


def test_an_overflowing_sheet_is_map_reduced(fake, tmp_path) -> None:
    full = busy_sheet()
    assert estimate_tokens(full) > BUDGET  # 120 items of about 90 characters: over 3,000
    fake.answer_fn = grounded_answer
    insights, trace = run(full, writer(fake, tmp_path / "llm"), budget=BUDGET)
    assert trace.mode == "map-reduce"
    bodies = fake.bodies("POST /api/chat")
    assert len(bodies) == 4  # 3 maps (map_repos=3) + 1 reduce
    busiest = ["alpha", "bravo", "charlie"]  # 60, 50 and 40 commits
    for repo, body in zip(busiest, bodies[:3], strict=True):
        facts = facts_of(body)
        assert facts["repo"]["repo"] == repo and "repo_summaries" not in facts
        items = [
            i
            for name in ("merged_prs", "opened_prs", "releases", "notable_commits")
            for i in facts[name]
        ]
        assert len(items) == 20 and {i["repo"] for i in items} == {repo}
    reduce_facts = facts_of(bodies[3])
    assert [s["repo"] for s in reduce_facts["repo_summaries"]] == busiest
    assert reduce_facts["figures"] == {"commits": 210, "prs_merged": 120}
    # The reduce sheet carries only the items the summaries cite (grounded_answer cites the
    # first four merged PRs of each repository: alpha#1-4, bravo#101-104, charlie#201-204).
    assert sorted(f"{i['repo']}#{i['number']}" for i in reduce_facts["merged_prs"]) == sorted(
        f"{repo}#{100 * k + n}" for k, repo in enumerate(busiest) for n in range(1, 5)
    )
    limit = BUDGET + prompt_tokens(build_messages({}))
    for body in bodies:
        assert prompt_tokens(body["messages"]) <= limit
    assert trace.max_prompt_tokens <= limit and trace.prompts == 4
    assert insights.writer == "ollama" and insights.map_repos == busiest
    assert (insights.llm_calls, insights.cached_calls) == (4, 0)

    again, trace2 = run(full, writer(fake, tmp_path / "llm"), budget=BUDGET)
    assert fake.calls["POST /api/chat"] == 4  # warm: no new request
    assert (trace2.calls, trace2.cached_calls) == (0, 4)
    assert counters_aside(again) == counters_aside(insights)


# --- links ----------------------------------------------------------------------------------

LINK_ANSWER = json.dumps(
    {
        "headline": "57 commits landed.",
        "highlights": [
            {"text": "api#12 was merged.", "refs": ["api#12"]},
            {"text": "Commit 0123456 fixed the API.", "refs": ["0123456"]},
            {"text": "web#7 made builds faster.", "refs": ["web#7"]},
        ],
        "themes": [],
        "risks": [],
    }
)


def test_highlights_link_their_references_to_the_org(fake, tmp_path) -> None:
    fake.answers.append(LINK_ANSWER)
    insights, _ = run(SMALL, writer(fake, tmp_path / "a"), org="acme")
    assert insights.highlights == [
        "api#12 was merged. ([api#12](https://github.com/acme/api/pull/12))",
        "Commit 0123456 fixed the API. ([0123456](https://github.com/acme/api/commit/0123456))",
        "web#7 made builds faster. ([web#7](https://github.com/acme/web/pull/7))",
    ]


def test_without_an_org_references_are_code_and_nothing_links(fake, tmp_path) -> None:
    fake.answers.append(LINK_ANSWER)
    # As defs/insights.py builds it: no org is an empty org for the writer.
    insights, _ = run(SMALL, writer(fake, tmp_path / "b", org=""), org=None)
    assert insights.highlights == [
        "api#12 was merged. (`api#12`)",
        "Commit 0123456 fixed the API. (`0123456`)",
        "web#7 made builds faster. (`web#7`)",
    ]
    assert not any("https://" in h for h in insights.highlights)


# --- fallbacks ------------------------------------------------------------------------------


def test_llm_off_is_the_fallback_with_its_reason() -> None:
    base = fallback()
    insights, trace = run(SMALL, None)
    assert trace.mode == "off" and trace.calls == 0
    assert "[llm].enabled" in insights.fallback_reason
    assert insights.writer == "deterministic"
    assert insights.model_dump(exclude={"fallback_reason"}) == base.model_dump(
        exclude={"fallback_reason"}
    )
    off, _ = summarize(
        SMALL, base, llm=None, budget_tokens=6000, map_repos=3, org=None, off_reason="no GPU"
    )
    assert off.fallback_reason == "no GPU"


def test_a_missing_model_falls_back_without_a_chat(tmp_path) -> None:
    with FakeOllama(missing_model=True) as fake:
        insights, _ = run(SMALL, writer(fake, tmp_path / "llm"))
        assert insights.writer == "deterministic" and "ollama pull" in insights.fallback_reason
        assert fake.calls["POST /api/chat"] == 0 and insights.llm_calls == 0
        assert insights.headline == fallback().headline


def test_a_missing_model_stops_a_map_reduce_at_the_first_map(tmp_path) -> None:
    with FakeOllama(missing_model=True) as fake:
        insights, trace = run(busy_sheet(), writer(fake, tmp_path / "llm"), budget=BUDGET)
        assert trace.mode == "map-reduce"
        assert insights.writer == "deterministic" and "ollama pull" in insights.fallback_reason
        assert fake.calls["POST /api/chat"] == 0
        # One availability check (version + tags), for the first map only.
        assert fake.calls["GET /api/tags"] == 1
        assert [m["repo"] for m in trace.map_results] == ["alpha"]
        assert insights.map_repos == [] and insights.llm_calls == 0


def test_nothing_grounded_falls_back(fake, tmp_path) -> None:
    fake.answer_fn = lambda body: hostile_answer(body, good=0)
    insights, _ = run(SMALL, writer(fake, tmp_path / "llm"))
    assert insights.writer == "deterministic"
    assert insights.fallback_reason == "nothing in the answer could be grounded in the facts"
    assert insights.dropped
    assert insights.llm_calls == 1 and fake.calls["POST /api/chat"] == 1


LIVE_MENTION = re.compile(r"@\w")


def test_only_what_is_grounded_of_a_hostile_answer_is_kept(fake, tmp_path) -> None:
    fake.answer_fn = lambda body: hostile_answer(body, good=1)
    insights, _ = run(SMALL, writer(fake, tmp_path / "llm"))
    assert insights.writer == "ollama"
    # The one good highlight: the first merged PR, api#12 (40 lines), linked.
    assert insights.highlights == [
        "api#12 was merged with 40 lines changed. ([api#12](https://github.com/acme/api/pull/12))"
    ]
    # Five bad highlights (invented PR, invented sha, 4242, injection, HTML), both themes
    # (HTML, 9000) and the risk that mentions people no fact names (@octocat) dropped; the
    # headline (57 commits) and the risk that mentions a fact name (api, the first repository:
    # SMALL's pull requests name no author) kept, its mention broken.
    assert Counter(d.kind for d in insights.dropped) == {"highlight": 5, "theme": 2, "risk": 1}
    assert insights.themes == []
    assert insights.headline == "57 commits landed in the daily window."
    (risk,) = insights.risks
    assert risk == f"{WORD_JOINER}@{WORD_JOINER}api to review api#12"
    for text in kept_texts(insights):
        assert not LIVE_MENTION.search(text), text
        for bad in ("evil.example", "<img", "<script", "98765", "deadbee2", "4242"):
            assert bad not in text, (bad, text)


def test_a_hostile_map_answer_cannot_reach_the_reduce(fake, tmp_path) -> None:
    full = busy_sheet()
    fake.answer_fn = lambda body: hostile_answer(body, good=1)
    insights, _ = run(full, writer(fake, tmp_path / "llm"), budget=BUDGET)
    bodies = fake.bodies("POST /api/chat")
    assert len(bodies) == 4
    summaries = facts_of(bodies[3])["repo_summaries"]
    # Each map kept its one good highlight only; none of the invented text is passed on.
    assert [len(s["highlights"]) for s in summaries] == [1, 1, 1]
    blob = json.dumps(summaries)
    for bad in ("evil.example", "<img", "<script", "98765", "deadbee2", "4242"):
        assert bad not in blob
    assert insights.writer == "ollama"
    for text in kept_texts(insights):
        assert not LIVE_MENTION.search(text), text
    assert copy.deepcopy(full) == busy_sheet()  # the input is not changed
