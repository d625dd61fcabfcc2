"""What the live feed reads of incidents: changes in cursor order, and a scope's present on a first connection.

Every change is sent as the incident's current row, numbered by ``incident_events.cursor``; ``path`` (the
school's place in the organisation tree) is what the feed matches against a screen's scope.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from store.queries import CHATTERING, SOURCE_NAME

REPLAY_PAGE = 500

# The incident list's alarm-management fields too (raised_at, drill, toggles, chattering), and its title's key,
# values and source name: a live change must not drop the badges or the language a screen drew from the list.
_COLUMNS = f"""e.cursor, i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title, i.title_key,
              i.title_params, i.lon, i.lat, i.occurrences, i.opened_at, i.updated_at, i.acknowledged_at,
              i.resolved_at, i.escalation_level, i.event_seq, i.cleared_at, i.raised_at, i.drill, i.toggles,
              {CHATTERING}, {SOURCE_NAME}, u.path"""
_FROM = """incident_events e JOIN incidents i ON i.id = e.incident_id JOIN org_units u ON u.id = i.school_id"""

# Every scope's changes after a cursor, and those in the holes below it (command_ui/incident_hub.py).
CHANGES = f"""
    SELECT {_COLUMNS} FROM {_FROM}
    WHERE e.cursor > %s OR e.cursor = ANY(%s) ORDER BY e.cursor LIMIT %s
"""
_SCOPE_CHANGES = f"""
    SELECT {_COLUMNS} FROM {_FROM}
    WHERE e.cursor > %s AND campusguard_within(u.path, %s) ORDER BY e.cursor LIMIT {REPLAY_PAGE}
"""
# A first connection (after=0) needs the present, not all of history: the latest change of every incident that
# is open or changed in the last day, oldest first. A reconnect (after>0) gets every change it missed.
_SCOPE_PRESENT = f"""
    SELECT * FROM (
        SELECT DISTINCT ON (i.id) {_COLUMNS} FROM {_FROM}
        WHERE campusguard_within(u.path, %s)
          AND (i.status NOT IN ('resolved', 'closed') OR i.updated_at > now() - interval '1 day')
        ORDER BY i.id, e.cursor DESC
    ) latest ORDER BY cursor
"""


def replay(conn: psycopg.Connection[Any], scope_path: str, after: int) -> list[dict[str, Any]]:
    """Read what a screen connecting with ``after`` is sent first: the present (0) or every change since."""
    with conn.cursor(row_factory=dict_row) as cur:
        if after == 0:
            cur.execute(_SCOPE_PRESENT, (scope_path,))
            return cur.fetchall()
        out: list[dict[str, Any]] = []
        while True:
            cur.execute(_SCOPE_CHANGES, (after, scope_path))
            page = cur.fetchall()
            out += page
            if len(page) < REPLAY_PAGE:
                return out
            after = int(page[-1]["cursor"])


# --- The live position feed (command_ui/live_hub.py) -----------------------------------------------------------

_XMIN = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
_MOVED = """
    SELECT lp.device_id, d.kind, d.bus_id, d.school_id, lp.lon, lp.lat, lp.time, lp.speed_kmh, lp.heading_deg,
           lp.written_xid, u.path
    FROM latest_positions lp JOIN devices d ON d.id = lp.device_id LEFT JOIN org_units u ON u.id = d.school_id
    WHERE lp.written_xid >= %s::xid8 ORDER BY lp.written_xid
"""


async def moved_since(conn: psycopg.AsyncConnection[Any], since: str) -> tuple[str, list[tuple[Any, ...]]]:
    """Read the latest positions written by transaction ``since`` or later, with their device and school path.

    Returns where the next read starts, with the rows: the oldest transaction still running before this read
    (its snapshot's xmin, taken first, so whatever finished before it this read sees).
    """
    async with conn.cursor() as cur:
        await cur.execute(_XMIN)
        row = await cur.fetchone()
        await cur.execute(_MOVED, (since,))
        rows = await cur.fetchall()
    return (str(row[0]) if row else since), rows


# --- The live incident feed (command_ui/incident_hub.py) -------------------------------------------------------

async def newest_cursor(conn: psycopg.AsyncConnection[Any]) -> int:
    """Return the highest incident change cursor written so far (0 for none)."""
    row = await (await conn.execute("SELECT coalesce(max(cursor), 0) FROM incident_events")).fetchone()
    return int(row[0]) if row else 0


async def missing_cursors(conn: psycopg.AsyncConnection[Any], top: int, span: int) -> list[int]:
    """Cursors among the ``span`` below ``top`` that no committed change holds (yet)."""
    cur = await conn.execute(
        "SELECT n FROM generate_series(greatest(1, %s - %s), %s) n"
        " EXCEPT SELECT cursor FROM incident_events WHERE cursor > %s - %s", (top, span, top, top, span))
    return [int(r[0]) for r in await cur.fetchall()]


async def changes(conn: psycopg.AsyncConnection[Any], after: int, holes: list[int], limit: int
                  ) -> list[dict[str, Any]]:
    """Every scope's incident changes after ``after`` and at the cursors in ``holes``, in cursor order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(CHANGES, (after, holes, limit))
        return await cur.fetchall()
