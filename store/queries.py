"""Read queries shared by the API, the CLI and the benchmarks; each works on both storage paths.

Time buckets use ``date_bin``, which PostgreSQL 14+ and TimescaleDB share, so no query needs to know which
path the database took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

_ORIGIN = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class Bucket:
    """Positions of one device aggregated over one time bucket."""

    start: datetime
    fixes: int
    avg_speed_kmh: float | None
    max_speed_kmh: float | None
    distance_m: float


@dataclass(frozen=True, slots=True)
class DailyStats:
    """One device's day from the daily rollup."""

    device_id: str
    day: datetime
    fixes: int
    distance_m: float
    avg_speed_kmh: float | None
    max_speed_kmh: float | None


def schools(conn: psycopg.Connection, scope_path: str = "/") -> list[dict[str, Any]]:
    """Schools under an organisation path, with their unit path."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT s.id, s.name, s.timezone, s.address, s.campus, s.hours, s.school_zone_speed_kmh,"
            " u.parent_id AS unit_id, u.path"
            " FROM schools s JOIN org_units u ON u.id = s.id"
            " WHERE s.active AND u.path LIKE %s || '%%' ORDER BY s.name",
            (scope_path,),
        )
        return cur.fetchall()


def buses(conn: psycopg.Connection, scope_path: str = "/") -> list[dict[str, Any]]:
    """Buses of the schools under an organisation path, with their stops in order."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT b.id, b.school_id, b.name, b.plate, b.capacity, b.route, b.corridor_m,"
            " b.speed_limit_kmh, b.depot_lon, b.depot_lat,"
            " coalesce(json_agg(json_build_object('id', st.id, 'name', st.name, 'lon', st.lon,"
            "   'lat', st.lat, 'scheduled', to_char(st.scheduled, 'HH24:MI')) ORDER BY st.seq)"
            "   FILTER (WHERE st.id IS NOT NULL), '[]') AS stops"
            " FROM buses b JOIN org_units u ON u.id = b.school_id"
            " LEFT JOIN bus_stops st ON st.bus_id = b.id"
            " WHERE b.active AND u.path LIKE %s || '%%'"
            " GROUP BY b.id ORDER BY b.school_id, b.name",
            (scope_path,),
        )
        return cur.fetchall()


def devices(conn: psycopg.Connection, scope_path: str = "/", kind: str | None = None) -> list[dict[str, Any]]:
    """Devices of the schools under an organisation path, with their last position if any."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT d.id, d.school_id, d.kind, d.subtype, d.name, d.bus_id, d.user_id, d.source,"
            " d.place, coalesce(lp.lon, d.lon) AS lon, coalesce(lp.lat, d.lat) AS lat,"
            " lp.time AS last_fix"
            " FROM devices d LEFT JOIN org_units u ON u.id = d.school_id"
            " LEFT JOIN latest_positions lp ON lp.device_id = d.id"
            " WHERE d.active AND (u.path LIKE %s || '%%' OR (d.school_id IS NULL AND %s = '/'))"
            " AND (%s::text IS NULL OR d.kind = %s) ORDER BY d.school_id, d.kind, d.id",
            (scope_path, scope_path, kind, kind),
        )
        return cur.fetchall()


def geofences(conn: psycopg.Connection, scope_path: str = "/", source: str | None = None) -> list[dict[str, Any]]:
    """List the stored geofences (restricted areas and drawn fences) under an organisation path."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT g.id, g.school_id, g.kind, g.name, g.geometry, g.speed_limit_kmh, g.source, g.updated_at"
            " FROM geofences g LEFT JOIN org_units u ON u.id = g.school_id"
            " WHERE g.active AND (u.path LIKE %s || '%%' OR (g.school_id IS NULL AND %s = '/'))"
            " AND (%s::text IS NULL OR g.source = %s) ORDER BY g.id",
            (scope_path, scope_path, source, source),
        )
        return cur.fetchall()


def save_geofence(conn: psycopg.Connection, fence: dict[str, Any]) -> bool:
    """Create or replace a fence drawn through the API; returns True when it was new."""
    row = conn.execute(
        "INSERT INTO geofences AS g (id, school_id, kind, name, geometry, speed_limit_kmh, source, active, updated_at)"
        " VALUES (%(id)s, %(school_id)s, %(kind)s, %(name)s, %(geometry)s, %(speed_limit_kmh)s, 'api', true, now())"
        " ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, kind = excluded.kind,"
        " name = excluded.name, geometry = excluded.geometry, speed_limit_kmh = excluded.speed_limit_kmh,"
        " active = true, updated_at = now() WHERE g.source = 'api' RETURNING (xmax = 0)",
        {**fence, "geometry": Jsonb(fence["geometry"])},
    ).fetchone()
    if row is None:
        raise PermissionError(f"geofence {fence['id']!r} comes from the site file; edit the file instead")
    return bool(row[0])


def retire_geofence(conn: psycopg.Connection, fence_id: str) -> bool:
    """Retire a fence drawn through the API; returns False when there was none."""
    cur = conn.execute(
        "UPDATE geofences SET active = false, updated_at = now() WHERE id = %s AND source = 'api' AND active",
        (fence_id,),
    )
    return cur.rowcount == 1


def position_buckets(
    conn: psycopg.Connection, device_id: str, start: datetime, end: datetime, width: timedelta
) -> list[Bucket]:
    """Aggregate one device's positions in [start, end) into buckets of ``width``."""
    rows = conn.execute(
        "SELECT date_bin(%s, time, %s) AS bucket, count(*), avg(speed_kmh), max(speed_kmh),"
        " coalesce(sum(step_m), 0)"
        " FROM positions WHERE device_id = %s AND time >= %s AND time < %s"
        " GROUP BY bucket ORDER BY bucket",
        (width, _ORIGIN, device_id, start, end),
    ).fetchall()
    return [Bucket(r[0], int(r[1]), _opt(r[2]), _opt(r[3]), float(r[4])) for r in rows]


def daily_stats(conn: psycopg.Connection, device_ids: list[str], since: datetime) -> list[DailyStats]:
    """Daily distance and speed of devices from the rollup (continuous aggregate or materialized view)."""
    rows = conn.execute(
        "SELECT device_id, day, fixes, coalesce(distance_m, 0), avg_speed_kmh, max_speed_kmh"
        " FROM device_daily_stats WHERE device_id = ANY(%s) AND day >= %s ORDER BY device_id, day",
        (device_ids, since),
    ).fetchall()
    return [DailyStats(r[0], r[1], int(r[2]), float(r[3]), _opt(r[4]), _opt(r[5])) for r in rows]


def school_incident_counts(conn: psycopg.Connection, since: datetime) -> list[tuple[str, datetime, int, int]]:
    """Incidents raised and resolved per school and day from the rollup."""
    rows = conn.execute(
        "SELECT school_id, day, raised, resolved FROM school_daily_incidents WHERE day >= %s"
        " ORDER BY school_id, day",
        (since,),
    ).fetchall()
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
