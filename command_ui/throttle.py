"""Sign-in throttling: wrong passwords slow whoever sends them, never lock the owner out.

Failures are counted per (name, address), for the sign-in form and HTTP Basic alike. After ``login_attempts``
failures of a pair in a day, that pair waits :data:`BASE_DELAY` after its latest failure, twice as long after
each further one, at most :data:`MAX_DELAY`; the answer is 429 with ``Retry-After``. Nobody else waits: the
same person with the right password from their own desk, or a colleague behind the same school NAT. A
successful sign-in clears the pair's failures.

Against one address trying many names (spraying) there is a looser cap across names: ``login_address_failures``
in :data:`ADDRESS_WINDOW` makes that address wait until the oldest of them leaves the window (the numbers are
explained beside the setting in campusguard/settings.py).

While a pair or an address waits, its password is not even checked: otherwise each refused guess would still
tell right from wrong. Every failure is audited; a throttle is audited once per wait (``auth.*_throttled``,
carrying the name, the address, the failures and the delay), not once per refused request, since each audit
record takes the hash chain's lock and a flood of refused requests must not become a flood of records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg
from fastapi import HTTPException, status

from domain.audit import AuditRecord
from store import audit_repo
from store.auth_repo import (
    ATTEMPT_MEMORY,
    attempted_since,
    clear_failures,
    nth_newest_failure,
    pair_failures,
    record_attempt,
)

BASE_DELAY = timedelta(seconds=30)  # a person who mistyped five times waits half a minute
MAX_DELAY = timedelta(minutes=15)  # at most: from then on a guesser gets four tries an hour per (name, address)
ADDRESS_WINDOW = timedelta(minutes=15)
Via = Literal["login", "basic"]


@dataclass(frozen=True, slots=True)
class Throttled:
    """Why a sign-in is refused before its password is checked, and for how long."""

    scope: Literal["pair", "address"]
    failures: int  # of the pair, or from the address within the window
    delay: timedelta  # the whole wait this throttle imposes
    retry_after_s: int  # what is left of it
    since: datetime  # the failure that started the wait


def pair_delay(failures: int, allowed: int) -> timedelta:
    """How long a pair waits after its latest failure: nothing below ``allowed``, then doubling to the cap."""
    if failures < allowed:
        return timedelta(0)
    return min(BASE_DELAY * (1 << min(failures - allowed, 16)), MAX_DELAY)


def check(conn: psycopg.Connection, name: str, client: str, now: datetime, *, pair_limit: int,
          address_limit: int) -> Throttled | None:
    """Tell whether this name from this address must wait now; None: go ahead and check the password."""
    failures, last = pair_failures(conn, name, client, now - ATTEMPT_MEMORY)
    delay = pair_delay(failures, pair_limit)
    if last is not None and delay and now < last + delay:
        return Throttled("pair", failures, delay, _seconds(last + delay - now), last)
    oldest_counted = nth_newest_failure(conn, client, now - ADDRESS_WINDOW, address_limit)
    if oldest_counted is not None:
        # The wait began with the address's latest failure and ends when the oldest counted leaves the window.
        latest = nth_newest_failure(conn, client, now - ADDRESS_WINDOW, 1) or oldest_counted
        ends = oldest_counted + ADDRESS_WINDOW
        return Throttled("address", address_limit, ends - latest, _seconds(ends - now), latest)
    return None


def refuse(conn: psycopg.Connection, name: str, client: str, now: datetime, throttled: Throttled,
           via: Via) -> HTTPException:
    """Audit a throttle (once per wait) and build the 429 that says how long to wait."""
    kind: Literal["throttled_pair", "throttled_address"] = (
        "throttled_pair" if throttled.scope == "pair" else "throttled_address")
    with conn.transaction():
        # One record per wait: none yet since the failure that started it (per pair, or per address).
        pair_name = name if throttled.scope == "pair" else None
        if not attempted_since(conn, kind, client, throttled.since, pair_name):
            record_attempt(conn, name, client, now, kind)
            audit_repo.append(conn, AuditRecord(now, name, f"auth.{via}_throttled", f"user:{name}", {
                "client": client, "name": name, "scope": throttled.scope, "failures": throttled.failures,
                "delay_s": int(throttled.delay.total_seconds()), "retry_after_s": throttled.retry_after_s}))
    what = "this name from this address" if throttled.scope == "pair" else "this address"
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         detail=f"too many failed sign-ins for {what}; try again in {throttled.retry_after_s} s",
                         headers={"Retry-After": str(throttled.retry_after_s)})


def failed(conn: psycopg.Connection, name: str, client: str, now: datetime, via: Via) -> None:
    """Count and audit a wrong name or password."""
    with conn.transaction():
        record_attempt(conn, name, client, now, "failed")
        audit_repo.append(conn, AuditRecord(now, name, f"auth.{via}_failed", f"user:{name}", {"client": client}))


def succeeded(conn: psycopg.Connection, name: str, client: str) -> None:
    """Forget the pair's failures: a person who mistyped and then got it right starts afresh."""
    clear_failures(conn, name, client)


def _seconds(left: timedelta) -> int:
    return max(1, math.ceil(left.total_seconds()))
