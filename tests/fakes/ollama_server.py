"""A loopback fake of Ollama's HTTP API: real HTTP on 127.0.0.1, Ollama's own wire formats.

    with FakeOllama(models=["qwen2.5-coder:1.5b"]) as ol:   # or ol = FakeOllama().start()
        ol.answers.append('{"ok": true}')                   # or ol.answer_fn = lambda body: ...
        client = OllamaClient(OllamaResource(base_url=ol.base_url, ...))
        ol.http_500_times = 2                               # faults, see below
        ol.requests[-1].body["options"], ol.calls["POST /api/chat"]

Formats follow `../shared/fixtures/ollama/` (docs/api.md and docs/api/*.mdx of ollama/ollama):
`GET /api/version` -> `{"version": ...}`; `GET /api/tags` -> `{"models": [{"name", "model",
"modified_at", "size", "digest", "details"}]}`; `POST /api/chat` non-streaming -> one object
(`message`, `done: true`, `done_reason`, durations in ns, counts) as `application/json`,
streaming (the default when `stream` is absent) -> `application/x-ndjson`, chunked, one piece of
`message.content` per line then a final `done: true` line with empty content and the usage
fields; `POST /api/pull` -> NDJSON statuses ending in `{"status": "success"}`. Errors are
`{"error": "..."}`: 400 `missing request body` / `model is required` / invalid JSON, 404
`model "<name>" not found, try pulling it first` (server/routes.go `handleScheduleError`), 500
`the model failed to generate a response` (errors.mdx). A mid-stream error keeps status 200 and
sends `{"error": "an error was encountered while running the model"}` as a line.

Faults (attributes, also constructor keywords): `malformed` (answer content that is not JSON),
`mid_stream_error` (two chunks, then the error line; non-streaming: a 500), `slow` (seconds to wait
before answering), `http_500_times` (the next n API requests answer 500, then normal),
`missing_model` (no model is local: tags lists none, chat answers 404). `chat_500_times` and
`slow_chat` do the same to `POST /api/chat` only, so that health checks still pass.
"""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ANSWER = '{"ok": true}'
MIDSTREAM_ERROR = "an error was encountered while running the model"
SERVER_ERROR = "the model failed to generate a response"
Answer = str | Callable[[dict[str, Any]], str]


def normalize(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any  # parsed JSON, or the raw text when it did not parse, or None


class FakeOllama:
    def __init__(
        self,
        models: Iterable[str] = ("qwen2.5-coder:1.5b",),
        *,
        version: str = "0.5.1",
        answers: Iterable[Answer] = (),
        answer_fn: Callable[[dict[str, Any]], str] | None = None,
        malformed: bool = False,
        mid_stream_error: bool = False,
        slow: float = 0.0,
        http_500_times: int = 0,
        chat_500_times: int = 0,
        slow_chat: float = 0.0,
        missing_model: bool = False,
        unpullable: Iterable[str] = (),
        chunk_chars: int = 4,
    ) -> None:
        self.models: list[str] = [normalize(m) for m in models]
        self.version = version
        self.answers: deque[Answer] = deque(answers)
        self.answer_fn = answer_fn
        self.malformed = malformed
        self.mid_stream_error = mid_stream_error
        self.slow = slow
        self.http_500_times = http_500_times
        self.chat_500_times = chat_500_times
        self.slow_chat = slow_chat
        self.missing_model = missing_model
        self.unpullable = {normalize(m) for m in unpullable}
        self.chunk_chars = max(1, chunk_chars)
        self.requests: list[Recorded] = []
        self.calls: Counter[str] = Counter()
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        self._stop.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-ollama",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes `slow` waits
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests --------------------------------------------------------------------

    def bodies(self, route: str = "POST /api/chat") -> list[Any]:
        method, path = route.split(" ", 1)
        return [r.body for r in self.requests if r.method == method and r.path == path]

    @property
    def local_models(self) -> list[str]:
        return [] if self.missing_model else list(self.models)

    def next_answer(self, body: dict[str, Any]) -> str:
        if self.malformed:
            return "Sure! Here is the JSON you asked for: {not json"
        with self._lock:
            answer: Answer | None = self.answers.popleft() if self.answers else None
        if answer is None:
            answer = self.answer_fn or DEFAULT_ANSWER
        return answer(body) if callable(answer) else answer


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        with fake._lock:
            fake.requests.append(Recorded(method, path, body))
            fake.calls[f"{method} {path}"] += 1
            fail = fake.http_500_times > 0 and path.startswith("/api/")
            if fail:
                fake.http_500_times -= 1
            chat = path == "/api/chat"
            if chat and not fail and fake.chat_500_times > 0:
                fake.chat_500_times -= 1
                fail = True
        try:
            delay = fake.slow + (fake.slow_chat if chat else 0.0)
            if delay and fake._stop.wait(delay):
                return
            if fail:
                self._error(500, SERVER_ERROR)
                return
            route = {
                ("GET", "/api/version"): self._version,
                ("HEAD", "/api/version"): self._version,
                ("GET", "/api/tags"): self._tags,
                ("HEAD", "/api/tags"): self._tags,
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/pull"): self._pull,
            }.get((method, path))
            if route is None:
                self._send(404, b"404 page not found", "text/plain")
                return
            route(raw, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        except Exception as exc:  # a bug in the fake: answer 500, keep it for the test
            fake.internal_errors.append(traceback.format_exc())
            with contextlib.suppress(OSError):
                self._error(500, f"fake ollama bug: {exc}")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _stream(self, lines: Iterable[dict[str, Any]]) -> None:
        """NDJSON, chunked as Ollama sends it (no Content-Length; status fixed at 200)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in lines:
            data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- routes -------------------------------------------------------------------------------

    def _version(self, raw: str, body: Any) -> None:
        self._json(200, {"version": self.fake.version})

    def _tags(self, raw: str, body: Any) -> None:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": "2025-05-10T08:06:48.639712648-07:00",
                "size": 986061892,
                "digest": f"{abs(hash(name)):064x}"[:64],
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "qwen2",
                    "families": ["qwen2"],
                    "parameter_size": "1.5B",
                    "quantization_level": "Q4_K_M",
                },
            }
            for name in self.fake.local_models
        ]
        self._json(200, {"models": models})

    def _require(self, raw: str, body: Any) -> dict[str, Any] | None:
        if not raw:
            self._error(400, "missing request body")
            return None
        if not isinstance(body, dict):
            self._error(400, "invalid character looking for beginning of value")
            return None
        if not body.get("model"):
            self._error(400, "model is required")
            return None
        return body

    def _chat(self, raw: str, body: Any) -> None:
        fake = self.fake
        req = self._require(raw, body)
        if req is None:
            return
        name = str(req["model"])
        if normalize(name) not in fake.local_models:
            self._error(404, f'model "{name}" not found, try pulling it first')
            return
        stream = req.get("stream", True) is not False
        if fake.mid_stream_error and not stream:
            self._error(500, MIDSTREAM_ERROR)
            return
        content = fake.next_answer(req)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in req["messages"])
        usage = {
            "total_duration": 2254970291,
            "load_duration": 574751416,
            "prompt_eval_count": max(1, prompt_tokens),
            "prompt_eval_duration": 1502000000,
            "eval_count": max(1, len(content) // 4),
            "eval_duration": 175000000,
        }
        if not stream:
            self._json(
                200,
                {
                    "model": name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": content},
                    "done_reason": "stop",
                    "done": True,
                    **usage,
                },
            )
            return
        step = fake.chunk_chars
        pieces = [content[i : i + step] for i in range(0, len(content), step)] or [""]
        chunks = [
            {
                "model": name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            for piece in pieces
        ]
        if fake.mid_stream_error:
            self._stream([*chunks[:2], {"error": MIDSTREAM_ERROR}])
            return
        final = {
            "model": name,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done_reason": "stop",
            "done": True,
            **usage,
        }
        self._stream([*chunks, final])

    def _pull(self, raw: str, body: Any) -> None:
        fake = self.fake
        req = self._require(raw, body)
        if req is None:
            return
        name = normalize(str(req["model"]))
        digest = "sha256:" + f"{abs(hash(name)):x}".rjust(64, "0")[:64]
        if name in fake.unpullable:
            self._stream(
                [
                    {"status": "pulling manifest"},
                    {"error": "pull model manifest: file does not exist"},
                ]
            )
            return
        total = 986061892
        lines = [
            {"status": "pulling manifest"},
            *(
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": c,
                }
                for c in (0, total // 2, total)
            ),
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        with fake._lock:
            if name not in fake.models:
                fake.models.append(name)
            fake.missing_model = False
        if req.get("stream", True) is False:
            self._json(200, {"status": "success"})
            return
        self._stream(lines)
