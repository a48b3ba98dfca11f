"""GitHub: one HTTP transport for REST and GraphQL, and pure parsers into Sparky's records.

`GitHubClient` is the only code in Sparky that talks to GitHub. It follows GitHub's documented
rules so that a run is cheap and never hammers the API:

- Pagination follows the `Link` header's `rel="next"` URL as given, never a page number built
  here (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api,
  and "Do not manually parse URLs" in
  https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api).
- Conditional requests: every GET answer with an `ETag` is kept (URL with query -> ETag,
  body, next link) under `etag_dir`; the next GET of that URL sends `If-None-Match` and a
  `304` reuses the stored body. "Making a conditional request does not count against your
  primary rate limit if a 304 response is returned and the request was made while correctly
  authorized with an Authorization header" (best-practices page above, "Use conditional
  requests if appropriate"): free only with a token.
- Rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
  "Exceeding the rate limit"): `x-ratelimit-remaining: 0` means no request before
  `x-ratelimit-reset` (UTC epoch seconds): the client sleeps until then when that is at most
  `max_wait_s` away, and otherwise raises `RateLimitExhausted` with one line. A secondary limit
  (403/429 saying so) waits `retry-after` seconds when given, else at least one minute, then
  exponentially longer, and gives up after `max_retries`.
- 5xx, timeouts, dropped connections and malformed JSON are retried with exponential backoff
  and jitter, then raise `GitHubServerError`. GraphQL timeouts: "If GitHub takes more than 10
  seconds to process an API request, GitHub will terminate the request and you will receive a
  timeout response"
  (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#timeouts);
  that answer is a 502/504, or an HTTP 200 with `"data": null` and
  `errors: [{"message": "Something went wrong while executing your query. This may be the
  result of a timeout, or it could be a GitHub bug. Please include `ID` when reporting this
  issue."}]` (the docs do not quote it; recorded in gitkraken/vscode-gitlens#3298 and
  https://github.com/orgs/community/discussions/24631, where it passed on a retry). The in-band
  answer is retried like a 502; since 2025 such timeouts also count against the primary limit
  (https://github.blog/changelog/2025-07-21-including-timeouts-in-primary-rate-limits, which
  advises to "avoid requesting excessive or unnecessary data"): a query that keeps timing out is
  made smaller by its caller (`github_collect._Scope.commits` splits its batches).
  Other 4xx are not retried: one line with GitHub's `message`.
- No connection at all (refused, DNS, connect timeout) gets `CONNECT_TIMEOUT_S` and one retry,
  then `GitHubUnreachable`; the client then asks that host no more.
- Redirects (a renamed or transferred repository answers 301/307) are followed by httpx
  ("Follow redirects" on the best-practices page), which drops `Authorization` when a redirect
  leaves the origin; the token is only ever added for the configured API hosts, never for a
  host a redirect or a Link header names. `Link` headers are read by httpx (`Response.links`).
- GraphQL answers an exhausted budget with HTTP 200 and an error whose `type` is
  `RATE_LIMITED` (reported in cli/cli#8321, gitpod-io/gitpod#15377, renovatebot/renovate#21861)
  or, since 2026, `RATE_LIMIT` with `code: graphql_rate_limit` (yanyongyu/githubkit#271).
  GitHub's page only says "the response status will still be 200, but you will receive an error
  message, and the value of the x-ratelimit-remaining header will be 0"
  (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#exceeding-the-rate-limit),
  so all three markers are treated as an exhausted budget.

The token is a `SecretStr`, added to each request's headers as it is sent and never kept
elsewhere: no message, `repr`, log line or cache file contains it (tests/test_github_client.py
checks every error path for it).

The parsers from GitHub's JSON to Sparky's records live in `github_records`.

Sparky collects through GraphQL only (`github_collect`), with a token: every field it records
has a GraphQL form, and a search over a past instant counts the backlog. REST stays here as
the transport's plain GET (`get`, `pages`, `paginate`) because conditional requests exist only
in REST ("Use conditional requests if appropriate" on the best-practices page: GraphQL is a
POST, which carries no ETag); no collector calls it today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState

from sparky_resources import clock, retry, secrets
from sparky_resources import github_queries as gq
from sparky_resources.store import atomic_write_text
from sparky_resources.text import one_line

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"  # https://docs.github.com/en/rest/about-the-rest-api/api-versions
MAX_REDIRECTS = 5
# "No more than 100 concurrent requests are allowed" (secondary limits, rate-limit pages above);
# GitHub recommends serial requests, so the default is 1 and the ceiling far below 100.
MAX_CONCURRENCY = 8
# "Otherwise, wait for at least one minute before retrying" (secondary limit without retry-after).
SECONDARY_MIN_WAIT_S = 60.0
# GraphQL's exhausted-budget markers (see the module docstring for where each was reported).
GRAPHQL_RATE_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
GRAPHQL_RATE_LIMIT_CODES = frozenset({"graphql_rate_limit"})
# GitHub's in-band GraphQL timeout: HTTP 200, `"data": null` and this message (module docstring).
GRAPHQL_TRANSIENT_MESSAGE = "something went wrong while executing your query"
# A connection that cannot even be opened gets a short budget: a few seconds, one retry.
CONNECT_TIMEOUT_S = 5.0
CONNECT_ATTEMPTS = 2
CONNECT_WAIT_S = 1.0


def _version() -> str:
    try:
        return metadata.version("sparky")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"sparky/{_version()}"


# ---------------------------------------------------------------------------------------------
# Errors


class GitHubError(RuntimeError):
    """GitHub could not answer as asked; the message is one line: what, where and why."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(one_line(message))
        self.status = status
        self.url = url


class GitHubTokenMissing(GitHubError):
    """GitHub collection was asked for without a token. Unauthenticated, GitHub allows 60
    requests an hour (rate-limit pages above), which cannot serve an org, and its GraphQL API,
    which Sparky collects with, needs a token: the message says what to set instead."""


class GitHubNotFound(GitHubError):
    """404: the resource does not exist, or the token cannot see it (GitHub does not say which)."""


class GitHubServerError(GitHubError):
    """GitHub kept failing on its side (5xx, timeouts, dropped connections, in-band GraphQL
    timeouts) through every retry: the same query may fail again, a smaller one may not."""


class GitHubUnreachable(GitHubError):
    """No connection to GitHub at all (refused, no DNS answer, connect timeout): the network or
    `api_url` is wrong, and waiting longer would not help. The client asks that host no more
    (`GitHubClient.unreachable`), so the rest of a run fails at once instead of waiting again."""


class RateLimitExhausted(GitHubError):
    """A rate limit would need a longer wait than allowed (or kept refusing); try again later."""

    def __init__(
        self,
        message: str,
        *,
        resource: str,
        reset_at: float | None = None,
        status: int | None = None,
        url: str | None = None,
    ):
        super().__init__(message, status=status, url=url)
        self.resource = resource
        self.reset_at = reset_at


class GraphQLError(GitHubError):
    """A GraphQL answer carried `errors`. Partial data is never returned silently: `data` holds
    what GitHub did answer (None if nothing), and `failed_aliases` names the top-level aliases
    the errors belong to, so a caller of a batched query can keep the other repositories and
    record the failing ones (one repository failing does not fail a partition)."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], data: Any, url: str):
        super().__init__(message, status=200, url=url)
        self.errors = errors
        self.data = data

    @property
    def failed_aliases(self) -> set[str]:
        return {
            str(error["path"][0])
            for error in self.errors
            if isinstance(error.get("path"), list) and error["path"]
        }


class _Retry(retry.Transient):
    """An attempt that may succeed when repeated; `wait_s` None means: back off."""

    def __init__(
        self,
        kind: Literal["server", "connect", "secondary", "primary"],
        reason: str,
        wait_s: float | None = None,
        status: int | None = None,
        url: str | None = None,
    ):
        super().__init__(reason, status=status)
        self.kind = kind
        self.wait_s = wait_s
        self.url = url  # the URL attempted (a redirect may have led to another host)


# ---------------------------------------------------------------------------------------------
# Transport


@dataclass
class Counters:
    """What the client spent, for benchmarks and the coverage footer.

    `rest_requests`/`graphql_requests` count HTTP requests issued (retries and redirect hops
    included); `not_modified` the 304s among them; `retries` the attempts repeated;
    `graphql_points` the sum of `rateLimit.cost` of the queries that asked for it.
    """

    rest_requests: int = 0
    graphql_requests: int = 0
    not_modified: int = 0
    retries: int = 0
    graphql_points: int = 0
    rate_limit_waits: int = 0
    waited_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


@dataclass(frozen=True)
class RateLimitState:
    """The last `x-ratelimit-*` headers (or GraphQL `rateLimit`) seen for one resource."""

    resource: str
    limit: int | None
    remaining: int | None
    reset_at: float | None  # UTC epoch seconds


@dataclass(frozen=True)
class Response:
    """One answer: the JSON body, where it finally came from, and whether it was a 304.

    `renamed_to` is the repository's current `owner/name` when a `/repos/{owner}/{name}`
    request was redirected (a renamed or transferred repository), else None.
    """

    data: Any
    status: int
    url: str
    headers: httpx.Headers
    from_cache: bool = False
    redirected_from: str | None = None
    next_url: str | None = None
    renamed_to: str | None = None


@dataclass(frozen=True)
class _CacheEntry:
    etag: str
    data: Any
    next_url: str | None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _epoch_seconds(value: Any) -> float | None:
    """`x-ratelimit-reset` is epoch seconds; octokit's normalized recordings use milliseconds."""
    number = _int(value)
    if number is None:
        return None
    return number / 1000 if number > 100_000_000_000 else float(number)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_items(data: Any) -> list[Any]:
    """The items of one page: a list, a search's `items`, or an object's only list."""
    if data is None:
        return []
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("items"), list):
            return data["items"]
        lists = [value for value in data.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
    raise GitHubError(f"expected a list page from GitHub, got {type(data).__name__}")


_T = TypeVar("_T")
_R = TypeVar("_R")


class GitHubClient(retry.HttpClient):
    """GitHub's REST and GraphQL APIs over one `httpx.Client`, following GitHub's documented
    rules for pagination, rate limits, retries, redirects and conditional requests."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        graphql_url: str | None = None,
        token: SecretStr | str | None = None,
        *,
        etag_dir: Path | None = None,
        max_wait_s: float = 900.0,
        max_retries: int = 5,
        timeout_s: float = 30.0,
        concurrency: int = 1,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency={concurrency}: expected 1 to {MAX_CONCURRENCY}")
        if max_retries < 0 or max_wait_s < 0 or timeout_s <= 0:
            raise ValueError("max_retries and max_wait_s must be >= 0 and timeout_s > 0")
        self.api_url = str(api_url).rstrip("/")
        self.graphql_url = (graphql_url and str(graphql_url).rstrip("/")) or _default_graphql(
            self.api_url
        )
        # Trimmed and checked once, here: a stray `\r` would reach httpx's error text escaped.
        self._token: SecretStr | None = secrets.clean_secret(secrets.GITHUB_TOKEN, token)
        self.etag_dir = Path(etag_dir) if etag_dir is not None else None
        self.max_wait_s = float(max_wait_s)
        self.max_retries = int(max_retries)
        self.timeout_s = float(timeout_s)
        self.concurrency = concurrency
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._sleep_fn = sleep
        self._clock = clock
        self.counters = Counters()
        self.rate_limits: dict[str, RateLimitState] = {}
        self.renames: dict[str, str] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._trusted = {_origin(self.api_url), _origin(self.graphql_url)}
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            # httpx follows redirects and drops `Authorization` across origins (`_attempt`).
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            transport=transport,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
        )

    @classmethod
    def from_env(
        cls,
        api_url: str = DEFAULT_API_URL,
        graphql_url: str | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> GitHubClient:
        """A client whose token is `$GITHUB_TOKEN` (none when unset: REST GETs, 60 an hour);
        a token that is not printable ASCII raises `secrets.SecretError`."""
        token = secrets.read_secret(secrets.GITHUB_TOKEN, env)
        return cls(api_url, graphql_url, token, **kwargs)

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return (
            f"GitHubClient(api_url={self.api_url!r}, graphql_url={self.graphql_url!r}, "
            f"token={token})"
        )

    @property
    def has_token(self) -> bool:
        return self._token is not None

    # -- public API ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Response:
        """One REST call (retried, rate-limited, redirected and cached as the module says)."""
        return self._call(method.upper(), self.url(path, params), json_body, "rest")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        return self.request("GET", path, params=params)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of `GET path` (a 304 gives the stored body)."""
        return self.get(path, params).data

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Response]:
        """Every page of a list endpoint, following `Link: rel="next"` (100 items per page)."""
        url: str | None = self.url(path, {"per_page": 100, **(params or {})})
        seen: set[str] = set()
        while url:
            if url in seen:
                raise GitHubError(f"GitHub's Link header loops back to {url}", url=url)
            seen.add(url)
            page = self._call("GET", url, None, "rest")
            yield page
            url = page.next_url

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, lazily: stop iterating to stop fetching."""
        for page in self.pages(path, params):
            yield from _page_items(page.data)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a GraphQL query; `errors` raise `GraphQLError` (see its docstring)."""
        if self._token is None:
            raise GitHubTokenMissing(
                "GitHub's GraphQL API needs a token: set GITHUB_TOKEN", url=self.graphql_url
            )
        body = {"query": query, "variables": dict(variables or {})}
        answer = self._call("POST", self.graphql_url, body, "graphql")
        document = answer.data
        if not isinstance(document, dict):
            raise GitHubError(
                f"GitHub GraphQL answered {type(document).__name__}, not a JSON object",
                url=self.graphql_url,
            )
        data = document.get("data")
        if isinstance(data, dict):
            self._note_graphql_cost(data.get("rateLimit"))
        errors = document.get("errors")
        if errors:
            errors = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
            errors = json.loads(self._redact(json.dumps(errors)))
            first = errors[0]
            path = ".".join(str(p) for p in first.get("path") or []) or "query"
            kind = f" ({first['type']})" if first.get("type") else ""
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            raise GraphQLError(
                self._redact(
                    f"GitHub GraphQL error at {path}: {first.get('message', '?')}{kind}{more}"
                ),
                errors=errors,
                data=data,
                url=self.graphql_url,
            )
        if not isinstance(data, dict):
            raise GitHubError(
                "GitHub GraphQL answered without data or errors", url=self.graphql_url
            )
        return data

    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """`fn` over `items` on at most `concurrency` threads, results in input order."""
        items = list(items)
        if self.concurrency == 1 or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL: `path` relative to `api_url` (absolute URLs are kept), + params."""
        base = (
            path
            if path.startswith(("http://", "https://"))
            else (f"{self.api_url}/{path.lstrip('/')}")
        )
        if not params:
            return base
        clean = {k: v for k, v in params.items() if v is not None}
        return str(httpx.URL(base).copy_merge_params(clean))

    # -- one call: retries around attempts ----------------------------------------------------

    # Hosts seen unreachable by this client (origin -> the one-line error): not asked again.
    unreachable: dict[tuple[str, str], str] | None = None

    def _call(self, method: str, url: str, json_body: Any, kind: str) -> Response:
        resource = (
            "graphql"
            if kind == "graphql"
            else ("search" if "/search/" in urlsplit(url).path else "core")
        )
        earlier = (self.unreachable or {}).get(_origin(url))
        if earlier is not None:
            raise GitHubUnreachable(f"GitHub {method} {url}: not attempted: {earlier}", url=url)
        retrying = retry.retrying(
            what=f"GitHub {method} {url}",
            attempts=self._attempts,
            wait=self._wait,
            sleep=self._sleep,
            log=log,
            on_retry=self._note_retry,
            describe=lambda exc: self._redact(str(exc)),
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._await_budget(resource, method, url)
                    answer = self._attempt(method, url, json_body, kind)
        except _Retry as exc:
            attempts = int(retrying.statistics.get("attempt_number", self.max_retries + 1))
            where = f"GitHub {method} {url}"
            if exc.kind == "connect":
                host = exc.url or url
                message = self._redact(
                    f"GitHub unreachable: {method} {host} failed after {attempts} attempts: "
                    f"{exc.reason} (check the network, a proxy, or [github].api_url)"
                )
                with self._lock:
                    self.unreachable = {**(self.unreachable or {}), _origin(host): message}
                raise GitHubUnreachable(message, url=url) from None
            if exc.kind == "server":
                raise GitHubServerError(
                    self._redact(f"{where} failed after {attempts} attempts: {exc.reason}"),
                    status=exc.status,
                    url=url,
                ) from None
            raise RateLimitExhausted(
                self._redact(
                    f"{where} still rate-limited after {attempts} attempts ({exc.reason}); "
                    "wait a few minutes before rerunning, with less concurrency"
                ),
                resource=resource,
                status=exc.status,
                url=url,
            ) from None
        return answer

    def _attempts(self, exc: BaseException | None) -> int:
        """`max_retries` retries; a connection that cannot be opened gets one retry only."""
        limit = self.max_retries + 1
        if isinstance(exc, _Retry) and exc.kind == "connect":
            limit = min(limit, CONNECT_ATTEMPTS)
        return limit

    def _wait(self, state: RetryCallState) -> float:
        exc = retry.failure(state)
        if isinstance(exc, _Retry) and exc.wait_s is not None:
            return exc.wait_s
        if isinstance(exc, _Retry) and exc.kind == "connect":
            return min(self.backoff_s, CONNECT_WAIT_S)
        if isinstance(exc, _Retry) and exc.kind == "secondary":
            # At least a minute, then exponentially longer (rate-limit pages, module docstring).
            return min(
                SECONDARY_MIN_WAIT_S * 2 ** (state.attempt_number - 1),
                max(self.max_wait_s, SECONDARY_MIN_WAIT_S),
            )
        return retry.backoff(self.backoff_s, self.backoff_max_s)(state)

    def _sleep(self, seconds: float) -> None:
        with self._lock:
            self.counters.waited_s += seconds
        self._sleep_fn(seconds)

    def _note_retry(self, exc: BaseException | None) -> None:
        with self._lock:
            self.counters.retries += 1
            if isinstance(exc, _Retry) and exc.kind in ("secondary", "primary"):
                self.counters.rate_limit_waits += 1

    def _await_budget(self, resource: str, method: str, url: str) -> None:
        """Wait for the reset of a budget already seen exhausted, instead of spending a request
        to be refused (`x-ratelimit-remaining: 0` means no request before the reset)."""
        with self._lock:
            state = self.rate_limits.get(resource)
        if state is None or state.remaining != 0 or state.reset_at is None:
            return
        wait = state.reset_at - self._clock()
        if wait <= 0:
            return
        wait += 1.0  # the reset instant is whole seconds; be past it
        if wait > self.max_wait_s:
            raise self._exhausted(resource, state.reset_at, method, url, None)
        log.warning(
            "GitHub %s budget exhausted: waiting %.0f s until %s",
            resource,
            wait,
            _iso(state.reset_at),
        )
        with self._lock:
            self.counters.rate_limit_waits += 1
            self.rate_limits[resource] = RateLimitState(resource, state.limit, None, state.reset_at)
        self._sleep(wait)

    def _exhausted(
        self, resource: str, reset_at: float | None, method: str, url: str, status: int | None
    ) -> RateLimitExhausted:
        if reset_at is None:
            when = "at an unknown time"
        else:
            minutes = max(0, math.ceil((reset_at - self._clock()) / 60))
            when = (
                f"at {_iso(reset_at)} (in {minutes} min, more than max_wait_s={self.max_wait_s:g})"
            )
        advice = (
            "rerun after the reset"
            if self._token
            else "set GITHUB_TOKEN (5,000 requests/hour instead of 60) or rerun after the reset"
        )
        return RateLimitExhausted(
            f"GitHub rate limit '{resource}' exhausted for {method} {url}: it resets {when}; "
            f"{advice}",
            resource=resource,
            reset_at=reset_at,
            status=status,
            url=url,
        )

    # -- one attempt: redirects, status handling ----------------------------------------------

    def _attempt(self, method: str, url: str, json_body: Any, kind: str) -> Response:
        """One request, its redirects followed by httpx (`follow_redirects=True`, at most
        `MAX_REDIRECTS`). httpx drops `Authorization` when a redirect leaves the origin
        (`BaseClient._redirect_headers` in httpx/_client.py: "Strip Authorization headers when
        responses are redirected away from the origin", except http -> https on the same
        host), and the token is only added here for the configured API hosts."""
        cached = self._cache_load(url) if method == "GET" else None
        headers = {}
        if self._token is not None and _origin(url) in self._trusted:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        if cached is not None:
            headers["If-None-Match"] = cached.etag
        self._count(kind)
        try:
            with self._slots:
                answer = self._http.request(
                    method, url, headers=headers, json=json_body, timeout=self._timeouts()
                )
        except httpx.TooManyRedirects:
            raise GitHubError(
                f"GitHub {method} {url}: more than {MAX_REDIRECTS} redirects", url=url
            ) from None
        except httpx.LocalProtocolError as exc:
            # Nothing was sent: our own request is malformed (a header httpx refuses, e.g. a
            # token that bypassed `secrets`), so every retry would fail the same way.
            raise GitHubError(
                self._redact(f"GitHub {method} {url}: request not sent: {exc}"), url=url
            ) from None
        except httpx.ConnectTimeout as exc:
            connect = min(self.timeout_s, CONNECT_TIMEOUT_S)
            reason = f"no connection within {connect:g} s"
            raise _Retry("connect", reason, url=_failed_url(exc, url)) from None
        except httpx.ConnectError as exc:
            # Refused, or no address for the host (DNS): nothing reached GitHub.
            reason = f"ConnectError: {self._redact(str(exc))}"
            raise _Retry("connect", reason, url=_failed_url(exc, url)) from None
        except httpx.TimeoutException:
            raise _Retry("server", f"no answer within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise _Retry("server", f"{type(exc).__name__}: {self._redact(str(exc))}") from None
        for hop in answer.history:
            self._count(kind)
            self._note_rate_limit(hop.headers)
        self._note_rate_limit(answer.headers)
        redirected_from = url if answer.history else None
        return self._interpret(
            answer.request.method, str(answer.url), redirected_from, answer, cached, kind
        )

    def _timeouts(self) -> httpx.Timeout:
        """`timeout_s` for reading an answer; opening a connection gets `CONNECT_TIMEOUT_S`."""
        return httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, CONNECT_TIMEOUT_S))

    def _count(self, kind: str) -> None:
        with self._lock:
            if kind == "graphql":
                self.counters.graphql_requests += 1
            else:
                self.counters.rest_requests += 1

    def _interpret(
        self,
        method: str,
        url: str,
        redirected_from: str | None,
        answer: httpx.Response,
        cached: _CacheEntry | None,
        kind: str,
    ) -> Response:
        status = answer.status_code
        # httpx parses the `Link` header (RFC 8288): {"next": {"url": ..., "rel": "next"}, ...}.
        next_url = answer.links.get("next", {}).get("url")
        if status == 304 and cached is not None:
            with self._lock:
                self.counters.not_modified += 1
            return Response(
                data=cached.data,
                status=304,
                url=url,
                headers=answer.headers,
                from_cache=True,
                redirected_from=redirected_from,
                next_url=next_url or cached.next_url,
                renamed_to=self._renamed(redirected_from, cached.data),
            )
        if 200 <= status < 300:
            data = self._json(answer, method, url)
            if kind == "graphql":
                self._graphql_limits(data, answer, method, url)
                self._graphql_transient(data)
            etag = answer.headers.get("etag")
            if method == "GET" and etag and self.etag_dir is not None:
                self._cache_save(redirected_from or url, _CacheEntry(etag, data, next_url))
            return Response(
                data=data,
                status=status,
                url=url,
                headers=answer.headers,
                redirected_from=redirected_from,
                next_url=next_url,
                renamed_to=self._renamed(redirected_from, data),
            )
        message = _github_message(answer)
        if status in (403, 429):
            self._rate_limited(answer, message, method, url, kind)
        if status >= 500:
            raise _Retry(
                "server", f"{status} {answer.reason_phrase}: {message}".rstrip(": "), status=status
            )
        hint = {
            401: "; check that GITHUB_TOKEN is valid and not expired",
            403: "; the token may lack a scope or SSO authorization for this organization",
            404: " (or the token cannot see it)",
        }.get(status, "")
        cls = GitHubNotFound if status == 404 else GitHubError
        raise cls(
            self._redact(
                f"GitHub {method} {url}: {status} {answer.reason_phrase}: {message}{hint}"
            ),
            status=status,
            url=url,
        )

    def _json(self, answer: httpx.Response, method: str, url: str) -> Any:
        if not answer.content.strip():
            return None
        try:
            return answer.json()
        except ValueError:
            raise _Retry(
                "server",
                f"malformed JSON ({len(answer.content)} bytes, "
                f"{answer.headers.get('content-type', 'no content-type')})",
                status=answer.status_code,
            ) from None

    def _rate_limited(
        self, answer: httpx.Response, message: str, method: str, url: str, kind: str
    ) -> None:
        """Raise the right wait for a 403/429 that is a rate limit; return if it is not one."""
        headers = answer.headers
        resource = headers.get("x-ratelimit-resource") or (
            "graphql" if kind == "graphql" else "core"
        )
        retry_after = _int(headers.get("retry-after"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        reset_at = _epoch_seconds(headers.get("x-ratelimit-reset"))
        if retry_after is not None:
            if retry_after > self.max_wait_s:
                raise RateLimitExhausted(
                    self._redact(
                        f"GitHub secondary rate limit for {method} {url}: retry-after "
                        f"{retry_after} s is more than max_wait_s={self.max_wait_s:g}; rerun later"
                    ),
                    resource=resource,
                    status=answer.status_code,
                    url=url,
                )
            raise _Retry(
                "secondary", message, wait_s=float(max(retry_after, 0)), status=answer.status_code
            )
        if remaining == 0 and reset_at is not None:
            wait = max(reset_at - self._clock(), 0.0) + 1.0
            if wait > self.max_wait_s:
                raise self._exhausted(resource, reset_at, method, url, answer.status_code)
            raise _Retry("primary", message, wait_s=wait, status=answer.status_code)
        if answer.status_code == 429 or "rate limit" in message.lower():
            raise _Retry("secondary", message, status=answer.status_code)

    def _graphql_limits(self, data: Any, answer: httpx.Response, method: str, url: str) -> None:
        """HTTP 200 with a rate-limit error: wait like a REST 403 (primary or secondary)."""
        errors = data.get("errors") if isinstance(data, dict) else None
        if not isinstance(errors, list):
            return
        errors = [e for e in errors if isinstance(e, dict)]
        primary = any(
            e.get("type") in GRAPHQL_RATE_LIMIT_TYPES or e.get("code") in GRAPHQL_RATE_LIMIT_CODES
            for e in errors
        )
        secondary = any("secondary rate limit" in str(e.get("message", "")).lower() for e in errors)
        if not (primary or secondary):
            return
        message = one_line(str(errors[0].get("message", "rate limited")))
        retry_after = _int(answer.headers.get("retry-after"))
        if retry_after is not None or secondary:
            if retry_after is not None and retry_after > self.max_wait_s:
                raise RateLimitExhausted(
                    self._redact(
                        f"GitHub GraphQL secondary rate limit: retry-after {retry_after} s "
                        f"is more than max_wait_s={self.max_wait_s:g}; rerun later"
                    ),
                    resource="graphql",
                    status=200,
                    url=url,
                )
            raise _Retry(
                "secondary",
                message,
                wait_s=float(retry_after) if retry_after is not None else None,
                status=200,
            )
        reset_at = _epoch_seconds(answer.headers.get("x-ratelimit-reset"))
        if reset_at is None:
            state = self.rate_limits.get("graphql")
            reset_at = state.reset_at if state else None
        if reset_at is None:
            raise _Retry("secondary", message, status=200)  # unknown reset: back off >= 1 min
        wait = max(reset_at - self._clock(), 0.0) + 1.0
        if wait > self.max_wait_s:
            raise self._exhausted("graphql", reset_at, method, url, 200)
        raise _Retry("primary", message, wait_s=wait, status=200)

    def _graphql_transient(self, data: Any) -> None:
        """HTTP 200 whose error is GitHub's in-band timeout: retry it like a 502 (module
        docstring). Other GraphQL errors are answers, raised by `graphql` as `GraphQLError`."""
        errors = data.get("errors") if isinstance(data, dict) else None
        if not isinstance(errors, list):
            return
        for error in errors:
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            if message.lower().startswith(GRAPHQL_TRANSIENT_MESSAGE):
                raise _Retry("server", f"200 with a GraphQL error: {one_line(message)}", status=200)

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        resource = headers.get("x-ratelimit-resource")
        if not resource:
            return
        state = RateLimitState(
            resource=resource,
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=_int(headers.get("x-ratelimit-remaining")),
            reset_at=_epoch_seconds(headers.get("x-ratelimit-reset")),
        )
        with self._lock:
            self.rate_limits[resource] = state

    def _note_graphql_cost(self, rate_limit: Any) -> None:
        if not isinstance(rate_limit, dict):
            return
        reset_text = rate_limit.get("resetAt")
        reset_at = clock.epoch(reset_text) if isinstance(reset_text, str) else None
        with self._lock:
            self.counters.graphql_points += _int(rate_limit.get("cost")) or 0
            old = self.rate_limits.get("graphql")
            self.rate_limits["graphql"] = RateLimitState(
                "graphql",
                old.limit if old else None,
                _int(rate_limit.get("remaining")),
                reset_at if reset_at is not None else (old.reset_at if old else None),
            )

    def _renamed(self, redirected_from: str | None, data: Any) -> str | None:
        if not redirected_from or not isinstance(data, dict):
            return None
        path = urlsplit(redirected_from).path
        match = re.search(r"/repos/([^/]+)/([^/]+)/?$", path)
        full_name = data.get("full_name")
        if not match or not isinstance(full_name, str):
            return None
        old = f"{match.group(1)}/{match.group(2)}"
        if old.lower() != full_name.lower():
            with self._lock:
                self.renames[old] = full_name
        return full_name

    # -- ETag cache -----------------------------------------------------------------------------

    def _cache_path(self, url: str) -> Path:
        assert self.etag_dir is not None
        return self.etag_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:40]}.json"

    def _cache_load(self, url: str) -> _CacheEntry | None:
        """The stored answer for `url`; a missing or damaged entry just means a full fetch."""
        if self.etag_dir is None:
            return None
        try:
            stored = json.loads(self._cache_path(url).read_text(encoding="utf-8"))
            if stored.get("url") != url or not isinstance(stored.get("etag"), str):
                return None
            return _CacheEntry(stored["etag"], stored.get("data"), stored.get("next_url"))
        except (OSError, ValueError, AttributeError):
            return None

    def _cache_save(self, url: str, entry: _CacheEntry) -> None:
        # The key is the URL alone (query included), never a header: nothing secret on disk.
        document = {"url": url, "etag": entry.etag, "next_url": entry.next_url, "data": entry.data}
        try:
            atomic_write_text(self._cache_path(url), json.dumps(document, ensure_ascii=False))
        except OSError as exc:
            log.warning("cannot store GitHub's ETag for %s: %s", url, exc)

    def _redact(self, text: str) -> str:
        """`text` without the token in any form (raw, escaped, URL-encoded, split by a line)."""
        return secrets.redact(text, [self._token]) if self._token is not None else text


def _failed_url(exc: httpx.RequestError, url: str) -> str:
    """The URL whose request failed: a redirect's target, or `url` when httpx did not say."""
    try:
        return str(exc.request.url)
    except RuntimeError:  # httpx raises when the error carries no request
        return url


def _default_graphql(api_url: str) -> str:
    """github.com: <api>/graphql; GitHub Enterprise Server: https://HOST/api/v3 -> /api/graphql."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return f"{api_url}/graphql"


def _github_message(answer: httpx.Response) -> str:
    """GitHub's `message` (+ the first validation error), or the start of a non-JSON body."""
    try:
        body = answer.json()
    except ValueError:
        return one_line(answer.text[:200])
    if not isinstance(body, dict):
        return one_line(str(body)[:200])
    message = str(body.get("message") or "")
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        detail = first.get("message") or ".".join(
            str(first[k]) for k in ("resource", "field", "code") if first.get(k)
        )
        if detail:
            message = f"{message} ({detail})" if message else str(detail)
    return one_line(message[:500])


# ---------------------------------------------------------------------------------------------
# Search over a window, split when it matches more than GitHub returns


def search_window(
    run: Callable[[str, Mapping[str, Any]], dict[str, Any]],
    org: str,
    kind: Literal["pr", "issue"],
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, Any]]:
    """Every pull request or issue node of `org` updated in `[start, end)`.

    `run` is `GitHubClient.graphql`. A search returns at most 1,000 results
    (https://docs.github.com/en/rest/search/search#about-search), so a window whose first page
    says it matches more is cut in two halves, recursively, before more pages are fetched
    (one request per stream in the common case instead of a count query first).
    Nodes are deduplicated by (repository, number): an item updated while the pages are read
    can move between halves.
    """
    query = gq.SEARCH_PULL_REQUESTS_QUERY if kind == "pr" else gq.SEARCH_ISSUES_QUERY
    found: dict[tuple[str, int], dict[str, Any]] = {}

    def collect(lo: dt.datetime, hi: dt.datetime) -> None:
        q = gq.search_query(org, kind, lo, hi)
        after: str | None = None
        while True:
            search = run(query, gq.search_variables(q, after))["search"]
            # The first page says how many match: over the cap, split instead of paging on.
            count = int(search.get("issueCount") or 0)
            if after is None and count > gq.SEARCH_RESULT_CAP:
                half = (hi - lo) / 2
                mid = lo + dt.timedelta(seconds=math.floor(half.total_seconds()))
                if mid <= lo or mid >= hi:
                    raise GitHubError(
                        f"GitHub search '{q}' matches {count} items within one second; more "
                        f"than the {gq.SEARCH_RESULT_CAP} a search can return"
                    )
                collect(lo, mid)
                collect(mid, hi)
                return
            for node in search.get("nodes") or []:
                if node and "number" in node:
                    repo = (node.get("repository") or {}).get("name", "")
                    found[(repo, int(node["number"]))] = node
            info = search.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")

    collect(start, end)
    return list(found.values())
