"""OllamaClient / OllamaResource against the loopback FakeOllama (no model, no internet)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from fakes.ollama_server import MIDSTREAM_ERROR, SERVER_ERROR, FakeOllama

from sparky_resources.ollama import (
    ChatResult,
    Health,
    OllamaClient,
    OllamaError,
    OllamaModelMissing,
    OllamaResource,
    OllamaUnreachable,
    normalize_model,
    parse_ollama_host,
    resolve_base_url,
)

MODEL = "qwen2.5-coder:1.5b"
FIXTURES = Path(__file__).parent / "fixtures" / "ollama"  # copied from ../shared/fixtures
SCHEMA = {
    "type": "object",
    "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
    "required": ["age", "available"],
}
MESSAGES = [{"role": "user", "content": "Ollama is 22 years old. Answer in JSON."}]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(fake: FakeOllama, sleep: Sleeps | None = None, **settings) -> OllamaClient:
    """A client of `fake` with `settings` (OllamaResource's fields) and a recorded `sleep`."""
    settings.setdefault("timeout_s", 5.0)
    settings.setdefault("connect_timeout_s", 1.0)
    resource = OllamaResource(base_url=fake.base_url, model=MODEL, **settings)
    return OllamaClient(resource, sleep=Sleeps() if sleep is None else sleep)


@pytest.fixture
def fake():
    with FakeOllama() as f:
        yield f
    assert not f.internal_errors, f.internal_errors


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- health, version, tags --------------------------------------------------------------------


def test_health_with_server(fake):
    with client(fake) as c:
        assert c.version() == "0.5.1"
        health = c.health()
    assert health == Health(reachable=True, version="0.5.1", model_present=True, reason=None)
    assert health.ok


def test_health_without_server_never_raises():
    url = f"http://127.0.0.1:{closed_port()}"
    sleeps = Sleeps()
    with OllamaClient(OllamaResource(base_url=url, model=MODEL, max_retries=3), sleep=sleeps) as c:
        health = c.health()
        # health() tries once: no backoff sleeps before it answers.
        assert sleeps == []
        with pytest.raises(OllamaUnreachable, match="not reachable") as info:
            c.version()
    assert len(sleeps) == 3  # version() retried: 4 attempts, 3 waits
    assert health.reachable is False and health.version is None and not health.model_present
    assert health.reason and "\n" not in health.reason and url in health.reason
    assert "after 4 attempts" in str(info.value)


def test_health_model_missing(fake):
    fake.missing_model = True
    health = client(fake).health()
    assert health.reachable and not health.model_present and not health.ok
    assert f"ollama pull {MODEL}" in (health.reason or "")


def test_has_model_latest_tag():
    with FakeOllama(models=["llama3.2", "deepseek-r1:latest", "org/coder:7b"]) as f:
        c = client(f)
        assert f.local_models == ["llama3.2:latest", "deepseek-r1:latest", "org/coder:7b"]
        assert c.has_model("llama3.2") and c.has_model("llama3.2:latest")
        assert c.has_model("deepseek-r1") and c.has_model("org/coder:7b")
        assert not c.has_model("org/coder") and not c.has_model("llama3.2:1b")
        assert not c.has_model(MODEL)


def test_model_names_from_fixture_tags():
    from sparky_resources.ollama import _tag_names

    data = json.loads((FIXTURES / "tags" / "response.json").read_text())
    names = _tag_names(data)
    assert "llama3.2:latest" in names and "deepseek-r1:latest" in names
    assert normalize_model("llama3.2") == "llama3.2:latest"
    assert normalize_model("localhost:5000/ns/m") == "localhost:5000/ns/m:latest"


# -- chat ---------------------------------------------------------------------------------------


def test_chat_nonstreaming_sends_options_format_keep_alive(fake):
    fake.answers.append('{"age": 22, "available": false}')
    c = client(fake, seed=7, num_ctx=4096, keep_alive="10m")
    result = c.chat(MESSAGES, schema=SCHEMA)
    assert isinstance(result, ChatResult)
    assert result.json_content() == {"age": 22, "available": False}
    assert result.done_reason == "stop" and result.model == MODEL
    assert result.eval_count and result.prompt_eval_count and result.total_duration
    (body,) = fake.bodies()
    assert body["model"] == MODEL and body["messages"] == MESSAGES
    assert body["format"] == SCHEMA
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0, "seed": 7, "num_ctx": 4096, "num_predict": 1024}
    assert body["keep_alive"] == "10m"
    # The body has the keys of the documented structured-outputs request, and more.
    documented = json.loads((FIXTURES / "chat" / "structured-outputs.request.json").read_text())
    assert set(documented) <= set(body)


def test_chat_streaming_concatenates(fake):
    text = '{"answer": "The sky is blue because of Rayleigh scattering."}'
    fake.answers.append(text)
    fake.chunk_chars = 3
    result = client(fake).chat(MESSAGES, schema=SCHEMA, stream=True)
    assert result.content == text
    assert result.done_reason == "stop" and result.eval_count == len(text) // 4
    assert fake.bodies()[0]["stream"] is True


def test_chat_answers_scripted_and_callable(fake):
    fake.answers.extend(["first", lambda body: f"echo {body['messages'][-1]['content']}"])
    fake.answer_fn = lambda body: "fallback"
    c = client(fake)
    assert [c.chat(MESSAGES, schema=None).content for _ in range(3)] == [
        "first",
        f"echo {MESSAGES[0]['content']}",
        "fallback",
    ]
    assert "format" not in fake.bodies()[0]
    assert fake.calls["POST /api/chat"] == 3


def test_malformed_content_is_a_clear_error(fake):
    fake.malformed = True
    result = client(fake).chat(MESSAGES, schema=SCHEMA)
    with pytest.raises(OllamaError, match="not JSON"):
        result.json_content()


def test_500_twice_then_success_is_retried(fake):
    fake.http_500_times = 2
    sleeps = Sleeps()
    c = client(fake, sleep=sleeps, max_retries=3)
    assert c.chat(MESSAGES, schema=SCHEMA).content == '{"ok": true}'
    assert fake.calls["POST /api/chat"] == 3
    assert c.counters.requests == 3 and c.counters.retries == 2
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)
    assert sleeps[1] >= 2 * 0.5  # exponential: initial 0.5 s, then 1 s (+ jitter)


def test_500_exhausts_retries_with_servers_text(fake):
    fake.http_500_times = 10
    c = client(fake, max_retries=2)
    with pytest.raises(OllamaError, match=f"after 3 attempts: HTTP 500: {SERVER_ERROR}"):
        c.chat(MESSAGES, schema=None)
    assert fake.calls["POST /api/chat"] == 3


def test_missing_model_404_not_retried(fake):
    fake.missing_model = True
    c = client(fake)
    with pytest.raises(OllamaModelMissing) as info:
        c.chat(MESSAGES, schema=SCHEMA)
    message = str(info.value)
    assert f"ollama pull {MODEL}" in message and "\n" not in message
    assert f'model "{MODEL}" not found, try pulling it first' in message
    assert info.value.status == 404
    assert fake.calls["POST /api/chat"] == 1


def test_missing_model_pulled_when_pull_missing(fake):
    fake.missing_model = True
    c = client(fake, pull_missing=True)
    assert c.chat(MESSAGES, schema=None).content == '{"ok": true}'
    assert fake.calls["POST /api/pull"] == 1 and fake.calls["POST /api/chat"] == 2
    assert fake.bodies("POST /api/pull") == [{"model": MODEL, "stream": True}]


def test_ensure_model(fake):
    fake.missing_model = True
    with pytest.raises(OllamaModelMissing, match="ollama pull"):
        client(fake).ensure_model()
    client(fake, pull_missing=True).ensure_model()
    assert client(fake).has_model()


def test_4xx_not_retried(fake):
    c = client(fake)
    with pytest.raises(OllamaError, match="HTTP 400: model is required") as info:
        c._call("POST", "/api/chat", {"messages": []}, None, None)
    assert info.value.status == 400 and fake.calls["POST /api/chat"] == 1


def test_mid_stream_error_raises_with_servers_text(fake):
    fake.mid_stream_error = True
    fake.answers.append("a long enough answer")
    with pytest.raises(OllamaError, match=f"mid-stream: {MIDSTREAM_ERROR}"):
        client(fake).chat(MESSAGES, schema=None, stream=True)
    assert fake.calls["POST /api/chat"] == 1  # status 200: not a retryable failure


def test_read_timeout_on_slow_answer(fake):
    fake.slow = 2.0
    c = client(fake, timeout_s=0.2, max_retries=1)
    started = time.monotonic()
    with pytest.raises(OllamaError, match=r"no answer within 0.2 s \(timeout_s\)") as info:
        c.chat(MESSAGES, schema=None)
    # Two attempts cut off at 0.2 s each, not two 2-second answers waited for.
    assert time.monotonic() - started < 3.5
    assert not isinstance(info.value, OllamaUnreachable)
    assert "after 2 attempts" in str(info.value)
    assert fake.calls["POST /api/chat"] == 2


# -- pull -------------------------------------------------------------------------------------


def test_pull_streams_statuses_until_success(fake):
    seen: list[str] = []
    statuses = client(fake).pull("llama3.2", on_status=lambda s: seen.append(s["status"]))
    assert seen[0] == "pulling manifest" and seen[-1] == "success"
    assert [s["status"] for s in statuses] == seen
    assert any("completed" in s and "total" in s for s in statuses)
    assert client(fake).has_model("llama3.2")


def test_pull_error_line_raises():
    with FakeOllama(unpullable=["nope"]) as f, pytest.raises(OllamaError) as info:
        client(f).pull("nope")
    assert "pull model manifest: file does not exist" in str(info.value)


# -- base URL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", None),
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:11500", "http://127.0.0.1:11500"),
        (":8080", "http://127.0.0.1:8080"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:9000", "http://gpu-box:9000"),
        ("http://gpu-box:9000", "http://gpu-box:9000"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example.com/api-proxy/", "https://ollama.example.com:443/api-proxy"),
        ("ollama.com", "https://ollama.com:443"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("::", "http://[::1]:11434"),
        ('"localhost:1234"', "http://localhost:1234"),
        ("localhost:notaport", "http://localhost:11434"),
    ],
)
def test_ollama_host_forms(value, url):
    config = "http://configured:11434/"
    resolved = resolve_base_url(config, {"OLLAMA_HOST": value})
    assert resolved == (url or "http://configured:11434")
    if value:
        assert parse_ollama_host(value) == url


def test_resource_builds_client_from_env(fake, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake.base_url.removeprefix("http://"))
    resource = OllamaResource(base_url="http://nowhere.invalid:1", seed=3, num_ctx=2048)
    assert resource.health().ok
    fake.answers.append('{"age": 1, "available": true}')
    result = resource.chat(MESSAGES, schema=SCHEMA)
    assert result.json_content()["age"] == 1
    assert fake.bodies()[0]["options"] == {
        "temperature": 0,
        "seed": 3,
        "num_ctx": 2048,
        "num_predict": 1024,
    }
    with resource.client() as c:
        assert c.base_url == fake.base_url and c.model == MODEL
