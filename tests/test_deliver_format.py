"""Delivery payloads from a digest's first screen: what Slack, Discord, email and a plain webhook
get, checked by the loopback receivers' validators and over real HTTP; hostile text never pings
anyone and never breaks a payload; what does not fit is cut by whole lines and counted."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import httpx
import pytest
from fakes.chat_receivers import ChatReceivers, discord_problems, slack_problems

from sparky_assets.lib.deliver_format import (
    DeliveryContent,
    content_from_sidecar,
    discord_payload,
    email_message,
    slack_payload,
    webhook_payload,
)
from sparky_assets.lib.sanitize import md_text

WJ = "\u2060"
EM2 = "\u2003\u2003"  # a nested item's indent
URL = "https://example.org/weekly/2026-11-23.html"

# output/weekly/2026-11-23.json's first_screen_markdown, as Sparky wrote it (clones only).
EXAMPLE = [
    "# Week of 23 – 29 Nov 2026, UTC",
    "",
    "## What shipped",
    "",
    "- **Documentation** · 15",
    "  - adc0a4a README: quickstart, data contract, configuration, UI workflow, benchmark; design copy in docs/ · 401 lines",  # noqa: E501
    "  - 5fc9a87 README: Local LLM section (setup, what is sent, map-reduce, grounding, fallback, cache, the ollama… · 155 lines",  # noqa: E501
    "  - 3e36432 README: Working in the Dagster UI walks through a day, a month's backfill, the schedules (STOPPED… · 110 lines",  # noqa: E501
    "- **Other changes** · 58",
    "  - 7189f6d Skeleton: config, local git collection, daily assets from raw commits to digest · 2,757 lines · first-time author",  # noqa: E501
    "  - 5d0f315 GitHub groundwork (issue 6, not wired into assets yet): GitHubClient (httpx; Link pagination, ETag… · 89,129 lines",  # noqa: E501
    "  - f3f4389 Weekly and monthly metrics, canonical identities and the full metric suite · 6,523 lines",  # noqa: E501
    "- Named here: 6 of 73 commits",
    "",
    "_Pull requests waiting for review and unanswered issues are not known: GitHub was not read for this digest._",  # noqa: E501
    "",
    "**73** commits · **1** person active",
]

SEARCH = "https://github.com/search?q=org%3Aacme+is%3Apr&type=pullrequests"
# A GitHub-style first screen, as first_screen.py writes one (links, md_text-escaped names).
GITHUB = [
    "# Week of 2 – 8 Nov 2026, Europe/Berlin",
    "",
    "## What shipped",
    "",
    "- **Releases**",
    "  - [acme/api v2.1.0](https://github.com/acme/api/releases/tag/v2.1.0): Faster sync",
    "- **Features** · 2 (acme/api 1, acme/web 1)",
    "  - [acme/api#12](https://github.com/acme/api/pull/12) Add retries · "
    + md_text("@alice")
    + " · 40 lines",
    "  - [acme/web#7](https://github.com/acme/web/pull/7) Dark mode · bob · 120 lines",
    f"- Named here: 2 of 9 merged pull requests: [all on GitHub]({SEARCH})",
    "",
    "## Needs attention",
    "",
    "- [acme/api#15](https://github.com/acme/api/pull/15) Migrate the queue: waiting 3 days for"
    " a first review",
    "",
    "**9** commits · **2** pull requests merged (▲ 1) · **2** people active",
]


def sidecar(markdown: list[str], title: str | None = None, **extra: Any) -> dict[str, Any]:
    """A sidecar as render.digest_sidecar writes one: `title` plain, the markdown's first line
    its md_text form (the title line's text where `title` is not given)."""
    if title is None:
        title = markdown[0].removeprefix("# ") if markdown else "T"
    return {
        "period": "weekly",
        "partition": "2026-11-23",
        "org": "acme",
        "title": title,
        "first_screen": ["plain bullet"],
        "first_screen_markdown": markdown,
        "metrics": {"commits": 73},
    } | extra


def content(markdown: list[str], url: str | None = URL, **extra: Any) -> DeliveryContent:
    return content_from_sidecar(sidecar(markdown, **extra), url)


def slack_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def discord_texts(payload: dict[str, Any]) -> list[str]:
    return [payload.get("content", "")] + [
        e.get(k, "") for e in payload["embeds"] for k in ("title", "description")
    ]


def sections(payload: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]


def parsed(message: Any) -> Any:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


# --- the sidecar ---------------------------------------------------------------------------------


def test_content_from_the_example_sidecar() -> None:
    c = content(EXAMPLE, team="platform")
    assert c.title == "Week of 23 – 29 Nov 2026, UTC"
    assert c.markdown == EXAMPLE[2:]  # the title line and the blank line after it left out
    assert (c.url, c.period, c.key, c.team) == (URL, "weekly", "2026-11-23", None)
    assert content_from_sidecar(sidecar(EXAMPLE), None, team="platform").team == "platform"


def test_an_older_sidecar_gives_its_plain_bullets() -> None:
    old = sidecar([], first_screen=["adc0a4a *README* · 401 lines", "73 commits"])
    old.pop("first_screen_markdown")
    c = content_from_sidecar(old, None)
    assert c.markdown == [r"- adc0a4a \*README\* · 401 lines", "- 73 commits"]
    assert slack_payload(c)["blocks"][1]["text"]["text"] == (
        "• adc0a4a *README* · 401 lines\n• 73 commits"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://user:hunter2@example.org/hunter2",
        "/weekly/hunter2.html",
        "javascript:alert('hunter2')",
        "https://example.org/" + "hunter2" * 400,  # over 2000 characters
    ],
)
def test_a_digest_url_must_be_http_and_is_never_echoed(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        content_from_sidecar(sidecar(EXAMPLE), bad)
    assert "hunter2" not in str(caught.value)
    c = DeliveryContent(title="t", markdown=[], url=bad, period="weekly", key="k")
    for make in (slack_payload, discord_payload):
        with pytest.raises(ValueError) as caught:
            make(c)
        assert "hunter2" not in str(caught.value)


def test_a_sidecar_without_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        content_from_sidecar({"title": "x"}, None)


def test_webhook_payload_is_the_sidecar_plus_url() -> None:
    sc = sidecar(EXAMPLE)
    body = webhook_payload(sc, URL)
    assert body == sc | {"url": URL}
    body["metrics"]["commits"] = 0  # a copy: the caller's sidecar is untouched
    assert sc["metrics"]["commits"] == 73
    assert webhook_payload(sc, None)["url"] is None


# --- Slack ---------------------------------------------------------------------------------------


def test_slack_payload_of_the_example() -> None:
    payload = slack_payload(content(EXAMPLE))
    assert slack_problems(payload) == []
    assert payload["text"] == "Week of 23 – 29 Nov 2026, UTC"
    header, body, link = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Week of 23 – 29 Nov 2026, UTC", "emoji": True},
    }
    assert body["text"]["type"] == "mrkdwn"
    assert body["text"]["text"] == (
        "*What shipped*\n"
        "• *Documentation* · 15\n"
        f"{EM2}• adc0a4a README: quickstart, data contract, configuration, UI workflow, "
        "benchmark; design copy in docs/ · 401 lines\n"
        f"{EM2}• 5fc9a87 README: Local LLM section (setup, what is sent, map-reduce, grounding, "
        "fallback, cache, the ollama… · 155 lines\n"
        f"{EM2}• 3e36432 README: Working in the Dagster UI walks through a day, a month's "
        "backfill, the schedules (STOPPED… · 110 lines\n"
        "• *Other changes* · 58\n"
        f"{EM2}• 7189f6d Skeleton: config, local git collection, daily assets from raw commits "
        "to digest · 2,757 lines · first-time author\n"
        f"{EM2}• 5d0f315 GitHub groundwork (issue 6, not wired into assets yet): GitHubClient "
        "(httpx; Link pagination, ETag… · 89,129 lines\n"
        f"{EM2}• f3f4389 Weekly and monthly metrics, canonical identities and the full metric "
        "suite · 6,523 lines\n"
        "• Named here: 6 of 73 commits\n"
        "\n"
        "_Pull requests waiting for review and unanswered issues are not known: GitHub was not "
        "read for this digest._\n"
        "\n"
        "*73* commits · *1* person active"
    )
    assert link == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"<{URL}|Read the full digest>"},
    }


def test_slack_payload_of_a_github_screen_keeps_links_and_sections() -> None:
    payload = slack_payload(content(GITHUB))
    assert slack_problems(payload) == []
    shipped, attention, link = sections(payload)
    assert "<https://github.com/acme/api/pull/12|acme/api#12> Add retries · @" + WJ + "alice" in (
        shipped
    )
    assert "<https://github.com/acme/api/releases/tag/v2.1.0|acme/api v2.1.0>: Faster sync" in (
        shipped
    )
    # '&' in a URL is an entity too (Slack decodes the whole text).
    assert (
        "<https://github.com/search?q=org%3Aacme+is%3Apr&amp;type=pullrequests|all on GitHub>"
    ) in shipped
    assert attention.startswith("*Needs attention*\n• <https://github.com/acme/api/pull/15|")
    assert attention.endswith(
        "\n\n*9* commits · *2* pull requests merged (▲ 1) · *2* people active"
    )
    assert link == f"<{URL}|Read the full digest>"


def test_slack_without_a_url_has_no_link_block() -> None:
    payload = slack_payload(content(EXAMPLE, url=None))
    assert slack_problems(payload) == []
    assert len(payload["blocks"]) == 2
    assert "Read the full digest" not in str(payload)


# --- Discord -------------------------------------------------------------------------------------


def test_discord_payload_of_the_example() -> None:
    payload = discord_payload(content(EXAMPLE))
    assert discord_problems(payload) == []
    assert payload["allowed_mentions"] == {"parse": []}
    assert "content" not in payload
    (embed,) = payload["embeds"]
    assert (embed["title"], embed["url"]) == ("Week of 23 – 29 Nov 2026, UTC", URL)
    lines = embed["description"].split("\n")
    assert lines[:3] == [
        "**What shipped**",
        "• **Documentation** · 15",
        f"{EM2}• adc0a4a README: quickstart, data contract, configuration, UI workflow, "
        "benchmark; design copy in docs/ · 401 lines",
    ]
    assert lines[3] == (
        f"{EM2}• 5fc9a87 README: Local LLM section \\(setup, what is sent, map\\-reduce, "
        "grounding, fallback, cache, the ollama… · 155 lines"
    )
    assert lines[-7:] == [
        "• Named here: 6 of 73 commits",
        "",
        "*Pull requests waiting for review and unanswered issues are not known: GitHub was not "
        "read for this digest.*",
        "",
        "**73** commits · **1** person active",
        "",
        f"[Read the full digest]({URL})",
    ]


def test_discord_payload_of_a_github_screen() -> None:
    payload = discord_payload(content(GITHUB))
    assert discord_problems(payload) == []
    (embed,) = payload["embeds"]
    text = embed["description"]
    assert f"[acme/api\\#12](https://github.com/acme/api/pull/12) Add retries · @{WJ}alice" in text
    assert f"[all on GitHub]({SEARCH})" in text
    assert text.endswith(f"[Read the full digest]({URL})")


def test_discord_without_a_url() -> None:
    payload = discord_payload(content(EXAMPLE, url=None))
    assert discord_problems(payload) == []
    assert "url" not in payload["embeds"][0]
    assert "Read the full digest" not in str(payload)


# --- email ---------------------------------------------------------------------------------------


def test_email_of_the_example() -> None:
    message = email_message(
        content(EXAMPLE), "Sparky <sparky@example.org>", ["a@example.org", "b@example.org"]
    )
    back = parsed(message)
    assert back.get_content_type() == "multipart/alternative"
    assert back["Subject"] == "Week of 23 – 29 Nov 2026, UTC"
    assert back["To"] == "a@example.org, b@example.org"
    assert back["From"] == "Sparky <sparky@example.org>"
    assert back["Auto-Submitted"] == "auto-generated"
    plain = back.get_body(("plain",)).get_content()
    html = back.get_body(("html",)).get_content()
    assert [p.get_content_type() for p in back.iter_parts()] == ["text/plain", "text/html"]
    assert plain.startswith("Week of 23 – 29 Nov 2026, UTC\n=====")
    assert "\nWhat shipped\n• Documentation · 15\n  • adc0a4a README: quickstart" in plain
    assert plain.endswith(f"\n73 commits · 1 person active\n\nRead the full digest: {URL}\n")
    assert "<h1>Week of 23 – 29 Nov 2026, UTC</h1>" in html
    assert "<h2>What shipped</h2>" in html
    assert "<li><strong>Documentation</strong> · 15" in html
    assert f'<a href="{URL}">Read the full digest</a>' in html


def test_email_of_a_github_screen_links_in_both_parts() -> None:
    back = parsed(email_message(content(GITHUB), "s@example.org", ["a@example.org"]))
    plain = back.get_body(("plain",)).get_content()
    html = back.get_body(("html",)).get_content()
    assert "acme/api#12 (https://github.com/acme/api/pull/12) Add retries" in plain
    assert '<a href="https://github.com/acme/api/pull/12">acme/api#12</a> Add retries' in html
    assert f'<a href="{URL}">Read the full digest</a>' in html


def test_email_headers_cannot_be_injected() -> None:
    c = content(EXAMPLE)
    with pytest.raises(ValueError):
        email_message(c, "s@example.org\r\nBcc: victim@example.org", ["a@example.org"])
    with pytest.raises(ValueError):
        email_message(c, "s@example.org", ["a@example.org\nBcc: victim@example.org"])
    with pytest.raises(ValueError, match="recipient"):
        email_message(c, "s@example.org", [])
    title = "Weekly\r\nBcc: victim@example.org"
    back = parsed(email_message(content([f"# {title}"]), "s@example.org", ["a@example.org"]))
    assert back["Subject"] == f"Weekly Bcc: victim@{WJ}example.org"
    assert back["Bcc"] is None


# --- hostile text -------------------------------------------------------------------------------

HOSTILE = [
    "@everyone",
    "@here",
    "@channel",
    "<!channel>",
    "<!here|here>",
    "<@U123>",
    "<@&1>",
    "<#123>",
    "*bold* _it_ ~s~ `code` ||spoiler||",
    "[x](javascript:alert(1))",
    "<script>alert(1)</script>",
    "&amp; &lt; &#64;everyone",
    "\u202eexe.txt\u202c \u2066isolate\u2069",
    "a|b>c <https://evil.example|click>",
    "# heading",
    "1. numbered",
    "> quote",
    "visit https://evil.example or www.evil.example",
]


def hostile_screen(text: str) -> list[str]:
    """A first screen where `text` is a title, a name, a change title and, as if the sidecar
    had been edited by hand, a raw markdown line."""
    return [
        f"# {md_text(text)}",
        "",
        "## What shipped",
        "",
        f"- **{md_text(text)}** · 2",
        f"  - [acme/api#1](https://github.com/acme/api/pull/1) {md_text(text)} · "
        + md_text("@" + text),
        f"- {text}",
        f"- [{text}](javascript:alert(1)) and [y](https://ok.example/{text})",
        "",
        text,
        "",
        "**1** commit",
    ]


def assert_inert(texts: list[str]) -> None:
    """No '@' outside a link target without a word joiner after it; no bidi controls. (Text
    from the data has no "://": a word joiner splits its '//'.)"""
    for t in texts:
        t = re.sub(r"https?://[^\s|>)\"]+", "", t)
        for m in re.finditer("@", t):  # every '@' is followed by a word joiner
            assert t[m.end() : m.end() + 1] == WJ, t
        for control in ("\u202e", "\u202c", "\u2066", "\u2069"):
            assert control not in t


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_slack(text: str) -> None:
    c = content_from_sidecar(sidecar(hostile_screen(text), title=text), URL)
    payload = slack_payload(c)
    assert slack_problems(payload) == []
    texts = slack_texts(payload)
    assert_inert(texts)
    for t in texts:
        assert "<!" not in t and "<@" not in t and "<#" not in t
        assert "<script" not in t
    for t in sections(payload):  # every '<' opens one of our http(s) links, closed by '>'
        links = re.findall(r"<(https?://[^<>|\s]+)\|([^<>]*)>", t)
        assert t.count("<") == len(links), t
    assert payload["blocks"][-1]["text"]["text"] == f"<{URL}|Read the full digest>"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_discord(text: str) -> None:
    payload = discord_payload(content_from_sidecar(sidecar(hostile_screen(text), title=text), URL))
    assert discord_problems(payload) == []
    assert payload["allowed_mentions"] == {"parse": []}
    texts = discord_texts(payload)
    assert_inert(texts)
    description = payload["embeds"][0]["description"]
    # Every '<' and '[' of the data is escaped; the only links are http(s) ones we made.
    assert re.search(r"(?<!\\)<", description) is None
    targets = re.findall(r"(?<!\\)\[[^\]]*\]\(([^)]*)\)", description)
    assert targets and all(t.startswith(("https://", "http://")) for t in targets)
    assert "](javascript" not in description
    assert description.endswith(f"[Read the full digest]({URL})")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_email(text: str) -> None:
    c = content_from_sidecar(sidecar(hostile_screen(text), title=text), URL)
    back = parsed(email_message(c, "s@example.org", ["a@example.org"]))
    plain = back.get_body(("plain",)).get_content()
    html = back.get_body(("html",)).get_content()
    assert "\n" not in back["Subject"] and "\r" not in back["Subject"]
    assert_inert([back["Subject"], plain, html])
    assert "<script" not in html
    assert 'href="javascript' not in html
    assert re.findall(r'href="([^"]*)"', html)[-1] == URL
    assert f'<a href="{URL}">Read the full digest</a>' in html
    assert plain.endswith(f"Read the full digest: {URL}\n")


def test_an_unsafe_link_shows_its_text_only() -> None:
    c = content(["# T", "", "- [notes](ftp://files.example/notes) and [ok](https://ok.example/a)"])
    assert sections(slack_payload(c))[0] == "• notes and <https://ok.example/a|ok>"
    description = discord_payload(c)["embeds"][0]["description"]
    assert description.startswith("• notes and [ok](https://ok.example/a)\n")


def test_a_number_that_would_start_a_discord_list_is_escaped() -> None:
    c = content(["# T", "", md_text("1. numbered"), "", md_text("2) also")])
    description = discord_payload(c)["embeds"][0]["description"]
    assert description == f"1\\. numbered\n\n2\\) also\n\n[Read the full digest]({URL})"


def test_the_title_is_plain_everywhere() -> None:
    c = content_from_sidecar(sidecar(EXAMPLE, title="Team <a&b> · *Week*"), URL)
    assert slack_payload(c)["blocks"][0]["text"]["text"] == f"Team <{WJ}a&b> · *Week*"
    assert slack_payload(c)["text"] == "Team &lt;a&amp;b&gt; · *Week*"
    assert discord_payload(c)["embeds"][0]["title"] == "Team <a&b> · *Week*"
    back = parsed(email_message(c, "s@example.org", ["a@example.org"]))
    assert back["Subject"] == "Team <a&b> · *Week*"
    assert "<h1>Team &lt;a&amp;b&gt; · *Week*</h1>" in back.get_body(("html",)).get_content()


def test_a_pipe_or_angle_in_link_text_and_url_is_escaped() -> None:
    c = content(["# T", "", "- [a\\|b > c](https://ok.example/x|y>z)"])
    first = sections(slack_payload(c))[0]
    assert first == "• <https://ok.example/x%7Cy%3Ez|a\uff5cb &gt; c>"


# --- limits --------------------------------------------------------------------------------------


def test_a_5000_character_title_is_cut_at_a_word() -> None:
    title = " ".join(["word"] * 1000)  # 4,999 characters
    c = content([f"# {title}", "", "**1** commit"])
    slack = slack_payload(c)
    head = slack["blocks"][0]["text"]["text"]
    assert len(head) <= 150 and head.endswith("word…") and " wor…" not in head
    assert head == " ".join(["word"] * 29) + "…"  # 29 * 5 - 1 + 1 = 145 characters
    assert slack_problems(slack) == []
    discord = discord_payload(c)
    assert discord["embeds"][0]["title"] == " ".join(["word"] * 51) + "…"  # 255 characters
    assert discord_problems(discord) == []
    subject = parsed(email_message(c, "s@example.org", ["a@example.org"]))["Subject"]
    assert subject == " ".join(["word"] * 39) + "…"  # 195 + 1: within 200


def test_a_title_without_spaces_is_cut_hard() -> None:
    c = content([f"# {'x' * 5000}", "", "**1** commit"])
    assert slack_payload(c)["blocks"][0]["text"]["text"] == "x" * 149 + "…"
    assert discord_payload(c)["embeds"][0]["title"] == "x" * 255 + "…"


def many_items(n: int = 300, attention: int = 5) -> list[str]:
    return [
        "# Week of 2 – 8 Nov 2026, UTC",
        "",
        "## What shipped",
        "",
        *(
            f"- [acme/api#{i}](https://github.com/acme/api/pull/{i}) Change number {i} with a"
            f" title long enough to fill the message · {md_text('@dev' + str(i))}"
            for i in range(1, n + 1)
        ),
        "",
        "## Needs attention",
        "",
        *(
            f"- [acme/web#{i}](https://github.com/acme/web/pull/{i}) Review me: waiting 3 days"
            for i in range(1, attention + 1)
        ),
        "",
        "**300** commits · **40** people active",
    ]


def more_counts(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"…and ([\d,]+) more", text)]


def test_300_items_in_slack_are_cut_by_whole_items_and_counted() -> None:
    payload = slack_payload(content(many_items()))
    assert slack_problems(payload) == []
    texts = sections(payload)
    assert texts[-1] == f"<{URL}|Read the full digest>"
    body = "\n".join(texts[:-1])
    shipped = re.findall(r"^• <https://github.com/acme/api/pull/(\d+)\|", body, re.M)
    attention = re.findall(r"^• <https://github.com/acme/web/pull/(\d+)\|", body, re.M)
    # The items kept are the first ones, in order; the longer list lost items, the short one none.
    assert shipped == [str(i) for i in range(1, len(shipped) + 1)]
    assert 50 < len(shipped) < 300
    assert attention == ["1", "2", "3", "4", "5"]
    assert more_counts(body) == [300 - len(shipped)]
    assert body.endswith("*300* commits · *40* people active")
    assert "*Needs attention*" in body
    # Every line is whole: each link opened is closed on its line.
    for line in body.split("\n"):
        assert line.count("<") == line.count(">") == line.count("|"), line
    assert sum(len(t) for t in texts) <= 12_000


def test_300_items_in_discord_are_cut_by_whole_items_and_counted() -> None:
    payload = discord_payload(content(many_items()))
    assert discord_problems(payload) == []
    description = "\n".join(e.get("description", "") for e in payload["embeds"])
    shipped = re.findall(r"^• \[acme/api\\#(\d+)\]\(", description, re.M)
    attention = re.findall(r"^• \[acme/web\\#(\d+)\]\(", description, re.M)
    assert shipped == [str(i) for i in range(1, len(shipped) + 1)]
    assert 20 < len(shipped) < 300
    assert attention == ["1", "2", "3", "4", "5"]
    assert more_counts(description) == [300 - len(shipped)]
    assert "**300** commits · **40** people active" in description
    assert description.endswith(f"[Read the full digest]({URL})")
    total = sum(len(e.get("title", "")) + len(e.get("description", "")) for e in payload["embeds"])
    assert 5000 < total <= 6000


def test_a_5000_character_line_is_cut_inside_its_text_not_its_link() -> None:
    words = " ".join(["long"] * 1000)
    c = content(
        ["# T", "", f"- [acme/api#1](https://github.com/acme/api/pull/1) {words}", "", "end"]
    )
    slack = slack_payload(c)
    assert slack_problems(slack) == []
    first = sections(slack)[0]
    assert first.startswith("• <https://github.com/acme/api/pull/1|acme/api#1> long long")
    assert first.endswith(" long…") and len(first) <= 3000
    assert sections(slack)[1:] == ["end", f"<{URL}|Read the full digest>"]
    discord = discord_payload(c)
    assert discord_problems(discord) == []
    # The long line fills the first embed; the rest goes on in a second one (6000 in all).
    first_embed, second_embed = discord["embeds"]
    description = first_embed["description"]
    assert description.startswith("• [acme/api\\#1](https://github.com/acme/api/pull/1) long")
    assert description.endswith(" long…\n\nend")
    assert second_embed == {"description": f"[Read the full digest]({URL})"}


def test_many_headings_stay_within_50_blocks() -> None:
    markdown = ["# T", ""]
    for i in range(80):
        markdown += [f"## Part {i}", "", f"- item {i}", ""]
    payload = slack_payload(content(markdown))
    assert slack_problems(payload) == []
    assert len(payload["blocks"]) == 50
    assert payload["blocks"][-1]["text"]["text"] == f"<{URL}|Read the full digest>"
    body = "\n".join(sections(payload)[:-1])
    kept_headings = body.count("*Part ")
    kept_items = body.count("• item ")
    # Items go first (each heading's list then says "…and 1 more"), then headings from the end.
    assert kept_items == 0
    ones = more_counts(body)
    assert ones[:-1] == [1] * kept_headings
    assert ones[-1] == 80 - kept_headings


# --- over real HTTP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown",
    [EXAMPLE, GITHUB, many_items(), hostile_screen("@everyone <!channel> <@U1> [x](javascript:1)")],
    ids=["example", "github", "300-items", "hostile"],
)
def test_the_receivers_accept_every_payload(markdown: list[str]) -> None:
    c = content(markdown)
    with ChatReceivers() as rx:
        slack = httpx.post(rx.url_for("/slack/T0/B0/x"), json=slack_payload(c), timeout=5)
        discord = httpx.post(rx.url_for("/discord/1/x"), json=discord_payload(c), timeout=5)
        hook = httpx.post(
            rx.url_for("/hook/x"), json=webhook_payload(sidecar(markdown), URL), timeout=5
        )
        assert (slack.status_code, slack.text) == (200, "ok")
        assert discord.status_code == 204
        assert hook.status_code == 200
        assert rx.received("/hook/")[0].body["url"] == URL
        assert rx.internal_errors == []
