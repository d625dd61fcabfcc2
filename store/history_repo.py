"""Writing a simulated past straight into the store: the demo's last month (campusguard/simulate/last_month.py).

The rows are those the stages write (patrol scans, drills, incidents with their timelines, device events,
liveness), put in by ``COPY`` where there are thousands, so a city's month takes about a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

# The only tables a simulated past is copied into, with their columns as the caller names them.
COPIED = frozenset({"patrol_scans", "drills", "device_events", "device_liveness"})


@dataclass(frozen=True, slots=True)
class WatchedDevice:
    """A camera or one-button alarm of a school, and whether any message of it was ever stored."""

    id: str
    school_id: str
    kind: str
    name: str
    heard: bool


@dataclass(frozen=True, slots=True)
class PastAlarm:
    """A panic alarm of the past with its timeline: raised, acknowledged (or never), resolved."""

    school_id: str
    device_id: str
    place: str
    opened: datetime
    acknowledged: datetime | None
    resolved: datetime | None
    outcome: str | None
    """``real`` or ``false_alarm`` once resolved; None while open."""
    actor: str
    """Who acknowledged and resolved it."""


def has_patrol_scans(conn: psycopg.Connection, since: datetime, until: datetime) -> bool:
    """Tell whether any patrol round starting in [since, until) has a scan."""
    return conn.execute("SELECT 1 FROM patrol_scans WHERE round_start >= %s AND round_start < %s LIMIT 1",
                        (since, until)).fetchone() is not None


def active_schools(conn: psycopg.Connection) -> list[str]:
    """List the ids of the active schools, in order."""
    return [r[0] for r in conn.execute("SELECT id FROM schools WHERE active ORDER BY id").fetchall()]


def watched_devices(conn: psycopg.Connection) -> list[WatchedDevice]:
    """List every active camera and one-button alarm of a school, in id order."""
    rows = conn.execute("SELECT d.id, d.school_id, d.kind, d.name, l.device_id IS NOT NULL FROM devices d"
                        " LEFT JOIN device_liveness l ON l.device_id = d.id"
                        " WHERE d.active AND d.school_id IS NOT NULL AND d.kind IN ('camera', 'panic_button')"
                        " ORDER BY d.id").fetchall()
    return [WatchedDevice(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Copy rows into one of :data:`COPIED`'s tables; returns how many."""
    if table not in COPIED:
        raise ValueError(f"not a table a simulated past is copied into: {table}")
    # Drawn in full first: rows computed from queries cannot use the connection while it is in COPY.
    drawn = list(rows)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table),
                                                          sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        for row in drawn:
            copy.write_row(row)
    return len(drawn)


def add_alarm(conn: psycopg.Connection, alarm: PastAlarm) -> int:
    """Store a past panic alarm and its timeline as the alerts stage would have; returns its events' count."""
    timeline: list[tuple[str, datetime, str | None, dict[str, Any]]] = [("raised", alarm.opened, None, {})]
    if alarm.acknowledged is not None:
        timeline.append(("acknowledge", alarm.acknowledged, alarm.actor, {}))
    if alarm.resolved is not None:
        timeline.append(("resolve", alarm.resolved, alarm.actor, {"outcome": alarm.outcome}))
    status = "resolved" if alarm.resolved else "acknowledged" if alarm.acknowledged else "raised"
    row = conn.execute(
        "INSERT INTO incidents (school_id, type, severity, status, outcome, title, title_key, title_params, evidence,"
        " opened_at, raised_at, updated_at, acknowledged_at, resolved_at, last_signal_at, event_seq)"
        " VALUES (%s, 'panic', 'critical', %s, %s, %s, 'incident.title.panic', %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (alarm.school_id, status, alarm.outcome, f"Panic: {alarm.place}", Jsonb({"place": alarm.place}),
         # The evidence as the alerts stage stores it (store/incident_repo.py reads every field back).
         Jsonb([{"kind": "panic", "ref": None, "time": alarm.opened.isoformat(), "summary": f"Panic: {alarm.place}",
                 "signal_id": f"past-{alarm.device_id}-{alarm.opened.timestamp():.0f}", "source_id": alarm.device_id,
                 "lon": None, "lat": None}]), alarm.opened,
         alarm.opened, timeline[-1][1], alarm.acknowledged, alarm.resolved, alarm.opened, len(timeline)),
    ).fetchone()
    assert row is not None  # INSERT ... RETURNING of one row
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor, detail)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(row[0], seq, at, alarm.school_id, kind, actor, Jsonb(detail))
                         for seq, (kind, at, actor, detail) in enumerate(timeline, start=1)])
    return len(timeline)
