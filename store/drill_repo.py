"""What a drill reads while it watches its synthetic panic travel, and the report it stores (``drills``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def drill_button(conn: psycopg.Connection, school_id: str) -> str | None:
    """Return the first active panic button of the school on our own MQTT schema, the one a drill presses."""
    row = conn.execute("SELECT id FROM devices WHERE school_id = %s AND kind = 'panic_button' AND active"
                       " AND source = 'campusguard' ORDER BY id LIMIT 1", (school_id,)).fetchone()
    return str(row[0]) if row else None


def guards(conn: psycopg.Connection, school_id: str) -> list[str]:
    """List the school's active guards, the first people to be paged."""
    rows = conn.execute("SELECT id FROM users WHERE active AND role = 'guard' AND scope_id = %s ORDER BY id",
                        (school_id,)).fetchall()
    return [str(r[0]) for r in rows]


def opened_incident(conn: psycopg.Connection, kind: str, school_id: str, since: datetime
                    ) -> tuple[int, datetime] | None:
    """Return the first incident of ``kind`` at the school opened at or after ``since``: (id, opened_at)."""
    row = conn.execute("SELECT id, opened_at FROM incidents WHERE type = %s AND school_id = %s AND opened_at >= %s"
                       " ORDER BY id LIMIT 1", (kind, school_id, since)).fetchone()
    return (int(row[0]), row[1]) if row else None


def first_decision(conn: psycopg.Connection, incident_id: int) -> datetime | None:
    """Return when the alert stage first decided a signal into the incident."""
    row = conn.execute("SELECT processed_at FROM alert_signals WHERE incident_id = %s ORDER BY processed_at LIMIT 1",
                       (incident_id,)).fetchone()
    return row[0] if row else None


def notified(conn: psycopg.Connection, incident_id: int) -> bool:
    """Tell whether the incident's notifications have gone out (its ``notified`` timeline entry)."""
    return conn.execute("SELECT 1 FROM incident_events WHERE incident_id = %s AND kind = 'notified'",
                        (incident_id,)).fetchone() is not None


def deliveries(conn: psycopg.Connection, incident_id: int) -> list[tuple[str, bool, datetime, str | None]]:
    """List every notifier's delivery of the incident: (notifier, ok, at, error), in order."""
    rows = conn.execute("SELECT notifier, ok, at, error FROM notification_deliveries WHERE incident_id = %s"
                        " ORDER BY id", (incident_id,)).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def first_acknowledgement(conn: psycopg.Connection, incident_id: int, besides: str) -> tuple[str, datetime] | None:
    """Return who first acknowledged the incident, other than ``besides``, and when."""
    row = conn.execute("SELECT actor, time FROM incident_events WHERE incident_id = %s AND kind = 'acknowledge'"
                       " AND actor <> %s ORDER BY seq LIMIT 1", (incident_id, besides)).fetchone()
    return (str(row[0]), row[1]) if row else None


def timeline(conn: psycopg.Connection, incident_id: int) -> list[tuple[str, str, datetime]]:
    """List the incident's timeline as (kind, actor, time)."""
    rows = conn.execute("SELECT kind, actor, time FROM incident_events WHERE incident_id = %s",
                        (incident_id,)).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def record_drill(conn: psycopg.Connection, *, school_id: str, device_id: str, started_at: datetime,
                 incident_id: int | None, raised_ms: float | None, acknowledged_ms: float | None,
                 deliveries: Sequence[dict[str, Any]], ok: bool, acknowledged_by: str | None,
                 responses: Sequence[dict[str, Any]]) -> None:
    """Store a drill's report."""
    conn.execute("INSERT INTO drills (school_id, device_id, started_at, incident_id, raised_ms, acknowledged_ms,"
                 " deliveries, ok, acknowledged_by, responses) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (school_id, device_id, started_at, incident_id, raised_ms, acknowledged_ms, Jsonb(list(deliveries)),
                  ok, acknowledged_by, Jsonb(list(responses))))
