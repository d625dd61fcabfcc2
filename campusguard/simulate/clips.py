"""Deterministic camera clips: people from scikit-image's sample photographs walking over a generated room.

A :class:`Scene` is a small frozen spec: frame size, fps, duration, a :class:`Background` and the
:class:`Actor` s. An actor is a cut-out person (``"astronaut"``: upper body, which NanoDet-m scores about
0.6-0.8 as a person; ``"cameraman"``: a man at a tripod, about 0.45-0.6), ``height`` pixels tall, whose foot
point (the bottom centre of the cut-out, where :attr:`vision.messages.Box.foot` is) follows a path of
:class:`Keyframe` s in normalised 0..1 image coordinates. An actor is in the picture from its first keyframe's
time to its last one's. ``pose="lying"`` turns the cut-out 90 degrees, its length along the floor (NanoDet-m
still calls it a person, about 0.4-0.7, with a wide box).

The same scene always renders the same pixels: texture and noise come from ``seed`` and the frame index.

Usage::

    from campusguard.simulate.clips import SCENES, write_frames

    write_frames(SCENES["crowd"], root / "crowd")  # 00000.jpg, 00001.jpg, ...
    # then: /usr/bin/python3 devtools/rtsp_server.py --root root --fps 5 serves rtsp://127.0.0.1:PORT/crowd

:data:`SCENES` holds the clips the tests and the demo use: ``empty``, ``person_enters_zone``, ``crowd``,
``loiterer``, ``person_lying`` and the longer demo loops ``gate_crowd_after_hours`` and ``corridor_person_down``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data as samples

from vision.messages import Box, Image

Picture = Literal["astronaut", "cameraman"]
"""Which sample photograph an actor is cut from."""

Pose = Literal["standing", "lying"]
"""How an actor is drawn: upright, or the cut-out turned 90 degrees (lying on the floor)."""

Colour = tuple[int, int, int]
"""A BGR colour."""

JPEG_QUALITY = 90
"""High enough that JPEG artefacts do not move detection scores, small enough for quick serving."""

# Outlines of the people in the 512x512 sample photographs (x, y), traced by hand: the flag, the shuttle model
# and the tripod stay out, so an actor is a person on the scene's floor rather than a photograph on it.
_OUTLINES: Mapping[Picture, tuple[tuple[int, int], ...]] = {
    "astronaut": (
        (175, 25), (230, 12), (285, 30), (305, 90), (295, 150), (310, 200), (305, 260), (350, 290),
        (365, 340), (365, 511), (20, 511), (25, 330), (45, 270), (110, 235), (115, 190), (160, 150), (155, 90),
    ),
    "cameraman": (
        (0, 511), (0, 250), (50, 150), (130, 110), (165, 80), (210, 65), (255, 80), (270, 135), (325, 145),
        (330, 200), (305, 235), (295, 270), (240, 300), (175, 330), (150, 511),
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Keyframe:
    """Where an actor's foot point is at ``time`` seconds: normalised x (0 left .. 1 right), y (0 top .. 1 bottom).

    Values outside 0..1 put the actor (partly) outside the picture, to walk in from an edge.
    """

    time: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Actor:
    """A person in a scene: a cut-out ``height`` pixels tall (its length, when lying) following ``path``."""

    picture: Picture
    height: int
    path: tuple[Keyframe, ...]
    pose: Pose = "standing"

    def __post_init__(self) -> None:
        """Refuse an empty path, times that go backwards, or a cut-out too small to see."""
        if not self.path:
            raise ValueError("an actor needs at least one keyframe")
        if any(b.time < a.time for a, b in itertools.pairwise(self.path)):
            raise ValueError("keyframe times must not decrease")
        if self.height < 8:
            raise ValueError("an actor must be at least 8 px tall")

    def foot_at(self, time: float) -> tuple[float, float] | None:
        """Normalised foot point at ``time`` (linear between keyframes), or None when not in the picture."""
        first, last = self.path[0], self.path[-1]
        if not first.time <= time <= last.time:
            return None
        for a, b in itertools.pairwise(self.path):
            if a.time <= time <= b.time and b.time > a.time:
                f = (time - a.time) / (b.time - a.time)
                return (a.x + f * (b.x - a.x), a.y + f * (b.y - a.y))
        return (last.x, last.y)


@dataclass(frozen=True, slots=True)
class Background:
    """A generated room: a wall above ``horizon`` (0..1 of the height), a tiled floor below, some texture."""

    wall: Colour = (182, 190, 196)
    floor: Colour = (120, 132, 140)
    horizon: float = 0.4
    texture: float = 6.0
    """Amplitude (grey levels) of the fixed blotchy texture, so the room is not one flat colour."""
    noise: float = 2.0
    """Standard deviation (grey levels) of per-frame sensor noise, so consecutive frames differ like video."""


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything that decides a clip's pixels."""

    name: str
    duration: float
    actors: tuple[Actor, ...] = ()
    fps: int = 5
    width: int = 640
    height: int = 480
    background: Background = field(default_factory=Background)
    seed: int = 0

    @property
    def frame_count(self) -> int:
        """Frames in the clip: fps x duration."""
        return round(self.fps * self.duration)

    def frame_time(self, index: int) -> float:
        """Seconds from the start of the clip to frame ``index``."""
        return index / self.fps


@functools.cache
def _cutout(picture: Picture) -> tuple[Image, npt.NDArray[np.float32]]:
    """Cut the person out of a sample photograph along its outline: BGR pixels and a 0..1 soft-edged alpha."""
    # scikit-image's data loaders carry no annotations.
    if picture == "astronaut":
        rgb = np.asarray(samples.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    else:
        rgb = np.asarray(cv2.cvtColor(samples.camera(), cv2.COLOR_GRAY2RGB), np.uint8)  # type: ignore[no-untyped-call]
    outline = np.array(_OUTLINES[picture], np.int32)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [outline], (255,))
    x, y, w, h = cv2.boundingRect(outline)
    # A slightly blurred edge: a hard polygon edge is an unnaturally sharp outline for the detector.
    alpha = cv2.GaussianBlur(mask, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)[y : y + h, x : x + w]
    bgr = np.ascontiguousarray(rgb[y : y + h, x : x + w, ::-1])
    return bgr, (alpha.astype(np.float32) / 255.0)


@functools.cache
def _sprite(picture: Picture, height: int, pose: Pose) -> tuple[Image, npt.NDArray[np.float32]]:
    """Scale the cut-out to ``height`` px and turn it when lying; alpha gets a trailing axis for broadcasting."""
    source, source_alpha = _cutout(picture)
    size = (max(1, round(height * source.shape[1] / source.shape[0])), height)
    bgr = np.asarray(cv2.resize(source, size, interpolation=cv2.INTER_AREA), np.uint8)
    alpha = np.asarray(cv2.resize(source_alpha, size, interpolation=cv2.INTER_AREA), np.float32)
    if pose == "lying":  # head to the left: NanoDet-m scores the astronaut 0.5-0.7 so, 0.35-0.45 head right
        bgr, alpha = np.rot90(bgr).copy(), np.rot90(alpha).copy()
    return bgr, alpha[..., None]


def actor_box(scene: Scene, actor: Actor, time: float) -> Box | None:
    """Where ``actor`` is drawn at ``time``, in frame pixels (may reach outside the frame); None when absent.

    Its :attr:`~vision.messages.Box.foot` is the path's foot point: the ground truth a detector should match.
    """
    foot = actor.foot_at(time)
    if foot is None:
        return None
    sprite = _sprite(actor.picture, actor.height, actor.pose)[0]
    h, w = sprite.shape[:2]
    x1, y2 = round(foot[0] * scene.width - w / 2), round(foot[1] * scene.height)
    return Box(x1, y2 - h, x1 + w, y2)


@functools.cache
def _room(background: Background, width: int, height: int, seed: int) -> npt.NDArray[np.float32]:
    """Paint the empty room (float, before noise): wall, floor tiles in perspective, fixed texture."""
    room = np.empty((height, width, 3), np.float32)
    horizon = round(background.horizon * height)
    room[:horizon] = background.wall
    room[horizon:] = background.floor
    grout = tuple(0.8 * c for c in background.floor)
    # Tile joints: rows closer together towards the horizon, columns converging on a vanishing point, which
    # gives the floor depth and the motion gate something that never moves.
    for k in range(1, 12):
        y = horizon + round((height - horizon) * (k / 11) ** 1.8)
        cv2.line(room, (0, y), (width, y), grout, 1)
    for k in range(-8, 17):
        cv2.line(room, (width // 2 + (k - 4) * width // 40, horizon), (k * width // 8, height), grout, 1)
    cv2.rectangle(room, (0, horizon - 6), (width, horizon), tuple(0.7 * c for c in background.wall), -1)
    rng = np.random.default_rng([seed, 0x7E27])
    blotches = cv2.resize(rng.standard_normal((height // 16, width // 16)).astype(np.float32), (width, height))
    room += background.texture * blotches[..., None]
    return room


def render_frame(scene: Scene, index: int) -> Image:
    """Frame ``index`` of ``scene`` as a BGR picture."""
    frame = _room(scene.background, scene.width, scene.height, scene.seed).copy()
    if scene.background.noise > 0:
        rng = np.random.default_rng([scene.seed, index])
        frame += rng.normal(0.0, scene.background.noise, frame.shape).astype(np.float32)
    time = scene.frame_time(index)
    present = [(box, actor) for actor in scene.actors if (box := actor_box(scene, actor, time)) is not None]
    for box, actor in sorted(present, key=lambda item: item[0].y2):  # nearer (lower) people cover farther ones
        _paste(frame, *_sprite(actor.picture, actor.height, actor.pose), round(box.x1), round(box.y1))
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def _paste(frame: npt.NDArray[np.float32], bgr: Image, alpha: npt.NDArray[np.float32], x: int, y: int) -> None:
    """Blend a sprite into ``frame`` with its top-left corner at (x, y), clipped to the frame."""
    h, w = bgr.shape[:2]
    fx1, fy1 = max(x, 0), max(y, 0)
    fx2, fy2 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if fx1 >= fx2 or fy1 >= fy2:
        return
    sx, sy = fx1 - x, fy1 - y
    a = alpha[sy : sy + fy2 - fy1, sx : sx + fx2 - fx1]
    src = bgr[sy : sy + fy2 - fy1, sx : sx + fx2 - fx1]
    region = frame[fy1:fy2, fx1:fx2]
    region[...] = region * (1.0 - a) + src * a


def render(scene: Scene) -> Iterator[Image]:
    """Every frame of ``scene`` in order."""
    for index in range(scene.frame_count):
        yield render_frame(scene, index)


def write_frames(scene: Scene, directory: Path) -> int:
    """Write ``scene`` as ``directory/00000.jpg, 00001.jpg, ...`` (what devtools/rtsp_server.py serves).

    Creates ``directory``; returns the number of frames written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, image in enumerate(render(scene), start=1):
        if not cv2.imwrite(str(directory / f"{count - 1:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"cannot write frames to {directory}")
    return count


def _walk(picture: Picture, height: int, *points: tuple[float, float, float], pose: Pose = "standing") -> Actor:
    """Make an actor from (time, x, y) points: shorthand for the ready-made scenes."""
    return Actor(picture, height, tuple(Keyframe(t, x, y) for t, x, y in points), pose)


# Who comes to the gate: picture, height, arrival time, from which side (x), where they stand (x, y).
_GATE_ARRIVALS: tuple[tuple[Picture, int, float, float, float, float], ...] = (
    ("astronaut", 200, 1, -0.15, 0.35, 0.82),
    ("cameraman", 190, 3, 1.15, 0.55, 0.8),
    ("astronaut", 180, 5, -0.15, 0.2, 0.76),
    ("cameraman", 220, 7, 1.15, 0.72, 0.9),
    ("astronaut", 210, 9, -0.15, 0.48, 0.95),
)
_NIGHT = Background(wall=(96, 84, 78), floor=(70, 72, 74), horizon=0.45, texture=5.0, noise=3.0)
_CORRIDOR = Background(wall=(200, 214, 220), floor=(150, 160, 168), horizon=0.35)

SCENES: Mapping[str, Scene] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scene("empty", duration=4.0),
            # Walks in from the left edge (half outside at first) to the centre in 4 s, then stays.
            Scene("person_enters_zone", 8.0, (_walk("astronaut", 220, (0, 0, 0.85), (4, 0.5, 0.85), (8, 0.5, 0.85)),)),
            Scene(
                "crowd",
                6.0,
                tuple(
                    _walk("cameraman" if k % 2 else "astronaut", 170 + 10 * (k % 3), (0, x, y), (6, x, y))
                    for k, (x, y) in enumerate(((0.1, 0.8), (0.3, 0.9), (0.5, 0.78), (0.7, 0.92), (0.9, 0.82)))
                ),
            ),
            Scene("loiterer", 8.0, (_walk("cameraman", 260, (0, 0.6, 0.85), (8, 0.6, 0.85)),)),
            Scene("person_lying", 6.0, (_walk("astronaut", 200, (0, 0.5, 0.88), (6, 0.5, 0.88), pose="lying"),)),
            # 30 s loop, empty at both ends: people arrive at the gate one by one, gather, then leave.
            Scene(
                "gate_crowd_after_hours",
                30.0,
                tuple(
                    _walk(p, h, (t0, x0, y), (t0 + 5, x, y), (22 + k, x, y), (27 + k / 2, x0, y))
                    for k, (p, h, t0, x0, x, y) in enumerate(_GATE_ARRIVALS)
                ),
                background=_NIGHT,
                seed=7,
            ),
            # 30 s loop: someone walks down the corridor and collapses at 10 s; another passes by behind.
            Scene(
                "corridor_person_down",
                30.0,
                (
                    _walk("astronaut", 200, (0, -0.15, 0.85), (9.8, 0.45, 0.85)),
                    _walk("astronaut", 200, (10.0, 0.45, 0.9), (30, 0.45, 0.9), pose="lying"),
                    _walk("cameraman", 150, (14, 1.15, 0.6), (24, -0.15, 0.6)),
                ),
                background=_CORRIDOR,
                seed=11,
            ),
        )
    }
)
"""The ready-made clips, by name."""
