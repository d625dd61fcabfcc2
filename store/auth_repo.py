"""Accounts and sessions in the database: password hashes, session tokens (hashed), scope paths."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import psycopg


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


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def account(conn: psycopg.Connection, user_id: str) -> Account | None:
    """Load a user with the organisation path of their scope and their language (their own pick, else the site's)."""
    row = conn.execute(
        "SELECT u.id, u.role, u.scope_id, coalesce(o.path, '/'), u.password_hash, u.active,"
        " coalesce(u.chosen_locale, u.locale)"
        " FROM users u LEFT JOIN org_units o ON o.id = u.scope_id WHERE u.id = %s", (user_id,)).fetchone()
    return Account(*row) if row else None


def set_password_hash(conn: psycopg.Connection, user_id: str, password_hash: str) -> bool:
    """Store a new password hash; False when there is no such user."""
    return conn.execute("UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
                        (password_hash, user_id)).rowcount == 1


def set_chosen_locale(conn: psycopg.Connection, user_id: str, locale: str) -> bool:
    """Keep the language a person picked; the site file's ``locale`` stays as it is. False when no such user."""
    return conn.execute("UPDATE users SET chosen_locale = %s, updated_at = now() WHERE id = %s",
                        (locale, user_id)).rowcount == 1


def create_session(conn: psycopg.Connection, token: str, user_id: str, now: datetime, expires: datetime,
                   client: str | None) -> None:
    """Remember a new session by the hash of its token."""
    conn.execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen, client)"
                 " VALUES (%s, %s, %s, %s, %s, %s)", (_token_hash(token), user_id, now, expires, now, client))


def session_account(conn: psycopg.Connection, token: str, now: datetime) -> Account | None:
    """Find the active user a live session token belongs to, touching the session; None when invalid."""
    row = conn.execute("UPDATE sessions SET last_seen = %s WHERE token_hash = %s AND expires_at > %s"
                       " RETURNING user_id", (now, _token_hash(token), now)).fetchone()
    if row is None:
        return None
    found = account(conn, row[0])
    return found if found is not None and found.active else None


def end_session(conn: psycopg.Connection, token: str) -> None:
    """Forget a session (logout)."""
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (_token_hash(token),))


def recent_failures(conn: psycopg.Connection, user_id: str, client: str | None, since: datetime) -> int:
    """Failed logins for this name or from this address since ``since``, read from the audit trail."""
    row = conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND at >= %s"
        " AND (target = %s OR detail->>'client' = %s)", (since, f"user:{user_id}", client)).fetchone()
    return int(row[0]) if row else 0


def first_active_user(conn: psycopg.Connection, role: str, scope_id: str | None = None) -> str | None:
    """Return the first active user of a role by id, of one unit if given (the demo prints their password)."""
    row = conn.execute("SELECT id FROM users WHERE role = %s AND active AND (%s::text IS NULL OR scope_id = %s)"
                       " ORDER BY id LIMIT 1", (role, scope_id, scope_id)).fetchone()
    return str(row[0]) if row else None


def demo_school(conn: psycopg.Connection) -> tuple[str, str] | None:
    """Pick the school the demo's printed lines are about: the first with a guard and a Zigbee panic button.

    Returns (school id, the button's Zigbee2MQTT friendly name), so the printed guard, the printed
    ``mosquitto_pub`` press and the printed drill all concern one school.
    """
    row = conn.execute(
        "SELECT d.school_id, d.external_id FROM devices d WHERE d.active AND d.kind = 'panic_button'"
        " AND d.source = 'zigbee2mqtt' AND d.external_id IS NOT NULL AND EXISTS (SELECT 1 FROM users u"
        " WHERE u.active AND u.role = 'guard' AND u.scope_id = d.school_id) ORDER BY d.school_id, d.id LIMIT 1",
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None
