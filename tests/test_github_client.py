"""GitHubClient against a real HTTP server on 127.0.0.1 that replays GitHub's recorded answers.

The server (`FakeGitHub`, below) replays octokit's recordings from
`../shared/fixtures/github/octokit/` (absolute `https://api.github.com` URLs in `Link` and
`Location` headers rewritten to the loopback base) and scripted faults: 5xx, rate limits,
timeouts, malformed JSON, ETags. Nothing sleeps for real: the client gets a fake clock whose
`sleep` records the wait and moves time forward.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr

from sparky_resources.github import (
    API_VERSION,
    USER_AGENT,
    GitHubClient,
    GitHubError,
    GitHubNotFound,
    GraphQLError,
    RateLimitExhausted,
)

# Copies of ../shared/fixtures/github (MIT; see tests/fixtures/github/SOURCES.md).
GITHUB_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"
OCTOKIT = GITHUB_FIXTURES / "octokit"
TOKEN = "ghp_SPARKYfakeTOKEN0123456789abcdefXYZ"
NOW = 1_750_000_000.0
API = "https://api.github.com"


# ---------------------------------------------------------------------------------------------
# The loopback server


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Responder = Reply | Callable[[Seen], Reply]


def _key(method: str, target: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(target)
    return method.upper(), parts.path, tuple(sorted(parse_qsl(parts.query)))


class FakeGitHub:
    """Routes (method, path, query) to replies, consumed in order; the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Responder]] = {}
        self.requests: list[Seen] = []
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with fake._lock:
                    fake.requests.append(seen)
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                answered = False
                try:
                    reply = fake.reply_for(seen)
                    if reply.delay_s:
                        time.sleep(reply.delay_s)
                    # No longer in flight once the answer is ready: the client may send its next
                    # request as soon as it has read this one, before this thread carries on.
                    with fake._lock:
                        fake.inflight -= 1
                        answered = True
                    body = reply.body
                    if not isinstance(body, bytes):
                        body = b"" if body is None else json.dumps(body).encode()
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    if not answered:
                        with fake._lock:
                            fake.inflight -= 1

            do_GET = do_POST = do_PATCH = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FakeGitHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, method: str, target: str, *replies: Responder) -> None:
        self.routes.setdefault(_key(method, target), []).extend(replies)

    def reply_for(self, seen: Seen) -> Reply:
        with self._lock:
            queue = self.routes.get(_key(seen.method, seen.path))
            if not queue:
                return Reply(404, {"message": f"fake: no route for {seen.method} {seen.path}"})
            responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(seen) if callable(responder) else responder

    def replay(self, scenario: str) -> list[dict[str, Any]]:
        """Serve an octokit scenario's recorded interactions, with URLs pointing here."""
        path = OCTOKIT / scenario / "normalized-fixture.json"
        interactions = json.loads(path.read_text(encoding="utf-8"))
        for item in interactions:
            headers = {
                name: str(value).replace(API, self.base)
                for name, value in item["headers"].items()
                if name not in ("content-length", "transfer-encoding", "connection")
            }
            self.add(item["method"], item["path"], Reply(item["status"], item["response"], headers))
        return interactions


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(server: FakeGitHub, clock: FakeClock) -> Iterator[Callable[..., GitHubClient]]:
    clients: list[GitHubClient] = []

    def build(**kwargs: Any) -> GitHubClient:
        options: dict[str, Any] = {
            "api_url": server.base,
            "token": SecretStr(TOKEN),
            "sleep": clock.sleep,
            "clock": clock.time,
            "timeout_s": 2.0,
        }
        options.update(kwargs)
        client = GitHubClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def limit_headers(remaining: int, reset: float, resource: str = "core") -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": resource,
        "content-type": "application/json; charset=utf-8",
    }


OK = Reply(200, {"name": "ok"}, limit_headers(4999, NOW + 3600))


# ---------------------------------------------------------------------------------------------
# Recorded interactions


def test_headers_sent_on_every_request(server: FakeGitHub, make: Callable[..., GitHubClient]):
    server.replay("get-repository")
    make().get_json("/repos/octokit-fixture-org/hello-world")
    sent = server.requests[0].headers
    assert sent["authorization"] == f"Bearer {TOKEN}"
    assert sent["user-agent"] == USER_AGENT and USER_AGENT.startswith("sparky/")
    assert sent["accept"] == "application/vnd.github+json"
    assert sent["x-github-api-version"] == API_VERSION == "2022-11-28"


def test_no_authorization_header_without_token(server, make):
    server.replay("get-repository")
    client = make(token=None)
    assert client.get_json("/repos/octokit-fixture-org/hello-world")["name"] == "hello-world"
    assert "authorization" not in server.requests[0].headers
    with pytest.raises(GitHubError, match="GraphQL API needs a token"):
        client.graphql("{ viewer { login } }")


def test_get_repository_replay(server, make):
    server.replay("get-repository")
    client = make()
    data = client.get_json("/repos/octokit-fixture-org/hello-world")
    assert data["full_name"] == "octokit-fixture-org/hello-world"
    assert client.counters.rest_requests == 1
    assert client.counters.retries == 0
    # The recording's reset is epoch milliseconds (normalized); read as seconds anyway.
    assert client.rate_limits["core"].remaining == 4999
    assert client.rate_limits["core"].reset_at == 1507651200.0


def test_paginate_follows_link_next(server, make):
    recorded = server.replay("paginate-issues")
    client = make()
    issues = list(
        client.paginate("/repos/octokit-fixture-org/paginate-issues/issues", {"per_page": 3})
    )
    assert [issue["number"] for issue in issues] == list(range(13, 0, -1))
    # The next URLs were GitHub's (/repositories/1000/...), never built here.
    assert [seen.path for seen in server.requests] == [item["path"] for item in recorded]
    assert client.counters.rest_requests == 5


def test_paginate_stops_fetching_when_the_caller_stops(server, make):
    server.replay("paginate-issues")
    client = make()
    first_four = []
    for issue in client.paginate(
        "/repos/octokit-fixture-org/paginate-issues/issues", {"per_page": 3}
    ):
        first_four.append(issue["number"])
        if len(first_four) == 4:
            break
    assert first_four == [13, 12, 11, 10]
    assert len(server.requests) == 2


def test_paginate_adds_per_page_100(server, make):
    server.add("GET", "/orgs/acme/repos?per_page=100&type=all", Reply(200, [{"name": "a"}]))
    assert list(make().paginate("/orgs/acme/repos", {"type": "all"})) == [{"name": "a"}]


def test_search_items_are_unwrapped(server, make):
    server.replay("search-issues")
    client = make()
    items = list(
        client.paginate(
            "/search/issues",
            {"q": "sesame repo:octokit-fixture-org/search-issues", "per_page": None},
        )
    )
    assert [item["number"] for item in items] == [2, 1]
    assert client.rate_limits["search"].limit == 30


def test_link_header_next_is_read_from_githubs_header(server, make):
    """The next page is the `rel="next"` URL of the `Link` header (read by httpx), as given."""
    value = (
        '<https://api.github.com/repositories/1/issues?page=2>; rel="next", '
        '<https://api.github.com/repositories/1/issues?page=5>; rel="last"'
    )
    server.add("GET", "/linked", Reply(200, [], {"link": value}))
    server.add("GET", "/unlinked", Reply(200, []))
    client = make()
    assert client.get("/linked").next_url == "https://api.github.com/repositories/1/issues?page=2"
    assert client.get("/unlinked").next_url is None


def test_404_is_one_line_with_githubs_message_and_no_retry(server, make):
    server.replay("branch-protection")
    client = make()
    with pytest.raises(GitHubNotFound) as caught:
        client.get_json("/repos/octokit-fixture-org/branch-protection/branches/main/protection")
    message = str(caught.value)
    assert "404" in message and "Branch not protected" in message and "\n" not in message
    assert caught.value.status == 404
    assert client.counters.rest_requests == 1 and client.counters.retries == 0


def test_422_names_the_validation_error(server, make):
    server.replay("errors")
    client = make()
    with pytest.raises(GitHubError) as caught:
        client.request(
            "POST", "/repos/octokit-fixture-org/errors/labels", json_body={"color": "invalid"}
        )
    assert "422" in str(caught.value)
    assert "Validation Failed (Label.color.invalid)" in str(caught.value)
    assert client.counters.retries == 0


def test_401_says_what_to_check(server, make):
    server.add("GET", "/user", Reply(401, {"message": "Bad credentials"}))
    with pytest.raises(GitHubError, match=r"401 Unauthorized: Bad credentials; check that GITHUB"):
        make().get_json("/user")


def test_301_for_a_renamed_repository_is_followed(server, make):
    server.replay("rename-repository")
    client = make()
    answer = client.get("/repos/octokit-fixture-org/rename-repository")
    assert answer.status == 200
    assert answer.data["name"] == "rename-repository-newname"
    assert answer.redirected_from.endswith("/repos/octokit-fixture-org/rename-repository")
    assert answer.url == f"{server.base}/repositories/1000"
    assert answer.renamed_to == "octokit-fixture-org/rename-repository-newname"
    assert client.renames == {
        "octokit-fixture-org/rename-repository": "octokit-fixture-org/rename-repository-newname"
    }
    assert [seen.path for seen in server.requests] == [
        "/repos/octokit-fixture-org/rename-repository",
        "/repositories/1000",
    ]


def test_307_keeps_method_and_body(server, make):
    server.replay("rename-repository")
    client = make()
    # The recording's first PATCH (the rename itself) answers 200; the second answers 307.
    client.request("PATCH", "/repos/octokit-fixture-org/rename-repository", json_body={"x": 1})
    answer = client.request(
        "PATCH", "/repos/octokit-fixture-org/rename-repository", json_body={"name": "n"}
    )
    assert answer.status == 200 and answer.redirected_from
    last = server.requests[-1]
    assert (last.method, last.path) == ("PATCH", "/repositories/1000")
    assert json.loads(last.body) == {"name": "n"}


def test_redirect_to_another_host_does_not_carry_the_token(server, make):
    other = FakeGitHub().start()
    try:
        other.add("GET", "/elsewhere", OK)
        server.add("GET", "/repos/a/b", Reply(301, {}, {"location": f"{other.base}/elsewhere"}))
        assert make().get_json("/repos/a/b") == {"name": "ok"}
        assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert "authorization" not in other.requests[0].headers
    finally:
        other.stop()


# ---------------------------------------------------------------------------------------------
# Faults: retries and backoff


def test_502_then_success_backs_off_once(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(502, {"message": "Server Error"}), OK)
    client = make()
    assert client.get_json("/repos/a/b") == {"name": "ok"}
    assert len(clock.sleeps) == 1 and 1.0 <= clock.sleeps[0] <= 2.0  # backoff 1 s + jitter
    assert client.counters.retries == 1
    assert client.counters.rest_requests == 2


def test_5xx_gives_up_after_max_retries_with_one_line(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(503, {"message": "Unavailable"}))
    client = make(max_retries=3)
    with pytest.raises(GitHubError) as caught:
        client.get_json("/repos/a/b")
    message = str(caught.value)
    assert "failed after 4 attempts" in message and "503" in message and "\n" not in message
    assert client.counters.rest_requests == 4
    assert len(clock.sleeps) == 3 and clock.sleeps[0] < clock.sleeps[1] < clock.sleeps[2]


def test_timeout_is_retried(server, make, clock):
    server.add("GET", "/slow", Reply(200, {"late": True}, delay_s=1.0), OK)
    client = make(timeout_s=0.2)
    assert client.get_json("/slow") == {"name": "ok"}
    assert client.counters.retries == 1


def test_timeout_every_time_is_one_clear_line(server, make):
    server.add("GET", "/slow", Reply(200, {}, delay_s=0.6))
    with pytest.raises(GitHubError, match=r"failed after 2 attempts: no answer within 0.2 s"):
        make(timeout_s=0.2, max_retries=1).get_json("/slow")


def test_connection_refused_is_retried_then_reported(make):
    with pytest.raises(GitHubError, match="failed after 2 attempts: ConnectError"):
        make(api_url="http://127.0.0.1:9", max_retries=1).get_json("/x")


def test_malformed_json_is_retried(server, make):
    bad = Reply(200, b'{"name": "o', {"content-type": "application/json"})
    server.add("GET", "/repos/a/b", bad, OK)
    client = make()
    assert client.get_json("/repos/a/b") == {"name": "ok"}
    assert client.counters.retries == 1


def test_malformed_json_every_time_is_one_clear_line(server, make):
    server.add("GET", "/repos/a/b", Reply(200, b"<html>oops</html>", {"content-type": "text/html"}))
    with pytest.raises(
        GitHubError, match=r"after 3 attempts: malformed JSON \(17 bytes, text/html"
    ):
        make(max_retries=2).get_json("/repos/a/b")


# ---------------------------------------------------------------------------------------------
# Rate limits


SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
PRIMARY = {"message": "API rate limit exceeded for user ID 1."}


def test_secondary_limit_waits_retry_after(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(403, SECONDARY, {"retry-after": "7"}), OK)
    client = make()
    assert client.get_json("/repos/a/b") == {"name": "ok"}
    assert clock.sleeps == [7.0]
    assert client.counters.rate_limit_waits == 1


def test_secondary_limit_without_retry_after_waits_a_minute_then_longer(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(429, SECONDARY), Reply(403, SECONDARY), OK)
    assert make().get_json("/repos/a/b") == {"name": "ok"}
    assert clock.sleeps == [60.0, 120.0]


def test_secondary_retry_after_longer_than_max_wait_is_one_line(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(403, SECONDARY, {"retry-after": "5000"}))
    with pytest.raises(RateLimitExhausted, match="retry-after 5000 s is more than max_wait_s=900"):
        make().get_json("/repos/a/b")
    assert clock.sleeps == []


def test_primary_limit_sleeps_until_reset_within_max_wait(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(403, PRIMARY, limit_headers(0, NOW + 30)), OK)
    client = make()
    assert client.get_json("/repos/a/b") == {"name": "ok"}
    assert clock.sleeps == [31.0]  # until the reset, plus a second to be past it
    assert client.counters.rest_requests == 2


def test_primary_limit_beyond_max_wait_is_one_line(server, make, clock):
    server.add("GET", "/repos/a/b", Reply(429, PRIMARY, limit_headers(0, NOW + 3600)))
    client = make(max_wait_s=900)
    with pytest.raises(RateLimitExhausted) as caught:
        client.get_json("/repos/a/b")
    message = str(caught.value)
    assert "\n" not in message
    assert "'core' exhausted" in message
    assert "resets at 2025-06-15T16:06:40Z (in 60 min, more than max_wait_s=900)" in message
    assert "rerun after the reset" in message
    assert caught.value.resource == "core" and caught.value.reset_at == NOW + 3600
    assert clock.sleeps == []
    # The budget is known to be spent: the next call does not even send a request.
    with pytest.raises(RateLimitExhausted):
        client.get_json("/repos/a/c")
    assert len(server.requests) == 1


def test_last_request_of_the_budget_makes_the_next_one_wait(server, make, clock):
    server.add("GET", "/a", Reply(200, [1], limit_headers(0, NOW + 10)))
    server.add("GET", "/b", OK)
    client = make()
    assert client.get_json("/a") == [1]
    assert clock.sleeps == []
    assert client.get_json("/b") == {"name": "ok"}
    assert clock.sleeps == [11.0]


def test_unauthenticated_exhaustion_suggests_a_token(server, make):
    server.add("GET", "/a", Reply(403, PRIMARY, limit_headers(0, NOW + 3000)))
    with pytest.raises(RateLimitExhausted, match="set GITHUB_TOKEN"):
        make(token=None).get_json("/a")


# ---------------------------------------------------------------------------------------------
# Conditional requests


def test_etag_304_reuses_the_stored_body(server, make, tmp_path):
    etag = '"abc123"'

    def answer(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == etag:
            return Reply(304, None, {"etag": etag, **limit_headers(4999, NOW + 60)})
        return Reply(200, {"name": "cached"}, {"etag": etag, **limit_headers(4998, NOW + 60)})

    server.add("GET", "/repos/a/b", answer)
    first = make(etag_dir=tmp_path)
    assert first.get_json("/repos/a/b") == {"name": "cached"}
    assert "if-none-match" not in server.requests[0].headers

    second = make(etag_dir=tmp_path)  # a later run, same cache folder
    answer_two = second.get("/repos/a/b")
    assert answer_two.data == {"name": "cached"}
    assert answer_two.status == 304 and answer_two.from_cache
    assert server.requests[1].headers["if-none-match"] == etag
    assert second.counters.not_modified == 1
    assert second.counters.rest_requests == 1


def test_etag_pages_keep_their_next_link(server, make, tmp_path):
    """A 304 may come without a Link header: the stored next URL continues the walk."""

    def page(number: int, last: bool) -> Callable[[Seen], Reply]:
        tag = f'"p{number}"'
        link = {} if last else {"link": f'<{server.base}/items?page={number + 1}>; rel="next"'}

        def answer(seen: Seen) -> Reply:
            if seen.headers.get("if-none-match") == tag:
                return Reply(304, None, {"etag": tag})
            return Reply(200, [number], {"etag": tag, **link})

        return answer

    server.add("GET", "/items?per_page=100", page(1, last=False))
    server.add("GET", "/items?page=2", page(2, last=True))
    assert list(make(etag_dir=tmp_path).paginate("/items")) == [1, 2]
    again = make(etag_dir=tmp_path)
    assert list(again.paginate("/items")) == [1, 2]
    assert again.counters.not_modified == 2


def test_damaged_cache_entry_means_a_full_fetch(server, make, tmp_path):
    server.add("GET", "/repos/a/b", Reply(200, {"v": 1}, {"etag": '"e"'}))
    make(etag_dir=tmp_path).get_json("/repos/a/b")
    for entry in tmp_path.iterdir():
        entry.write_text("{not json", encoding="utf-8")
    assert make(etag_dir=tmp_path).get_json("/repos/a/b") == {"v": 1}
    assert "if-none-match" not in server.requests[-1].headers


# ---------------------------------------------------------------------------------------------
# GraphQL


def graphql_ok(cost: int = 1) -> Reply:
    data = {
        "viewer": {"login": "me"},
        "rateLimit": {"cost": cost, "remaining": 4990, "resetAt": "2025-06-15T16:00:00Z"},
    }
    return Reply(200, {"data": data}, limit_headers(4990, NOW + 600, "graphql"))


def test_graphql_posts_query_and_variables_and_counts_points(server, make):
    server.add("POST", "/graphql", graphql_ok(cost=3))
    client = make()
    data = client.graphql("query($n: Int!) { viewer { login } }", {"n": 1})
    assert data["viewer"] == {"login": "me"}
    sent = server.requests[0]
    assert json.loads(sent.body) == {
        "query": "query($n: Int!) { viewer { login } }",
        "variables": {"n": 1},
    }
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert client.counters.graphql_requests == 1 and client.counters.rest_requests == 0
    assert client.counters.graphql_points == 3
    assert client.rate_limits["graphql"].remaining == 4990


@pytest.mark.parametrize(
    "error",
    [
        {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."},
        {
            "type": "RATE_LIMIT",
            "code": "graphql_rate_limit",
            "message": "API rate limit already exceeded for user ID 1.",
        },
    ],
)
def test_graphql_200_rate_limited_waits_for_reset(server, make, clock, error):
    limited = Reply(200, {"errors": [error]}, limit_headers(0, NOW + 20, "graphql"))
    server.add("POST", "/graphql", limited, graphql_ok())
    client = make()
    assert client.graphql("{ viewer { login } }")["viewer"]["login"] == "me"
    assert clock.sleeps == [21.0]
    assert client.counters.graphql_requests == 2


def test_graphql_200_rate_limited_beyond_max_wait(server, make, clock):
    error = {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}
    server.add(
        "POST", "/graphql", Reply(200, {"errors": [error]}, limit_headers(0, NOW + 2000, "graphql"))
    )
    with pytest.raises(RateLimitExhausted, match="'graphql' exhausted") as caught:
        make().graphql("{ viewer { login } }")
    assert caught.value.resource == "graphql"
    assert clock.sleeps == []


def test_graphql_error_names_message_and_path_and_keeps_partial_data(server, make):
    body = {
        "data": {"r0": {"nameWithOwner": "acme/a"}, "r1": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["r1"],
                "message": "Could not resolve to a Repository with the name 'acme/gone'.",
            }
        ],
    }
    server.add("POST", "/graphql", Reply(200, body))
    client = make()
    with pytest.raises(GraphQLError) as caught:
        client.graphql('{ r0: repository(owner: "acme", name: "a") { nameWithOwner } }')
    assert str(caught.value) == (
        "GitHub GraphQL error at r1: Could not resolve to a Repository with the name "
        "'acme/gone'. (NOT_FOUND)"
    )
    assert caught.value.data == {"r0": {"nameWithOwner": "acme/a"}, "r1": None}
    assert caught.value.failed_aliases == {"r1"}
    assert client.counters.retries == 0


def test_graphql_502_is_retried(server, make):
    server.add(
        "POST", "/graphql", Reply(502, {"message": "We couldn't respond in time"}), graphql_ok()
    )
    client = make()
    assert client.graphql("{ viewer { login } }")["viewer"]["login"] == "me"
    assert client.counters.retries == 1


def test_graphql_url_defaults():
    with GitHubClient() as dotcom:
        assert dotcom.graphql_url == "https://api.github.com/graphql"
    with GitHubClient("https://ghe.example.com/api/v3/") as ghes:
        assert ghes.api_url == "https://ghe.example.com/api/v3"
        assert ghes.graphql_url == "https://ghe.example.com/api/graphql"
    with GitHubClient("https://x/api/v3", "https://y/gql") as custom:
        assert custom.graphql_url == "https://y/gql"


# ---------------------------------------------------------------------------------------------
# Concurrency and counters


def test_concurrency_is_bounded(server, make):
    for index in range(6):
        server.add("GET", f"/slow/{index}", Reply(200, {"i": index}, delay_s=0.1))
    client = make(concurrency=2)
    results = client.map(lambda index: client.get_json(f"/slow/{index}"), range(6))
    assert [r["i"] for r in results] == list(range(6))
    assert server.max_inflight <= 2
    assert client.counters.rest_requests == 6


def test_counters_as_dict(make):
    assert set(make().counters.as_dict()) >= {
        "rest_requests",
        "graphql_requests",
        "not_modified",
        "retries",
        "graphql_points",
    }


# ---------------------------------------------------------------------------------------------
# The token never shows


def _texts(exc: BaseException) -> list[str]:
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current), repr(current.args), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return out


def test_token_never_appears_in_messages_logs_reprs_or_cache(server, make, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server.add("GET", "/e401", Reply(401, {"message": "Bad credentials"}))
    server.add("GET", "/e404", Reply(404, {"message": "Not Found"}))
    server.add("GET", "/e422", Reply(422, {"message": "Validation Failed", "errors": [{}]}))
    server.add("GET", "/e502", Reply(502, {"message": "Bad Gateway"}))
    server.add("GET", "/slow", Reply(200, {}, delay_s=0.4))
    server.add("GET", "/bad", Reply(200, b"{oops"))
    server.add("GET", "/primary", Reply(403, PRIMARY, limit_headers(0, NOW + 99999, "search")))
    server.add("GET", "/secondary", Reply(403, SECONDARY, {"retry-after": "100000"}))
    server.add("GET", "/secondary2", Reply(429, SECONDARY))
    server.add("GET", "/ok", Reply(200, {"fine": True}, {"etag": '"t"'}))
    server.add("GET", "/moved", Reply(301, {}, {"location": "http://127.0.0.1:9/x"}))
    # A hostile or broken proxy that echoes the Authorization header back in its message.
    server.add(
        "GET",
        "/echo",
        lambda seen: Reply(400, {"message": f"bad header {seen.headers.get('authorization')}"}),
    )
    error = {"type": "RATE_LIMITED", "message": "API rate limit exceeded"}
    server.add(
        "POST",
        "/graphql",
        Reply(200, {"errors": [{"message": f"no {TOKEN}", "path": ["x"]}]}),
        Reply(200, {"errors": [error]}, limit_headers(0, NOW + 99999, "graphql")),
    )

    client = make(etag_dir=tmp_path, timeout_s=0.2, max_retries=1)
    failures: list[BaseException] = []
    calls: list[Callable[[], Any]] = [
        lambda: client.get_json("/e401"),
        lambda: client.get_json("/e404"),
        lambda: client.get_json("/e422"),
        lambda: client.get_json("/e502"),
        lambda: client.get_json("/slow"),
        lambda: client.get_json("/bad"),
        lambda: client.get_json("/echo"),
        lambda: client.get_json("/search/primary"),
        lambda: client.get_json("/primary"),
        lambda: client.get_json("/secondary"),
        lambda: client.get_json("/secondary2"),
        lambda: client.get_json("/moved"),
        lambda: client.graphql("{ x }"),
        lambda: client.graphql("{ x }"),
        lambda: make(api_url="http://127.0.0.1:9", max_retries=0).get_json("/x"),
    ]
    for call in calls:
        try:
            call()
        except GitHubError as exc:
            failures.append(exc)
    client.get_json("/ok")
    assert len(failures) == len(calls)

    texts = [text for exc in failures for text in _texts(exc)]
    texts += [repr(client), str(vars(client)), repr(client.counters), repr(client.rate_limits)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    texts += [path.read_text(encoding="utf-8") for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.is_file() for path in tmp_path.rglob("*"))  # the cache was written
    assert caplog.records  # the retries were logged
    leaks = [text for text in texts if TOKEN in text]
    assert leaks == []
    assert any("***" in text for text in texts)  # the echoed token was redacted, not dropped
