"""Unexpected stops: a bus in service that stays put for ``stop_minutes`` away from stops, depots, schools.

"Stays put" means within ``stop_radius_m`` of an anchor fix: stillness is judged by movement, not by the
reported speed, which wanders near zero. The anchor moves to the current fix whenever the bus gets
farther than the radius from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from domain.messages import Position
from geo.config import GeoRules
from geo.events import UnexpectedStop, UnexpectedStopEnded
from geo.facts import FixFacts


@dataclass(frozen=True, slots=True)
class StopState:
    """Where the bus has been still since, whether that place is an expected one, and if it was reported."""

    anchor: Position | None = None
    x: float = 0.0
    y: float = 0.0
    expected: bool = True
    reported: bool = False


NOT_STOPPED = StopState()


def step_stop(
    state: StopState, facts: FixFacts, position: Position, in_service: bool, rules: GeoRules, subject_id: str
) -> tuple[StopState, list[UnexpectedStop | UnexpectedStopEnded]]:
    """Feed one fix; return the new state and an unexpected stop (or its end) when there is one."""
    anchor = state.anchor
    if anchor is None or math.hypot(facts.x - state.x, facts.y - state.y) > rules.stop_radius_m:
        ended: list[UnexpectedStop | UnexpectedStopEnded] = []
        if anchor is not None and state.reported:
            ended.append(UnexpectedStopEnded(subject_id, position.time, position, anchor.time))
        return StopState(position, facts.x, facts.y, facts.expected_stop, False), ended
    if state.reported or state.expected or not in_service:
        return state, []
    if (position.time - anchor.time).total_seconds() < rules.stop_minutes * 60:
        return state, []
    return replace(state, reported=True), [UnexpectedStop(subject_id, anchor.time, anchor, position)]
