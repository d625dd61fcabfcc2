"""The generated clips: deterministic, people where their paths say, as many frames as fps x duration."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from campusguard.simulate.clips import (
    SCENES,
    Actor,
    Background,
    Keyframe,
    Scene,
    actor_box,
    render,
    render_frame,
    write_frames,
)

# No noise and no texture: every pixel that differs from the empty room belongs to the actor.
PLAIN = Background(texture=0.0, noise=0.0)


def drawn_box(scene: Scene, index: int) -> tuple[int, int, int, int]:
    """The pixels (x1, y1, x2, y2; exclusive ends) where frame ``index`` differs from the empty room."""
    empty = Scene("empty", scene.duration, (), scene.fps, scene.width, scene.height, scene.background, scene.seed)
    changed = np.abs(render_frame(scene, index).astype(int) - render_frame(empty, index).astype(int)).max(axis=2) > 2
    ys, xs = np.nonzero(changed)
    assert xs.size, "the actor was not drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_same_spec_renders_identical_frames() -> None:
    scene = SCENES["person_enters_zone"]
    twin = Scene(scene.name, scene.duration, scene.actors, scene.fps, background=scene.background, seed=scene.seed)
    assert twin == scene and twin is not scene
    for a, b in zip(render(scene), render(twin), strict=True):
        assert np.array_equal(a, b)


def test_seed_changes_the_noise_but_frames_differ_like_video() -> None:
    scene = SCENES["loiterer"]
    reseeded = Scene(scene.name, scene.duration, scene.actors, scene.fps, background=scene.background, seed=99)
    assert not np.array_equal(render_frame(scene, 0), render_frame(reseeded, 0))
    # Sensor noise: a person standing still still gives frames that are not byte-identical ...
    first, second = render_frame(scene, 0).astype(int), render_frame(scene, 1).astype(int)
    assert not np.array_equal(first, second)
    assert np.abs(first - second).mean() < 5  # ... but only slightly different


@pytest.mark.parametrize("name", sorted(SCENES))
def test_frame_count_is_fps_times_duration(name: str) -> None:
    scene = SCENES[name]
    assert scene.frame_count == round(scene.fps * scene.duration)
    if scene.frame_count <= 40:  # the long demo loops would only repeat the point, slowly
        frames = list(render(scene))
        assert len(frames) == scene.frame_count
        assert all(f.shape == (scene.height, scene.width, 3) and f.dtype == np.uint8 for f in frames)


def test_write_frames_writes_numbered_jpegs(tmp_path: Path) -> None:
    scene = Scene("short", duration=1.4, fps=5, width=320, height=240)
    count = write_frames(scene, tmp_path / "short")
    assert count == scene.frame_count == 7
    assert sorted(p.name for p in (tmp_path / "short").iterdir()) == [f"{i:05d}.jpg" for i in range(7)]
    decoded = cv2.imread(str(tmp_path / "short" / "00006.jpg"))
    assert decoded is not None and decoded.shape == (240, 320, 3)
    assert np.abs(decoded.astype(int) - render_frame(scene, 6).astype(int)).mean() < 3


@pytest.mark.parametrize("pose", ["standing", "lying"])
@pytest.mark.parametrize("picture", ["astronaut", "cameraman"])
def test_actor_feet_follow_the_path(picture: str, pose: str) -> None:
    path = (Keyframe(0, 0.2, 0.7), Keyframe(2, 0.7, 0.95))
    actor = Actor(picture, 180, path, pose)  # type: ignore[arg-type]  # parametrised literals
    scene = Scene("walk", duration=2.0, actors=(actor,), background=PLAIN)
    for index, (x, y) in [(0, (0.2, 0.7)), (5, (0.45, 0.825)), (10, (0.7, 0.95))]:
        box = actor_box(scene, actor, scene.frame_time(index))
        assert box is not None
        assert box.foot == pytest.approx((x * 640, y * 480), abs=1)
        x1, y1, x2, y2 = drawn_box(scene, index)
        assert y2 == pytest.approx(box.y2, abs=1)  # the feet are on the path's point ...
        assert (x1 + x2) / 2 == pytest.approx(box.foot[0], abs=2)  # ... centred on it
        assert (x1, y1, x2, y2) == pytest.approx((box.x1, box.y1, box.x2, box.y2), abs=2)
        if pose == "lying":
            assert box.width > box.height
        else:
            assert box.height == 180


def test_actor_is_only_there_between_its_first_and_last_keyframe() -> None:
    actor = Actor("astronaut", 100, (Keyframe(1, 0.5, 0.5), Keyframe(2, 0.5, 0.5)))
    assert actor.foot_at(0.9) is None
    assert actor.foot_at(1.0) == actor.foot_at(2.0) == (0.5, 0.5)
    assert actor.foot_at(2.1) is None


def test_actor_partly_outside_the_picture_is_clipped() -> None:
    actor = Actor("astronaut", 200, (Keyframe(0, 0.0, 1.1), Keyframe(1, 0.0, 1.1)))
    frame = render_frame(Scene("edge", 1.0, (actor,)), 0)
    assert frame.shape == (480, 640, 3)


@pytest.mark.parametrize(
    ("height", "path", "message"),
    [
        (100, (), "at least one keyframe"),
        (100, (Keyframe(2, 0, 0), Keyframe(1, 0, 0)), "must not decrease"),
        (4, (Keyframe(0, 0, 0),), "at least 8 px"),
    ],
)
def test_actor_refuses_nonsense(height: int, path: tuple[Keyframe, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Actor("astronaut", height, path)


def test_ready_made_scenes() -> None:
    assert {"empty", "person_enters_zone", "crowd", "loiterer", "person_lying"} <= set(SCENES)
    assert {"gate_crowd_after_hours", "corridor_person_down"} <= set(SCENES)
    assert all(name == scene.name for name, scene in SCENES.items())
    assert SCENES["empty"].actors == ()
    crowd = SCENES["crowd"]
    assert len(crowd.actors) == 5
    assert all(a.foot_at(0) == a.foot_at(crowd.duration) for a in crowd.actors)  # standing still ...
    assert all(a.path[0].y > 0.5 for a in crowd.actors)  # ... in the lower half
    assert all(a.pose == "lying" for a in SCENES["person_lying"].actors)
    (entering,) = SCENES["person_enters_zone"].actors
    assert entering.foot_at(0.0) == (0.0, 0.85) and entering.foot_at(8.0) == (0.5, 0.85)
