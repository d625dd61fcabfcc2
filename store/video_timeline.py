"""What a camera's timeline shows besides its recordings: its findings (vision events, video alarms) and incidents.

A finding is a ``device_events`` row of the camera (an intrusion, a crowd, a person down, a tamper...); when an
incident's evidence names that very event (same camera, same time) the finding carries the incident's id, so the
timeline's mark can say which case it belongs to. Recorded spans come from :func:`store.video_repo.segments_between`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

MAX_FINDINGS = 500
"""A day of one camera's marks, at most: a timeline wider than this is noise, and the newest are kept."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One camera finding on the timeline, and the incident that took it up (None: none did)."""

    at: datetime
    kind: str
    incident_id: int | None


def findings(conn: psycopg.Connection, camera_id: str, start: datetime, end: datetime) -> list[Finding]:
    """List the camera's findings in [start, end), oldest first (the newest MAX_FINDINGS when there are more)."""
    rows = conn.execute(
        "SELECT * FROM (SELECT e.time, e.kind, (SELECT i.id FROM incidents i"
        "   CROSS JOIN LATERAL jsonb_array_elements(i.evidence) x"
        "   WHERE i.opened_at BETWEEN e.time - interval '1 day' AND e.time + interval '1 day'"
        "     AND x->>'source_id' = e.device_id AND (x->>'time')::timestamptz = e.time ORDER BY i.id LIMIT 1)"
        " FROM device_events e WHERE e.device_id = %s AND e.time >= %s AND e.time < %s"
        " ORDER BY e.time DESC LIMIT %s) newest ORDER BY 1",
        (camera_id, start, end, MAX_FINDINGS)).fetchall()
    return [Finding(r[0], str(r[1]), int(r[2]) if r[2] is not None else None) for r in rows]


def school_timezone(conn: psycopg.Connection, school_id: str) -> str | None:
    """Look up the school's IANA time zone (its days are the timeline's days); None when there is no such school."""
    row = conn.execute("SELECT timezone FROM schools WHERE id = %s", (school_id,)).fetchone()
    return str(row[0]) if row else None
