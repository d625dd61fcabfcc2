"""What an incident's case file shows beside its timeline: the evidence's pictures, track and readings, who saw it.

Every read starts from :func:`incident_moment`, which finds the incident only inside the caller's scope; the
others take the incident it returned, so nothing here answers for an incident outside the scope.

How evidence names its material: a camera event's snapshot is stored with the event's own camera and time
(``store.vision_repo.store_event``), and the evidence item keeps that camera (``source_id``) and time, so the
picture is found by the pair. A bus incident's evidence names the bus (geo events follow their subject); its
track is the fixes of the bus's trackers. A sensor's readings are its ``sensor_readings`` rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

# The people a school's case file offers to call: its own guards and administrators, those with a phone.
ON_DUTY_ROLES = ("guard", "school_admin")
MOST_FIXES = 600  # ±10 minutes at one fix a second from two trackers is 2,400; a panel draws a line, not each fix
MOST_READINGS = 200

_INCIDENT = """
    SELECT i.id, i.school_id, i.type, i.lon, i.lat, i.opened_at, s.campus,
           coalesce((SELECT min((e->>'time')::timestamptz) FROM jsonb_array_elements(i.evidence) e), i.opened_at)
             AS moment,
           (SELECT coalesce(array_agg(DISTINCT e->>'source_id'), '{}') FROM jsonb_array_elements(i.evidence) e
             WHERE e->>'source_id' IS NOT NULL) AS sources
    FROM incidents i JOIN org_units u ON u.id = i.school_id JOIN schools s ON s.id = i.school_id
    WHERE i.id = %s AND campusguard_within(u.path, %s)
"""
_SNAPSHOTS = """
    SELECT DISTINCT ON (s.id) s.id, s.camera_id, d.name AS camera_name, s.time, s.kind, s.width, s.height
    FROM incidents i CROSS JOIN LATERAL jsonb_array_elements(i.evidence) e
    JOIN snapshots s ON s.camera_id = e->>'source_id' AND s.time = (e->>'time')::timestamptz
    JOIN devices d ON d.id = s.camera_id AND d.school_id = i.school_id
    WHERE i.id = %s ORDER BY s.id
"""
_BUS = """
    SELECT b.id, b.name,
           (SELECT coalesce(array_agg(t.id ORDER BY t.id), '{}') FROM devices t WHERE t.bus_id = b.id) AS trackers
    FROM incidents i CROSS JOIN LATERAL jsonb_array_elements(i.evidence) e
    JOIN buses b ON b.id = e->>'source_id' AND b.school_id = i.school_id
    WHERE i.id = %s ORDER BY (e->>'time')::timestamptz LIMIT 1
"""
_FIXES = """
    SELECT DISTINCT ON (time) time, lon, lat, speed_kmh FROM positions
    WHERE device_id = ANY(%s) AND time >= %s AND time <= %s ORDER BY time, device_id LIMIT %s
"""
_READINGS = """
    SELECT r.device_id AS sensor_id, d.name AS sensor_name, r.metric, r.value, r.time
    FROM sensor_readings r JOIN devices d ON d.id = r.device_id
    WHERE d.kind = 'sensor' AND d.school_id = %s AND r.device_id = ANY(%s) AND r.time >= %s AND r.time <= %s
    ORDER BY r.time, r.device_id, r.metric LIMIT %s
"""
_SEEN = """
    SELECT e.actor AS user_id, coalesce(p.display_name, e.actor) AS name, p.role, min(e.time) AS time
    FROM incident_events e LEFT JOIN users p ON p.id = e.actor
    WHERE e.incident_id = %s AND e.kind = 'seen' AND e.actor IS NOT NULL
    GROUP BY e.actor, p.display_name, p.role ORDER BY min(e.time)
"""
_ON_DUTY = """
    SELECT p.id AS user_id, p.display_name AS name, p.role, p.phone
    FROM users p
    WHERE p.active AND p.scope_id = %s AND p.role = ANY(%s) AND nullif(btrim(p.phone), '') IS NOT NULL
    ORDER BY p.role = 'guard' DESC, p.display_name, p.id
"""


def incident_moment(conn: psycopg.Connection[Any], incident_id: int, scope_path: str) -> dict[str, Any] | None:
    """Find the incident in scope: school, type, place, campus, moment (first evidence), evidence sources; else None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_INCIDENT, (incident_id, scope_path))
        return cur.fetchone()


def snapshots(conn: psycopg.Connection[Any], incident_id: int) -> list[dict[str, Any]]:
    """List the snapshots the incident's camera evidence was raised on, oldest first (without their pictures)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_SNAPSHOTS, (incident_id,))
        return cur.fetchall()


def bus_track(conn: psycopg.Connection[Any], incident_id: int, start: datetime,
              end: datetime) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Find the bus the incident's evidence names (of its own school) and its fixes between start and end."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_BUS, (incident_id,))
        bus = cur.fetchone()
        if bus is None or not bus["trackers"]:
            return bus, []
        cur.execute(_FIXES, (bus["trackers"], start, end, MOST_FIXES))
        return bus, cur.fetchall()


def sensor_readings(conn: psycopg.Connection[Any], school_id: str, source_ids: list[str], start: datetime,
                    end: datetime) -> list[dict[str, Any]]:
    """List readings of the named sensors of the school between start and end, oldest first."""
    if not source_ids:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_READINGS, (school_id, source_ids, start, end, MOST_READINGS))
        return cur.fetchall()


def seen_by(conn: psycopg.Connection[Any], incident_id: int) -> list[dict[str, Any]]:
    """List who has had the incident on screen, with when they first did, first first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_SEEN, (incident_id,))
        return cur.fetchall()


def on_duty(conn: psycopg.Connection[Any], school_id: str) -> list[dict[str, Any]]:
    """List the school's own guards and administrators who have a phone number, guards first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_ON_DUTY, (school_id, list(ON_DUTY_ROLES)))
        return cur.fetchall()
