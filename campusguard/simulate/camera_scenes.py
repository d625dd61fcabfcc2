"""Camera scenes with a known truth: which camera shows what, and when, for scoring the vision stage.

A :class:`CameraScene` points one camera of the site at a video file (the vision stage's own file source,
which replays a file at its frame rate like the camera it was recorded from) and redraws that camera's zones, so
the scene means the same thing at any hour: every zone but a restricted one is open all day (a zone's own
``hours``), since after hours any person in any zone is an intrusion and the bench runs whenever it is started.

:data:`SCENES` is the bench's set, one camera per school so that no two scenes fall into one incident by the
alert stage's merge groups (intrusion and loitering merge within 150 m):

- a person walks down a corridor and collapses (``person_down``), someone passes by behind;
- five people gather in a canteen queue whose zone allows three (``crowding``);
- a person walks across a kitchen into the restricted cold-room door and leaves (``intrusion``);
- one person stands at a gate whose zone allows 20 s (``loitering``), another walks through;
- real courtyard footage none of us made (Debian opencv-doc's ``vtest.avi``, PETS 2009): people walking through
  in school hours, which must raise nothing.

:func:`scene_truth` reads each generated scene's situations off its actors' paths in the vision rules' own terms
(the condition held for the rule's time, on people at least half in the picture), in seconds from the clip's
first frame; :func:`camera_truth` dates them once the bench knows when the vision worker opened the file.
Every clip lasts :data:`CLIP_S`, ends on what it shows and begins with seconds of nothing happening, so the
bench stops the worker once every clip has played once, before a looped start could show anything again.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import shapely
from shapely.geometry import Polygon

from campusguard.simulate.clips import SCENES as CLIPS
from campusguard.simulate.clips import Actor, Keyframe, Picture, Pose, Scene, actor_box, render
from campusguard.simulate.truth import Truth
from vision.config import RuleParams

FOOTAGE = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
"""Real courtyard footage (768x576, 10 fps, 79.5 s), shipped by Debian's ``opencv-doc``."""
CLIP_S = 80.0
"""Every generated clip's length: the courtyard footage's, so all cameras play their scene once together."""
WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
ALL_DAY = ({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
            "end": "23:59:59.999999"},)
"""Open every moment of every day (a window ends before its end; this one a microsecond before midnight)."""
VISIBLE = 0.5
"""A person counts once at least this share of their box is in the picture (as the vision bench's truth)."""


@dataclass(frozen=True, slots=True)
class SceneTruth:
    """A situation a scene shows: its incident type, from ``start_s`` to ``end_s`` seconds into the clip."""

    type: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class CameraScene:
    """One camera of the site showing a clip: a generated :class:`Scene`, or recorded ``footage``."""

    camera_id: str
    school_id: str
    zones: tuple[Mapping[str, Any], ...]
    """The camera's zones as the site file writes them (they replace the camera's own)."""
    scene: Scene | None = None
    footage: Path | None = None

    @property
    def name(self) -> str:
        """The clip's name: the scene's, or the footage file's stem."""
        if self.scene is not None:
            return self.scene.name
        return self.footage.stem if self.footage is not None else self.camera_id


def _walk(picture: Picture, height: int, *points: tuple[float, float, float], pose: Pose = "standing") -> Actor:
    return Actor(picture, height, tuple(Keyframe(t, x, y) for t, x, y in points), pose)


def _zone(name: str, kind: str, polygon: Sequence[tuple[float, float]] = WHOLE, **extra: Any) -> dict[str, Any]:
    zone: dict[str, Any] = {"name": name, "kind": kind, "polygon": [list(p) for p in polygon], **extra}
    if kind != "restricted":
        zone["hours"] = [dict(w) for w in ALL_DAY]
    return zone


_CORRIDOR = CLIPS["corridor_person_down"].background
_NIGHT_GATE = CLIPS["gate_crowd_after_hours"].background
_QUEUE = ((0.12, 0.82), (0.3, 0.92), (0.5, 0.8), (0.7, 0.9), (0.88, 0.84))
COLD_ROOM = ((0.62, 0.2), (1.0, 0.2), (1.0, 1.0), (0.62, 1.0))

SCENES: tuple[CameraScene, ...] = (
    # Walks in at 5 s, collapses at 15 s and lies there; someone crosses behind at 25-35 s.
    CameraScene("salt-creek-cam-corridor", "salt-creek-ms", (_zone("Corridor", "general"),), Scene(
        "bench_corridor_fall", CLIP_S, (
            _walk("astronaut", 200, (5, -0.15, 0.85), (14.8, 0.45, 0.85)),
            _walk("astronaut", 200, (15, 0.45, 0.9), (CLIP_S, 0.45, 0.9), pose="lying"),
            _walk("cameraman", 150, (25, 1.15, 0.6), (35, -0.15, 0.6))),
        background=_CORRIDOR, seed=21)),
    # One by one from 10 s, five people queue where three may; they stay.
    CameraScene("holdrege-cam-canteen", "holdrege-es", (_zone("Serving queue", "crowd", max_people=3),), Scene(
        "bench_canteen_crowd", CLIP_S, tuple(
            _walk("cameraman" if k % 2 else "astronaut", 180 + 10 * (k % 3), (t0, -0.15 if k % 2 else 1.15, y),
                  (t0 + 5, x, y), (CLIP_S, x, y))
            for k, (t0, (x, y)) in enumerate(zip((10, 15, 20, 25, 30), _QUEUE, strict=True))),
        seed=22)),
    # Across the kitchen from 10 s, into the cold-room door at about 21 s, out of the picture by 40 s.
    CameraScene("antelope-park-cam-kitchen", "antelope-park-es", (_zone("Cold room door", "restricted", COLD_ROOM),),
                Scene("bench_kitchen_intrusion", CLIP_S, (
                    _walk("astronaut", 220, (10, -0.15, 0.88), (16, 0.3, 0.88), (24, 0.8, 0.9), (34, 0.8, 0.9),
                          (40, 1.2, 0.9)),),
                    background=_CORRIDOR, seed=23)),
    # Stands at the gate from 13 s to 60 s (the zone allows 20 s); another walks through at 30-38 s.
    CameraScene("pioneers-cam-gate", "pioneers-hs", (_zone("Gate", "gate", loiter_s=20),), Scene(
        "bench_gate_loiter", CLIP_S, (
            _walk("cameraman", 240, (8, -0.15, 0.85), (13, 0.6, 0.85), (60, 0.6, 0.85), (66, 1.2, 0.85)),
            _walk("astronaut", 190, (30, 1.15, 0.75), (38, -0.15, 0.75))),
        background=_NIGHT_GATE, seed=24)),
    # Real people walking through a real courtyard in school hours: nothing to raise.
    CameraScene("walton-road-cam-gate", "walton-road-es", (_zone("Courtyard", "general"),), footage=FOOTAGE),
)


# ---- The truth, read off the actors' paths --------------------------------------------------------------------

def _visible(scene: Scene, actor: Actor, t: float) -> tuple[float, float] | None:
    """Return the actor's foot point (normalised, clamped) when at least half of it is in the picture, else None."""
    box = actor_box(scene, actor, t)
    if box is None:
        return None
    inside = (max(0.0, min(box.x2, scene.width) - max(box.x1, 0.0))
              * max(0.0, min(box.y2, scene.height) - max(box.y1, 0.0)))
    if inside < VISIBLE * box.width * box.height:
        return None
    x, y = box.foot
    return min(max(x / scene.width, 0.0), 1.0), min(max(y / scene.height, 0.0), 1.0)


def _held(times: Sequence[float], flags: Sequence[bool], hold_s: float, end_s: float) -> Iterator[tuple[float, float]]:
    """Yield (start + hold, end) of each run of true flags lasting ``hold_s`` or more (one still on ends at the end)."""
    start: float | None = None
    for t, flag in zip([*times, end_s], [*flags, False], strict=True):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            if t - start >= hold_s:
                yield start + hold_s, t
            start = None


def _runs_per_actor(scene: Scene, times: Sequence[float], qualifies: Callable[[Actor, tuple[float, float]], bool],
                    hold_s: float) -> list[bool]:
    """Per frame: whether some actor has qualified without a break for at least ``hold_s`` (a dwell, a lying run)."""
    since: list[float | None] = [None] * len(scene.actors)
    out = []
    for t in times:
        for k, actor in enumerate(scene.actors):
            foot = _visible(scene, actor, t)
            qualified = foot is not None and qualifies(actor, foot)
            since[k] = (t if since[k] is None else since[k]) if qualified else None
        out.append(any(start is not None and t - start >= hold_s for start in since))
    return out


def _within(polygon: Polygon) -> Callable[[Actor, tuple[float, float]], bool]:
    return lambda _actor, foot: bool(shapely.intersects_xy(polygon, *foot))


def scene_truth(camera: CameraScene, params: RuleParams | None = None) -> list[SceneTruth]:
    """Return the situations a camera's clip shows, in the zone rules' terms, in seconds from its first frame."""
    scene = camera.scene
    if scene is None:
        return []  # recorded footage chosen because nothing in it is a situation
    params = params or RuleParams()
    times = [scene.frame_time(i) for i in range(scene.frame_count)]
    end = scene.duration
    zones = [(z, Polygon(z["polygon"])) for z in camera.zones]

    found: list[SceneTruth] = []
    lying = _runs_per_actor(scene, times, lambda actor, _foot: actor.pose == "lying", params.fallen_s)
    found += [SceneTruth("person_down", a, b) for a, b in _held(times, lying, 0.0, end)]
    # Every other zone is open all day (ALL_DAY), so only a restricted one makes an intrusion.
    restricted = [p for z, p in zones if z["kind"] == "restricted"]
    present = [any((f := _visible(scene, a, t)) is not None and any(shapely.intersects_xy(p, *f) for p in restricted)
                   for a in scene.actors) for t in times]
    found += [SceneTruth("intrusion", a, b) for a, b in _held(times, present, params.intrusion_min_s, end)]
    for zone, polygon in zones:
        limit = zone.get("max_people") or (params.crowd_max if zone["kind"] in ("crowd", "gate") else None)
        if limit is not None:
            counts = [sum(1 for a in scene.actors if (f := _visible(scene, a, t)) is not None
                          and shapely.intersects_xy(polygon, *f)) for t in times]
            found += [SceneTruth("crowding", a, b)
                      for a, b in _held(times, [c > limit for c in counts], params.crowd_min_s, end)]
        if zone["kind"] in ("gate", "general", "restricted", "crowd"):
            dwell = zone.get("loiter_s") or params.loiter_s
            staying = _runs_per_actor(scene, times, _within(polygon), dwell)
            found += [SceneTruth("loitering", a, b) for a, b in _held(times, staying, 0.0, end)]
    return sorted(found, key=lambda s: s.start_s)


def camera_truth(camera: CameraScene, opened: dt.datetime, params: RuleParams | None = None) -> list[Truth]:
    """Return a camera's situations dated from the moment the vision worker opened its clip."""
    return [Truth(s.type, camera.camera_id, camera.school_id, opened + dt.timedelta(seconds=s.start_s),
                  opened + dt.timedelta(seconds=s.end_s), critical=s.type == "person_down")
            for s in scene_truth(camera, params)]


# ---- Clips and the site file ----------------------------------------------------------------------------------

def write_clip(scene: Scene, path: Path) -> Path:
    """Write a generated scene as an MJPEG AVI at its frame rate (what the vision stage's file source replays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.avi")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter.fourcc(*"MJPG"), scene.fps, (scene.width, scene.height))
    if not writer.isOpened():
        raise OSError(f"cannot write {partial} (OpenCV without an MJPEG writer?)")
    try:
        for image in render(scene):
            writer.write(image)
    finally:
        writer.release()
    partial.replace(path)
    return path


def clip_files(cameras: Sequence[CameraScene], cache: Path) -> dict[str, Path]:
    """Return each camera's video file, rendering a generated scene into ``cache`` unless it is there already.

    A rendered clip's name carries a digest of its scene, so a changed scene is rendered anew.
    """
    files = {}
    for camera in cameras:
        if camera.footage is not None:
            if not camera.footage.is_file():
                raise FileNotFoundError(f"{camera.footage} is missing: it comes with Debian's opencv-doc package")
            files[camera.camera_id] = camera.footage
        elif camera.scene is not None:
            digest = hashlib.sha256(repr(camera.scene).encode()).hexdigest()[:12]
            path = cache / f"{camera.scene.name}-{digest}.avi"
            files[camera.camera_id] = path if path.is_file() else write_clip(camera.scene, path)
    return files


def with_cameras(document: Mapping[str, Any], cameras: Sequence[CameraScene], files: Mapping[str, Path],
                 ) -> dict[str, Any]:
    """Return a copy of a site document whose scene cameras replay their files with the scenes' zones."""
    out: dict[str, Any] = copy.deepcopy(dict(document))
    by_id = {c.camera_id: c for c in cameras}
    found = set()
    for school in _schools(out["organisation"]):
        for camera in school.get("cameras", ()):
            scene = by_id.get(camera["id"])
            if scene is not None:
                if school["id"] != scene.school_id:
                    raise ValueError(f"camera {scene.camera_id} is at {school['id']}, not {scene.school_id}")
                found.add(scene.camera_id)
                camera["rtsp_url"] = str(files[scene.camera_id])
                camera["zones"] = [dict(z) for z in scene.zones]
    if missing := set(by_id) - found:
        raise ValueError(f"no camera {sorted(missing)} in the site")
    return out


def _schools(unit: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from unit.get("schools", ())
    for child in unit.get("units", ()):
        yield from _schools(child)
