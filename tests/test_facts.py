"""The fact sheet: what it holds, its token estimate and what it drops first."""

from __future__ import annotations

from sparky_assets.lib.facts import (
    REDUCE_TRIM_ORDER,
    TRIM_ORDER,
    active_repos,
    build_fact_sheet,
    compact_json,
    estimate_tokens,
    notable_commits,
    pull_request_items,
    reduce_fact_sheet,
    repo_fact_sheet,
    trim_to_budget,
)
from sparky_assets.lib.github_metrics import PullRequestMetrics, PullRequestRef
from sparky_assets.lib.window import Change, WindowMetrics


def metrics(**extra) -> WindowMetrics:
    base = dict(
        partition="2024-06-03",
        commits=12,
        merges=1,
        active_contributors=3,
        human_contributors=2,
        bot_commits=1,
        lines_added=120,
        lines_deleted=30,
        files_changed=9,
        active_repos=1,
        per_repo=[],
        top_contributors=[],
        period="daily",
    )
    return WindowMetrics(**(base | extra))


def commit(repo: str, sha: str, added: int, deleted: int, *, merge: bool = False) -> dict:
    return {
        "repo": repo,
        "sha": sha,
        "subject": f"s {sha}",
        "additions": added,
        "deletions": deleted,
        "is_merge": merge,
    }


def pr(n: int, title: str = "t") -> PullRequestRef:
    return PullRequestRef(
        repo="r",
        number=n,
        title=title,
        url=f"u{n}",
        author_login="a",
        author_is_bot=False,
        lines=n,
        merged_at="x",
        created_at="y",
    )


def test_token_estimate_is_compact_json_over_three_chars() -> None:
    data = {"b": [1, 2], "a": "xyz"}
    # Compact, sorted: {"a":"xyz","b":[1,2]} is 21 characters -> ceil(21 / 3) = 7.
    assert compact_json(data) == '{"a":"xyz","b":[1,2]}'
    assert estimate_tokens(data) == 7


def test_notable_commits_are_the_largest_non_merges() -> None:
    commits = [
        commit("r", "a" * 40, 5, 5),
        commit("r", "b" * 40, 50, 0),
        commit("r", "c" * 40, 500, 500, merge=True),
        commit("q", "d" * 40, 1, 9),
    ]
    # Largest first: 50 lines (b), then a and d tie on 10 lines and repo "q" sorts before "r".
    got = notable_commits(commits, limit=2)
    assert [(c["sha"], c["lines"]) for c in got] == [("b" * 12, 50), ("d" * 12, 10), ("a" * 12, 10)]
    # The limit is per repository: one each keeps r's largest (b) and q's only commit (d).
    got = notable_commits(commits, limit=1)
    assert [c["sha"] for c in got] == ["b" * 12, "d" * 12]


def test_the_sheet_holds_figures_changes_and_items_but_no_nulls() -> None:
    m = metrics(
        change={
            "commits": Change(previous=10, absolute=2, percent=20.0),
            "prs_opened": Change(previous=None, absolute=None, percent=None),
        }
    )
    sheet = build_fact_sheet(m, [commit("r", "f" * 40, 3, 4)], failed_repos=["zeta"])
    facts = sheet.facts
    assert facts["figures"]["commits"] == 12 and "prs_opened" not in facts["figures"]
    assert facts["change"] == {"commits": {"previous": 10, "absolute": 2, "percent": 20.0}}
    assert facts["not_collected"] == ["zeta"]
    assert facts["notable_commits"] == [
        {"repo": "r", "sha": "f" * 12, "subject": "s " + "f" * 40, "lines": 7}
    ]
    assert sheet.dropped == {} and sheet.tokens == estimate_tokens(facts)


def test_over_budget_drops_the_least_important_first() -> None:
    prs = PullRequestMetrics(
        merged_list=[pr(i, "m" * 100) for i in range(20)],
        opened_list=[pr(i, "o" * 100) for i in range(20)],
    )
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


# --- pull requests of a window, from raw records --------------------------------------------

START, END = "2024-06-03T00:00:00Z", "2024-06-04T00:00:00Z"


def record(repo: str, number: int, **extra) -> dict:
    """A raw pull request record (sparky_resources.github_records.PullRequestRecord's fields)."""
    base = {
        "repo": repo,
        "number": number,
        "title": f"PR {number}",
        "url": f"https://github.com/acme/{repo}/pull/{number}",
        "author_login": "alice",
        "author_is_bot": False,
        "state": "open",
        "is_draft": False,
        "created_at": "2024-06-01T00:00:00Z",
        "updated_at": "2024-06-03T23:00:00Z",
        "merged_at": None,
        "closed_at": None,
        "merged_by_login": None,
        "additions": 1,
        "deletions": 1,
        "changed_files": 1,
        "labels": [],
        "requested_reviewers": [],
        "reviews": [],
        "ready_for_review_at": None,
        "first_response_at": None,
        "closing_issues": [],
        "body": None,
    }
    return base | extra


def merged(repo: str, number: int, at: str, added: int | None, deleted: int | None, **extra):
    return record(
        repo,
        number,
        state="merged",
        merged_at=at,
        closed_at=at,
        additions=added,
        deletions=deleted,
        **extra,
    )


def test_pull_request_items_of_a_window() -> None:
    long_body = "  Fixes\n\n the   thing\t" + "x" * 400
    records = [
        # Merged inside, 300 + 50 = 350 lines: size L (100 <= 350 < 500).
        merged(
            "api", 1, "2024-06-03T10:00:00Z", 300, 50, title="  Add\n  thing ", labels=["feature"]
        ),
        # Merged at `end` exactly: outside; created before the window, so not opened either.
        merged("api", 2, END, 10, 0),
        # Merged at `start` exactly: inside. 5 lines: XS.
        merged("web", 3, START, 5, 0),
        # Merged inside, no line counts: no size or lines, last among the merged.
        merged(
            "web",
            4,
            "2024-06-03T12:00:00Z",
            None,
            3,
            body=long_body,
            labels=["a", "b", "c", "d", "e", "f", "g"],
        ),
        # Opened inside, not merged (08:00 and 20:00), by a bot.
        record(
            "api", 5, created_at="2024-06-03T08:00:00Z", author_login="dep[bot]", author_is_bot=True
        ),
        record("api", 6, created_at="2024-06-03T20:00:00Z"),
        # Two snapshots of web#7: the later one (merged, 20 + 20 = 40 lines: M) wins, even
        # listed first; the earlier one would have made it an opened pull request.
        merged(
            "web",
            7,
            "2024-06-03T21:00:00Z",
            20,
            20,
            title="Final",
            created_at="2024-06-03T01:00:00Z",
            updated_at="2024-06-03T22:00:00Z",
        ),
        record(
            "web",
            7,
            title="Draft",
            created_at="2024-06-03T01:00:00Z",
            updated_at="2024-06-03T09:00:00Z",
        ),
        # Merged inside at 23:59:59Z (written with an offset), also 350 lines: after api#1.
        merged("web", 8, "2024-06-03T19:59:59-04:00", 350, 0),
        # Created at `end` exactly: outside.
        record("api", 9, created_at=END),
        # Created at `start` exactly: inside, the oldest of the opened.
        record("web", 10, created_at=START),
        # Created inside, merged after the window: opened in it, not merged in it (12:00).
        merged("api", 11, "2024-06-05T00:00:00Z", 1, 1, created_at="2024-06-03T12:00:00Z"),
        # Merged inside with 0 lines: known, the smallest, still before the unknown web#4.
        merged("web", 12, "2024-06-03T13:00:00Z", 0, 0),
    ]
    merged_items, opened_items = pull_request_items(records, START, END)
    # Merged, largest first: 350 (api before web on a tie), 40, 5, 0, then the unknown size.
    assert [(i["repo"], i["number"]) for i in merged_items] == [
        ("api", 1),
        ("web", 8),
        ("web", 7),
        ("web", 3),
        ("web", 12),
        ("web", 4),
    ]
    # Opened, newest first: 20:00, 12:00, 08:00, 00:00.
    assert [(i["repo"], i["number"]) for i in opened_items] == [
        ("api", 6),
        ("api", 11),
        ("api", 5),
        ("web", 10),
    ]
    by_ref = {(i["repo"], i["number"]): i for i in merged_items + opened_items}
    # Title whitespace collapsed; no body key (None) and nothing null in an item.
    assert by_ref["api", 1] == {
        "repo": "api",
        "number": 1,
        "title": "Add thing",
        "labels": ["feature"],
        "size": "L",
        "lines": 350,
        "author": "alice",
        "bot": False,
    }
    assert by_ref["web", 7]["title"] == "Final" and by_ref["web", 7]["size"] == "M"
    assert by_ref["web", 3]["size"] == "XS" and by_ref["web", 3]["lines"] == 5
    assert by_ref["web", 12]["size"] == "XS" and by_ref["web", 12]["lines"] == 0
    unknown = by_ref["web", 4]
    assert "size" not in unknown and "lines" not in unknown
    # Five labels of seven.
    assert unknown["labels"] == ["a", "b", "c", "d", "e"]
    # "Fixes the thing " is 16 characters, then 283 x's and an ellipsis: 300 in all.
    assert unknown["body"] == "Fixes the thing " + "x" * 283 + "…"
    assert len(unknown["body"]) == 300
    # No labels: no key; a bot author says so.
    assert "labels" not in by_ref["api", 5] and by_ref["api", 5]["bot"] is True
    assert by_ref["api", 5]["author"] == "dep[bot]"


# --- map-reduce sheets ----------------------------------------------------------------------


def full_sheet() -> dict:
    def item(repo: str, number: int) -> dict:
        return {"repo": repo, "number": number, "title": f"t{number}", "lines": number}

    return {
        "window": {"period": "weekly", "key": "2024-06-03", "start": START, "end": END},
        "figures": {"commits": 11},
        "change": {},
        "github_collected": True,
        "not_collected": [],
        "repos": [
            {"repo": "api", "commits": 3, "contributors": 1, "lines_added": 1, "lines_deleted": 1},
            {"repo": "web", "commits": 3, "contributors": 1, "lines_added": 1, "lines_deleted": 1},
            {"repo": "cli", "commits": 5, "contributors": 2, "lines_added": 1, "lines_deleted": 1},
            {"repo": "book", "commits": 0, "contributors": 0, "lines_added": 0, "lines_deleted": 0},
        ],
        "top_contributors": [{"name": "alice", "commits": 6, "bot": False}],
        "new_contributors": ["bob"],
        "merged_prs": [item("api", 1), item("web", 2), item("web", 3)],
        "opened_prs": [item("api", 4), item("docs", 5), item("book", 6)],
        "releases": [{"repo": "web", "tag": "v1.0", "name": "One"}],
        "notable_commits": [
            {"repo": "api", "sha": "abcdef012345", "subject": "s", "lines": 9},
            {"repo": "cli", "sha": "0123456789ab", "subject": "s", "lines": 8},
        ],
    }


def test_repo_fact_sheet_keeps_one_repository() -> None:
    full = full_sheet()
    assert repo_fact_sheet(full, "web") == {
        "window": full["window"],
        "repo": {
            "repo": "web",
            "commits": 3,
            "contributors": 1,
            "lines_added": 1,
            "lines_deleted": 1,
        },
        "merged_prs": [full["merged_prs"][1], full["merged_prs"][2]],
        "opened_prs": [],
        "releases": [{"repo": "web", "tag": "v1.0", "name": "One"}],
        "notable_commits": [],
    }
    # A repository with items but no figures gets its name only.
    docs = repo_fact_sheet(full, "docs")
    assert docs["repo"] == {"repo": "docs"}
    assert docs["opened_prs"] == [full["opened_prs"][1]] and docs["merged_prs"] == []


def test_active_repos_by_commits_then_items_then_name() -> None:
    full = full_sheet()
    # cli: 5 commits (1 item: its commit) comes first whatever the item counts.
    # api: 3 commits, 3 items (api#1, api#4, its commit); web: 3 commits, 3 items (web#2,
    # web#3, the release): a tie, by name. book (0 commits, book#6) and docs (no figures,
    # docs#5): 0 commits and 1 item each, by name.
    assert active_repos(full) == ["cli", "api", "web", "book", "docs"]
    # Without api's commit, api has 2 items to web's 3: web goes first.
    full["notable_commits"] = [c for c in full["notable_commits"] if c["repo"] != "api"]
    assert active_repos(full) == ["cli", "web", "api", "book", "docs"]


def test_reduce_sheet_keeps_cited_items_releases_and_summaries() -> None:
    full = full_sheet()
    summaries = [
        # A reference in another case, and a sha prefix shorter than the fact's sha.
        {
            "repo": "api",
            "headline": "h",
            "highlights": [{"text": "a", "refs": ["API#1", "abcdef0"]}],
        },
        # A sha longer than the fact's 12 characters, and web#3.
        {
            "repo": "cli",
            "headline": "",
            "highlights": [{"text": "b", "refs": ["0123456789abcdef", "web#3"]}],
        },
    ]
    sheet = reduce_fact_sheet(full, summaries)
    assert sheet["merged_prs"] == [full["merged_prs"][0], full["merged_prs"][2]]
    assert sheet["opened_prs"] == []
    assert sheet["notable_commits"] == full["notable_commits"]
    assert sheet["releases"] == full["releases"]  # none cited, all kept
    assert sheet["repo_summaries"] == summaries
    for key in (
        "window",
        "figures",
        "change",
        "github_collected",
        "not_collected",
        "repos",
        "top_contributors",
        "new_contributors",
    ):
        assert sheet[key] == full[key]
    # Over budget by a little, the reduce order takes the per-repository figures first (the
    # summaries are what the map calls were for): the repos list is halved, summaries stay.
    trimmed = trim_to_budget(sheet, estimate_tokens(sheet) - 1, REDUCE_TRIM_ORDER)
    assert list(trimmed.dropped) == ["repos"]
    assert trimmed.facts["repo_summaries"] == summaries
    assert trimmed.facts["notable_commits"] == full["notable_commits"]
    assert trimmed.tokens <= estimate_tokens(sheet) - 1
    # Squeezed to nothing, the summaries still outlast everything but the cited pull requests
    # and the releases.
    tiny = trim_to_budget(sheet, 1, REDUCE_TRIM_ORDER)
    order = [name for name in REDUCE_TRIM_ORDER if name in tiny.dropped]
    assert order.index("repo_summaries") > order.index("repos")
    assert REDUCE_TRIM_ORDER[-3:] == ("repo_summaries", "merged_prs", "releases")


def test_non_ascii_text_counts_a_token_a_character() -> None:
    from sparky_assets.lib.facts import text_tokens

    # By hand: 6 ASCII characters at 3 a token = 2; each CJK character or emoji is a token.
    assert text_tokens("abcdef") == 2
    assert text_tokens("日本語") == 3
    assert text_tokens("ab日🚀") == 1 + 2
    assert estimate_tokens({"t": "日本語"}) == 3 + 3  # {"t":""} is 8 ASCII chars: ceil(8/3) = 3


def test_the_reduce_sheet_keeps_cited_items_without_their_descriptions() -> None:
    from sparky_assets.lib.facts import reduce_fact_sheet

    pr = {
        "repo": "api",
        "number": 7,
        "title": "Faster",
        "body": "long text",
        "labels": ["x"],
        "author": "ann",
        "bot": False,
        "size": "S",
        "lines": 12,
    }
    full = {
        "window": {},
        "figures": {},
        "repos": [],
        "merged_prs": [pr],
        "opened_prs": [],
        "releases": [],
        "notable_commits": [],
    }
    summaries = [{"repo": "api", "headline": "h", "highlights": [{"text": "t", "refs": ["api#7"]}]}]
    sheet = reduce_fact_sheet(full, summaries)
    # By hand: body, labels, author and bot go; the reference and its size stay.
    assert sheet["merged_prs"] == [
        {"repo": "api", "number": 7, "title": "Faster", "size": "S", "lines": 12}
    ]
