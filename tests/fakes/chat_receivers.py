"""Loopback receivers for chat webhooks: Slack incoming webhooks, Discord execute-webhook, and a
plain JSON hook, each validating what it is sent the way the real service does.

    with ChatReceivers() as rx:                       # or rx = ChatReceivers().start(); rx.stop()
        url = rx.url_for("/slack/T000/B000/XXXX")     # /slack/..., /discord/..., /hook/...
        rx.fail("/slack/", [429, 503], retry_after=1)  # answered before the next success
        ...                                            # the client under test posts to `url`
        rx.requests[-1].body, rx.received("/slack/"), rx.times("/slack/")

Real HTTP on 127.0.0.1 (stdlib `ThreadingHTTPServer`, an ephemeral port, a background thread,
HTTP/1.1 keep-alive), in the style of `github_server.py` and `ollama_server.py`. Every request is
recorded (method, path, query, headers, parsed JSON body, monotonic time, status answered), so a
test can check what was posted and how long a client waited between tries.

Routes (POST only; another method answers 405, another path 404):

- `/slack/<anything>`: a Slack incoming webhook. Validated by `slack_problems`; answers 200 `ok`
  (text/plain), or 400 with Slack's error string as the body (`invalid_payload`, `no_text`,
  `invalid_blocks`, `invalid_blocks_format`). Slack, "Sending messages using incoming webhooks"
  (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks) and the changelog
  "Improving error conditions for Incoming Webhooks" (api.slack.com/changelog/
  2016-05-17-changes-to-errors-for-incoming-webhooks): errors are "simple strings ... in the
  response body" with HTTP 400/403/404/410/500.
- `/discord/<anything>`: a Discord "Execute Webhook" (https://discord.com/developers/docs/
  resources/webhook#execute-webhook). Validated by `discord_problems`; answers 204 No Content
  (Discord's answer without `?wait=true`), 200 with a message object with `?wait=true`, or 400
  with Discord's JSON error: `{"code": 50035, "errors": {...}, "message": "Invalid Form Body"}`,
  or `{"code": 50006, "message": "Cannot send an empty message"}` when there is neither content
  nor an embed ("JSON Error Codes", https://discord.com/developers/docs/topics/opcodes-and-
  status-codes#json).
- `/hook/<anything>`: any JSON object; 200 `{"ok": true}`; anything else 400.

Faults: `fail(path_prefix, [429, 503, ...], retry_after=1.0)` queues statuses that the next
requests under that prefix are answered with, before the normal answer. A 429 carries
`Retry-After: <whole seconds>` (Slack, "Rate limits": "HTTP 429 Too Many Requests ... and a
Retry-After header containing the number of seconds until you can retry",
https://docs.slack.dev/apis/web-api/rate-limits); on Discord paths its body is Discord's rate
limit response `{"message": "You are being rate limited.", "retry_after": <seconds, float>,
"global": false}` ("Rate Limits", https://discord.com/developers/docs/topics/rate-limits
#exceeding-a-rate-limit). `delay(path_prefix, seconds)` makes answers under a prefix slow (a
client's timeout).

The validators are plain functions too (`slack_problems(payload)`, `discord_problems(payload)`:
a list of problems, empty when valid), so formatter tests can check payloads without a server.
Lengths are counted in Unicode code points (Python's `len`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# --- Slack (Block Kit) -------------------------------------------------------------------------
# "Blocks": "You can include up to 50 blocks in each message" (https://docs.slack.dev/reference/
# block-kit/blocks). "Header block": text is plain_text, "Maximum length ... is 150 characters"
# (.../blocks/header-block). "Section block": "Maximum length for the text in this field is 3000
# characters" (.../blocks/section-block). "Context block": elements, "Maximum number of items is
# 10" (.../blocks/context-block). "Text object": text "minimum of 1 and maximum of 3000"
# characters (.../composition-objects/text-object). block_id: "Maximum length ... 255".
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_TEXT_OBJECT_CHARS = 3000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_BLOCK_ID_CHARS = 255

# --- Discord ------------------------------------------------------------------------------------
# "Execute Webhook": content "the message contents (up to 2000 characters)", embeds "array of up
# to 10 embed objects" (https://discord.com/developers/docs/resources/webhook#execute-webhook).
# "Embed Limits" (https://discord.com/developers/docs/resources/message#embed-object-embed-
# limits): title 256, description 4096, fields up to 25, field name 256, field value 1024, footer
# text 2048, author name 256; "the sum of all characters from all embed structures in a message
# must not exceed 6000" (title, description, field names and values, footer text, author name).
DISCORD_CONTENT_CHARS = 2000
DISCORD_MAX_EMBEDS = 10
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_MAX_FIELDS = 25
DISCORD_FIELD_NAME_CHARS = 256
DISCORD_FIELD_VALUE_CHARS = 1024
DISCORD_FOOTER_CHARS = 2048
DISCORD_AUTHOR_CHARS = 256
DISCORD_EMBEDS_TOTAL_CHARS = 6000
# "Allowed Mention Types" (https://discord.com/developers/docs/resources/message#allowed-mentions-
# object-allowed-mention-types).
DISCORD_MENTION_TYPES = frozenset({"roles", "users", "everyone"})

TEXT_TYPES = ("plain_text", "mrkdwn")


# ------------------------------------------------------------------------------------------------
# Slack validation


def _slack_text_object(obj: Any, where: str, *, types: tuple[str, ...], limit: int) -> list[str]:
    if not isinstance(obj, dict):
        return [f"invalid_blocks: {where} must be a text object"]
    problems = []
    kind = obj.get("type")
    if kind not in types:
        problems.append(f"invalid_blocks: {where}.type must be one of {', '.join(types)}")
    allowed = {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}
    extra = sorted(set(obj) - allowed)
    if extra:
        problems.append(f"invalid_blocks: {where} has unknown fields {extra}")
    text = obj.get("text")
    if not isinstance(text, str):
        problems.append(f"invalid_blocks: {where}.text must be a string")
    elif not 1 <= len(text) <= limit:
        problems.append(f"invalid_blocks: {where}.text is {len(text)} characters (1 to {limit})")
    return problems


def _slack_block(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"invalid_blocks: {where} must be an object"]
    kind = block.get("type")
    problems: list[str] = []
    block_id = block.get("block_id")
    if block_id is not None and (
        not isinstance(block_id, str) or len(block_id) > SLACK_BLOCK_ID_CHARS
    ):
        problems.append(f"invalid_blocks: {where}.block_id must be a string of at most 255")
    fields = {
        "header": {"text"},
        "section": {"text"},
        "context": {"elements"},
        "divider": set(),
    }.get(kind if isinstance(kind, str) else "")
    if fields is None:
        return [*problems, f"invalid_blocks: {where}.type {kind!r} is not a known block type"]
    extra = sorted(set(block) - fields - {"type", "block_id"})
    if extra:
        problems.append(f"invalid_blocks: {where} has unknown fields {extra}")
    if kind == "header":
        problems += _slack_text_object(
            block.get("text"), f"{where}.text", types=("plain_text",), limit=SLACK_HEADER_CHARS
        )
    elif kind == "section":
        problems += _slack_text_object(
            block.get("text"), f"{where}.text", types=TEXT_TYPES, limit=SLACK_SECTION_CHARS
        )
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(f"invalid_blocks: {where}.elements must be a non-empty array")
        elif len(elements) > SLACK_CONTEXT_ELEMENTS:
            problems.append(
                f"invalid_blocks: {where}.elements has {len(elements)} items "
                f"(at most {SLACK_CONTEXT_ELEMENTS})"
            )
        else:
            for i, element in enumerate(elements):
                problems += _slack_text_object(
                    element,
                    f"{where}.elements[{i}]",
                    types=TEXT_TYPES,
                    limit=SLACK_TEXT_OBJECT_CHARS,
                )
    return problems


def slack_problems(payload: Any) -> list[str]:
    """What Slack would reject in an incoming-webhook payload, each problem starting with the
    error string Slack answers (`invalid_payload`, `no_text`, `invalid_blocks_format`,
    `invalid_blocks`); empty when Slack would post it."""
    if not isinstance(payload, dict):
        return ["invalid_payload: the payload must be a JSON object"]
    problems: list[str] = []
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        problems.append("invalid_payload: text must be a string")
    blocks = payload.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list):
            return [*problems, "invalid_blocks_format: blocks must be an array"]
        if len(blocks) > SLACK_MAX_BLOCKS:
            problems.append(
                f"invalid_blocks: {len(blocks)} blocks (at most {SLACK_MAX_BLOCKS} in a message)"
            )
        for i, block in enumerate(blocks):
            problems += _slack_block(block, f"blocks[{i}]")
    if not blocks and not (isinstance(text, str) and text.strip()):
        problems.append("no_text: neither text nor blocks")
    return problems


# ------------------------------------------------------------------------------------------------
# Discord validation


@dataclass(frozen=True)
class DiscordError:
    path: tuple[str | int, ...]  # where in the body, as Discord's `errors` object nests it
    code: str  # Discord's error code for a field, e.g. BASE_TYPE_MAX_LENGTH
    message: str


def _max_length(value: Any, path: tuple[str | int, ...], limit: int) -> list[DiscordError]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [DiscordError(path, "BASE_TYPE_STRING", "Must be a string.")]
    if len(value) > limit:
        return [DiscordError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")]
    return []


def _embed_errors(embed: Any, i: int) -> tuple[list[DiscordError], int]:
    """An embed's problems and the characters it counts towards the 6000 of all embeds."""
    at: tuple[str | int, ...] = ("embeds", i)
    if not isinstance(embed, dict):
        return [DiscordError(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")], 0
    errors = _max_length(embed.get("title"), (*at, "title"), DISCORD_TITLE_CHARS)
    errors += _max_length(embed.get("description"), (*at, "description"), DISCORD_DESCRIPTION_CHARS)
    url = embed.get("url")
    if url is not None and not isinstance(url, str):
        errors.append(DiscordError((*at, "url"), "BASE_TYPE_STRING", "Must be a string."))
    counted = [embed.get("title"), embed.get("description")]
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors.append(DiscordError((*at, "fields"), "BASE_TYPE_LIST", "Must be a list."))
        fields = []
    if len(fields) > DISCORD_MAX_FIELDS:
        errors.append(
            DiscordError(
                (*at, "fields"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {DISCORD_MAX_FIELDS} or fewer in length.",
            )
        )
    for j, f in enumerate(fields):
        if not isinstance(f, dict):
            errors.append(
                DiscordError((*at, "fields", j), "MODEL_TYPE_CONVERT", "Must be an object.")
            )
            continue
        errors += _max_length(f.get("name"), (*at, "fields", j, "name"), DISCORD_FIELD_NAME_CHARS)
        errors += _max_length(
            f.get("value"), (*at, "fields", j, "value"), DISCORD_FIELD_VALUE_CHARS
        )
        counted += [f.get("name"), f.get("value")]
    for key, limit, sub in (
        ("footer", DISCORD_FOOTER_CHARS, "text"),
        ("author", DISCORD_AUTHOR_CHARS, "name"),
    ):
        part = embed.get(key)
        if isinstance(part, dict):
            errors += _max_length(part.get(sub), (*at, key, sub), limit)
            counted.append(part.get(sub))
    total = sum(len(c) for c in counted if isinstance(c, str))
    return errors, total


def discord_errors(payload: Any) -> tuple[int, list[DiscordError]]:
    """Discord's JSON error code for the body (0: valid, 50006: empty message, 50035: invalid
    form body, 50109: not a JSON object) and the field errors behind a 50035."""
    if not isinstance(payload, dict):
        return 50109, [DiscordError((), "MODEL_TYPE_CONVERT", "The request body is not JSON.")]
    errors = _max_length(payload.get("content"), ("content",), DISCORD_CONTENT_CHARS)
    embeds = payload.get("embeds")
    if embeds is not None and not isinstance(embeds, list):
        errors.append(DiscordError(("embeds",), "BASE_TYPE_LIST", "Must be a list."))
        embeds = None
    total = 0
    for i, embed in enumerate(embeds or []):
        embed_errors, chars = _embed_errors(embed, i)
        errors += embed_errors
        total += chars
    if embeds and len(embeds) > DISCORD_MAX_EMBEDS:
        errors.append(
            DiscordError(
                ("embeds",),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {DISCORD_MAX_EMBEDS} or fewer in length.",
            )
        )
    if total > DISCORD_EMBEDS_TOTAL_CHARS:
        errors.append(
            DiscordError(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {DISCORD_EMBEDS_TOTAL_CHARS}",
            )
        )
    mentions = payload.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse") if isinstance(mentions, dict) else None
        if not isinstance(mentions, dict) or (
            parse is not None
            and (not isinstance(parse, list) or not set(parse) <= DISCORD_MENTION_TYPES)
        ):
            errors.append(
                DiscordError(
                    ("allowed_mentions", "parse"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {'roles', 'users', 'everyone'}.",
                )
            )
    if errors:
        return 50035, errors
    content = payload.get("content")
    if not (isinstance(content, str) and content.strip()) and not embeds:
        return 50006, []
    return 0, []


def discord_problems(payload: Any) -> list[str]:
    """What Discord would reject in an execute-webhook body, one line each ("embeds.0.title:
    Must be 256 or fewer in length."); empty when Discord would post it."""
    code, errors = discord_errors(payload)
    if code == 50006:
        return ["Cannot send an empty message"]
    return [f"{'.'.join(map(str, e.path)) or 'body'}: {e.message}" for e in errors]


def _discord_error_body(code: int, errors: list[DiscordError]) -> dict[str, Any]:
    """Discord's nested `errors` object: each path, then `_errors` with code and message."""
    if code == 50006:
        return {"message": "Cannot send an empty message", "code": 50006}
    if code == 50109:
        return {"message": "The request body contains invalid JSON.", "code": 50109}
    tree: dict[str, Any] = {}
    for e in errors:
        node = tree
        for part in e.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": e.code, "message": e.message})
    return {"code": 50035, "errors": tree, "message": "Invalid Form Body"}


# ------------------------------------------------------------------------------------------------
# The server


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or the raw text when it did not parse, or None
    at: float  # time.monotonic() when the request was read
    status: int  # what the receiver answered


@dataclass
class _Faults:
    statuses: deque[int] = field(default_factory=deque)
    retry_after: float = 1.0


class ChatReceivers:
    """Slack, Discord and plain JSON webhook receivers on one loopback server."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.internal_errors: list[str] = []
        self._faults: dict[str, _Faults] = {}
        self._delays: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ChatReceivers:
        self._stop.clear()
        handler = type("Handler", (_Handler,), {"receivers": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="chat-receivers",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes delayed answers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> ChatReceivers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for tests --------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """The full URL of `path` ("/slack/T0/B0/secret") on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def fail(self, path_prefix: str, statuses: Iterable[int], retry_after: float = 1.0) -> None:
        """Answer the next requests under `path_prefix` with `statuses`, one each, in order,
        before answering normally again; a 429 asks to wait `retry_after` seconds."""
        with self._lock:
            faults = self._faults.setdefault(path_prefix, _Faults())
            faults.statuses.extend(statuses)
            faults.retry_after = retry_after

    def delay(self, path_prefix: str, seconds: float) -> None:
        """Wait `seconds` before answering any request under `path_prefix` (0: no delay)."""
        with self._lock:
            self._delays[path_prefix] = seconds

    def received(self, path_prefix: str = "/") -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def bodies(self, path_prefix: str = "/") -> list[Any]:
        return [r.body for r in self.received(path_prefix)]

    def times(self, path_prefix: str = "/") -> list[float]:
        """When each request under the prefix arrived (time.monotonic())."""
        return [r.at for r in self.received(path_prefix)]

    def gaps(self, path_prefix: str = "/") -> list[float]:
        """Seconds between consecutive requests under the prefix: how long a client waited."""
        t = self.times(path_prefix)
        return [b - a for a, b in itertools.pairwise(t)]

    # -- used by the handler ----------------------------------------------------------------

    def _take_fault(self, path: str) -> tuple[int, float] | None:
        with self._lock:
            for prefix, faults in self._faults.items():
                if path.startswith(prefix) and faults.statuses:
                    return faults.statuses.popleft(), faults.retry_after
        return None

    def _delay_for(self, path: str) -> float:
        with self._lock:
            return max((s for p, s in self._delays.items() if path.startswith(p)), default=0.0)


@dataclass(frozen=True)
class _Response:
    status: int
    data: bytes = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), "application/json", headers or {})


def _answer(
    rx: ChatReceivers, method: str, path: str, query: str, body: Any, headers: dict[str, str]
) -> _Response:
    """What the receiver answers: a route's validation, or a queued fault."""
    kind = next((k for k in ("slack", "discord", "hook") if path.startswith(f"/{k}/")), None)
    if kind is None:
        return _Response(404, b"not found")
    if method != "POST":
        return _Response(405, b"method not allowed")
    fault = rx._take_fault(path)
    if fault is not None:
        return _fault(kind, *fault)
    is_json = headers.get("content-type", "").split(";")[0].strip() == "application/json"
    if kind == "slack":
        problems = slack_problems(body) if is_json else ["invalid_payload: not JSON"]
        if problems:
            return _Response(400, problems[0].split(":", 1)[0].encode())
        return _Response(200, b"ok")
    if kind == "discord":
        code, errors = discord_errors(body) if is_json else (50109, [])
        if code:
            return _json(400, _discord_error_body(code, errors))
        if parse_qs(query).get("wait") == ["true"]:
            return _json(200, {**body, "id": str(len(rx.requests) + 1)})
        return _Response(204, content_type=None)
    if not is_json or not isinstance(body, dict):
        return _json(400, {"error": "a JSON object is required"})
    return _json(200, {"ok": True})


def _fault(kind: str, status: int, retry_after: float) -> _Response:
    if status == 429:
        # Retry-After is whole seconds (RFC 9110 section 10.2.3: delay-seconds = 1*DIGIT).
        wait = {"Retry-After": str(math.ceil(retry_after))}
        if kind == "discord":
            body = {"message": "You are being rate limited.", "retry_after": retry_after}
            return _json(429, {**body, "global": False}, wait)
        return _Response(429, b"rate_limited", headers=wait)
    if kind == "discord":
        return _json(status, {"message": f"{status}: fault", "code": 0})
    return _Response(status, b"rollup_error" if kind == "slack" and status == 500 else b"fault")


class _Handler(BaseHTTPRequestHandler):
    receivers: ChatReceivers
    protocol_version = "HTTP/1.1"
    server_version = "FakeChat/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: a URL may hold a secret
        pass

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        rx = self.receivers
        at = time.monotonic()
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            delay = rx._delay_for(path)
            if delay and rx._stop.wait(delay):
                return
            response = _answer(rx, method, path, query, body, headers)
        except Exception as exc:  # a bug in the fake: answer 500, keep it for the test
            rx.internal_errors.append(traceback.format_exc())
            response = _Response(500, f"fake chat receiver bug: {type(exc).__name__}".encode())
        # Recorded before answering, so a client that has its answer finds its request here.
        with rx._lock:
            rx.requests.append(Received(method, path, query, headers, body, at, response.status))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client gave up
            self._send(response)

    def _send(self, r: _Response) -> None:
        self.send_response(r.status)
        if r.content_type is not None:
            self.send_header("Content-Type", r.content_type)
        for name, value in r.headers.items():
            self.send_header(name, value)
        if r.status != 204:  # RFC 9110: a 204 has no content and no Content-Length is needed
            self.send_header("Content-Length", str(len(r.data)))
        self.end_headers()
        if r.status != 204 and r.data:
            self.wfile.write(r.data)
