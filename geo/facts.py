"""What the geometry says about one fix, computed before any rule runs (vectorised for a batch).

The rules never touch shapely: the engine turns each fix into :class:`FixFacts` (position in metres, fence
membership, distance from and along the bus's route, whether it is at a place where stopping is expected),
one STRtree query and a few vectorised shapely calls for a whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.fences import Membership


@dataclass(frozen=True, slots=True)
class FixFacts:
    """The spatial facts of one fix."""

    x: float
    y: float
    fences: Membership
    route_distance_m: float | None = None
    """Distance from the bus's route line; none for a device that is not on a bus."""
    along_m: float | None = None
    """Distance along the route of the fix's projection onto it (linear referencing)."""
    expected_stop: bool = False
    """Within the allowance of a route stop or depot, or inside a campus, school zone or depot fence."""
