"""Delivery through Dagster: a real digest posted to Slack, Discord, a webhook and a mailbox on
loopback, by `daily_delivered_digests`, exactly once.

The clone's commit subjects are hostile (mass mentions in every platform's syntax, markdown,
HTML, bidi controls): the receivers validate each payload against the platform's documented
schema and limits, and nothing may ping. A re-run posts nothing; a failing target leaves the
others delivered, and the next run sends only what it missed.
"""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import default
from pathlib import Path

import dagster as dg
import pytest
import trustme
from fakes.chat_receivers import ChatReceivers, discord_problems, slack_problems
from fakes.smtp_server import SmtpServer
from gitrepo import ALICE, CAROL, Repo

from sparky_assets.definitions import build_definitions
from sparky_resources.config import load_config

DAY, NEXT = "2024-06-03", "2024-06-04"
SITE = "https://acme.github.io/digests"
PASSWORD = "smtp-Pa55-word-zz9"
SECRET = "T0SECRET/B0SECRET/xoxbSECRETSECRET"  # the webhook URLs' secret parts
HOSTILE = (
    "@everyone @here <!channel> <!here> <@U024BE7LH> <@&1234> "
    "*bold* _it_ [x](javascript:alert(1)) <script>alert(1)</script> \u202egnp.exe"
)
CHAIN = ["raw_pull_requests", "repositories", "raw_commits", "contributors", "daily_metrics",
         "daily_insights", "daily_digest"]  # fmt: skip
DELIVERED = "daily_delivered_digests"


@dataclass
class World:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    rx: ChatReceivers
    smtp: SmtpServer
    root: Path

    def run(self, names: list[str], key: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [self.defs.get_assets_def(n) for n in names],
            partition_key=key,
            resources=self.defs.resources,
            instance=self.instance,
            raise_on_error=False,
        )


def _pings(text: str, syntax: str = r"<[!@#][A-Za-z0-9&]") -> list[str]:
    """Mentions that would notify: `@everyone`/`@here` not followed by a word joiner, and the
    platform's mention syntax (Slack: `<!here>`, `<@U…>`, `<#C…>`; Discord: `<@…>`, `<@&…>`,
    `<#…>`; `<!channel>` is plain text in Discord)."""
    live = re.findall(r"@(?!\u2060)(?:everyone|here|channel)", text)
    return live + re.findall(syntax, text)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    repo = Repo(tmp_path / "clone")
    for i, (day, who) in enumerate([(DAY, ALICE), (DAY, CAROL), (NEXT, ALICE)]):
        repo.write(f"f{i}.txt", f"{i}\n")
        repo.commit(f"{HOSTILE} {i}", who, f"{day}T1{i}:00:00+00:00")
    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    with (
        ChatReceivers() as rx,
        SmtpServer(tls=True, ca=ca, login="sparky@example.org", password=PASSWORD) as smtp,
    ):
        monkeypatch.setenv("T_SLACK", rx.url_for(f"/slack/{SECRET}"))
        monkeypatch.setenv("T_DISCORD", rx.url_for(f"/discord/{SECRET}"))
        monkeypatch.setenv("T_HOOK", rx.url_for(f"/hook/{SECRET}"))
        monkeypatch.setenv("T_SMTP", PASSWORD)
        config = tmp_path / "sparky.toml"
        config.write_text(
            '[sparky]\ntimezone = "UTC"\nstart_date = 2024-06-01\n'
            f'[local]\nrepos = ["{repo.path}"]\n[llm]\nenabled = false\n'
            f'[publish]\nsite_url = "{SITE}"\n'
            '[[deliver]]\nkind = "slack"\nname = "chat"\nurl_env = "T_SLACK"\n'
            '[[deliver]]\nkind = "discord"\nname = "disc"\nurl_env = "T_DISCORD"\n'
            '[[deliver]]\nkind = "webhook"\nname = "hook"\nurl_env = "T_HOOK"\n'
            f'[[deliver]]\nkind = "email"\nname = "mail"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {smtp.port}\nfrom = "sparky@example.org"\n'
            'to = ["leads@example.org"]\npassword_env = "T_SMTP"\n'
            '[[deliver]]\nkind = "slack"\nname = "weekly-only"\nurl_env = "T_SLACK"\n'
            'periods = ["weekly"]\n'
        )
        defs = build_definitions(load_config(config))
        with dg.instance_for_test() as instance:
            yield World(defs, instance, rx, smtp, tmp_path)


def _delivered_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.get_asset_materialization_events()[-1:]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_each_kind_gets_the_first_screen_within_its_limits_and_nothing_pings(world: World) -> None:
    assert world.run(CHAIN, DAY).success
    result = world.run([DELIVERED], DAY)
    assert result.success
    link = f"{SITE}/daily/{DAY}.html"

    [slack] = world.rx.bodies("/slack/")  # the weekly-only target posted nothing
    assert slack_problems(slack) == []
    slack_text = json.dumps(slack, ensure_ascii=False)
    assert "Monday 3 Jun 2024" in slack_text and link in slack_text
    assert _pings(slack_text) == [], _pings(slack_text)

    [discord] = world.rx.bodies("/discord/")
    assert discord_problems(discord) == []
    assert discord["allowed_mentions"] == {"parse": []}
    discord_text = json.dumps(discord, ensure_ascii=False)
    assert link in discord_text and _pings(discord_text, r"<[@#][A-Za-z0-9&!]") == []

    [hook] = world.rx.bodies("/hook/")
    assert hook["partition"] == DAY and hook["url"] == link
    assert hook["first_screen_markdown"][0].startswith("# Monday 3 Jun 2024")

    [(envelope, tls)] = world.smtp.inbox.messages
    assert tls and envelope.rcpt_tos == ["leads@example.org"]
    message = email.message_from_bytes(envelope.original_content, policy=default)
    assert "Monday 3 Jun 2024" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert link in plain and link in html
    # Mail has no mention syntax: only a live @everyone/@here would read as one.
    assert "<script" not in html and "&lt;!channel&gt;" in html
    assert _pings(plain + html, r"(?!)") == []

    metadata = _delivered_metadata(result)
    assert metadata["delivered"] == 4 and metadata["failed"] == 0
    assert metadata["targets"] == {
        "chat": "delivered",
        "disc": "delivered",
        "hook": "delivered",
        "mail": "delivered",
    }
    shown = json.dumps(metadata, default=str)
    assert "127.0.0.1" not in shown and "SECRET" not in shown


def test_a_rerun_posts_nothing_new(world: World) -> None:
    assert world.run(CHAIN, DAY).success
    assert world.run([DELIVERED], DAY).success
    before = (len(world.rx.requests), len(world.smtp.inbox.messages))
    again = world.run([DELIVERED], DAY)
    assert again.success
    assert (len(world.rx.requests), len(world.smtp.inbox.messages)) == before
    assert _delivered_metadata(again)["already"] == 4


def test_a_failing_target_leaves_the_others_delivered_and_is_sent_next_time(
    world: World,
) -> None:
    assert world.run(CHAIN, NEXT).success
    world.rx.fail("/discord/", [500] * 20)
    failed = world.run([DELIVERED], NEXT)
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    text = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert "disc" in text and "SECRET" not in text and "127.0.0.1" not in text
    assert len(world.rx.bodies("/slack/")) == 1 and len(world.rx.bodies("/hook/")) == 1
    assert len(world.smtp.inbox.messages) == 1
    world.rx.fail("/discord/", [])  # healthy again
    with world.rx._lock:  # the queued failures are dropped
        world.rx._faults.clear()
    retried = world.run([DELIVERED], NEXT)
    assert retried.success
    assert _delivered_metadata(retried)["targets"] == {
        "chat": "already",
        "disc": "delivered",
        "hook": "already",
        "mail": "already",
    }
    assert len(world.rx.bodies("/slack/")) == 1 and len(world.smtp.inbox.messages) == 1


def test_the_sensor_asks_for_each_new_digest_once(world: World) -> None:
    assert world.run(CHAIN, DAY).success
    sensor = world.defs.get_sensor_def("deliver_new_digests")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        with dg.build_multi_asset_sensor_context(
            monitored_assets=[dg.AssetKey(f"{p}_digest") for p in ("daily", "weekly", "monthly")],
            instance=world.instance,
            cursor=cursor,
            definitions=world.defs,
        ) as context:
            data = sensor.evaluate_tick(context)
            return list(data.run_requests or []), data.cursor

    requests, cursor = tick(None)
    assert [(r.job_name, r.partition_key) for r in requests] == [("daily_deliver_job", DAY)]
    again, _ = tick(cursor)
    assert again == []
