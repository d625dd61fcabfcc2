"""The vision worker's database edge: events with their snapshots, and sampled sightings.

Camera threads only enqueue; one sink thread encodes snapshots (face detection included, which costs tens of
milliseconds and must not hold up a camera) and writes. While the database is down the sink keeps retrying
with backoff and the queue holds what comes meanwhile, so an event found during a database restart is stored
when the database is back, not lost. Pictures are the heavy part: past ``max_queued_pictures`` waiting
events, new events are queued without their picture (the event itself, what an alert needs, is kept).

Camera health edges are stored with the ingest stage's kinds (``offline``/``online``), so the shipped alert
rules for device health treat a dead camera like any other dead device.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from store.db import connect, retrying
from store.vision_repo import Sighting, store_event, store_sightings
from vision.faces import FaceDetector
from vision.messages import Image, Observation, VisionEvent
from vision.pipeline import FrameResult
from vision.snapshots import make_snapshot
from vision.zones import CameraRules, object_point, zones_at

log = logging.getLogger(__name__)

_STORED_KIND = {"camera_offline": "offline", "camera_online": "online"}


@dataclass(frozen=True, slots=True)
class _Event:
    event: VisionEvent
    image: Image | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Sightings:
    rows: tuple[Sighting, ...]


_STOP = object()


class EventSink:
    """Queue plus writer thread; ``put_*`` never block a camera."""

    def __init__(self, database_url: str, faces: FaceDetector | None, sighting_every_s: float = 5.0,
                 max_queued_pictures: int = 500) -> None:
        self._url = database_url
        self._faces = faces
        self._every = timedelta(seconds=sighting_every_s)
        self._max_pictures = max_queued_pictures
        self._queue: queue.Queue[object] = queue.Queue()
        self._pictures = 0
        self._last_sighting: dict[tuple[str, int], datetime] = {}
        self._conn: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="vision-sink", daemon=True)
        self._lock = threading.Lock()
        self.events_written = 0
        self.sightings_written = 0

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Write what is queued (waiting up to ``timeout_s`` for the database), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout=timeout_s)
        if self._conn is not None:
            self._conn.close()

    def put_event(self, event: VisionEvent, image: Image | None) -> None:
        """Queue an event and the frame it was found on (None for camera health)."""
        with self._lock:
            keep_picture = image is not None and self._pictures < self._max_pictures
            if keep_picture:
                self._pictures += 1
            elif image is not None:
                log.warning("vision sink: %d pictures waiting; storing %s without one", self._pictures, event.kind)
        self._queue.put(_Event(event, image if keep_picture else None, datetime.now(UTC)))

    def put_sightings(self, result: FrameResult, rules: CameraRules) -> None:
        """Queue a sample of a detected frame's tracks: each track at most once per ``sighting_every_s``."""
        frame, rows = result.frame, []
        width, height = frame.size
        seen = Observation(frame.camera_id, frame.time, width, height, result.objects)
        # Every camera thread samples through this one map: hold the lock, or one thread's pruning would meet
        # another's insert ("dictionary changed size during iteration") and end that camera's thread.
        with self._lock:
            due = []
            for obj in result.objects:
                key = (frame.camera_id, obj.track_id)
                last = self._last_sighting.get(key)
                if last is None or frame.time - last >= self._every:
                    self._last_sighting[key] = frame.time
                    due.append(obj)
            # The sample map only needs live tracks; ids of tracks gone for a while can go.
            horizon = frame.time - 10 * self._every
            self._last_sighting = {k: v for k, v in self._last_sighting.items() if v >= horizon}
        for obj in due:
            point = object_point(obj, seen)
            zone = next(iter(zones_at(rules, point)), None)
            box = obj.box
            rows.append(Sighting(frame.camera_id, frame.time, obj.label, obj.track_id, min(max(obj.score, 0.0), 1.0),
                                 zone.name if zone else None,
                                 (box.x1 / width, box.y1 / height, box.width / width, box.height / height)))
        if rows:
            self._queue.put(_Sightings(tuple(rows)))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url, autocommit=True, max_wait_s=None)
        return self._conn

    def _write(self, item: _Event | _Sightings) -> None:
        for attempt in retrying(None):
            with attempt:
                try:
                    conn = self._connection()
                    if isinstance(item, _Sightings):
                        self.sightings_written += store_sightings(conn, item.rows)
                    else:
                        self._store(conn, item)
                except psycopg.OperationalError:
                    if self._conn is not None:
                        self._conn.close()
                    raise

    def _store(self, conn: psycopg.Connection, item: _Event) -> None:
        event = item.event
        snapshot = make_snapshot(item.image, event.boxes, self._faces) if item.image is not None else None
        detail = dict(event.detail) | {"zone": event.zone, "source": "vision",
                                       "boxes": [[round(b.x1), round(b.y1), round(b.x2), round(b.y2)]
                                                 for b in event.boxes]}
        store_event(conn, event.camera_id, _STORED_KIND.get(event.kind, event.kind), event.time,
                    item.received_at, detail, snapshot.as_row() if snapshot else None)
        self.events_written += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, _Event | _Sightings)
            try:
                self._write(item)
            except Exception:  # not transient (a bug, bad data): log it and keep the sink alive for the rest
                log.exception("vision sink: could not store %r", item)
            finally:
                if isinstance(item, _Event) and item.image is not None:
                    with self._lock:
                        self._pictures -= 1

