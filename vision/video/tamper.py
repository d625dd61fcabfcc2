"""Camera tamper: a covered, defocused or turned-away camera, judged against the camera's own usual picture.

Pure: a picture reduced to a :class:`Look` (brightness, fine detail, a small normalised thumbnail) goes in with
the camera's :class:`TamperState`, and the new state and an edge (raise, clear, or nothing) come out. The
baseline is the average look of the first ``learn`` pictures, then follows the scene slowly (dusk, lights) while
nothing is wrong. A camera is *covered* when it goes dark, *defocused* when its fine detail collapses while the
light stays, *moved* when the picture no longer resembles its baseline at all. A sign must persist for ``hold``
pictures in a row, so a person walking past the lens is not a tamper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

Reason = Literal["covered", "defocused", "moved"]


@dataclass(frozen=True, slots=True)
class Look:
    """What a picture looks like, reduced: mean brightness (0..255), fine detail, and a normalised thumbnail."""

    brightness: float
    detail: float
    thumb: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class TamperParams:
    """How much a picture may differ from the camera's baseline before it counts, and for how long."""

    learn: int = 6
    """Pictures averaged into the first baseline."""
    dark: float = 0.3
    """Brightness below this share of the baseline's is covered."""
    blur: float = 0.35
    """Fine detail below this share of the baseline's (with the light still there) is defocused."""
    alike: float = 0.4
    """A thumbnail correlating less than this with the baseline's is a camera turned away."""
    hold: int = 3
    """Pictures in a row a sign must persist (about 30 s at one picture per 10 s segment)."""
    follow: float = 0.05
    """How fast the baseline follows a healthy picture (light changing over the day)."""


@dataclass(frozen=True, slots=True)
class TamperState:
    """A camera's baseline and how its last pictures were judged."""

    baseline: Look | None = None
    learned: int = 0
    streak: int = 0
    tampered: Reason | None = None


def look(gray: npt.NDArray[np.uint8]) -> Look:
    """Reduce a grayscale picture (any size; 160x120 is plenty) to its look."""
    image = gray.astype(np.float32)
    # Fine detail: the mean absolute difference between neighbours, which blur removes first.
    detail = float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())
    height, width = image.shape
    thumb = image[: height - height % 12, : width - width % 16]
    thumb = thumb.reshape(12, thumb.shape[0] // 12, 16, thumb.shape[1] // 16).mean(axis=(1, 3)).ravel()
    thumb = thumb - thumb.mean()
    norm = float(np.linalg.norm(thumb))
    return Look(float(image.mean()), detail, tuple(float(v) for v in (thumb / norm if norm else thumb)))


def _blend(old: Look, new: Look, weight: float) -> Look:
    """Move a baseline ``weight`` of the way towards a new look."""
    thumb = np.add(np.multiply(old.thumb, 1 - weight), np.multiply(new.thumb, weight))
    norm = float(np.linalg.norm(thumb))
    return Look(old.brightness * (1 - weight) + new.brightness * weight,
                old.detail * (1 - weight) + new.detail * weight,
                tuple(float(v) for v in (thumb / norm if norm else thumb)))


def sign(baseline: Look, now: Look, params: TamperParams) -> Reason | None:
    """Return what is wrong with ``now`` against ``baseline``, or None."""
    if now.brightness < params.dark * baseline.brightness:
        return "covered"
    if now.detail < params.blur * baseline.detail:
        return "defocused"
    if float(np.dot(baseline.thumb, now.thumb)) < params.alike:
        return "moved"
    return None


def judge(state: TamperState, now: Look, params: TamperParams = TamperParams(),  # frozen, so a shared default is safe
          ) -> tuple[TamperState, Literal["tamper", "clear"] | None]:
    """Judge one picture; return the new state and the edge it makes (a tamper raised or cleared), if any."""
    if state.baseline is None or state.learned < params.learn:
        weight = 1 / (state.learned + 1)
        baseline = now if state.baseline is None else _blend(state.baseline, now, weight)
        return replace(state, baseline=baseline, learned=state.learned + 1), None
    reason = sign(state.baseline, now, params)
    if reason is None:
        baseline = _blend(state.baseline, now, params.follow)
        cleared = state.tampered is not None
        return TamperState(baseline, state.learned, 0, None), "clear" if cleared else None
    streak = state.streak + 1
    if state.tampered is None and streak >= params.hold:
        return replace(state, streak=streak, tampered=reason), "tamper"
    return replace(state, streak=streak), None
