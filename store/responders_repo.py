"""Who can answer an incident, and where they are: the people whose scope covers its school, by their phones.

A responder is a person (guard, school administrator, district officer) with an active phone tracker whose
latest fix is recent (``fresh_s``), and whose own scope holds the incident's school: a guard of another school
is never offered, nor shown. Distances are great-circle metres from the incident (none if it has no place).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

RESPONDING_ROLES = ("guard", "school_admin", "district_officer")

_INCIDENT = """
    SELECT i.id, i.lon, i.lat, u.path FROM incidents i JOIN org_units u ON u.id = i.school_id
    WHERE i.id = %s AND campusguard_within(u.path, %s)
"""
_PEOPLE = """
    SELECT p.id AS user_id, p.display_name AS name, p.role, d.id AS device_id, d.school_id, dp.path AS device_path,
           lp.lon, lp.lat, lp.time
    FROM users p JOIN org_units scope ON scope.id = p.scope_id
    JOIN devices d ON d.user_id = p.id AND d.kind = 'person_tracker' AND d.active
    JOIN latest_positions lp ON lp.device_id = d.id
    LEFT JOIN org_units dp ON dp.id = d.school_id
    WHERE p.active AND p.role = ANY(%s) AND campusguard_within(%s, scope.path) AND lp.time > %s
"""


def incident_place(conn: psycopg.Connection[Any], incident_id: int, scope_path: str) -> dict[str, Any] | None:
    """Find the incident's id, place and school path, if the scope holds it."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_INCIDENT, (incident_id, scope_path))
        return cur.fetchone()


def people_near(conn: psycopg.Connection[Any], school_path: str, since: datetime) -> list[dict[str, Any]]:
    """List people who could respond at a school, with their phones' latest fixes since ``since``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_PEOPLE, (list(RESPONDING_ROLES), school_path, since))
        return cur.fetchall()


def own_tracker(conn: psycopg.Connection[Any], user_id: str) -> str | None:
    """Find the phone tracker the site file gives a person, if any (the first, when it gives several)."""
    row = conn.execute("SELECT id FROM devices WHERE user_id = %s AND kind = 'person_tracker' AND active"
                       " ORDER BY id LIMIT 1", (user_id,)).fetchone()
    return str(row[0]) if row else None
