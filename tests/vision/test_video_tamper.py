"""Camera tamper against the camera's own baseline: covered, defocused, turned away; a passer-by is not tamper.

The scene is a textured courtyard-like picture (blocks of shade and sharp edges), so defocusing it with a real
Gaussian blur removes the fine detail a lens in focus shows.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from vision.video.tamper import Look, TamperParams, TamperState, judge, look

PARAMS = TamperParams(learn=3, hold=3)


def scene(seed: int = 7, noise: int = 0) -> npt.NDArray[np.uint8]:
    """A 160x120 picture of blocks and edges, the same every time but for sensor noise."""
    rng = np.random.default_rng(seed)
    picture = np.kron(rng.integers(40, 220, (12, 16)), np.ones((10, 10))).astype(np.int16)
    cv2.rectangle(picture, (30, 20), (90, 80), 250, 2)
    picture += np.random.default_rng(noise).integers(-4, 5, picture.shape, dtype=np.int16)
    return np.clip(picture, 0, 255).astype(np.uint8)


def learned() -> TamperState:
    state = TamperState()
    for i in range(PARAMS.learn):
        state, edge = judge(state, look(scene(noise=i)), PARAMS)
        assert edge is None
    return state


def run(state: TamperState, looks: list[Look]) -> tuple[TamperState, list[str | None]]:
    edges: list[str | None] = []
    for now in looks:
        state, edge = judge(state, now, PARAMS)
        edges.append(edge)
    return state, edges


@pytest.mark.parametrize(("reason", "picture"), [
    ("covered", lambda: (scene() * 0.05).astype(np.uint8)),  # a hand or a bag over the lens
    ("defocused", lambda: cv2.GaussianBlur(scene(), (0, 0), 6)),  # turned out of focus, or sprayed
    ("moved", lambda: np.ascontiguousarray(np.rot90(scene(seed=99), 2))),  # pointed at another place
])
def test_a_tampered_camera_raises_once_after_hold_and_clears_when_restored(reason: str, picture: object) -> None:
    state = learned()
    bad = look(picture())  # type: ignore[operator]
    state, edges = run(state, [bad] * 5)
    assert edges == [None, None, "tamper", None, None] and state.tampered == reason
    state, edges = run(state, [look(scene(noise=50 + i)) for i in range(2)])
    assert edges == ["clear", None] and state.tampered is None


def test_a_passer_by_blocking_the_lens_for_a_moment_is_not_tamper() -> None:
    state = learned()
    dark = look((scene() * 0.05).astype(np.uint8))
    state, edges = run(state, [dark, dark, look(scene(noise=9)), dark, look(scene(noise=10))])
    assert edges == [None] * 5 and state.tampered is None


def test_the_baseline_follows_slow_light_changes_without_raising() -> None:
    state = learned()
    looks = [look(np.clip(scene(noise=i).astype(np.int16) - i * 4, 0, 255).astype(np.uint8)) for i in range(30)]
    state, edges = run(state, looks)  # dusk: 120 levels darker over 30 pictures
    assert all(edge is None for edge in edges) and state.tampered is None
