"""Every GraphQL document Sparky can build validates against GitHub's published schema, stays
within GitHub's node limit, and declares exactly the variables it uses; and the parsers turn
GitHub's answers (GraphQL nodes shaped like the queries) into records."""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import graphql
import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from sparky_resources import github_queries as gq
from sparky_resources.github import search_window
from sparky_resources.github_records import (
    BacklogItem,
    DeploymentRecord,
    DeploymentStatusRecord,
    IssueRecord,
    PullRequestRecord,
    TeamRecord,
    actor_login,
    oldest_first,
    parse_backlog_node,
    parse_blobs,
    parse_codeowners_oids,
    parse_commit_history,
    parse_commit_node,
    parse_deployment_node,
    parse_deployments,
    parse_issue_node,
    parse_pull_request_files,
    parse_pull_request_node,
    parse_releases,
    parse_repository_node,
    parse_team_repositories,
    parse_teams_page,
    release_notes,
    reverted_sha,
)
from sparky_resources.models import CommitRecord

# Copies of ../shared/fixtures/github (MIT; see tests/fixtures/github/SOURCES.md).
GITHUB_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"
SCHEMA = GITHUB_FIXTURES / "graphql" / "schema.graphql"
NODE_LIMIT = 500_000  # https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#node-limit
UTC = dt.UTC
SINCE = dt.datetime(2025, 6, 3, tzinfo=ZoneInfo("America/New_York"))
UNTIL = SINCE + dt.timedelta(days=1)


@pytest.fixture(scope="session")
def schema() -> GraphQLSchema:
    # assume_valid_sdl: the published SDL defines two EnterpriseOwnerInfo fields twice.
    return graphql.build_ast_schema(
        graphql.parse(SCHEMA.read_text(encoding="utf-8")), assume_valid_sdl=True
    )


# ---------------------------------------------------------------------------------------------
# Every query the code can build


def _history(targets: list[Any]) -> tuple[str, dict[str, Any]]:
    batch = gq.build_commit_history_query(targets, SINCE, UNTIL)
    return batch.query, batch.variables


def _releases(targets: list[Any]) -> tuple[str, dict[str, Any]]:
    batch = gq.build_releases_query(targets)
    return batch.query, batch.variables


def _with_extras(targets: list[Any], **kwargs: Any) -> tuple[str, dict[str, Any]]:
    batch = gq.build_releases_query(targets, environment="production", codeowners=True, **kwargs)
    return batch.query, batch.variables


def _batch(batch: gq.BatchQuery) -> tuple[str, dict[str, Any]]:
    return batch.query, batch.variables


MANY = [("acme", f"repo-{i}") for i in range(gq.MAX_REPOS_PER_QUERY)]
OID = "0123456789abcdef0123456789abcdef01234567"
ALL_QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "org repositories, first page": (
        gq.ORG_REPOSITORIES_QUERY,
        gq.org_repositories_variables("acme"),
    ),
    "org repositories, with cursor": (
        gq.ORG_REPOSITORIES_QUERY,
        gq.org_repositories_variables("acme", "Y3Vyc29yOjEwMA=="),
    ),
    "search pull requests": (
        gq.SEARCH_PULL_REQUESTS_QUERY,
        gq.search_variables(gq.search_query("acme", "pr", SINCE, UNTIL)),
    ),
    "search pull requests, with cursor": (
        gq.SEARCH_PULL_REQUESTS_QUERY,
        gq.search_variables(gq.search_query("acme", "pr", SINCE, UNTIL), "Y3Vyc29yOjI="),
    ),
    "search issues": (
        gq.SEARCH_ISSUES_QUERY,
        gq.search_variables(gq.search_query("acme", "issue", SINCE, UNTIL)),
    ),
    "search issues, with cursor": (
        gq.SEARCH_ISSUES_QUERY,
        gq.search_variables(gq.search_query("acme", "issue", SINCE, UNTIL), "Y3Vyc29yOjI="),
    ),
    "history, one repository": _history([("acme", "api")]),
    "history, one repository with cursor": _history([gq.HistoryTarget("acme", "api", "abc 99")]),
    "history, several repositories, some with cursors": _history(
        [("acme", "api"), ("acme", "web", "c1"), gq.HistoryTarget("acme", "cli")]
    ),
    "history, the most repositories a query takes": _history(MANY),
    "releases, one repository": _releases([("acme", "api")]),
    "releases, one repository with cursors": _releases([("acme", "api", "r1", "t1")]),
    "releases, several repositories, some with cursors": _releases(
        [("acme", "api"), gq.ReleaseTarget("acme", "web", tags_after="t9"), ("acme", "cli")]
    ),
    "releases, the most repositories a query takes": _releases(MANY),
    "releases with deployments and CODEOWNERS, one repository": _with_extras([("acme", "api")]),
    "releases with deployments and CODEOWNERS, the most repositories": _with_extras(
        MANY, deploy_first=100
    ),
    "releases with CODEOWNERS only": _batch(
        gq.build_releases_query([("acme", "api")], codeowners=True)
    ),
    "deployments, further pages": _batch(
        gq.build_deployments_query(
            [gq.DeploymentTarget("acme", "api", "Y3Vyc29yOjUw"), ("acme", "web", "c2")],
            "production",
        )
    ),
    "deployments, the most repositories a query takes": _batch(
        gq.build_deployments_query([(o, n, "c") for o, n in MANY], "staging", 100)
    ),
    "CODEOWNERS blobs": _batch(gq.build_blobs_query([("acme", "api", OID)])),
    "CODEOWNERS blobs, the most repositories": _batch(
        gq.build_blobs_query([(o, n, OID) for o, n in MANY])
    ),
    "pull request files, further pages": _batch(
        gq.build_pull_request_files_query([gq.FilesTarget("acme", "api", 7, "Y3Vyc29yOjEwMA==")])
    ),
    "pull request files, the most pull requests": _batch(
        gq.build_pull_request_files_query([("acme", "api", i, "c") for i in range(20)])
    ),
    "teams, first page": (gq.TEAMS_QUERY, gq.teams_variables("acme")),
    "teams, with cursor": (gq.TEAMS_QUERY, gq.teams_variables("acme", "Y3Vyc29yOjEwMA==")),
    "team repositories, further pages": _batch(
        gq.build_team_repositories_query("acme", [gq.TeamTarget("platform", "c100")])
    ),
    "team repositories, the most teams": _batch(
        gq.build_team_repositories_query("acme", [gq.TeamTarget(f"t{i}", "c") for i in range(20)])
    ),
    "backlog, the whole org": (
        gq.BACKLOG_QUERY,
        gq.backlog_variables(gq.backlog_searches("acme", UNTIL)),
    ),
    "backlog, the most scopes a query takes": (
        gq.build_backlog_query(gq.MAX_BACKLOG_GROUPS),
        gq.backlog_variables(
            [
                gq.backlog_searches("acme", UNTIL + dt.timedelta(days=i))[0]
                for i in range(gq.MAX_BACKLOG_GROUPS)
            ],
            first=100,
        ),
    ),
}


@dataclass
class Cost:
    nodes: int = 0
    connections: int = 0

    @property
    def points(self) -> int:
        # "Divide the number by 100 and round ... The minimum point value of a call is 1."
        return max(1, round(self.connections / 100))


def _walk(
    schema: GraphQLSchema,
    selections: SelectionSetNode,
    parent: Any,
    multiplier: int,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    cost: Cost,
    problems: list[str],
) -> None:
    """Add up nodes and connections the way GitHub's node-limit page does, checking that every
    connection has `first` or `last` between 1 and 100."""
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            definition = parent.fields[selection.name.value]
            named = get_named_type(definition.type)
            inner = multiplier
            if named.name.endswith("Connection"):
                size = None
                for argument in selection.arguments:
                    if argument.name.value in ("first", "last"):
                        value = argument.value
                        if isinstance(value, IntValueNode):
                            size = int(value.value)
                        elif isinstance(value, VariableNode):
                            size = variables.get(value.name.value)
                if not isinstance(size, int) or not 1 <= size <= 100:
                    problems.append(f"{selection.name.value}: first/last {size!r} not in 1..100")
                    size = 100
                cost.connections += multiplier
                cost.nodes += multiplier * size
                inner = multiplier * size
            if selection.selection_set:
                _walk(
                    schema,
                    selection.selection_set,
                    named,
                    inner,
                    fragments,
                    variables,
                    cost,
                    problems,
                )
        elif isinstance(selection, InlineFragmentNode):
            typed = (
                schema.get_type(selection.type_condition.name.value)
                if (selection.type_condition)
                else parent
            )
            _walk(
                schema,
                selection.selection_set,
                typed,
                multiplier,
                fragments,
                variables,
                cost,
                problems,
            )
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            _walk(
                schema,
                fragment.selection_set,
                schema.get_type(fragment.type_condition.name.value),
                multiplier,
                fragments,
                variables,
                cost,
                problems,
            )


def _cost(schema: GraphQLSchema, query: str, variables: dict[str, Any]) -> tuple[Cost, list[str]]:
    document = graphql.parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    cost, problems = Cost(), []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            _walk(
                schema,
                definition.selection_set,
                schema.query_type,
                1,
                fragments,
                variables,
                cost,
                problems,
            )
    return cost, problems


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_query_validates_against_githubs_schema(schema: GraphQLSchema, name: str) -> None:
    query, _variables = ALL_QUERIES[name]
    assert graphql.validate(schema, graphql.parse(query)) == []


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_variables_are_declared_used_and_supplied(schema: GraphQLSchema, name: str) -> None:
    query, variables = ALL_QUERIES[name]
    document = graphql.parse(query)
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    declared = {d.variable.name.value for d in operation.variable_definitions}
    used = set(re.findall(r"\$(\w+)", graphql.print_ast(document))) - declared
    assert used == set(), f"used but not declared: {used}"
    assert set(variables) == declared
    coerced = graphql.execution.values.get_variable_values(
        schema, operation.variable_definitions, variables
    )
    assert not isinstance(coerced, list), coerced  # a list holds the coercion errors
    # Values travel as variables: no repository name is ever formatted into the text.
    assert "acme" not in query and "repo-1" not in query


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_query_is_within_githubs_limits(schema: GraphQLSchema, name: str) -> None:
    query, variables = ALL_QUERIES[name]
    cost, problems = _cost(schema, query, variables)
    assert problems == []
    assert cost.nodes < NODE_LIMIT
    assert "rateLimit { cost remaining resetAt }" in query
    assert cost.points <= 30, cost


def test_estimated_points_of_the_main_queries(schema: GraphQLSchema) -> None:
    """The prices worth knowing (GitHub's own prediction formula): a search page of 100 pull
    requests costs 7 points (1 + 100 x 7 nested connections); a history page costs about 1
    point per repository; 20 repositories' releases and tags 1 point, 11 with their
    deployments (1 + 50 statuses connections each: 20 x 53 = 1,060)."""
    prs, _ = _cost(schema, *ALL_QUERIES["search pull requests"])
    assert (prs.connections, prs.points) == (701, 7)
    releases, _ = _cost(schema, *ALL_QUERIES["releases, the most repositories a query takes"])
    assert (releases.connections, releases.points) == (40, 1)
    extras, _ = _cost(schema, *_with_extras(MANY))
    assert (extras.connections, extras.points) == (20 * (2 + 1 + 50), 11)
    teams, _ = _cost(schema, *ALL_QUERIES["teams, first page"])
    assert (teams.connections, teams.points) == (101, 1)
    history, _ = _cost(schema, *ALL_QUERIES["history, the most repositories a query takes"])
    assert (history.connections, history.points) == (gq.MAX_REPOS_PER_QUERY * 101, 20)
    repos, _ = _cost(schema, *ALL_QUERIES["org repositories, first page"])
    assert repos.points == 1


def test_backlog_query_costs_one_point(schema: GraphQLSchema) -> None:
    """Twenty searches of ten items are twenty connections: the minimum, 1 point."""
    for name in ("backlog, the whole org", "backlog, the most scopes a query takes"):
        cost, problems = _cost(schema, *ALL_QUERIES[name])
        assert problems == [] and cost.points == 1, (name, cost)


def test_batched_query_bounds() -> None:
    with pytest.raises(ValueError, match="at least one"):
        gq.build_commit_history_query([], SINCE, UNTIL)
    with pytest.raises(ValueError, match="at most 20"):
        gq.build_commit_history_query([("a", f"r{i}") for i in range(21)], SINCE, UNTIL)
    with pytest.raises(ValueError, match="time zone"):
        gq.build_commit_history_query([("a", "b")], dt.datetime(2025, 6, 3), UNTIL)
    with pytest.raises(ValueError, match="1 to 100"):
        gq.build_releases_query([("a", "b")], first=101)


def test_history_variables_carry_values_and_offsets() -> None:
    batch = gq.build_commit_history_query([("acme", "api"), ("acme", "web", "c1")], SINCE, UNTIL)
    assert batch.variables == {
        "since": "2025-06-03T00:00:00-04:00",
        "until": "2025-06-04T00:00:00-04:00",
        "first": 100,
        "owner0": "acme",
        "name0": "api",
        "after0": None,
        "owner1": "acme",
        "name1": "web",
        "after1": "c1",
    }
    assert batch.aliases == {"r0": ("acme", "api"), "r1": ("acme", "web")}


# ---------------------------------------------------------------------------------------------
# Search strings and windows


def test_search_query_uses_date_times_with_offsets_and_a_half_open_window() -> None:
    q = gq.search_query("acme", "pr", SINCE, UNTIL)
    assert q == "org:acme is:pr updated:2025-06-03T00:00:00-04:00..2025-06-03T23:59:59-04:00"
    utc = gq.search_query(
        "acme", "issue", dt.datetime(2025, 6, 3, tzinfo=UTC), dt.datetime(2025, 6, 4, tzinfo=UTC)
    )
    assert utc == "org:acme is:issue updated:2025-06-03T00:00:00+00:00..2025-06-03T23:59:59+00:00"
    with pytest.raises(ValueError, match="time zone"):
        gq.search_query("acme", "pr", dt.datetime(2025, 6, 3), dt.datetime(2025, 6, 4))
    with pytest.raises(ValueError, match="empty window"):
        gq.search_query("acme", "pr", UNTIL, SINCE)


def test_backlog_searches_name_the_instant_with_its_offset() -> None:
    (search,) = gq.backlog_searches("acme", UNTIL)
    at = "2025-06-04T00:00:00-04:00"
    assert search.queries == {
        "openPrs": f"org:acme is:pr is:open created:<{at}",
        "closedPrs": f"org:acme is:pr is:closed closed:>{at} created:<{at}",
        "openIssues": f"org:acme is:issue is:open created:<{at}",
        "closedIssues": f"org:acme is:issue is:closed closed:>{at} created:<{at}",
    }
    variables = gq.backlog_variables([search])
    assert variables["n"] == gq.BACKLOG_OLDEST
    assert variables["openPrs0"] == f"org:acme is:pr is:open created:<{at} sort:created-asc"
    with pytest.raises(ValueError, match="time zone"):
        gq.backlog_searches("acme", dt.datetime(2025, 6, 4))
    with pytest.raises(ValueError, match="1 to 5"):
        gq.build_backlog_query(gq.MAX_BACKLOG_GROUPS + 1)


def _longest(searches: list[gq.BacklogSearch]) -> int:
    return max(len(f"{q} {gq.SORT_OLDEST_FIRST}") for s in searches for q in s.queries.values())


def test_backlog_searches_for_selected_repositories_stay_within_256_characters() -> None:
    org_repos = [f"service-{i:02d}" for i in range(40)]
    few = gq.backlog_searches("acme", UNTIL, selected=org_repos[:3], org_repos=org_repos)
    assert [s.scope for s in few] == [
        "repo:acme/service-00 repo:acme/service-01 repo:acme/service-02"
    ]
    # All but two: the org without them, in one query.
    most = gq.backlog_searches("acme", UNTIL, selected=org_repos[2:], org_repos=org_repos)
    assert [s.scope for s in most] == ["org:acme -repo:acme/service-00 -repo:acme/service-01"]
    # Half: neither list fits, so the selected ones go in chunks that each fit; every
    # selected repository is in exactly one chunk.
    half = gq.backlog_searches("acme", UNTIL, selected=org_repos[::2], org_repos=org_repos)
    assert len(half) > 1 and _longest(half) <= gq.SEARCH_QUERY_MAX_CHARS
    named = [t.removeprefix("repo:acme/") for s in half for t in s.scope.split()]
    assert sorted(named) == org_repos[::2]
    assert gq.backlog_searches("acme", UNTIL, selected=[], org_repos=org_repos) == []
    for searches in (few, most):
        assert _longest(searches) <= gq.SEARCH_QUERY_MAX_CHARS


class FakeSearch:
    """Answers search pages from a list of items with `updatedAt` instants, as GitHub does: a
    first page even when more than 1,000 match (with the full `issueCount`), never a later one."""

    def __init__(self, updated: list[dt.datetime]) -> None:
        self.items = [
            {"number": i, "repository": {"name": "api"}, "updatedAt": t.isoformat()}
            for i, t in enumerate(updated)
        ]
        self.counts: list[int] = []
        self.pages = 0

    def __call__(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        lo, hi = re.search(r"updated:(\S+)\.\.(\S+)", variables["q"]).groups()
        low, high = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
        matched = [
            x for x in self.items if low <= dt.datetime.fromisoformat(x["updatedAt"]) <= high
        ]
        if variables["after"] is None:
            self.counts.append(len(matched))  # what each first page told the caller
        else:
            assert len(matched) <= gq.SEARCH_RESULT_CAP, "paged on through an uncut window"
        self.pages += 1
        start = int(variables["after"] or 0)
        chunk = matched[start : start + 100]
        more = start + 100 < len(matched)
        return {
            "search": {
                "issueCount": len(matched),
                "nodes": chunk,
                "pageInfo": {"hasNextPage": more, "endCursor": str(start + 100)},
            }
        }


def test_search_window_splits_above_1000_results() -> None:
    start = dt.datetime(2025, 6, 3, tzinfo=UTC)
    updated = [start + dt.timedelta(seconds=30 * i) for i in range(2500)]  # 20.8 hours
    fake = FakeSearch(updated)
    nodes = search_window(fake, "acme", "pr", start, start + dt.timedelta(days=1))
    assert sorted(node["number"] for node in nodes) == list(range(2500))
    # 24 h (2500) -> 12 h (1440) -> 6 h (720) + 6 h (720); 12 h (1060) -> 6 h (720) + 6 h (340).
    # FakeSearch fails the test if a second page is asked of a window of more than 1,000.
    assert fake.counts == [2500, 1440, 720, 720, 1060, 720, 340]
    # One first page for each of the 3 windows that were cut, then every page of the 4 others.
    assert fake.pages == 3 + 8 + 8 + 8 + 4


def test_search_window_without_split_is_just_its_pages() -> None:
    start = dt.datetime(2025, 6, 3, tzinfo=UTC)
    fake = FakeSearch([start + dt.timedelta(minutes=i) for i in range(150)])
    nodes = search_window(fake, "acme", "issue", start, start + dt.timedelta(days=1))
    assert len(nodes) == 150 and fake.counts == [150] and fake.pages == 2


# ---------------------------------------------------------------------------------------------
# GraphQL parsers, on nodes shaped exactly like the queries' selections


PR_NODE: dict[str, Any] = {
    "number": 42,
    "title": "Add the weekly digest",
    "url": "https://github.com/acme/api/pull/42",
    "author": {"login": "ana", "__typename": "User"},
    "state": "MERGED",
    "isDraft": False,
    "createdAt": "2025-06-02T14:00:00Z",
    "updatedAt": "2025-06-03T18:30:00Z",
    "mergedAt": "2025-06-03T18:00:00Z",
    "closedAt": "2025-06-03T18:00:00Z",
    "mergedBy": {"login": "bo"},
    "additions": 120,
    "deletions": 7,
    "changedFiles": 5,
    "labels": {"nodes": [{"name": "feature"}, {"name": "digest"}]},
    "reviewRequests": {
        "nodes": [{"requestedReviewer": {"login": "cy"}}, {"requestedReviewer": {}}]
    },
    "reviews": {
        "nodes": [
            {
                "author": {"login": "ana", "__typename": "User"},
                "state": "COMMENTED",
                "submittedAt": "2025-06-02T14:05:00Z",
            },
            {
                "author": {"login": "bo", "__typename": "User"},
                "state": "APPROVED",
                "submittedAt": "2025-06-03T09:00:00Z",
            },
            {
                "author": {"login": "dee", "__typename": "User"},
                "state": "PENDING",
                "submittedAt": None,
            },
        ]
    },
    "comments": {
        "nodes": [
            {
                "author": {"login": "github-actions", "__typename": "Bot"},
                "createdAt": "2025-06-02T14:01:00Z",
            },
            {"author": {"login": "cy", "__typename": "User"}, "createdAt": "2025-06-03T08:15:00Z"},
        ]
    },
    "timelineItems": {"nodes": [{"createdAt": "2025-06-02T16:00:00Z"}]},
    "closingIssuesReferences": {"nodes": [{"number": 7}, {"number": 9}]},
    "repository": {"name": "api"},
}


def test_parse_pull_request_node() -> None:
    record = parse_pull_request_node(PR_NODE)
    assert record == PullRequestRecord(
        repo="api",
        number=42,
        title="Add the weekly digest",
        url="https://github.com/acme/api/pull/42",
        author_login="ana",
        author_is_bot=False,
        state="merged",
        is_draft=False,
        created_at="2025-06-02T14:00:00Z",
        updated_at="2025-06-03T18:30:00Z",
        merged_at="2025-06-03T18:00:00Z",
        closed_at="2025-06-03T18:00:00Z",
        merged_by_login="bo",
        additions=120,
        deletions=7,
        changed_files=5,
        labels=["feature", "digest"],
        requested_reviewers=["cy"],
        reviews=[
            {"author_login": "ana", "state": "commented", "submitted_at": "2025-06-02T14:05:00Z"},
            {"author_login": "bo", "state": "approved", "submitted_at": "2025-06-03T09:00:00Z"},
            {"author_login": "dee", "state": "pending", "submitted_at": None},
        ],
        ready_for_review_at="2025-06-02T16:00:00Z",
        # Not the author's own review, not the bot's comment: cy's comment at 08:15.
        first_response_at="2025-06-03T08:15:00Z",
        closing_issues=[7, 9],
    )


def test_bot_author_gets_rests_login_form() -> None:
    node = copy.deepcopy(PR_NODE)
    node["author"] = {"login": "dependabot", "__typename": "Bot"}
    record = parse_pull_request_node(node)
    assert record.author_login == "dependabot[bot]" and record.author_is_bot
    assert actor_login({"login": "renovate[bot]", "__typename": "Bot"}) == "renovate[bot]"
    assert actor_login(None) is None


def test_configured_bots_do_not_count_as_a_first_response() -> None:
    node = copy.deepcopy(PR_NODE)
    node["reviews"] = {"nodes": []}
    assert parse_pull_request_node(node).first_response_at == "2025-06-03T08:15:00Z"
    assert parse_pull_request_node(node, bots={"cy"}).first_response_at is None


def test_parse_pull_request_node_with_empty_connections() -> None:
    node = {key: value for key, value in PR_NODE.items()}
    node.update(
        state="OPEN",
        isDraft=True,
        mergedAt=None,
        closedAt=None,
        mergedBy=None,
        author=None,
        labels={"nodes": []},
        reviews={"nodes": []},
        comments={"nodes": []},
        timelineItems={"nodes": []},
        reviewRequests={"nodes": []},
        closingIssuesReferences={"nodes": []},
    )
    record = parse_pull_request_node(node)
    assert (record.state, record.is_draft, record.author_login, record.merged_by_login) == (
        "open",
        True,
        None,
        None,
    )
    assert record.first_response_at is None and record.ready_for_review_at is None


ISSUE_NODE: dict[str, Any] = {
    "number": 7,
    "title": "Digest misses a day",
    "url": "https://github.com/acme/api/issues/7",
    "author": {"login": "cy", "__typename": "User"},
    "state": "CLOSED",
    "stateReason": "COMPLETED",
    "createdAt": "2025-06-01T10:00:00Z",
    "updatedAt": "2025-06-03T18:00:00Z",
    "closedAt": "2025-06-03T18:00:00Z",
    "labels": {"nodes": [{"name": "bug"}]},
    "comments": {
        "totalCount": 3,
        "nodes": [
            {"author": {"login": "cy", "__typename": "User"}, "createdAt": "2025-06-01T10:05:00Z"},
            {
                "author": {"login": "stale", "__typename": "Bot"},
                "createdAt": "2025-06-01T11:00:00Z",
            },
            {"author": {"login": "ana", "__typename": "User"}, "createdAt": "2025-06-02T09:00:00Z"},
        ],
    },
    "repository": {"name": "api"},
}


def test_parse_issue_node() -> None:
    assert parse_issue_node(ISSUE_NODE) == IssueRecord(
        repo="api",
        number=7,
        title="Digest misses a day",
        url="https://github.com/acme/api/issues/7",
        author_login="cy",
        author_is_bot=False,
        state="closed",
        state_reason="completed",
        created_at="2025-06-01T10:00:00Z",
        updated_at="2025-06-03T18:00:00Z",
        closed_at="2025-06-03T18:00:00Z",
        labels=["bug"],
        comments=3,
        first_response_at="2025-06-02T09:00:00Z",
    )


REPO_NODE = {
    "name": "api",
    "nameWithOwner": "acme/api",
    "url": "https://github.com/acme/api",
    "pushedAt": "2025-06-03T17:00:00Z",
    "isArchived": False,
    "isFork": True,
    "visibility": "PRIVATE",
    "defaultBranchRef": {"name": "main"},
}


def test_parse_repository_node() -> None:
    record = parse_repository_node(REPO_NODE)
    assert record.model_dump() == {
        "name": "api",
        "source": "github",
        "default_branch": "main",
        "pushed_at": "2025-06-03T17:00:00Z",
        "archived": False,
        "fork": True,
        "visibility": "private",
        "url": "https://github.com/acme/api",
    }
    empty = parse_repository_node({**REPO_NODE, "defaultBranchRef": None})
    assert empty.default_branch is None  # an empty repository has no default branch


COMMIT_NODE: dict[str, Any] = {
    "oid": "a" * 40,
    "committedDate": "2025-06-03T12:30:00+02:00",
    "authoredDate": "2025-06-02T23:00:00-04:00",
    "additions": 10,
    "deletions": 2,
    "changedFilesIfAvailable": 3,
    "messageHeadline": "Fix the weekly rollup",
    "parents": {"totalCount": 2, "nodes": [{"oid": "b" * 40}, {"oid": "c" * 40}]},
    "author": {"name": "Ana", "email": "ana@example.com", "user": {"login": "ana"}},
    "committer": {"name": "GitHub", "email": "noreply@github.com", "user": None},
}


def test_parse_commit_node() -> None:
    record = parse_commit_node("api", COMMIT_NODE)
    assert isinstance(record, CommitRecord)
    dump = record.model_dump()
    dump.pop("paths", None)  # the clones' changed paths (local git's field, not GitHub's)
    assert dump == {
        "repo": "api",
        "sha": "a" * 40,
        "parents": ["b" * 40, "c" * 40],
        "author_name": "Ana",
        "author_email": "ana@example.com",
        "committer_name": "GitHub",
        "committer_email": "noreply@github.com",
        "authored_at": "2025-06-02T23:00:00-04:00",
        "committed_at": "2025-06-03T12:30:00+02:00",
        "authored_ts": int(dt.datetime(2025, 6, 3, 3, 0, tzinfo=UTC).timestamp()),
        "committed_ts": int(dt.datetime(2025, 6, 3, 10, 30, tzinfo=UTC).timestamp()),
        "subject": "Fix the weekly rollup",
        "additions": 10,
        "deletions": 2,
        "files_changed": 3,
        "binary_files": 0,
        "is_merge": True,
        "shallow_boundary": False,
        # GitHub's pull requests name what merges merged; the body is read only from clones.
        "merge_title": None,
        "author_login": "ana",
        "committer_login": None,
        "sources": ["github"],
        "line_stats_known": True,
        "files_changed_known": True,
        "reverts": None,  # COMMIT_NODE has no messageBody
    }


REVERTED = "3f786850e387550fdab836ed7e6dc881de23001b"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # git revert's message (sequencer.c): subject, blank line, "This reverts commit <sha>."
        (f'Revert "Add x"\n\nThis reverts commit {REVERTED}.\n', REVERTED),
        # the body alone, as GraphQL's messageBody gives it
        (f"This reverts commit {REVERTED}.", REVERTED),
        # reverting a merge: ", reversing\nchanges made to <parent>."
        (f"This reverts commit {REVERTED}, reversing\nchanges made to {'e' * 40}.", REVERTED),
        # upper-case hex is the same object name
        (f"This reverts commit {REVERTED.upper()}.", REVERTED),
        # several: the first one
        (f"This reverts commit {REVERTED}.\nThis reverts commit {'d' * 40}.", REVERTED),
        # an abbreviated sha is not a full object name
        ("This reverts commit 3f78685.", None),
        # 41 hex digits are no sha
        (f"This reverts commit {REVERTED}a.", None),
        ("Revert the revert of the config", None),
        ("", None),
        (None, None),
    ],
)
def test_reverted_sha(message: str | None, expected: str | None) -> None:
    assert reverted_sha(message) == expected


def test_a_revert_commit_names_what_it_reverts() -> None:
    node = {**COMMIT_NODE, "messageBody": f"Broke the nightly.\n\nThis reverts commit {REVERTED}."}
    assert parse_commit_node("api", node).reverts == REVERTED


def test_octopus_merge_and_unknown_file_count() -> None:
    node = {
        **COMMIT_NODE,
        "changedFilesIfAvailable": None,
        "parents": {"totalCount": 3, "nodes": [{"oid": "b" * 40}, {"oid": "c" * 40}]},
    }
    record = parse_commit_node("api", node)
    assert record.is_merge and record.files_changed == 0 and not record.files_changed_known


def test_parse_commit_history_pages() -> None:
    batch = gq.build_commit_history_query([("acme", "old-name"), ("acme", "gone")], SINCE, UNTIL)
    data = {
        "r0": {
            "nameWithOwner": "acme/new-name",
            "defaultBranchRef": {
                "name": "main",
                "target": {
                    "history": {
                        "pageInfo": {"hasNextPage": True, "endCursor": "abc 100"},
                        "nodes": [COMMIT_NODE],
                    }
                },
            },
        },
        "r1": None,
        "rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2025-06-03T19:00:00Z"},
    }
    first, gone = parse_commit_history(data, batch)
    assert (first.owner, first.name, first.name_with_owner, first.default_branch) == (
        "acme",
        "old-name",
        "acme/new-name",
        "main",
    )
    assert [c.repo for c in first.commits] == ["new-name"]
    assert first.next_target() == gq.HistoryTarget("acme", "old-name", "abc 100")
    assert gone.missing and gone.commits == [] and gone.next_target() is None


def test_parse_releases_and_tags() -> None:
    batch = gq.build_releases_query([("acme", "api"), ("acme", "web")])
    data = {
        "r0": {
            "name": "api",
            "nameWithOwner": "acme/api",
            "url": "https://github.com/acme/api",
            "releases": {
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "nodes": [
                    {
                        "tagName": "v2.0.0",
                        "name": "Two",
                        "url": "https://github.com/acme/api/releases/tag/v2.0.0",
                        "author": {"login": "ana"},
                        "publishedAt": "2025-06-03T12:00:00Z",
                        "createdAt": "2025-06-02T20:00:00Z",
                        "isDraft": False,
                        "isPrerelease": True,
                        "tagCommit": {"oid": "1" * 40},
                        # GitHub's generated notes: a comment, then a heading (CRLF endings).
                        "description": "<!-- Release notes generated -->\r\n\r\n"
                        "## Two: faster parsing ##\r\n\r\n* #12 by @ana\r\n",
                    },
                    {
                        "tagName": "v3.0.0",
                        "name": "draft",
                        "url": "u",
                        "author": {"login": "ana"},
                        "publishedAt": None,
                        "createdAt": "2025-06-03T01:00:00Z",
                        "isDraft": True,
                        "isPrerelease": False,
                        "description": "draft notes",
                    },
                ],
            },
            "refs": {
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "nodes": [
                    {
                        "name": "v2.0.0",
                        "target": {
                            "__typename": "Tag",
                            "tagger": {
                                "date": "2025-06-03T11:00:00+02:00",
                                "user": {"login": "bo"},
                            },
                            "target": {"oid": "1" * 40, "committedDate": "2025-06-02T20:00:00Z"},
                        },
                    },
                    {
                        "name": "nightly",
                        "target": {
                            "__typename": "Commit",
                            "oid": "2" * 40,
                            "committedDate": "2025-06-03T04:00:00Z",
                        },
                    },
                ],
            },
        },
        "r1": None,
    }
    out = parse_releases(data, batch)
    assert out["acme/web"] == []
    assert [r.model_dump() for r in out["acme/api"]] == [
        {
            "repo": "api",
            "tag_name": "v2.0.0",
            "name": "Two",
            "url": "https://github.com/acme/api/releases/tag/v2.0.0",
            "author_login": "ana",
            "published_at": "2025-06-03T12:00:00Z",
            "is_prerelease": True,
            "kind": "release",
            "notes": "Two: faster parsing",
            "sha": "1" * 40,  # tagCommit
        },
        {
            "repo": "api",
            "tag_name": "v2.0.0",
            "name": None,
            "url": "https://github.com/acme/api/releases/tag/v2.0.0",
            "author_login": "bo",
            "published_at": "2025-06-03T11:00:00+02:00",
            "is_prerelease": False,
            "kind": "tag",
            "notes": None,
            "sha": "1" * 40,  # the annotated tag's target commit, not the tag object
        },
        {
            "repo": "api",
            "tag_name": "nightly",
            "name": None,
            "url": "https://github.com/acme/api/releases/tag/nightly",
            "author_login": None,
            "published_at": "2025-06-03T04:00:00Z",
            "is_prerelease": False,
            "kind": "tag",
            "notes": None,
            "sha": "2" * 40,  # a lightweight tag: the commit itself
        },
    ]


@pytest.mark.parametrize(
    ("description", "notes"),
    [
        (None, None),
        ("", None),
        (" \n\t\n", None),
        ("Fixes the login loop.\nSecond line.", "Fixes the login loop."),
        ("\n\n   Leading blank lines and spaces   \n", "Leading blank lines and spaces"),
        ("# v2.0 — the big one", "v2.0 — the big one"),
        ("###   Spaced heading   ###", "Spaced heading"),
        ("## C#", "C#"),  # a "#" that is not a closing run stays
        ("#12 is fixed", "#12 is fixed"),  # no space after "#": not a heading (CommonMark)
        ("####### seven", "####### seven"),  # more than 6: not a heading
        ("##\n\nAfter an empty heading", "After an empty heading"),
        ("<!-- hidden -->\nShown", "Shown"),
        ("<!--\nmany\nlines\n-->\r\n\r\n## What's Changed\r\n", "What's Changed"),
    ],
)
def test_release_notes_are_the_first_line_without_heading_marks(
    description: str | None, notes: str | None
) -> None:
    assert release_notes(description) == notes


def test_release_notes_are_capped_at_200_characters() -> None:
    assert release_notes("a" * 200) == "a" * 200  # exactly the limit: kept whole
    cut = release_notes("## " + "b" * 250)
    assert cut == "b" * 199 + "…"
    assert len(cut) == 200
    # The cut does not leave a space before the ellipsis.
    assert release_notes("c" * 198 + " d" + "e" * 50) == "c" * 198 + "…"


def test_a_pull_request_description_is_cut_to_body_chars() -> None:
    long = parse_pull_request_node({**PR_NODE, "body": "x" * 2500})
    assert long.body == "x" * 2000  # BODY_CHARS, by hand
    assert parse_pull_request_node({**PR_NODE, "body": "  "}).body is None


# ---------------------------------------------------------------------------------------------
# Backlog items


def test_parse_backlog_nodes_of_both_kinds() -> None:
    pr = {
        "number": 7,
        "title": "Old work",
        "url": "https://github.com/acme/api/pull/7",
        "createdAt": "2024-01-02T03:04:05Z",
        "updatedAt": "2024-02-01T00:00:00Z",
        "isDraft": True,
        "author": {"login": "dependabot", "__typename": "Bot"},
        "repository": {"name": "api"},
    }
    issue = {k: v for k, v in pr.items() if k != "isDraft"} | {"number": 8, "author": None}
    assert parse_backlog_node(pr) == BacklogItem(
        repo="api",
        number=7,
        title="Old work",
        url="https://github.com/acme/api/pull/7",
        created_at="2024-01-02T03:04:05Z",
        updated_at="2024-02-01T00:00:00Z",
        author_login="dependabot[bot]",
        is_draft=True,
    )
    parsed = parse_backlog_node(issue)
    assert parsed.is_draft is None and parsed.author_login is None


def test_oldest_first_merges_by_instant_not_by_text() -> None:
    def item(repo: str, number: int, created: str) -> BacklogItem:
        return BacklogItem(
            repo=repo,
            number=number,
            title="",
            url="",
            created_at=created,
            updated_at=created,
            author_login=None,
        )

    late_utc = item("a", 1, "2024-01-01T10:00:00Z")
    early_offset = item("b", 2, "2024-01-01T11:00:00+02:00")  # 09:00Z
    assert oldest_first([late_utc, early_offset, late_utc], 5) == [early_offset, late_utc]
    assert oldest_first([late_utc, early_offset], 1) == [early_offset]


# ---------------------------------------------------------------------------------------------
# Deployments, CODEOWNERS, teams, pull request files (issue 20)


def test_parse_deployment_node_sorts_statuses_oldest_first() -> None:
    node = {
        "databaseId": 123456789,
        "environment": "staging",
        "commitOid": "f" * 40,
        "createdAt": "2025-06-03T10:00:00Z",
        # Newest first, as REST's list of a deployment's statuses answers (and the fake's
        # GraphQL); the order is not documented, so the parser sorts by time, not position.
        "statuses": {
            "nodes": [
                {"state": "INACTIVE", "createdAt": "2025-06-03T12:00:00Z"},
                {"state": "SUCCESS", "createdAt": "2025-06-03T10:09:00Z"},
                {"state": "IN_PROGRESS", "createdAt": "2025-06-03T12:01:00+02:00"},  # 10:01Z
            ]
        },
    }
    assert parse_deployment_node("api", node) == DeploymentRecord(
        repo="api",
        id="123456789",
        environment="staging",
        sha="f" * 40,
        created_at="2025-06-03T10:00:00Z",
        statuses=[
            DeploymentStatusRecord(state="in_progress", created_at="2025-06-03T12:01:00+02:00"),
            DeploymentStatusRecord(state="success", created_at="2025-06-03T10:09:00Z"),
            DeploymentStatusRecord(state="inactive", created_at="2025-06-03T12:00:00Z"),
        ],
    )


def test_parse_deployments_pages_and_the_oldest() -> None:
    batch = gq.build_releases_query([("acme", "api"), ("acme", "gone")], environment="production")
    node = {"databaseId": 1, "environment": "production", "commitOid": "a" * 40}
    data = {
        "r0": {
            "name": "api",
            "deployments": {
                "pageInfo": {"hasNextPage": True, "endCursor": "c50"},
                "nodes": [
                    {**node, "databaseId": 2, "createdAt": "2025-06-03T09:00:00Z"},
                    {**node, "createdAt": "2025-06-02T23:30:00-04:00"},  # 03:30Z on the 3rd
                ],
            },
        },
        "r1": None,
    }
    pages = parse_deployments(data, batch)
    assert set(pages) == {"acme/api"}  # an unresolved repository is absent
    page = pages["acme/api"]
    assert [d.id for d in page.deployments] == ["2", "1"]
    assert page.has_next and page.end_cursor == "c50"
    assert page.oldest == dt.datetime(2025, 6, 3, 3, 30, tzinfo=UTC)


def test_codeowners_are_found_in_githubs_order() -> None:
    """.github/ first, then the root, then docs/: the first that exists is the one used."""
    batch = gq.build_releases_query([("acme", f"r{i}") for i in range(4)], codeowners=True)
    blob = {"oid": "b" * 40}
    data = {
        "r0": {"codeownersGithub": None, "codeownersRoot": blob, "codeownersDocs": {"oid": "c"}},
        "r1": {"codeownersGithub": None, "codeownersRoot": None, "codeownersDocs": blob},
        "r2": {"codeownersGithub": None, "codeownersRoot": None, "codeownersDocs": None},
        # `... on Blob` of a directory (a Tree) answers an empty object: not a file
        "r3": {"codeownersGithub": {}, "codeownersRoot": None, "codeownersDocs": blob},
    }
    assert parse_codeowners_oids(data, batch) == {
        "acme/r0": ("CODEOWNERS", "b" * 40),
        "acme/r1": ("docs/CODEOWNERS", "b" * 40),
        "acme/r2": None,
        "acme/r3": ("docs/CODEOWNERS", "b" * 40),
    }


def test_parse_blobs_leaves_out_what_is_not_the_file() -> None:
    batch = gq.build_blobs_query([("acme", f"r{i}", OID) for i in range(4)])
    data = {
        "r0": {"object": {"oid": OID, "text": "* @acme/platform\n", "isTruncated": False}},
        "r1": {"object": {"oid": OID, "text": "* @acme/platform\n", "isTruncated": True}},
        "r2": {"object": {"oid": OID, "text": None, "isTruncated": False}},  # binary
        "r3": {"object": None},
    }
    assert parse_blobs(data, batch) == {"acme/r0": (OID, "* @acme/platform\n")}


def test_pull_request_files_are_kept_only_when_complete() -> None:
    files = {
        "totalCount": 2,
        "pageInfo": {"hasNextPage": False, "endCursor": "c2"},
        "nodes": [{"path": "src/a.py"}, {"path": "docs/b.md"}],
    }
    assert parse_pull_request_node({**PR_NODE, "files": files}).files == ["src/a.py", "docs/b.md"]
    more = {**files, "totalCount": 150, "pageInfo": {"hasNextPage": True, "endCursor": "c100"}}
    assert parse_pull_request_node({**PR_NODE, "files": more}).files is None
    batch = gq.build_pull_request_files_query([("acme", "api", 7, "c100"), ("acme", "api", 8, "x")])
    data = {
        "r0": {
            "pullRequest": {
                "files": {
                    "pageInfo": {"hasNextPage": False, "endCursor": "c150"},
                    "nodes": [{"path": "vendor/z.py"}],
                }
            }
        },
        "r1": {"pullRequest": None},
    }
    (only,) = parse_pull_request_files(data, batch).items()
    assert only[0] == "r0" and only[1].paths == ["vendor/z.py"] and not only[1].has_next
    assert batch.variables["number0"] == 7 and batch.variables["filesAfter1"] == "x"


def test_parse_teams_page_and_further_repositories() -> None:
    data = {
        "organization": {
            "teams": {
                "pageInfo": {"hasNextPage": True, "endCursor": "t100"},
                "nodes": [
                    {
                        "slug": "platform",
                        "name": "Platform",
                        "repositories": {
                            "pageInfo": {"hasNextPage": True, "endCursor": "p100"},
                            "nodes": [{"name": "api"}, {"name": "web"}],
                        },
                    },
                    {
                        "slug": "docs",
                        "name": "Docs",
                        "repositories": {"pageInfo": {"hasNextPage": False}, "nodes": []},
                    },
                ],
            }
        }
    }
    pages, more, cursor = parse_teams_page(data)
    assert (more, cursor) == (True, "t100")
    assert [p.team for p in pages] == [
        TeamRecord(slug="platform", name="Platform", repos=["api", "web"]),
        TeamRecord(slug="docs", name="Docs", repos=[]),
    ]
    assert (pages[0].has_next, pages[0].end_cursor, pages[1].has_next) == (True, "p100", False)
    batch = gq.build_team_repositories_query("acme", [gq.TeamTarget("platform", "p100")])
    assert batch.variables == {"org": "acme", "slug0": "platform", "after0": "p100"}
    answer = {
        "organization": {
            "t0": {
                "repositories": {
                    "pageInfo": {"hasNextPage": False, "endCursor": "p101"},
                    "nodes": [{"name": "cli"}],
                }
            }
        }
    }
    assert parse_team_repositories(answer, batch) == {"platform": (["cli"], False, "p101")}


def test_optional_parts_are_asked_only_when_wanted() -> None:
    plain = gq.build_releases_query([("acme", "api")])
    assert "deployments" not in plain.query and "object(" not in plain.query
    assert set(plain.variables) == {"first", "owner0", "name0", "releasesAfter0", "tagsAfter0"}
    both = gq.build_releases_query([("acme", "api")], environment="prod", codeowners=True)
    assert both.variables["environment"] == "prod" and both.variables["deployFirst"] == 50
    assert [line.split(":")[0].strip() for line in both.query.splitlines() if "HEAD:" in line] == [
        "codeownersGithub",
        "codeownersRoot",
        "codeownersDocs",
    ]
    with pytest.raises(ValueError, match="1 to 100"):
        gq.build_releases_query([("a", "b")], environment="prod", deploy_first=0)
    with pytest.raises(ValueError, match="environment"):
        gq.build_deployments_query([("a", "b")], "")
