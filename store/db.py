"""Connections: one place that opens psycopg connections and knows which errors are worth retrying."""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pg_errors
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_fixed,
    wait_random,
)

log = logging.getLogger(__name__)

# SQLSTATE classes that mean "the server went away or is not ready", not "your data is wrong":
# 08 connection exception, 57P01-57P03 shutdown/crash recovery, 53 insufficient resources, 40 rollback.
_TRANSIENT_PREFIXES = ("08", "57P", "53", "40")


def is_transient(exc: BaseException) -> bool:
    """Tell whether a database error should be retried after reconnecting."""
    if isinstance(exc, pg_errors.Error) and exc.sqlstate:
        return exc.sqlstate.startswith(_TRANSIENT_PREFIXES)
    # psycopg raises OperationalError without SQLSTATE when the socket drops or the server refuses.
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("database unavailable (%s); retry %d", exc, state.attempt_number)


def retrying(max_wait_s: float | None = None) -> Retrying:
    """Build the retry policy for transient database errors; ``None`` retries until it succeeds."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        # Jitter spreads the reconnects of many workers after a restart.
        wait=wait_exponential(multiplier=0.1, max=2.0) + wait_random(0, 0.1),
        stop=stop_never if max_wait_s is None else stop_after_delay(max_wait_s),
        before_sleep=_log_retry,
        reraise=True,
    )


def keep_running(what: str, pause_s: float = 1.0) -> AsyncRetrying:
    """Build the policy for a long-lived async loop that must never stop: start again after any error.

    Database errors are logged in a line; anything else with its traceback, since it is a bug. Cancellation is
    not an error (a ``BaseException``) and ends the loop.
    """
    def _log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        expected = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
        log.warning("%s: %s; starting again", what, exc, exc_info=None if expected else exc)

    return AsyncRetrying(retry=retry_if_exception_type(Exception), wait=wait_fixed(pause_s), stop=stop_never,
                         before_sleep=_log, reraise=True)


def connect(url: str, *, autocommit: bool = False, max_wait_s: float | None = 30.0) -> psycopg.Connection:
    """Open a connection, waiting out a database that is starting or restarting."""
    for attempt in retrying(max_wait_s):
        with attempt:
            return psycopg.connect(url, autocommit=autocommit, connect_timeout=5)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
