"""Accounts and sessions in the database; the sign-in throttle's record of failures by (name, address).

Accounts carry their password hash and the organisation path of their scope.

A session token is stored as HMAC-SHA256 under the deployment's secret key (``CAMPUSGUARD_SECRET_KEY``), never
as itself: a read of the table gives nothing to sign in with, and a row written into it without the key (a
restored dump, a stray ``INSERT``) matches no token. Changing the key ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, LiteralString

import psycopg

from store.channels import announce_session_end

AttemptKind = Literal["failed", "throttled_pair", "throttled_address", "basic_ok"]
ATTEMPT_MEMORY = timedelta(days=1)  # throttle rows older than this decide nothing and are pruned


@dataclass(frozen=True, slots=True)
class Account:
    """A user as authentication needs them."""

    id: str
    role: str
    scope_id: str | None
    scope_path: str
    password_hash: str | None
    active: bool
    locale: str


def _token_hash(key: bytes, token: str) -> bytes:
    return hmac.new(key, token.encode(), hashlib.sha256).digest()


def account(conn: psycopg.Connection, user_id: str) -> Account | None:
    """Load a user with the organisation path of their scope and their language (their own pick, else the site's)."""
    row = conn.execute(
        "SELECT u.id, u.role, u.scope_id, coalesce(o.path, '/'), u.password_hash, u.active,"
        " coalesce(u.chosen_locale, u.locale)"
        " FROM users u LEFT JOIN org_units o ON o.id = u.scope_id WHERE u.id = %s", (user_id,)).fetchone()
    return Account(*row) if row else None


def set_password_hash(conn: psycopg.Connection, user_id: str, password_hash: str) -> bool:
    """Store a new password hash, which ends the person's sessions (migration 0028); False when no such user."""
    return conn.execute("UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
                        (password_hash, user_id)).rowcount == 1


def set_chosen_locale(conn: psycopg.Connection, user_id: str, locale: str) -> bool:
    """Keep the language a person picked; the site file's ``locale`` stays as it is. False when no such user."""
    return conn.execute("UPDATE users SET chosen_locale = %s, updated_at = now() WHERE id = %s",
                        (locale, user_id)).rowcount == 1


def create_session(conn: psycopg.Connection, token: str, user_id: str, now: datetime, expires: datetime,
                   client: str | None, *, key: bytes) -> None:
    """Remember a new session by the keyed hash of its token."""
    conn.execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen, client)"
                 " VALUES (%s, %s, %s, %s, %s, %s)", (_token_hash(key, token), user_id, now, expires, now, client))


def session_account(conn: psycopg.Connection, token: str, now: datetime, *, key: bytes,
                    touch: bool = True) -> Account | None:
    """Find the active user a live session token belongs to; None when invalid.

    ``touch`` records the use (a request, a socket opening); a socket checking its session again leaves it be.
    """
    query: LiteralString = (
        "UPDATE sessions SET last_seen = %(now)s WHERE token_hash = %(hash)s AND expires_at > %(now)s RETURNING user_id"
        if touch else "SELECT user_id FROM sessions WHERE token_hash = %(hash)s AND expires_at > %(now)s")
    row = conn.execute(query, {"now": now, "hash": _token_hash(key, token)}).fetchone()
    if row is None:
        return None
    found = account(conn, row[0])
    return found if found is not None and found.active else None


def open_sessions(conn: psycopg.Connection, user_id: str, now: datetime) -> int:
    """How many sessions of a person are live."""
    row = conn.execute("SELECT count(*) FROM sessions WHERE user_id = %s AND expires_at > %s",
                       (user_id, now)).fetchone()
    return int(row[0]) if row else 0


def end_session(conn: psycopg.Connection, token: str, *, key: bytes) -> None:
    """Forget a session (logout) and tell the live feeds, so a socket opened with it closes too."""
    row = conn.execute("DELETE FROM sessions WHERE token_hash = %s RETURNING user_id",
                       (_token_hash(key, token),)).fetchone()
    if row is not None:
        announce_session_end(conn, str(row[0]))


def record_attempt(conn: psycopg.Connection, name: str, client: str, at: datetime, kind: AttemptKind) -> None:
    """Note a failed sign-in (or an audited throttle, or an audited Basic success); prune what is too old to count."""
    conn.execute("DELETE FROM auth_attempts WHERE at < %s", (at - ATTEMPT_MEMORY,))
    conn.execute("INSERT INTO auth_attempts (name, client, at, kind) VALUES (%s, %s, %s, %s)",
                 (name, client, at, kind))


def clear_failures(conn: psycopg.Connection, name: str, client: str) -> None:
    """Forget a pair's failures once it signed in: a person who mistyped starts afresh."""
    conn.execute("DELETE FROM auth_attempts WHERE name = %s AND client = %s AND kind = 'failed'", (name, client))


def pair_failures(conn: psycopg.Connection, name: str, client: str, since: datetime) -> tuple[int, datetime | None]:
    """Failed sign-ins of this name from this address since ``since``: how many, and when the last was."""
    row = conn.execute("SELECT count(*), max(at) FROM auth_attempts WHERE name = %s AND client = %s"
                       " AND kind = 'failed' AND at >= %s", (name, client, since)).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def nth_newest_failure(conn: psycopg.Connection, client: str, since: datetime, n: int) -> datetime | None:
    """When the ``n``-th newest failure from this address (any name) since ``since`` was; None: fewer than ``n``."""
    row = conn.execute("SELECT at FROM auth_attempts WHERE client = %s AND kind = 'failed' AND at >= %s"
                       " ORDER BY at DESC OFFSET %s LIMIT 1", (client, since, n - 1)).fetchone()
    return row[0] if row else None


def attempted_since(conn: psycopg.Connection, kind: AttemptKind, client: str, since: datetime,
                    name: str | None = None) -> bool:
    """Tell whether an attempt of this kind from this address (and name, if given) was noted since ``since``."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM auth_attempts WHERE kind = %s AND client = %s AND at >= %s"
                       " AND (%s::text IS NULL OR name = %s))", (kind, client, since, name, name)).fetchone()
    return bool(row and row[0])


def first_active_user(conn: psycopg.Connection, role: str, scope_id: str | None = None) -> str | None:
    """Return the first active user of a role by id, of one unit if given (the demo prints their password)."""
    row = conn.execute("SELECT id FROM users WHERE role = %s AND active AND (%s::text IS NULL OR scope_id = %s)"
                       " ORDER BY id LIMIT 1", (role, scope_id, scope_id)).fetchone()
    return str(row[0]) if row else None


def demo_school(conn: psycopg.Connection, prefer: str | None = None) -> tuple[str, str] | None:
    """Pick the school the demo's printed lines are about: ``prefer``, or the first with a guard and a Zigbee button.

    ``prefer`` without a guard or a Zigbee panic button is passed over. Returns (school id, the button's
    Zigbee2MQTT friendly name), so the printed guard, the printed ``mosquitto_pub`` press and the printed drill
    all concern one school.
    """
    row = conn.execute(
        "SELECT d.school_id, d.external_id FROM devices d WHERE d.active AND d.kind = 'panic_button'"
        " AND d.source = 'zigbee2mqtt' AND d.external_id IS NOT NULL AND EXISTS (SELECT 1 FROM users u"
        " WHERE u.active AND u.role = 'guard' AND u.scope_id = d.school_id)"
        " ORDER BY d.school_id IS DISTINCT FROM %s, d.school_id, d.id LIMIT 1", (prefer,)).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def people_along(conn: psycopg.Connection, school_id: str) -> list[tuple[str, str, str, int]]:
    """One active person of each role at each level from the root down to a school and its classes.

    Returns (role, user id, the id of the unit they sit at, its depth), top level first: the demo prints a
    sign-in for each, so every level of the tree can be tried.
    """
    rows = conn.execute(
        "SELECT DISTINCT ON (o.depth, u.role) u.role, u.id, o.id, o.depth"
        " FROM users u JOIN org_units o ON o.id = u.scope_id WHERE u.active"
        " AND (campusguard_within((SELECT path FROM org_units WHERE id = %(school)s), o.path)"
        " OR o.parent_id = %(school)s) ORDER BY o.depth, u.role, o.id, u.id", {"school": school_id}).fetchall()
    return [(str(role), str(user), str(unit), int(depth)) for role, user, unit, depth in rows]
