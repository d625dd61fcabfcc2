"""Read queries shared by the API, the CLI and the benchmarks; each works on both storage paths.

No query needs to know which storage path the database took. Every scoped query tests
``campusguard_within(path, scope)`` (migration 0017).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.incident import CHATTER_COUNT, CHATTER_WINDOW


def schools(conn: psycopg.Connection, scope_path: str = "/") -> list[dict[str, Any]]:
    """Schools under an organisation path, with their unit path."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT s.id, s.name, s.timezone, s.address, s.campus, s.hours, s.school_zone_speed_kmh,"
            " u.parent_id AS unit_id, u.path"
            " FROM schools s JOIN org_units u ON u.id = s.id"
            " WHERE s.active AND campusguard_within(u.path, %s) ORDER BY s.name",
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
            " WHERE b.active AND campusguard_within(u.path, %s)"
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
            " WHERE d.active AND (campusguard_within(u.path, %s) OR (d.school_id IS NULL AND %s = '/'))"
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
            " WHERE g.active AND (campusguard_within(u.path, %s) OR (g.school_id IS NULL AND %s = '/'))"
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


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


# --- Incident history: filters, keyset pages, export, response times --------------------------------------

# Chattering as domain.incident.Incident.chattering defines it (its last CHATTER_COUNT toggles within
# CHATTER_WINDOW), computed in the statement so lists, the CSV and the live feed carry a flag, not the toggle times.
CHATTERING = (f"(cardinality(i.recent_toggles) >= {CHATTER_COUNT}"
              " AND i.recent_toggles[cardinality(i.recent_toggles)]"
              f" - i.recent_toggles[cardinality(i.recent_toggles) - {CHATTER_COUNT - 1}]"
              f" <= make_interval(secs => {CHATTER_WINDOW.total_seconds()})) AS chattering")
# The display name of the device, camera or bus that first reported it (its first evidence's source), so a page
# fills a title's {source_id} with what people call the thing; None for a source the site file no longer names.
SOURCE_NAME = ("coalesce((SELECT d.name FROM devices d WHERE d.id = i.evidence->0->>'source_id'),"
               " (SELECT b.name FROM buses b WHERE b.id = i.evidence->0->>'source_id')) AS source_name")
_INCIDENT_COLUMNS = ("i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title, i.title_key,"
                     " i.title_params, i.lon, i.lat,"
                     " i.occurrences, i.opened_at, i.updated_at, i.acknowledged_at, i.resolved_at,"
                     f" i.escalation_level, i.raised_at, i.cleared_at, i.drill, i.toggles, {CHATTERING},"
                     f" {SOURCE_NAME}")
# Every filter is "NULL means any", so one statement serves every combination and stays a prepared plan.
_INCIDENT_WHERE = (
    " WHERE campusguard_within(u.path, %(scope)s)"
    " AND (%(schools)s::text[] IS NULL OR i.school_id = ANY(%(schools)s))"
    " AND (%(types)s::text[] IS NULL OR i.type = ANY(%(types)s))"
    " AND (%(severities)s::text[] IS NULL OR i.severity = ANY(%(severities)s))"
    " AND (%(statuses)s::text[] IS NULL OR i.status = ANY(%(statuses)s))"
    " AND (%(outcomes)s::text[] IS NULL OR i.outcome = ANY(%(outcomes)s))"
    " AND (%(since)s::timestamptz IS NULL OR i.opened_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR i.opened_at < %(until)s)"
)


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """Which incidents a history search asks for; an empty tuple or None means any."""

    schools: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    since: datetime | None = None
    """Opened at or after."""
    until: datetime | None = None
    """Opened before."""

    def params(self, scope_path: str) -> dict[str, Any]:
        """Bind the filter and the caller's organisation path for :data:`_INCIDENT_WHERE`."""
        def listed(values: tuple[str, ...]) -> list[str] | None:
            return list(values) if values else None
        return {"scope": scope_path, "schools": listed(self.schools), "types": listed(self.types),
                "severities": listed(self.severities), "statuses": listed(self.statuses),
                "outcomes": listed(self.outcomes), "since": self.since, "until": self.until}


COUNT_CAP = 10_000
"""Incidents counted at most for a search's total: past this, "more than 10,000" says all a reader can use, and
counting the last of a city's year (100 k rows joined to their units) cost more than the page itself."""


@dataclass(frozen=True, slots=True)
class MatchCount:
    """How many incidents match a search: exact up to the cap, else at least ``count``."""

    count: int
    exact: bool


def incident_page(
    conn: psycopg.Connection, scope_path: str, found: IncidentFilter, limit: int,
    after: tuple[datetime, int] | None = None, count_cap: int = COUNT_CAP,
) -> tuple[list[dict[str, Any]], MatchCount | None]:
    """Newest first, ``limit`` incidents past the keyset ``after`` (opened_at, id), and how many match in all.

    The count comes with the first page only (``after`` None): a reader paging on already has it, and each
    count walks every match. It stops at ``count_cap`` + 1 rows, so it is exact up to the cap.
    """
    params = found.params(scope_path) | {"limit": limit, "after_at": after[0] if after else None,
                                         "after_id": after[1] if after else None, "cap": count_cap + 1}
    # Keyset, not offset: a new incident arriving while someone pages does not shift the pages under them.
    keyset = " AND (%(after_at)s::timestamptz IS NULL OR (i.opened_at, i.id) < (%(after_at)s, %(after_id)s))"
    joined = " FROM incidents i JOIN org_units u ON u.id = i.school_id"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_INCIDENT_COLUMNS}{joined}{_INCIDENT_WHERE}{keyset}"
                    " ORDER BY i.opened_at DESC, i.id DESC LIMIT %(limit)s", params)
        rows = cur.fetchall()
        if after is not None:
            return rows, None
        cur.execute(f"SELECT count(*) AS total FROM (SELECT 1{joined}{_INCIDENT_WHERE} LIMIT %(cap)s) AS m",
                    params)
        found_rows = cur.fetchone()
    total = int(found_rows["total"]) if found_rows else 0
    return rows, MatchCount(min(total, count_cap), exact=total <= count_cap)


def incidents_for_export(conn: psycopg.Connection, scope_path: str, found: IncidentFilter,
                         batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching incident, newest first, with its school's name and timezone, streamed row by row.

    A server-side cursor in its own transaction, ``batch`` rows per round trip: memory stays flat however many
    incidents match. Rows are read by column name (``school_name``, ``timezone`` and the list's columns), never
    by position: a column added to the list must not shift the CSV's fields.
    """
    with conn.transaction(), conn.cursor(name="incident_export", row_factory=dict_row) as cur:
        cur.itersize = batch
        cur.execute(
            f"SELECT {_INCIDENT_COLUMNS}, s.name AS school_name, s.timezone FROM incidents i"
            " JOIN org_units u ON u.id = i.school_id"
            f" JOIN schools s ON s.id = i.school_id{_INCIDENT_WHERE} ORDER BY i.opened_at DESC, i.id DESC",
            found.params(scope_path))
        yield from cur


@dataclass(frozen=True, slots=True)
class ResponseWeek:
    """Response times of one school's incidents opened in one week (Monday, in the school's timezone)."""

    school_id: str
    week: date
    incidents: int
    acknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolved: int
    resolve_median_s: float | None
    resolve_p90_s: float | None


def response_times(
    conn: psycopg.Connection, scope_path: str, since: datetime, until: datetime, schools: tuple[str, ...] = (),
) -> list[ResponseWeek]:
    """Median and 90th percentile time to acknowledge and to resolve, per school and local week.

    Acknowledged means the first move a person made (acknowledge, respond, or resolving a false alarm
    straight away), kept per incident from its timeline (``incidents.first_move_at``, migration 0045):
    ``acknowledged_at`` is reset by a reopen, which would make a reopened incident look promptly handled.
    Resolved is the first resolve (``first_resolved_at``), for the same reason. Times run from ``raised_at``
    (server time, like the moves), not the device time of the first signal; drills are left out.
    """
    rows = conn.execute(
        # The first moves are kept beside each incident, so a year's report reads only the incidents: reading them
        # from the timeline took a pass over 800 k entries for a year of 100 k incidents (docs/scaling.md).
        "SELECT i.school_id, date_trunc('week', i.opened_at AT TIME ZONE s.timezone)::date AS week, count(*),"
        "  count(i.first_move_at),"
        "  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.first_move_at - i.raised_at)),"
        "  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM i.first_move_at - i.raised_at)),"
        "  count(i.first_resolved_at),"
        "  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.first_resolved_at - i.raised_at)),"
        "  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM i.first_resolved_at - i.raised_at))"
        " FROM incidents i JOIN org_units u ON u.id = i.school_id JOIN schools s ON s.id = i.school_id"
        " WHERE campusguard_within(u.path, %(scope)s) AND i.opened_at >= %(since)s AND i.opened_at < %(until)s"
        "  AND NOT i.drill AND (%(schools)s::text[] IS NULL OR i.school_id = ANY(%(schools)s))"
        " GROUP BY i.school_id, week ORDER BY i.school_id, week",
        {"scope": scope_path, "since": since, "until": until, "schools": list(schools) or None},
    ).fetchall()
    return [ResponseWeek(r[0], r[1], int(r[2]), int(r[3]), _opt(r[4]), _opt(r[5]), int(r[6]), _opt(r[7]),
                         _opt(r[8])) for r in rows]


# --- Devices: availability history ------------------------------------------------------------------------

OFFLINE_KINDS = ("offline", "availability_offline")
"""Device events that say a device went quiet (ingest's sweep, Zigbee2MQTT's availability)."""
ONLINE_KINDS = ("online",)
"""Device events that say a device was heard again after being offline."""


@dataclass(frozen=True, slots=True)
class DeviceAvailability:
    """What is known of one device's availability over a window: its state before it and its changes in it."""

    device_id: str
    school_id: str
    kind: str
    heard: bool
    """Whether the device ever reported (has a liveness record)."""
    online_now: bool
    before: bool | None
    """Online at the window's start by the last change before it; None when there was none."""
    changes: tuple[tuple[datetime, bool], ...]
    """(time, online) of each change inside the window, in time order."""
    after: bool | None = None
    """Online by the first change after the window; None when there was none."""
    first_seen: datetime | None = None
    """When the device was first heard from (None: never, or not recorded). Its uptime counts only from then."""


def device_availability(
    conn: psycopg.Connection, scope_path: str, since: datetime, until: datetime, schools: tuple[str, ...] = (),
) -> list[DeviceAvailability]:
    """List the active devices of the schools in scope with their online/offline changes around [since, until).

    Each device carries the last change before the window, every change inside it and the first after it,
    so its state at the start is read from its history rather than from the present (command_ui/uptime.py).
    """
    kinds = [*OFFLINE_KINDS, *ONLINE_KINDS]
    params = {"scope": scope_path, "since": since, "until": until, "kinds": kinds, "online": list(ONLINE_KINDS),
              "schools": list(schools) or None}
    devices_rows = conn.execute(
        "SELECT d.id, d.school_id, d.kind, l.device_id IS NOT NULL, coalesce(l.online, false),"
        " (SELECT e.kind = ANY(%(online)s) FROM device_events e WHERE e.device_id = d.id"
        "    AND e.kind = ANY(%(kinds)s) AND e.time < %(since)s ORDER BY e.time DESC LIMIT 1),"
        " (SELECT e.kind = ANY(%(online)s) FROM device_events e WHERE e.device_id = d.id"
        "    AND e.kind = ANY(%(kinds)s) AND e.time >= %(until)s ORDER BY e.time LIMIT 1),"
        " l.first_seen"
        " FROM devices d JOIN org_units u ON u.id = d.school_id LEFT JOIN device_liveness l ON l.device_id = d.id"
        " WHERE d.active AND campusguard_within(u.path, %(scope)s)"
        " AND (%(schools)s::text[] IS NULL OR d.school_id = ANY(%(schools)s)) ORDER BY d.school_id, d.id",
        params).fetchall()
    changes: dict[str, list[tuple[datetime, bool]]] = {}
    for device_id, time, online in conn.execute(
            "SELECT e.device_id, e.time, e.kind = ANY(%(online)s) FROM device_events e"
            " JOIN devices d ON d.id = e.device_id JOIN org_units u ON u.id = d.school_id"
            " WHERE e.kind = ANY(%(kinds)s) AND e.time >= %(since)s AND e.time < %(until)s"
            " AND campusguard_within(u.path, %(scope)s) ORDER BY e.time", params).fetchall():
        changes.setdefault(device_id, []).append((time, bool(online)))
    return [DeviceAvailability(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5], tuple(changes.get(r[0], ())), r[6],
                               r[7]) for r in devices_rows]


# --- Buses: one bus in scope, its fixes ------------------------------------------------------------------


def bus_detail(conn: psycopg.Connection, scope_path: str, bus_id: str) -> dict[str, Any] | None:
    """One active bus in scope with what planning its route needs: stops, windows, trackers, its school."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT b.id, b.school_id, b.name, b.route, b.corridor_m, b.speed_limit_kmh, b.depot_lon, b.depot_lat,"
            " b.service_windows, s.name AS school_name, s.timezone, s.campus, s.hours,"
            " (SELECT coalesce(json_agg(json_build_object('id', st.id, 'name', st.name, 'lon', st.lon,"
            "   'lat', st.lat, 'scheduled', to_char(st.scheduled, 'HH24:MI')) ORDER BY st.seq), '[]')"
            "   FROM bus_stops st WHERE st.bus_id = b.id) AS stops,"
            " (SELECT coalesce(array_agg(d.id ORDER BY d.id), '{}') FROM devices d"
            "   WHERE d.bus_id = b.id AND d.active) AS trackers"
            " FROM buses b JOIN org_units u ON u.id = b.school_id JOIN schools s ON s.id = b.school_id"
            " WHERE b.id = %s AND b.active AND campusguard_within(u.path, %s)",
            (bus_id, scope_path),
        )
        return cur.fetchone()


def latest_fix(conn: psycopg.Connection, device_ids: list[str]) -> dict[str, Any] | None:
    """Return the newest of the devices' latest positions (device time), or None when none reported."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT device_id, time, lon, lat, speed_kmh, heading_deg FROM latest_positions"
                    " WHERE device_id = ANY(%s) ORDER BY time DESC LIMIT 1", (device_ids,))
        return cur.fetchone()


def fixes(conn: psycopg.Connection, device_ids: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """List the devices' fixes with start <= time <= end, oldest first (one per instant when trackers coincide)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT DISTINCT ON (time) device_id, time, received_at, lon, lat, speed_kmh, heading_deg, source"
            " FROM positions WHERE device_id = ANY(%s) AND time >= %s AND time <= %s ORDER BY time, device_id",
            (device_ids, start, end),
        )
        return cur.fetchall()


def unit_path(conn: psycopg.Connection, unit_id: str) -> str | None:
    """Return an organisation unit's path (``/city/county/school/``), or None for an unknown id."""
    row = conn.execute("SELECT path FROM org_units WHERE id = %s", (unit_id,)).fetchone()
    return str(row[0]) if row else None


def incident_detail(conn: psycopg.Connection, incident_id: int, scope: str) -> dict[str, Any] | None:
    """One incident in ``scope`` with its evidence, its timeline and every notification delivery; None if none.

    Names come with the ids: each timeline entry's ``actor_name``, each evidence item's ``source_name``.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_INCIDENT_COLUMNS}, i.evidence, i.reminders FROM incidents i"
                    " JOIN org_units u ON u.id = i.school_id"
                    " WHERE i.id = %s AND campusguard_within(u.path, %s)", (incident_id, scope))
        incident = cur.fetchone()
        if incident is None:
            return None
        cur.execute("SELECT e.seq, e.time, e.kind, e.actor, p.display_name AS actor_name, e.note, e.detail"
                    " FROM incident_events e LEFT JOIN users p ON p.id = e.actor WHERE e.incident_id = %s"
                    " ORDER BY e.seq", (incident_id,))
        timeline = cur.fetchall()
        sources = sorted({e["source_id"] for e in incident["evidence"] if isinstance(e.get("source_id"), str)})
        cur.execute("SELECT id, name FROM devices WHERE id = ANY(%(ids)s)"
                    " UNION ALL SELECT id, name FROM buses WHERE id = ANY(%(ids)s)", {"ids": sources})
        names = {r["id"]: r["name"] for r in cur.fetchall()}
        cur.execute("SELECT notifier, event, ok, attempts, error, at FROM notification_deliveries"
                    " WHERE incident_id = %s ORDER BY id", (incident_id,))
        deliveries = cur.fetchall()
    return incident | {"timeline": timeline, "deliveries": deliveries,
                       "evidence": [e | {"source_name": names.get(e.get("source_id"))} for e in incident["evidence"]]}


def drawn_fences_signature(conn: psycopg.Connection) -> tuple[object, ...]:
    """Return what changes whenever a fence is drawn, edited or retired through the API: (count, last update)."""
    row = conn.execute("SELECT count(*) FILTER (WHERE active), max(updated_at) FROM geofences"
                       " WHERE source = 'api'").fetchone()
    return tuple(row) if row else ()
