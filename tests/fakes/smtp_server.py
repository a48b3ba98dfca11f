"""A real SMTP server on 127.0.0.1 for delivery tests: aiosmtpd with STARTTLS (a trustme CA's
certificate; clients trust it through SSL_CERT_FILE) and AUTH, keeping what it receives."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


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


def _authenticator(login: str, password: str) -> Any:
    def check(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == login.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


def free_port() -> int:
    # aiosmtpd's Controller connects to its own port once started, so it needs a real number.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """aiosmtpd on 127.0.0.1: with `tls`, STARTTLS required before MAIL and AUTH (with
    `auth`, required before MAIL); without, a plain server that offers no STARTTLS."""

    _ca: trustme.CA | None = None

    def __init__(
        self,
        *,
        tls: bool,
        auth: bool = True,
        ca: trustme.CA | None = None,
        login: str = "",
        password: str = "",
    ):
        self.inbox = _Inbox()
        self.port = 0
        self.kwargs: dict[str, Any] = {}
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            (ca or SmtpServer.default_ca()).issue_cert("127.0.0.1", "localhost").configure_cert(
                context
            )
            self.kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        if auth:
            self.kwargs.update(authenticator=_authenticator(login, password), auth_required=tls)
        self.controller: Controller | None = None

    @classmethod
    def default_ca(cls) -> trustme.CA:
        if cls._ca is None:
            cls._ca = trustme.CA()
        return cls._ca

    def __enter__(self) -> SmtpServer:
        for tries_left in (2, 1, 0):  # another process may take the free port first (xdist)
            self.port = free_port()
            self.controller = Controller(
                self.inbox,
                hostname="127.0.0.1",
                port=self.port,
                server_hostname="mx.test",
                **self.kwargs,
            )
            try:
                self.controller.start()
                return self
            except OSError:
                if not tries_left:
                    raise
        raise AssertionError("unreachable")

    def __exit__(self, *exc: object) -> None:
        if self.controller is not None:
            self.controller.stop()
