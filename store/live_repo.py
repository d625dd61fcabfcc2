"""What the live feed reads of incidents: changes in cursor order, and a scope's present on a first connection.

Every change is sent as the incident's current row, numbered by ``incident_events.cursor``; ``path`` (the
school's place in the organisation tree) is what the feed matches against a screen's scope.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

REPLAY_PAGE = 500

_COLUMNS = """e.cursor, i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title, i.lon, i.lat,
              i.occurrences, i.opened_at, i.updated_at, i.acknowledged_at, i.resolved_at, i.escalation_level,
              i.event_seq, u.path"""
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
