"""Sending a digest's first screen to a `[[deliver]]` target, at most once.

A target is a chat webhook (Slack, Discord, any JSON webhook: one POST) or a mailbox (SMTP with
STARTTLS). The caller builds the payload or the message; this module only sends it and keeps
the delivery ledger, `<data_dir>/deliveries/<target>.json`, one entry per
`<period>/<key>[/<team>]`: `"sending"` before the first attempt, `"delivered"` after success.

**Why at most once.** The issue asks that a digest is never posted twice: a second copy of a
weekly digest in a channel is noise every reader sees, while a missing one is noticed by one
person who can send it again. So a send whose fate is not known (the run died after the request
left, an answer that never came, a connection that dropped after the mail's DATA) stays
`"sending"`: later runs report it `"unknown"` and send nothing until someone removes the entry
from the ledger file. At-least-once would retry those and post twice whenever the first one had
arrived. A failure that certainly did not deliver (no connection, a 4xx other than 429, retries
spent on 5xx/429 answers, an SMTP refusal) clears `"sending"`, so the next run retries it.

**HTTP.** One `httpx` POST of JSON, redirects never followed (a webhook URL does not redirect;
following one would carry the payload elsewhere). 2xx is success (Slack's incoming webhooks
answer 200 `ok`; Discord's "Execute Webhook" answers 204 without `?wait=true`). 429 waits what
`Retry-After` says (Slack's "Rate limits" page: HTTP 429 with a `Retry-After` header in seconds;
Discord's "Rate Limits" topic: the same header and `retry_after`, in seconds, in the JSON body),
at most `max_wait_s` in all. 5xx and a connection that could not be made are retried with
`retry.backoff`. Any other 4xx fails at once with the body's first line (Slack's incoming
webhook errors are plain text such as `invalid_blocks`; Discord answers JSON with a `message`).

**SMTP.** `smtplib.SMTP`, then STARTTLS (RFC 3207) with `ssl.create_default_context()` (its CAs
come from OpenSSL's default paths, which honour `SSL_CERT_FILE`); a server that offers no
STARTTLS is refused, since the message and the password would cross the network in clear.
Login when `password_env` is set, then `send_message`. 4xx replies are retried with backoff
(RFC 5321 4.2.1: transient), 5xx fail.

**Secrets.** The webhook URL is the secret (whoever has it can post), so it, its path, query
and token-like path segments, in every form `secrets.redact` knows (URL-encoded too), and the
SMTP password are replaced by `<redacted>` in every error, log line and ledger entry; httpx's
own "HTTP Request: POST <url>" log line is redacted by a filter on its logger while a send runs.
"""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
import logging
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from filelock import FileLock, Timeout
from tenacity import RetryCallState

from sparky_resources import retry, secrets
from sparky_resources.config import TARGET_NAME, DeliverTarget, redact_userinfo
from sparky_resources.store import SCHEMA_VERSION, atomic_write_json, lock_file

log = logging.getLogger(__name__)

Status = Literal["delivered", "already", "failed", "unknown"]
REDACTED = "<redacted>"
MAX_ERROR_CHARS = 300
LEDGER_DIR = "deliveries"
LEDGER_LOCK_TIMEOUT_S = 60.0
SENDING = "sending"
DELIVERED = "delivered"
# The longest one backoff sleep may be, whatever max_wait_s allows.
BACKOFF_MAX_S = 60.0
# A webhook URL over plain http is refused except on the machine itself (tests, a local relay).
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_T = TypeVar("_T")


@dataclass(frozen=True)
class Outcome:
    """What one send did: `delivered` now, `already` (the ledger says so; nothing sent),
    `failed` (certainly not delivered; a later run retries) or `unknown` (it may have
    arrived; nothing is sent again until the ledger entry is removed)."""

    target: str
    kind: str
    period: str
    key: str
    team: str | None
    status: Status
    error: str | None = None  # one line, secrets redacted
    attempts: int = 0


class LedgerError(OSError):
    """The ledger file cannot be read, written or locked; one line naming the file."""


def entry_key(period: str, key: str, team: str | None) -> str:
    """The ledger's key for one digest: `<period>/<key>` or `<period>/<key>/<team>`."""
    return f"{period}/{key}" if team is None else f"{period}/{key}/{team}"


class DeliveryLedger:
    """`<data_dir>/deliveries/<target>.json`: what each target has been sent.

    Every change is a read-modify-write under the file's lock (`<data_dir>/.locks/deliveries/
    <target>.json.lock`, as the store keeps its locks) and an atomic write (temp file +
    rename), so two runs never both claim one digest and a crash never leaves half a file.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def path(self, target: str) -> Path:
        if not TARGET_NAME.fullmatch(target):
            raise ValueError(f"target name {target!r}: expected lowercase letters, digits, - or _")
        return self.data_dir / LEDGER_DIR / f"{target}.json"

    def state(self, target: str, period: str, key: str, team: str | None) -> str | None:
        """None (never tried, or a failure cleared it), "sending" or "delivered"."""
        entry = self._entries(target).get(entry_key(period, key, team))
        return entry.get("state") if isinstance(entry, dict) else None

    def mark(
        self, target: str, period: str, key: str, team: str | None, state: str, **detail: Any
    ) -> None:
        """Record `state` (and `detail`: attempts, status...) for one digest, with the time."""
        with self._locked(target):
            entries = self._entries(target)
            at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            entries[entry_key(period, key, team)] = {"state": state, "at": at, **detail}
            self._write(target, entries)

    def claim(self, target: str, period: str, key: str, team: str | None) -> str | None:
        """Mark one digest "sending" unless the ledger has it already; returns the state it
        had (None: claimed now). Check and mark under one lock, so two runs never both send."""
        with self._locked(target):
            entries = self._entries(target)
            entry = entries.get(entry_key(period, key, team))
            state = entry.get("state") if isinstance(entry, dict) else None
            if state is None:
                at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                entries[entry_key(period, key, team)] = {"state": SENDING, "at": at}
                self._write(target, entries)
            return state

    def clear(self, target: str, period: str, key: str, team: str | None) -> None:
        """Forget one digest (a failure that certainly did not deliver): the next run sends."""
        with self._locked(target):
            entries = self._entries(target)
            if entries.pop(entry_key(period, key, team), None) is not None:
                self._write(target, entries)

    def _entries(self, target: str) -> dict[str, Any]:
        path = self.path(target)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise LedgerError(
                f"cannot read {path}: {_os_reason(exc)}; fix it or remove it (its digests "
                "would then be sent again)"
            ) from None
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise LedgerError(f"cannot read {path}: expected an object with 'entries'")
        return entries

    def _write(self, target: str, entries: dict[str, Any]) -> None:
        path = self.path(target)
        document = {"schema_version": SCHEMA_VERSION, "target": target, "entries": entries}
        try:
            atomic_write_json(path, document)
        except OSError as exc:
            raise LedgerError(f"cannot write {path}: {_os_reason(exc)}") from None

    @contextmanager
    def _locked(self, target: str) -> Iterator[None]:
        path = self.path(target)
        lock_path = lock_file(self.data_dir, Path(LEDGER_DIR) / path.name)
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(lock_path, timeout=LEDGER_LOCK_TIMEOUT_S)
            lock.acquire()
        except Timeout:
            raise LedgerError(
                f"cannot lock {path}: another run held {lock_path} for over "
                f"{LEDGER_LOCK_TIMEOUT_S:g} s"
            ) from None
        except OSError as exc:
            raise LedgerError(f"cannot lock {path}: {_os_reason(exc)}") from None
        try:
            yield
        finally:
            lock.release()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return one_line(str(exc), 160)


# ---------------------------------------------------------------------------------------------
# Redaction


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` on one line (every run of whitespace one space), at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _token_like(segment: str) -> bool:
    """A URL path segment that is a secret's piece: Slack's `T…`/`B…` ids and token, Discord's
    webhook id and token. Words such as `services`, `webhooks` or `api` are not."""
    return len(segment) >= 8 and (any(c.isdigit() for c in segment) or len(segment) >= 16)


def url_secrets(url: str) -> list[str]:
    """The pieces of a webhook URL that give it away: the whole URL, its path, query and
    fragment, each token-like path segment and each query value, and any userinfo."""
    found = {url, url.rstrip("/")}
    try:
        parts = urlsplit(url)
    except ValueError:
        return sorted(found, key=len, reverse=True)
    path = parts.path
    if path.strip("/"):
        found.update({path, path.strip("/")})
    found.update(seg for seg in path.split("/") if _token_like(seg))
    for piece in (parts.query, parts.fragment, parts.username, parts.password):
        if piece and len(piece) >= secrets.MIN_PIECE:
            found.add(piece)
    for _, value in parse_qsl(parts.query, keep_blank_values=True):
        if len(value) >= secrets.MIN_PIECE:
            found.add(value)
    return sorted(found, key=len, reverse=True)


class Redactor:
    """Replaces each secret of one send, in every form `secrets.redact` knows, and any URL
    userinfo, with `<redacted>`; then makes the text one line of at most 300 characters."""

    def __init__(self, hidden: list[str]):
        self.hidden = [s for s in hidden if s]

    def __call__(self, text: str, limit: int = MAX_ERROR_CHARS) -> str:
        return one_line(self.redact(text), limit)

    def redact(self, text: str) -> str:
        return redact_userinfo(secrets.redact(text, self.hidden, REDACTED))


class _RedactActive(logging.Filter):
    """On httpx's logger: its "HTTP Request: POST <url> ..." line, with the URLs of the sends
    running now redacted (the logger is process-wide, so the secrets are registered per send)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[int, Redactor] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactors = list(self._active.values())
        if redactors:
            text = record.getMessage()
            for redactor in redactors:
                text = redactor.redact(text)
            record.msg, record.args = text, None
        return True

    @contextmanager
    def active(self, redactor: Redactor) -> Iterator[None]:
        with self._lock:
            self._active[id(redactor)] = redactor
        try:
            yield
        finally:
            with self._lock:
                self._active.pop(id(redactor), None)


_HTTPX_LOG_FILTER = _RedactActive()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_HTTPX_LOG_FILTER)


# ---------------------------------------------------------------------------------------------
# How an attempt ended


class _Again(retry.Transient):
    """Certainly not delivered, and may succeed when repeated; `wait_s` None: back off."""

    def __init__(self, reason: str, *, wait_s: float | None = None, status: int | None = None):
        super().__init__(reason, status=status)
        self.wait_s = wait_s


class _NotDelivered(Exception):
    """Certainly not delivered; repeating it now would fail the same way."""


class _MaybeDelivered(Exception):
    """It left this machine and no verdict came back: it may have arrived."""


@dataclass
class _Budget:
    """One send's attempts and sleeps so far."""

    what: str  # "deliver <target>: <period>/<key>", for the retry log lines
    attempts: int = 0
    waited_s: float = 0.0


# ---------------------------------------------------------------------------------------------
# Deliverer


class Deliverer:
    """Sends to `[[deliver]]` targets through the ledger in `data_dir`; secrets come from `env`
    (default `os.environ`). `send_*` never raises: a failing target is an `Outcome`."""

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        max_wait_s: float = 120,
        backoff_s: float = 1.0,
        retries: int = 4,
        timeout_s: float = 20,
    ):
        self.ledger = DeliveryLedger(data_dir)
        self.env = os.environ if env is None else env
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s
        self.retries = retries
        self.timeout_s = timeout_s

    # -- HTTP -----------------------------------------------------------------------------------

    def send_http(
        self,
        target: DeliverTarget,
        period: str,
        key: str,
        team: str | None,
        payload: dict[str, Any],
    ) -> Outcome:
        """POST `payload` as JSON to the URL in `$url_env`, once (module doc)."""

        def prepare() -> tuple[Redactor, Callable[[Redactor, _Budget], dict[str, Any]]]:
            url = self._secret(target.url_env, "url_env")
            redactor = Redactor(url_secrets(url))
            problem = _url_problem(url, target)
            if problem:
                raise _NotDelivered(problem)
            return redactor, lambda r, budget: self._post(target, url, payload, r, budget)

        return self._deliver(target, period, key, team, prepare)

    def _post(
        self,
        target: DeliverTarget,
        url: str,
        payload: dict[str, Any],
        redactor: Redactor,
        budget: _Budget,
    ) -> dict[str, Any]:
        with (
            _HTTPX_LOG_FILTER.active(redactor),
            httpx.Client(follow_redirects=False, timeout=self.timeout_s) as client,
        ):
            answer = self._retrying(
                redactor, budget, lambda: self._post_once(client, url, payload, budget)
            )
        return {"status": answer.status_code}

    def _post_once(
        self, client: httpx.Client, url: str, payload: dict[str, Any], budget: _Budget
    ) -> httpx.Response:
        budget.attempts += 1
        try:
            answer = client.post(url, json=payload)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # Refused by httpx before anything was sent.
            raise _NotDelivered(f"request not sent: {type(exc).__name__}: {exc}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made, so nothing of the request left this machine.
            raise _Again(f"no connection: {type(exc).__name__}: {exc}") from None
        except httpx.TransportError as exc:
            # The request (or part of it) was sent and no answer came: it may have arrived.
            what = "no answer" if isinstance(exc, httpx.TimeoutException) else "connection lost"
            raise _MaybeDelivered(
                f"{what} after the request was sent ({type(exc).__name__}"
                + (f": {exc}" if str(exc) else "")
                + ")"
            ) from None
        status = answer.status_code
        if 200 <= status < 300:
            return answer
        said = _first_line(answer)
        if status == 429:
            wait = _retry_after(answer)
            if wait is not None and budget.waited_s + wait > self.max_wait_s:
                raise _NotDelivered(
                    f"HTTP 429: rate limited; asked to wait {wait:g} s, more than max_wait_s="
                    f"{self.max_wait_s:g} allows after {budget.waited_s:.1f} s waited; rerun later"
                )
            raise _Again(f"HTTP 429: rate limited{_said(said)}", wait_s=wait, status=status)
        if status >= 500:
            raise _Again(f"HTTP {status}{_said(said)}", status=status)
        if 300 <= status < 400:
            raise _NotDelivered(
                f"HTTP {status}: the webhook URL redirects, and redirects are not followed "
                "(the payload would go elsewhere); check the URL"
            )
        raise _NotDelivered(f"HTTP {status}{_said(said)}")

    # -- SMTP -----------------------------------------------------------------------------------

    def send_email(
        self,
        target: DeliverTarget,
        period: str,
        key: str,
        team: str | None,
        message: EmailMessage,
    ) -> Outcome:
        """Send `message` from `from` to `to` over SMTP with STARTTLS, once (module doc)."""

        def prepare() -> tuple[Redactor, Callable[[Redactor, _Budget], dict[str, Any]]]:
            password = (
                self._secret(target.password_env, "password_env") if target.password_env else None
            )
            redactor = Redactor([password] if password else [])
            if not target.smtp_host or not target.sender or not target.to:
                raise _NotDelivered("expected smtp_host, from and to in an email target")
            return redactor, lambda r, budget: self._smtp(target, message, password, r, budget)

        return self._deliver(target, period, key, team, prepare)

    def _smtp(
        self,
        target: DeliverTarget,
        message: EmailMessage,
        password: str | None,
        redactor: Redactor,
        budget: _Budget,
    ) -> dict[str, Any]:
        message = copy.deepcopy(message)
        if "From" not in message:
            message["From"] = target.sender
        if "To" not in message:
            message["To"] = ", ".join(target.to)
        refused = self._retrying(
            redactor, budget, lambda: self._smtp_once(target, message, password, budget)
        )
        detail: dict[str, Any] = {}
        if refused:
            # Some recipients took it: sending again would give them a second copy.
            detail["refused"] = sorted(refused)
        return detail

    def _smtp_once(
        self,
        target: DeliverTarget,
        message: EmailMessage,
        password: str | None,
        budget: _Budget,
    ) -> dict[str, tuple[int, bytes]]:
        budget.attempts += 1
        where = f"{target.smtp_host}:{target.smtp_port}"
        sending = False
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(target.smtp_host or "", target.smtp_port, timeout=self.timeout_s)
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise _NotDelivered(
                    f"SMTP server {where} offers no STARTTLS (RFC 3207); refusing to send the "
                    "message and password in clear"
                )
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            if password is not None:
                if not smtp.has_extn("auth"):
                    raise _NotDelivered(f"SMTP server {where} offers no AUTH after STARTTLS")
                smtp.login(target.username or target.sender or "", password)
            sending = True
            refused = smtp.send_message(message, from_addr=target.sender, to_addrs=target.to)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reason = f"SMTP {where}: every recipient refused: " + "; ".join(
                f"{who} ({code} {_text(said)})" for who, (code, said) in exc.recipients.items()
            )
            if codes and all(400 <= c < 500 for c in codes):
                raise _Again(reason) from None
            raise _NotDelivered(reason) from None
        except smtplib.SMTPResponseException as exc:
            # The server answered with a refusal: whatever it refused was not delivered.
            reason = f"SMTP {where}: {exc.smtp_code} {_text(exc.smtp_error)}"
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                user = target.username or target.sender
                reason += f" (login as {user} with the password in {target.password_env})"
            if 400 <= exc.smtp_code < 500:
                raise _Again(reason) from None
            raise _NotDelivered(reason) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _NotDelivered(f"SMTP {where}: {exc}") from None
        except UnicodeEncodeError:
            # smtplib's AUTH encodes the password as ASCII (smtplib.SMTP.auth).
            raise _NotDelivered(
                f"SMTP {where}: {target.password_env} holds a non-ASCII character, which "
                "smtplib cannot send in AUTH"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise _NotDelivered(
                f"SMTP {where}: its certificate is not trusted ({exc.verify_message}); "
                "install its CA, or point SSL_CERT_FILE at it"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = f"SMTP {where}: {type(exc).__name__}: {exc}"
            if sending:
                raise _MaybeDelivered(f"{reason} while sending the message") from None
            raise _Again(reason) from None
        finally:
            if smtp is not None:
                _quit(smtp)
        return refused

    # -- common ---------------------------------------------------------------------------------

    def _deliver(
        self,
        target: DeliverTarget,
        period: str,
        key: str,
        team: str | None,
        prepare: Callable[[], tuple[Redactor, Callable[[Redactor, _Budget], dict[str, Any]]]],
    ) -> Outcome:
        """The ledger around one send: check, claim, send, record (module doc)."""
        name = target.name or target.kind

        def outcome(status: Status, error: str | None = None, attempts: int = 0) -> Outcome:
            return Outcome(name, target.kind, period, key, team, status, error, attempts)

        where = f"{name}: {entry_key(period, key, team)}"
        try:
            state = self.ledger.state(name, period, key, team)
        except (LedgerError, ValueError) as exc:
            return outcome("failed", one_line(f"{where}: nothing sent: {exc}"))
        if state == DELIVERED:
            return outcome("already")
        if state is not None:
            return outcome("unknown", self._unknown(name, period, key, team, "a run was sending"))
        try:
            redactor, send = prepare()
        except _NotDelivered as exc:
            return outcome("failed", one_line(f"{where}: {exc}"))
        try:
            state = self.ledger.claim(name, period, key, team)
        except LedgerError as exc:
            return outcome("failed", redactor(f"{where}: nothing sent: {exc}"))
        if state == DELIVERED:
            return outcome("already")
        if state is not None:
            return outcome("unknown", self._unknown(name, period, key, team, "a run was sending"))
        budget = _Budget(f"deliver {where}")
        try:
            detail = send(redactor, budget)
        except (_NotDelivered, _Again) as exc:
            error = redactor(f"{where}: {exc}")
            try:
                self.ledger.clear(name, period, key, team)
            except LedgerError as ledger_exc:
                error = redactor(f"{where}: {exc}; and {ledger_exc}")
            log.warning("deliver failed: %s", error)
            return outcome("failed", error, budget.attempts)
        except _MaybeDelivered as exc:
            error = self._unknown(name, period, key, team, redactor.redact(str(exc)))
            log.warning("deliver unknown: %s", error)
            return outcome("unknown", error, budget.attempts)
        except Exception as exc:  # a bug here: whether it was sent is not known
            reason = redactor.redact(f"{type(exc).__name__}: {exc}")
            error = self._unknown(name, period, key, team, reason)
            log.warning("deliver unknown: %s", error)
            return outcome("unknown", error, budget.attempts)
        try:
            self.ledger.mark(name, period, key, team, DELIVERED, attempts=budget.attempts, **detail)
        except LedgerError as exc:
            # Delivered; the entry stays "sending", so later runs say "unknown", never resend.
            return outcome("delivered", redactor(f"{where}: delivered, but {exc}"), budget.attempts)
        log.info("deliver %s: delivered in %d attempt(s)", where, budget.attempts)
        refused = detail.get("refused")
        error = (
            redactor(f"{where}: refused by the server: {', '.join(refused)}") if refused else None
        )
        return outcome("delivered", error, budget.attempts)

    def _unknown(self, name: str, period: str, key: str, team: str | None, why: str) -> str:
        """The "unknown" line: why, and how to send it again once it is known not to have
        arrived. The ledger's path comes last but is never cut (it is what to edit)."""
        entry = entry_key(period, key, team)
        tail = f'; if it did not arrive, remove "{entry}" from {self.ledger.path(name)} and rerun'
        head = f"{name}: {entry} may have been delivered ({why})"
        return one_line(head, max(60, MAX_ERROR_CHARS - len(tail))) + tail

    def _secret(self, env_name: str | None, setting: str) -> str:
        """The value of the environment variable a target names, trimmed; `_NotDelivered`
        naming the variable (never its value) when unset or blank."""
        if not env_name:
            raise _NotDelivered(f"expected {setting} in this target")
        value = (self.env.get(env_name) or "").strip()
        if not value:
            raise _NotDelivered(f"{setting} {env_name} is not set")
        return value

    def _retrying(self, redactor: Redactor, budget: _Budget, attempt: Callable[[], _T]) -> _T:
        """`attempt` until it succeeds, raises something other than `_Again`, or `retries`
        retries are spent (then `_NotDelivered` with the last reason)."""

        def wait(state: RetryCallState) -> float:
            exc = retry.failure(state)
            if isinstance(exc, _Again) and exc.wait_s is not None:
                return exc.wait_s
            return retry.backoff(self.backoff_s, min(BACKOFF_MAX_S, self.max_wait_s))(state)

        def sleep(seconds: float) -> None:
            budget.waited_s += seconds
            time.sleep(seconds)

        retrying = retry.retrying(
            what=budget.what,
            attempts=lambda exc: self.retries + 1,
            wait=wait,
            sleep=sleep,
            log=log,
            describe=lambda exc: redactor(str(exc)),
        )
        try:
            for tried in retrying:
                with tried:
                    result = attempt()
        except _Again as exc:
            raise _NotDelivered(f"{exc.reason} (after {budget.attempts} attempts)") from None
        return result


# ---------------------------------------------------------------------------------------------
# Helpers


def _url_problem(url: str, target: DeliverTarget) -> str | None:
    """Why `$url_env` cannot be posted to, naming the variable only; None when it can."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return f"url_env {target.url_env} does not hold a URL"
    if parts.scheme not in ("http", "https") or not parts.host:
        return f"url_env {target.url_env} does not hold an http(s) URL"
    if parts.scheme == "http" and parts.host not in LOOPBACK:
        # The URL is the secret: over http it would cross the network in clear.
        return f"url_env {target.url_env} holds an http URL; expected https"
    return None


def _retry_after(answer: httpx.Response) -> float | None:
    """Seconds to wait before the next attempt: `Retry-After` (seconds or an HTTP date,
    RFC 9110 10.2.3) or Discord's JSON `retry_after` (seconds), the longer of the two."""
    waits: list[float] = []
    header = answer.headers.get("retry-after", "").strip()
    if header:
        try:
            waits.append(float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None and when.tzinfo is not None:
                waits.append((when - dt.datetime.now(dt.UTC)).total_seconds())
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            waits.append(float(value))
    return max(0.0, *waits) if waits else None


def _first_line(answer: httpx.Response) -> str:
    """What a refusal said: Discord's JSON `message` (with its code and the first field error),
    a JSON `error`, or the body's first non-blank line (Slack's plain-text error codes)."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, str) and message.strip():
            said = message.strip()
            if isinstance(body.get("code"), int) and not isinstance(body.get("code"), bool):
                said += f" (code {body['code']})"
            field = _first_field_error(body.get("errors"))
            return f"{said}: {field}" if field else said
    for line in answer.text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _first_field_error(errors: Any, path: str = "") -> str | None:
    """Discord's nested `errors` object ("Error Messages" in its reference): the first
    `_errors` entry as `field.path: message`."""
    if not isinstance(errors, dict):
        return None
    listed = errors.get("_errors")
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        return f"{path or 'body'}: {listed[0].get('message', '')}".strip()
    for name, value in errors.items():
        found = _first_field_error(value, f"{path}.{name}" if path else str(name))
        if found:
            return found
    return None


def _said(text: str) -> str:
    return f": {text}" if text else ""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _quit(smtp: smtplib.SMTP) -> None:
    """QUIT and close, ignoring what goes wrong: the verdict on the message came before."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
