"""Ollama: one small HTTP client for a local model server, and the Dagster resource that builds it.

`OllamaClient` is the only code in Sparky that talks to Ollama. It speaks the documented API
(`docs/api.md` and `docs/api/*.mdx` of `ollama/ollama`; the bodies are copied in
`../shared/fixtures/ollama/`):

- `GET /api/version` -> `{"version": "0.5.1"}`; `GET /api/tags` -> `{"models": [{"name", "model",
  ...}]}`. Model names are `model:tag`, "the tag is optional and, if not provided, will default
  to `latest`", so `x` and `x:latest` name the same model.
- `POST /api/chat` with `model`, `messages`, `format` (a JSON schema: structured outputs),
  `stream`, `options` (`temperature: 0`, `seed`, `num_ctx`, `num_predict`) and `keep_alive`. With
  `"stream": false` the answer is one JSON object; streaming answers NDJSON
  (`application/x-ndjson`), one `message.content` piece per line, the last line `done: true`
  with `done_reason` and the usage counts (durations in nanoseconds).
- `POST /api/pull` streams NDJSON statuses (`pulling manifest`, ... , `success`).
- Errors are `{"error": "..."}` with a 4xx/5xx status. "If an error occurs mid-stream, the
  error will be returned as an object in the `application/x-ndjson` format with an `error`
  property. Since the response has already started, the status code of the response will not
  be changed" (docs/api/errors.mdx): such a line raises `OllamaError`.
- An unknown model answers 404 `model "<name>" not found, try pulling it first`
  (`handleScheduleError` in server/routes.go) or `model '<name>' not found`: that raises
  `OllamaModelMissing`, whose message says to run `ollama pull <model>`.

Connection errors, timeouts and 5xx answers are retried `max_retries` times with exponential
backoff and jitter (tenacity; `sleep` is injectable for tests). 4xx answers are never retried.
Connect and read timeouts are separate: a server that is down fails within `connect_timeout_s`,
a model that is slow to answer gets `timeout_s`.

`OLLAMA_HOST` overrides the configured URL and is read the way Ollama's own CLI reads it
(`envconfig.Host` in ollama/ollama): `host`, `host:port`, `:port`, `[::1]:port`,
`http://host:port`, `https://host/path`; no scheme means `http`, no port means 11434 without a
scheme, 80 with `http://` and 443 with `https://`. Bind-all addresses (`0.0.0.0`, `::`, an empty
host) are replaced by the loopback address, as `envconfig.ConnectableHost` does, since they
are where a server listens, not an address to connect to.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
from pydantic import BaseModel

from sparky_resources import retry
from sparky_resources.text import one_line

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://localhost:11434"
DEFAULT_MODEL = "qwen2.5-coder:1.5b"
DEFAULT_PORT = 11434

# ---------------------------------------------------------------------------------------------
# Errors


class OllamaError(RuntimeError):
    """Ollama could not answer as asked; the message is one line: what, where and why."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        transient: bool = False,
    ):
        super().__init__(one_line(message))
        self.status = status
        self.url = url
        # What the client retried and gave up on (no connection, a timeout, a 5xx): a later
        # attempt may succeed, unlike a 4xx or a malformed answer.
        self.transient = transient


class OllamaUnreachable(OllamaError):
    """No answer at all: connection refused, DNS failure, or timeouts on every attempt."""


class OllamaModelMissing(OllamaError):
    """The model is not on the Ollama server; `ollama pull <model>` fetches it."""

    def __init__(self, model: str, *, detail: str | None = None, url: str | None = None):
        said = f" (Ollama said: {detail})" if detail else ""
        super().__init__(
            f"Ollama model '{model}' is not available at {url or 'the server'}{said}; "
            f"run `ollama pull {model}` or set pull_missing=true",
            status=404,
            url=url,
        )
        self.model = model


def is_transient(exc: BaseException) -> bool:
    """An error that a later attempt may not meet: no connection, a timeout, or a 5xx."""
    return isinstance(exc, OllamaError) and exc.transient


class _Retry(retry.Transient):
    """An attempt that may succeed when repeated (connection error, timeout, 5xx)."""

    def __init__(self, reason: str, *, status: int | None = None, unreachable: bool = False):
        super().__init__(reason, status=status)
        self.unreachable = unreachable


# ---------------------------------------------------------------------------------------------
# Records


class Health(BaseModel):
    """Whether Ollama answers and has the configured model; `reason` says why not, in one line."""

    reachable: bool
    version: str | None = None
    model_present: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.model_present


class ChatResult(BaseModel):
    """One chat answer: the whole `message.content` and the final object's usage fields."""

    content: str
    done_reason: str | None = None
    eval_count: int | None = None
    prompt_eval_count: int | None = None
    total_duration: int | None = None  # nanoseconds
    model: str | None = None

    def json_content(self) -> Any:
        """`content` parsed as JSON (what a `format` schema asks for); one-line error if not."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            snippet = self.content[:80]
            raise OllamaError(
                f"Ollama model {self.model or '?'} answered content that is not JSON "
                f"({exc}): {snippet!r}"
            ) from None


@dataclass
class Counters:
    """Requests issued (retries included) and attempts repeated."""

    requests: int = 0
    retries: int = 0


# ---------------------------------------------------------------------------------------------
# Base URL


def normalize_model(name: str) -> str:
    """`x` -> `x:latest` ("the tag is optional and, if not provided, will default to latest")."""
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's `net.SplitHostPort`: None where it fails (no port, or an IPv6 address unbracketed)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or hostport[end + 1 : end + 2] != ":":
            return None
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:
        return None
    host, port = hostport.split(":")
    return host, port


def parse_ollama_host(value: str) -> str:
    """An `OLLAMA_HOST` value as a base URL to connect to (see the module docstring)."""
    s = value.strip().strip("\"'").strip()
    default_port = str(DEFAULT_PORT)
    scheme, sep, hostport = s.partition("://")
    if not sep:
        scheme, hostport = "http", s
        if s == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = "80"
    elif scheme == "https":
        default_port = "443"
    hostport, _, path = hostport.partition("/")
    split = _split_host_port(hostport)
    if split is None:
        host, port = "127.0.0.1", default_port
        bare = hostport.strip("[]")
        if _ip(bare) is not None:
            host = str(_ip(bare))
        elif hostport:
            host = hostport
    else:
        host, port = split
    if not port.isdigit() or int(port) > 65535:
        log.warning("OLLAMA_HOST %r: invalid port %r, using %s", value, port, default_port)
        port = default_port
    # Connectable: a bind-all address is where a server listens, not where a client connects.
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{scheme}://{netloc}" + (f"/{path.strip('/')}" if path.strip("/") else "")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def resolve_base_url(config_url: str, env: Mapping[str, str] | None = None) -> str:
    """`OLLAMA_HOST` (when set and not empty) over the configured URL, without a trailing `/`."""
    env = os.environ if env is None else env
    override = (env.get("OLLAMA_HOST") or "").strip().strip("\"'").strip()
    if override:
        return parse_ollama_host(override)
    return config_url.rstrip("/")


# ---------------------------------------------------------------------------------------------
# Client


def _error_text(answer: httpx.Response) -> str:
    """Ollama's `{"error": "..."}` text, else the start of the body, else the reason phrase."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return one_line(body["error"])[:500]
    text = one_line(answer.text)[:200]
    return text or answer.reason_phrase or f"HTTP {answer.status_code}"


def _is_model_missing(status: int, text: str) -> bool:
    return status == 404 and "not found" in text


class OllamaClient(retry.HttpClient):
    """Ollama's HTTP API, retried as the module says. Use as a context manager, or `close()`.

    Its settings are an `OllamaResource`'s (declared there once); `base_url` replaces the
    configured URL (the resource passes `OLLAMA_HOST`'s). `sleep`, `transport` and the backoff
    are the client's own, for tests.
    """

    def __init__(
        self,
        settings: OllamaResource,
        *,
        base_url: str | None = None,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.settings = settings
        self.base_url = (base_url or settings.base_url).rstrip("/")
        self.max_retries = max(0, settings.max_retries)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self.counters = Counters()
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
            headers={"Accept": "application/json, application/x-ndjson"},
        )

    @property
    def model(self) -> str:
        return self.settings.model

    def __repr__(self) -> str:
        return f"OllamaClient(base_url={self.base_url!r}, model={self.model!r})"

    # -- public API ---------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version (`GET /api/version`)."""
        return self._version(None)

    def models(self) -> list[str]:
        """The local models' names (`GET /api/tags`, fields `name` and `model`)."""
        return _tag_names(self._json("GET", "/api/tags"))

    def has_model(self, name: str | None = None) -> bool:
        """Whether `name` (default: the configured model) is local; `x` matches `x:latest`."""
        return _has(self.models(), name or self.model)

    def pull(
        self, name: str | None = None, *, on_status: Callable[[dict], None] | None = None
    ) -> list[dict]:
        """Download a model (`POST /api/pull`), reading the NDJSON statuses until `success`.

        Returns the list of status objects. An `error` line raises `OllamaError`.
        """
        model = name or self.model
        url = self._url("/api/pull")
        statuses: list[dict] = []

        def read(lines: Iterator[dict]) -> list[dict]:
            statuses.clear()
            for line in lines:
                if "error" in line:
                    raise OllamaError(f"Ollama pull of '{model}' failed: {line['error']}", url=url)
                statuses.append(line)
                if on_status is not None:
                    on_status(line)
                if line.get("status") == "success":
                    return list(statuses)
            raise OllamaError(
                f"Ollama pull of '{model}' ended without 'success' (last status: "
                f"{statuses[-1].get('status') if statuses else 'none'})",
                url=url,
            )

        return self._call("POST", "/api/pull", {"model": model, "stream": True}, read, model)

    def ensure_model(self) -> None:
        """The configured model is local, pulled first when `pull_missing`; else raises
        `OllamaModelMissing`."""
        if self.has_model(self.model):
            return
        if not self.settings.pull_missing:
            raise OllamaModelMissing(self.model, url=self.base_url)
        self.pull(self.model)

    def health(self) -> Health:
        """Reachable? Which version? Is the model there? Never raises; one attempt each."""
        try:
            version = self._version(0)
        except Exception as exc:  # health reports, never raises
            return Health(reachable=False, reason=one_line(exc))
        try:
            present = _has(_tag_names(self._json("GET", "/api/tags", retries=0)), self.model)
        except Exception as exc:
            return Health(reachable=True, version=version, reason=one_line(exc))
        reason = (
            None
            if present
            else f"model '{self.model}' is not on {self.base_url}; run `ollama pull {self.model}`"
        )
        return Health(reachable=True, version=version, model_present=present, reason=reason)

    def chat_body(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        schema: Mapping[str, Any] | str | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        """The `/api/chat` request body this client sends."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "stream": stream,
            "options": {
                "temperature": 0,
                "seed": self.settings.seed,
                "num_ctx": self.settings.num_ctx,
                # The answer's room in the context: prompt + answer stay within num_ctx.
                "num_predict": self.settings.num_predict,
            },
            "keep_alive": self.settings.keep_alive,
        }
        if schema is not None:
            body["format"] = schema if isinstance(schema, str) else dict(schema)
        return body

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        schema: Mapping[str, Any] | str | None = None,
        stream: bool = False,
    ) -> ChatResult:
        """One chat completion (`POST /api/chat`), deterministic (temperature 0, fixed seed).

        `schema` is sent as `format` (a JSON schema, or `"json"`). A missing model raises
        `OllamaModelMissing`, or is pulled once first when `pull_missing`.
        """
        body = self.chat_body(messages, schema=schema, stream=stream)
        try:
            return self._chat(body, stream)
        except OllamaModelMissing:
            if not self.settings.pull_missing:
                raise
            log.warning("Ollama model %s missing at %s: pulling it", self.model, self.base_url)
            self.pull(self.model)
            return self._chat(body, stream)

    # -- internals ----------------------------------------------------------------------------

    def _chat(self, body: dict[str, Any], stream: bool) -> ChatResult:
        url = self._url("/api/chat")
        if not stream:
            data = self._call("POST", "/api/chat", body, None, self.model)
            if not isinstance(data, dict):
                raise OllamaError(f"Ollama POST {url}: answer is not a JSON object", url=url)
            if "error" in data:
                raise OllamaError(f"Ollama POST {url}: {data['error']}", url=url)
            return _result(data, str((data.get("message") or {}).get("content") or ""))

        def read(lines: Iterator[dict]) -> ChatResult:
            parts: list[str] = []
            for line in lines:
                if "error" in line:
                    raise OllamaError(
                        f"Ollama POST {url} failed mid-stream: {line['error']}", url=url
                    )
                parts.append(str((line.get("message") or {}).get("content") or ""))
                if line.get("done"):
                    return _result(line, "".join(parts))
            raise OllamaError(f"Ollama POST {url}: the stream ended without a 'done' line", url=url)

        return self._call("POST", "/api/chat", body, read, self.model)

    def _version(self, retries: int | None) -> str:
        data = self._json("GET", "/api/version", retries=retries)
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise OllamaError(f"Ollama at {self.base_url} answered /api/version without 'version'")
        return data["version"]

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _json(self, method: str, path: str, *, retries: int | None = None) -> Any:
        return self._call(method, path, None, None, None, retries=retries)

    def _call(
        self,
        method: str,
        path: str,
        json_body: Any,
        read_stream: Callable[[Iterator[dict]], Any] | None,
        model: str | None,
        *,
        retries: int | None = None,
    ) -> Any:
        url = self._url(path)
        retries = self.max_retries if retries is None else retries
        retrying = retry.retrying(
            what=f"Ollama {method} {url}",
            attempts=lambda exc: retries + 1,
            wait=retry.backoff(self.backoff_s, self.backoff_max_s),
            sleep=self._sleep,
            log=log,
            on_retry=self._note_retry,
        )
        try:
            for attempt in retrying:
                with attempt:
                    result = self._attempt(method, url, json_body, read_stream, model)
        except _Retry as exc:
            tries = f" after {retries + 1} attempts" if retries else ""
            if exc.unreachable:
                raise OllamaUnreachable(
                    f"Ollama is not reachable at {self.base_url}{tries} ({exc.reason}); start "
                    "it with `ollama serve`, or point base_url/OLLAMA_HOST at it",
                    status=exc.status,
                    url=url,
                    transient=True,
                ) from None
            raise OllamaError(
                f"Ollama {method} {url} failed{tries}: {exc.reason}",
                status=exc.status,
                url=url,
                transient=True,
            ) from None
        return result

    def _note_retry(self, exc: BaseException | None) -> None:
        self.counters.retries += 1

    def _attempt(
        self,
        method: str,
        url: str,
        json_body: Any,
        read_stream: Callable[[Iterator[dict]], Any] | None,
        model: str | None,
    ) -> Any:
        self.counters.requests += 1
        try:
            with self._http.stream(method, url, json=json_body) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    self._raise_for(answer, method, url, model)
                if read_stream is not None:
                    return read_stream(self._lines(answer, method, url))
                answer.read()
                try:
                    return answer.json()
                except ValueError:
                    snippet = one_line(answer.text)[:80]
                    raise OllamaError(
                        f"Ollama {method} {url}: answer is not JSON: {snippet!r}", url=url
                    ) from None
        except httpx.ConnectTimeout:
            raise _Retry(
                f"no connection within {self.settings.connect_timeout_s:g} s", unreachable=True
            ) from None
        except httpx.TimeoutException:
            raise _Retry(
                f"no answer within {self.settings.timeout_s:g} s (timeout_s); the model may be "
                "loading or too slow for this machine"
            ) from None
        except httpx.ConnectError as exc:
            raise _Retry(f"{type(exc).__name__}: {one_line(exc)}", unreachable=True) from None
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {one_line(exc)}") from None

    def _lines(self, answer: httpx.Response, method: str, url: str) -> Iterator[dict]:
        for raw in answer.iter_lines():
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                raise OllamaError(
                    f"Ollama {method} {url}: a streamed line is not JSON: {raw[:80]!r}", url=url
                ) from None
            if not isinstance(line, dict):
                raise OllamaError(f"Ollama {method} {url}: a streamed line is not an object")
            yield line

    def _raise_for(self, answer: httpx.Response, method: str, url: str, model: str | None) -> None:
        status = answer.status_code
        text = _error_text(answer)
        if status >= 500:
            raise _Retry(f"HTTP {status}: {text}", status=status)
        if model is not None and _is_model_missing(status, text):
            raise OllamaModelMissing(model, detail=text, url=self.base_url)
        raise OllamaError(f"Ollama {method} {url} answered HTTP {status}: {text}", status=status)


def _tag_names(data: Any) -> list[str]:
    models = data.get("models") if isinstance(data, dict) else None
    names: list[str] = []
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict):
            names.extend(entry[k] for k in ("name", "model") if isinstance(entry.get(k), str))
    return names


def _has(names: Sequence[str], wanted: str) -> bool:
    target = normalize_model(wanted)
    return any(normalize_model(n) == target for n in names)


def _result(data: Mapping[str, Any], content: str) -> ChatResult:
    def count(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, int | float) else None

    return ChatResult(
        content=content,
        done_reason=data.get("done_reason"),
        eval_count=count("eval_count"),
        prompt_eval_count=count("prompt_eval_count"),
        total_duration=count("total_duration"),
        model=data.get("model"),
    )


# ---------------------------------------------------------------------------------------------
# Dagster resource


class OllamaResource(dg.ConfigurableResource):
    """A local Ollama server and the model Sparky asks; `OLLAMA_HOST` overrides `base_url`."""

    enabled: bool = True  # false: the insights never ask Ollama (no probe, no warning)
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    num_ctx: int = 8192
    num_predict: int = 1024
    seed: int = 42
    keep_alive: str = "5m"
    pull_missing: bool = False
    max_retries: int = 3
    map_repos: int = 10  # repository summaries in a map-reduce (lib/summarize.py)

    def client(
        self,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> OllamaClient:
        """A new client (close it, or use it as a context manager)."""
        return OllamaClient(self, base_url=resolve_base_url(self.base_url, env), sleep=sleep)

    def health(self) -> Health:
        with self.client() as c:
            return c.health()

    def chat(self, messages: Sequence[Mapping[str, Any]], **options: Any) -> ChatResult:
        """One `OllamaClient.chat` (same options: `schema`, `stream`) on a fresh client."""
        with self.client() as c:
            return c.chat(messages, **options)
