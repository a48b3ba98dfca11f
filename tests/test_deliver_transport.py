"""Delivering at most once, against real servers on 127.0.0.1: helper D's chat receivers
(tests/fakes/chat_receivers.py) for Slack, Discord and plain webhooks, aiosmtpd with STARTTLS
(a trustme CA, trusted through SSL_CERT_FILE) and AUTH for email. No mocks: every send crosses
a socket, and the ledger is the file on disk.
"""

from __future__ import annotations

import email
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from sparky_resources.config import DeliverTarget
from sparky_resources.deliver import Deliverer, DeliveryLedger, Outcome

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
    server = _SmtpServer(tls=True)
    with server:
        out = Deliverer(tmp_path, env={}).send_email(
            _email_target(server.port, password_env=None), "daily", "2026-11-23", None, _message()
        )
    assert out.status == "failed"
    assert "cannot read" in (out.error or "") and "mail.json" in (out.error or "")
    assert server.inbox.messages == []


# ---------------------------------------------------------------------------------------------
# SMTP: aiosmtpd with STARTTLS and AUTH


@dataclass
class _Inbox:
    """aiosmtpd handler: keeps each message with whether the session was under TLS; the first
    `temporary` DATA commands are answered 451 (RFC 5321: transient), the next `permanent` 554."""

    messages: list[tuple[Envelope, bool]] = field(default_factory=list)
    temporary: int = 0
    permanent: int = 0
    data_commands: int = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.temporary:
            self.temporary -= 1
            return "451 4.3.0 try again later"
        if self.permanent:
            self.permanent -= 1
            return "554 5.7.1 message rejected"
        self.messages.append((envelope, session.ssl is not None))
        return "250 2.0.0 OK"


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SENDER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    # aiosmtpd's Controller connects to its own port once started, so it needs a real number.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class _SmtpServer:
    """aiosmtpd on 127.0.0.1: with `tls`, STARTTLS required before MAIL and AUTH (with
    `auth`, required before MAIL); without, a plain server that offers no STARTTLS."""

    _ca: trustme.CA | None = None

    def __init__(self, *, tls: bool, auth: bool = True, ca: trustme.CA | None = None):
        self.inbox = _Inbox()
        self.port = _free_port()
        kwargs: dict[str, Any] = {}
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            (ca or _SmtpServer.default_ca()).issue_cert("127.0.0.1", "localhost").configure_cert(
                context
            )
            kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        if auth:
            kwargs.update(authenticator=_authenticator, auth_required=tls)
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, server_hostname="mx.test", **kwargs
        )

    @classmethod
    def default_ca(cls) -> trustme.CA:
        if cls._ca is None:
            cls._ca = trustme.CA()
        return cls._ca

    def __enter__(self) -> _SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp(ca: trustme.CA, trusted: Path) -> Iterator[_SmtpServer]:
    with _SmtpServer(tls=True, ca=ca) as server:
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
    return Deliverer(tmp_path, env=env, backoff_s=0.05, timeout_s=5, **kwargs)


def test_email_over_starttls_with_login(smtp: _SmtpServer, tmp_path: Path) -> None:
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
    smtp: _SmtpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
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


def test_email_password_env_unset_names_the_variable(smtp: _SmtpServer, tmp_path: Path) -> None:
    out = _quick(tmp_path, {}).send_email(
        _email_target(smtp.port), "weekly", "2026-11-23", None, _message()
    )
    assert out.status == "failed"
    assert out.error == "mail: weekly/2026-11-23: password_env SPARKY_SMTP_PASSWORD is not set"
    assert out.attempts == 0
    assert smtp.inbox.messages == []


def test_email_refused_without_starttls(tmp_path: Path, trusted: Path) -> None:
    with _SmtpServer(tls=False) as plain:
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
    with _SmtpServer(tls=True) as server:
        out = _quick(tmp_path, {"SPARKY_SMTP_PASSWORD": PASSWORD}).send_email(
            _email_target(server.port), "daily", "2026-11-23", None, _message()
        )
        assert server.inbox.data_commands == 0
    assert out.status == "failed"
    assert "certificate is not trusted" in (out.error or "")
    assert PASSWORD not in (out.error or "")


def test_email_4xx_is_retried_5xx_is_not(smtp: _SmtpServer, tmp_path: Path) -> None:
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


def test_email_4xx_every_time_fails_after_retries(smtp: _SmtpServer, tmp_path: Path) -> None:
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
