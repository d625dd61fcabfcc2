"""Shelves and drill modes in the database: set, end, list, count what a shelf silenced, and expire them.

Every write runs in the caller's transaction, so the API's audit record commits with the change it records.
Expiry is time alone (``until``); :func:`expire` stamps what has run out, once, so its audit record is
written once by the alert stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.alarms import DrillMode, Shelf
from store.queries import CHATTERING, SOURCE_NAME

_SHELF = ("id, school_id, source_id, type, reason, shelved_by, shelved_at, until, suppressed, ended_at,"
          " ended_by")
_DRILL = "id, school_id, reason, started_by, started_at, until, ended_at, ended_by"
EXPIRED = "expired"
"""``ended_by`` of a shelf or drill mode that ran out by itself."""


def _shelf(row: Mapping[str, Any]) -> Shelf:
    return Shelf(**row)


def _drill(row: Mapping[str, Any]) -> DrillMode:
    return DrillMode(**row)


def add_shelf(conn: psycopg.Connection, school_id: str, source_id: str, incident_type: str | None, reason: str,
              by: str, at: datetime, until: datetime) -> Shelf:
    """Shelve a source; returns the stored shelf."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"INSERT INTO shelves (school_id, source_id, type, reason, shelved_by, shelved_at, until)"
                    f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_SHELF}",
                    (school_id, source_id, incident_type, reason, by, at, until))
        row = cur.fetchone()
    assert row is not None  # INSERT ... RETURNING of one row
    return _shelf(row)


def get_shelf(conn: psycopg.Connection, shelf_id: int) -> Shelf | None:
    """Load one shelf by id."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_SHELF} FROM shelves WHERE id = %s", (shelf_id,)).fetchone()
    return None if row is None else _shelf(row)


def end_shelf(conn: psycopg.Connection, shelf_id: int, by: str, at: datetime) -> bool:
    """End a shelf early; False when it had already ended."""
    cur = conn.execute("UPDATE shelves SET ended_at = %s, ended_by = %s WHERE id = %s AND ended_at IS NULL"
                       " AND until > %s", (at, by, shelf_id, at))
    return cur.rowcount == 1


def active_shelves(conn: psycopg.Connection, now: datetime, school_id: str | None = None) -> list[Shelf]:
    """Shelves holding at ``now``, of one school or all."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_SHELF} FROM shelves WHERE ended_at IS NULL AND until > %s AND shelved_at <= %s"
                    " AND (%s::text IS NULL OR school_id = %s) ORDER BY id", (now, now, school_id, school_id))
        return [_shelf(r) for r in cur.fetchall()]


def shelves_in_scope(conn: psycopg.Connection, scope: str, since: datetime) -> list[Shelf]:
    """Shelves of the schools under ``scope`` that held at or after ``since``, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {', '.join('s.' + c.strip() for c in _SHELF.split(','))} FROM shelves s"
                    " JOIN org_units u ON u.id = s.school_id WHERE campusguard_within(u.path, %s)"
                    " AND coalesce(s.ended_at, s.until) >= %s ORDER BY s.id DESC", (scope, since))
        return [_shelf(r) for r in cur.fetchall()]


def count_suppressed(conn: psycopg.Connection, shelf_id: int) -> None:
    """Count one signal the shelf silenced."""
    conn.execute("UPDATE shelves SET suppressed = suppressed + 1 WHERE id = %s", (shelf_id,))


def start_drill_mode(conn: psycopg.Connection, school_id: str, reason: str, by: str, at: datetime,
                     until: datetime) -> DrillMode:
    """Put a school in drill mode; returns the stored record."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"INSERT INTO drill_modes (school_id, reason, started_by, started_at, until)"
                    f" VALUES (%s, %s, %s, %s, %s) RETURNING {_DRILL}", (school_id, reason, by, at, until))
        row = cur.fetchone()
    assert row is not None  # INSERT ... RETURNING of one row
    return _drill(row)


def end_drill_mode(conn: psycopg.Connection, school_id: str, by: str, at: datetime) -> DrillMode | None:
    """End the school's drill mode now; the ended record, or None when it was not in one."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"UPDATE drill_modes SET ended_at = %s, ended_by = %s WHERE school_id = %s"
                          f" AND ended_at IS NULL AND until > %s RETURNING {_DRILL}", (at, by, school_id, at)
                          ).fetchone()
    return None if row is None else _drill(row)


def active_drill_modes(conn: psycopg.Connection, now: datetime, school_id: str | None = None) -> list[DrillMode]:
    """Drill modes holding at ``now``, of one school or all."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_DRILL} FROM drill_modes WHERE ended_at IS NULL AND until > %s AND started_at <= %s"
                    " AND (%s::text IS NULL OR school_id = %s) ORDER BY id", (now, now, school_id, school_id))
        return [_drill(r) for r in cur.fetchall()]


def expire(conn: psycopg.Connection, now: datetime) -> tuple[list[Shelf], list[DrillMode]]:
    """Stamp the shelves and drill modes that ran out by ``now`` as ended (by :data:`EXPIRED`, at ``until``).

    Each is returned once, so the caller audits each expiry once; rows are locked while stamped, so two alert
    stages never both do.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        shelves = cur.execute(f"UPDATE shelves SET ended_at = until, ended_by = %s WHERE ended_at IS NULL"
                              f" AND until <= %s RETURNING {_SHELF}", (EXPIRED, now)).fetchall()
        drills = cur.execute(f"UPDATE drill_modes SET ended_at = until, ended_by = %s WHERE ended_at IS NULL"
                             f" AND until <= %s RETURNING {_DRILL}", (EXPIRED, now)).fetchall()
    return [_shelf(r) for r in shelves], [_drill(r) for r in drills]


# --- Alarm health and the live board ----------------------------------------------------------------------

_ALARM_ROWS = (
    "SELECT i.id, i.school_id, i.type, i.severity,"
    " ARRAY(SELECT DISTINCT e->>'source_id' FROM jsonb_array_elements(i.evidence) e WHERE e ? 'source_id'),"
    " i.raised_at, i.first_move_at, fa.actor, i.outcome, i.drill"
    " FROM incidents i JOIN org_units u ON u.id = i.school_id"
    # The first move a person made is kept on the incident (first_move_at, migration 0045; acknowledged_at is
    # reset by a reopen); who made it is the timeline's entry at that time, which the equality prunes to one
    # partition.
    " LEFT JOIN LATERAL (SELECT e.actor FROM incident_events e WHERE e.incident_id = i.id"
    "   AND e.time = i.first_move_at AND e.kind IN ('acknowledge', 'respond', 'resolve')"
    "   ORDER BY e.seq LIMIT 1) fa ON true"
    " WHERE campusguard_within(u.path, %(scope)s) AND (%(school)s::text IS NULL OR i.school_id = %(school)s)"
)


def alarm_rows(conn: psycopg.Connection, scope: str, since: datetime, until: datetime,
               school_id: str | None = None) -> list[tuple[Any, ...]]:
    """Incidents raised in ``[since, until)`` under ``scope``, as tuples in AlarmRow's field order.

    (id, school, type, severity, sources, raised_at, first action time, first actor, outcome, drill)
    """
    return conn.execute(_ALARM_ROWS + " AND i.raised_at >= %(since)s AND i.raised_at < %(until)s ORDER BY i.id",
                        {"scope": scope, "school": school_id, "since": since, "until": until}).fetchall()


def operators(conn: psycopg.Connection, scope: str) -> dict[str, int]:
    """Active guards per school under ``scope``: the operators who answer its alarms."""
    rows = conn.execute("SELECT s.id, count(g.id) FROM schools s JOIN org_units u ON u.id = s.id"
                        " LEFT JOIN users g ON g.scope_id = s.id AND g.role = 'guard' AND g.active"
                        " WHERE campusguard_within(u.path, %s) GROUP BY s.id", (scope,)).fetchall()
    return {school: int(n) for school, n in rows}


def board_rows(conn: psycopg.Connection, scope: str, now: datetime, flood_window: timedelta
               ) -> list[dict[str, Any]]:
    """Open incidents under ``scope``, and any raised within ``flood_window`` before ``now`` (for flood counts)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT i.id, i.school_id, i.type, i.severity, i.status, i.title, i.title_key, i.title_params,"
                    f" i.raised_at, i.opened_at, i.cleared_at, i.drill, i.toggles, i.occurrences, {CHATTERING},"
                    f" {SOURCE_NAME}"
                    " FROM incidents i JOIN org_units u ON u.id = i.school_id"
                    " WHERE campusguard_within(u.path, %s)"
                    " AND (i.status NOT IN ('resolved', 'closed') OR i.raised_at > %s) ORDER BY i.id",
                    (scope, now - flood_window))
        return cur.fetchall()
