"""A debounced boolean: a condition must hold for a while before it switches on, and fail a while to end.

Deviation, overspeed and after-hours movement are all "true for N seconds, then an event; false for M
seconds, then the end event". The run's first fix is kept so the event is dated when the condition began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.messages import Position


@dataclass(frozen=True, slots=True)
class Sustained:
    """Whether the condition is on, and the run of fixes that disagree with that so far."""

    active: bool = False
    began: datetime | None = None
    """When the current active episode began (set while active)."""
    pending_since: Position | None = None
    """First fix of the current run disagreeing with ``active``; none when the last fix agreed."""


IDLE = Sustained()


@dataclass(frozen=True, slots=True)
class Switch:
    """A confirmed switch: ``on`` or off, the run's first fix, and the fix that confirmed it."""

    on: bool
    first: Position
    confirmed_by: Position


def sustain(
    state: Sustained, condition: bool, position: Position, on_after_s: float, off_after_s: float
) -> tuple[Sustained, Switch | None]:
    """Feed one fix's condition; return the new state and the switch it confirmed, if any."""
    if condition == state.active:
        if state.pending_since is None:
            return state, None
        return Sustained(state.active, state.began, None), None
    first = state.pending_since or position
    needed = on_after_s if condition else off_after_s
    if (position.time - first.time).total_seconds() >= needed:
        return Sustained(condition, first.time if condition else None, None), Switch(condition, first, position)
    if state.pending_since is not None:
        return state, None
    return Sustained(state.active, state.began, position), None
