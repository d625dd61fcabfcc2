"""Patrol checkpoints, plans and scans: the rows a site load writes, a guard's phone adds, and the alert stage reads.

A checkpoint's ``key_version`` belongs to the database, not the site file: a site load never resets it, so a
rotation (which voids the printed codes) survives every reload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.site import Site
from domain.site.patrols import PatrolPlan

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A checkpoint as stored, with what scoping and round-finding need of its school."""

    id: str
    school_id: str
    name: str
    lon: float | None
    lat: float | None
    radius_m: float | None
    key_version: int
    school_path: str
    timezone: str


@dataclass(frozen=True, slots=True)
class SchoolPatrol:
    """A school's patrol plan with its active checkpoints."""

    school_id: str
    school_name: str
    school_path: str
    timezone: str
    plan: PatrolPlan
    checkpoints: tuple[CheckpointRow, ...]


def checkpoint_rows(site: Site) -> Iterator[Row]:
    """Rows of ``patrol_checkpoints`` the site file gives (without ``key_version``: that is the database's)."""
    for entry in site.iter_schools():
        for point in entry.school.checkpoints:
            lon, lat = point.location if point.location else (None, None)
            yield {"id": point.id, "school_id": entry.school.id, "name": point.name, "lon": lon, "lat": lat,
                   "radius_m": point.radius_m, "active": True}


def plan_rows(site: Site) -> Iterator[Row]:
    """Rows of ``patrol_plans``: one per school with a plan."""
    for entry in site.iter_schools():
        if entry.school.patrol is not None:
            yield {"id": entry.school.id, "plan": Jsonb(entry.school.patrol.model_dump(mode="json")), "active": True}


_CHECKPOINT = ("SELECT c.id, c.school_id, c.name, c.lon, c.lat, c.radius_m, c.key_version, u.path, s.timezone"
               " FROM patrol_checkpoints c JOIN schools s ON s.id = c.school_id JOIN org_units u ON u.id = s.id")


def checkpoint(conn: psycopg.Connection, checkpoint_id: str) -> CheckpointRow | None:
    """Return an active checkpoint, or None."""
    row = conn.execute(_CHECKPOINT + " WHERE c.id = %s AND c.active", (checkpoint_id,)).fetchone()
    return CheckpointRow(*row) if row else None


def school_patrols(conn: psycopg.Connection, school_id: str | None = None) -> list[SchoolPatrol]:
    """Every active school with a patrol plan (or only ``school_id``'s), with its active checkpoints."""
    rows = conn.execute(
        "SELECT p.id, s.name, u.path, s.timezone, p.plan FROM patrol_plans p JOIN schools s ON s.id = p.id"
        " JOIN org_units u ON u.id = s.id WHERE p.active AND s.active AND (%(school)s::text IS NULL"
        " OR p.id = %(school)s) ORDER BY p.id", {"school": school_id}).fetchall()
    points: dict[str, list[CheckpointRow]] = {}
    for found in conn.execute(_CHECKPOINT + " WHERE c.active AND (%(school)s::text IS NULL"
                              " OR c.school_id = %(school)s) ORDER BY c.id", {"school": school_id}):
        points.setdefault(found[1], []).append(CheckpointRow(*found))
    return [SchoolPatrol(sid, name, path, zone, PatrolPlan.model_validate(plan), tuple(points.get(sid, ())))
            for sid, name, path, zone, plan in rows]


def school_patrol(conn: psycopg.Connection, school_id: str) -> SchoolPatrol | None:
    """Return one active school's patrol plan with its checkpoints, or None when it has none."""
    found = school_patrols(conn, school_id)
    return found[0] if found else None


def school_checkpoints(conn: psycopg.Connection, school_id: str) -> list[CheckpointRow]:
    """Return a school's active checkpoints, whether or not it has a plan (printing codes needs no plan)."""
    return [CheckpointRow(*r) for r in conn.execute(_CHECKPOINT + " WHERE c.active AND c.school_id = %s"
                                                    " ORDER BY c.id", (school_id,))]


def first_guard(conn: psycopg.Connection, school_id: str) -> str | None:
    """Return the id of a school's first active guard (the demo's walker scans as them), or None."""
    row = conn.execute("SELECT id FROM users WHERE scope_id = %s AND role = 'guard' AND active ORDER BY id LIMIT 1",
                       (school_id,)).fetchone()
    return str(row[0]) if row else None


def school_path(conn: psycopg.Connection, school_id: str) -> str | None:
    """Return the organisation path of an active school, or None."""
    row = conn.execute("SELECT u.path FROM schools s JOIN org_units u ON u.id = s.id"
                       " WHERE s.id = %s AND s.active", (school_id,)).fetchone()
    return str(row[0]) if row else None


def counted_scans(conn: psycopg.Connection, school_id: str, since: dt.datetime,
                  until: dt.datetime) -> dict[dt.datetime, dict[str, dt.datetime]]:
    """Return the counted scans of rounds starting in ``[since, until)``: round start -> checkpoint -> scan time."""
    out: dict[dt.datetime, dict[str, dt.datetime]] = {}
    for start, point, at in conn.execute(
            "SELECT round_start, checkpoint_id, scanned_at FROM patrol_scans WHERE school_id = %s AND counted"
            " AND round_start >= %s AND round_start < %s", (school_id, since, until)):
        out.setdefault(start, {})[point] = at
    return out


def already_counted(conn: psycopg.Connection, checkpoint_id: str, round_start: dt.datetime) -> bool:
    """Whether a scan of this checkpoint already counted in the round starting at ``round_start``."""
    return conn.execute("SELECT 1 FROM patrol_scans WHERE checkpoint_id = %s AND round_start = %s AND counted",
                        (checkpoint_id, round_start)).fetchone() is not None


@dataclass(frozen=True, slots=True)
class ScanIn:
    """One validly signed scan as the server received it."""

    checkpoint_id: str
    school_id: str
    user_id: str
    round_start: dt.datetime
    scanned_at: dt.datetime
    device_time: dt.datetime | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None


def record_scan(conn: psycopg.Connection, scan: ScanIn, reason: str) -> tuple[int, str]:
    """Store a scan with why it did or did not count; returns its id and the reason finally kept.

    Two phones racing to count the same checkpoint in one round meet the partial unique index: the loser is
    stored as a ``repeat``, so the record never holds two counted scans of one checkpoint in one round.
    """
    values = (scan.checkpoint_id, scan.school_id, scan.user_id, scan.round_start, scan.scanned_at,
              scan.device_time, scan.lon, scan.lat, scan.accuracy_m)
    insert = ("INSERT INTO patrol_scans (checkpoint_id, school_id, user_id, round_start, scanned_at, device_time,"
              " lon, lat, accuracy_m, counted, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
    if reason == "counted":
        row = conn.execute(insert + " ON CONFLICT (checkpoint_id, round_start) WHERE counted DO NOTHING"
                           " RETURNING id", (*values, True, reason)).fetchone()
        if row is not None:
            return int(row[0]), reason
        reason = "repeat"
    row = conn.execute(insert + " RETURNING id", (*values, False, reason)).fetchone()
    assert row is not None
    return int(row[0]), reason


def rotate(conn: psycopg.Connection, checkpoint_id: str, now: dt.datetime) -> int:
    """Raise a checkpoint's key version (voiding its printed codes); returns the new version."""
    row = conn.execute("UPDATE patrol_checkpoints SET key_version = key_version + 1, rotated_at = %s"
                       " WHERE id = %s RETURNING key_version", (now, checkpoint_id)).fetchone()
    if row is None:
        raise LookupError(f"no checkpoint {checkpoint_id}")
    return int(row[0])
