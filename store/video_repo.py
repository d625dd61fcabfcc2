"""The index of recorded video: segments per camera, clips kept with incidents, and what the recorder must clip.

Files live under the video root; rows hold their path relative to it, so moving the root moves nothing here.
A segment row is written once its file is closed (the recorder learns that from ffmpeg's segment list), so a
row never points at a file still being written; deleting a segment deletes its row first, then the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """One recorded segment: it begins at a keyframe and plays on its own."""

    id: int
    camera_id: str
    path: str
    start_at: datetime
    end_at: datetime
    bytes: int


@dataclass(frozen=True, slots=True)
class ClipRow:
    """A clip cut for an incident, with the facts the chain of custody needs."""

    id: int
    incident_id: int
    camera_id: str
    school_id: str | None
    path: str
    finding_at: datetime
    start_at: datetime
    end_at: datetime
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ClipDue:
    """A camera incident without its clip yet: which camera, and when the finding was."""

    incident_id: int
    camera_id: str
    finding_at: datetime


_SEGMENT = "id, camera_id, path, start_at, end_at, bytes"


def add_segment(conn: psycopg.Connection, camera_id: str, path: str, start_at: datetime, end_at: datetime,
                size: int) -> bool:
    """Index a closed segment; False when its path is already indexed (a recovered file seen twice)."""
    with conn.transaction():
        return bool(conn.execute(
            "INSERT INTO video_segments (camera_id, path, start_at, end_at, bytes) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (path) DO NOTHING", (camera_id, path, start_at, end_at, size)).rowcount)


def indexed_paths(conn: psycopg.Connection, camera_id: str) -> frozenset[str]:
    """Every indexed segment path of a camera (to find files a killed recorder left unindexed)."""
    rows = conn.execute("SELECT path FROM video_segments WHERE camera_id = %s", (camera_id,)).fetchall()
    return frozenset(str(r[0]) for r in rows)


def segments(conn: psycopg.Connection, camera_id: str | None = None) -> list[SegmentRow]:
    """Every indexed segment (of one camera, or all), oldest first."""
    where, params = ("WHERE camera_id = %s", (camera_id,)) if camera_id else ("", ())
    rows = conn.execute(f"SELECT {_SEGMENT} FROM video_segments {where} ORDER BY start_at, id", params).fetchall()
    return [SegmentRow(*r) for r in rows]


def segments_between(conn: psycopg.Connection, camera_id: str, start: datetime, end: datetime) -> list[SegmentRow]:
    """List the camera's segments that overlap [start, end], oldest first."""
    rows = conn.execute(
        f"SELECT {_SEGMENT} FROM video_segments WHERE camera_id = %s AND end_at > %s AND start_at < %s"
        " ORDER BY start_at, id", (camera_id, start, end)).fetchall()
    return [SegmentRow(*r) for r in rows]


def delete_segments(conn: psycopg.Connection, ids: Iterable[int]) -> int:
    """Forget segments (the caller deletes their files afterwards); return how many rows went."""
    with conn.transaction():
        return conn.execute("DELETE FROM video_segments WHERE id = ANY(%s)", (list(ids),)).rowcount


def clips_due(conn: psycopg.Connection, since: datetime, ready_before: datetime) -> list[ClipDue]:
    """Camera incidents opened since ``since`` with no clip yet, whose first camera finding is before ``ready_before``.

    The camera is the first camera among the incident's evidence (``source_id`` of a device of kind camera),
    the finding its time. ``ready_before`` lets the caller wait until the 20 s after the finding are recorded.
    """
    rows = conn.execute(
        "SELECT DISTINCT ON (i.id) i.id, e->>'source_id', (e->>'time')::timestamptz AS at"
        " FROM incidents i CROSS JOIN LATERAL jsonb_array_elements(i.evidence) e"
        " JOIN devices d ON d.id = e->>'source_id' AND d.kind = 'camera'"
        " WHERE i.opened_at >= %s AND NOT EXISTS (SELECT 1 FROM video_clips c WHERE c.incident_id = i.id)"
        " ORDER BY i.id, at", (since,)).fetchall()
    return [ClipDue(int(r[0]), str(r[1]), r[2]) for r in rows if r[2] < ready_before]


def add_clip(conn: psycopg.Connection, due: ClipDue, path: str, start_at: datetime, end_at: datetime, size: int,
             sha256: str, created_at: datetime) -> int | None:
    """Keep a clip with its incident; None when the incident already has one (a second recorder was quicker)."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO video_clips (incident_id, camera_id, path, finding_at, start_at, end_at, bytes, sha256,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (incident_id, camera_id)"
            " DO NOTHING RETURNING id",
            (due.incident_id, due.camera_id, path, due.finding_at, start_at, end_at, size, sha256, created_at),
        ).fetchone()
        return int(row[0]) if row else None


_CLIP = ("c.id, c.incident_id, c.camera_id, d.school_id, c.path, c.finding_at, c.start_at, c.end_at, c.bytes,"
         " c.sha256")


def clip(conn: psycopg.Connection, clip_id: int) -> ClipRow | None:
    """One clip with its camera's school (for scoping); None if there is none."""
    row = conn.execute(f"SELECT {_CLIP} FROM video_clips c JOIN devices d ON d.id = c.camera_id WHERE c.id = %s",
                       (clip_id,)).fetchone()
    return ClipRow(*row) if row else None


def incident_clips(conn: psycopg.Connection, incident_id: int) -> list[ClipRow]:
    """List the clips of one incident."""
    rows = conn.execute(f"SELECT {_CLIP} FROM video_clips c JOIN devices d ON d.id = c.camera_id"
                        " WHERE c.incident_id = %s ORDER BY c.id", (incident_id,)).fetchall()
    return [ClipRow(*r) for r in rows]


def camera_school(conn: psycopg.Connection, camera_id: str) -> tuple[str | None, str] | None:
    """Look up a camera's school and stream URL; None when there is no such camera."""
    row = conn.execute("SELECT school_id, coalesce(config->>'rtsp_url', '') FROM devices"
                       " WHERE id = %s AND kind = 'camera'", (camera_id,)).fetchone()
    return (row[0], str(row[1])) if row else None


def cameras(conn: psycopg.Connection, ids: Sequence[str]) -> dict[str, str | None]:
    """Map each given camera that exists to its school."""
    rows = conn.execute("SELECT id, school_id FROM devices WHERE kind = 'camera' AND id = ANY(%s)",
                        (list(ids),)).fetchall()
    return {str(r[0]): r[1] for r in rows}
