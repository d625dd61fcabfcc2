"""Vision: detector calls and recall with and without the motion gate, and 5 fps cameras per two cores.

One generated 60 s clip at 5 fps stands for a typical campus camera: an empty corridor most of the time,
two people walking through, one standing for a while. The same frames (decoded from JPEG each time, as a
camera's would be) go through the whole per-camera pipeline twice: gated (the product's default) and
detecting every frame (the baseline). Recall is the share of ground-truth person-frames (each visible actor's
drawn box, at least half in the picture) that the pipeline's live tracks cover (IoU >= 0.3) in that frame;
the gated pipeline's tracks carry over the frames it skips, which is what its rules see.

Cameras per two cores: the pipeline's CPU seconds (all threads, ``time.process_time``) per camera-second of
video, with one inference thread per model, give the capacity ``2 / cost``; then that many cameras run
together for real, each fed at 5 fps on its own thread, and the share of frames they kept up with is reported.

Then a real scene none of us made (``FOOTAGE``: a courtyard filmed by a camera, people walking through past two
traffic cones, a sign post, an information board and a boulder), twice: as filmed (79.5 s at 10 fps, school hours,
a crowd zone over all of it allowing as many people as the reference ever shows at once, so any crowding is a
miscount) and empty (its per-pixel median background held still for 600 s at 5 fps, after hours, a general zone
over all of it, so any finding is false). Reported: false findings per camera-hour against the pipeline as it was
(``PREVIOUS``), recall of reference person-frames gated against every frame, and the empty scene's detector calls.
Run: ``.venv/bin/python -m bench.vision`` (``--short``: the reduced sizes ``make test`` runs: shorter clips, the
first seconds of the courtyard).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import report
from bench.report import Figure
from campusguard.simulate.clips import SCENES, Actor, Keyframe, Scene, actor_box, render
from domain.site import Camera, School
from vision.config import ConfirmParams, SceneParams
from vision.detectors import Detector, build_detector
from vision.messages import Box, Frame, Image, VisionEvent
from vision.motion import GateParams
from vision.pipeline import CameraPipeline, PipelineParams
from vision.pose import PoseEstimator
from vision.scene import SceneObject
from vision.zones import compile_camera

FPS = 5
START = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Chicago: school hours, no intrusions


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much video each measurement takes, in seconds (``courtyard_frames``: None for the whole footage)."""

    clip_s: float
    sustain_s: float
    courtyard_frames: int | None
    empty_s: float


# The short clip keeps the first walker (8 to 16 s); the short courtyard, its first 8 s (people already in it).
FULL = Sizes(clip_s=60.0, sustain_s=30.0, courtyard_frames=None, empty_s=600.0)
SHORT = Sizes(clip_s=18.0, sustain_s=4.0, courtyard_frames=80, empty_s=20.0)


def _clip(seconds: float = FULL.clip_s) -> Scene:
    walk = [Keyframe(8, -0.15, 0.85), Keyframe(16, 1.15, 0.8)]
    back = [Keyframe(34, 1.15, 0.9), Keyframe(42, -0.15, 0.88)]
    stand = [Keyframe(22, 0.3, 0.8), Keyframe(25, 0.35, 0.8), Keyframe(31, 0.35, 0.8), Keyframe(33, -0.15, 0.8)]
    return Scene("bench_corridor", seconds, (Actor("astronaut", 220, tuple(walk)), Actor("cameraman", 200, tuple(back)),
                                          Actor("astronaut", 200, tuple(stand))),
                 fps=FPS, background=SCENES["corridor_person_down"].background, seed=3)


def _site(zones: list[dict[str, Any]] | None = None) -> tuple[Camera, School]:
    school = School.model_validate({
        "id": "bench", "name": "Bench School", "timezone": "America/Chicago",
        "campus": {"type": "Polygon", "coordinates": [[[-96.7, 40.8], [-96.69, 40.8], [-96.69, 40.81], [-96.7, 40.8]]]},
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:30", "end": "15:30"}]})
    camera = Camera.model_validate({"id": "bench-cam", "name": "Corridor", "rtsp_url": "rtsp://127.0.0.1/x",
                                    "location": [-96.695, 40.805], "place_kind": "corridor",
                                    "zones": zones or []})
    return camera, school


def _truth(scene: Scene, index: int) -> list[Box]:
    boxes = []
    for actor in scene.actors:
        box = actor_box(scene, actor, scene.frame_time(index))
        if box is None:
            continue
        visible = max(0.0, min(box.x2, scene.width) - max(box.x1, 0.0)) * max(
            0.0, min(box.y2, scene.height) - max(box.y1, 0.0))
        if visible >= 0.5 * box.width * box.height:
            boxes.append(box)
    return boxes


def _decode(jpeg: bytes) -> Image:
    """Decode a JPEG as a camera source would."""
    image: Image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)  # type: ignore[assignment]
    return image


@dataclass(frozen=True, slots=True)
class _Run:
    detections: int
    recall: float
    cpu_s: float
    events: int


def _pipeline(gated: bool, threads: int) -> CameraPipeline:
    camera, school = _site()
    detector = build_detector({"type": "nanodet", "intra_op_threads": threads, "inter_op_threads": 1})
    return CameraPipeline(compile_camera(camera, school), detector, PipelineParams(gated=gated),
                          PoseEstimator(intra_op_threads=threads))


def _run(jpegs: list[bytes], scene: Scene, gated: bool) -> _Run:
    pipeline = _pipeline(gated, threads=1)
    hits = total = events = 0
    started = time.process_time()
    for index, jpeg in enumerate(jpegs):
        image = _decode(jpeg)
        result = pipeline.process(Frame("bench-cam", index, START + timedelta(seconds=index / FPS), image))
        events += len(result.events)
        people = [o.box for o in result.objects if o.label == "person"]
        for truth in _truth(scene, index):
            total += 1
            hits += any(truth.iou(box) >= 0.3 for box in people)
    return _Run(pipeline.detections, hits / max(total, 1), time.process_time() - started, events)


def _sustain(jpegs: list[bytes], cameras: int, seconds: float) -> float:
    """Run ``cameras`` gated pipelines at 5 fps each for ``seconds``; return the share of frames processed."""
    shared = _pipeline(True, threads=1)
    processed = [0] * cameras
    offered = [0] * cameras
    stop = threading.Event()

    def camera(k: int) -> None:
        pipeline = CameraPipeline(shared.rules, shared.detector, shared.params, shared.pose)
        begin = time.monotonic()
        index = 0
        while not stop.is_set():
            # The newest frame due now, as a live camera's slot would hold; frames missed while busy are dropped.
            due = int((time.monotonic() - begin) * FPS)
            if due <= index - 1:
                time.sleep(0.005)
                continue
            offered[k] = due + 1
            image = _decode(jpegs[due % len(jpegs)])
            pipeline.process(Frame("bench-cam", due, START + timedelta(seconds=due / FPS), image))
            processed[k] += 1
            index = due + 1

    threads = [threading.Thread(target=camera, args=(k,), daemon=True) for k in range(cameras)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(processed) / max(sum(offered), 1)

# ---- Real footage: a courtyard none of us made ---------------------------------------------------------------

FOOTAGE = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
"""A real outdoor courtyard recorded by a camera: OpenCV's sample ``vtest.avi`` (768x576, 10 fps, 795 frames, from
the PETS 2009 data), shipped by Debian's ``opencv-doc`` under OpenCV's licence (Apache-2.0 AND BSD-3-Clause).
People walk through; two traffic cones, a sign post, an information board, a boulder and a tripod stand still."""
FOOTAGE_FPS = 10
EMPTY_FPS = 5
EMPTY_S = 600
NIGHT = datetime(2026, 3, 12, 4, 0, tzinfo=UTC)
"""23:00 on a Wednesday in Chicago (CDT: summer time began on 8 March): after hours, so any person in a zone is an
intrusion. Fixed dates, not today's, so the scene is judged the same on any day (a weekend has no school hours)."""
WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
TRUTH_SCORE = 0.35
"""A reference person is an every-frame detection scoring at least this ..."""
TRUTH_FOREGROUND = 0.2
"""... whose box differs from the empty courtyard in at least this share of its pixels (a cone never does) ..."""
TRUTH_CHANGE = 20
"""... by more than this many grey levels."""
PREVIOUS = PipelineParams(gate=GateParams(moving_refresh_s=0.6),
                          confirm=ConfirmParams(confirm_score=0.0, min_hits=1, fresh_s=1e9),
                          scene=SceneParams(learn=False))
"""The pipeline as it was before issue 15: every reported track counted, nothing learned, a detector call every
0.6 s while tracked people move."""


def _jpeg(image: Image) -> bytes:
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())


@cache
def footage() -> tuple[bytes, ...]:
    """Return the courtyard's frames as JPEG (as a camera would send them; raw, they would take a gigabyte)."""
    if not FOOTAGE.is_file():
        raise FileNotFoundError(f"{FOOTAGE} is missing: it comes with Debian's opencv-doc package")
    capture = cv2.VideoCapture(str(FOOTAGE))
    frames = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(_jpeg(np.asarray(image, np.uint8)))
    finally:
        capture.release()
    return tuple(frames)


@cache
def background() -> Image:
    """Return the courtyard empty: each pixel's median over the footage, in which every passer-by vanishes."""
    stack = np.stack([_decode(jpeg) for jpeg in footage()[::8]])
    still: Image = np.median(stack, axis=0).astype(np.uint8)
    return still


@dataclass(frozen=True, slots=True)
class RealScene:
    """Frames of real footage with the zones and the time the camera is judged at."""

    name: str
    jpegs: Sequence[bytes]
    fps: float
    start: datetime
    zones: list[dict[str, Any]]

    @property
    def hours(self) -> float:
        """Camera-hours of video."""
        return len(self.jpegs) / self.fps / 3600


@dataclass(frozen=True, slots=True)
class RealRun:
    """What one pipeline did on a real scene: detector calls, findings, the people it counted per frame."""

    detections: int
    findings: tuple[VisionEvent, ...]
    counted: tuple[tuple[Box, ...], ...]
    learned: int
    scene: tuple[SceneObject, ...] = field(default=())
    """What it masked as scene at the end."""


def person_truth(detector: Detector, frames: int | None = None) -> tuple[tuple[Box, ...], ...]:
    """Return the reference people of each footage frame, or of the first ``frames`` (see ``TRUTH_SCORE``).

    There is no hand annotation offline; this reference is the detector's own confident boxes, kept only where
    the picture differs from the empty courtyard, so a fixed thing is never in it and both pipelines are scored
    against the same people.
    """
    empty = cv2.cvtColor(background(), cv2.COLOR_BGR2GRAY)
    truth = []
    for jpeg in footage()[:frames]:
        image = _decode(jpeg)
        changed = cv2.absdiff(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), empty) > TRUTH_CHANGE
        boxes = []
        for found in detector.detect(image):
            b = found.box
            x1, y1, x2, y2 = max(int(b.x1), 0), max(int(b.y1), 0), int(b.x2), int(b.y2)
            if found.label == "person" and found.score >= TRUTH_SCORE and x2 > x1 and y2 > y1 \
                    and float(changed[y1:y2, x1:x2].mean()) >= TRUTH_FOREGROUND:
                boxes.append(b)
        truth.append(tuple(boxes))
    return tuple(truth)


def courtyard(crowd_max: int, frames: int | None = None) -> RealScene:
    """Return the populated courtyard (its first ``frames``, or all) in school hours, a crowd zone over all of it.

    The zone allows ``crowd_max`` people.
    """
    return RealScene("courtyard", footage()[:frames], FOOTAGE_FPS, START, [
        {"name": "Courtyard", "kind": "crowd", "polygon": WHOLE, "max_people": crowd_max}])


def courtyard_empty(seconds: float = EMPTY_S) -> RealScene:
    """Return the empty courtyard (its still background) after hours, with a general zone over all of it."""
    return RealScene("courtyard_empty", (_jpeg(background()),) * int(seconds * EMPTY_FPS), EMPTY_FPS, NIGHT,
                     [{"name": "Courtyard", "kind": "general", "polygon": WHOLE}])


def run_real(scene: RealScene, params: PipelineParams, detector: Detector) -> RealRun:
    """Run one camera's pipeline over a real scene, frame by frame at the scene's own times."""
    camera, school = _site(scene.zones)
    pipeline = CameraPipeline(compile_camera(camera, school), detector, params)
    findings: list[VisionEvent] = []
    counted = []
    learned = 0
    for index, jpeg in enumerate(scene.jpegs):
        at = scene.start + timedelta(seconds=index / scene.fps)
        result = pipeline.process(Frame(camera.id, index, at, _decode(jpeg)))
        findings.extend(result.events)
        learned += len(result.learned)
        counted.append(tuple(o.box for o in result.counted if o.label == "person"))
    return RealRun(pipeline.detections, tuple(findings), tuple(counted), learned, pipeline.scene.objects)


def recall(run: RealRun, truth: Sequence[tuple[Box, ...]]) -> float:
    """Return the share of reference person-frames a counted person covers (IoU at least 0.3) in that frame."""
    hits = total = 0
    for people, boxes in zip(truth, run.counted, strict=True):
        total += len(people)
        hits += sum(any(person.iou(box) >= 0.3 for box in boxes) for person in people)
    return hits / max(total, 1)


def _size(scene: RealScene) -> tuple[int, int]:
    height, width = _decode(scene.jpegs[0]).shape[:2]
    return width, height


def _pixels(box: Box) -> tuple[int, ...]:
    return tuple(round(v) for v in (box.x1, box.y1, box.x2, box.y2))


def run_real_scenes(sizes: Sizes = FULL) -> list[Figure]:
    """Measure the courtyard: false findings per camera-hour and recall, against the previous pipeline."""
    detector = build_detector({"type": "nanodet", "intra_op_threads": 2, "inter_op_threads": 1})
    truth = person_truth(detector, sizes.courtyard_frames)
    most = max(len(people) for people in truth)
    busy, empty = courtyard(most, sizes.courtyard_frames), courtyard_empty(sizes.empty_s)
    every = run_real(busy, PipelineParams(gated=False), detector)
    gated = run_real(busy, PipelineParams(), detector)
    before = run_real(busy, PREVIOUS, detector)
    quiet = run_real(empty, PipelineParams(), detector)
    quiet_before = run_real(empty, PREVIOUS, detector)
    hours = busy.hours + empty.hours
    false_now = (len(gated.findings) + len(quiet.findings)) / hours
    false_before = (len(before.findings) + len(quiet_before.findings)) / hours
    print(f"courtyard: {len(busy.jpegs)} frames at {FOOTAGE_FPS} fps, at most {most} reference people in a frame; "
          f"findings now {[e.kind for e in gated.findings]}, before {[e.kind for e in before.findings]}")
    print(f"empty courtyard: {sizes.empty_s:g} s at {EMPTY_FPS} fps after hours; findings now "
          f"{[e.kind for e in quiet.findings]}, before {[e.kind for e in quiet_before.findings]}; "
          f"learned as scene: {quiet.learned} objects {[_pixels(o.pixels(*_size(empty))) for o in quiet.scene]}")
    print(f"courtyard recall: gated {recall(gated, truth):.3f}, every frame {recall(every, truth):.3f}, before "
          f"{recall(before, truth):.3f}; detector calls gated {gated.detections}, every frame {every.detections}; "
          f"empty courtyard calls {quiet.detections} of {len(empty.jpegs)} frames")
    return [
        Figure("false findings per camera-hour, real courtyard (lower is better)", false_now, "/camera-h",
               "before", false_before),
        Figure("recall of person-frames, real courtyard, gated", 100 * recall(gated, truth), "%", "every frame",
               100 * recall(every, truth)),
        Figure("detector calls per camera-second, empty courtyard", quiet.detections / (empty.hours * 3600),
               "calls/s", "every frame", float(EMPTY_FPS)),
    ]


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures: the generated corridor, then the real courtyard (``short``: make test's)."""
    sizes = SHORT if short else FULL
    return run_clip(sizes) + run_real_scenes(sizes)


def run_clip(sizes: Sizes = FULL) -> list[Figure]:
    """Measure the generated corridor clip: detector calls, recall, cameras per two cores."""
    scene = _clip(sizes.clip_s)
    jpegs = [bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()) for image in render(scene)]
    seconds = len(jpegs) / FPS
    every = _run(jpegs, scene, gated=False)
    gated = _run(jpegs, scene, gated=True)
    per_cam_gated = gated.cpu_s / seconds
    per_cam_every = every.cpu_s / seconds
    capacity = int(2 / per_cam_gated)
    kept = _sustain(jpegs, max(capacity, 1), seconds=sizes.sustain_s)
    print(f"clip: {len(jpegs)} frames, {seconds:.0f} s; recall gated {gated.recall:.3f} vs every frame "
          f"{every.recall:.3f}; events gated {gated.events}, every frame {every.events}")
    print(f"detector calls: gated {gated.detections} ({gated.detections / seconds:.2f}/camera-s), every frame "
          f"{every.detections} ({every.detections / seconds:.2f}/camera-s)")
    print(f"CPU per camera-second: gated {per_cam_gated:.3f} s, every frame {per_cam_every:.3f} s; "
          f"{max(capacity, 1)} gated cameras at {FPS} fps together kept {kept:.1%} of their frames")
    return [
        Figure("detector calls per camera-second, every frame (lower is better)", every.detections / seconds,
               "calls/s", "gated", gated.detections / seconds),
        Figure("recall of person-frames, gated", 100 * gated.recall, "%", "every frame", 100 * every.recall),
        Figure("5 fps cameras per two cores, gated", 2 / per_cam_gated, "cameras", "every frame", 2 / per_cam_every),
        Figure("frames kept with that many cameras live", 100 * kept, "%", "offered", 100.0),
    ]


def main() -> None:
    """Print the figures."""
    report.main(run, __doc__)


if __name__ == "__main__":
    main()
