"""The video process: record every camera, index segments, sweep retention and the budget, cut incident clips.

I/O lives here and only here; the rules are :mod:`.segments`' pure functions. A failure of one step (a
database blip, a segment ffmpeg could not finish, a clip with no recording under it) is logged and counted and
the process goes on; the next sweep tries again.

When the disk cannot hold every camera's retention, each camera concerned gets a ``video_storage_short`` device
event (and ``video_storage_ok`` once it can again): the alert stage turns it into an incident as it does an
offline camera. Events are edge-triggered: one on the change, not one per sweep.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from domain.audit import AuditRecord
from store import audit_repo, video_repo, vision_repo
from store.db import connect
from vision.config import VideoSettings
from vision.video.clips import ClipError, Recorded, cut
from vision.video.ffmpeg import first_picture
from vision.video.playback import playback_bytes, trim
from vision.video.recorder import Recorder, SegmentFile, recover
from vision.video.segments import Stored, Sweep, clip_window, disk_budget, sweep
from vision.video.tamper import TamperState, judge, look

log = logging.getLogger(__name__)

SHORT, OK = "video_storage_short", "video_storage_ok"
"""Device event kinds of the storage alarm."""
TAMPER, TAMPER_CLEARED = "camera_tamper", "camera_tamper_cleared"
"""Device event kinds of the tamper alarm."""
ACTOR = "vision:video"
"""Who the audit trail names for what this process does."""
GIVE_UP = timedelta(minutes=5)
"""A clip whose window is not fully recorded this long after its end is cut from what there is."""


@dataclass(frozen=True, slots=True)
class CameraFeed:
    """A camera to record: its id and stream URL."""

    camera_id: str
    url: str


class VideoService:
    """Records cameras and keeps the index, retention and clips; a thread for the sweep, one per recorder."""

    def __init__(self, database_url: str, settings: VideoSettings, cameras: Sequence[CameraFeed]) -> None:
        """Describe the service; nothing runs until :meth:`start`."""
        self.settings = settings
        self.root = settings.root.resolve()
        self.cameras = tuple(cameras)
        self.failures = 0
        self._database_url = database_url
        self._conn_ = connect(database_url, autocommit=True)
        self._lock = threading.Lock()  # one connection, shared by the recorder threads and the sweep
        self._short: frozenset[str] = frozenset()
        self._no_clip: set[int] = set()  # incidents whose clip could not be cut past GIVE_UP: not tried again
        self.tamper: dict[str, TamperState] = {}
        """Each camera's tamper baseline; only its own recorder thread touches a camera's entry."""
        self._stop = threading.Event()
        self.recorders: dict[str, Recorder] = {}
        self._thread = threading.Thread(target=self._run, name="video-sweep", daemon=True)

    @property
    def _conn(self) -> psycopg.Connection:
        """The service's connection (callers hold the lock), made again when a database restart broke it."""
        if self._conn_.broken or self._conn_.closed:
            self._conn_ = connect(self._database_url, autocommit=True, max_wait_s=5)
        return self._conn_

    def folder(self, camera_id: str) -> Path:
        """Where a camera's segments are written."""
        return self.root / "segments" / camera_id

    def start(self, *, sweeping: bool = True) -> VideoService:
        """Index what a killed recorder left, then start recording every camera (and the sweep)."""
        for camera in self.cameras:
            self.start_camera(camera)
        if sweeping:
            self._thread.start()
        return self

    def start_camera(self, camera: CameraFeed) -> Recorder:
        """Recover the camera's unindexed segments, then start (or restart) its recorder."""
        folder = self.folder(camera.camera_id)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            indexed = video_repo.indexed_paths(self._conn, camera.camera_id)
        names = {Path(p).name for p in indexed}
        for segment in recover(camera.camera_id, folder, names, self.settings.ffmpeg):
            self.index(segment)
        recorder = Recorder(camera.camera_id, camera.url, folder, self.index, segment_s=self.settings.segment_s,
                            ffmpeg=self.settings.ffmpeg)
        self.recorders[camera.camera_id] = recorder.start()
        return recorder

    def stop(self) -> None:
        """Stop recording and sweeping; close the database connection."""
        self._stop.set()
        for recorder in self.recorders.values():
            recorder.stop()
        if self._thread.is_alive():
            self._thread.join(30)
        self._conn_.close()

    def index(self, segment: SegmentFile) -> None:
        """Index one closed segment (path relative to the root)."""
        relative = str(segment.path.relative_to(self.root))
        try:
            with self._lock:
                video_repo.add_segment(self._conn, segment.camera_id, relative, segment.start_at, segment.end_at,
                                       segment.bytes)
        except psycopg.Error as exc:
            self.failures += 1
            log.warning("segment %s not indexed: %s", relative, exc)
        if self.settings.tamper:
            self.check_tamper(segment)

    def check_tamper(self, segment: SegmentFile) -> None:
        """Judge the segment's first picture against the camera's baseline; store an event on a change."""
        picture = first_picture(self.settings.ffmpeg, segment.path)
        if picture is None:
            return
        before = self.tamper.get(segment.camera_id, TamperState())
        state, edge = judge(before, look(picture))
        self.tamper[segment.camera_id] = state
        if edge is None:
            return
        kind, reason = (TAMPER, state.tampered) if edge == "tamper" else (TAMPER_CLEARED, before.tampered)
        try:
            with self._lock:
                vision_repo.store_event(self._conn, segment.camera_id, kind, segment.start_at, datetime.now(UTC),
                                        {"reason": reason, "segment": str(segment.path.relative_to(self.root))},
                                        None)
        except psycopg.Error as exc:
            self.failures += 1
            log.warning("camera %s: tamper event not stored: %s", segment.camera_id, exc)

    def retention(self, camera_id: str) -> timedelta:
        """How long a camera's recording is kept."""
        days = self.settings.camera_retention_days.get(camera_id, self.settings.retention_days)
        return timedelta(days=days)

    def budget_bytes(self, used: int) -> int:
        """Return the bytes segments may take: the budget set, or what the disk could give them less a reserve.

        Playback cuts count as free space (:func:`.segments.disk_budget`); a budget set counts indexed segments
        only, never the cuts.
        """
        if self.settings.disk_budget_gb is not None:
            return int(self.settings.disk_budget_gb * 1e9)
        self.root.mkdir(parents=True, exist_ok=True)
        return disk_budget(shutil.disk_usage(self.root).free, used, playback_bytes(self.root / "playback"),
                           int(self.settings.reserve_gb * 1e9))

    def sweep_once(self, now: datetime) -> Sweep:
        """Delete expired and over-budget segments (rows, then files) and raise or clear the storage alarm."""
        trim(self.root / "playback", now.timestamp())  # the web process trims only when it cuts
        with self._lock:
            rows = video_repo.segments(self._conn)
        stored = [Stored(r.id, r.camera_id, r.start_at, r.end_at, r.bytes) for r in rows]
        budget = self.budget_bytes(sum(s.bytes for s in stored))
        plan = sweep(stored, now, self.retention, budget)
        paths = {r.id: r.path for r in rows}
        with self._lock:
            video_repo.delete_segments(self._conn, plan.evict)
            for segment_id in plan.evict:
                (self.root / paths[segment_id]).unlink(missing_ok=True)
            for camera_id in sorted(plan.short - self._short):
                self._event(camera_id, SHORT, now, plan, budget)
            for camera_id in sorted(self._short - plan.short):
                self._event(camera_id, OK, now, plan, budget)
        self._short = plan.short
        return plan

    def _event(self, camera_id: str, kind: str, now: datetime, plan: Sweep, budget: int) -> None:
        """Store one storage alarm event for a camera (the caller holds the lock)."""
        vision_repo.store_event(self._conn, camera_id, kind, now, now, {
            "needed_bytes": plan.needed_bytes, "budget_bytes": budget, "evicted_in_retention": len(plan.over_budget),
            "retention_days": self.retention(camera_id).total_seconds() / 86400}, None)

    def clips_once(self, now: datetime) -> list[int]:
        """Cut the clip of every camera incident whose window is recorded (or long past); return new clip ids."""
        made = []
        with self._lock:
            due = video_repo.clips_due(self._conn, now - timedelta(days=1), now)
        for item in due:
            if item.incident_id in self._no_clip:
                continue
            start, end = clip_window(item.finding_at, self.settings.clip_before_s, self.settings.clip_after_s)
            with self._lock:
                segments = video_repo.segments_between(
                    self._conn, item.camera_id, start - timedelta(seconds=self.settings.segment_s), end)
            covered = bool(segments) and segments[-1].end_at >= end
            if not covered and now < end + GIVE_UP:
                continue  # the rest of the window is still being recorded
            out = self.root / "clips" / f"{item.incident_id}-{item.camera_id}.mp4"
            try:
                clip = cut(self.settings.ffmpeg, [Recorded(self.root / s.path, s.start_at) for s in segments],
                           start, end, out)
            except (ClipError, ValueError, OSError) as exc:
                self.failures += 1
                log.warning("incident %s: no clip from camera %s: %s", item.incident_id, item.camera_id, exc)
                if now >= end + GIVE_UP:
                    self._no_clip.add(item.incident_id)  # nothing more will be recorded for its window
                continue
            with self._lock, self._conn.transaction():
                clip_id = video_repo.add_clip(self._conn, item, str(out.relative_to(self.root)), clip.start_at,
                                              clip.end_at, clip.bytes, clip.sha256, now)
                if clip_id is not None:
                    audit_repo.append(self._conn, AuditRecord(now, ACTOR, "video.clip.create", f"clip:{clip_id}", {
                        "incident_id": item.incident_id, "camera_id": item.camera_id, "sha256": clip.sha256,
                        "start_at": clip.start_at.isoformat(), "end_at": clip.end_at.isoformat()}))
                    made.append(clip_id)
        return made

    def _run(self) -> None:
        """Sweep and clip every few seconds until stopped; a failed round is logged and retried next time."""
        next_sweep = 0.0
        while not self._stop.wait(min(self.settings.sweep_s, 5.0)):
            now = datetime.now(UTC)
            try:
                if now.timestamp() >= next_sweep:
                    self.sweep_once(now)
                    next_sweep = now.timestamp() + self.settings.sweep_s
                self.clips_once(now)
            except (psycopg.Error, OSError) as exc:
                self.failures += 1
                log.warning("video sweep failed: %s", exc)
