"""The vision worker: the I/O around the per-camera pipelines.

Each camera gets a :class:`~vision.source.CameraSource` (its decode thread) and a runner thread that takes
the newest frame, runs the :class:`~vision.pipeline.CameraPipeline`, judges the camera's health, and hands
what it found to one :class:`~vision.sink.EventSink`, which writes to the database. The model sessions are
shared by every camera of the worker (onnxruntime runs one session from several threads and releases the
GIL while it computes).

Workers scale out by taking disjoint camera sets: ``--shard I/N`` keeps the cameras whose id hashes to ``I``
modulo ``N`` (a stable hash, so every worker agrees without talking to the others).
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.site.devices import Camera
from domain.site.models import School, Site
from vision.config import VisionProcess
from vision.detectors import Detector, build_detector
from vision.faces import FaceDetector
from vision.messages import VisionEvent
from vision.motion import GateParams
from vision.pipeline import CameraPipeline, FrameResult, PipelineParams
from vision.pose import PoseEstimator
from vision.sink import EventSink, SceneReader
from vision.source import CameraSource, Health, SourceParams, judge_health
from vision.zones import CameraRules, compile_camera

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraAssignment:
    """A camera this worker runs, with the school whose hours and timezone its rules use."""

    camera: Camera
    school: School


def in_shard(camera_id: str, shard: int, shards: int) -> bool:
    """Tell whether a camera belongs to shard ``shard`` of ``shards`` (stable across processes and runs)."""
    return zlib.crc32(camera_id.encode()) % shards == shard


def assignments(site: Site, shard: int = 0, shards: int = 1) -> list[CameraAssignment]:
    """List the cameras of a site that fall in one shard, with their schools."""
    return [CameraAssignment(camera, entry.school) for entry in site.iter_schools()
            for camera in entry.school.cameras if in_shard(camera.id, shard, shards)]


class VisionWorker:
    """Runs a set of cameras until :meth:`stop`."""

    def __init__(self, settings: VisionProcess, cameras: Iterable[CameraAssignment]) -> None:
        vision = settings.vision
        self._settings = settings
        self._cameras = list(cameras)
        self._detector: Detector = build_detector(vision.detector)
        self._pose = PoseEstimator(intra_op_threads=vision.threads) if vision.pose else None
        self._faces = FaceDetector(intra_op_threads=vision.threads) if vision.blur_faces else None
        self._params = PipelineParams(
            gate=GateParams(full_check_s=vision.full_check_s, track_refresh_s=vision.track_refresh_s,
                            moving_refresh_s=vision.moving_refresh_s),
            rules=vision.rules, confirm=vision.confirm, scene=vision.scene, gated=vision.gated)
        self._sink = EventSink(settings.database_url, self._faces, vision.sighting_every_s)
        self._scene = SceneReader(settings.database_url, tuple(a.camera.id for a in self._cameras),
                                  vision.scene.reload_s)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def sink(self) -> EventSink:
        """Where the worker's findings go (its counters are useful to tests and metrics)."""
        return self._sink

    def start(self) -> VisionWorker:
        """Start the sink, the scene reader and one thread per camera."""
        self._sink.start()
        self._scene.start()
        for assignment in self._cameras:
            thread = threading.Thread(target=self._run_camera, args=(assignment,), daemon=True,
                                      name=f"vision-{assignment.camera.id}")
            thread.start()
            self._threads.append(thread)
        log.info("vision: %d cameras", len(self._cameras))
        return self

    def stop(self) -> None:
        """Stop the cameras, then let the sink write what it still holds."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._scene.stop()
        self._sink.stop()

    def run(self) -> None:
        """Start and block until :meth:`stop` is called from another thread (or a signal handler)."""
        self.start()
        self._stop.wait()

    def _run_camera(self, assignment: CameraAssignment) -> None:
        camera, vision = assignment.camera, self._settings.vision
        rules = compile_camera(camera, assignment.school)
        pipeline = CameraPipeline(rules, self._detector, self._params, self._pose)
        scene_version = -1
        source = CameraSource(camera.id, camera.rtsp_url,
                              SourceParams(max_width=vision.max_width, read_timeout_s=vision.read_timeout_s)).start()
        started = datetime.now(UTC)
        health: Health = "unknown"
        try:
            while not self._stop.is_set():
                frame = source.next_frame(timeout_s=0.5)
                now = datetime.now(UTC)
                health, edge = judge_health(health, source.last_frame_at, started, now, vision.stall_s)
                if edge is not None:
                    log.warning("camera %s: %s", camera.id, edge)
                    self._sink.put_event(VisionEvent(camera.id, edge, now, detail={
                        "reason": f"no frame for {vision.stall_s:.0f} s" if edge == "camera_offline"
                        else "frames again"}), None)
                if self._scene.version != scene_version:  # learned scene read anew (an un-learn, a restart)
                    scene_version = self._scene.version
                    pipeline.scene.replace(self._scene.scene.get(camera.id, ()))
                if frame is None:
                    continue
                try:
                    result = pipeline.process(frame)
                except Exception:  # a bad frame or a model error must not end the camera's thread
                    log.exception("camera %s: frame %d failed", camera.id, frame.index)
                    continue
                self._hand_over(result, rules)
        finally:
            source.stop()

    def _hand_over(self, result: FrameResult, rules: CameraRules) -> None:
        for event in result.events:
            self._sink.put_event(event, result.frame.image)
        self._sink.put_learned(result.learned)
        if result.detected:
            self._sink.put_sightings(result, rules)
