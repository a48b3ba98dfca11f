"""The fact sheet: what it holds, its token estimate and what it drops first."""

from __future__ import annotations

from sparky_assets.lib.facts import (
    TRIM_ORDER,
    build_fact_sheet,
    compact_json,
    estimate_tokens,
    notable_commits,
)
from sparky_assets.lib.github_metrics import PullRequestMetrics, PullRequestRef
from sparky_assets.lib.window import Change, WindowMetrics


def metrics(**extra) -> WindowMetrics:
    base = dict(
        partition="2024-06-03", commits=12, merges=1, active_contributors=3,
        human_contributors=2, bot_commits=1, lines_added=120, lines_deleted=30,
        files_changed=9, active_repos=1, per_repo=[], top_contributors=[], period="daily",
    )
    return WindowMetrics(**(base | extra))


def commit(repo: str, sha: str, added: int, deleted: int, *, merge: bool = False) -> dict:
    return {"repo": repo, "sha": sha, "subject": f"s {sha}", "additions": added,
            "deletions": deleted, "is_merge": merge}


def pr(n: int, title: str = "t") -> PullRequestRef:
    return PullRequestRef(repo="r", number=n, title=title, url=f"u{n}", author_login="a",
                          author_is_bot=False, lines=n, merged_at="x", created_at="y")


def test_token_estimate_is_compact_json_over_three_chars() -> None:
    data = {"b": [1, 2], "a": "xyz"}
    # Compact, sorted: {"a":"xyz","b":[1,2]} is 21 characters -> ceil(21 / 3) = 7.
    assert compact_json(data) == '{"a":"xyz","b":[1,2]}'
    assert estimate_tokens(data) == 7


def test_notable_commits_are_the_largest_non_merges() -> None:
    commits = [commit("r", "a" * 40, 5, 5), commit("r", "b" * 40, 50, 0),
               commit("r", "c" * 40, 500, 500, merge=True), commit("q", "d" * 40, 1, 9)]
    # Largest first: 50 lines (b), then a and d tie on 10 lines and repo "q" sorts before "r".
    got = notable_commits(commits, limit=2)
    assert [(c["sha"], c["lines"]) for c in got] == [
        ("b" * 12, 50), ("d" * 12, 10), ("a" * 12, 10)
    ]
    # The limit is per repository: one each keeps r's largest (b) and q's only commit (d).
    got = notable_commits(commits, limit=1)
    assert [c["sha"] for c in got] == ["b" * 12, "d" * 12]


def test_the_sheet_holds_figures_changes_and_items_but_no_nulls() -> None:
    m = metrics(change={"commits": Change(previous=10, absolute=2, percent=20.0),
                        "prs_opened": Change(previous=None, absolute=None, percent=None)})
    sheet = build_fact_sheet(m, [commit("r", "f" * 40, 3, 4)], failed_repos=["zeta"])
    facts = sheet.facts
    assert facts["figures"]["commits"] == 12 and "prs_opened" not in facts["figures"]
    assert facts["change"] == {"commits": {"previous": 10, "absolute": 2, "percent": 20.0}}
    assert facts["not_collected"] == ["zeta"]
    assert facts["notable_commits"] == [{"repo": "r", "sha": "f" * 12, "subject": "s " + "f" * 40,
                                         "lines": 7}]
    assert sheet.dropped == {} and sheet.tokens == estimate_tokens(facts)


def test_over_budget_drops_the_least_important_first() -> None:
    prs = PullRequestMetrics(merged_list=[pr(i, "m" * 100) for i in range(20)],
                             opened_list=[pr(i, "o" * 100) for i in range(20)])
    m = metrics(pull_requests=prs, github_available=True)
    commits = [commit("r", f"{i:040x}", i, 0) for i in range(1, 11)]
    full = build_fact_sheet(m, commits, budget_tokens=100_000)
    assert full.dropped == {}
    # A budget a little under the full sheet: the notable commits go first, the PRs stay.
    budget = full.tokens - 20
    small = build_fact_sheet(m, commits, budget_tokens=budget)
    assert small.tokens <= budget
    assert list(small.dropped) == ["notable_commits"]
    assert len(small.facts["merged_prs"]) == 20 and len(small.facts["opened_prs"]) == 20
    # A tiny budget empties the lists in TRIM_ORDER; the figures always stay.
    tiny = build_fact_sheet(m, commits, budget_tokens=1)
    assert all(tiny.facts[name] == [] for name in TRIM_ORDER if name != "repo_summaries")
    assert tiny.facts["figures"]["commits"] == 12
    assert tiny.dropped["merged_prs"] == 20 and tiny.dropped["opened_prs"] == 20


def test_long_titles_are_trimmed() -> None:
    prs = PullRequestMetrics(merged_list=[pr(1, "x" * 500)])
    facts = build_fact_sheet(metrics(pull_requests=prs)).facts
    # 119 characters and an ellipsis.
    assert facts["merged_prs"][0]["title"] == "x" * 119 + "…"
