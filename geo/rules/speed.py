"""Overspeed against the limit of the zone the bus is in, and movement outside service windows.

The limit is the lowest of the campus and school-zone fences the fix is inside, else the route's own. The
speed is the device's reported one, or one the engine derived from consecutive fixes.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.messages import Position
from geo.config import GeoRules
from geo.events import AfterHoursMovement, AfterHoursMovementEnded, OverspeedEnded, OverspeedStarted
from geo.fences import SPEED_ZONE_KINDS, Fence, Membership
from geo.rules.sustained import Sustained, sustain


def zone_limit(fences: Membership, by_id: Mapping[str, Fence], route_limit_kmh: float) -> tuple[float, str | None]:
    """Return the speed limit at a fix and the fence that sets it (none when the route's limit applies)."""
    best: tuple[float, str | None] = (route_limit_kmh, None)
    for fence_id in fences.inside:
        fence = by_id[fence_id]
        limit = fence.speed_limit_kmh
        if fence.kind in SPEED_ZONE_KINDS and limit is not None and (limit, fence_id) < (best[0], best[1] or "~"):
            best = (limit, fence_id)
    return best


def step_overspeed(
    state: Sustained, speed_kmh: float | None, limit: tuple[float, str | None], position: Position,
    in_service: bool, rules: GeoRules, subject_id: str,
) -> tuple[Sustained, list[OverspeedStarted | OverspeedEnded]]:
    """Feed one fix's speed and limit; return the new state and a start or end event when confirmed."""
    limit_kmh, zone_id = limit
    over = in_service and speed_kmh is not None and speed_kmh > limit_kmh + rules.overspeed_tolerance_kmh
    new, switch = sustain(state, over, position, rules.overspeed_s, rules.overspeed_clear_s)
    if switch is None:
        return new, []
    if switch.on:
        return new, [OverspeedStarted(subject_id, switch.first.time, switch.first, speed_kmh or 0.0, limit_kmh,
                                      zone_id, switch.confirmed_by)]
    return new, [OverspeedEnded(subject_id, switch.first.time, switch.first, state.began or switch.first.time)]


def step_after_hours(
    state: Sustained, speed_kmh: float | None, position: Position, in_service: bool, rules: GeoRules,
    subject_id: str,
) -> tuple[Sustained, list[AfterHoursMovement | AfterHoursMovementEnded]]:
    """Feed one fix; raise movement above ``moving_speed_kmh`` outside every service window."""
    moving = not in_service and speed_kmh is not None and speed_kmh > rules.moving_speed_kmh
    new, switch = sustain(state, moving, position, rules.after_hours_s, rules.after_hours_clear_s)
    if switch is None:
        return new, []
    if switch.on:
        return new, [AfterHoursMovement(subject_id, switch.first.time, switch.first, speed_kmh or 0.0,
                                        switch.confirmed_by)]
    return new, [AfterHoursMovementEnded(subject_id, switch.first.time, switch.first,
                                         state.began or switch.first.time)]
