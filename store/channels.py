"""The NOTIFY channels processes announce on: one name each, defined here and nowhere else.

A NOTIFY only wakes a listener early; every listener also re-reads its table on a timer, so a notification
lost while it reconnected delays nothing for long.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

PANIC_CHANNEL = "campusguard_panic"
"""A panic was stored (ingest's fast path): the alert stage decides it at once."""
EVENT_CHANNEL = "campusguard_device_events"
"""Device events were stored (ingest writers, vision): the alert stage reads them."""
GEO_CHANNEL = "campusguard_geo_events"
"""The geo stage stored events (fence, route, speed, child check)."""
INCIDENT_CHANNEL = "campusguard_incidents"
"""An incident changed (the alert stage, a person through the API): the live feed reads it."""
SESSION_CHANNEL = "campusguard_sessions"
"""A person's sessions ended or changed (payload: their user id): their live sockets check theirs again.

Announced by :func:`announce_session_end` (a logout) and by the ``users_end_sessions`` trigger of migration 0028
(a password, role, scope or retirement), which names it in SQL.
"""

TERMINAL_CHANNEL = "campusguard_terminal_revoked"
"""A JT/T 808 terminal's authentication code was revoked (payload: its number): ingest closes its connection."""


def listen(conn: psycopg.Connection, *channels: str) -> None:
    """Subscribe an autocommit connection to channels (identifiers quoted, never pasted)."""
    for channel in channels:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


async def listen_async(conn: psycopg.AsyncConnection[Any], *channels: str) -> None:
    """Subscribe an autocommit async connection to channels."""
    for channel in channels:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))


def announce_incident(conn: psycopg.Connection, incident_id: int) -> None:
    """Tell the live feeds an incident changed; delivered when the caller's transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (INCIDENT_CHANNEL, str(incident_id)))


def announce_session_end(conn: psycopg.Connection, user_id: str) -> None:
    """Tell the live feeds a person's session ended; delivered when the caller's transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (SESSION_CHANNEL, user_id))
