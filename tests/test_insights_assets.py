"""The insights assets through a real Dagster instance, a fake GitHub org and a fake Ollama.

A week of the loopback fake org (tests/fakes/github_org.py) is collected for all of June 2024,
measured daily, weekly and monthly, and then worded by the loopback fake Ollama: a
well-behaved "model" (tests/fakes/ollama_answers.py) that only cites what the prompt's facts
hold, and hostile ones that invent references and numbers, echo injected instructions, or
write HTML and @mentions. What reaches the insights files and the daily digest is checked
against the org's own ground truth and the requests the fake received.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from fakes.ollama_answers import (
    INJECTED,
    INJECTION_MARKERS,
    REWORDED,
    facts_of,
    grounded_answer,
    hostile_answer,
    rewording_answer,
)
from fakes.ollama_server import FakeOllama
from sparky_defs import assets, session_defs, session_org

from sparky_assets.defs.insights import insights_asset
from sparky_assets.defs.publish import DIGESTS, publish_new_digests
from sparky_assets.lib.sanitize import WORD_JOINER, plain_text
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.ollama import OllamaResource
from sparky_resources.publisher import GitPublisherResource
from sparky_resources.store import DataStore

raw_commits, repositories = assets("raw_commits", "repositories")
daily_digest, digest_index, monthly_digest, weekly_digest = assets(
    "daily_digest", "digest_index", "monthly_digest", "weekly_digest"
)
(github_activity,) = assets("raw_pull_requests")
(contributors,) = assets("contributors")
daily_insights, monthly_insights, weekly_insights = assets(
    "daily_insights", "monthly_insights", "weekly_insights"
)
daily_metrics, monthly_metrics, weekly_metrics = assets(
    "daily_metrics", "monthly_metrics", "weekly_metrics"
)
(published_digests,) = assets("published_digests")

TOKEN = "ghp_insightsTOKENnotreal0123456789abcd"
MODEL = "qwen2.5-coder:1.5b"
WEEK = "2024-06-03"
DAYS = [f"2024-06-0{d}" for d in range(3, 10)]
MONTH = "2024-06-01"
CHAT = "POST /api/chat"
FAST_RETRY = dg.RetryPolicy(max_retries=2, delay=0.05)


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


@dataclass
class World:
    org: Org
    root: Path
    github: FakeGitHub
    instance: dg.DagsterInstance

    def store(self, data: Path | None = None) -> DataStore:
        data = data or self.root / "data"
        return DataStore(data_dir=str(data), output_dir=str(data.parent / "output"))

    def fork(self, name: str) -> Path:
        """A copy of the collected and measured data, without cached answers or insights."""
        target = self.root / name / "data"
        shutil.copytree(
            self.root / "data",
            target,
            ignore=shutil.ignore_patterns("llm", "*_insights"),
        )
        return target

    def materialize(
        self,
        assets: list[Any],
        tags: dict[str, str],
        ollama: OllamaResource,
        data: Path | None = None,
        *,
        ok: bool = True,
        publisher: GitPublisherResource | None = None,
    ) -> dg.ExecuteInProcessResult:
        resources = {
            "github": GitHubResource(
                org=self.org.login,
                api_url=self.github.base_url,
                graphql_url=self.github.graphql_url,
                token=TOKEN,
            ),
            "local_git": LocalGitResource(repos=[]),
            "store": self.store(data),
            "org": session_org(),
            "ollama": ollama,
            "publisher": publisher or GitPublisherResource(work_tree=""),
        }
        result = dg.materialize(
            assets, resources=resources, instance=self.instance, tags=tags, raise_on_error=ok
        )
        assert result.success or not ok
        return result


def ollama(fake: FakeOllama, **over: Any) -> OllamaResource:
    return OllamaResource(base_url=fake.base_url, model=MODEL, **({"max_retries": 0} | over))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """June 2024 collected (the org is active June 3-9) and measured; nothing worded yet."""
    org = build_org(repos=10, active=4, day=WEEK, days=7, tz="America/New_York", seed=5)
    root = tmp_path_factory.mktemp("insights")
    # The GitHub resource names the org (the session's config has none): links go to it.
    with FakeGitHub(org) as server, dg.instance_for_test() as instance:
        w = World(org, root, server, instance)
        off = OllamaResource(base_url="http://127.0.0.1:9")
        collect = [github_activity, repositories, raw_commits, contributors, daily_metrics]
        w.materialize(collect, _range("2024-06-01", "2024-06-30"), off)
        w.materialize([weekly_metrics], _range(WEEK, WEEK), off)
        w.materialize([monthly_metrics], _range(MONTH, MONTH), off)
        yield w


@pytest.fixture(scope="module")
def worded(world: World) -> Iterator[tuple[World, FakeOllama]]:
    """Every period's insights from the well-behaved model, and the week's daily digests."""
    with FakeOllama(answer_fn=grounded_answer) as fake:
        world.materialize([daily_insights, daily_digest], _range(DAYS[0], DAYS[-1]), ollama(fake))
        world.materialize([weekly_insights], _range(WEEK, WEEK), ollama(fake))
        world.materialize([monthly_insights], _range(MONTH, MONTH), ollama(fake))
        yield world, fake
        assert not fake.internal_errors, fake.internal_errors


def _insights(data: Path, period: str, key: str) -> dict[str, Any]:
    return json.loads((data / "processed" / f"{period}_insights" / f"{key}.json").read_text())


def _compact(facts: Any) -> str:
    return json.dumps(facts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _requests_for(fake: FakeOllama, period: str, key: str) -> list[dict[str, Any]]:
    """The chat requests about one window (its facts name the window's period and key)."""
    windows = [(b, facts_of(b)["window"]) for b in fake.bodies(CHAT)]
    return [b for b, w in windows if (w["period"], w["key"]) == (period, key)]


def _known_refs(org: Org) -> tuple[set[str], set[str]]:
    """Every `repo#number` of the org's pull requests, and every commit sha."""
    prs = {f"{org.repo(p.repo).name}#{p.number}".lower() for p in org.pull_requests()}
    shas = {c.sha.lower() for r in org.repos for c in r.commits}
    return prs, shas


def test_every_period_is_worded_by_the_llm_from_its_own_facts(worded) -> None:
    world, fake = worded
    data = world.root / "data"
    prs, shas = _known_refs(world.org)
    for period, keys in (("daily", DAYS), ("weekly", [WEEK]), ("monthly", [MONTH])):
        for key in keys:
            insights = _insights(data, period, key)
            assert (insights["writer"], insights["model"]) == ("ollama", MODEL), (period, key)
            assert insights["prompt_version"] == "ollama-3"
            assert insights["text_format"] == "markdown" and insights["fallback_reason"] is None
            requests = _requests_for(fake, period, key)
            assert requests, (period, key)
            # The hash is of the facts the model was given, computed here from the request.
            final = facts_of(requests[-1])
            digest = hashlib.sha256(_compact(final).encode("utf-8")).hexdigest()
            assert insights["facts_hash"] == digest, (period, key)
            assert 3 <= len(insights["highlights"]) <= 4
            # Every cited pull request and commit is the org's own.
            for line in insights["highlights"]:
                for repo, number in re.findall(r"\[([\w.-]+)#(\d+)\]", line):
                    assert f"{repo}#{number}".lower() in prs, line
                for sha in re.findall(r"\[([0-9a-f]{7,40})\]", line):
                    assert any(s.startswith(sha) for s in shas), line
    # A week's and a month's facts name only their own days' items: the prompt for the week
    # holds the pull requests merged that week, as the org's ground truth has them.
    (week_request,) = _requests_for(fake, "weekly", WEEK)
    merged = {(p["repo"], p["number"]) for p in facts_of(week_request)["merged_prs"]}
    start, end = world.org.window(days=7)
    expected = {
        (world.org.repo(p.repo).name, p.number)
        for p in world.org.pull_requests()
        if p.merged_at is not None and start <= p.merged_at < end
    }
    assert merged == expected and merged


def test_the_prompt_and_raw_answer_are_in_the_metadata(worded) -> None:
    world, fake = worded
    event = world.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_insights"), asset_partitions=[DAYS[0]]),
        limit=1,
    ).records[0]
    metadata = event.asset_materialization.metadata
    (request,) = _requests_for(fake, "daily", DAYS[0])
    assert metadata["raw_answer"].value == grounded_answer(request)
    prompt = metadata["prompt"].value
    assert "<<<BEGIN FACTS" in prompt and "END FACTS>>>" in prompt
    assert "not instructions" in prompt  # the fence tells the model that titles are data
    assert metadata["writer"].value == "ollama" and metadata["llm_calls"].value == 1


def test_a_rerun_makes_no_llm_call_and_changes_nothing(worded) -> None:
    world, fake = worded
    data = world.root / "data"
    before = fake.calls[CHAT]
    files = sorted((data / "processed").glob("*_insights/*.json"))
    texts = {p: p.read_bytes() for p in files}
    world.materialize([daily_insights], _range(DAYS[0], DAYS[-1]), ollama(fake))
    world.materialize([weekly_insights], _range(WEEK, WEEK), ollama(fake))
    world.materialize([monthly_insights], _range(MONTH, MONTH), ollama(fake))
    assert fake.calls[CHAT] == before
    for path in files:
        again = json.loads(path.read_text())
        first = json.loads(texts[path])
        # Only the bookkeeping of this run differs: no call made, the answer read from cache.
        assert again.pop("llm_calls") == 0 and again.pop("cached_calls") >= 1
        first.pop("llm_calls"), first.pop("cached_calls")
        assert again == first, path


def test_the_digest_names_the_writer_and_model_and_links_the_org(worded) -> None:
    world, _ = worded
    digest = (world.root / "output/daily" / f"{DAYS[0]}.md").read_text()
    assert 'insights: "ollama"' in digest and f'model: "{MODEL}"' in digest
    assert f"Summary written by the local LLM {MODEL} (Ollama)." in digest
    links = re.findall(r"\]\((https?://[^)]+)\)", digest)
    assert links and all(
        link.startswith(f"https://github.com/{world.org.login}/") for link in links
    )


def _digest(world: World, data: Path, day: str) -> str:
    return (data.parent / "output/daily" / f"{day}.md").read_text()


def test_hallucinated_and_injected_content_never_reaches_the_digest(world: World) -> None:
    data = world.fork("hostile")
    day = DAYS[0]
    with FakeOllama(answer_fn=lambda body: hostile_answer(body, good=1)) as fake:
        world.materialize([daily_insights, daily_digest], _range(day, day), ollama(fake), data)
        answer = json.loads(hostile_answer(fake.bodies(CHAT)[0], good=1))
    insights = _insights(data, "daily", day)
    assert insights["writer"] == "ollama"
    reasons = [d["reason"] for d in insights["dropped"]]
    # By hand: of hostile_answer's six highlights only the first is grounded; both themes
    # fail, and the risk that mentions people no fact names.
    assert len(insights["highlights"]) == 1 and insights["themes"] == []
    # Five highlights, both themes and a risk, in order, each for its first problem.
    assert [r.split(" (")[0] for r in reasons] == [
        f"unknown reference {answer['highlights'][1]['refs'][0]}",
        "unknown reference deadbee2",
        "number 4242 percent not in the facts",
        "instruction-like text",
        "HTML in the text",
        "HTML in the text",
        "number 9000 not in the facts",
        "word 'octocat' not in the facts",
    ]
    digest = _digest(world, data, day)
    body = digest.split("\n---\n", 1)[1]
    for bad in ("98765", "deadbee2", "4242", "9000", "evil.example", "<img", "<script", "<b>"):
        assert bad not in body, bad
    assert INJECTED.split(" and ")[0] not in body
    assert "octocat" not in body and "everyone" not in body
    # The risk that mentions a name of the facts is grounded and kept, but pings nobody.
    mention = answer["risks"][1]
    assert mention.startswith("@") and mention.split(" ")[0][1:] in json.dumps(
        facts_of(fake.bodies(CHAT)[0])
    )
    (risk,) = insights["risks"]
    shown = risk.replace(WORD_JOINER, "").replace("\\", "")  # markdown escapes aside
    assert shown == mention and not re.search(r"@\w", risk)
    assert not re.search(r"@\w", body)
    # The sidecar that is published with the digest has no dropped text either.
    sidecar = (data.parent / "output/daily" / f"{day}.json").read_text()
    assert "evil.example" not in sidecar and "98765" not in sidecar


def _rewording(body: dict[str, Any]) -> str:
    """The day's rewordings: 16 from where the day's place in the week says (0, 16, 2, ...)."""
    return rewording_answer(body, start=16 * DAYS.index(facts_of(body)["window"]["key"]))


def _read(text: str) -> str:
    """Text as grounding reads it: format characters dropped, compatibility- and case-folded."""
    return unicodedata.normalize("NFKC", plain_text(text)).casefold()


def test_reworded_injections_citing_real_items_never_reach_a_digest(world: World) -> None:
    """A model that cites the day's real items and rewords its injections every way
    (`REWORDED`) gets nothing but its one grounded highlight into a week of daily digests."""
    data = world.fork("rewording")
    with FakeOllama(answer_fn=_rewording) as fake:
        world.materialize(
            [daily_insights, daily_digest], _range(DAYS[0], DAYS[-1]), ollama(fake), data
        )
        answers = {
            facts_of(b)["window"]["key"]: json.loads(_rewording(b)) for b in fake.bodies(CHAT)
        }
    assert sorted(answers) == DAYS
    offered: set[str] = set()
    for day, answer in answers.items():
        grounded, *injected = answer["highlights"]
        texts = [answer["headline"], *(h["text"] for h in injected)]
        texts += answer["themes"] + answer["risks"]
        offered.update(t.split(": ", 1)[1] for t in texts)
        insights = _insights(data, "daily", day)
        assert insights["writer"] == "ollama", day
        # Only the grounded highlight is kept; every injection is dropped, each one by name.
        assert len(insights["highlights"]) == 1 and insights["highlights"][0].startswith(
            grounded["text"].split(" ")[0]
        )
        assert (insights["themes"], insights["risks"]) == ([], [])
        assert sorted(d["text"] for d in insights["dropped"]) == sorted(texts), day
        kept = " ".join([insights["headline"], *insights["highlights"]])
        body = _digest(world, data, day).split("\n---\n", 1)[1]
        for marker in INJECTION_MARKERS:
            assert marker not in _read(kept), (day, marker)
            assert marker not in _read(body), (day, marker)
        for text in texts:
            assert _read(text.split(": ", 1)[1]) not in _read(body), (day, text)
    assert offered == set(REWORDED)  # the week offered every rewording


def test_when_nothing_can_be_grounded_the_fallback_writes_and_the_check_warns(
    world: World,
) -> None:
    data = world.fork("nothing")
    day = DAYS[0]
    with FakeOllama(answer_fn=lambda body: hostile_answer(body, good=0)) as fake:
        result = world.materialize(
            [daily_insights, daily_digest], _range(day, day), ollama(fake), data
        )
        assert fake.calls[CHAT] == 1
    insights = _insights(data, "daily", day)
    assert insights["writer"] == "deterministic" and insights["model"] is None
    assert insights["fallback_reason"] == "nothing in the answer could be grounded in the facts"
    assert insights["dropped"]
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.severity) == (
        "written_by_llm",
        False,
        dg.AssetCheckSeverity.WARN,
    )
    digest = _digest(world, data, day)
    assert (
        "- Text: summary by the built-in writer; nothing the model wrote could be checked "
        "against the facts; facts" in digest
    )
    assert "4242" not in digest.split("\n---\n", 1)[1] and "evil.example" not in digest


def test_a_missing_model_falls_back_with_the_pull_command(world: World) -> None:
    data = world.fork("missing")
    with FakeOllama(missing_model=True) as fake:
        result = world.materialize([weekly_insights], _range(WEEK, WEEK), ollama(fake), data)
        assert fake.calls[CHAT] == 0  # asked /api/tags, never chatted
    insights = _insights(data, "weekly", WEEK)
    assert insights["writer"] == "deterministic"
    assert f"ollama pull {MODEL}" in insights["fallback_reason"]
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["reason"].value == insights["fallback_reason"]


def test_a_slow_model_is_retried_by_the_step_then_falls_back(world: World) -> None:
    data = world.fork("slow")
    fast_retry = insights_asset(
        "daily",
        daily_insights.partitions_def,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=0.05),
    )
    day = DAYS[1]
    with FakeOllama(answer_fn=grounded_answer, slow_chat=5.0) as fake:
        world.materialize([fast_retry], _range(day, day), ollama(fake, timeout_s=0.3), data)
        # One chat per attempt: the first two raise for the RetryPolicy, the last falls back.
        assert fake.calls[CHAT] == 3
    insights = _insights(data, "daily", day)
    assert insights["writer"] == "deterministic"
    assert "no answer within 0.3 s" in insights["fallback_reason"]


def test_a_transient_server_error_is_retried_and_the_answer_used(world: World) -> None:
    data = world.fork("flaky")
    fast_retry = insights_asset(
        "daily",
        daily_insights.partitions_def,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=0.05),
    )
    day = DAYS[2]
    # Health passes; the chat answers 500 once (the client does not retry: max_retries 0), so
    # the step raises for its RetryPolicy, and the second attempt gets the answer.
    with FakeOllama(answer_fn=grounded_answer, chat_500_times=1) as fake:
        world.materialize([fast_retry], _range(day, day), ollama(fake), data)
        assert fake.calls[CHAT] == 2
    insights = _insights(data, "daily", day)
    assert insights["writer"] == "ollama" and insights["llm_calls"] == 1


def test_switched_off_the_llm_is_never_asked_and_the_check_passes(world: World) -> None:
    data = world.fork("off")
    with FakeOllama(answer_fn=grounded_answer) as fake:
        off = ollama(fake, enabled=False)
        result = world.materialize([monthly_insights], _range(MONTH, MONTH), off, data)
        assert fake.requests == []  # not even a health check
    insights = _insights(data, "monthly", MONTH)
    assert insights["writer"] == "deterministic"
    assert "[llm].enabled = false" in insights["fallback_reason"]
    (check,) = result.get_asset_check_evaluations()
    assert check.passed


# --- digests of every period, from the materialized data -------------------------------------


@pytest.fixture(scope="module")
def digests(worded) -> tuple[World, FakeOllama]:
    world, fake = worded
    world.materialize([weekly_digest], _range(WEEK, WEEK), ollama(fake))
    world.materialize([monthly_digest], _range(MONTH, MONTH), ollama(fake))
    world.materialize([digest_index], {}, ollama(fake))
    return world, fake


def _table(text: str, heading: str) -> list[list[str]]:
    block = text.split(heading, 1)[1].split("\n\n", 2)[1]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()]


def test_weekly_and_monthly_digests_show_their_own_figures(digests) -> None:
    world, _ = digests
    root = world.root
    for period, key in (("weekly", WEEK), ("monthly", MONTH)):
        text = (root / "output" / period / f"{key}.md").read_text()
        metrics = json.loads(
            (root / "data/processed" / f"{period}_metrics" / f"{key}.json").read_text()
        )
        head = text.split("\n---\n", 1)[0]
        assert f'period: "{period}"' in head and 'insights: "ollama"' in head
        rows = {r[0]: r[1:] for r in _table(text, "## Key numbers")[2:]}
        assert rows["Commits"][0] == f"{metrics['commits']:,}"
        assert rows["Pull requests merged"][0] == f"{metrics['prs_merged']:,}"
        # The chart: one bar per day of the window, the day's commits from the metrics file.
        chart = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
        bars = json.loads(chart.split("bar ", 1)[1].splitlines()[0])
        assert bars == [v or 0 for v in metrics["commits_per_day"].values()]
        assert len(bars) == (7 if period == "weekly" else 30)
        # Merged pull requests link to the org's own pull requests, nothing else is linked
        # except the metric definitions.
        links = re.findall(r"\]\(([^)]+)\)", text)
        org = world.org.login
        assert any(f"https://github.com/{org}/" in u and "/pull/" in u for u in links)
        assert all(u.startswith((f"https://github.com/{org}/", "../metrics.md#")) for u in links), (
            links
        )
        sidecar = json.loads((root / "output" / period / f"{key}.json").read_text())
        assert sidecar["period"] == period and sidecar["metrics"]["commits"] == metrics["commits"]
        assert "@" not in json.dumps(sidecar["metrics"]["top_contributors"])  # no emails


def _size(lines: int) -> str:
    """Kubernetes' size labels, worked out by hand: XS under 10 lines, S under 30, M under 100,
    L under 500, XL under 1,000, XXL from 1,000 on."""
    for bound, name in ((10, "XS"), (30, "S"), (100, "M"), (500, "L"), (1000, "XL")):
        if lines < bound:
            return name
    return "XXL"


def test_a_week_that_merged_pull_requests_names_each_under_its_theme(digests) -> None:
    """The first screen's What shipped: every person's merged pull request of the week, once,
    under its theme with its author and size, the largest first in each theme; the bots'
    folded into one line; the stat line counts them all."""
    world, _ = digests
    text = (world.root / "output/weekly" / f"{WEEK}.md").read_text()
    section = text.split("\n## What shipped\n", 1)[1].split("\n## ", 1)[0]
    start, end = world.org.window(days=7)
    merged = [
        p
        for p in world.org.pull_requests()
        if p.merged_at is not None and start <= p.merged_at < end
    ]
    people = [p for p in merged if p.author.type != "Bot"]
    bots = [p for p in merged if p.author.type == "Bot"]
    assert people and bots  # the seed's week has both
    org = world.org.login
    lines = section.splitlines()
    for p in people:
        lines_changed = (p.additions or 0) + (p.deletions or 0)
        item = (
            f"  - [{p.repo}#{p.number}](https://github.com/{org}/{p.repo}/pull/{p.number}) "
            f"{p.title} · {p.author.name} · {lines_changed:,} lines"
        )
        assert lines.count(item) == 1, (item, section)
    # No bot's pull request is named; they are one line with their count and who made them.
    for p in bots:
        assert f"[{p.repo}#{p.number}]" not in section
    names = sorted({p.author.login.removesuffix("[bot]") for p in bots})
    assert len(names) == 2, names
    bot_line = [ln for ln in lines if ln.endswith(f" by {names[0]} and {names[1]}")]
    assert len(bot_line) == 1 and bot_line[0].startswith(f"- {len(bots)} "), section
    # Each theme's count is the items listed under it (every one is named: no "N of M").
    themes: list[tuple[int, list[int]]] = []
    for ln in lines:
        if ln.startswith("- **") and " · " in ln:
            themes.append((int(ln.split(" · ", 1)[1].split(" ", 1)[0]), []))
        elif ln.startswith("  - [") and themes:
            themes[-1][1].append(int(re.findall(r"^  - \[[\w.-]+#(\d+)\]", ln)[0]))
    assert sum(count for count, _ in themes) == len(people)
    assert all(count == len(numbers) for count, numbers in themes), themes
    assert "Named here" not in section
    by_lines = {p.number: (p.additions or 0) + (p.deletions or 0) for p in people}
    for _, numbers in themes:
        sizes = [by_lines[n] for n in numbers]
        assert sizes == sorted(sizes, reverse=True)
    stat = next(ln for ln in text.splitlines() if ln.startswith("**") and " · " in ln)
    assert f" · **{len(merged)}** pull requests merged · " in stat


def test_the_index_and_feed_list_every_digest(digests) -> None:
    import xml.etree.ElementTree as ET

    world, _ = digests
    out = world.root / "output"
    index = (out / "index.md").read_text()
    links = re.findall(r"\]\(((?:daily|weekly|monthly)/[\d-]+\.md)\)", index)
    assert links == [f"monthly/{MONTH}.md", f"weekly/{WEEK}.md"] + [
        f"daily/{d}.md" for d in reversed(DAYS)
    ]
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring((out / "feed.xml").read_bytes())
    entries = feed.findall(f"{atom}entry")
    assert len(entries) == len(links)
    assert {e.find(f"{atom}link").get("href") for e in entries} == set(links)
    # The definitions the digests link to are published next to them.
    assert (out / "metrics.md").read_text().startswith("# Sparky's metrics")


def _git(cwd: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_publishing_pushes_the_digests_once_and_then_nothing(digests, tmp_path: Path) -> None:
    world, fake = digests
    remote = tmp_path / "docs.git"
    _git(tmp_path, "init", "--bare", "-b", "main", str(remote))
    publisher = GitPublisherResource(
        work_tree=str(tmp_path / "clone"),
        remote=str(remote),
        push=True,
        author_name="Sparky Bot",
        author_email="sparky@example.org",
        subdir="digests",
    )
    first = world.materialize([published_digests], {}, ollama(fake), publisher=publisher)
    log = _git(remote, "log", "--format=%an <%ae>|%s", "main").splitlines()
    days = f"{DAYS[0]}...{DAYS[-1]} ({len(DAYS)})"
    assert log == [
        f"Sparky Bot <sparky@example.org>|digest: daily {days}; weekly {WEEK}; monthly {MONTH}"
    ]
    files = set(_git(remote, "ls-tree", "-r", "--name-only", "main").split())
    assert {f"digests/daily/{d}.md" for d in DAYS} <= files
    assert {"digests/index.md", "digests/feed.xml", "digests/metrics.md"} <= files
    assert f"digests/weekly/{WEEK}.json" in files
    event = first.asset_materializations_for_node("published_digests")[0]
    assert event.metadata["pushed"].value is True
    # Again with nothing changed: no commit, nothing pushed, the remote as it was.
    world.materialize([published_digests], {}, ollama(fake), publisher=publisher)
    assert len(_git(remote, "log", "--format=%s", "main").splitlines()) == 1


def test_the_publish_sensor_asks_once_per_new_digest(digests) -> None:
    world, _ = digests

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        context = dg.build_multi_asset_sensor_context(
            monitored_assets=list(DIGESTS),
            instance=world.instance,
            cursor=cursor,
            definitions=session_defs(),
        )
        result = publish_new_digests(context)
        requests = [result] if isinstance(result, dg.RunRequest) else []
        return requests, context.cursor

    (request,), cursor = tick(None)
    assert "daily_digest 2024-06-03" in request.tags["sparky/digests"]
    # Nothing new since that cursor: the sensor skips.
    again, same = tick(cursor)
    assert not again and same == cursor
    # A new digest materialization: one more request, with a new run key, naming it.
    world.instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="weekly_digest", partition=WEEK)
    )
    (request2,), later = tick(cursor)
    assert request2.run_key != request.run_key and later != cursor
    assert request2.tags["sparky/digests"] == f"weekly_digest {WEEK}"
