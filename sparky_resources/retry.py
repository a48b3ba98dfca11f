"""Retrying an HTTP attempt: the scaffolding the GitHub and Ollama clients share.

`HttpClient` is what each client is around its one `httpx.Client`: a context manager that
closes it.

An attempt that may succeed when repeated raises `Transient` (or a subclass carrying what its
client needs); `retrying` builds tenacity's `Retrying` around it: retried only on `Transient`,
the wait given by the client (`backoff` by default), a `sleep` tests replace, and one warning
line before each sleep. tenacity: https://tenacity.readthedocs.io/en/latest/.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

if TYPE_CHECKING:
    import httpx

Wait = wait_base | Callable[[RetryCallState], float]


class HttpClient:
    """A client that owns one `httpx.Client` (`_http`): use it in a `with`, or `close()` it."""

    _http: httpx.Client

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()


class Transient(Exception):
    """An attempt that may succeed when repeated: `reason` is one line, `status` the HTTP
    status when there was an answer."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def backoff(initial_s: float, max_s: float) -> wait_base:
    """`initial_s`, 2x, 4x ... up to `max_s`, plus up to `initial_s` of jitter. Built from
    `wait_exponential` + `wait_random`: `wait_exponential_jitter` deprecates its `initial` in
    tenacity 9.1, and 9.0 (which pyproject allows) lacks its `multiplier`."""
    return wait_exponential(multiplier=initial_s, max=max_s) + wait_random(0, initial_s)


def failure(state: RetryCallState) -> BaseException | None:
    """The exception the last attempt raised (None when it returned)."""
    return state.outcome.exception() if state.outcome else None


def retrying(
    *,
    what: str,
    attempts: Callable[[BaseException | None], int],
    wait: Wait,
    sleep: Callable[[float], None],
    log: logging.Logger,
    on_retry: Callable[[BaseException | None], None] | None = None,
    describe: Callable[[BaseException | None], str] = str,
) -> Retrying:
    """tenacity's `Retrying` for `Transient` attempts of `what` ("GitHub GET <url>").

    `attempts(exc)` is how many attempts the last failure allows in all (a client may give a
    connection that cannot be opened fewer); `on_retry(exc)` counts a retry; `describe(exc)`
    is the failure as logged (a client redacts its secrets there). Gives up by re-raising the
    last `Transient`, for the client to turn into its own one-line error.
    """

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= attempts(failure(state))

    def before_sleep(state: RetryCallState) -> None:
        exc = failure(state)
        if on_retry is not None:
            on_retry(exc)
        log.warning(
            "%s: %s; retrying in %.1f s (attempt %d of %d)",
            what,
            describe(exc),
            state.next_action.sleep if state.next_action else 0.0,
            state.attempt_number + 1,
            attempts(exc),
        )

    return Retrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(Transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
