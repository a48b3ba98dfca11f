"""Delivering at most once, against real servers on 127.0.0.1: helper D's chat receivers
(tests/fakes/chat_receivers.py) for Slack, Discord and plain webhooks, aiosmtpd with STARTTLS
(a trustme CA, trusted through SSL_CERT_FILE) and AUTH for email. No mocks: every send crosses
a socket, and the ledger is the file on disk.
"""

from __future__ import annotations

import email
import json
import logging
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from fakes.chat_receivers import ChatReceivers
from fakes.smtp_server import SmtpServer, free_port

from sparky_resources.config import DeliverTarget
from sparky_resources.deliver import Deliverer, DeliveryLedger, Outcome, entry_key

PASSWORD = "s3cret-Pa55word!x"
SENDER = "sparky@example.org"
TO = ["team@example.org", "lead@example.org"]


# ---------------------------------------------------------------------------------------------
# Ledger


def test_ledger_round_trip_and_file(tmp_path: Path) -> None:
    ledger = DeliveryLedger(tmp_path)
    assert ledger.state("slack-1", "weekly", "2026-11-23", None) is None
    assert ledger.claim("slack-1", "weekly", "2026-11-23", None) is None
    assert ledger.state("slack-1", "weekly", "2026-11-23", None) == "sending"
    # A second claim finds it taken and changes nothing.
    assert ledger.claim("slack-1", "weekly", "2026-11-23", None) == "sending"
    ledger.mark("slack-1", "weekly", "2026-11-23", None, "delivered", attempts=2, status=200)
    ledger.mark("slack-1", "weekly", "2026-11-23", "platform", "delivered", attempts=1)
    assert ledger.state("slack-1", "weekly", "2026-11-23", None) == "delivered"
    assert ledger.state("slack-1", "weekly", "2026-11-23", "platform") == "delivered"
    assert ledger.state("slack-1", "weekly", "2026-11-30", None) is None
    document = json.loads((tmp_path / "deliveries" / "slack-1.json").read_text())
    assert document["schema_version"] == 2
    assert document["target"] == "slack-1"
    assert set(document["entries"]) == {"weekly/2026-11-23", "weekly/2026-11-23/platform"}
    assert document["entries"]["weekly/2026-11-23"]["attempts"] == 2
    assert document["entries"]["weekly/2026-11-23"]["status"] == 200
    # The lock lives with the store's locks, not next to the data.
    assert (tmp_path / ".locks" / "deliveries" / "slack-1.json.lock").exists()
    assert sorted(p.name for p in (tmp_path / "deliveries").iterdir()) == ["slack-1.json"]
    ledger.clear("slack-1", "weekly", "2026-11-23", None)
    assert ledger.state("slack-1", "weekly", "2026-11-23", None) is None
    assert ledger.state("slack-1", "weekly", "2026-11-23", "platform") == "delivered"


def test_ledger_claims_once_across_threads(tmp_path: Path) -> None:
    """Eight threads claim one digest at once: exactly one gets it (None), the rest see it
    "sending"; the file lock makes check-and-mark one step."""
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        ledger = DeliveryLedger(tmp_path)  # one per thread, as separate runs would have
        barrier.wait()
        results.append(ledger.claim("hook-1", "daily", "2026-11-23", None))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [None] + ["sending"] * 7


def test_ledger_refuses_a_path_as_target_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target name"):
        DeliveryLedger(tmp_path).state("../x", "daily", "2026-11-23", None)


def test_a_broken_ledger_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "deliveries").mkdir()
    (tmp_path / "deliveries" / "mail.json").write_text("{not json")
    server = SmtpServer(tls=True)
    with server:
        out = Deliverer(tmp_path, env={}).send_email(
            _email_target(server.port, password_env=None), "daily", "2026-11-23", None, _message()
        )
    assert out.status == "failed"
    assert "cannot read" in (out.error or "") and "mail.json" in (out.error or "")
    assert server.inbox.messages == []


# ---------------------------------------------------------------------------------------------
# SMTP: aiosmtpd with STARTTLS and AUTH


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client trusts the test CA: SSL_CERT_FILE is read by ssl.create_default_context()."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    return pem


@pytest.fixture
def smtp(ca: trustme.CA, trusted: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tls=True, ca=ca, login=SENDER, password=PASSWORD) as server:
        yield server


def _email_target(
    port: int, *, password_env: str | None = "SPARKY_SMTP_PASSWORD", name: str = "mail"
) -> DeliverTarget:
    fields: dict[str, Any] = {
        "kind": "email",
        "name": name,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "from": SENDER,
        "to": TO,
    }
    if password_env:
        fields["password_env"] = password_env
    return DeliverTarget.model_validate(fields)


def _message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Week of 23 – 29 Nov 2026, UTC"
    message.set_content("What shipped\n\n• Faster builds\n\nRead the full digest: https://x.test/w")
    message.add_alternative(
        "<h1>Week of 23 – 29 Nov 2026, UTC</h1><ul><li>Faster builds</li></ul>", subtype="html"
    )
    return message


def _quick(tmp_path: Path, env: dict[str, str], **kwargs: Any) -> Deliverer:
    """A Deliverer with a short backoff (0.05 s) and timeout (5 s), for the tests' time."""
    return Deliverer(tmp_path, env=env, **{"backoff_s": 0.05, "timeout_s": 5, **kwargs})


def test_email_over_starttls_with_login(smtp: SmtpServer, tmp_path: Path) -> None:
    deliverer = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD + "\n"})
    out = deliverer.send_email(_email_target(smtp.port), "weekly", "2026-11-23", None, _message())
    assert out == Outcome("mail", "email", "weekly", "2026-11-23", None, "delivered", None, 1)
    assert len(smtp.inbox.messages) == 1
    envelope, under_tls = smtp.inbox.messages[0]
    assert under_tls
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == TO
    assert isinstance(envelope.original_content, bytes)
    received = email.message_from_bytes(envelope.original_content, policy=default)
    assert received["Subject"] == "Week of 23 – 29 Nov 2026, UTC"
    assert received["From"] == SENDER  # filled in from the target, since the message had none
    assert received["To"] == ", ".join(TO)
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and "• Faster builds" in plain.get_content()
    assert html is not None and "<li>Faster builds</li>" in html.get_content()
    assert DeliveryLedger(tmp_path).state("mail", "weekly", "2026-11-23", None) == "delivered"

    again = deliverer.send_email(_email_target(smtp.port), "weekly", "2026-11-23", None, _message())
    assert again.status == "already" and again.attempts == 0
    assert len(smtp.inbox.messages) == 1


def test_email_wrong_password_fails_without_showing_it(
    smtp: SmtpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Pa55word-42"
    out = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": wrong}).send_email(
        _email_target(smtp.port), "weekly", "2026-11-23", None, _message()
    )
    assert out.status == "failed"
    assert out.attempts == 1  # 535 is permanent: not retried
    assert out.error is not None
    assert "535" in out.error and "SPARKY_SMTP_PASSWORD" in out.error
    assert wrong not in out.error
    assert smtp.inbox.messages == []
    assert DeliveryLedger(tmp_path).state("mail", "weekly", "2026-11-23", None) is None
    assert wrong not in caplog.text
    assert wrong not in _ledger_text(tmp_path)


def test_email_password_env_unset_names_the_variable(smtp: SmtpServer, tmp_path: Path) -> None:
    out = _quick(tmp_path, {}).send_email(
        _email_target(smtp.port), "weekly", "2026-11-23", None, _message()
    )
    assert out.status == "failed"
    assert out.error == "mail: weekly/2026-11-23: password_env SPARKY_SMTP_PASSWORD is not set"
    assert out.attempts == 0
    assert smtp.inbox.messages == []


def test_email_refused_without_starttls(tmp_path: Path, trusted: Path) -> None:
    with SmtpServer(tls=False) as plain:
        out = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD}).send_email(
            _email_target(plain.port), "daily", "2026-11-23", None, _message()
        )
        assert plain.inbox.data_commands == 0
    assert out.status == "failed"
    assert "offers no STARTTLS" in (out.error or "")
    assert out.attempts == 1
    assert DeliveryLedger(tmp_path).state("mail", "daily", "2026-11-23", None) is None


def test_email_untrusted_certificate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the test CA in SSL_CERT_FILE the server's certificate does not verify."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with SmtpServer(tls=True) as server:
        out = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD}).send_email(
            _email_target(server.port), "daily", "2026-11-23", None, _message()
        )
        assert server.inbox.data_commands == 0
    assert out.status == "failed"
    assert "certificate is not trusted" in (out.error or "")
    assert PASSWORD not in (out.error or "")


def test_email_4xx_is_retried_5xx_is_not(smtp: SmtpServer, tmp_path: Path) -> None:
    deliverer = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD})
    smtp.inbox.temporary = 2
    out = deliverer.send_email(_email_target(smtp.port), "daily", "2026-11-23", None, _message())
    assert (out.status, out.attempts, out.error) == ("delivered", 3, None)
    assert smtp.inbox.data_commands == 3
    assert len(smtp.inbox.messages) == 1

    smtp.inbox.permanent = 1
    out = deliverer.send_email(_email_target(smtp.port), "daily", "2026-11-24", None, _message())
    assert out.status == "failed" and out.attempts == 1
    assert "554 5.7.1 message rejected" in (out.error or "")
    assert smtp.inbox.data_commands == 4
    # Certainly not delivered: cleared, so the next run sends it.
    assert DeliveryLedger(tmp_path).state("mail", "daily", "2026-11-24", None) is None
    out = deliverer.send_email(_email_target(smtp.port), "daily", "2026-11-24", None, _message())
    assert out.status == "delivered"
    assert len(smtp.inbox.messages) == 2


def test_email_4xx_every_time_fails_after_retries(smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.inbox.temporary = 10
    out = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD}, retries=2).send_email(
        _email_target(smtp.port), "daily", "2026-11-23", None, _message()
    )
    assert out.status == "failed" and out.attempts == 3
    assert "451 4.3.0 try again later (after 3 attempts)" in (out.error or "")
    assert smtp.inbox.data_commands == 3
    assert DeliveryLedger(tmp_path).state("mail", "daily", "2026-11-23", None) is None


def _ledger_text(data_dir: Path) -> str:
    folder = data_dir / "deliveries"
    return "".join(p.read_text() for p in folder.glob("*.json")) if folder.is_dir() else ""


# ---------------------------------------------------------------------------------------------
# HTTP: helper D's Slack / Discord / webhook receivers

# Token-like paths, shaped as Slack's and Discord's webhook URLs are.
SLACK_PATH = "/slack/T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx"
DISCORD_PATH = "/discord/112233445566778899/Zq9-Token_abcdefghijklmnopqrstuvwxyz0123456789"
SLACK_PAYLOAD = {
    "text": "Week of 23 – 29 Nov 2026",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*What shipped*"}}],
}


@pytest.fixture
def rx() -> Iterator[ChatReceivers]:
    with ChatReceivers() as receivers:
        yield receivers
    assert receivers.internal_errors == []


def _hook(kind: str, name: str, env: str) -> DeliverTarget:
    return DeliverTarget.model_validate({"kind": kind, "name": name, "url_env": env})


SLACK = _hook("slack", "chat", "SPARKY_SLACK_URL")
DISCORD = _hook("discord", "dc", "SPARKY_DISCORD_URL")


def _env(rx: ChatReceivers) -> dict[str, str]:
    return {
        "SPARKY_SLACK_URL": rx.url_for(SLACK_PATH),
        "SPARKY_DISCORD_URL": rx.url_for(DISCORD_PATH),
    }


def test_http_delivers_to_slack_discord_and_a_webhook(rx: ChatReceivers, tmp_path: Path) -> None:
    env = {**_env(rx), "HOOK": rx.url_for("/hook/x")}
    deliverer = _quick(tmp_path, env)
    out = deliverer.send_http(SLACK, "weekly", "2026-11-23", None, SLACK_PAYLOAD)
    assert out == Outcome("chat", "slack", "weekly", "2026-11-23", None, "delivered", None, 1)
    assert rx.bodies("/slack/") == [SLACK_PAYLOAD]
    assert [r.status for r in rx.received()] == [200]

    out = deliverer.send_http(DISCORD, "weekly", "2026-11-23", "platform", {"content": "hi"})
    assert (out.status, out.team, out.attempts) == ("delivered", "platform", 1)
    assert [r.status for r in rx.received("/discord/")] == [204]

    hook = _hook("webhook", "hook", "HOOK")
    out = deliverer.send_http(hook, "daily", "2026-11-23", None, {"title": "t"})
    assert out.status == "delivered"
    assert rx.bodies("/hook/") == [{"title": "t"}]
    entries = json.loads((tmp_path / "deliveries" / "dc.json").read_text())["entries"]
    assert entries["weekly/2026-11-23/platform"]["state"] == "delivered"
    assert entries["weekly/2026-11-23/platform"]["status"] == 204


def test_http_sends_once(rx: ChatReceivers, tmp_path: Path) -> None:
    deliverer = _quick(tmp_path, _env(rx))
    first = deliverer.send_http(SLACK, "weekly", "2026-11-23", None, SLACK_PAYLOAD)
    assert first.status == "delivered"
    # Another run, another Deliverer: the ledger file decides.
    again = _quick(tmp_path, _env(rx)).send_http(SLACK, "weekly", "2026-11-23", None, SLACK_PAYLOAD)
    assert (again.status, again.attempts, again.error) == ("already", 0, None)
    assert len(rx.received()) == 1
    # Another week is another digest.
    assert deliverer.send_http(SLACK, "weekly", "2026-11-30", None, SLACK_PAYLOAD).status == (
        "delivered"
    )
    assert len(rx.received()) == 2


def test_http_found_sending_is_unknown_and_sends_nothing(rx: ChatReceivers, tmp_path: Path) -> None:
    """A run died mid-post: it may have arrived, so nothing is sent until the entry is removed."""
    ledger = DeliveryLedger(tmp_path)
    ledger.mark("chat", "weekly", "2026-11-23", None, "sending")
    out = _quick(tmp_path, _env(rx)).send_http(SLACK, "weekly", "2026-11-23", None, SLACK_PAYLOAD)
    assert out.status == "unknown" and out.attempts == 0
    ledger_file = tmp_path / "deliveries" / "chat.json"
    assert out.error == (
        "chat: weekly/2026-11-23 may have been delivered (a run was sending); if it did not "
        f'arrive, remove "weekly/2026-11-23" from {ledger_file} and rerun'
    )
    assert rx.received() == []
    # Following the advice sends it.
    document = json.loads(ledger_file.read_text())
    del document["entries"][entry_key("weekly", "2026-11-23", None)]
    ledger_file.write_text(json.dumps(document))
    out = _quick(tmp_path, _env(rx)).send_http(SLACK, "weekly", "2026-11-23", None, SLACK_PAYLOAD)
    assert out.status == "delivered"
    assert len(rx.received()) == 1


def test_http_429_waits_retry_after(rx: ChatReceivers, tmp_path: Path) -> None:
    rx.fail("/slack/", [429], retry_after=1)
    started = time.monotonic()
    out = _quick(tmp_path, _env(rx)).send_http(SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD)
    elapsed = time.monotonic() - started
    assert (out.status, out.attempts) == ("delivered", 2)
    assert [r.status for r in rx.received()] == [429, 200]
    gap = rx.gaps()[0]
    assert 1.0 <= gap < 1.5, gap  # Retry-After: 1, not the 0.05 s backoff
    assert elapsed >= 1.0


def test_http_discord_429_json_body(rx: ChatReceivers, tmp_path: Path) -> None:
    """Discord's 429: Retry-After: 1 and {"retry_after": 0.6}: the longer is waited."""
    rx.fail("/discord/", [429], retry_after=0.6)
    out = _quick(tmp_path, _env(rx)).send_http(
        DISCORD, "daily", "2026-11-23", None, {"content": "x"}
    )
    assert (out.status, out.attempts) == ("delivered", 2)
    assert rx.received("/discord/")[0].status == 429
    assert 1.0 <= rx.gaps()[0] < 1.5


def test_http_429_longer_than_max_wait_fails_at_once(rx: ChatReceivers, tmp_path: Path) -> None:
    rx.fail("/slack/", [429], retry_after=2)
    started = time.monotonic()
    out = _quick(tmp_path, _env(rx), max_wait_s=1.5).send_http(
        SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
    )
    assert time.monotonic() - started < 1.0
    assert (out.status, out.attempts) == ("failed", 1)
    assert "asked to wait 2 s, more than max_wait_s=1.5" in (out.error or "")
    assert DeliveryLedger(tmp_path).state("chat", "daily", "2026-11-23", None) is None


def test_http_503_then_success(rx: ChatReceivers, tmp_path: Path) -> None:
    deliverer = _quick(tmp_path, _env(rx))
    rx.fail("/slack/", [503])
    out = deliverer.send_http(SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD)
    assert (out.status, out.attempts) == ("delivered", 2)
    rx.fail("/slack/", [503, 503])
    out = deliverer.send_http(SLACK, "daily", "2026-11-24", None, SLACK_PAYLOAD)
    assert (out.status, out.attempts) == ("delivered", 3)
    assert [r.status for r in rx.received()] == [503, 200, 503, 503, 200]
    # Backoff 0.05 s, then 0.1 s, each plus up to 0.05 s of jitter (retry.backoff).
    gaps = rx.gaps()
    assert 0.05 <= gaps[0] < 0.5 and 0.05 <= gaps[2] < 0.5 and 0.1 <= gaps[3] < 0.5


def test_http_always_503_fails_after_retries_and_clears(rx: ChatReceivers, tmp_path: Path) -> None:
    rx.fail("/slack/", [503] * 10)
    out = _quick(tmp_path, _env(rx), retries=2).send_http(
        SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
    )
    assert (out.status, out.attempts) == ("failed", 3)
    assert out.error == "chat: daily/2026-11-23: HTTP 503: fault (after 3 attempts)"
    assert len(rx.received()) == 3
    # The server answered each time: certainly not delivered, so a later run sends it.
    assert DeliveryLedger(tmp_path).state("chat", "daily", "2026-11-23", None) is None
    assert json.loads((tmp_path / "deliveries" / "chat.json").read_text())["entries"] == {}


def test_http_400_fails_at_once_with_the_receivers_error(rx: ChatReceivers, tmp_path: Path) -> None:
    deliverer = _quick(tmp_path, _env(rx))
    bad_blocks = {"text": "x", "blocks": [{"type": "carousel"}]}
    out = deliverer.send_http(SLACK, "daily", "2026-11-23", None, bad_blocks)
    assert (out.status, out.attempts) == ("failed", 1)
    assert out.error == "chat: daily/2026-11-23: HTTP 400: invalid_blocks"
    out = deliverer.send_http(DISCORD, "daily", "2026-11-23", None, {"content": "x" * 2001})
    assert (out.status, out.attempts) == ("failed", 1)
    assert out.error == (
        "dc: daily/2026-11-23: HTTP 400: Invalid Form Body (code 50035): "
        "content: Must be 2000 or fewer in length."
    )
    assert len(rx.received()) == 2
    assert DeliveryLedger(tmp_path).state("dc", "daily", "2026-11-23", None) is None


def test_http_url_env_unset(rx: ChatReceivers, tmp_path: Path) -> None:
    out = _quick(tmp_path, {"SPARKY_SLACK_URL": "  \n"}).send_http(
        SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
    )
    assert out.status == "failed" and out.attempts == 0
    assert out.error == "chat: daily/2026-11-23: url_env SPARKY_SLACK_URL is not set"
    assert not (tmp_path / "deliveries" / "chat.json").exists()


def test_http_plain_http_refused_off_loopback(tmp_path: Path) -> None:
    url = "http://hooks.example.invalid/services/T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx"
    out = _quick(tmp_path, {"SPARKY_SLACK_URL": url}).send_http(
        SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
    )
    assert out.status == "failed" and out.attempts == 0
    assert out.error == (
        "chat: daily/2026-11-23: url_env SPARKY_SLACK_URL holds an http URL; expected https"
    )


def test_http_no_answer_is_unknown(rx: ChatReceivers, tmp_path: Path) -> None:
    """The request arrived but the answer came after the client's timeout: retrying could post
    twice, so the entry stays "sending" and the outcome is "unknown"."""
    rx.delay("/slack/", 1.0)
    deliverer = _quick(tmp_path, _env(rx), timeout_s=0.3)
    out = deliverer.send_http(SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD)
    assert (out.status, out.attempts) == ("unknown", 1)
    assert "no answer after the request was sent (ReadTimeout" in (out.error or "")
    assert DeliveryLedger(tmp_path).state("chat", "daily", "2026-11-23", None) == "sending"
    deadline = time.monotonic() + 5
    while not rx.received() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rx.received()) == 1  # it did arrive
    rx.delay("/slack/", 0)
    again = deliverer.send_http(SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD)
    assert again.status == "unknown" and again.attempts == 0
    assert len(rx.received()) == 1


class _Redirect(BaseHTTPRequestHandler):
    """Answers every POST with 307 to `target` (a redirect that keeps the method and body)."""

    target = ""

    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_http_redirect_is_not_followed(rx: ChatReceivers, tmp_path: Path) -> None:
    handler = type("H", (_Redirect,), {"target": rx.url_for("/hook/stolen")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{SLACK_PATH}"
        out = _quick(tmp_path, {"SPARKY_SLACK_URL": url}).send_http(
            SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (out.status, out.attempts) == ("failed", 1)
    assert "HTTP 307: the webhook URL redirects" in (out.error or "")
    assert rx.received() == []


def test_http_connection_refused_fails_and_clears(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}{SLACK_PATH}"
    out = _quick(tmp_path, {"SPARKY_SLACK_URL": url}, retries=1).send_http(
        SLACK, "daily", "2026-11-23", None, SLACK_PAYLOAD
    )
    assert (out.status, out.attempts) == ("failed", 2)
    assert "no connection: ConnectError" in (out.error or "")
    assert DeliveryLedger(tmp_path).state("chat", "daily", "2026-11-23", None) is None


def test_the_webhook_url_never_shows(
    rx: ChatReceivers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every way a send can end, with the token-like URL: it is in no outcome, log line,
    ledger file or exception (send_http raised none: each call returned)."""
    caplog.set_level(logging.DEBUG)
    env = _env(rx)
    dead = f"http://127.0.0.1:{free_port()}{SLACK_PATH}"
    deliverer = _quick(tmp_path, env, retries=1, max_wait_s=1.5)
    outcomes = [deliverer.send_http(SLACK, "daily", "2026-11-01", None, SLACK_PAYLOAD)]
    rx.fail("/slack/", [503, 503])
    outcomes.append(deliverer.send_http(SLACK, "daily", "2026-11-02", None, SLACK_PAYLOAD))
    rx.fail("/slack/", [429], retry_after=5)
    outcomes.append(deliverer.send_http(SLACK, "daily", "2026-11-03", None, SLACK_PAYLOAD))
    outcomes.append(deliverer.send_http(SLACK, "daily", "2026-11-04", None, {"blocks": 1}))
    outcomes.append(deliverer.send_http(DISCORD, "daily", "2026-11-05", None, {"content": ""}))
    refused = _quick(tmp_path, {"SPARKY_SLACK_URL": dead}, retries=1)
    outcomes.append(refused.send_http(SLACK, "daily", "2026-11-06", None, SLACK_PAYLOAD))
    rx.delay("/slack/", 0.6)
    slow = _quick(tmp_path, env, timeout_s=0.2)
    outcomes.append(slow.send_http(SLACK, "daily", "2026-11-07", None, SLACK_PAYLOAD))
    statuses = [o.status for o in outcomes]
    assert statuses == ["delivered", "failed", "failed", "failed", "failed", "failed", "unknown"]
    assert "HTTP Request: POST" in caplog.text  # httpx logged each request: redacted
    texts = [repr(outcomes), caplog.text, _ledger_text(tmp_path)]
    for url in (env["SPARKY_SLACK_URL"], env["SPARKY_DISCORD_URL"], dead):
        path = url.split("127.0.0.1:")[1].split("/", 1)[1]
        for secret in (url, path, path.rsplit("/", 1)[1], quote(url, safe="")):
            for text in texts:
                assert secret not in text
    for out in outcomes[1:]:
        assert out.error is not None and "\n" not in out.error and len(out.error) <= 300


def test_a_failing_target_does_not_stop_the_next(rx: ChatReceivers, tmp_path: Path) -> None:
    """The caller loops over targets: the first one's failure is an Outcome, not an exception,
    and the second is still delivered."""
    env = {**_env(rx), "SPARKY_SLACK_URL": f"http://127.0.0.1:{free_port()}{SLACK_PATH}"}
    deliverer = _quick(tmp_path, env, retries=0)
    outcomes = [
        deliverer.send_http(target, "weekly", "2026-11-23", None, payload)
        for target, payload in ((SLACK, SLACK_PAYLOAD), (DISCORD, {"content": "hi"}))
    ]
    assert [(o.target, o.status) for o in outcomes] == [("chat", "failed"), ("dc", "delivered")]
    assert len(rx.received("/discord/")) == 1
