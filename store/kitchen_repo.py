"""What the bright-kitchen watch reads: stove temperature sensors, kitchen camera zones, recent readings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from domain.messages import SensorReading


def temperature_sensors(conn: psycopg.Connection) -> list[tuple[str, str, float, float]]:
    """List active temperature sensors with a school and a position: (id, school_id, lon, lat), by id."""
    rows = conn.execute(
        "SELECT id, school_id, lon, lat FROM devices WHERE active AND kind = 'sensor' AND subtype = 'temperature'"
        " AND school_id IS NOT NULL AND lon IS NOT NULL AND lat IS NOT NULL ORDER BY id").fetchall()
    return [(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]


def camera_zones(conn: psycopg.Connection, zone_kind: str) -> list[tuple[str, str, str, float, float]]:
    """List zones of one kind on active cameras placed at a school: (camera_id, school_id, zone, lon, lat)."""
    found = []
    for camera_id, school_id, lon, lat, config in conn.execute(
            "SELECT id, school_id, lon, lat, config FROM devices WHERE active AND kind = 'camera'"
            " AND school_id IS NOT NULL AND lon IS NOT NULL AND lat IS NOT NULL ORDER BY id").fetchall():
        zones: list[dict[str, Any]] = config.get("zones", []) if isinstance(config, dict) else []
        found += [(camera_id, school_id, z["name"], lon, lat) for z in zones
                  if z.get("kind") == zone_kind and isinstance(z.get("name"), str)]
    return found


def readings_since(conn: psycopg.Connection, sensor_ids: Sequence[str], metric: str,
                   since: datetime) -> list[SensorReading]:
    """Read the ``metric`` readings of these sensors that arrived at or after ``since``, in device-time order."""
    rows = conn.execute(
        "SELECT device_id, time, metric, value, received_at FROM sensor_readings"
        " WHERE device_id = ANY(%s) AND metric = %s AND received_at >= %s ORDER BY time",
        (list(sensor_ids), metric, since)).fetchall()
    return [SensorReading(*row) for row in rows]
