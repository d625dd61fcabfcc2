"""End-of-route child check: back at the depot after a trip, the driver must confirm a walk-through.

A state machine fed with fixes (:func:`step_child_check`), with the driver's confirmations
(:func:`confirm_child_check`) and with the passing of time (:func:`tick_child_check`); "now" always
comes from a fix (this bus's or any device's), never from a clock::

    unknown/done/missed --leaves the depot--> trip --inside the depot fence--> awaiting (ChildCheckDue)
    awaiting --confirmation--> done (ChildCheckCompleted)
    awaiting --now >= deadline--> missed (ChildCheckMissed) --confirmation--> done (late)

Leaving needs the bus beyond the depot fence plus the hysteresis band, so jitter at the gate is harmless.
A bus that leaves again while awaiting stays awaiting: the walk-through is still owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.messages import Position
from geo.config import GeoRules
from geo.events import ChildCheckCompleted, ChildCheckDue, ChildCheckMissed

Phase = Literal["unknown", "trip", "awaiting", "missed", "done"]


@dataclass(frozen=True, slots=True)
class ChildCheckConfirmation:
    """The driver pressed "walk-through done" (an input to the rule, from the driver's button or app)."""

    bus_id: str
    time: datetime
    person_id: str | None = None
    arrived_at: datetime | None = None
    """The trip confirmed (its arrival's device time), where the confirmation names one: the class page's do, for
    the trip its page showed; a confirmation of another trip than the one awaiting completes nothing."""

    def __post_init__(self) -> None:
        """Refuse naive times."""
        if self.time.utcoffset() is None or (self.arrived_at is not None and self.arrived_at.utcoffset() is None):
            raise ValueError("time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ChildCheckState:
    """The phase, and for a check owed, the arrival fix and the deadline."""

    phase: Phase = "unknown"
    arrived: Position | None = None
    deadline: datetime | None = None


UNKNOWN_CHECK = ChildCheckState()


def step_child_check(
    state: ChildCheckState, at_depot: bool, away: bool, position: Position, rules: GeoRules, subject_id: str
) -> tuple[ChildCheckState, list[ChildCheckDue | ChildCheckMissed]]:
    """Feed one fix: whether it is inside the depot fence, or clear of it beyond the band."""
    if state.phase == "trip" and at_depot:
        deadline = position.time + timedelta(minutes=rules.child_check_minutes)
        return ChildCheckState("awaiting", position, deadline), [ChildCheckDue(subject_id, position.time, position,
                                                                               deadline)]
    if state.phase in ("unknown", "done", "missed") and away:
        return ChildCheckState("trip"), []
    if state.phase == "unknown" and at_depot:
        return ChildCheckState("done"), []
    return tick_child_check(state, position.time, subject_id)


def tick_child_check(
    state: ChildCheckState, now: datetime, subject_id: str
) -> tuple[ChildCheckState, list[ChildCheckDue | ChildCheckMissed]]:
    """Let time pass to ``now`` (a device time); raise the miss once the deadline has passed."""
    if state.phase != "awaiting" or state.deadline is None or state.arrived is None or now < state.deadline:
        return state, []
    return (ChildCheckState("missed", state.arrived, state.deadline),
            [ChildCheckMissed(subject_id, state.deadline, state.arrived, state.deadline)])


def confirm_child_check(
    state: ChildCheckState, confirmation: ChildCheckConfirmation, subject_id: str
) -> tuple[ChildCheckState, list[ChildCheckCompleted]]:
    """Apply the driver's confirmation; one given before the bus got back does not count."""
    arrived = state.arrived
    if state.phase not in ("awaiting", "missed") or arrived is None or confirmation.time < arrived.time:
        return state, []
    if confirmation.arrived_at is not None and confirmation.arrived_at != arrived.time:
        return state, []  # the class page's confirmation of an earlier (or later) trip than the one owed
    late = state.phase == "missed" or (state.deadline is not None and confirmation.time >= state.deadline)
    return ChildCheckState("done"), [ChildCheckCompleted(subject_id, confirmation.time, arrived,
                                                         confirmation.person_id, late)]
