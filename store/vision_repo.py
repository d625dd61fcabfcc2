"""Storage of the vision stage's output: snapshots, camera events and sampled person sightings.

One vision event is one transaction: the snapshot row, then the camera's ``device_events`` row pointing at
it (``detail.snapshot_id``), then a ``NOTIFY`` that wakes the alert stage, so an alert never references a
snapshot that is not there. Sightings go to the ``detections`` table, where the cross-modal rules (a hot stove
with nobody in the kitchen) read when a person was last seen in a zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from store.channels import EVENT_CHANNEL


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A stored snapshot, without its pictures."""

    id: int
    camera_id: str
    school_id: str
    time: datetime
    kind: str
    width: int
    height: int
    faces: int


@dataclass(frozen=True, slots=True)
class Sighting:
    """One tracked object in one frame, as the ``detections`` table keeps it (box normalised to 0..1)."""

    camera_id: str
    time: datetime
    label: str
    track_id: int
    confidence: float
    zone: str | None
    bbox: tuple[float, float, float, float]


def store_event(conn: psycopg.Connection, camera_id: str, kind: str, time: datetime, received_at: datetime,
                detail: Mapping[str, object], snapshot: tuple[int, int, int, bytes, bytes] | None) -> int | None:
    """Store one vision event and its snapshot (width, height, faces, blurred, original); return the snapshot id.

    A repeat of the same (camera, kind, time) is ignored, so a retried transaction stores nothing twice.
    """
    with conn.transaction():
        snapshot_id = None
        if snapshot is not None:
            width, height, faces, blurred, original = snapshot
            row = conn.execute(
                "INSERT INTO snapshots (camera_id, time, kind, width, height, faces, jpeg_blurred, jpeg_original)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (camera_id, time, kind, width, height, faces, blurred, original)).fetchone()
            snapshot_id = int(row[0]) if row else None
        payload = dict(detail) | ({"snapshot_id": snapshot_id} if snapshot_id is not None else {})
        inserted = conn.execute(
            "INSERT INTO device_events (device_id, time, kind, received_at, detail) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING", (camera_id, time, kind, received_at, json.dumps(payload, default=str)))
        if inserted.rowcount:
            conn.execute("SELECT pg_notify(%s, %s)", (EVENT_CHANNEL, json.dumps(
                {"device_id": camera_id, "kind": kind, "time": time.isoformat()})))
        return snapshot_id


def store_sightings(conn: psycopg.Connection, sightings: Iterable[Sighting]) -> int:
    """Keep sampled sightings; a repeat of (camera, track, label, time) is ignored."""
    rows = [(s.camera_id, s.time, s.label, s.track_id, s.confidence, s.zone, list(s.bbox)) for s in sightings]
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO detections (camera_id, time, label, track_id, confidence, zone, bbox)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
    return len(rows)


def snapshot(conn: psycopg.Connection, snapshot_id: int) -> SnapshotRow | None:
    """Look up a snapshot's facts with the school of its camera (for scoping); None if there is none."""
    row = conn.execute(
        "SELECT s.id, s.camera_id, d.school_id, s.time, s.kind, s.width, s.height, s.faces"
        " FROM snapshots s JOIN devices d ON d.id = s.camera_id WHERE s.id = %s", (snapshot_id,)).fetchone()
    return SnapshotRow(*row) if row else None


def snapshot_jpeg(conn: psycopg.Connection, snapshot_id: int, *, faces: bool) -> bytes | None:
    """Read the snapshot's JPEG: the original when ``faces``, else the one with faces blurred."""
    column = "jpeg_original" if faces else "jpeg_blurred"
    row = conn.execute(f"SELECT {column} FROM snapshots WHERE id = %s", (snapshot_id,)).fetchone()
    return bytes(row[0]) if row else None


def delete_expired_snapshots(conn: psycopg.Connection, now: datetime, keep: timedelta) -> int:
    """Delete snapshots older than ``keep``; return how many went."""
    return conn.execute("DELETE FROM snapshots WHERE time < %s", (now - keep,)).rowcount


def last_person_seen(conn: psycopg.Connection, camera_ids: Iterable[str], zone: str,
                     since: datetime) -> datetime | None:
    """When a person was last seen in ``zone`` of any of the cameras, since ``since``; None if not."""
    row = conn.execute("SELECT max(time) FROM detections WHERE camera_id = ANY(%s) AND zone = %s"
                       " AND label = 'person' AND time >= %s", (list(camera_ids), zone, since)).fetchone()
    return row[0] if row else None


@dataclass(frozen=True, slots=True)
class SceneRow:
    """A fixed thing a camera learned as part of its scene (box normalised to 0..1); forgotten once un-learned."""

    id: int
    camera_id: str
    label: str
    box: tuple[float, float, float, float]
    learned_at: datetime
    forgotten_at: datetime | None = None
    forgotten_by: str | None = None


_SCENE_COLUMNS = "id, camera_id, label, box, learned_at, forgotten_at, forgotten_by"


def _scene_row(row: tuple[Any, ...]) -> SceneRow:
    id_, camera_id, label, box, learned_at, forgotten_at, forgotten_by = row
    x1, y1, x2, y2 = (float(v) for v in box)
    return SceneRow(int(id_), str(camera_id), str(label), (x1, y1, x2, y2), learned_at, forgotten_at, forgotten_by)


def store_scene_object(conn: psycopg.Connection, camera_id: str, label: str,
                       box: tuple[float, float, float, float], learned_at: datetime) -> int:
    """Keep an object a camera learned as scene; return its id."""
    row = conn.execute("INSERT INTO vision_scene_objects (camera_id, label, box, learned_at) VALUES (%s, %s, %s, %s)"
                       " RETURNING id", (camera_id, label, list(box), learned_at)).fetchone()
    assert row is not None
    return int(row[0])


def live_scene(conn: psycopg.Connection, camera_ids: Iterable[str]) -> list[SceneRow]:
    """Return the scene objects the cameras mask now (not forgotten), oldest first."""
    return [_scene_row(row) for row in conn.execute(
        f"SELECT {_SCENE_COLUMNS} FROM vision_scene_objects WHERE camera_id = ANY(%s) AND forgotten_at IS NULL"
        " ORDER BY id", (list(camera_ids),)).fetchall()]


def camera_scene(conn: psycopg.Connection, camera_id: str, *, forgotten: bool = False) -> list[SceneRow]:
    """One camera's scene objects, the forgotten ones too when asked, oldest first."""
    return [_scene_row(row) for row in conn.execute(
        f"SELECT {_SCENE_COLUMNS} FROM vision_scene_objects WHERE camera_id = %s"
        " AND (%s OR forgotten_at IS NULL) ORDER BY id", (camera_id, forgotten)).fetchall()]


def camera_school(conn: psycopg.Connection, camera_id: str) -> str | None:
    """Return the school a camera belongs to (for scoping); None for an unknown camera or one of no school."""
    row = conn.execute("SELECT school_id FROM devices WHERE id = %s AND kind = 'camera'", (camera_id,)).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def forget_scene(conn: psycopg.Connection, camera_id: str, object_ids: Iterable[int] | None, by: str,
                 at: datetime) -> list[int]:
    """Un-learn a camera's scene objects (all of them when ``object_ids`` is None); return the ids forgotten."""
    ids = None if object_ids is None else list(object_ids)
    rows = conn.execute(
        "UPDATE vision_scene_objects SET forgotten_at = %s, forgotten_by = %s WHERE camera_id = %s"
        " AND forgotten_at IS NULL AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[])) RETURNING id",
        (at, by, camera_id, ids, ids)).fetchall()
    return sorted(int(row[0]) for row in rows)
