"""The wall's counters: what a command centre reads at a glance, counted in one round trip, scoped.

Every count is over the caller's part of the organisation (``campusguard_within``, migration 0017). Drills are
left out of the alarm counts: a drill on the wall would look like a real alarm from three metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

BUS_OUT_WITHIN = timedelta(minutes=15)
"""A bus whose tracker reported this recently is out on the road."""

_COUNTS = """
WITH scope AS (
    SELECT s.id, s.timezone FROM schools s JOIN org_units u ON u.id = s.id
    WHERE s.active AND campusguard_within(u.path, %(scope)s)
), open AS (
    SELECT i.* FROM incidents i JOIN scope ON scope.id = i.school_id
    WHERE i.status IN ('raised', 'acknowledged', 'responding') AND NOT i.drill
), trackers AS (
    SELECT b.id AS bus_id, bool_or(l.online AND l.last_seen >= %(out_since)s) AS out,
           bool_or(l.device_id IS NOT NULL) AS heard, bool_or(coalesce(l.online, false)) AS online
    FROM buses b JOIN scope ON scope.id = b.school_id
    JOIN devices d ON d.bus_id = b.id AND d.active AND d.kind = 'bus_tracker'
    LEFT JOIN device_liveness l ON l.device_id = d.id
    WHERE b.active GROUP BY b.id
), devices_in AS (
    SELECT l.device_id IS NOT NULL AS heard, coalesce(l.online, false) AS online
    FROM devices d JOIN scope ON scope.id = d.school_id LEFT JOIN device_liveness l ON l.device_id = d.id
    WHERE d.active
)
SELECT
    (SELECT count(*) FROM open WHERE severity = 'critical'),
    (SELECT count(*) FROM open WHERE severity = 'high'),
    (SELECT count(*) FROM open WHERE severity NOT IN ('critical', 'high')),
    (SELECT count(*) FROM open WHERE status = 'raised'),
    (SELECT count(*) FROM incidents i JOIN scope ON scope.id = i.school_id WHERE NOT i.drill
        AND i.opened_at >= %(now)s - interval '1 day'
        AND (i.opened_at AT TIME ZONE scope.timezone)::date = (%(now)s AT TIME ZONE scope.timezone)::date),
    (SELECT count(*) FROM trackers WHERE out),
    (SELECT count(DISTINCT coalesce(title_params ->> 'source_id', id::text)) FROM open WHERE type = 'late_arrival'),
    (SELECT count(*) FROM trackers WHERE heard AND NOT online),
    (SELECT count(*) FROM devices_in),
    (SELECT count(*) FROM devices_in WHERE online),
    (SELECT count(*) FROM devices_in WHERE heard AND NOT online)
"""


@dataclass(frozen=True, slots=True)
class WallCounts:
    """The wall's counters for one part of the organisation at one moment."""

    open_critical: int
    open_high: int
    open_other: int
    unacknowledged: int
    """Open incidents nobody has acknowledged yet."""
    alarms_today: int
    """Incidents opened since midnight in their school's timezone."""
    buses_out: int
    buses_late: int
    """Buses with an open late-arrival incident."""
    buses_silent: int
    """Buses whose trackers reported once and are all offline now."""
    devices: int
    devices_online: int
    devices_offline: int
    """Devices that reported once and are offline now (never-reported ones are devices - online - offline)."""


def wall_counts(conn: psycopg.Connection, scope_path: str, now: datetime) -> WallCounts:
    """Count the wall's figures under ``scope_path`` as of ``now`` (server time)."""
    row = conn.execute(_COUNTS, {"scope": scope_path, "now": now, "out_since": now - BUS_OUT_WITHIN}).fetchone()
    assert row is not None  # an aggregate always answers one row
    return WallCounts(*(int(v) for v in row))
