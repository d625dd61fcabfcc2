"""Fence entry and exit, edge-triggered by diffing confirmed fence sets, with hysteresis and dwell.

Semantics (chosen so GPS jitter at an edge cannot flap):

* a fix *counts toward entering* a fence when it is inside the polygon;
* a fix *counts toward leaving* a confirmed fence only when it is farther than ``hysteresis_m`` beyond the
  edge; a fix in that band keeps the confirmed state and cancels a pending exit;
* a transition is confirmed once fixes have counted toward it without interruption for ``dwell_s``
  (with ``dwell_s = 0`` the first fix confirms it); the event is dated at the first fix of that run.

So jitter anywhere within the band produces at most one entry and never an exit. Out-of-order fixes are
the engine's concern: it drops a fix not newer than the last one processed before any rule sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.messages import Position
from geo.events import FenceEntered, FenceExited
from geo.fences import Membership


@dataclass(frozen=True, slots=True)
class PendingCrossing:
    """A run of fixes that count toward entering (or leaving) one fence, from its first fix."""

    fence_id: str
    entering: bool
    first: Position


@dataclass(frozen=True, slots=True)
class FenceState:
    """Confirmed fences the subject is in, and crossings not yet confirmed (both small)."""

    inside: frozenset[str] = frozenset()
    pending: tuple[PendingCrossing, ...] = ()


NO_FENCES = FenceState()


def step_fences(
    state: FenceState,
    seen: Membership,
    position: Position,
    subject_id: str,
    kinds: Mapping[str, str],
    dwell_s: float,
) -> tuple[FenceState, list[FenceEntered | FenceExited]]:
    """Feed one fix's fence membership; return the new state and any confirmed entries and exits."""
    entering = seen.inside - state.inside
    leaving = state.inside - seen.near
    if not entering and not leaving and not state.pending:
        return state, []  # the common case: nothing changes, nothing allocated
    kept = {p.fence_id: p for p in state.pending if (p.fence_id in entering if p.entering else p.fence_id in leaving)}
    for fence_id in entering - kept.keys():
        kept[fence_id] = PendingCrossing(fence_id, True, position)
    for fence_id in leaving - kept.keys():
        kept[fence_id] = PendingCrossing(fence_id, False, position)
    inside = set(state.inside)
    pending: list[PendingCrossing] = []
    events: list[FenceEntered | FenceExited] = []
    # Exits before entries, each by fence id, so the order of events never depends on set iteration.
    for crossing in sorted(kept.values(), key=lambda p: (p.entering, p.fence_id)):
        if (position.time - crossing.first.time).total_seconds() < dwell_s:
            pending.append(crossing)
            continue
        kind = kinds.get(crossing.fence_id, "custom")
        if crossing.entering:
            inside.add(crossing.fence_id)
            events.append(FenceEntered(subject_id, crossing.first.time, crossing.first, crossing.fence_id, kind,
                                       position))
        else:
            inside.discard(crossing.fence_id)
            events.append(FenceExited(subject_id, crossing.first.time, crossing.first, crossing.fence_id, kind,
                                      position))
    return FenceState(frozenset(inside), tuple(pending)), events
