"""The vision worker's database edge: events with their snapshots, and sampled sightings.

Camera threads only enqueue; one sink thread encodes snapshots (face detection included, which costs tens of
milliseconds and must not hold up a camera) and writes. While the database is down the sink keeps retrying
with backoff and the queue holds what comes meanwhile, so an event found during a database restart is stored
when the database is back, not lost. Pictures are the heavy part: past ``max_queued_pictures`` waiting
events, new events are queued without their picture (the event itself, what an alert needs, is kept).

Camera health edges are stored with the ingest stage's kinds (``offline``/``online``), so the shipped alert
rules for device health treat a dead camera like any other dead device. Objects a camera learned as part of its
scene (``vision/scene.py``) are stored here too; :class:`SceneReader` reads the cameras' live scene back every
``reload_s`` on its own thread and connection, which is how an un-learn on the operations page reaches the worker.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from store.db import connect, retrying
from store.vision_repo import Sighting, live_scene, store_event, store_scene_object, store_sightings
from vision.faces import FaceDetector
from vision.messages import Image, Observation, VisionEvent
from vision.pipeline import FrameResult
from vision.scene import SceneObject
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


@dataclass(frozen=True, slots=True)
class _Learned:
    objects: tuple[SceneObject, ...]


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
        self.scene_written = 0

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
        """Queue a sample of a detected frame's counted tracks: each at most once per ``sighting_every_s``.

        Only what the rules count (``FrameResult.counted``): a cone taken for a person must not answer "when was
        a person last seen here".
        """
        frame, rows = result.frame, []
        width, height = frame.size
        seen = Observation(frame.camera_id, frame.time, width, height, result.counted)
        # Every camera thread samples through this one map: hold the lock, or one thread's pruning would meet
        # another's insert ("dictionary changed size during iteration") and end that camera's thread.
        with self._lock:
            due = []
            for obj in result.counted:
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

    def put_learned(self, objects: tuple[SceneObject, ...]) -> None:
        """Queue objects a camera learned as scene, to be stored."""
        if objects:
            self._queue.put(_Learned(objects))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url, autocommit=True, max_wait_s=None)
        return self._conn

    def _write(self, item: _Event | _Sightings | _Learned) -> None:
        for attempt in retrying(None):
            with attempt:
                try:
                    conn = self._connection()
                    if isinstance(item, _Sightings):
                        self.sightings_written += store_sightings(conn, item.rows)
                    elif isinstance(item, _Learned):
                        with conn.transaction():
                            for obj in item.objects:
                                store_scene_object(conn, obj.camera_id, obj.label, obj.box, obj.learned_at)
                        self.scene_written += len(item.objects)
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
            assert isinstance(item, _Event | _Sightings | _Learned)
            try:
                self._write(item)
            except Exception:  # not transient (a bug, bad data): log it and keep the sink alive for the rest
                log.exception("vision sink: could not store %r", item)
            finally:
                if isinstance(item, _Event) and item.image is not None:
                    with self._lock:
                        self._pictures -= 1



class SceneReader:
    """Reads the live scene of a set of cameras every ``reload_s`` into :attr:`scene`, on its own thread.

    Camera threads compare :attr:`version` with the one they last took and, when it moved, hand the camera's
    objects to their pipeline. While the database is down the last set read stays in force.
    """

    def __init__(self, database_url: str, camera_ids: tuple[str, ...], reload_s: float) -> None:
        self._url = database_url
        self._cameras = camera_ids
        self._every = reload_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vision-scene", daemon=True)
        self.scene: dict[str, tuple[SceneObject, ...]] = {}
        self.version = 0

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading."""
        self._stop.set()
        self._thread.join(timeout=30)

    def read(self, conn: psycopg.Connection) -> None:
        """Read once; the new mapping replaces the old in one assignment, so readers see one or the other."""
        scene: dict[str, list[SceneObject]] = {camera: [] for camera in self._cameras}
        for row in live_scene(conn, self._cameras):
            scene[row.camera_id].append(SceneObject(row.camera_id, row.label, row.box, row.learned_at, row.id))
        fresh = {camera: tuple(objects) for camera, objects in scene.items()}
        if fresh != self.scene:
            self.scene = fresh
            self.version += 1

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = connect(self._url, autocommit=True, max_wait_s=self._every)
                self.read(conn)
            except psycopg.Error:
                log.warning("vision scene: could not read the cameras' scene; keeping the last one", exc_info=True)
                if conn is not None:
                    conn.close()
                conn = None
            self._stop.wait(self._every)
        if conn is not None:
            conn.close()
