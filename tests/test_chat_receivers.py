"""The loopback chat receivers accept each documented limit exactly and reject it by one over, and
answer in the services' own formats (status, body, Retry-After), over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fakes.chat_receivers import ChatReceivers, discord_problems, slack_problems


@pytest.fixture(scope="module")
def rx() -> Any:
    with ChatReceivers() as receivers:
        yield receivers


def post(rx: ChatReceivers, path: str, body: Any) -> httpx.Response:
    return httpx.post(rx.url_for(path), json=body, timeout=5)


def section(n: int) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": "x" * n}}


def header(n: int) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": "h" * n}}


def context(n: int) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * n}


# --- Slack ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "hello"},
        {"text": "fallback", "blocks": [header(150), section(3000), context(10)]},
        {"blocks": [section(1)] * 50},
        {
            "blocks": [
                {"type": "divider"},
                {"type": "section", "text": {"type": "plain_text", "text": "p"}},
            ]
        },
    ],
    ids=["text", "at-limits", "50-blocks", "divider-plain"],
)
def test_slack_accepts_at_the_limits(rx: ChatReceivers, payload: dict[str, Any]) -> None:
    assert slack_problems(payload) == []
    r = post(rx, "/slack/T0/B0/secret", payload)
    assert (r.status_code, r.text, r.headers["content-type"].split(";")[0]) == (
        200,
        "ok",
        "text/plain",
    )


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"blocks": [section(1)] * 51}, "invalid_blocks"),
        ({"blocks": [header(151)]}, "invalid_blocks"),
        ({"blocks": [section(3001)]}, "invalid_blocks"),
        ({"blocks": [section(0)]}, "invalid_blocks"),
        ({"blocks": [context(11)]}, "invalid_blocks"),
        (
            {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
            "invalid_blocks",
        ),
        (
            {"blocks": [{"type": "section", "text": {"type": "markdown", "text": "h"}}]},
            "invalid_blocks",
        ),
        ({"blocks": [{"type": "table"}]}, "invalid_blocks"),
        ({"blocks": [{"type": "divider", "text": "no"}]}, "invalid_blocks"),
        ({"blocks": "not a list"}, "invalid_blocks_format"),
        ({}, "no_text"),
        ({"text": "   "}, "no_text"),
        ({"text": 5}, "invalid_payload"),
        ([], "invalid_payload"),
    ],
    ids=[
        "51-blocks",
        "header-151",
        "section-3001",
        "section-empty",
        "context-11",
        "header-mrkdwn",
        "text-type",
        "unknown-block",
        "unknown-field",
        "blocks-format",
        "empty",
        "blank-text",
        "text-not-str",
        "not-object",
    ],
)
def test_slack_rejects_one_over(rx: ChatReceivers, payload: Any, error: str) -> None:
    problems = slack_problems(payload)
    assert problems and problems[0].startswith(error + ":"), problems
    r = post(rx, "/slack/T0/B0/secret", payload)
    assert (r.status_code, r.text) == (400, error)


def test_slack_wants_json(rx: ChatReceivers) -> None:
    r = httpx.post(rx.url_for("/slack/x"), content=b'{"text": "hi"}', timeout=5)
    assert (r.status_code, r.text) == (400, "invalid_payload")


# --- Discord -------------------------------------------------------------------------------------


def embed(title: int = 0, description: int = 0, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {}
    if title:
        e["title"] = "t" * title
    if description:
        e["description"] = "d" * description
    return e | extra


@pytest.mark.parametrize(
    "payload",
    [
        {"content": "c" * 2000},
        {"embeds": [embed(256, 4096, url="https://example.com/")]},
        {"embeds": [embed(1)] * 10},
        {"embeds": [embed(0, 3000), embed(0, 3000)]},  # 6000 in all
        {  # 4096 + footer 5 + author 5 + 1894: the sum counts footer text and author name
            "embeds": [
                embed(0, 4096, footer={"text": "12345"}, author={"name": "12345"}),
                embed(0, 1894),
            ],
            "allowed_mentions": {"parse": []},
        },
    ],
    ids=["content-2000", "title-256-desc-4096", "10-embeds", "total-6000", "footer-author"],
)
def test_discord_accepts_at_the_limits(rx: ChatReceivers, payload: dict[str, Any]) -> None:
    assert discord_problems(payload) == []
    r = post(rx, "/discord/123/secret", payload)
    assert (r.status_code, r.content) == (204, b"")


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        ({"content": "c" * 2001}, ("content",), "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [embed(1)] * 11}, ("embeds",), "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [embed(257)]}, ("embeds", "0", "title"), "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [embed(0, 4097)]}, ("embeds", "0", "description"), "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [embed(1, 3000), embed(0, 3000)]}, ("embeds",), "MAX_EMBED_SIZE_EXCEEDED"),
        (
            {
                "embeds": [
                    embed(0, 4096, footer={"text": "f"}),
                    embed(0, 1903, author={"name": "a"}),
                ]
            },
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        ({"embeds": [embed(1, url=5)]}, ("embeds", "0", "url"), "BASE_TYPE_STRING"),
        (
            {"content": "x", "allowed_mentions": {"parse": ["here"]}},
            ("allowed_mentions", "parse"),
            "BASE_TYPE_CHOICES",
        ),
    ],
    ids=[
        "content-2001",
        "11-embeds",
        "title-257",
        "desc-4097",
        "total-6001",
        "total-footer-author",
        "url-type",
        "mention-type",
    ],
)
def test_discord_rejects_one_over(
    rx: ChatReceivers, payload: dict[str, Any], path: tuple[str, ...], code: str
) -> None:
    assert discord_problems(payload), payload
    r = post(rx, "/discord/123/secret", payload)
    assert r.status_code == 400
    body = r.json()
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    node = body["errors"]
    for part in path:
        node = node[part]
    assert [e["code"] for e in node["_errors"]] == [code]


@pytest.mark.parametrize("payload", [{}, {"content": ""}, {"embeds": []}, {"content": "  "}])
def test_discord_rejects_an_empty_message(rx: ChatReceivers, payload: dict[str, Any]) -> None:
    assert discord_problems(payload) == ["Cannot send an empty message"]
    r = post(rx, "/discord/123/secret", payload)
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Cannot send an empty message", "code": 50006},
    )


def test_discord_wait_true_answers_the_message(rx: ChatReceivers) -> None:
    r = post(rx, "/discord/123/secret?wait=true", {"content": "hi"})
    assert r.status_code == 200
    assert r.json()["content"] == "hi"
    assert rx.requests[-1].query == "wait=true"
    assert rx.requests[-1].path == "/discord/123/secret"


# --- plain hook, routing, recording --------------------------------------------------------------


def test_hook_takes_any_json_object(rx: ChatReceivers) -> None:
    assert post(rx, "/hook/a", {"anything": [1, 2]}).json() == {"ok": True}
    assert post(rx, "/hook/a", [1, 2]).status_code == 400


def test_routes_and_methods(rx: ChatReceivers) -> None:
    assert post(rx, "/elsewhere", {"text": "x"}).status_code == 404
    assert httpx.get(rx.url_for("/slack/x"), timeout=5).status_code == 405


def test_records_path_headers_and_body() -> None:
    with ChatReceivers() as fresh:
        httpx.post(
            fresh.url_for("hook/team-a"),
            json={"k": "v"},
            headers={"User-Agent": "sparky-test"},
            timeout=5,
        )
        (req,) = fresh.received("/hook/")
        assert (req.method, req.path, req.body, req.status) == (
            "POST",
            "/hook/team-a",
            {"k": "v"},
            200,
        )
        assert req.headers["user-agent"] == "sparky-test"
        assert req.headers["content-type"] == "application/json"
        assert fresh.received("/slack/") == []
        assert fresh.internal_errors == []


# --- faults --------------------------------------------------------------------------------------


def test_slack_faults_are_answered_in_order_then_success() -> None:
    with ChatReceivers() as fresh:
        fresh.fail("/slack/", [429, 503, 500], retry_after=2)
        answers = [post(fresh, "/slack/T/B/s", {"text": "hi"}) for _ in range(4)]
        assert [(a.status_code, a.text) for a in answers] == [
            (429, "rate_limited"),
            (503, "fault"),
            (500, "rollup_error"),
            (200, "ok"),
        ]
        assert answers[0].headers["retry-after"] == "2"
        assert "retry-after" not in answers[1].headers
        assert [r.status for r in fresh.received("/slack/")] == [429, 503, 500, 200]
        # Another prefix is not affected.
        assert post(fresh, "/discord/1/s", {"content": "x"}).status_code == 204


def test_discord_429_carries_retry_after_in_header_and_body() -> None:
    with ChatReceivers() as fresh:
        fresh.fail("/discord/", [429], retry_after=0.25)
        r = post(fresh, "/discord/1/s", {"content": "x"})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"  # whole seconds, rounded up
        assert r.json() == {
            "message": "You are being rate limited.",
            "retry_after": 0.25,
            "global": False,
        }
        assert post(fresh, "/discord/1/s", {"content": "x"}).status_code == 204


def test_request_times_show_how_long_a_client_waited() -> None:
    with ChatReceivers() as fresh:
        fresh.fail("/hook/", [429], retry_after=1)
        first = post(fresh, "/hook/x", {"n": 1})
        time.sleep(float(first.headers["retry-after"]))
        assert post(fresh, "/hook/x", {"n": 2}).status_code == 200
        (gap,) = fresh.gaps("/hook/")
        assert 1.0 <= gap < 3.0
        quick = ChatReceivers()
        assert quick.gaps() == []


def test_delay_makes_a_client_time_out() -> None:
    with ChatReceivers() as fresh:
        fresh.delay("/slack/", 2)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(fresh.url_for("/slack/x"), json={"text": "x"}, timeout=0.3)
        fresh.delay("/slack/", 0)
        assert post(fresh, "/slack/x", {"text": "x"}).status_code == 200
