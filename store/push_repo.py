"""Web Push subscriptions: stored per person and browser, found for a notification's recipients, dropped when gone.

The web app creates and deletes them for the signed-in person (``command_ui/routers/push.py``); the alert stage's
push notifier reads those of the people a notification names and deletes one its push service says is gone
(RFC 8030 section 7.3: 404 or 410). A subscription is found only for a person whose own scope holds the
incident's school, so a guard of another school is never pushed another school's panic, whatever the recipients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from store.queries import SOURCE_NAME


@dataclass(frozen=True, slots=True)
class Subscription:
    """One browser's push subscription, with its person's language for what the worker shows."""

    id: int
    user_id: str
    endpoint: str
    p256dh: str
    auth: str
    locale: str
    created_at: datetime

    def info(self) -> dict[str, Any]:
        """Give the subscription as pywebpush (and the browser's ``PushSubscription.toJSON()``) spells it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True, slots=True)
class IncidentTitle:
    """An incident's title as a message key and its values, with the English text for older readers.

    ``{source_id}`` is filled with the source's display name, as the pages do, and ``school`` is the school's name.
    """

    title: str
    key: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    school: str | None = None


_COLUMNS = ("s.id, s.user_id, s.endpoint, s.p256dh, s.auth, coalesce(p.chosen_locale, p.locale), s.created_at")


def _row(row: Sequence[Any]) -> Subscription:
    return Subscription(int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6])


def has_account(conn: psycopg.Connection[Any], user_id: str) -> bool:
    """Tell whether a caller is an active person of the site file (the built-in admin is none: no alarms ring it)."""
    return conn.execute("SELECT 1 FROM users WHERE id = %s AND active", (user_id,)).fetchone() is not None


def save(conn: psycopg.Connection[Any], user_id: str, endpoint: str, p256dh: str, auth: str,
         user_agent: str | None) -> tuple[Subscription, bool]:
    """Store a browser's subscription for a person; returns it and whether it was new to that person.

    The same endpoint again (the page re-subscribing, new keys after the browser rotated them, or the phone now
    someone else's) updates the one row rather than adding a second, so one browser rings once.
    """
    before = conn.execute("SELECT user_id FROM push_subscriptions WHERE endpoint = %s", (endpoint,)).fetchone()
    row = conn.execute(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,"
        " auth = excluded.auth, user_agent = excluded.user_agent, last_error = NULL, last_error_at = NULL"
        " RETURNING id",
        (user_id, endpoint, p256dh, auth, user_agent)).fetchone()
    found = get(conn, int(row[0])) if row is not None else None
    if found is None:
        raise RuntimeError("a subscription just written was not found")
    return found, before is None or before[0] != user_id


def get(conn: psycopg.Connection[Any], subscription_id: int) -> Subscription | None:
    """Return one subscription by id."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM push_subscriptions s JOIN users p ON p.id = s.user_id"
                       " WHERE s.id = %s", (subscription_id,)).fetchone()
    return None if row is None else _row(row)


def of_user(conn: psycopg.Connection[Any], user_id: str) -> list[Subscription]:
    """List a person's own subscriptions, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM push_subscriptions s JOIN users p ON p.id = s.user_id"
                        " WHERE s.user_id = %s ORDER BY s.id", (user_id,)).fetchall()
    return [_row(r) for r in rows]


def delete_own(conn: psycopg.Connection[Any], user_id: str, subscription_id: int) -> Subscription | None:
    """Delete a person's own subscription; returns what was deleted, None when they hold no such one."""
    found = get(conn, subscription_id)
    if found is None or found.user_id != user_id:
        return None
    conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (subscription_id,))
    return found


def for_recipients(conn: psycopg.Connection[Any], school_id: str, addresses: Sequence[str]) -> list[Subscription]:
    """Find the subscriptions of the active people a notification names whose own scope holds the school.

    Recipients are the escalation chain's addresses (``store.incident_repo.recipients``); the scope check is
    repeated here so that an address shared by two people, or a stale list, never reaches another school.
    """
    if not addresses:
        return []
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM push_subscriptions s JOIN users p ON p.id = s.user_id"
        " JOIN org_units scope ON scope.id = p.scope_id JOIN org_units school ON school.id = %s"
        " WHERE p.active AND (p.email = ANY(%s) OR p.phone = ANY(%s))"
        " AND campusguard_within(school.path, scope.path) ORDER BY s.id",
        (school_id, list(addresses), list(addresses))).fetchall()
    return [_row(r) for r in rows]


def incident_title(conn: psycopg.Connection[Any], incident_id: int) -> IncidentTitle | None:
    """Read an incident's title key and values, so the phone says it in its person's language."""
    row = conn.execute(f"SELECT i.title, i.title_key, i.title_params, s.name, {SOURCE_NAME} FROM incidents i"
                       " LEFT JOIN schools s ON s.id = i.school_id WHERE i.id = %s", (incident_id,)).fetchone()
    if row is None:
        return None
    params = {str(k): str(v) for k, v in (row[2] or {}).items()}
    if row[4] and "source_id" in params:
        params["source_id"] = row[4]
    return IncidentTitle(row[0], row[1], params, row[3])


def delivered(conn: psycopg.Connection[Any], subscription_id: int, at: datetime) -> None:
    """Note that the push service accepted a message for this subscription."""
    conn.execute("UPDATE push_subscriptions SET last_push_at = %s, last_error = NULL, last_error_at = NULL"
                 " WHERE id = %s", (at, subscription_id))


def failed(conn: psycopg.Connection[Any], subscription_id: int, error: str) -> None:
    """Note why the last push to this subscription failed, and when (kept: the service may accept the next)."""
    conn.execute("UPDATE push_subscriptions SET last_error = %s, last_error_at = now() WHERE id = %s",
                 (error[:500], subscription_id))


def gone(conn: psycopg.Connection[Any], subscription_id: int) -> None:
    """Delete a subscription its push service no longer knows (404 or 410)."""
    conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (subscription_id,))


@dataclass(frozen=True, slots=True)
class Health:
    """How one subscription's pushes fare, for the operations page (its endpoint is not shown: see push.py)."""

    id: int
    user_id: str
    display_name: str
    endpoint: str
    created_at: datetime
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


def health(conn: psycopg.Connection[Any], scope_path: str) -> list[Health]:
    """List the subscriptions of the people inside ``scope_path``: failing ones first, newest failure first.

    A person is inside when their own scope lies under the caller's: a district officer sees the phones of the
    district's guards and school administrators, a school administrator those of their school only.
    """
    rows = conn.execute(
        "SELECT s.id, s.user_id, p.display_name, s.endpoint, s.created_at, s.last_push_at, s.last_error,"
        " s.last_error_at FROM push_subscriptions s JOIN users p ON p.id = s.user_id"
        " JOIN org_units u ON u.id = p.scope_id WHERE campusguard_within(u.path, %s)"
        " ORDER BY s.last_error IS NULL, s.last_error_at DESC NULLS LAST, s.id", (scope_path,)).fetchall()
    return [Health(*r) for r in rows]
