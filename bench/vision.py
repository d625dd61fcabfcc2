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
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from bench.report import Figure
from campusguard.simulate.clips import SCENES, Actor, Keyframe, Scene, actor_box, render
from domain.site import Camera, School
from vision.detectors import build_detector
from vision.messages import Box, Frame, Image
from vision.pipeline import CameraPipeline, PipelineParams
from vision.pose import PoseEstimator
from vision.zones import compile_camera

FPS = 5
START = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Chicago: school hours, no intrusions


def _clip() -> Scene:
    walk = [Keyframe(8, -0.15, 0.85), Keyframe(16, 1.15, 0.8)]
    back = [Keyframe(34, 1.15, 0.9), Keyframe(42, -0.15, 0.88)]
    stand = [Keyframe(22, 0.3, 0.8), Keyframe(25, 0.35, 0.8), Keyframe(31, 0.35, 0.8), Keyframe(33, -0.15, 0.8)]
    return Scene("bench_corridor", 60.0, (Actor("astronaut", 220, tuple(walk)), Actor("cameraman", 200, tuple(back)),
                                          Actor("astronaut", 200, tuple(stand))),
                 fps=FPS, background=SCENES["corridor_person_down"].background, seed=3)


def _site() -> tuple[Camera, School]:
    school = School.model_validate({
        "id": "bench", "name": "Bench School", "timezone": "America/Chicago",
        "campus": {"type": "Polygon", "coordinates": [[[-96.7, 40.8], [-96.69, 40.8], [-96.69, 40.81], [-96.7, 40.8]]]},
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:30", "end": "15:30"}]})
    camera = Camera.model_validate({"id": "bench-cam", "name": "Corridor", "rtsp_url": "rtsp://127.0.0.1/x",
                                    "location": [-96.695, 40.805], "place_kind": "corridor"})
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


def run() -> list[Figure]:
    """Measure and return the figures."""
    scene = _clip()
    jpegs = [bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()) for image in render(scene)]
    seconds = len(jpegs) / FPS
    every = _run(jpegs, scene, gated=False)
    gated = _run(jpegs, scene, gated=True)
    per_cam_gated = gated.cpu_s / seconds
    per_cam_every = every.cpu_s / seconds
    capacity = int(2 / per_cam_gated)
    kept = _sustain(jpegs, max(capacity, 1), seconds=30.0)
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
    for figure in run():
        print(figure.line())


if __name__ == "__main__":
    main()
